/**
 * fitAsync: the same training loop as fit, run in a worker thread so the event loop stays free.
 * The worker trains the caller's own parameter memory (SharedArrayBuffer arenas), so the model
 * is trained in place; progress reaches the main thread as callbacks and events; an AbortSignal
 * stops training between batches. While it runs, calls that would race with it fail with
 * ERR_BLASNET_BUSY.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Backend } from '../backend/types';
import type { Sequential } from '../model/sequential';
import type { OptimizerState } from '../optim';
import type { Schedule, ScheduleState } from '../schedules';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import type { BatchLogs, Callback, EpochLogs, TrainContext } from './callbacks';
import { checkFinite, prepareData } from './fit';
import type { Compiled, FitOptions, History, Labels } from './fit';
import type { Input } from '../model/sequential';
import { createMetric } from './metrics';
import { CONTROL } from './protocol';
import type { WorkerInput, WorkerMessage } from './protocol';

export interface FitAsyncOptions extends FitOptions {
  /** Stops training between batches; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called on the main thread after every batch and epoch. */
  onProgress?: (event: { type: 'batch'; logs: BatchLogs } | { type: 'epoch'; logs: EpochLogs }) => void;
}

const WORKER = path.join(__dirname, 'worker.js');

/** A copy on shared memory (no copy if it is already there). */
function shared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = typedArrayTag(a) === 'Int32Array' ? Int32Array : Float32Array;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength) as unknown as ArrayBuffer);
  out.set(a as never);
  return out as T;
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
 * served in between: a large training set is copied and scanned without blocking it.
 */
type SharedRows = { data: Float32Array; rows: number; cols: number };

async function sharedChecked(backend: Backend, m: Matrix, where: string): Promise<SharedRows> {
  const n = m.rows * m.cols;
  const src = m.data.subarray(0, n);
  const onShared = src.buffer instanceof SharedArrayBuffer;
  const out = onShared ? src : new Float32Array(new SharedArrayBuffer(4 * n) as unknown as ArrayBuffer);
  let sliceStart = performance.now();
  for (let off = 0; off < n; off += CHUNK) {
    const end = Math.min(n, off + CHUNK);
    const part = src.subarray(off, end);
    try {
      checkFinite(backend, where, 'x', part, end - off);
    } catch (e) {
      // Report the index in the whole of x.
      const err = e as Error;
      err.message = err.message.replace(/at index (\d+)/, (_s, i: string) => `at index ${off + Number(i)}`);
      throw err;
    }
    if (!onShared) out.set(part, off);
    if (end < n && performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      sliceStart = performance.now();
    }
  }
  return { data: out, rows: m.rows, cols: m.cols };
}

function rebuildError(m: { name: string; code: string | undefined; message: string }): Error {
  const err = m.name === 'TypeError' ? new TypeError(m.message) : m.name === 'RangeError' ? new RangeError(m.message) : new Error(m.message);
  if (m.code) Object.assign(err, { code: m.code });
  if (m.name !== 'TypeError' && m.name !== 'RangeError' && m.name !== 'Error') err.name = m.name;
  return err;
}

/** Trains `model` (compiled) in a worker thread; resolves with the History. */
export function fitModelAsync(model: Sequential, compiled: Compiled, x: Input, y: Labels, options: FitAsyncOptions,
  setBusy: (busy: boolean) => void): Promise<History> {
  const { signal, onProgress, callbacks = [], validationData, ...fit } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError(ErrorCode.ARG_TYPE, 'fitAsync: Expected an AbortSignal for signal');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw typeError(ErrorCode.ARG_TYPE, 'fitAsync: Expected a function for onProgress');
  const loss = model.lossSpec;
  if (!loss || loss.custom) throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: needs a built-in loss (a custom loss cannot move to the worker)');
  if (compiled.metrics.some((m) => typeof m === 'object' && m !== null && typeof (m as { update?: unknown }).update === 'function')) {
    throw rangeError(ErrorCode.ARG_RANGE, 'fitAsync: custom metric objects cannot move to the worker; use built-in metrics');
  }
  compiled.metrics.forEach(createMetric);
  if (signal?.aborted) return Promise.reject(signal.reason);
  // Shapes and labels are checked here; NaN while x moves to shared memory; all before the worker starts.
  const train = prepareData(model, x, y, 'fitAsync', false);
  const val = validationData ? prepareData(model, validationData.x, validationData.y, 'fitAsync (validationData)', false) : null;
  setBusy(true);
  return (async () => {
    let xs: SharedRows, vxs: SharedRows | null;
    try {
      xs = await sharedChecked(model.backend, train.x, 'fitAsync');
      vxs = val ? await sharedChecked(model.backend, val.x, 'fitAsync (validationData)') : null;
    } catch (e) {
      setBusy(false);
      throw e;
    }
    if (signal?.aborted) {
      setBusy(false);
      throw signal.reason;
    }
    return runWorker({
      model, compiled, loss: { name: loss.name, param: loss.param }, y: train.y, xs,
      val: val && vxs ? { x: vxs, y: val.y } : null, fit, callbacks, signal, onProgress, setBusy,
    });
  })();
}

/** Everything a training job needs, checked and on shared memory. */
interface Job {
  model: Sequential;
  compiled: Compiled;
  loss: { name: string; param: number };
  y: Int32Array | Float32Array;
  xs: SharedRows;
  val: { x: SharedRows; y: Int32Array | Float32Array } | null;
  fit: Omit<FitOptions, 'callbacks' | 'validationData'>;
  callbacks: Callback[];
  signal: AbortSignal | undefined;
  onProgress: FitAsyncOptions['onProgress'];
  setBusy: (busy: boolean) => void;
}

/** Starts the worker on a job and relays its messages; settles when training ends. */
function runWorker(job: Job): Promise<History> {
  const { model, compiled, loss, xs, val, fit, callbacks, signal, onProgress, setBusy } = job;
  const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL.LENGTH));
  const pauseAtEpochEnd = callbacks.some((c) => c.onEpochEnd);
  const input: WorkerInput = {
    backend: model.backend.name,
    threads: model.backend.getNumThreads(),
    model: { ...model.config(), layers: [...model.config().layers] },
    shared: { params: model.params, grads: model.grads, buffers: model.buffers().map((b) => b.data) },
    maskState: model.maskState(),
    x: xs,
    y: shared(job.y),
    loss: { name: loss.name as WorkerInput['loss']['name'], param: loss.param },
    optimizer: compiled.optimizer.state(),
    metrics: [...compiled.metrics],
    fit: { ...fit, ...(val ? { validationData: { x: val.x, y: shared(val.y) } } : {}) },
    control,
    pauseAtEpochEnd,
    reportBatches: !!onProgress || callbacks.some((c) => c.onBatchEnd),
  };
  let stopReason: string | null = null;
  let stepsPerEpoch = 0;
  let scheduleState: ScheduleState | null = null;
  // The schedule runs in the worker; callbacks here see its state as of the last epoch end.
  const scheduleMirror: Schedule | null = fit.schedule ? {
    name: fit.schedule.name,
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
    get epochs() {
      return fit.epochs ?? 1;
    },
    get stepsPerEpoch() {
      return stepsPerEpoch;
    },
    stop(reason = 'stopped by a callback') {
      if (stopReason === null) stopReason = reason;
      Atomics.store(control, CONTROL.STOP, 1);
    },
    get stopReason() {
      return stopReason;
    },
  };

  return new Promise<History>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(WORKER, { workerData: input });
    const release = () => {
      Atomics.store(control, CONTROL.PAUSE, 0);
      Atomics.notify(control, CONTROL.PAUSE);
    };
    const onAbort = () => {
      Atomics.store(control, CONTROL.STOP, 1);
      release();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: unknown, history?: History) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      setBusy(false);
      model.eval();
      if (err) reject(err);
      else resolve(history as History);
    };
    const safely = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        onAbort();
        worker.terminate().finally(() => finish(e));
      }
    };
    safely(() => callbacks.forEach((c) => c.onTrainBegin?.(ctx)));
    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'epochBegin':
          stepsPerEpoch = m.stepsPerEpoch;
          safely(() => callbacks.forEach((c) => c.onEpochBegin?.(m.epoch, ctx)));
          break;
        case 'batch':
          safely(() => {
            for (const c of callbacks) c.onBatchEnd?.(m.logs, ctx);
            onProgress?.({ type: 'batch', logs: m.logs });
          });
          break;
        case 'epochEnd':
          safely(() => {
            if (m.optimizer) compiled.optimizer.load(m.optimizer as OptimizerState);
            if (m.schedule) scheduleState = m.schedule;
            model.setMaskState(m.maskState);
            for (const c of callbacks) c.onEpochEnd?.(m.logs, ctx);
            onProgress?.({ type: 'epoch', logs: m.logs });
          });
          release();
          break;
        case 'done': {
          compiled.optimizer.load(m.optimizer);
          model.setMaskState(m.maskState);
          const history = { ...m.history, stopReason: stopReason ?? m.history.stopReason };
          if (signal?.aborted) {
            finish(signal.reason);
            break;
          }
          try {
            for (const c of callbacks) c.onTrainEnd?.(ctx);
          } catch (e) {
            finish(e);
            break;
          }
          finish(null, history);
          break;
        }
        case 'error':
          finish(rebuildError(m));
          break;
      }
    });
    worker.on('error', (e) => finish(e));
    worker.on('exit', (code) => {
      if (!settled) finish(new BlasnetError(ErrorCode.INTERNAL, `fitAsync: the training worker exited with code ${code}`));
    });
  });
}
