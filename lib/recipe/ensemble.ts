/**
 * Ensembles: several models of one input and output size whose predictions (probabilities, or
 * regression outputs) are averaged; trained one after another or in parallel worker threads, saved
 * and loaded as one file; and snapshot ensembles, the models at the ends of the cycles of one run
 * with cosine warm restarts (Huang et al., "Snapshot Ensembles").
 */
import { checkOptionKeys, optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { decodeModel, encodeModel, loadModels, saveModels } from '../io/model-file';
import type { Input, Sequential } from '../model/sequential';
import { Matrix } from '../tensor';
import { checkCallbacks, FIT_OPTIONS, prepareData, validationRows } from '../train/fit';
import type { FitOptions, History, Labels } from '../train/fit';
import { classesOf, hasClassScores, predictProba } from '../predict';
import type { FitAsyncOptions } from '../train/async';
import { Dataset } from '../data/dataset';
import type { Backend } from '../backend/types';
import type { BackendName } from '../backend/select';
import { typedArrayTag } from '../typed';

/** Ensemble.fitAsync's options: fitAsync's, `parallel`, and callbacks per member. */
export interface EnsembleFitAsyncOptions extends Omit<FitAsyncOptions, 'callbacks'> {
  /** Train every member at once, each in its own worker thread. Default false. */
  parallel?: boolean;
  /** The callbacks of every member, or a function of the member's index giving each its own (needed with parallel). */
  callbacks?: FitAsyncOptions['callbacks'] | ((member: number) => NonNullable<FitAsyncOptions['callbacks']>);
}

/** Models averaged at prediction time. */
export class Ensemble {
  readonly models: readonly Sequential[];

  /**
   * An ensemble of `models` (at least one), which must share their input and output sizes
   * (ERR_BLASNET_SHAPE otherwise, naming the first that differs).
   */
  constructor(models: readonly Sequential[]) {
    if (!Array.isArray(models) || models.length === 0 || models.some((m) => !m || typeof (m as Sequential).predict !== 'function')) {
      throw typeError(ErrorCode.ARG_TYPE, 'Ensemble: Expected a non-empty array of models');
    }
    const [first] = models;
    models.forEach((m, i) => {
      if (m.inputSize !== first.inputSize || m.outputSize !== first.outputSize) {
        throw rangeError(ErrorCode.SHAPE,
          `Ensemble: model ${i} maps ${m.inputSize} inputs to ${m.outputSize} outputs, model 0 ${first.inputSize} to ${first.outputSize}; members must agree`);
      }
    });
    if (new Set(models).size !== models.length) throw rangeError(ErrorCode.ARG_RANGE, 'Ensemble: the same model appears twice');
    this.models = [...models];
  }

  /**
   * The mean of the members' predictions: their class probabilities (predictProba: logits of
   * crossEntropy or binaryCrossEntropy become softmax or sigmoid first) when their outputs are
   * class scores, else their outputs as model.predict returns them (regression). Members of both
   * kinds in one ensemble are ERR_BLASNET_STATE: their outputs cannot be averaged.
   *
   * Members trained with gaussianNll predict rows of [means | variances]; the ensemble's row is
   * the mixture's, as a deep ensemble reads it (Lakshminarayanan et al.): the mean of the means,
   * and the mean of the variances plus the variance of the means (the members' disagreement).
   * Such members with others is ERR_BLASNET_STATE.
   */
  predict(x: Input | Dataset, options: { batchSize?: number } = {}): Matrix {
    const where = 'Ensemble.predict';
    options = optionsArg(where, options, { batchSize: true });
    const proba = this.classScores(where);
    const gaussian = this.gaussianMembers(where);
    const preds = this.models.map((m) => (proba ? predictProba(m, x, options) : m.predict(x, options)));
    const { rows, cols } = preds[0];
    const k = preds.length;
    const mean = new Float64Array(rows * cols);
    for (const p of preds) for (let i = 0; i < mean.length; i++) mean[i] += p.data[i];
    for (let i = 0; i < mean.length; i++) mean[i] /= k;
    if (gaussian) {
      // The variance columns: the mean variance plus the means' spread about their mean, a sum of
      // non-negative terms (never the cancelling mean(var + mu^2) - mean(mu)^2).
      const half = cols / 2;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < half; j++) {
          const mu = mean[r * cols + j];
          let spread = 0;
          for (const p of preds) spread += (p.data[r * cols + j] - mu) ** 2;
          mean[r * cols + half + j] += spread / k;
        }
      }
    }
    return new Matrix(Float32Array.from(mean), rows, cols);
  }

  /** Whether the members predict gaussianNll's [means | variances]: all of them or none (ERR_BLASNET_STATE). */
  private gaussianMembers(where: string): boolean {
    const kinds = this.models.map((m) => m.lossSpec?.name === 'gaussianNll');
    const other = kinds.indexOf(!kinds[0]);
    if (other >= 0) {
      const [g, not] = kinds[0] ? [0, other] : [other, 0];
      throw new BlasnetError(ErrorCode.STATE, `${where}: model ${g} is trained with gaussianNll (rows of means and variances) and model ${not} ` +
        `with ${this.models[not].lossSpec?.name ?? 'no loss'}; their outputs cannot be averaged`);
    }
    return kinds[0];
  }

  /** Whether every member's outputs are class scores (see predict); a mix is ERR_BLASNET_STATE. */
  private classScores(where: string): boolean {
    const kinds = this.models.map(hasClassScores);
    const other = kinds.indexOf(!kinds[0]);
    if (other >= 0) {
      const [scores, not] = kinds[0] ? [0, other] : [other, 0];
      const m = this.models[not];
      throw new BlasnetError(ErrorCode.STATE, `${where}: model ${scores} outputs class scores and model ${not} does not ` +
        `(last activation ${m.layers[m.layers.length - 1].activationName() ?? 'none'}, loss ${m.lossSpec?.name ?? 'none'}); ` +
        'probabilities cannot be averaged with other outputs');
    }
    return kinds[0];
  }

  /**
   * Scores of the averaged prediction, with y read as the members' own evaluate reads it (by model
   * 0's loss): `accuracy` for class labels (an Int32Array, or integers under a loss that takes
   * labels; classes as predictClasses picks them), `mse` for targets (a Float32Array or Matrix,
   * or numbers under a loss that takes targets; under gaussianNll, of the mean columns). A Dataset brings its own targets. Errors as
   * evaluate's: a fractional or out-of-range label is ERR_BLASNET_LABEL, class labels under a loss
   * that takes targets ERR_BLASNET_ARG_TYPE.
   */
  evaluate(data: Dataset): Record<string, number>;
  evaluate(x: Input, y: Labels): Record<string, number>;
  evaluate(x: Input | Dataset, y?: Labels): Record<string, number> {
    const where = 'Ensemble.evaluate';
    let rows: Input = x as Input;
    if (x instanceof Dataset) {
      if (x.y === null) throw rangeError(ErrorCode.SHAPE, `${where}: the Dataset has no targets; build it with Dataset.from(x, y)`);
      rows = x.x;
      y = x.y;
    }
    const t = prepareData(this.models[0], rows, y as Labels, where, false).y;
    const p = this.predict(x);
    if (t instanceof Int32Array) {
      const cls = classesOf(p, where);
      let ok = 0;
      for (let i = 0; i < p.rows; i++) if (cls[i] === t[i]) ok++;
      return { accuracy: ok / p.rows };
    }
    // Under gaussianNll a row is [means | variances] and the targets are the means' (the members'
    // mse reads it so).
    const half = this.models[0].lossSpec?.name === 'gaussianNll';
    const width = half ? p.cols / 2 : p.cols;
    if (t.length !== p.rows * width) {
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${p.rows * width} target values ([${p.rows}, ${width}]${half ? ', the means of gaussianNll outputs' : ''}) but received ${t.length}`);
    }
    let se = 0;
    for (let r = 0; r < p.rows; r++) for (let j = 0; j < width; j++) se += (p.data[r * p.cols + j] - t[r * width + j]) ** 2;
    return { mse: se / t.length };
  }

  /** Trains every member (each compiled) with fit, one after another, on (x, y) or a Dataset; their histories. */
  fit(data: Dataset, options?: FitOptions): History[];
  fit(x: Input, y: Labels, options?: FitOptions): History[];
  fit(x: Input | Dataset, y?: Labels | FitOptions, options: FitOptions = {}): History[] {
    this.#refuseUncompiled('Ensemble.fit');
    if (x instanceof Dataset) return this.models.map((m) => m.fit(x, y as FitOptions | undefined));
    return this.models.map((m) => m.fit(x, y as Labels, options));
  }

  /**
   * A member that is not compiled, refused before any member trains (fit would refuse it only
   * when its turn came, after the members before it had trained).
   */
  #refuseUncompiled(where: string): void {
    const i = this.models.findIndex((m) => !m.optimizer);
    if (i >= 0) throw new BlasnetError(ErrorCode.STATE, `${where}: member ${i} is not compiled; compile every member first (no member was trained)`);
  }

  /**
   * Trains every member with fitAsync: all at once in worker threads with `parallel`, else one
   * after another. The native kernel thread pool is one per process and parallel members divide
   * it (see fitAsync: max(1, floor(threads / members)) kernel threads while they all run), so they
   * do not oversubscribe the cores. Each member ends exactly as it would trained alone at that
   * thread count. A Dataset is shared by every member's worker without a copy; plain arrays are
   * copied to shared memory once per member.
   *
   * `callbacks` may be a function of the member's index returning that member's callbacks. In
   * parallel it must be: one array would be shared by members running at once, and callbacks
   * that keep state (earlyStopping, modelCheckpoint) would mix theirs (ERR_BLASNET_ARG_RANGE). In
   * parallel, a member that fails stops the others (each keeps what it trained, as an abort
   * leaves it) and the call rejects with that failure once every worker has ended.
   */
  async fitAsync(data: Dataset, options?: EnsembleFitAsyncOptions): Promise<History[]>;
  async fitAsync(x: Input, y: Labels, options?: EnsembleFitAsyncOptions): Promise<History[]>;
  async fitAsync(x: Input | Dataset, y?: Labels | EnsembleFitAsyncOptions, options: EnsembleFitAsyncOptions = {}): Promise<History[]> {
    const where = 'Ensemble.fitAsync';
    this.#refuseUncompiled(where);
    const ds = x instanceof Dataset;
    const given = optionsArg(where, ds ? y as EnsembleFitAsyncOptions | undefined : options);
    const { parallel = false, callbacks, ...fit } = given;
    if (typeof parallel !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for parallel but received ${typeName(parallel)}`);
    if (parallel && Array.isArray(callbacks) && callbacks.length > 0) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: with parallel, members training at once would share one callbacks array and the state of ` +
        'its callbacks (earlyStopping, modelCheckpoint); pass callbacks: (member) => [...] to give each member its own');
    }
    const own = (i: number): FitAsyncOptions['callbacks'] => {
      if (typeof callbacks !== 'function') return callbacks;
      const made = callbacks(i);
      if (!Array.isArray(made)) throw typeError(ErrorCode.ARG_TYPE, `${where}: callbacks(${i}) returned ${typeName(made)}, not an array of callbacks`);
      return made;
    };
    // `signal`, when given, replaces the caller's.
    const one = (m: Sequential, i: number, signal?: AbortSignal) => {
      const o: FitAsyncOptions = { ...fit, callbacks: own(i), ...(signal ? { signal } : {}) };
      return ds ? m.fitAsync(x, o) : m.fitAsync(x, y as Labels, o);
    };
    if (!parallel) {
      const out: History[] = [];
      for (let i = 0; i < this.models.length; i++) out.push(await one(this.models[i], i));
      return out;
    }
    // One member's failure aborts the others; the caller's signal aborts them all.
    const stop = new AbortController();
    const user = fit.signal instanceof AbortSignal ? fit.signal : undefined;
    const forward = () => stop.abort(user?.reason);
    if (user?.aborted) forward();
    else user?.addEventListener('abort', forward, { once: true });
    let failed = false, failure: unknown;
    const runs = this.models.map((m, i) => {
      let run: Promise<History>;
      try {
        // A signal that is not an AbortSignal goes on as given, for fitAsync to refuse.
        run = one(m, i, user || fit.signal === undefined ? stop.signal : undefined);
      } catch (e) {
        run = Promise.reject(e);
      }
      return run.catch((e: unknown) => {
        if (!failed) {
          failed = true;
          failure = e;
          stop.abort(e);
        }
        throw e;
      });
    });
    const settled = await Promise.allSettled(runs);
    user?.removeEventListener('abort', forward);
    if (failed) throw failure;
    return settled.map((r) => (r as PromiseFulfilledResult<History>).value);
  }

  /** Saves every member in one file (see saveModels). */
  save(file: string): void {
    saveModels(file, this.models, { ensemble: true });
  }

  /** An ensemble from a file written by save(). */
  static load(file: string, options: { backend?: Backend | BackendName } = {}): Ensemble {
    return new Ensemble(loadModels(file, optionsArg('Ensemble.load', options, { backend: true })).models);
  }
}

/** Options of snapshotEnsemble. */
export interface SnapshotOptions extends Omit<FitOptions, 'epochs' | 'schedule' | 'scheduleEvery'> {
  /** Cosine cycles, one snapshot at the end of each. */
  cycles: number;
  /** Epochs per cycle. */
  epochsPerCycle: number;
  /** The learning rate at the end of each cycle (cosineWarmRestarts' etaMin). Default 0. */
  etaMin?: number;
}

const { epochs: _e, schedule: _s, scheduleEvery: _se, ...SNAPSHOT_FIT } = FIT_OPTIONS;
const SNAPSHOT_OPTIONS: OptionKeys<SnapshotOptions> = { ...SNAPSHOT_FIT, cycles: true, epochsPerCycle: true, etaMin: true };

/**
 * A snapshot ensemble from one training run: `model` (compiled) trains for cycles *
 * epochsPerCycle epochs with cosine warm restarts stepped per batch (CosineAnnealingWarmRestarts,
 * t0 = one cycle of steps), and a copy of the model is taken at the end of every cycle. The model
 * itself ends as the last snapshot.
 */
export function snapshotEnsemble(model: Sequential, x: Input, y: Labels, options: SnapshotOptions): { ensemble: Ensemble; history: History } {
  const where = 'snapshotEnsemble';
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { cycles, epochsPerCycle, ... }`);
  checkOptionKeys(where, options, SNAPSHOT_OPTIONS);
  const { cycles, epochsPerCycle, etaMin = 0, callbacks, ...fit } = options;
  // batchSize and validationSplit are fit's, but the schedule's cycle length is worked out from them first.
  for (const [name, v] of [['cycles', cycles], ['epochsPerCycle', epochsPerCycle], ['batchSize', fit.batchSize ?? 32]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for ${name} but received ${show(v)}`);
  }
  if (!model.optimizer) throw new BlasnetError(ErrorCode.STATE, `${where}: compile the model first`);
  const snapshots: Sequential[] = [];
  const batchSize = fit.batchSize ?? 32;
  const rows = x instanceof Matrix ? x.rows : typedArrayTag(x) === 'Float32Array' ? (x as Float32Array).length / model.inputSize : (x as ArrayLike<unknown>).length;
  const trainRows = fit.validationSplit !== undefined && !fit.validationData ? rows - validationRows(where, rows, fit.validationSplit) : rows;
  // Steps per epoch as fit's batches count them: a short last batch is one, unless dropLast drops it.
  const stepsPerEpoch = fit.dropLast === true ? Math.floor(trainRows / batchSize) : Math.ceil(trainRows / batchSize);
  const stepsPerCycle = epochsPerCycle * stepsPerEpoch;
  const history = model.fit(x, y, {
    ...fit,
    epochs: cycles * epochsPerCycle,
    schedule: { name: 'cosineWarmRestarts', t0: stepsPerCycle, etaMin },
    scheduleEvery: 'step',
    callbacks: [...checkCallbacks(where, callbacks), {
      onEpochEnd(logs, ctx) {
        if ((logs.epoch + 1) % epochsPerCycle === 0) snapshots.push(decodeModel(encodeModel(ctx.model), { backend: ctx.model.backend }).model);
      },
    }],
  });
  if (snapshots.length === 0) throw new BlasnetError(ErrorCode.STATE, `${where}: training stopped before the first cycle ended (${history.stopReason})`);
  return { ensemble: new Ensemble(snapshots), history };
}
