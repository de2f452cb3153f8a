/**
 * The training loop: mini-batch training with an optimiser, an optional schedule, gradient
 * clipping, metrics, validation and callbacks, returning a History. Inputs are checked before
 * any work starts; after the first batch a step allocates nothing but the logs object handed to
 * onBatchEnd callbacks (when there are some).
 */
import { releaseFloat32Array, takenCopy } from '../backend/memory';
import { BatchIterator } from '../data/batches';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { checkOptionKeys, isPlainObject, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import type { Sequential, Target } from '../model/sequential';
import { checkRecordKey, inferColumns, isRecords, labelsOf, recordColumn, toMatrix } from '../data/input';
import { classWeights, rowClasses, sampleWeights } from '../data/weights';
import type { ClassWeight } from '../data/weights';
import type { Input } from '../data/input';
import { checkScheduleMomentum, clipGradNorm, clipGradValue, createOptimizer, followSchedule } from '../optim';
import type { Optimizer, OptimizerName, OptimizerSpec, OptimizerState } from '../optim';
import { copyStateOf, releaseStateCopy, restoreStateCopy } from '../optim/optimizers';
import type { StateCopy } from '../optim/optimizers';
import { createSchedule, madeAgain, scheduleChainFloor, scheduleChains } from '../schedules';
import type { Schedule, ScheduleSpec, ScheduleState } from '../schedules';
import { Rng, seed32 } from '../rng';
import { checkEma, checkSwa, updateBatchNormOnRows, WeightAverage } from './averaging';
import type { EmaOptions, SwaOptions } from './averaging';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import type { BatchLogs, Callback, EpochLogs, TrainContext } from './callbacks';
import { callbackStates, checkpointsLast, minDeltaBests, progressBar, releaseOnFailure, restoreCallbackStates } from './callbacks';
import { createMetric, metricOn, validationName } from './metrics';
import type { Metric, MetricSpec } from './metrics';
import { scoreKind } from '../predict';
import type { LossSpec } from '../model/loss';
import { readTargets, refuseClassMetrics, refuseLossOutputs, resolveLoss } from '../model/loss';
import { runStartChecksOnRows } from '../recipe/checks';
import { checkFinite } from '../data/check';
import { Dataset } from '../data/dataset';
import { BatchNorm } from '../layers/batchnorm';
import type { DataParallel, ReplicaBatches } from './parallel';

/**
 * Labels or targets as fit accepts them: class labels (Int32Array or integers), targets (a Matrix,
 * a Float32Array or rows of numbers), or, when x is an array of records, the key of the label
 * column.
 */
export type Labels = Target | ArrayLike<number> | ArrayLike<ArrayLike<number>> | string;

/** Options of `fit` (and `model.fit`); the README's API section lists them with their defaults. */
export interface FitOptions {
  /** Passes over the training data. Default 1. */
  epochs?: number;
  /** Rows per step. Default 32. */
  batchSize?: number;
  /** Reshuffle the rows every epoch (seeded). Default true. */
  shuffle?: boolean;
  /**
   * Leave out each epoch's last batch when it is short, as PyTorch's DataLoader drop_last. Default
   * false. A model with batchNorm needs it (or another batchSize) when the last batch would hold
   * one row, which has no batch statistics.
   */
  dropLast?: boolean;
  /** Seed of the shuffles. Default the model's seed. */
  seed?: number;
  /**
   * Fraction of the rows, taken from the end before shuffling, held out for validation, with
   * their sampleWeight (a Dataset's too), which weights the validation loss as Keras's
   * validation_split does; classWeight applies to the training rows only.
   */
  validationSplit?: number;
  /**
   * Validation data, as { x, y } or a Dataset (takes precedence over validationSplit). A Dataset
   * built with sampleWeight weights the validation loss by it, as evaluate(dataset) does (Keras
   * weights the validation loss when validation sample weights are given); metrics stay unweighted.
   */
  validationData?: { x: Input; y: Labels } | Dataset;
  /**
   * A learning-rate schedule over the optimiser's initial lr. One that ends (a oneCycle: its
   * totalSteps) is stepped at most to its end, counting a resumed checkpoint's steps: a run that
   * would step it further is refused before its first step (ERR_BLASNET_ARG_RANGE naming both
   * numbers). At its end the optimiser, and History's last epoch lr, keep the lr of the last
   * update (see followSchedule).
   */
  schedule?: ScheduleSpec;
  /** Whether the schedule advances per epoch (default) or per step. */
  scheduleEvery?: 'epoch' | 'step';
  /** Clip the gradients' global L2 norm to this before each step. */
  clipNorm?: number;
  /** Clip each gradient value to [-clipValue, clipValue] before each step. */
  clipValue?: number;
  callbacks?: Callback[];
  /**
   * Print progress (progressBar(): a bar per epoch on a terminal, one line per epoch elsewhere)
   * to stdout. Default false: a library in a service stays quiet unless asked (Keras defaults to
   * a bar; the CLI shows one unless --quiet).
   */
  verbose?: boolean;
  /**
   * One finite non-negative weight per training row (or, for records, the key of a weight
   * column): each row's loss term and gradient are multiplied by it, and the batch mean keeps its
   * unweighted normaliser (Keras's sample_weight; see README, Semantics). With validationSplit the
   * held-out rows' weights weight the validation loss, as Keras's validation_split does (metrics
   * stay unweighted). Needs a built-in loss.
   */
  sampleWeight?: Float32Array | ArrayLike<number> | string;
  /**
   * Per-class factors, multiplied into the training rows' sampleWeight: a map class index ->
   * weight (classes not named get 1) or 'balanced' (n_samples / (n_classes * count(class)),
   * scikit-learn's, counted over the training rows: validationSplit's held-out rows are left out
   * of the count, and their validation loss is weighted by their sampleWeight alone). The class
   * of a row is its label, its 0/1 target for one output, or its largest target for one-hot rows.
   */
  classWeight?: ClassWeight;
  /**
   * Continue from a checkpoint (a loadModel() result written by modelCheckpoint): training
   * starts at the epoch after the checkpoint's, with its optimiser and schedule state and dropout
   * stream, and the shuffles an uninterrupted run would use, so the result is identical. `epochs`
   * is still the total. The loaded model trains on as it is, without compile(): a schedule
   * resumes from the lr in the checkpoint's optimiser options (see scheduleBase).
   */
  resume?: { optimizer?: unknown; schedule?: unknown; metadata?: Record<string, unknown> };
  /**
   * What a NaN or infinite training loss does, or an epoch that ends with weights that are not
   * finite (a step's loss is measured before its update). 'stop' (default): training stops before
   * that step's update (at that epoch's end), the weights, running statistics and optimiser state
   * go back to where they were at the end of the last epoch whose loss and weights were finite
   * (the initial ones if there is none), and
   * History.stopReason and History.diverged say what happened. 'throw': the same restore, then
   * fit throws ERR_BLASNET_DIVERGED. 'continue': train on (the terminateOnNaN callback can still
   * stop it); nothing is kept for a restore.
   */
  onNonFinite?: 'stop' | 'throw' | 'continue';
  /** Stop after this many optimiser steps in all (counted from the start of this fit). */
  maxSteps?: number;
  /** Stop after the first step that ends this many milliseconds after training began. */
  timeLimitMs?: number;
  /**
   * Stop at the first epoch whose mean training loss improves on the best earlier epoch by less
   * than this. scikit-learn's tol is the same test, but its MLP stops only after
   * n_iter_no_change + 1 such epochs in a row (2 at its smallest, n_iter_no_change = 1; 11 by
   * default); earlyStopping({ monitor: 'loss', minDelta, patience }) waits `patience` epochs.
   */
  minDelta?: number;
  /**
   * Data augmentation: called on every gathered training batch before its step, with the batch's
   * x and targets (views into the batch buffers: change them in place) and a generator seeded from
   * fit's seed, so runs repeat. Not with fitAsync (a function cannot move to the worker).
   */
  augment?: (x: Matrix, y: Int32Array | Float32Array, rng: Rng) => void;
  /**
   * Exponential moving average of the weights, updated after every step (torch's
   * get_ema_multi_avg_fn); at the end of training the model takes the averaged weights (and, with
   * BatchNorm, statistics recomputed for them by updateBatchNorm over the training rows). Not
   * with earlyStopping's restoreBestWeights, which would put raw weights back over the average
   * (ERR_BLASNET_ARG_RANGE before any step), nor with `resume`: a checkpoint holds no average
   * (ERR_BLASNET_ARG_RANGE).
   */
  ema?: EmaOptions;
  /**
   * Stochastic weight averaging: the mean of the weights at every epoch end from startEpoch on,
   * optionally at a constant lr from then; the model takes it at the end of training, with
   * BatchNorm statistics recomputed (torch.optim.swa_utils AveragedModel + SWALR + update_bn).
   * Not with earlyStopping's restoreBestWeights, as ema, nor with a `resume` from a checkpoint
   * past startEpoch, which would have lost the epochs averaged before it, nor with a startEpoch
   * (0-based) at or past `epochs`, where no epoch would be averaged (ERR_BLASNET_ARG_RANGE).
   */
  swa?: SwaOptions;
  /**
   * Run the cheap sanity checks (lib/recipe runStartChecks: initial loss against chance level,
   * dead or saturated units) before the first step and print their findings. Never blocks or
   * throws for a finding. Default false.
   */
  checks?: boolean;
  /**
   * Caps the kernel threads of this fit's training loop (default: no cap, the backend's count,
   * setNumThreads). The cap holds only for the calling thread (Backend.setThreadLimit) and only
   * until fit returns, so models training in worker_threads keep their own. A small model can
   * train faster on one thread when cutting each small kernel over the cores costs more than it
   * saves; how much depends on the machine and what else runs on it (bench/step-threads.ts
   * measures it per net and batch size). GEMMs are cut by thread count, so a model trains to the
   * same bits at the same count, not across counts.
   */
  threads?: number;
  /**
   * Run as one replica of data-parallel training: the hook lib/distributed's fitDistributed
   * supplies (use that rather than setting this). Not with fitAsync.
   */
  dataParallel?: DataParallel;
}

/**
 * Where training diverged: the first step whose loss was NaN or infinite, or, when an epoch's
 * steps all had finite losses but left weights that are not finite, that epoch's last step.
 */
export interface Divergence {
  readonly epoch: number;
  /** Batch index within the epoch. */
  readonly batch: number;
  readonly step: number;
  /** The step's loss: NaN or infinite, or finite when the weights it left were not (History.stopReason says which). */
  readonly loss: number;
  /** The epoch count the restored weights were saved at (0: the weights training started from). */
  readonly restoredEpoch: number;
}

/** What fit returns: per-epoch logs and the per-step loss and learning rate. */
export interface History {
  readonly epochs: EpochLogs[];
  /** Loss of every step (training mode, penalties included). */
  readonly stepLoss: Float64Array;
  /** Learning rate of every step. */
  readonly stepLr: Float64Array;
  /** Steps run (the arrays above may be longer when training stopped early). */
  readonly steps: number;
  /** Why training stopped before `epochs`, if it did. */
  readonly stopReason: string | null;
  /** Set when a non-finite loss stopped training (onNonFinite 'stop'); null otherwise. */
  readonly diverged: Divergence | null;
  /** Which weight average the model ended with (the ema or swa option), or null. */
  readonly averaged?: 'ema' | 'swa' | null;
}

/** How a model trains: loss, optimiser, metrics. */
export interface CompileOptions {
  /** A loss name ('crossEntropy'), { name, param } or a CustomLoss. */
  loss: LossSpec;
  /** An optimiser name with its defaults ('adam'), a spec ({ name: 'adam', lr: 1e-3 }) or an Optimizer. */
  optimizer: OptimizerName | OptimizerSpec | Optimizer;
  metrics?: MetricSpec[];
}

/** A model with its training setup (see Sequential.compile). */
export interface Compiled {
  readonly optimizer: Optimizer;
  readonly metrics: readonly MetricSpec[];
}

function isOptimizer(o: unknown): o is Optimizer {
  return !!o && typeof o === 'object' && typeof (o as Optimizer).step === 'function' && typeof (o as Optimizer).state === 'function';
}

/** Sets up a model's training: its loss, an optimiser over its parameters, metrics. */
export function compileModel(model: Sequential, options: CompileOptions): Compiled {
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw typeError(ErrorCode.ARG_TYPE, 'compile: Expected { loss, optimizer, metrics? }');
  checkOptionKeys('compile', options, { loss: true, optimizer: true, metrics: true });
  const metrics = options.metrics ?? [];
  if (!Array.isArray(metrics)) throw typeError(ErrorCode.ARG_TYPE, 'compile: Expected an array for metrics');
  // Everything checked (and the optimiser made) before the loss is set: a refused compile leaves
  // the model as it was.
  const loss = resolveLoss(options.loss);
  refuseLossOutputs('compile', loss, model.outputSize);
  refuseClassMetrics('compile', loss, metrics);
  const o = options.optimizer;
  if (isOptimizer(o) && typeof o.updates === 'function' && !o.updates(model.params)) {
    // Its steps would move the other model's weights (or none), and this one would not train.
    throw new BlasnetError(ErrorCode.STATE, `compile: the ${o.name} optimiser was made over another model's parameters; ` +
      `pass a spec ({ name: '${o.name}', lr }) or createOptimizer(spec, this model)`);
  }
  const optimizer = isOptimizer(o) ? o : createOptimizer(typeof o === 'string' ? { name: o } as OptimizerSpec : o, model);
  checkMetricNames('compile', metrics.map(createMetric));
  model.setLoss(options.loss);
  return { optimizer, metrics };
}

/** The logs fit writes besides the metrics and their validation values. */
const OTHER_LOGS = ['epoch', 'loss', 'valLoss', 'lr', 'seconds', 'samplesPerSecond', 'batches'];

/**
 * Each metric must log under names of its own: two with one name (or a name and another's
 * validation name), or one named as another log (loss, valLoss, epoch, lr, seconds,
 * samplesPerSecond, batches), would overwrite each other's values. ERR_BLASNET_ARG_RANGE naming the name.
 */
export function checkMetricNames(where: string, metrics: readonly Metric[]): void {
  const taken = new Map<string, string>(OTHER_LOGS.map((k) => [k, `fit's ${show(k)} log`]));
  metrics.forEach((m, i) => {
    const name = m.name;
    if (typeof name !== 'string' || name === '') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty string for metrics[${i}].name but received ${show(name)}`);
    }
    for (const [log, what] of [[name, 'name'], [validationName(name), 'validation name']]) {
      const other = taken.get(log);
      if (other !== undefined) {
        throw rangeError(ErrorCode.ARG_RANGE, `${where}: metrics[${i}] logs its ${what} ${show(log)}, which is already ${other}; ` +
          'give each metric a name of its own (a metric object names itself)');
      }
    }
    taken.set(name, `the name of metrics[${i}]`);
    taken.set(validationName(name), `the validation name of metrics[${i}]`);
  });
}


interface Prepared {
  x: Matrix;
  y: Int32Array | Float32Array;
  /** Per-row weights (sampleWeight times classWeight), if any. */
  w?: Float32Array | null;
}

/** The options that decide the rows' weights: the weights, and which rows fit holds out for validation. */
export type WeightOptions = Pick<FitOptions, 'sampleWeight' | 'classWeight' | 'validationSplit' | 'validationData'>;

/**
 * The factor of each row from options.sampleWeight and options.classWeight (null when neither is
 * given), checked before any work: lengths, values, class keys, a built-in loss. classWeight
 * applies to the training rows only: 'balanced' counts their classes, and the rows
 * validationSplit holds out keep their sampleWeight alone (1 without one), which weights the
 * validation loss as a weighted validation Dataset's weights do.
 */
export function rowWeights(model: Sequential, x: Input, data: Prepared, options: WeightOptions, where: string): Float32Array | null {
  const { sampleWeight: sw, classWeight: cw } = options;
  if (sw === undefined && cw === undefined) return null;
  const loss = model.lossSpec;
  if (loss && loss.custom) throw rangeError(ErrorCode.ARG_RANGE, `${where}: sampleWeight and classWeight need a built-in loss; ${loss.name} is custom`);
  const rows = data.x.rows;
  let w: Float32Array;
  if (typeof sw === 'string') {
    if (!isRecords(x)) throw typeError(ErrorCode.ARG_TYPE, `${where}: a sampleWeight key (${JSON.stringify(sw)}) needs x as an array of records`);
    checkRecordKey(x, sw, 'sampleWeight', model.inputColumns, where);
    w = sampleWeights(Array.from(recordColumn(x, sw, where)), rows, where);
  } else w = sw === undefined ? new Float32Array(rows).fill(1) : sampleWeights(sw, rows, where);
  if (cw !== undefined) {
    const { classes, count } = rowClasses(data.y, rows, where);
    const training = classes.subarray(0, rows - heldOutRows(where, rows, options));
    const factors = classWeights(cw, training, typedArrayTag(data.y) === 'Int32Array' ? model.outputSize : count, where);
    for (let r = 0; r < training.length; r++) w[r] *= factors[classes[r]];
  }
  return w;
}

/**
 * Records as input: sets the model's input columns from the first record's keys (less the label
 * and sample-weight keys; inferColumns warns of keys only later records have) unless it has some. Training entry points call it before prepareData.
 */
export function adoptColumns(model: Sequential, x: Input, y: Labels, sampleWeight: unknown, where: string): void {
  if (!isRecords(x) || model.inputColumns) return;
  // A key no record has would leave the column meant by it among the inputs.
  if (typeof y === 'string') checkRecordKey(x, y, 'label', null, where);
  if (typeof sampleWeight === 'string') checkRecordKey(x, sampleWeight, 'sampleWeight', null, where);
  const exclude = [y, sampleWeight].filter((k): k is string => typeof k === 'string');
  model.setInputColumns(inferColumns(x, exclude, where));
}

/**
 * Validates and normalises (x, y) for the model and its loss: x through the model's input
 * converter (records, preprocessing; see lib/data/input.ts), then shapes, label ranges, and
 * (unless scanX is false, for a caller that scans x itself) NaN and infinities.
 */
export function prepareData(model: Sequential, x: Input, y: Labels, where: string, scanX = true): Prepared {
  // The label key first: a mistyped one is named as such, not reported as a feature count, and
  // one among the input columns is refused before they are read.
  const labels = labelsOf(x, y, model.inputColumns, where);
  const m = toMatrix(x, model.inputSpec, where);
  if (scanX) checkFinite(model.backend, where, 'x', m.data, m.rows * m.cols, 0, m.cols);
  return { x: m, y: readTargets(model, model.lossSpec, labels, m.rows, where) };
}

/** prepareData, with the rows' weights from options.sampleWeight and options.classWeight. */
export function prepareWeighted(model: Sequential, x: Input, y: Labels, options: WeightOptions,
  where: string, scanX = true): Prepared {
  const p = prepareData(model, x, y, where, scanX);
  p.w = rowWeights(model, x, p, options, where);
  return p;
}

/**
 * A Dataset as fit's prepared data: its rows as they are (or through the model's preprocessing),
 * its labels checked against the model, its sampleWeight times options.classWeight. `checked`
 * says whether x still holds the rows the Dataset scanned (no preprocessing transformed them).
 */
export function prepareDataset(model: Sequential, ds: Dataset, options: WeightOptions, where: string): Prepared & { checked: boolean } {
  if (!(ds instanceof Dataset)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Dataset`);
  if (ds.y === null) throw rangeError(ErrorCode.SHAPE, `${where}: the Dataset has no targets; build it with Dataset.from(x, y)`);
  if (options.sampleWeight !== undefined) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: a Dataset carries its own weights; give sampleWeight to Dataset.from`);
  }
  adoptDatasetColumns(model, ds, where);
  const p = prepareData(model, ds.x, ds.y, where, false);
  const checked = p.x === ds.x;
  if (!checked) checkFinite(model.backend, where, 'x', p.x.data, p.x.rows * p.x.cols, 0, p.x.cols);
  const sw = ds.sampleWeight ?? undefined;
  p.w = sw === undefined && options.classWeight === undefined ? null : rowWeights(model, ds.x, p, { ...options, sampleWeight: sw }, where);
  return { ...p, checked };
}

/** A Dataset read from records lends its columns to a model without any, and must match a model's own. */
export function adoptDatasetColumns(model: Sequential, ds: Dataset, where: string): void {
  if (!ds.columns) return;
  const own = model.inputColumns;
  if (!own) model.setInputColumns([...ds.columns]);
  else if (own.length !== ds.columns.length || own.some((c, i) => c !== (ds.columns as readonly string[])[i])) {
    throw rangeError(ErrorCode.SHAPE, `${where}: the Dataset's columns (${ds.columns.join(', ')}) differ from the model's (${own.join(', ')})`);
  }
}

/**
 * Validation data given as { x, y } or a Dataset, prepared and checked; a Dataset's sampleWeight
 * comes with it, to weight the validation loss as evaluate weights that Dataset's.
 */
export function prepareValidation(model: Sequential, vd: NonNullable<FitOptions['validationData']>, where: string): Prepared {
  if (vd instanceof Dataset) {
    const p = prepareDataset(model, vd, {}, where);
    return { x: p.x, y: p.y, w: p.w ?? null };
  }
  return prepareData(model, vd.x, vd.y, where);
}

/**
 * Rows [from, to) of a prepared set, as views: training never writes to its data, and a copy of
 * the training part would cost its size in memory and page faults before the first step.
 */
function sliceRows(p: Prepared, from: number, to: number, width: number): Prepared {
  const c = p.x.cols;
  return {
    x: new Matrix(p.x.data.subarray(from * c, to * c), to - from, c),
    y: p.y.subarray(from * width, to * width),
    w: p.w ? p.w.subarray(from, to) : null,
  };
}

function targetWidth(p: Prepared): number {
  return typedArrayTag(p.y) === 'Int32Array' ? 1 : p.y.length / p.x.rows;
}

/**
 * Loss and metrics of a model on a dataset, in inference mode, `batchSize` rows at a time. With
 * row weights (data.w) the loss is sum_i w_i l_i / n, as in training; metrics are unweighted.
 * The loss includes the layers' L1/L2 penalties, added once (as Keras's evaluate adds its
 * regularisation losses): with reduction 'mean' it is the training loss's formula, mean data
 * loss plus penalty, so with the same weights evaluate, valLoss and an epoch's loss agree.
 */
export function evaluateModel(model: Sequential, data: Prepared, metricSpecs: readonly MetricSpec[], batchSize: number): Record<string, number> {
  const it = evaluationBatches(model, data, batchSize);
  try {
    return evaluateBatches(model, it, metricsOn(model, metricSpecs));
  } finally {
    it.release();
  }
}

/** The metrics of `specs` over the model's outputs (on its backend, reading its logits as probabilities). */
function metricsOn(model: Sequential, specs: readonly MetricSpec[]): Metric[] {
  const scores = scoreKind(model);
  return specs.map((m) => metricOn(m, model.backend, scores));
}

/** The batches evaluateModel visits: the rows in order, with their weights. */
function evaluationBatches(model: Sequential, data: Prepared, batchSize: number): BatchIterator {
  return new BatchIterator(data.x, data.y, { batchSize, shuffle: false, backend: model.backend, weights: data.w ?? null });
}

/**
 * evaluateModel over batches and metrics made beforehand: fit's validation reuses one iterator
 * (its buffers) and one set of metrics every epoch. The penalty is added unless `penalty` is false
 * (a data-parallel replica scores a share of the rows; fit adds it once after the reduction).
 */
function evaluateBatches(model: Sequential, it: BatchIterator, metrics: readonly Metric[], penalty = true): Record<string, number> {
  for (const m of metrics) m.reset();
  const step: { weight: Float32Array | null } = { weight: null };
  let lossSum = 0;
  // A loss that reduces by 'sum' reports the sum over the whole set; by 'mean', the mean.
  const sum = model.lossSpec?.reduction === 'sum';
  for (const b of it.epoch()) {
    step.weight = b.weight;
    const v = model.lossValue(b.x, b.y as Int32Array | Float32Array, step);
    lossSum += sum ? v : v * b.rows;
    const out = model.lastOutput();
    for (const m of metrics) m.update(out.data, b.rows, model.outputSize, b.y as Int32Array | Float32Array);
  }
  // The penalty depends on the weights alone: once per evaluation, not once per batch.
  const data = sum ? lossSum : lossSum / it.x.rows;
  const result: Record<string, number> = { loss: penalty ? data + model.penaltyValue() : data };
  for (const m of metrics) result[m.name] = m.value();
  return result;
}

/** The keys of FitOptions: fit refuses any other. */
export const FIT_OPTIONS: OptionKeys<FitOptions> = {
  epochs: true, batchSize: true, shuffle: true, dropLast: true, seed: true, validationSplit: true, validationData: true, schedule: true,
  scheduleEvery: true, clipNorm: true, clipValue: true, callbacks: true, verbose: true, sampleWeight: true, classWeight: true, resume: true,
  onNonFinite: true, maxSteps: true, timeLimitMs: true, minDelta: true, augment: true, ema: true, swa: true, checks: true, threads: true,
  dataParallel: true,
};

/** fit's and fitAsync's options must be an object (or undefined). */
export function checkFitOptions(where: string, options: unknown): void {
  if (options !== undefined && !isPlainObject(options)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an options object (epochs, batchSize, ...) but received ${describeValue(options)}`);
  }
}

const HOOKS = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;

/** Callbacks must be an array of objects whose hooks, where present, are functions. */
export function checkCallbacks(where: string, callbacks: unknown): Callback[] {
  if (callbacks === undefined) return [];
  if (!Array.isArray(callbacks)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an array of callbacks but received ${describeValue(callbacks)}`);
  }
  callbacks.forEach((c: unknown, i) => {
    if (c === null || typeof c !== 'object') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected callbacks[${i}] to be an object with onEpochEnd, onBatchEnd, ... but received ${describeValue(c)}`);
    }
    for (const h of HOOKS) {
      const f = (c as Record<string, unknown>)[h];
      if (f !== undefined && typeof f !== 'function') {
        throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected callbacks[${i}].${h} to be a function but received ${describeValue(f)}`);
      }
    }
  });
  return callbacks as Callback[];
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  return typeof v === 'object' ? typeName(v) : `${typeof v} ${String(v)}`;
}

/**
 * Calls one hook of every callback. fit runs them synchronously, so a hook that returns a
 * Promise is an error (fitAsync awaits them); the Promise's own rejection is then handled here
 * rather than surfacing later as an unhandled one. Meanwhile the model is marked
 * (Sequential.fitCallbacks): calls that would change what the loop uses throw ERR_BLASNET_BUSY.
 */
function emit<K extends (typeof HOOKS)[number]>(model: Sequential, callbacks: readonly Callback[], hook: K, ...args: Parameters<NonNullable<Callback[K]>>): void {
  if (callbacks.length === 0) return;
  const marked = model.fitCallbacks(true);
  try {
    for (const c of callbacks) {
      const f = c[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (!f) continue;
      const r = f.apply(c, args);
      if (r && typeof (r as PromiseLike<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, () => undefined);
        throw new BlasnetError(ErrorCode.STATE, `fit: the ${hook} callback returned a Promise, but fit runs callbacks synchronously; use fitAsync, which awaits them`);
      }
    }
  } finally {
    if (marked) model.fitCallbacks(false);
  }
}

/**
 * fit refuses hooks declared `async` before any step (emit refuses any hook that returns a Promise,
 * but only once it has been called: after the first step, for onBatchEnd).
 */
function refuseAsyncHooks(where: string, callbacks: readonly Callback[]): void {
  callbacks.forEach((c, i) => {
    for (const h of HOOKS) {
      const f = c[h] as unknown;
      if (typeof f === 'function' && f.constructor?.name === 'AsyncFunction') {
        throw new BlasnetError(ErrorCode.STATE, `${where}: callbacks[${i}].${h} is an async function, but fit runs callbacks synchronously; use fitAsync, which awaits them`);
      }
    }
  });
}

/** Whether any callback has an onBatchEnd hook (the batch's logs are made only then). */
function hasBatchEnd(callbacks: readonly Callback[]): boolean {
  for (const c of callbacks) if (typeof c.onBatchEnd === 'function') return true;
  return false;
}

/** fit's options after checking (everything but the data-dependent ones). */
export interface FitSettings {
  epochs: number;
  batchSize: number;
  every: 'epoch' | 'step';
  onNonFinite: 'stop' | 'throw' | 'continue';
  maxSteps: number;
  timeLimitMs: number;
  minDelta: number | null;
  ema: EmaOptions | null;
  swa: SwaOptions | null;
  callbacks: Callback[];
  /** The threads option: the loop's thread cap, or 0 for none. */
  threads: number;
  dropLast: boolean;
}

/**
 * Refuses, before any step, an epoch that would fail or do nothing part-way: no batch at all
 * (dropLast with fewer rows than batchSize), or a batch of one row for a model with batchNorm,
 * whose forward pass in training needs two.
 */
function checkBatchPlan(where: string, model: Sequential, it: ReplicaBatches, rows: number, batchSize: number): void {
  if (it.batchesPerEpoch === 0) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: dropLast leaves no batch: ${rows} training rows, batchSize ${batchSize}`);
  }
  if (it.smallestBatch === 1 && model.layers.some((l) => l instanceof BatchNorm)) {
    // With one row in all, no setting gives a batch of two.
    const advice = rows < 2 ? 'train on at least 2 rows' : 'pass dropLast: true or another batchSize';
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: a batch of 1 row has no batch statistics for batchNorm ` +
      `(${rows} training row${rows === 1 ? '' : 's'} in batches of ${batchSize}); ${advice}`);
  }
}

/** Checks fit's options (fitAsync checks them the same way before its worker starts). */
export function fitSettings(where: string, options: FitOptions): FitSettings {
  checkFitOptions(where, options);
  checkOptionKeys(where, options, FIT_OPTIONS);
  const epochs = positiveInt(where, 'epochs', options.epochs ?? 1);
  const batchSize = positiveInt(where, 'batchSize', options.batchSize ?? 32);
  const every = options.scheduleEvery ?? 'epoch';
  if (every !== 'epoch' && every !== 'step') throw rangeError(ErrorCode.ARG_RANGE, `${where}: scheduleEvery must be 'epoch' or 'step'`);
  const scheduleName = options.schedule && typeof options.schedule === 'object' ? (options.schedule as { name?: unknown }).name : options.schedule;
  if (every === 'step' && scheduleName === 'reduceOnPlateau') {
    // Stepped per step it would be asked for a metric that only an epoch end has.
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: reduceOnPlateau steps on the epoch's loss or valLoss; use scheduleEvery 'epoch' (the default)`);
  }
  const onNonFinite = options.onNonFinite ?? 'stop';
  if (onNonFinite !== 'stop' && onNonFinite !== 'throw' && onNonFinite !== 'continue') {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected 'stop', 'throw' or 'continue' for onNonFinite but received ${describeValue(onNonFinite)}`);
  }
  for (const name of ['clipNorm', 'clipValue'] as const) {
    const v = options[name];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive number for ${name} but received ${show(v)}`);
    }
  }
  const maxSteps = options.maxSteps === undefined ? Infinity : positiveInt(where, 'maxSteps', options.maxSteps);
  const t = options.timeLimitMs;
  if (t !== undefined && !(typeof t === 'number' && t > 0 && t <= Number.MAX_SAFE_INTEGER)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive number for timeLimitMs but received ${describeValue(t)}`);
  }
  const d = options.minDelta;
  if (d !== undefined && !(typeof d === 'number' && d >= 0 && Number.isFinite(d))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected non-negative number for minDelta but received ${describeValue(d)}`);
  }
  if (options.augment !== undefined && typeof options.augment !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a function for augment but received ${describeValue(options.augment)}`);
  }
  const ema = checkEma(where, options.ema), swa = checkSwa(where, options.swa);
  if (ema && swa) throw rangeError(ErrorCode.ARG_RANGE, `${where}: give ema or swa, not both`);
  const callbacks = checkpointsLast(withVerbose(where, checkCallbacks(where, options.callbacks), options.verbose));
  if ((ema || swa) && callbacks.some((cb) => cb.restoresWeights)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: earlyStopping's restoreBestWeights would put the best epoch's own weights back ` +
      `when training ends, over the ${ema ? 'ema' : 'swa'} averaged weights the model ends with; drop restoreBestWeights or ${ema ? 'ema' : 'swa'}`);
  }
  // An average that would never start: the model would end with its own weights, the option unread.
  if (swa && swa.startEpoch >= epochs) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: swa.startEpoch ${swa.startEpoch} (0-based) is past the last epoch (${epochs - 1}), ` +
      `so no epoch would be averaged; start it below ${epochs}`);
  }
  const resumed = options.resume && typeof options.resume === 'object' ? options.resume.metadata?.epoch : undefined;
  // A checkpoint holds no running average: resumed, ema would start again from the resumed
  // weights, and swa would have lost the epochs it had averaged, and both end elsewhere than
  // the uninterrupted run that resume promises.
  if (typeof resumed === 'number' && (ema || (swa && resumed > swa.startEpoch))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the checkpoint (after epoch ${resumed}) does not hold ${ema ? "ema's running average of the weights" : `the swa average of epochs ${(swa?.startEpoch ?? 0) + 1} to ${resumed} (numbered from 1)`}, ` +
      `so the resumed run would end with other weights than an uninterrupted one; train from the start with ${ema ? 'ema' : 'swa'}, or resume without it`);
  }
  const threads = options.threads === undefined || options.threads === null ? 0 : positiveInt(where, 'threads', options.threads);
  if (threads > 1024) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected at most 1024 for threads but received ${threads}`);
  const dropLast = options.dropLast ?? false;
  if (typeof dropLast !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for dropLast but received ${describeValue(dropLast)}`);
  if (options.checks !== undefined && typeof options.checks !== 'boolean') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for checks but received ${describeValue(options.checks)}`);
  }
  return {
    epochs, batchSize, every, onNonFinite, maxSteps, timeLimitMs: t ?? Infinity, minDelta: d ?? null, ema, swa,
    callbacks, threads, dropLast,
  };
}

/**
 * The rows fit holds out of n for validation: validationSplit's, none when validationData is
 * given (it takes precedence) or neither is.
 */
export function heldOutRows(where: string, n: number, options: Pick<FitOptions, 'validationSplit' | 'validationData'>): number {
  return options.validationData || options.validationSplit === undefined ? 0 : validationRows(where, n, options.validationSplit);
}

/**
 * The rows validationSplit holds out of n, taken from the end, counted as Keras counts them: the
 * training rows are floor(n * (1 - f)), the rest are held out.
 */
export function validationRows(where: string, n: number, f: unknown): number {
  if (!(typeof f === 'number' && f > 0 && f < 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected validationSplit in (0, 1) but received ${show(f)}`);
  const nVal = n - Math.floor(n * (1 - f));
  if (nVal < 1 || nVal >= n) throw rangeError(ErrorCode.ARG_RANGE, `${where}: validationSplit ${f} leaves no training or no validation rows`);
  return nVal;
}

function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for ${name} but received ${show(v)}`);
  }
  return v;
}

/** The callbacks, with a progressBar appended when verbose. */
function withVerbose(where: string, callbacks: Callback[], verbose: unknown): Callback[] {
  const v = verbose ?? false;
  if (typeof v !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for verbose but received ${describeValue(v)}`);
  return v ? [...callbacks, progressBar()] : callbacks;
}

/** What decides how many times a fit steps its schedule. */
export interface SchedulePlan {
  every: 'epoch' | 'step';
  epochs: number;
  /** The epoch training starts at (a checkpoint's, when resuming). */
  firstEpoch: number;
  stepsPerEpoch: number;
  maxSteps: number;
  swa: SwaOptions | null;
}

/**
 * Refuses, before any step, a fit that would step its schedule past its end (Schedule.stepLimit:
 * a oneCycle's totalSteps), counting the steps a resumed schedule took before (its count):
 * RangeError ERR_BLASNET_ARG_RANGE naming both numbers, where PyTorch's OneCycleLR raises "Tried to
 * step ..." at that step, after the updates before it. Per epoch the schedule steps at every
 * epoch end, including the last; per step after every update, except while SWA's constant lr
 * holds (from swa.startEpoch on). maxSteps caps the run; a callback or minDelta may stop it
 * earlier, which only takes fewer steps.
 */
export function checkScheduleSteps(where: string, schedule: Schedule, plan: SchedulePlan): void {
  const limit = schedule.stepLimit;
  if (limit === undefined) return;
  const { every, epochs, firstEpoch, stepsPerEpoch, maxSteps, swa } = plan;
  let steps: number;
  let detail: string;
  if (every === 'epoch') {
    steps = Math.min(epochs - firstEpoch, Math.ceil(maxSteps / stepsPerEpoch));
    detail = `${steps} epoch${steps === 1 ? '' : 's'}`;
  } else {
    const scheduled = Math.max(0, (swa?.lr !== undefined ? Math.min(epochs, swa.startEpoch) : epochs) - firstEpoch);
    steps = Math.min(scheduled * stepsPerEpoch, maxSteps);
    detail = steps === maxSteps ? `maxSteps ${maxSteps}`
      : `${scheduled} epoch${scheduled === 1 ? '' : 's'} of ${stepsPerEpoch} step${stepsPerEpoch === 1 ? '' : 's'}` +
        (swa?.lr !== undefined && swa.startEpoch < epochs ? ` before swa.startEpoch ${swa.startEpoch}` : '');
  }
  const total = schedule.count + steps;
  if (total <= limit) return;
  const before = schedule.count > 0 ? `the checkpoint's ${schedule.count}, then ` : '';
  const end = schedule.name === 'oneCycle' ? `totalSteps ${limit}` : 'where the oneCycle in it ends';
  throw rangeError(ErrorCode.ARG_RANGE, `${where}: the ${schedule.name} schedule takes at most ${limit} steps (${end}) but this fit ` +
    `would step it ${total} times (${before}${detail}, scheduleEvery '${every}'); train fewer epochs or give a larger totalSteps`);
}

/**
 * The lr a fit's schedule starts from: the optimiser's lr, as torch's schedulers take each group's
 * lr as their initial_lr. A resumed schedule must start from the lr the checkpoint's started from,
 * or its state does not load, and by then the optimiser's lr may be a scheduled one (a loaded
 * model's optimiser holds the checkpoint's state): so a resume starts it from the lr in the
 * checkpoint's optimiser options, the one compile set, as torch keeps initial_lr in the param
 * group for a resume. Should that lr not reproduce the checkpoint's schedule state (a schedule
 * begun from another lr, the model recompiled with that one), the optimiser's lr stays the base.
 */
export function scheduleBase(spec: ScheduleSpec, resume: FitOptions['resume'], optimizer: Optimizer): number {
  const current = optimizer.lr;
  if (!resume || typeof resume !== 'object' || !resume.schedule) return current;
  const saved = (resume.optimizer as { options?: { lr?: unknown } } | null | undefined)?.options?.lr;
  if (typeof saved !== 'number' || saved === current) return current;
  try {
    madeAgain(() => createSchedule(spec, saved)).load(resume.schedule as ScheduleState);
    return saved;
  } catch {
    return current;
  }
}

/**
 * The parts of a `resume` value that resumeFrom reads, as plain data: what fitAsync sends its
 * worker in place of a loadModel() result, which also holds the model, and with it its backend's
 * functions, that no structured clone can copy.
 */
export function resumeParts(resume: FitOptions['resume']): FitOptions['resume'] {
  if (!resume || typeof resume !== 'object') return resume;
  const meta = resume.metadata;
  return {
    optimizer: resume.optimizer,
    schedule: resume.schedule,
    metadata: meta && typeof meta === 'object' ? { epoch: meta.epoch, maskState: meta.maskState, minDeltaBest: meta.minDeltaBest } : meta,
  };
}

/** The checkpoint's minDelta best loss (checkpointOf), or Infinity: none, or training afresh. @internal */
export function resumedMinDeltaBest(resume: FitOptions['resume']): number {
  const v = resume && typeof resume === 'object' ? resume.metadata?.minDeltaBest : undefined;
  return typeof v === 'number' ? v : Infinity;
}

/**
 * Checks a checkpoint's epoch count and that it holds the state to resume (an optimiser's, and a
 * schedule's when `schedule` is given), and puts the schedule at the checkpoint's step; returns
 * the epoch to start from. resumeState then restores the rest. fitAsync checks the same before
 * its worker starts (`where` 'fitAsync (resume)').
 */
export function resumePoint(resume: NonNullable<FitOptions['resume']>, schedule: Schedule | null, epochs: number, where = 'fit (resume)'): number {
  const meta = resume.metadata ?? {};
  const epoch = meta.epoch;
  if (!Number.isInteger(epoch) || (epoch as number) < 0) {
    throw new BlasnetError(ErrorCode.STATE, `${where}: the checkpoint has no epoch count; save it with modelCheckpoint`);
  }
  if ((epoch as number) >= epochs) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the checkpoint is at epoch ${epoch}; epochs (${epochs}) must be larger to train further`);
  }
  const cut = (meta.logs as Record<string, unknown> | undefined)?.batches;
  if (typeof cut === 'number') {
    throw new BlasnetError(ErrorCode.STATE, `${where}: the checkpoint was written when a stop cut epoch ${epoch} short (after ${cut} of its batches), ` +
      'so no run resumed from it could continue as the uninterrupted one; resume from a checkpoint written at an epoch end');
  }
  if (!resume.optimizer) throw new BlasnetError(ErrorCode.STATE, `${where}: the checkpoint holds no optimiser state`);
  if (schedule) {
    if (!resume.schedule) throw new BlasnetError(ErrorCode.STATE, `${where}: a schedule was given but the checkpoint holds no schedule state`);
    try {
      schedule.load(resume.schedule as ScheduleState);
    } catch (e) {
      // The schedule's own message names its load; here it is the checkpoint's state.
      if (!(e instanceof BlasnetError && e.code === ErrorCode.STATE)) throw e;
      throw new BlasnetError(ErrorCode.STATE, `${where}: the checkpoint's schedule state does not fit this schedule: ${e.message.replace(/^load: /, '')}`, { cause: e });
    }
  }
  return epoch as number;
}

/**
 * A loadModel() result given as `resume` to another model than its own must hold the same
 * weights: resuming a freshly built model would load optimiser moments that belong to other
 * weights and train on from the wrong point, without any error. Another parameter count is
 * ERR_BLASNET_STATE saying so (data-parallel replicas take rank 0's weights anyway).
 */
export function checkResumedWeights(where: string, model: Sequential, resume: FitOptions['resume']): void {
  const own = resume && typeof resume === 'object' ? (resume as { model?: { params?: unknown } | null }).model : undefined;
  if (!own || (own as unknown) === model || !(own.params instanceof Float32Array)) return;
  const a = own.params, b = model.params;
  if (a.length !== b.length) {
    throw new BlasnetError(ErrorCode.STATE, `${where}: the checkpoint's model has ${a.length} parameters and this one ${b.length}, so its optimiser ` +
      'state cannot continue here; resume a model of the checkpoint\'s layers (ck.model.fit(x, y, { resume: ck }))');
  }
  for (let i = 0; i < a.length; i++) {
    // Bit for bit, NaN included (the weights were copied, not recomputed).
    if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) {
      throw new BlasnetError(ErrorCode.STATE, `${where}: this model's weights are not the checkpoint's (resume would load an optimiser state ` +
        'that belongs to other weights); call fit on the checkpoint\'s model (ck.model.fit(x, y, { resume: ck })), or copy its weights first (model.setWeights(ck.model.getWeights()); ' +
        'the running statistics come from the checkpoint with its optimiser state)');
    }
  }
}

/**
 * A loadModel() result given as `resume` to another model (its weights copied, as
 * checkResumedWeights demands): the checkpoint's running statistics (BatchNorm's) go into the
 * model too, as its optimiser state does, so that the run continues from the whole state the
 * checkpoint holds (PyTorch's state_dict holds running_mean and running_var beside the weights).
 * @internal
 */
export function resumeBuffers(model: Sequential, resume: FitOptions['resume']): void {
  const own = resume && typeof resume === 'object' ? (resume as { model?: Sequential | null }).model : undefined;
  if (!own || own === model || typeof own.buffers !== 'function') return;
  const from = own.buffers(), to = model.buffers();
  if (from.length !== to.length || from.some((b, i) => b.data.length !== to[i].data.length)) return;
  to.forEach((b, i) => b.data.set(from[i].data));
}

/** What callbacks see of a resume (TrainContext.resumed): the epoch it starts from, the checkpoint's last logs. */
export function resumedView(resume: FitOptions['resume'], firstEpoch: number): TrainContext['resumed'] {
  if (!resume || typeof resume !== 'object') return null;
  const logs = resume.metadata?.logs;
  const states = resume.metadata?.callbacks;
  return {
    epoch: firstEpoch, logs: logs && typeof logs === 'object' ? { ...(logs as Record<string, number>) } : null,
    callbacks: Array.isArray(states) ? states : null,
  };
}

/** Restores a checkpoint's optimiser state and dropout stream (after resumePoint). */
function resumeState(resume: NonNullable<FitOptions['resume']>, model: Sequential, optimizer: Optimizer): void {
  optimizer.load(resume.optimizer as OptimizerState);
  resumeBuffers(model, resume);
  const meta = resume.metadata ?? {};
  if (Array.isArray(meta.maskState)) model.setMaskState(meta.maskState as number[]);
}

/**
 * Weights, running statistics and optimiser state as they were at an epoch end, for a restore
 * (fit's divergence snapshot; fitAsync's state to go back to if its worker dies). @internal
 */
export class Snapshot {
  private readonly params: Float32Array;
  private readonly buffers: Float32Array[];
  private optimizer: StateCopy;
  epoch = 0;

  constructor(private readonly model: Sequential, private readonly opt: Optimizer) {
    // Memory an earlier fit gave back where it can (its pages written already), else fresh memory
    // mapped in one call before the copy (see takeFloat32Array).
    this.params = takenCopy(model.params);
    this.buffers = model.buffers().map((b) => b.data.slice());
    this.optimizer = copyStateOf(opt);
  }

  take(epoch: number): void {
    this.params.set(this.model.params);
    this.model.buffers().forEach((b, i) => this.buffers[i].set(b.data));
    this.optimizer = copyStateOf(this.opt, this.optimizer);
    this.epoch = epoch;
  }

  restore(): void {
    this.model.params.set(this.params);
    this.model.buffers().forEach((b, i) => b.data.set(this.buffers[i]));
    restoreStateCopy(this.opt, this.optimizer);
  }

  /** Gives the copies' memory back for a later fit; the snapshot is not used again. */
  release(): void {
    releaseFloat32Array(this.params);
    releaseStateCopy(this.optimizer);
  }
}

/**
 * Puts back the input columns a failed call found on the model (`columns`, read before the call):
 * adoptColumns and adoptDatasetColumns lend columns only to a model without any, so a model that
 * had some is left alone and one that had none loses those the call lent it.
 */
export function undoColumns(model: Sequential, columns: readonly string[] | null): void {
  if (model.inputColumns !== columns) model.setInputColumns(columns);
}

interface FitRun {
  /** Whether the weights hold training on the columns fit adopted, which then stay if it throws. */
  trained: boolean;
  /** The mode (Sequential.training) fit was called in, and leaves the model in. */
  readonly mode: boolean;
  /** The callbacks the run uses (verbose's progress bar among them), released if it throws. */
  callbacks?: readonly Callback[];
}

/**
 * Trains `model` (compiled) on (x, y), or on a Dataset (y then unused); see FitOptions.
 *
 * x is checked for NaN and infinities as the first epoch gathers it, batch by batch, before the
 * step that would use a bad row (a Dataset was checked when built; validation rows, targets and
 * weights are checked before training starts). A bad value ends fit with ERR_BLASNET_DATA after
 * the model, its optimiser state and its running statistics are put back as they were when fit
 * was called; callbacks have then seen the batches before it.
 *
 * The loop trains in training mode (model.training is true from onTrainBegin to the last
 * onEpochEnd) and leaves the model in the mode fit was called in, also when it throws; from the
 * callbacks, train(), eval() and setting training throw ERR_BLASNET_BUSY.
 *
 * Input columns taken from records or a Dataset (by a model that had none) stay only with
 * weights trained on them: a fit that throws before training begins, or whose first epoch finds a
 * bad row, leaves the model's columns as they were. One that throws later (onNonFinite 'throw', a
 * callback's error) keeps them, as it keeps the weights trained so far.
 */
export function fitModel(model: Sequential, compiled: Compiled, x: Input | Dataset, y: Labels | undefined, options: FitOptions = {}): History {
  const columns = model.inputColumns;
  const run: FitRun = { trained: false, mode: model.training };
  try {
    return fitChecked(model, compiled, x, y, options, run);
  } catch (e) {
    if (!run.trained) undoColumns(model, columns);
    if (model.training !== run.mode) model.training = run.mode;
    releaseOnFailure(run.callbacks);
    throw e;
  }
}

function fitChecked(model: Sequential, compiled: Compiled, x: Input | Dataset, y: Labels | undefined, options: FitOptions, run: FitRun): History {
  const where = 'fit';
  const { epochs, batchSize, every, onNonFinite, maxSteps, timeLimitMs, minDelta, ema, swa, callbacks, threads, dropLast } = fitSettings(where, options);
  run.callbacks = callbacks;
  refuseAsyncHooks(where, callbacks);
  let train: Prepared;
  // Whether rows of x remain to be checked for NaN and infinities (in the first epoch's batches).
  let unscanned: boolean;
  if (x instanceof Dataset) {
    const p = prepareDataset(model, x, options, where);
    train = p;
    unscanned = !p.checked;
  } else {
    adoptColumns(model, x, y as Labels, options.sampleWeight, where);
    train = prepareWeighted(model, x, y as Labels, options, where, false);
    unscanned = true;
  }
  let val: Prepared | null = null;
  const n = train.x.rows, nVal = heldOutRows(where, n, options);
  if (options.validationData) {
    val = prepareValidation(model, options.validationData, `${where} (validationData)`);
  } else if (nVal > 0) {
    const w = targetWidth(train);
    // The held-out rows keep their sampleWeight (see rowWeights), as Keras's validation_split
    // splits sample_weight: a weighted validation loss, as evaluate gives it with those weights.
    val = sliceRows(train, n - nVal, n, w);
    train = sliceRows(train, 0, n - nVal, w);
    if (unscanned) checkFinite(model.backend, where, 'x', val.x.data, val.x.rows * val.x.cols, (n - nVal) * val.x.cols, val.x.cols);
  }
  const optimizer = compiled.optimizer;
  const schedule: Schedule | null = options.schedule ? createSchedule(options.schedule, scheduleBase(options.schedule, options.resume, optimizer)) : null;
  if (schedule) checkScheduleMomentum(optimizer, schedule);
  const parallel = options.dataParallel ?? null;
  const order = { batchSize, shuffle: options.shuffle ?? true, dropLast, seed: options.seed ?? model.seed, backend: model.backend };
  const it = parallel ? parallel.batches(train, order) : new BatchIterator(train.x, train.y, { ...order, weights: train.w ?? null });
  checkBatchPlan(where, model, it, train.x.rows, batchSize);
  if (parallel && val) val = parallel.validation(val);
  // Validation batches of at least 256 rows (fewer passes); the model's workspace is sized for
  // them before the first step, so that the first validation pass, like every later one, reuses
  // the training pass's memory rather than allocating and touching its own. Its pages are mapped
  // now in one call per array (where the addon can), not by a page fault each in the first step.
  const valBatch = Math.max(batchSize, 256);
  const valBatches = val ? evaluationBatches(model, val, valBatch) : null;
  const valMetrics = val ? metricsOn(model, compiled.metrics) : [];
  model.reserve(Math.max(Math.min(batchSize, train.x.rows), val ? Math.min(valBatch, val.x.rows) : 0), true);
  // One options object for every step, its weight pointed at the batch's: a step allocates nothing.
  const step: { weight: Float32Array | null; penaltyShare: number } = { weight: null, penaltyShare: parallel?.penaltyShare ?? 1 };
  const stepsPerEpoch = it.batchesPerEpoch;
  const firstEpoch = options.resume ? resumePoint(options.resume, schedule, epochs) : 0;
  // Data-parallel replicas take the first one's weights: its check is the one that counts (start agrees on it).
  let resumeProblem: Error | null = null;
  try {
    checkResumedWeights(where, model, options.resume);
  } catch (e) {
    if (!parallel) throw e;
    resumeProblem = e as Error;
  }
  if (schedule) checkScheduleSteps(where, schedule, { every, epochs, firstEpoch, stepsPerEpoch, maxSteps, swa });
  // What the call found: a call that fails before its first step, or that puts the weights back as
  // it found them (a bad row), leaves the optimiser (its lr and momentum, and the state a resume
  // loads), the running statistics a resume brings and the dropout stream so too (the schedule's
  // first values and an onTrainBegin hook's would otherwise stay in the optimiser).
  const start = { lr: optimizer.lr, momentum: optimizer.momentum };
  const found = options.resume ? { state: new Snapshot(model, optimizer), masks: model.maskState() } : null;
  const unstart = () => {
    if (found) {
      found.state.restore();
      model.setMaskState(found.masks);
    }
    optimizer.lr = start.lr;
    if (start.momentum !== undefined && optimizer.momentum !== start.momentum) optimizer.momentum = start.momentum;
  };
  if (options.resume) resumeState(options.resume, model, optimizer);
  it.skipEpochs(firstEpoch);
  const metrics: Metric[] = metricsOn(model, compiled.metrics);
  // The per-step arrays hold every step the run may take, allocated up front when that is up to
  // 2^20 steps; past that (an epoch cap of 1e10 that a time limit ends) they grow as steps come.
  const planned = Math.min((epochs - firstEpoch) * stepsPerEpoch, maxSteps);
  const history = {
    epochs: [] as EpochLogs[], stepLoss: new Float64Array(0), stepLr: new Float64Array(0), steps: 0,
    stopReason: null as string | null, diverged: null as Divergence | null, averaged: null as 'ema' | 'swa' | null,
  };
  const growSteps = (length: number) => {
    const loss = new Float64Array(length), lr = new Float64Array(length);
    loss.set(history.stepLoss.subarray(0, history.steps));
    lr.set(history.stepLr.subarray(0, history.steps));
    history.stepLoss = loss;
    history.stepLr = lr;
  };
  growSteps(planned <= 1 << 20 ? planned : 1 << 16);
  const ctx: TrainContext = {
    model, optimizer, schedule, epochs, stepsPerEpoch, resumed: resumedView(options.resume, firstEpoch), validation: val !== null,
    callbackStates: () => callbackStates(callbacks),
    stop(reason = 'stopped by a callback') {
      if (history.stopReason === null) history.stopReason = reason;
    },
    get stopReason() {
      return history.stopReason;
    },
  };
  if (options.checks) {
    // The checks run forward passes over the training rows, so those are scanned first.
    try {
      if (unscanned) checkFinite(model.backend, where, 'x', train.x.data, train.x.rows * train.x.cols, 0, train.x.cols);
      unscanned = false;
      runStartChecksOnRows(model, train.x, train.y);
    } catch (e) {
      unstart();
      found?.state.release();
      throw e;
    }
  }
  if (schedule && !options.resume) followSchedule(optimizer, schedule);
  const chains = schedule !== null && scheduleChains(options.schedule);
  // Steps the schedule and sets the optimiser from it. A chaining schedule (PyTorch's chainable
  // ones) carries on from an lr set by others since its last step (a callback such as
  // reduceLrOnPlateau, or onTrainBegin): the optimiser's excess over the schedule's floor (a
  // cosine's etaMin, else 0) keeps its ratio to the curve's, as PyTorch's scheduler chains the
  // param group's lr; on a checkpoint's resume, from the saved optimiser's lr and schedule.
  const floor = scheduleChainFloor(options.schedule);
  const advance = (s: Schedule, metric?: number) => {
    const carried = chains && optimizer.lr !== s.lr;
    const before = s.lr, from = optimizer.lr;
    s.step(metric);
    followSchedule(optimizer, s);
    if (!carried || (s.stepLimit !== undefined && s.count >= s.stepLimit)) return;
    if (floor === null) {
      // A plain factor: the ratio of the optimiser's lr to the curve's stays.
      if (before !== 0) optimizer.lr = (from / before) * s.lr;
      return;
    }
    // A cosine: the optimiser's excess over etaMin scales as the curve's (PyTorch's chained
    // `etaMin + (lr - etaMin) * factor`), and out of the minimum the curve's rise is added
    // (CosineAnnealingLR's step from there).
    optimizer.lr = before !== floor ? floor + ((from - floor) / (before - floor)) * (s.lr - floor) : from + (s.lr - before);
  };
  // What the callbacks see as the loop runs; the mode fit was called in comes back before
  // onTrainEnd, or in fitModel when fit throws (train() and eval() are refused meanwhile).
  model.train();
  try {
    parallel?.start({
      optimizer, schedule, resuming: !!options.resume, problem: resumeProblem,
      // What every replica must share for its steps and collectives to line up (the optimiser's
      // options, not its lr or state: the first replica's state is the one resumed).
      settings: {
        epochs, firstEpoch, stepsPerEpoch, batchSize, dropLast, shuffle: options.shuffle ?? true, seed: options.seed ?? null, maxSteps,
        schedule: options.schedule ?? null, scheduleEvery: every, clipNorm: options.clipNorm ?? null, clipValue: options.clipValue ?? null,
        ema: ema ?? null, swa: swa ?? null, loss: model.lossSpec?.spec ?? null, metrics: compiled.metrics,
        optimizer: { name: optimizer.name, options: optimizer.options },
      },
    });
    if (options.resume) restoreCallbackStates(where, callbacks, ctx.resumed?.callbacks);
    emit(model, callbacks, 'onTrainBegin', ctx);
  } catch (e) {
    unstart();
    found?.state.release();
    throw e;
  }
  run.trained = true;
  const snapshot = onNonFinite === 'continue' ? null : new Snapshot(model, optimizer);
  const startedFinite = snapshot !== null && model.backend.firstNonFinite(model.params.length, model.params) < 0;
  if (snapshot) snapshot.epoch = firstEpoch;
  // What a bad row found by the first epoch's scan restores (the snapshot is still the start then).
  const initial = unscanned ? snapshot ?? new Snapshot(model, optimizer) : null;
  const initialMasks = unscanned ? model.maskState() : null;
  const cols = train.x.cols;
  // Only layers that have constraints (dense maxNorm) are visited after each step.
  const constrained = model.layers.filter((l) => l.hasConstraints());
  const augment = options.augment;
  // Reseeded every epoch from (seed, epoch), so a resumed run augments as an uninterrupted one.
  const augmentSeed = (seed32(options.seed ?? model.seed) ^ 0x27d4eb2f) >>> 0;
  const augmentRng = augment ? new Rng(augmentSeed) : null;
  const startedAt = process.hrtime.bigint();
  const deadline = Number.isFinite(timeLimitMs) ? startedAt + BigInt(Math.ceil(timeLimitMs * 1e6)) : null;
  // minDelta's best loss: a resumed run's starts from the checkpoint's (checkpointOf keeps it).
  const minDeltaState = { best: resumedMinDeltaBest(options.resume) };
  if (minDelta !== null) minDeltaBests.set(ctx, minDeltaState);
  // With reduction 'sum' an epoch's loss is the sum over its batches, as evaluate reports it.
  const sumReduction = model.lossSpec?.reduction === 'sum';
  const average = ema || swa ? new WeightAverage(model, ema) : null;
  // A Backend of one's own written before setThreadLimit existed trains uncapped.
  const capped = threads > 0 && typeof model.backend.setThreadLimit === 'function';
  const previousLimit = capped ? model.backend.setThreadLimit(threads) : null;
  try {
    for (let epoch = firstEpoch; epoch < epochs && history.stopReason === null; epoch++) {
      emit(model, callbacks, 'onEpochBegin', epoch, ctx);
      // SWA's constant lr takes over from the schedule for the averaged epochs.
      const swaLr = swa?.lr !== undefined && epoch >= swa.startEpoch;
      if (swaLr) optimizer.lr = (swa as SwaOptions).lr as number;
      augmentRng?.reset((augmentSeed + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
      const started = process.hrtime.bigint();
      for (const m of metrics) m.reset();
      let lossSum = 0, rowsSeen = 0, batch = 0;
      const stepsBefore = history.steps;
      for (const b of it.epoch({ checkFinite: unscanned })) {
        if (unscanned) {
          // The rows are checked as they are gathered (in cache), before their step.
          const i = b.nonFinite;
          if (i >= 0) {
            (initial as Snapshot).restore();
            model.setMaskState(initialMasks as number[]);
            unstart();
            // The weights are back where fit found them, so the columns go back too.
            run.trained = false;
            const r = Math.floor(i / cols);
            throw new BlasnetError(ErrorCode.DATA, `${where}: x holds ${b.x.data[i]} at index ${b.index[r] * cols + (i - r * cols)}` +
              ` (row ${b.index[r] + 1}); clean or impute the data first`);
          }
        }
        if (augment) augment(b.x, b.y as Int32Array | Float32Array, augmentRng as Rng);
        step.weight = b.weight;
        const batchLoss = model.lossAndGradient(b.x, b.y as Int32Array | Float32Array, step);
        const loss = parallel ? parallel.reduceStep(batchLoss) : batchLoss;
        if (snapshot && !Number.isFinite(loss)) {
          // The step is not taken; training goes back to the last epoch end it can trust.
          snapshot.restore();
          history.diverged = { epoch, batch, step: history.steps, loss, restoredEpoch: snapshot.epoch };
          history.stopReason = `diverged: the loss was ${loss} at epoch ${epoch + 1}, batch ${batch + 1}; ` +
            `restored the weights of ${snapshot.epoch === 0 ? 'the start of training' : `epoch ${snapshot.epoch}`} (try a lower learning rate)`;
          break;
        }
        if (options.clipValue !== undefined) clipGradValue(model, options.clipValue);
        if (options.clipNorm !== undefined) clipGradNorm(model, options.clipNorm);
        if (history.steps >= history.stepLr.length) growSteps(Math.min(planned, 2 * history.stepLr.length));
        history.stepLr[history.steps] = optimizer.lr;
        optimizer.step();
        for (const l of constrained) l.constrain(model.backend);
        if (ema) (average as WeightAverage).update();
        if (metrics.length) {
          const out = model.lastOutput();
          for (const m of metrics) m.update(out.data, b.rows, model.outputSize, b.y as Int32Array | Float32Array);
        }
        history.stepLoss[history.steps] = loss;
        lossSum += sumReduction ? loss : loss * b.rows;
        rowsSeen += b.rows;
        // An object per batch, as fitAsync and Keras hand over: a callback may keep it.
        if (hasBatchEnd(callbacks)) emit(model, callbacks, 'onBatchEnd', { epoch, batch, step: history.steps, loss, rows: b.rows } as BatchLogs, ctx);
        batch++;
        history.steps++;
        if (schedule && every === 'step' && !swaLr) {
          advance(schedule);
        }
        if (history.steps >= maxSteps) ctx.stop(`maxSteps: ${maxSteps} steps`);
        else if (deadline !== null && process.hrtime.bigint() >= deadline) ctx.stop(`timeLimitMs: ${timeLimitMs} ms`);
        if (parallel && parallel.anyStop(history.stopReason !== null)) ctx.stop('stopped by another replica');
        if (history.stopReason !== null) break;
      }
      // One whole epoch has gathered every training row, or training ends with this epoch.
      unscanned = false;
      // Each loss is measured before its step, so a step can leave weights that are not finite
      // while every loss was: checked here, before a snapshot could keep them or fit return them
      // (not in a run that started from such weights, a -Infinity bias say: the check is then off
      // for the whole run, and only a non-finite loss stops it).
      if (snapshot && startedFinite && !history.diverged && batch > 0 && model.backend.firstNonFinite(model.params.length, model.params) >= 0) {
        snapshot.restore();
        const last = history.steps - 1;
        history.diverged = { epoch, batch: batch - 1, step: last, loss: history.stepLoss[last], restoredEpoch: snapshot.epoch };
        history.stopReason = `diverged: the weights were not finite at the end of epoch ${epoch + 1} (its losses were); ` +
          `restored the weights of ${snapshot.epoch === 0 ? 'the start of training' : `epoch ${snapshot.epoch}`} (try a lower learning rate)`;
      }
      if (history.diverged) {
        if (onNonFinite === 'throw') {
          throw new BlasnetError(ErrorCode.DIVERGED, `${where}: ${history.stopReason}`);
        }
        break;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A stop (a callback's, maxSteps, timeLimitMs, an abort) can end the epoch before its last
      // batch: its logs say how many batches ran, the schedule does not move on to the next
      // epoch, and no checkpoint is written of it (see EpochLogs.batches).
      const cut = batch < stepsPerEpoch;
      const logs: Record<string, number> = { epoch, loss: sumReduction ? lossSum : lossSum / Math.max(rowsSeen, 1) };
      for (const m of metrics) logs[m.name] = m.value();
      parallel?.epochEnd();
      if (val) {
        const v = evaluateBatches(model, valBatches as BatchIterator, valMetrics, !parallel);
        for (const [k, value] of Object.entries(v)) logs[validationName(k)] = value;
        model.train();
      }
      // The lr this epoch's last step took (its schedule, stepped per step, has moved on since).
      logs.lr = history.steps > stepsBefore ? history.stepLr[history.steps - 1] : optimizer.lr;
      logs.seconds = seconds;
      logs.samplesPerSecond = rowsSeen / seconds;
      parallel?.reduceLogs(logs);
      // After the ranks' mean (each ran the same batches): a count, not a float average of one.
      if (cut) logs.batches = batch;
      // The replicas' weights are the same: the penalty joins the reduced valLoss once.
      if (parallel && val) logs.valLoss += model.penaltyValue();
      history.epochs.push(logs as EpochLogs);
      // The schedule moves to the next epoch before the callbacks, so that a checkpoint taken
      // there holds the optimiser and schedule exactly as the next epoch starts.
      if (schedule && every === 'epoch' && !cut) {
        advance(schedule, logs.valLoss ?? logs.loss);
      }
      // No step follows the last epoch in this call, so nothing could restore what it would keep.
      if (snapshot && epoch + 1 < epochs && Number.isFinite(logs.loss)) snapshot.take(epoch + 1);
      if (swa && epoch >= swa.startEpoch) (average as WeightAverage).update();
      if (minDelta !== null && !cut) {
        const bestLoss = minDeltaState.best;
        if (bestLoss - logs.loss < minDelta) ctx.stop(`minDelta: the training loss improved by less than ${minDelta} (${logs.loss} against ${bestLoss})`);
        minDeltaState.best = Math.min(bestLoss, logs.loss);
      }
      emit(model, callbacks, 'onEpochEnd', logs as EpochLogs, ctx);
      // A stop a callback asked for on one replica (one that runs on the first alone) stops them all here.
      if (parallel && parallel.anyStop(history.stopReason !== null)) ctx.stop('stopped by another replica');
    }
    // The model leaves training with the averaged weights (not after a divergence: then it keeps
    // the restored ones), and BatchNorm statistics that match them.
    if (average && !history.diverged && average.apply()) {
      history.averaged = ema ? 'ema' : 'swa';
      updateBatchNormOnRows(model, train.x, { batchSize: Math.max(batchSize, 2) });
      // Each replica's dropout masked its rows its own way: the statistics are averaged as at an epoch end.
      parallel?.epochEnd();
    }
  } finally {
    if (previousLimit !== null) model.backend.setThreadLimit(previousLimit);
    model.training = run.mode;
    // fit's own buffers go back for the next call to reuse. The batch buffer stays with the
    // iterator when augment saw its batches: the function may have kept a reference to one.
    snapshot?.release();
    found?.state.release();
    if (initial !== snapshot) initial?.release();
    if (!augment && it instanceof BatchIterator) it.release();
    valBatches?.release();
  }
  emit(model, callbacks, 'onTrainEnd', ctx);
  return history;
}
