/**
 * Hyperparameter search: grid, random, coarse-to-fine and successive halving over a search
 * space, each trial scored on a holdout or k-fold split, trials run on the calling thread or in
 * worker threads sharing one copy of the data; every trial in the results table, the best
 * configuration, and a model retrained with it on all the data.
 */
import * as path from 'path';
import { defaultBackend, getBackend } from '../backend/select';
import type { BackendName } from '../backend/select';
import { checkOptionKeys, optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Input, Sequential } from '../model/sequential';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { smallest } from '../math';
import { sharedArray, sharedCopy, typedArrayTag } from '../typed';
import { sequentialRunner, threadsPerWorker, workerRunner } from './runner';
import type { TrialRunner } from './runner';
import { queueRunner, resolveQueue } from './queue';
import type { QueueSpec } from './queue';
import { gridConfigs, gridSize, isSpec, narrowSpace, sampleConfig, validateSpace } from './space';
import type { Config, SearchSpace } from './space';
import { DEFAULT_BUILD_KEYS, defaultBuild, refitModel, SEARCH_METRICS, thrownMessage, trialSeed } from './trial';
import type { BuildFunction, BuildSpec, SearchMetric, Trial, TrialData, TrialResult } from './trial';
import { TabularPreprocessor, takeRows } from '../data/tabular';
import type { Table, TableInput, TabularOptions, Task } from '../data/tabular';
import { Dataset } from '../data/dataset';
import { stratifiedParts } from '../data/split';
import { holdThreads } from '../backend/threads';

/** How a search proposes trials. */
export type SearchStrategy = 'grid' | 'random' | 'coarseToFine' | 'halving';

/** Epoch budgets of the trials. */
export interface SearchBudget {
  /**
   * Epochs of a full trial (random, grid, coarse-to-fine's fine stage, halving's cap). Default
   * the configuration's `epochs`, else 10.
   */
  epochs?: number;
  /**
   * Epochs of coarse-to-fine's coarse stage (default round(epochs / 4), at least 1) and of
   * halving's first rung (default epochs / eta^(rungs - 1), at least 1).
   */
  minEpochs?: number;
  /** Halving: the fraction 1/eta of each rung survives, with eta times the epochs. Default 3. */
  eta?: number;
  /**
   * Stop each trial's training after this many milliseconds (fit's timeLimitMs), shared equally by
   * its folds; a positive finite number.
   */
  trialTimeMs?: number;
}

/** Options of search. */
export interface SearchOptions {
  /** The hyperparameters (see uniform, logUniform, integers, choice); plain values are constants. */
  space: SearchSpace;
  /**
   * Training data: x as a Matrix or rows, y as Int32Array class labels (classification: stratified
   * splits, cross-entropy) or Float32Array / Matrix targets (regression, mean squared error); or
   * a Dataset with targets and no sample weights, whose shared memory the trials and workers read
   * as it is (no copy, no second scan).
   * Or a raw table (readTable's Table or records) with its label column(s): a TabularPreprocessor
   * (options `preprocessing`, as TabularPreprocessor.fit takes them) is fitted on each fold's
   * training rows only, so no statistic of a held-out row reaches its fold's training; regression
   * targets are scaled per fold too, and mse and mae are scored in the label's units. The
   * preprocessing fitted on all rows, which the refitted model expects, is the result's
   * `preprocessor`.
   */
  data: { x: Input; y: Int32Array | Float32Array | Matrix | ArrayLike<number> } | Dataset
    | { table: TableInput; label: string | string[]; preprocessing?: Omit<TabularOptions, 'label'> };
  /**
   * Configurations to try: random and coarse-to-fine trials in all (the coarse stage takes
   * round(trials * coarseFraction)), halving's first-rung candidates. Grid runs its whole
   * product and needs trials (when given) at least that large. Default 20.
   */
  trials?: number;
  /** Default 'random'. */
  strategy?: SearchStrategy;
  /**
   * What to optimise, on the held-out rows: 'accuracy' (higher is better; classification),
   * 'valLoss', 'mse', 'mae' (regression) or 'loss' (last epoch's training loss), lower is better.
   * Default 'accuracy' for classification, 'valLoss' for regression ('mse', in the label's units,
   * with table data).
   */
  metric?: SearchMetric;
  /** k-fold cross-validation with k = folds >= 2 (stratified for classes); default a holdout split. */
  folds?: number;
  /** The holdout share of rows, in (0, 1), stratified for classes. Default 0.2. */
  validationFraction?: number;
  budget?: SearchBudget;
  /** Grid: values per numeric range. Default 3. */
  gridPoints?: number;
  /** Coarse-to-fine: the share of trials in the coarse stage, in (0, 1). Default 0.5. */
  coarseFraction?: number;
  /** Coarse-to-fine: the fine ranges' width as a fraction of the coarse ranges'. Default 0.25. */
  narrow?: number;
  /** Seeds the sampling, the splits and every trial (trial i gets a seed hashed from seed and i). Default 0. */
  seed?: number;
  /** Makes a compiled model of new layers from a configuration, on every call; default defaultBuild (an MLP). With workers, give { module }. */
  build?: BuildSpec;
  /** Worker threads running trials at once; 1 (default) runs them on this thread. */
  workers?: number;
  /**
   * Run the trials as BullMQ jobs on Redis instead (a URL like 'redis://host:6379', or { url,
   * name }): `blasnet worker --queue <url>` processes on any machines take them. The data goes
   * to Redis once (a blob keyed by its hash), each job carries a trial's configuration, epochs and
   * seed, and a worker retrains the best configuration and returns its model file through Redis.
   * Needs the optional packages bullmq and ioredis (ERR_BLASNET_DEPENDENCY without them); an
   * unreachable Redis is ERR_BLASNET_IO before any trial. With a `build` module, its path must
   * resolve on the workers too. Not with workers > 1 (the workers' own concurrency applies).
   */
  queue?: QueueSpec;
  /**
   * Kernel threads per trial (native backend). Default floor(cores / workers) with workers, the
   * caller's count without. The native kernel pool is one per process, so this is its thread
   * count while the search runs (a worker whose kernel finds the pool busy runs it on its own
   * thread); the caller's count is restored when the search ends. Native results depend on the
   * kernel thread count in the last bits, so tables are equal bit for bit between runs whose
   * trials compute at one count: sequential and parallel runs both with threads 1 (the default
   * with workers >= cores), or repeated sequential runs.
   */
  threads?: number;
  /** Default the default backend's name. */
  backend?: BackendName;
  /** Retrain the best configuration on all the data. Default true. */
  refit?: boolean;
  /** Cancels the search: workers are terminated and the promise rejects with ERR_BLASNET_ABORTED. */
  signal?: AbortSignal;
  /** A progress bar over trials on this stream (a line per trial when it is not a terminal). */
  progress?: NodeJS.WritableStream;
  /** Called with each trial's row as it finishes. */
  onTrial?: (row: TrialResult) => void;
}

/** What search resolves with. */
export interface SearchResult {
  /** Every trial, in index order. */
  readonly trials: TrialResult[];
  /** The best 'ok' row of the last stage that has one, or null when every trial failed. */
  readonly best: TrialResult | null;
  readonly bestConfig: Config | null;
  /**
   * The best configuration retrained on all the data: null without refit, without a best, or
   * when the retraining failed or diverged (refitError says why; the trials stand).
   */
  readonly model: Sequential | null;
  /** Why retraining the best configuration failed, or null. */
  readonly refitError: string | null;
  readonly metric: SearchMetric;
  readonly higherIsBetter: boolean;
  /** Table data: the preprocessing fitted on all rows, which the refitted model's inputs go through; else null. */
  readonly preprocessor: TabularPreprocessor | null;
}

const STRATEGIES: readonly SearchStrategy[] = ['grid', 'random', 'coarseToFine', 'halving'];

/** Configurations a grid may have at most (each is a trial, listed before any runs). */
const MAX_GRID = 1_000_000;

function positiveInt(where: string, name: string, v: unknown, min = 1): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer >= ${min} for ${name} but received ${show(v)}`);
  }
  return v;
}

function openFraction(where: string, name: string, v: unknown): number {
  if (!(typeof v === 'number' && v > 0 && v < 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected number in (0, 1) for ${name} but received ${show(v)}`);
  return v;
}

/**
 * Table data: the preprocessing fitted on all rows (its x and targets are the refit's data) and
 * the per-fold views, each fold's preprocessing fitted on that fold's training rows.
 */
function tableData(where: string, data: { table: TableInput; label: string | string[]; preprocessing?: Omit<TabularOptions, 'label'> }) {
  const { table, label } = data;
  if (label === undefined || (typeof label !== 'string' && !Array.isArray(label))) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected the label column name(s) for data.label`);
  const fitOptions: TabularOptions = { ...(data.preprocessing ?? {}), label };
  const whole = TabularPreprocessor.fit(table, fitOptions);
  const rowsOf = (idx: number[]): TableInput => (Array.isArray(table) ? idx.map((i) => (table as Exclude<TableInput, Table>)[i]) : takeRows(table as Table, idx));
  const x = whole.transform(table);
  const targets = whole.targets(table);
  const views = (folds: Int32Array, nFolds: number) => {
    const blocks: Float32Array[] = [];
    const cols = sharedArray('Int32Array', nFolds, { where });
    const ys: Float32Array[] = [];
    const std: number[] = [];
    for (let f = 0; f < nFolds; f++) {
      const train: number[] = [];
      for (let r = 0; r < folds.length; r++) if (folds[r] !== f) train.push(r);
      // The task and class vocabulary stay those of all rows: a fold missing a class still scores it.
      // The columns and their kinds too, so a fold cannot make a column numeric that is not.
      const prep = TabularPreprocessor.fit(rowsOf(train), { ...fitOptions, task: whole.task as Task, kindsFrom: whole });
      const xf = prep.transform(table);
      blocks.push(xf.data);
      cols[f] = xf.cols;
      if (whole.task === 'regression') {
        ys.push((prep.targets(table) as Matrix).data);
        // The divisor targets() used (1 with scaleTargets false).
        std.push(...(prep.toJSON().target as { std: number[] }).std);
      }
    }
    const concat = (parts: Float32Array[]) => {
      const out = sharedArray('Float32Array', parts.reduce((n, p) => n + p.length, 0), { where, what: 'the shared copy of the preprocessed folds' });
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    };
    return {
      foldX: concat(blocks), foldCols: cols,
      ...(ys.length ? { foldY: concat(ys), foldYStd: sharedCopy(Float32Array.from(std)) } : {}),
    };
  };
  return { prep: whole, data: { x, y: targets }, views };
}

/** x and y on shared memory, checked: finite x, one label or target row per x row. */
function sharedData(where: string, data: { x: Input; y: Int32Array | Float32Array | Matrix | ArrayLike<number> } | Dataset): { x: Float32Array; rows: number; cols: number; y: Int32Array | Float32Array; yCols: number; task: Task; outputSize: number } {
  if (!data || typeof data !== 'object') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { x, y } for data`);
  if (data instanceof Dataset) return datasetData(where, data);
  const xm = data.x instanceof Matrix ? data.x : Array.isArray(data.x) ? Matrix.from(data.x as number[][]) : null;
  if (!xm) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Matrix or an array of rows for data.x`);
  const { rows, cols } = xm;
  if (rows < 2 || cols < 1) throw rangeError(ErrorCode.SHAPE, `${where}: data.x needs at least 2 rows and 1 column but has ${rows} x ${cols}`);
  const x = sharedCopy(xm.data.subarray(0, rows * cols), { where, what: 'the shared copy of data.x' });
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw rangeError(ErrorCode.DATA, `${where}: data.x has ${x[i]} at row ${Math.floor(i / cols) + 1}, column ${(i % cols) + 1}`);
  }
  const yv = data.y;
  const tag = typedArrayTag(yv);
  if (yv instanceof Matrix || tag === 'Float32Array') {
    const src = yv instanceof Matrix ? yv.data : yv as Float32Array;
    const yCols = yv instanceof Matrix ? yv.cols : 1;
    if (src.length < rows * yCols || (!(yv instanceof Matrix) && src.length !== rows) || (yv instanceof Matrix && yv.rows !== rows)) {
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${rows} target rows for data.y`);
    }
    const y = sharedCopy(src.subarray(0, rows * yCols), { where, what: 'the shared copy of data.y' });
    if (y.some((v) => !Number.isFinite(v))) throw rangeError(ErrorCode.DATA, `${where}: data.y has a non-finite target`);
    return { x, rows, cols, y, yCols, task: 'regression', outputSize: yCols };
  }
  if (!yv || typeof (yv as ArrayLike<number>).length !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected Int32Array labels or Float32Array / Matrix targets for data.y`);
  const labels = yv as ArrayLike<number>;
  if (labels.length !== rows) throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${rows} labels for data.y but received ${labels.length}`);
  const y = sharedArray('Int32Array', rows, { where, what: 'the shared copy of data.y' });
  let classes = 0;
  for (let i = 0; i < rows; i++) {
    const c = labels[i];
    if (!(Number.isInteger(c) && c >= 0)) throw rangeError(ErrorCode.LABEL, `${where}: Expected non-negative integer labels but data.y[${i}] is ${show(c)}`);
    y[i] = c;
    classes = Math.max(classes, c + 1);
  }
  checkClasses(where, classes, y);
  return { x, rows, cols, y, yCols: 1, task: 'classification', outputSize: classes };
}

/** Classes a search's labels may index at most: each is an output of every trial's model. */
const MAX_CLASSES = 1 << 16;

/**
 * The class count the labels make (the largest label + 1), at most MAX_CLASSES, from labels of at
 * least 2 distinct classes: one class alone scores every trial perfectly and learns nothing.
 */
function checkClasses(where: string, classes: number, y: ArrayLike<number>): void {
  let distinct = false;
  for (let i = 1; i < y.length && !distinct; i++) distinct = y[i] !== y[0];
  if (classes < 2 || !distinct) {
    throw rangeError(ErrorCode.LABEL, `${where}: classification needs at least 2 classes in data.y` + (y.length > 0 && classes >= 2 ? ` (every label is ${y[0]})` : ''));
  }
  if (classes > MAX_CLASSES) {
    throw rangeError(ErrorCode.LABEL, `${where}: the labels run to ${classes - 1}, which would make ${classes} classes (an output each), more than ` +
      `the ${MAX_CLASSES} a search takes; labels are class indices 0..k-1: renumber them (readCsv's classes option does)`);
  }
}

/** A Dataset's own shared arrays (checked when it was built) as search's data. */
function datasetData(where: string, ds: Dataset): ReturnType<typeof sharedData> {
  const { rows, cols } = ds;
  if (rows < 2) throw rangeError(ErrorCode.SHAPE, `${where}: data needs at least 2 rows but has ${rows}`);
  if (ds.y === null) throw rangeError(ErrorCode.SHAPE, `${where}: the Dataset has no targets; build it with Dataset.from(x, y)`);
  if (ds.sampleWeight !== null) throw rangeError(ErrorCode.ARG_RANGE, `${where}: search does not weight rows; build the Dataset without sampleWeight`);
  if (typedArrayTag(ds.y) === 'Float32Array') return { x: ds.x.data, rows, cols, y: ds.y, yCols: ds.yCols, task: 'regression', outputSize: ds.yCols };
  const y = ds.y as Int32Array;
  let classes = 0;
  for (let i = 0; i < rows; i++) {
    if (y[i] < 0) throw rangeError(ErrorCode.LABEL, `${where}: Expected non-negative integer labels but data.y[${i}] is ${y[i]}`);
    classes = Math.max(classes, y[i] + 1);
  }
  checkClasses(where, classes, y);
  return { x: ds.x.data, rows, cols, y, yCols: 1, task: 'classification', outputSize: classes };
}

function shuffled(idx: number[], rng: Rng): number[] {
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * @internal Fold ids per row (seeded): k folds dealt class by class (so each fold holds floor or ceil of
 * each class's n_c / k), or one holdout fold of round(rows * fraction) rows, each class's share
 * the floor or ceil of n_c * fraction (as trainTestSplit's stratified split).
 */
export function assignFolds(where: string, y: Int32Array | Float32Array, rows: number, task: Task, classes: number,
  folds: number | undefined, fraction: number, rng: Rng): Int32Array {
  const out = sharedArray('Int32Array', rows, { where }).fill(-1);
  const groups: number[][] = [];
  if (task === 'classification') {
    for (let c = 0; c < classes; c++) groups.push([]);
    for (let r = 0; r < rows; r++) groups[y[r]].push(r);
  } else {
    groups.push(Array.from({ length: rows }, (_, r) => r));
  }
  const present = groups.filter((g) => g.length > 0);
  if (folds !== undefined) {
    if (folds > rows) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected folds <= ${rows} (the rows) but received ${folds}`);
    const fewest = smallest(present.map((g) => g.length));
    if (task === 'classification' && folds > fewest) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: folds ${folds} is more than the ${fewest} rows of the smallest class; every fold must hold every class`);
    }
    let offset = 0;
    for (const g of present) {
      shuffled(g, rng).forEach((r, p) => (out[r] = (offset + p) % folds));
      offset = (offset + g.length) % folds;
    }
  } else {
    // round(rows * fraction) rows in all, each class's share floor or ceil of its own (a rounding
    // per class could hold out none of many small classes, or a third of each).
    const held = Math.round(rows * fraction);
    if (held === 0 || held === rows) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: validationFraction ${fraction} holds out ${held} of ${rows} rows; both parts need rows`);
    }
    const holdout = task === 'classification'
      ? stratifiedParts(where, y.subarray(0, rows) as Int32Array, [rows - held, held], rng)[1]
      : shuffled(groups[0], rng).slice(0, held);
    for (const r of holdout) out[r] = 0;
  }
  return out;
}

/** The trials of one stage and how the next stage follows from the results. */
interface Plan {
  /** Planned number of trials (for the progress bar). */
  total: number;
  first(): Trial[];
  /** The next stage's trials from all rows so far, or null when done. */
  next(rows: readonly TrialResult[]): Trial[] | null;
}

function better(higher: boolean, a: TrialResult, b: TrialResult): boolean {
  return higher ? a.score > b.score : a.score < b.score;
}

/** The best 'ok' rows of a stage, best first (ties: the earlier trial). */
function ranked(rows: readonly TrialResult[], stage: number, higher: boolean): TrialResult[] {
  return rows.filter((r) => r.stage === stage && r.status === 'ok')
    .sort((a, b) => (better(higher, a, b) ? -1 : better(higher, b, a) ? 1 : a.index - b.index));
}

/** The best 'ok' row of the last stage that has one. */
function bestRow(rows: readonly TrialResult[], higher: boolean): TrialResult | null {
  const lastStage = rows.filter((r) => r.status === 'ok').reduce((m, r) => Math.max(m, r.stage), -1);
  return lastStage >= 0 ? ranked(rows, lastStage, higher)[0] : null;
}

const SEARCH_OPTIONS: OptionKeys<SearchOptions> = {
  space: true, data: true, trials: true, strategy: true, metric: true, folds: true, validationFraction: true, budget: true, gridPoints: true,
  coarseFraction: true, narrow: true, seed: true, build: true, workers: true, queue: true, threads: true, backend: true, refit: true,
  signal: true, progress: true, onTrial: true,
};

/** search: tries configurations from `space` and returns every trial's row, the best, and a refitted model. */
export async function search(options: SearchOptions): Promise<SearchResult> {
  const where = 'search';
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { space, data, ... }`);
  checkOptionKeys(where, options, SEARCH_OPTIONS);
  const space = validateSpace(where, options.space);
  const strategy = options.strategy ?? 'random';
  if (!STRATEGIES.includes(strategy)) throw rangeError(ErrorCode.UNKNOWN_NAME, `${where}: Expected strategy ${STRATEGIES.join(', ')} but received ${show(strategy)}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer for seed but received ${show(seed)}`);
  const gridPoints = positiveInt(where, 'gridPoints', options.gridPoints ?? 3, 2);
  // Checked before any list of values is made: a grid lists gridPoints values per range.
  if (gridPoints > MAX_GRID) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected gridPoints <= ${MAX_GRID} but received ${gridPoints}`);
  if (options.trials !== undefined && typeof options.trials === 'number' && options.trials > MAX_GRID) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected trials <= ${MAX_GRID} (the configurations a search lists) but received ${options.trials}`);
  }
  if (strategy === 'grid' && gridSize(space, gridPoints) > MAX_GRID) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the grid has ${gridSize(space, gridPoints)} configurations, more than the ${MAX_GRID} a search ` +
      'lists; give fewer grid points or fewer ranges, or use strategy \'random\'');
  }
  const trials = strategy === 'grid' && options.trials === undefined ? gridSize(space, gridPoints) : positiveInt(where, 'trials', options.trials ?? 20);
  if (strategy === 'grid' && gridSize(space, gridPoints) > trials) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the grid has ${gridSize(space, gridPoints)} configurations but trials is ${trials}`);
  }
  if (strategy === 'coarseToFine' && trials < 2) throw rangeError(ErrorCode.ARG_RANGE, `${where}: coarseToFine needs trials >= 2 (a coarse and a fine stage) but received ${trials}`);
  if ((strategy === 'coarseToFine' || strategy === 'halving') && 'epochs' in space) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: ${strategy} sets the epochs of its trials; take epochs out of the space and use budget.epochs`);
  }
  const budget = optionsArg(where, options.budget, { epochs: true, minEpochs: true, eta: true, trialTimeMs: true }, 'budget');
  const eta = budget.eta ?? 3;
  if (!(typeof eta === 'number' && eta > 1 && Number.isFinite(eta))) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected number > 1 for budget.eta but received ${show(eta)}`);
  const constantEpochs = typeof space.epochs === 'number' ? space.epochs : undefined;
  const maxEpochs = positiveInt(where, 'budget.epochs', budget.epochs ?? constantEpochs ?? 10);
  if (budget.minEpochs !== undefined) positiveInt(where, 'budget.minEpochs', budget.minEpochs);
  if (budget.minEpochs !== undefined && budget.minEpochs > maxEpochs) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: budget.minEpochs ${budget.minEpochs} > budget.epochs ${maxEpochs}`);
  }
  if (budget.trialTimeMs !== undefined && !(typeof budget.trialTimeMs === 'number' && budget.trialTimeMs > 0 && Number.isFinite(budget.trialTimeMs))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive finite number for budget.trialTimeMs but received ${show(budget.trialTimeMs)}`);
  }
  const coarseFraction = openFraction(where, 'coarseFraction', options.coarseFraction ?? 0.5);
  const narrow = openFraction(where, 'narrow', options.narrow ?? 0.25);
  if (options.folds !== undefined) positiveInt(where, 'folds', options.folds, 2);
  if (options.folds !== undefined && options.validationFraction !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${where}: give folds or validationFraction, not both`);
  const fraction = openFraction(where, 'validationFraction', options.validationFraction ?? 0.2);
  const workers = positiveInt(where, 'workers', options.workers ?? 1);
  const threads = options.threads === undefined ? threadsPerWorker(workers) : positiveInt(where, 'threads', options.threads);
  const backend: BackendName = options.backend ?? defaultBackend().name as BackendName;
  if (backend !== 'js' && backend !== 'native') throw rangeError(ErrorCode.UNKNOWN_NAME, `${where}: Expected backend 'js' or 'native' but received ${show(backend)}`);
  const { signal, onTrial, progress } = options;
  if (progress !== undefined && (progress === null || typeof progress !== 'object' || typeof progress.write !== 'function')) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a writable stream for progress but received ${typeName(progress)}`);
  }
  if (options.refit !== undefined && typeof options.refit !== 'boolean') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for refit but received ${typeName(options.refit)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an AbortSignal for signal`);
  if (onTrial !== undefined && typeof onTrial !== 'function') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a function for onTrial`);
  if (options.queue !== undefined) {
    resolveQueue(where, options.queue);
    if (options.workers !== undefined && options.workers !== 1) throw rangeError(ErrorCode.ARG_RANGE, `${where}: give queue or workers, not both (a queue's workers set their own concurrency)`);
  }
  const remote = workers > 1 || options.queue !== undefined;
  const buildSpec = options.build ?? defaultBuild;
  if (buildSpec === defaultBuild) {
    // The default build reads its own keys only: another name would vary nothing the trials train.
    const unread = Object.keys(space).filter((k) => !DEFAULT_BUILD_KEYS.includes(k));
    if (unread.length > 0) {
      const plain = (k: string) => k.toLowerCase().replace(/[-_ ]/g, '');
      const near = (k: string) => (plain(k) === 'learningrate' ? 'lr' : DEFAULT_BUILD_KEYS.find((d) => editDistance(plain(d), plain(k)) <= Math.max(1, Math.floor(k.length / 3))));
      const hints = unread.map((k) => (near(k) ? `${JSON.stringify(k)} (did you mean ${JSON.stringify(near(k))}?)` : JSON.stringify(k)));
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: the space names ${hints.join(', ')}, which the default build does not read, so no trial would differ by ${unread.length === 1 ? 'it' : 'them'}; ` +
        `it reads ${DEFAULT_BUILD_KEYS.join(', ')}. Give a build of your own to search other names`);
    }
  }
  let build: BuildFunction;
  let buildModule: { module: string; name: string } | null = null;
  if (typeof buildSpec === 'function') {
    if (remote && buildSpec !== defaultBuild) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: build is a function and cannot move to worker threads or a queue's workers; give { module, name } with workers > 1 or queue`);
    }
    build = buildSpec;
  } else if (buildSpec && typeof buildSpec === 'object' && typeof buildSpec.module === 'string') {
    checkOptionKeys(where, buildSpec, { module: true, name: true }, 'build');
    if (buildSpec.name !== undefined && typeof buildSpec.name !== 'string') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a string for build.name but received ${typeName(buildSpec.name)}`);
    }
    // A relative path is relative to the working directory, as on a command line.
    const spec = buildSpec.module.startsWith('.') ? path.resolve(buildSpec.module) : buildSpec.module;
    let f: unknown;
    try {
      buildModule = { module: require.resolve(spec), name: buildSpec.name ?? 'build' };
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      f = (require(buildModule.module) as Record<string, unknown>)[buildModule.name];
    } catch (e) {
      throw new BlasnetError(ErrorCode.IO, `${where}: cannot load the build module ${buildSpec.module}: ${(e as Error).message}`, { cause: e });
    }
    if (typeof f !== 'function') throw typeError(ErrorCode.ARG_TYPE, `${where}: ${buildSpec.module} exports no function ${buildModule.name}`);
    build = f as BuildFunction;
  } else {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a function or { module, name } for build`);
  }

  if (!options.data || typeof options.data !== 'object') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { x, y } or { table, label } for data`);
  if (!(options.data instanceof Dataset)) {
    checkOptionKeys(where, options.data, 'table' in options.data ? { table: true, label: true, preprocessing: true } : { x: true, y: true }, 'data');
  }
  const fromTable = 'table' in options.data ? tableData(where, options.data) : null;
  const d = sharedData(where, fromTable ? fromTable.data : options.data as { x: Input; y: Int32Array | Float32Array | Matrix } | Dataset);
  const metric = options.metric ?? (d.task === 'classification' ? 'accuracy' : fromTable ? 'mse' : 'valLoss');
  const def = typeof metric === 'string' && Object.prototype.hasOwnProperty.call(SEARCH_METRICS, metric)
    ? (SEARCH_METRICS as Record<string, { higher: boolean; task: Task | null }>)[metric] : undefined;
  if (!def) {
    throw rangeError(ErrorCode.UNKNOWN_NAME, `${where}: Expected metric ${Object.keys(SEARCH_METRICS).join(', ')} but received ${show(metric)}`);
  }
  if (def.task && def.task !== d.task) throw rangeError(ErrorCode.ARG_RANGE, `${where}: metric ${metric} is for ${def.task} but data.y makes this ${d.task}`);
  const higher = def.higher;
  // Separate streams: the configurations drawn do not depend on how the rows are split.
  const folds = assignFolds(where, d.y, d.rows, d.task, d.outputSize, options.folds, fraction, new Rng(seed));
  const rng = new Rng(trialSeed(seed, -1));
  const nFolds = options.folds ?? 1;
  const data: TrialData = { ...d, folds, nFolds, ...(fromTable ? fromTable.views(folds, nFolds) : {}) };

  // Trials are numbered and seeded in the order the strategy makes them, on this thread only.
  let nextIndex = 0;
  const trial = (stage: number, config: Config, epochs: number, s?: number): Trial => {
    const index = nextIndex++;
    return { index, stage, config, epochs, seed: s ?? trialSeed(seed, index) };
  };
  const epochsOf = (c: Config) => (typeof c.epochs === 'number' ? positiveInt(where, 'epochs (in the space)', c.epochs) : maxEpochs);
  let plan: Plan;
  if (strategy === 'grid' || strategy === 'random') {
    const configs = strategy === 'grid' ? gridConfigs(space, gridPoints) : Array.from({ length: trials }, () => sampleConfig(space, rng));
    if (isSpec(space.epochs)) configs.forEach(epochsOf);
    plan = { total: configs.length, first: () => configs.map((c) => trial(0, c, epochsOf(c))), next: () => null };
  } else if (strategy === 'coarseToFine') {
    const coarse = Math.min(trials - 1, Math.max(1, Math.round(trials * coarseFraction)));
    const coarseEpochs = budget.minEpochs ?? Math.max(1, Math.round(maxEpochs / 4));
    plan = {
      total: trials,
      first: () => Array.from({ length: coarse }, () => trial(0, sampleConfig(space, rng), coarseEpochs)),
      next: (rows) => {
        if (rows.some((r) => r.stage === 1)) return null;
        const best = ranked(rows, 0, higher)[0];
        // With no usable coarse trial the fine stage searches the whole space.
        const fine = best ? narrowSpace(space, best.config, narrow) : space;
        return Array.from({ length: trials - coarse }, () => trial(1, sampleConfig(fine, rng), maxEpochs));
      },
    };
  } else {
    const rungs = Math.max(1, Math.floor(Math.log(trials) / Math.log(eta) + 1e-9) + 1);
    const minEpochs = budget.minEpochs ?? Math.max(1, Math.floor(maxEpochs / eta ** (rungs - 1)));
    const epochsAt = (rung: number) => Math.min(maxEpochs, Math.round(minEpochs * eta ** rung));
    let total = 0;
    for (let n = trials, r = 0; ; r++) {
      total += n;
      if (n <= 1 || epochsAt(r) >= maxEpochs) break;
      n = Math.ceil(n / eta);
    }
    plan = {
      total,
      first: () => Array.from({ length: trials }, () => trial(0, sampleConfig(space, rng), epochsAt(0))),
      next: (rows) => {
        const rung = rows.reduce((m, r) => Math.max(m, r.stage), 0);
        const here = rows.filter((r) => r.stage === rung);
        if (here.length <= 1 || epochsAt(rung) >= maxEpochs) return null;
        const keep = ranked(rows, rung, higher).slice(0, Math.ceil(here.length / eta));
        if (keep.length === 0) return null;
        // A survivor keeps its seed: the same model, trained longer.
        return keep.map((r) => trial(rung + 1, r.config, epochsAt(rung + 1), r.seed));
      },
    };
  }

  if (signal?.aborted) throw abortError(signal);
  // The native kernel pool is one per process, shared by the workers: its thread count is the
  // per-worker share while they run, and the caller's again afterwards.
  const native = (workers > 1 || options.threads !== undefined) && backend === 'native' ? getBackend('native') : null;
  const releaseThreads = native ? holdThreads(native, { fixed: threads }) : () => undefined;
  const timeLimit = budget.trialTimeMs !== undefined ? { trialTimeMs: budget.trialTimeMs } : {};
  let runner: TrialRunner;
  try {
    runner = options.queue !== undefined
      ? await queueRunner(data, options.queue, { backend, build: buildModule, metric, ...timeLimit, ...(progress ? { note: (line: string) => progress.write(`${line}\n`) } : {}) })
      : workers > 1
        ? workerRunner(data, { workers, threads, backend, build: buildModule, metric, ...timeLimit })
        : sequentialRunner(data, { build, metric, backend, ...timeLimit });
  } catch (e) {
    releaseThreads();
    throw e;
  }
  // An abort while the runner was made (a queue's connection): no trial is sent.
  if (signal?.aborted) {
    await runner.close();
    releaseThreads();
    throw abortError(signal);
  }
  const bar = progressOver(plan.total, metric, progress);
  const rows: TrialResult[] = [];
  let best: TrialResult | null = null;
  let model: Sequential | null = null;
  let refitError: string | null = null;
  let aborted: (() => void) | null = null;
  const abortPromise = new Promise<never>((_, reject) => {
    aborted = () => reject(abortError(signal as AbortSignal));
  });
  abortPromise.catch(() => undefined);
  const onAbort = () => aborted?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (let stage: Trial[] | null = plan.first(); stage && stage.length > 0; stage = plan.next(rows)) {
      const results = await Promise.race([abortPromise, Promise.all(stage.map(async (t) => {
        const r = await runner.run(t);
        if (!signal?.aborted) {
          bar.tick(r);
          onTrial?.(r);
        }
        return r;
      }))]);
      rows.push(...results);
    }
    best = bestRow(rows, higher);
    // Worker threads or a queue's workers retrain the best configuration too (the model comes
    // back as a model file), so that the calling thread's event loop runs on meanwhile.
    if (best && options.refit !== false && runner.refit) {
      try {
        model = await Promise.race([abortPromise, runner.refit(best)]);
      } catch (e) {
        if (signal?.aborted) throw e;
        refitError = thrownMessage(e);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    bar.stop();
    await runner.close();
    releaseThreads();
  }
  if (best && options.refit !== false && !model && refitError === null) {
    if (signal?.aborted) throw abortError(signal);
    try {
      model = refitModel(best, data, { build, backend });
    } catch (e) {
      refitError = thrownMessage(e);
    }
  }
  return {
    trials: rows, best, bestConfig: best ? best.config : null, model, refitError, metric, higherIsBetter: higher,
    preprocessor: fromTable ? fromTable.prep : null,
  };
}


function abortError(signal: AbortSignal): Error {
  const err = new BlasnetError(ErrorCode.ABORTED, 'search: aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** A bar over trials on a terminal, a line per trial elsewhere, nothing without a stream. */
function progressOver(total: number, metric: string, stream: NodeJS.WritableStream | undefined): { tick(r: TrialResult): void; stop(): void } {
  if (!stream) return { tick() { /* silent */ }, stop() { /* silent */ } };
  let done = 0;
  const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : '-');
  if ((stream as NodeJS.WriteStream).isTTY) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const cliProgress = require('cli-progress') as typeof import('cli-progress');
    const bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WriteStream,
      format: `trials [{bar}] {value}/{total} | last ${metric} {last} | {failed} failed | ETA {eta_formatted}`,
      barsize: 24, hideCursor: true, clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    let failed = 0;
    bar.start(total, 0, { last: '-', failed: 0 });
    return {
      tick(r) {
        done++;
        if (r.status !== 'ok') failed++;
        bar.setTotal(Math.max(total, done));
        bar.update(done, { last: fmt(r.score), failed });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const width = String(total).length;
  return {
    tick(r) {
      done++;
      stream.write(`trial ${String(done).padStart(width)}/${total}  #${r.index} stage ${r.stage}  ${r.status}  ${metric} ${fmt(r.score)}  ` +
        `${r.epochs} epochs  ${r.seconds.toFixed(2)}s\n`);
    },
    stop() { /* lines are complete */ },
  };
}

/** @internal Checks that `v` looks like a search result: an object with an array of trial rows. */
export function checkResult(where: string, v: unknown): void {
  const trials = v && typeof v === 'object' ? (v as { trials?: unknown }).trials : undefined;
  if (!Array.isArray(trials) || trials.some((r) => !r || typeof r !== 'object' || !(r as TrialResult).config || typeof (r as TrialResult).config !== 'object')) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a search result ({ trials: rows with a config, ... })`);
  }
}

/** The results table as CSV text: index, stage, one column per hyperparameter, score, epochs, seconds, status, error. */
export function searchTableCsv(result: Pick<SearchResult, 'trials'>): string {
  checkResult('searchTableCsv', result);
  const names: string[] = [];
  for (const r of result.trials) for (const k of Object.keys(r.config)) if (!names.includes(k)) names.push(k);
  const cell = (v: unknown): string => {
    if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
    const s = Array.isArray(v) ? v.join('-') : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [['index', 'stage', ...names, 'score', 'epochs', 'trainedEpochs', 'seconds', 'status', 'error'].join(',')];
  for (const r of result.trials) {
    lines.push([r.index, r.stage, ...names.map((k) => r.config[k]), r.score, r.epochs, r.trainedEpochs, typeof r.seconds === 'number' ? r.seconds.toFixed(3) : r.seconds, r.status, r.error].map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Levenshtein distance between two short names (a misspelt hyperparameter's). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
