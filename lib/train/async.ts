/**
 * fitAsync: the same training loop as fit, run in a worker thread so the event loop stays free.
 * The worker trains the caller's own parameter memory (SharedArrayBuffer arenas), so the model
 * is trained in place; progress reaches the main thread as callbacks and events; an AbortSignal
 * stops training between batches. While it runs, calls that would race with it fail with
 * ERR_BLASNET_BUSY.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Backend } from '../backend/types';
import type { Sequential } from '../model/sequential';
import type { OptimizerState } from '../optim';
import { followSchedule } from '../optim';
import { asLibraryWrite } from '../optim/optimizers';
import { firstCustomLayer } from '../layers';
import { holdThreads } from '../backend/threads';
import { createSchedule, madeAgain } from '../schedules';
import type { Schedule, ScheduleState } from '../schedules';
import { Matrix } from '../tensor';
import { isDetached, sharedArray, sharedCopy, typedLength } from '../typed';
import { checkFinite } from '../data/check';
import type { BatchLogs, Callback, EpochLogs, TrainContext } from './callbacks';
import { callbackStates, minDeltaBests, releaseOnFailure, restoreCallbackStates } from './callbacks';
import {
  adoptColumns, checkFitOptions, checkResumedWeights, checkScheduleSteps, fitSettings, heldOutRows, prepareData, prepareDataset, resumeBuffers, resumedMinDeltaBest, resumedView, resumeParts, resumePoint, rowWeights,
  scheduleBase, Snapshot, undoColumns,
} from './fit';
import type { Compiled, FitOptions, History, Labels } from './fit';
import type { Input } from '../data/input';
import { Dataset } from '../data/dataset';
import { createMetric } from './metrics';
import { CONTROL, controlValues, newControl, SET, VALUE } from './protocol';
import type { WorkerInput, WorkerMessage } from './protocol';

/** Options of `fitAsync`: fit's, plus cancellation and progress. */
export interface FitAsyncOptions extends Omit<FitOptions, 'dataParallel'> {
  /** Stops training between batches; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called on the main thread after every batch and epoch. */
  onProgress?: (event: { type: 'batch'; logs: BatchLogs } | { type: 'epoch'; logs: EpochLogs }) => void;
}

const WORKER = path.join(__dirname, 'worker.js');

/**
 * Training workers between calls. Starting one (a V8 isolate that loads the library and the
 * addon) costs about 0.1 s, a tenth of a Fashion-MNIST epoch: a finished worker waits here for the
 * next fitAsync instead, unreferenced (it never keeps the process alive) and ended after
 * IDLE_MS unused. At most one per core is kept.
 */
const idleWorkers: Worker[] = [];
const IDLE_MS = 60_000;
const idleTimers = new Map<Worker, NodeJS.Timeout>();
/** Workers that have exited: one taken before its job was ready may have died meanwhile. */
const exitedWorkers = new WeakSet<Worker>();

function takeWorker(): Worker {
  const kept = idleWorkers.pop();
  if (kept) {
    clearTimeout(idleTimers.get(kept));
    idleTimers.delete(kept);
    kept.ref();
    return kept;
  }
  let worker: Worker;
  try {
    worker = new Worker(WORKER);
  } catch (e) {
    throw new BlasnetError(ErrorCode.INTERNAL, `fitAsync: cannot start a training worker: ${(e as Error).message}`, { cause: e });
  }
  // A worker that fails while no job listens (starting, while the data is scanned) must not throw
  // its 'error' event in this process; its exit marks it, and a job then takes another.
  worker.on('error', () => undefined);
  worker.once('exit', () => {
    exitedWorkers.add(worker);
    const i = idleWorkers.indexOf(worker);
    if (i >= 0) idleWorkers.splice(i, 1);
    clearTimeout(idleTimers.get(worker));
    idleTimers.delete(worker);
  });
  return worker;
}

function keepWorker(worker: Worker): void {
  if (exitedWorkers.has(worker)) return;
  if (idleWorkers.length >= (os.availableParallelism?.() ?? os.cpus().length)) {
    void worker.terminate();
    return;
  }
  worker.unref();
  idleWorkers.push(worker);
  const timer = setTimeout(() => void worker.terminate(), IDLE_MS);
  timer.unref();
  idleTimers.set(worker, timer);
}

/** A copy on shared memory (no copy if it is already there); `name` names it if it cannot be allocated. */
function shared<T extends Float32Array | Int32Array>(a: T, name: string): T {
  return a.buffer instanceof SharedArrayBuffer ? a : sharedCopy(a, { where: 'fitAsync', what: `the shared copy of ${name}` });
}

/**
 * Values copied and scanned per piece, and the longest the main thread works before it serves
 * the event loop. A piece of fresh shared memory costs its page faults on first touch (about
 * 14 ms per 4 MB measured here), so pieces are 1 MB and the loop yields every few ms.
 */
const CHUNK = 1 << 18;
const SLICE_MS = 3;

/**
 * x on shared memory, checked for NaN and infinities, a chunk at a time with the event loop
 * served in between: a large training set is copied and scanned without blocking it. The caller
 * may detach or shrink x's buffer meanwhile: each chunk checks first, and such an x is
 * ERR_BLASNET_DETACHED or ERR_BLASNET_ARG_LENGTH naming it (`name`).
 */
type SharedRows = { data: Float32Array; rows: number; cols: number };

async function sharedChecked(backend: Backend, m: Matrix, where: string, name: string): Promise<SharedRows> {
  const n = m.rows * m.cols;
  // Validation rows are read after an await: their buffer may be gone already.
  if (isDetached(m.data)) throw typeError(ErrorCode.DETACHED, `${where}: ${name}'s buffer was detached before it was copied to shared memory; leave ${name} unchanged until fitAsync settles`);
  if (typedLength(m.data) < n) {
    throw rangeError(ErrorCode.ARG_LENGTH, `${where}: ${name} holds ${typedLength(m.data)} values now, fewer than the ${n} it held (rows * cols); leave ${name} unchanged until fitAsync settles`);
  }
  const src = m.data.subarray(0, n);
  const onShared = src.buffer instanceof SharedArrayBuffer;
  const out = onShared ? src : sharedArray('Float32Array', n, { where, what: `the shared copy of ${name}` });
  let sliceStart = performance.now();
  const unchanged = ` while it was being copied to shared memory; leave ${name} unchanged until fitAsync settles`;
  for (let off = 0; off < n; off += CHUNK) {
    if (isDetached(src)) throw typeError(ErrorCode.DETACHED, `${where}: ${name}'s buffer was detached${unchanged}`);
    if (typedLength(src) < n) {
      throw rangeError(ErrorCode.ARG_LENGTH, `${where}: ${name} holds ${typedLength(m.data)} values now, fewer than the ${n} it held (rows * cols),${unchanged}`);
    }
    const end = Math.min(n, off + CHUNK);
    const part = src.subarray(off, end);
    checkFinite(backend, where, name, part, end - off, off, m.cols);
    if (!onShared) out.set(part, off);
    if (end < n && performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      sliceStart = performance.now();
    }
  }
  return { data: out, rows: m.rows, cols: m.cols };
}

/**
 * What a job that postMessage refused rejects with. A DataCloneError means an option holds what a
 * structured clone cannot copy (a function, an object with native state): an argument error,
 * naming the option. Anything else is the library's own failure.
 */
function sendError(e: unknown, fit: WorkerInput['fit']): Error {
  if (e instanceof Error && e.name === 'DataCloneError') {
    for (const [key, value] of Object.entries(fit)) {
      try {
        structuredClone(value);
      } catch {
        // The clone's own message quotes the value, a whole function's source for a JS one.
        return Object.assign(rangeError(ErrorCode.ARG_RANGE,
          `fitAsync: the ${key} option holds a value that cannot be sent to the training worker (a function, or an object with native state)`), { cause: e });
      }
    }
  }
  return new BlasnetError(ErrorCode.INTERNAL, `fitAsync: cannot send the job to the training worker: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

function rebuildError(m: { name: string; code: string | undefined; message: string }): Error {
  // The worker trains with fit: its messages name the call the user made.
  const message = m.message.replace(/^fit([: ])/, 'fitAsync$1');
  const err = m.name === 'TypeError' ? new TypeError(message) : m.name === 'RangeError' ? new RangeError(message) : new Error(message);
  if (m.code) Object.assign(err, { code: m.code });
  if (m.name !== 'TypeError' && m.name !== 'RangeError' && m.name !== 'Error') err.name = m.name;
  return err;
}

/** What an aborted fitAsync rejects with: an AbortError with a code, the signal's reason as its cause. */
function abortError(signal: AbortSignal): Error {
  const err = new BlasnetError(ErrorCode.ABORTED, 'fitAsync: aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** Whether any callback has this hook. */
function hasHook(callbacks: readonly Callback[], hook: keyof Callback): boolean {
  return callbacks.some((c) => typeof c[hook] === 'function');
}

/** Runs one hook of every callback in order, awaiting those that return a Promise. */
async function runHook<K extends Exclude<keyof Callback, 'rootOnly' | 'restoresWeights' | 'savesCheckpoints' | 'checkpointState' | 'restoreState'>>(callbacks: readonly Callback[], hook: K, ...args: Parameters<NonNullable<Callback[K]>>): Promise<void> {
  for (const c of callbacks) {
    const f = c[hook] as ((...a: unknown[]) => unknown) | undefined;
    if (f) await f.apply(c, args);
  }
}

/**
 * The native kernel pool is one per process, so concurrent fitAsync workers share it: while n of
 * them run, the pool has max(1, floor(t / n)) threads, t being the count set when the first one
 * started (restored when the last one ends; a search over worker threads running meanwhile takes
 * part in the same record, lib/backend/threads.ts). A worker whose kernel finds the pool busy
 * runs it on its own thread, so at most n + max(1, floor(t / n)) - 1 threads compute: t with
 * n = 1, n once n >= t. A count of 1 thread per model then is as good as it gets on t cores
 * without models waiting for each other.
 */
function shareThreads(backend: Backend): () => void {
  if (backend.name !== 'native') return () => undefined;
  return holdThreads(backend, { share: true });
}

/** A checked prepared set whose arrays are already shared: no copy and no scan. */
function asShared(x: Matrix): SharedRows {
  return { data: x.data, rows: x.rows, cols: x.cols };
}

/**
 * Trains `model` (compiled) in a worker thread; resolves with the History. Options, shapes,
 * labels and (while x moves to shared memory) NaN are checked before the worker is given the
 * job; a new worker starts meanwhile. A Dataset goes to the worker as it is: its shared memory,
 * no copy, no second scan.
 *
 * Input columns taken from records or a Dataset (by a model that had none) stay only if the
 * worker is given the job: a call that throws or rejects before then leaves the model's columns
 * as they were. Once the worker trains, a rejection (an abort, onNonFinite 'throw') keeps them,
 * as it keeps the weights trained so far.
 */
export function fitModelAsync(model: Sequential, compiled: Compiled, x: Input | Dataset, y: Labels | undefined, options: FitAsyncOptions,
  setBusy: (state: 'running' | 'paused' | null) => void): Promise<History> {
  const columns = model.inputColumns;
  const run = { trained: false };
  let training: Promise<History>;
  try {
    training = fitAsyncChecked(model, compiled, x, y, options, setBusy, run);
  } catch (e) {
    undoColumns(model, columns);
    throw e;
  }
  // setInputColumns refuses a busy model; a rejection before the worker's job comes after setBusy(null).
  return training.catch((e: unknown) => {
    if (!run.trained) undoColumns(model, columns);
    throw e;
  });
}

function fitAsyncChecked(model: Sequential, compiled: Compiled, x: Input | Dataset, y: Labels | undefined, options: FitAsyncOptions,
  setBusy: (state: 'running' | 'paused' | null) => void, run: { trained: boolean }): Promise<History> {
  const where = 'fitAsync';
  checkFitOptions(where, options);
  const { signal, onProgress, validationData, sampleWeight, classWeight, ...rest } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError(ErrorCode.ARG_TYPE, 'fitAsync: Expected an AbortSignal for signal');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw typeError(ErrorCode.ARG_TYPE, 'fitAsync: Expected a function for onProgress');
  const settings = fitSettings(where, { ...rest, ...(validationData ? { validationData } : {}) });
  if (rest.augment) throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: augment is a function and cannot move to the training worker; use fit');
  if ((rest as FitOptions).dataParallel) throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: distributed training runs on the training thread; use fitDistributed');
  const loss = model.lossSpec;
  if (!loss || loss.custom) throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: needs a built-in loss (a custom loss cannot move to the worker)');
  const custom = firstCustomLayer(model.layers);
  if (custom >= 0) {
    const l = model.layers[custom];
    throw rangeError(ErrorCode.ARG_RANGE, `fitAsync: layer ${custom} (${JSON.stringify(l.name ?? l.kind)}, kind ${JSON.stringify(l.kind)}) is a layer of your own, which cannot move to the training worker (it is rebuilt there from its config); use fit`);
  }
  if (compiled.metrics.some((m) => typeof m === 'object' && m !== null && typeof (m as { update?: unknown }).update === 'function')) {
    throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: custom metric objects cannot move to the worker; use built-in metrics');
  }
  compiled.metrics.forEach(createMetric);
  // The worker's fit makes the schedule (from the lr scheduleBase picks) and checks it again.
  const schedule = rest.schedule ? createSchedule(rest.schedule, scheduleBase(rest.schedule, rest.resume, compiled.optimizer)) : null;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  let train: { x: Matrix; y: Int32Array | Float32Array; w?: Float32Array | null };
  // Whether train.x is a Dataset's own checked shared memory.
  let trainShared = false;
  let weights: Float32Array | null;
  if (x instanceof Dataset) {
    const p = prepareDataset(model, x, { sampleWeight, classWeight, validationSplit: rest.validationSplit, validationData }, where);
    train = p;
    trainShared = p.checked;
    // The Dataset's own weights travel as they are unless class weights change them.
    weights = classWeight === undefined ? x.sampleWeight : p.w ?? null;
  } else {
    adoptColumns(model, x, y as Labels, sampleWeight, where);
    train = prepareData(model, x, y as Labels, where, false);
    // The worker gets the combined factor of every row, checked here.
    weights = rowWeights(model, x, train, { sampleWeight, classWeight, validationSplit: rest.validationSplit, validationData }, where);
  }
  // ema and swa go as checked, and resume as the parts fit reads (a loadModel() result holds the
  // model too): plain data, whatever objects held them.
  const fit: Omit<FitOptions, 'validationData'> = {
    ...rest, ...(settings.ema ? { ema: settings.ema } : {}), ...(settings.swa ? { swa: settings.swa } : {}),
    ...(rest.resume ? { resume: resumeParts(rest.resume) } : {}), ...(weights ? { sampleWeight: shared(weights, 'sampleWeight') } : {}),
  };
  let valShared = false;
  let val: { x: Matrix; y: Int32Array | Float32Array; w?: Float32Array | null } | null = null;
  if (validationData instanceof Dataset) {
    const p = prepareDataset(model, validationData, {}, 'fitAsync (validationData)');
    // The Dataset's weights (checked when it was built) go as they are, on its shared memory.
    val = { x: p.x, y: p.y, w: validationData.sampleWeight };
    valShared = p.checked;
  } else if (validationData) val = prepareData(model, validationData.x, validationData.y, 'fitAsync (validationData)', false);
  const nVal = heldOutRows(where, train.x.rows, { validationSplit: fit.validationSplit, validationData });
  const rows = train.x.rows - nVal;
  const stepsPerEpoch = settings.dropLast ? Math.floor(rows / settings.batchSize) : Math.ceil(rows / settings.batchSize);
  // A checkpoint that cannot resume, or a run that would step the schedule past its end, is
  // refused here, before the worker starts.
  const firstEpoch = rest.resume ? resumePoint(rest.resume, schedule, settings.epochs, 'fitAsync (resume)') : 0;
  checkResumedWeights('fitAsync (resume)', model, rest.resume);
  if (schedule) checkScheduleSteps(where, schedule, { ...settings, firstEpoch, stepsPerEpoch });
  // Callbacks (with verbose's progress bar) run on this thread, not in the worker.
  const { callbacks: _c, verbose: _v, ...workerFit } = fit;
  void _c, void _v;
  // The targets, checked above, go to shared memory before anything else can change them.
  const ys = shared(train.y, 'y');
  const vys = val ? shared(val.y, 'validationData.y') : null;
  const vws = val && val.w ? shared(val.w, 'validationData.sampleWeight') : null;
  // A new worker takes about 0.05 s to start and load the library: it starts now, while this
  // thread copies and scans the data, rather than after.
  const worker = takeWorker();
  setBusy('running');
  return (async () => {
    let xs: SharedRows, vxs: SharedRows | null;
    try {
      xs = trainShared ? asShared(train.x) : await sharedChecked(model.backend, train.x, where, 'x');
      vxs = !val ? null : valShared ? asShared(val.x) : await sharedChecked(model.backend, val.x, 'fitAsync (validationData)', 'x');
      if (signal?.aborted) throw abortError(signal);
    } catch (e) {
      keepWorker(worker);
      setBusy(null);
      throw e;
    }
    return runWorker({
      model, compiled, loss: loss.spec as NonNullable<typeof loss.spec>, y: ys, xs,
      val: vxs && vys ? { x: vxs, y: vys, w: vws } : null, fit: workerFit, callbacks: settings.callbacks, stepsPerEpoch,
      stepLimit: schedule?.stepLimit, signal, onProgress, setBusy, run, resumed: resumedView(rest.resume, firstEpoch), resumeBuffers: () => resumeBuffers(model, rest.resume),
    }, worker);
  })();
}

/** Everything a training job needs, checked and on shared memory. */
interface Job {
  model: Sequential;
  compiled: Compiled;
  loss: WorkerInput['loss'];
  /** The targets, on shared memory. */
  y: Int32Array | Float32Array;
  xs: SharedRows;
  val: { x: SharedRows; y: Int32Array | Float32Array; w: Float32Array | null } | null;
  fit: Omit<FitOptions, 'callbacks' | 'validationData'>;
  callbacks: Callback[];
  stepsPerEpoch: number;
  /** The schedule's stepLimit, for the callbacks' view of it. */
  stepLimit: number | undefined;
  signal: AbortSignal | undefined;
  onProgress: FitAsyncOptions['onProgress'];
  setBusy: (state: 'running' | 'paused' | null) => void;
  /** Set once the worker has the job: from then on a rejection keeps the columns the call took. */
  run: { trained: boolean };
  /** The callbacks' view of a resume. */
  resumed: TrainContext['resumed'];
  /**
   * Copies a resumed checkpoint's running statistics into the model (resumeBuffers): after the
   * onTrainBegin hooks and the fallback snapshot, just before the worker takes the job.
   */
  resumeBuffers: () => void;
}

/**
 * Starts the worker on a job and relays its messages; settles when the worker has exited. For
 * every hook the callbacks have, the worker waits at that point until this thread's callbacks
 * (awaited when they return a Promise) are done, so they see the model as fit's callbacks would,
 * and a stop(), an error, or an lr or momentum they set takes effect at the same step as in fit.
 */
async function runWorker(job: Job, taken: Worker): Promise<History> {
  const { model, compiled, loss, xs, val, fit, callbacks, signal, onProgress, setBusy } = job;
  const control = newControl();
  const waitOn = {
    epochBegin: hasHook(callbacks, 'onEpochBegin'),
    batchEnd: hasHook(callbacks, 'onBatchEnd'),
    epochEnd: hasHook(callbacks, 'onEpochEnd'),
  };
  let stopReason: string | null = null;
  let scheduleState: ScheduleState | null = null;
  // The schedule runs in the worker; callbacks here see its state as of the last epoch end.
  const scheduleMirror: Schedule | null = fit.schedule ? {
    name: fit.schedule.name,
    stepLimit: job.stepLimit,
    get lr() {
      return compiled.optimizer.lr;
    },
    get count() {
      return scheduleState ? (scheduleState as { count: number }).count : 0;
    },
    step(): number {
      throw new BlasnetError(ErrorCode.STATE, 'fitAsync: the schedule runs in the training worker');
    },
    state(): ScheduleState {
      if (!scheduleState) throw new BlasnetError(ErrorCode.STATE, 'fitAsync: no schedule state before the first epoch end');
      return scheduleState;
    },
    load(): void {
      throw new BlasnetError(ErrorCode.STATE, 'fitAsync: the schedule runs in the training worker');
    },
  } : null;
  const ctx: TrainContext = {
    model,
    optimizer: compiled.optimizer,
    schedule: scheduleMirror,
    epochs: fit.epochs ?? 1,
    stepsPerEpoch: job.stepsPerEpoch,
    resumed: job.resumed,
    callbackStates: () => callbackStates(callbacks),
    validation: val !== null || fit.validationSplit !== undefined,
    stop(reason = 'stopped by a callback') {
      if (stopReason === null) stopReason = reason;
      Atomics.store(control, CONTROL.STOP, 1);
    },
    get stopReason() {
      return stopReason;
    },
  };
  // minDelta's best loss as the worker's loop keeps it, for the checkpoints written here.
  const minDeltaState = { best: resumedMinDeltaBest(fit.resume) };
  if (fit.minDelta !== undefined) minDeltaBests.set(ctx, minDeltaState);
  // Callbacks run with the model 'paused': the worker is waiting, so reads (saveModel, predict)
  // and setWeights are allowed, as they are from fit's callbacks.
  const inCallbacks = async (body: () => Promise<void>): Promise<void> => {
    setBusy('paused');
    try {
      await body();
    } finally {
      setBusy('running');
    }
  };
  // The lr and momentum callbacks set at a handshake go to the worker with its release, so that
  // its next step uses them as fit's would. (The optimiser's other options are read-only.)
  const values = controlValues(control);
  const atHandshake = async (body: () => Promise<void>): Promise<void> => {
    const opt = compiled.optimizer;
    const lr = opt.lr, momentum = opt.momentum;
    await inCallbacks(body);
    let set = 0;
    if (opt.lr !== lr) {
      values[VALUE.LR] = opt.lr;
      set |= SET.LR;
    }
    if (opt.momentum !== momentum) {
      values[VALUE.MOMENTUM] = opt.momentum as number;
      set |= SET.MOMENTUM;
    }
    Atomics.store(control, CONTROL.SET, set);
  };
  // The lr and momentum of the worker's next step (a batch's: of that step), as fit's callbacks see them.
  const follow = (m: { lr: number; momentum: number | undefined }) => asLibraryWrite(() => {
    const opt = compiled.optimizer;
    opt.lr = m.lr;
    if (m.momentum !== undefined && opt.momentum !== m.momentum) opt.momentum = m.momentum;
  });
  // fit makes its schedule from the optimiser's lr as the call found it and sets the schedule's
  // first lr (and momentum) before onTrainBegin, whose callbacks then see it and may set others
  // for the first step. The worker's fit does the same from that start, and then takes what the
  // callbacks here set, as its bridge's onTrainBegin, where fit's callbacks would have set it.
  const opt = compiled.optimizer;
  const start = { lr: opt.lr, momentum: opt.momentum };
  // Puts back what the call changed, when the job never reaches the worker.
  const unstart = () => asLibraryWrite(() => {
    opt.lr = start.lr;
    if (start.momentum !== undefined && opt.momentum !== start.momentum) opt.momentum = start.momentum;
  });
  const trainBegin: WorkerInput['trainBegin'] = { lr: null, momentum: null };
  try {
    if (fit.schedule && !fit.resume) {
      const spec = fit.schedule;
      asLibraryWrite(() => followSchedule(opt, madeAgain(() => createSchedule(spec, start.lr))));
    }
    const lr = opt.lr, momentum = opt.momentum;
    if (job.resumed) restoreCallbackStates('fitAsync', callbacks, job.resumed.callbacks);
    // Without hooks to run the model stays 'running' (the code after the call cannot change it).
    if (hasHook(callbacks, 'onTrainBegin')) await inCallbacks(() => runHook(callbacks, 'onTrainBegin', ctx));
    // An abort while the callbacks ran (the listener below is not added yet): no step is taken.
    if (signal?.aborted) {
      unstart();
      throw abortError(signal);
    }
    if (opt.lr !== lr) trainBegin.lr = opt.lr;
    if (opt.momentum !== momentum) trainBegin.momentum = opt.momentum as number;
  } catch (e) {
    // A refusal before the first step (a callback's onTrainBegin) leaves the lr and momentum as
    // the call found them, not at the schedule's first values.
    unstart();
    keepWorker(taken);
    setBusy(null);
    throw e;
  }

  const input: WorkerInput = {
    backend: model.backend.name,
    model: { ...model.config(), layers: [...model.config().layers] },
    shared: { params: model.params, grads: model.grads, buffers: model.buffers().map((b) => b.data) },
    maskState: model.maskState(),
    x: xs,
    y: job.y,
    loss,
    optimizer: compiled.optimizer.state(),
    start,
    trainBegin,
    metrics: [...compiled.metrics],
    fit: { ...fit, ...(val ? { validationData: { x: val.x, y: val.y, w: val.w } } : {}) },
    control,
    waitOn,
    reportBatches: !!onProgress || waitOn.batchEnd,
  };

  let worker: Worker;
  // What the model goes back to if the worker dies without its last message (killed, or a
  // crash, perhaps halfway through a step): the state the call started from, then that of each
  // epoch end where the worker waited for the callbacks. Its epoch is null for the start.
  let fallback: Snapshot;
  let fallbackMasks = input.maskState;
  let fallbackEpoch: number | null = null;
  try {
    worker = exitedWorkers.has(taken) ? takeWorker() : taken;
  } catch (e) {
    unstart();
    setBusy(null);
    throw e;
  }
  try {
    // What a worker that dies goes back to: the model as the call found it. Then a checkpoint
    // resumed on another model brings its running statistics (the worker shares them).
    fallback = new Snapshot(model, compiled.optimizer);
    job.resumeBuffers();
  } catch (e) {
    unstart();
    keepWorker(worker);
    setBusy(null);
    throw e;
  }

  return new Promise<History>((resolve, reject) => {
    let failure: unknown = null;
    let result: History | null = null;
    let exited = false;
    // Whether the job's last message ('done' or 'error', which carry the state the worker leaves) came.
    let lastMessage = false;
    const releaseThreads = shareThreads(model.backend);
    const release = () => {
      Atomics.store(control, CONTROL.PAUSE, 0);
      Atomics.notify(control, CONTROL.PAUSE);
    };
    const onAbort = () => Atomics.store(control, CONTROL.STOP, 1);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    // The worker, waiting or at its next batch end, leaves fit and reports its state (the weights
    // are the ones it leaves), rather than being ended with an optimiser that does not fit them.
    const fail = (e: unknown) => {
      if (failure === null) failure = e;
      Atomics.store(control, CONTROL.FAIL, 1);
      release();
    };
    // Messages are handled one after another, each after the previous one's callbacks settled.
    let queue: Promise<void> = Promise.resolve();
    const handle = async (m: WorkerMessage): Promise<void> => {
      // The last message holds the optimiser and dropout state of the weights the worker leaves,
      // however training ended: fit's, at the same point.
      if (m.type === 'done' || m.type === 'error') {
        if (m.optimizer) asLibraryWrite(() => compiled.optimizer.load(m.optimizer as OptimizerState));
        if (m.maskState) model.setMaskState(m.maskState);
      }
      if (failure !== null) return;
      switch (m.type) {
        case 'epochBegin':
          follow(m);
          if (waitOn.epochBegin) {
            await atHandshake(() => runHook(callbacks, 'onEpochBegin', m.epoch, ctx));
            release();
          }
          break;
        case 'batch':
          follow(m);
          if (waitOn.batchEnd) await atHandshake(() => runHook(callbacks, 'onBatchEnd', m.logs, ctx));
          onProgress?.({ type: 'batch', logs: m.logs });
          if (waitOn.batchEnd) release();
          break;
        case 'epochEnd':
          if (m.optimizer) asLibraryWrite(() => compiled.optimizer.load(m.optimizer as OptimizerState));
          if (m.schedule) scheduleState = m.schedule;
          model.setMaskState(m.maskState);
          if (m.logs.batches === undefined) minDeltaState.best = Math.min(minDeltaState.best, m.logs.loss);
          if (waitOn.epochEnd) {
            await atHandshake(() => runHook(callbacks, 'onEpochEnd', m.logs, ctx));
            // The worker waits: it goes on from these weights and this optimiser state.
            fallback.take(m.logs.epoch + 1);
            fallbackMasks = m.maskState;
            fallbackEpoch = m.logs.epoch + 1;
          }
          onProgress?.({ type: 'epoch', logs: m.logs });
          if (waitOn.epochEnd) release();
          break;
        case 'done': {
          if (signal?.aborted) {
            failure = abortError(signal);
            break;
          }
          await inCallbacks(() => runHook(callbacks, 'onTrainEnd', ctx));
          result = { ...m.history, stopReason: stopReason ?? m.history.stopReason };
          break;
        }
        case 'error':
          failure = rebuildError(m);
          break;
      }
    };
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      releaseThreads();
      signal?.removeEventListener('abort', onAbort);
      if (job.run.trained && !lastMessage) {
        // The worker died mid-training: its weights may hold half a step, and its optimiser
        // state is gone with it. The model goes back to the last state the two agreed on.
        fallback.restore();
        model.setMaskState(fallbackMasks);
        const restored = `; the model's weights, running statistics, optimiser state and dropout stream are back as they were ` +
          (fallbackEpoch === null ? 'when fitAsync was called' : `at the end of epoch ${fallbackEpoch}`);
        if (failure === null) failure = new BlasnetError(ErrorCode.INTERNAL, `fitAsync: the training worker stopped without a result${restored}`);
        else if (failure instanceof BlasnetError && failure.code === ErrorCode.INTERNAL) {
          failure = new BlasnetError(ErrorCode.INTERNAL, `${failure.message}${restored}`, { cause: failure.cause });
        }
      }
      fallback.release();
      // The model keeps the mode it was called in, as fit leaves it (the worker trained in its own).
      setBusy(null);
      if (failure !== null || !result) releaseOnFailure(callbacks);
      if (failure !== null) reject(failure);
      else if (result) resolve(result);
      else reject(new BlasnetError(ErrorCode.INTERNAL, 'fitAsync: the training worker stopped without a result'));
    };
    const onMessage = (m: WorkerMessage) => {
      if (m.type === 'done' || m.type === 'error') lastMessage = true;
      queue = queue.then(() => handle(m)).catch(fail);
      // 'done' and 'error' are the job's last message: the worker is idle again and kept for
      // the next call.
      if (m.type === 'done' || m.type === 'error') {
        void queue.then(() => {
          if (settled) return;
          detach();
          keepWorker(worker);
          settle();
        });
      }
    };
    const onError = (e: Error) => {
      // An error the worker did not catch (its script or the addon failed to load) is coded too.
      if (failure === null) failure = e instanceof BlasnetError ? e : new BlasnetError(ErrorCode.INTERNAL, `fitAsync: the training worker failed: ${e.message}`, { cause: e });
    };
    const onExit = (code: number) => {
      if (exited) return;
      exited = true;
      if (failure === null && code !== 0) failure = new BlasnetError(ErrorCode.INTERNAL, `fitAsync: the training worker exited with code ${code}`);
      void queue.then(settle);
    };
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    try {
      worker.postMessage({ type: 'job', input });
    } catch (e) {
      // Nothing reached the worker. It is ended rather than kept (nothing outlives a call that
      // could not start), and the model is left as the call found it.
      detach();
      unstart();
      failure = sendError(e, input.fit);
      void worker.terminate();
      settle();
      return;
    }
    job.run.trained = true;
  });
}
