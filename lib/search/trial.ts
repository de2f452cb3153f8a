/**
 * One trial of a search: build a model from a configuration, train it on the training rows of
 * each fold and score it on the fold's held-out rows. Runs the same on the main thread and in a
 * search worker (everything it needs is plain data plus the shared x and y), so a trial's result
 * depends only on the trial and the data, wherever it runs.
 */
import type { BackendName } from '../backend/select';
import { show } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { dense, dropout } from '../layers';
import type { DenseActivation, Layer } from '../layers';
import { Sequential } from '../model/sequential';
import type { OptimizerSpec } from '../optim';
import { Matrix } from '../tensor';
import type { Config, ParamValue } from './space';

import type { Task } from '../data/tabular';
import { seed32 } from '../rng';

/** What a build function is told besides the configuration. */
export interface BuildContext {
  readonly inputSize: number;
  /** Classes (classification) or target columns (regression). */
  readonly outputSize: number;
  readonly task: Task;
  /** The trial's seed: use it for the model's weights so trials repeat. */
  readonly seed: number;
  readonly backend: BackendName;
}

/**
 * Makes a compiled model from a configuration (see defaultBuild for the keys it reads): a new
 * model of new layers on every call, as a layer belongs to the first model built from it.
 */
export type BuildFunction = (config: Config, context: BuildContext) => Sequential;

/**
 * A build function, or a module exporting one (`name`, default 'build'), which worker threads
 * can load (a function itself cannot move to another thread).
 */
export type BuildSpec = BuildFunction | { module: string; name?: string };

/** How a trial ended: scored, threw (build or training), or its loss or score went non-finite. */
export type TrialStatus = 'ok' | 'failed' | 'diverged';

/** One trial to run: a configuration with its epochs and seed. */
export interface Trial {
  /** Position in the search's table (trials are numbered in the order the strategy makes them). */
  readonly index: number;
  /** The strategy's stage: 0 for grid and random; coarse 0 / fine 1; the halving rung. */
  readonly stage: number;
  readonly config: Config;
  readonly epochs: number;
  readonly seed: number;
}

/** A row of the results table. */
export interface TrialResult {
  readonly index: number;
  readonly stage: number;
  readonly config: Config;
  /** The metric, averaged over folds; NaN unless status is 'ok'. */
  readonly score: number;
  /** The epochs the trial was given. */
  readonly epochs: number;
  /**
   * The epochs its folds trained, on average (rounded), when budget.trialTimeMs stopped them
   * before `epochs`; the refit trains this many. Absent when every fold trained `epochs`.
   */
  readonly trainedEpochs?: number;
  /** The trial's seed (its model's weights and shuffles). */
  readonly seed: number;
  /** Wall time of the trial (all its folds). */
  readonly seconds: number;
  readonly status: TrialStatus;
  /** Why a trial failed or diverged. */
  readonly error?: string;
}

/** The metrics a search can optimise; `higher` says whether larger is better. */
export const SEARCH_METRICS = {
  /** Held-out accuracy (classification). */
  accuracy: { higher: true, task: 'classification' },
  /** Held-out loss (cross-entropy or mean squared error). */
  valLoss: { higher: false, task: null },
  /** Mean training loss of the last epoch. */
  loss: { higher: false, task: null },
  /** Held-out mean squared error (regression). */
  mse: { higher: false, task: 'regression' },
  /** Held-out mean absolute error (regression). */
  mae: { higher: false, task: 'regression' },
} as const;

/** A metric search can optimise: a key of SEARCH_METRICS. */
export type SearchMetric = keyof typeof SEARCH_METRICS;

/**
 * The data of every trial, as plain shared memory: x row-major, y labels or targets, and fold
 * ids (row r is held out in fold folds[r]; -1 trains in every fold). With holdout there is one
 * fold, 0.
 */
export interface TrialData {
  readonly x: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly y: Int32Array | Float32Array;
  readonly yCols: number;
  readonly task: Task;
  /** Classes (classification) or target columns. */
  readonly outputSize: number;
  readonly folds: Int32Array;
  readonly nFolds: number;
  /**
   * Table data: fold f's features, every row through the preprocessing fitted on fold f's
   * training rows only, fold after fold (x itself is the preprocessing fitted on all rows, for the
   * refit). Absent for numeric data, where every fold reads x.
   */
  readonly foldX?: Float32Array;
  /** With foldX: its column count per fold (a category absent from a fold's training rows makes fewer). */
  readonly foldCols?: Int32Array;
  /** Regression on a table: fold f's targets, scaled with fold f's training rows' mean and std, fold after fold. */
  readonly foldY?: Float32Array;
  /** With foldY: fold f's target std per column, so mse and mae are scored in the label's units. */
  readonly foldYStd?: Float32Array;
}

/** Everything a trial needs besides the data. */
export interface TrialEnv {
  readonly build: BuildFunction;
  readonly metric: SearchMetric;
  readonly backend: BackendName;
  /** Per-trial time limit (fit's timeLimitMs), or undefined. */
  readonly trialTimeMs?: number;
}

/** A trial's seed: a hash of the search seed and the trial index (the same on every thread). */
export function trialSeed(seed: number, index: number): number {
  let h = Math.imul(seed32(seed) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 1;
}

function num(config: Config, key: string, fallback: number): number {
  const v = config[key];
  return v === undefined ? fallback : Number(v);
}

/** The configuration keys defaultBuild and the trial read; a space for the default build names no others. */
export const DEFAULT_BUILD_KEYS: readonly string[] = ['hidden', 'width', 'depth', 'activation', 'dropout', 'optimizer', 'lr', 'weightDecay', 'batchSize', 'epochs'];

/**
 * The default model: an MLP from a configuration's keys (each optional): `hidden` (widths, an
 * array or one number; default [64]) or `width` with `depth`, `activation` (default 'relu'),
 * `dropout` after each hidden layer (default 0), `optimizer` (default 'adam'), `lr` (default
 * 1e-3), `weightDecay` (default the optimiser's own: 0, AdamW's 0.01; 0 when given as 0). The
 * trial reads `batchSize` (default 32) and `epochs` itself.
 * Classification ends in `classes` logits with cross-entropy; regression in the target columns
 * with mean squared error.
 */
export function defaultBuild(config: Config, context: BuildContext): Sequential {
  const where = 'defaultBuild';
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a configuration object`);
  if (!context || typeof context !== 'object') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { inputSize, outputSize, task, seed, backend } for context`);
  for (const k of ['inputSize', 'outputSize'] as const) {
    if (!(Number.isInteger(context[k]) && context[k] >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for context.${k} but received ${show(context[k])}`);
  }
  if (context.task !== 'classification' && context.task !== 'regression') throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected 'classification' or 'regression' for context.task`);
  for (const k of ['width', 'depth'] as const) {
    if (config[k] !== undefined && !(Number.isInteger(config[k]) && (config[k] as number) >= 1)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for config.${k} but received ${show(config[k])}`);
    }
  }
  let hidden: number[];
  if (config.width !== undefined || config.depth !== undefined) {
    hidden = new Array<number>(num(config, 'depth', 1)).fill(num(config, 'width', 64));
  } else {
    const h: ParamValue = config.hidden ?? [64];
    hidden = (Array.isArray(h) ? h : [h]).map(Number);
  }
  const act = (config.activation ?? 'relu') as DenseActivation;
  const rate = num(config, 'dropout', 0);
  const layers: Layer[] = [];
  for (const w of hidden) {
    layers.push(dense(w, { activation: act }));
    if (rate > 0) layers.push(dropout(rate));
  }
  layers.push(dense(context.outputSize));
  const model = new Sequential({ inputSize: context.inputSize, seed: context.seed, layers, backend: context.backend });
  // Given, 0 included (AdamW's own default is 0.01), or else the optimiser's own.
  const optimizer = { name: config.optimizer ?? 'adam', lr: num(config, 'lr', 1e-3),
    ...(config.weightDecay !== undefined ? { weightDecay: num(config, 'weightDecay', 0) } : {}) } as OptimizerSpec;
  const classification = context.task === 'classification';
  return model.compile({ loss: classification ? 'crossEntropy' : 'mse', optimizer, metrics: classification ? ['accuracy'] : ['mse', 'mae'] });
}

/** What fold f trains and scores on: its features (x, or its block of foldX) and targets. */
interface FoldView { x: Float32Array; cols: number; y: Int32Array | Float32Array }

function foldView(data: TrialData, f: number): FoldView {
  let x = data.x;
  let cols = data.cols;
  if (data.foldX && data.foldCols) {
    let offset = 0;
    for (let g = 0; g < f; g++) offset += data.rows * data.foldCols[g];
    cols = data.foldCols[f];
    x = data.foldX.subarray(offset, offset + data.rows * cols);
  }
  const span = data.rows * data.yCols;
  const y = data.foldY ? data.foldY.subarray(f * span, (f + 1) * span) : data.y;
  return { x, cols, y };
}

/** The rows of a fold view whose fold id satisfies `keep`, as copies. */
function gatherRows(data: TrialData, view: FoldView, keep: (fold: number) => boolean): { x: Matrix; y: Int32Array | Float32Array } {
  const { cols } = view;
  let n = 0;
  for (let r = 0; r < data.rows; r++) if (keep(data.folds[r])) n++;
  const x = new Float32Array(n * cols);
  const y = data.task === 'classification' ? new Int32Array(n) : new Float32Array(n * data.yCols);
  let o = 0;
  for (let r = 0; r < data.rows; r++) {
    if (!keep(data.folds[r])) continue;
    x.set(view.x.subarray(r * cols, (r + 1) * cols), o * cols);
    y.set(view.y.subarray(r * data.yCols, (r + 1) * data.yCols), o * data.yCols);
    o++;
  }
  return { x: new Matrix(x, n, cols), y };
}

/** Held-out mse or mae in the label's units: the fold's scaled errors times its target std. */
function unscaledError(model: Sequential, held: { x: Matrix; y: Int32Array | Float32Array }, std: Float32Array, metric: 'mse' | 'mae'): number {
  const p = model.predict(held.x).data;
  const k = std.length;
  let sum = 0;
  for (let i = 0; i < held.y.length; i++) {
    const e = (p[i] - held.y[i]) * std[i % k];
    sum += metric === 'mse' ? e * e : Math.abs(e);
  }
  return sum / held.y.length;
}

/** The row of a trial that did not run to its end where it was sent (its worker died, no answer came). */
export function failedRow(trial: Trial, error?: string): TrialResult {
  return { index: trial.index, stage: trial.stage, config: trial.config, score: NaN, epochs: trial.epochs, seed: trial.seed, seconds: 0, status: 'failed', ...(error ? { error } : {}) };
}

/** Builds, trains and scores one model on every fold; never throws (a failure is a 'failed' row). */
export function runTrial(trial: Trial, data: TrialData, env: TrialEnv): TrialResult {
  const started = performance.now();
  const trained: number[] = [];
  const row = (status: TrialStatus, score: number, error?: string): TrialResult => {
    const mean = trained.length ? Math.max(1, Math.round(trained.reduce((a, b) => a + b, 0) / trained.length)) : trial.epochs;
    return {
      index: trial.index, stage: trial.stage, config: trial.config, score, epochs: trial.epochs,
      ...(status === 'ok' && mean < trial.epochs ? { trainedEpochs: mean } : {}), seed: trial.seed,
      seconds: (performance.now() - started) / 1000, status, ...(error !== undefined ? { error } : {}),
    };
  };
  try {
    const scores: number[] = [];
    for (let f = 0; f < data.nFolds; f++) {
      const view = foldView(data, f);
      const model = env.build(trial.config, { inputSize: view.cols, outputSize: data.outputSize, task: data.task, seed: trial.seed, backend: env.backend });
      if (!(model instanceof Sequential) || !model.optimizer) {
        throw rangeError(ErrorCode.ARG_TYPE, 'search: build must return a compiled Sequential');
      }
      const train = gatherRows(data, view, (id) => id !== f);
      const held = gatherRows(data, view, (id) => id === f);
      const history = model.fit(train.x, train.y, {
        epochs: trial.epochs,
        batchSize: num(trial.config, 'batchSize', 32),
        seed: trial.seed,
        onNonFinite: 'stop',
        // The trial's time, shared equally by its folds (each fold's training is stopped at its share).
        ...(env.trialTimeMs !== undefined ? { timeLimitMs: env.trialTimeMs / data.nFolds } : {}),
      });
      if (history.diverged) return row('diverged', NaN, `training ${history.stopReason ?? 'diverged'}`);
      trained.push(history.epochs.length);
      let score: number;
      if (env.metric === 'loss') {
        score = history.epochs.length ? history.epochs[history.epochs.length - 1].loss : NaN;
      } else if (data.foldYStd && (env.metric === 'mse' || env.metric === 'mae')) {
        score = unscaledError(model, held, data.foldYStd.subarray(f * data.yCols, (f + 1) * data.yCols), env.metric);
      } else {
        const r = model.evaluate(held.x, held.y, { metrics: data.task === 'classification' ? ['accuracy'] : ['mse', 'mae'] });
        score = env.metric === 'valLoss' ? r.loss : r[env.metric];
      }
      if (!Number.isFinite(score)) return row('diverged', NaN, `${env.metric} is ${score} on fold ${f}`);
      scores.push(score);
    }
    return row('ok', scores.reduce((a, b) => a + b, 0) / scores.length);
  } catch (e) {
    return row('failed', NaN, thrownMessage(e));
  }
}

/**
 * What a build or a training threw, as a trial row or a refit error reports it: its message and
 * code, or, for a value that is no Error (a string, null, undefined), that value shown.
 */
export function thrownMessage(e: unknown): string {
  if (e instanceof Error || (e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string')) {
    const err = e as Error & { code?: unknown };
    return `${err.message}${typeof err.code === 'string' ? ` (${err.code})` : ''}`;
  }
  return `the build or training threw ${show(e)}`;
}

/**
 * A configuration (a row of the table) retrained on every row of the data, with the row's seed and
 * epochs: the search's final model, the same wherever it is trained.
 */
export function refitModel(best: Pick<TrialResult, 'config' | 'seed' | 'epochs' | 'trainedEpochs'>, data: TrialData, env: Pick<TrialEnv, 'build' | 'backend'>,
  check?: (model: Sequential) => void): Sequential {
  const model = env.build(best.config, { inputSize: data.cols, outputSize: data.outputSize, task: data.task, seed: best.seed, backend: env.backend });
  check?.(model);
  const y = data.task === 'classification' ? data.y : data.yCols > 1 ? new Matrix(data.y as Float32Array, data.rows, data.yCols) : data.y;
  // As long as the trial trained: a time limit that stopped its folds early stops the refit at
  // the epochs they reached, not at the budget's.
  const history = model.fit(new Matrix(data.x, data.rows, data.cols), y, {
    epochs: best.trainedEpochs ?? best.epochs, batchSize: num(best.config, 'batchSize', 32), seed: best.seed, onNonFinite: 'stop',
  });
  if (history.diverged) {
    throw new BlasnetError(ErrorCode.DIVERGED, `search: retraining the best configuration on all the data diverged (${history.stopReason}); ` +
      'its weights are not a model to use');
  }
  return model;
}
