/**
 * The training worker of fitAsync: rebuilds the caller's model over its shared memory, runs the
 * same synchronous fit loop, and reports to the main thread; stops between batches when asked,
 * and pauses at epoch ends while the main thread runs its callbacks.
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import { parentPort } from 'worker_threads';
import { setDefaultBackend } from '../backend/select';
import { layerFromConfig } from '../layers';
import { Sequential } from '../model/sequential';
import { BlasnetError, ErrorCode } from '../errors';
import { makeOptimizer } from '../optim/optimizers';
import type { Optimizer, OptimizerSpec } from '../optim';
import { sharedDataset } from '../data/dataset';
import type { SharedDataset } from '../data/dataset';
import type { Callback, TrainContext } from './callbacks';
import { CONTROL, controlValues, SET, VALUE } from './protocol';
import type { WorkerInput, WorkerMessage } from './protocol';

const port = parentPort as NonNullable<typeof parentPort>;
// What the worker makes again (the optimiser, the schedule) the calling thread made, checked and
// warned about already: a worker's warning would only print the same text raw on stderr, past the
// application's own 'warning' listeners.
process.removeAllListeners('warning');
const post = (m: WorkerMessage) => port.postMessage(m);

/** Trains one job; the worker then waits for the next (fitAsync keeps idle workers warm). */
function run(input: WorkerInput): void {
  // Once training begins, an error reports the optimiser and dropout state that go with the
  // weights it leaves, as fit leaves them.
  let training: { model: Sequential; optimizer: Optimizer } | null = null;
  try {
    // The native pool is the process's, sized by the main thread (see shareThreads in async.ts).
    const backend = setDefaultBackend(input.backend);
    const model = new Sequential({
      inputSize: input.model.inputSize,
      seed: input.model.seed,
      layers: input.model.layers.map(layerFromConfig),
      backend,
      shared: input.shared,
    });
    model.setMaskState(input.maskState);
    // Made and warned about on the calling thread already.
    const optimizer = makeOptimizer({ name: input.optimizer.name, ...input.optimizer.options } as OptimizerSpec, model, false);
    optimizer.load(input.optimizer);
    // fit begins from the lr and momentum the call found; onTrainBegin's come after the schedule's.
    optimizer.lr = input.start.lr;
    if (input.start.momentum !== undefined && optimizer.momentum !== input.start.momentum) optimizer.momentum = input.start.momentum;
    model.compile({ loss: input.loss, optimizer, metrics: input.metrics });
    const control = input.control;
    const values = controlValues(control);
    const { waitOn } = input;
    const failed = () => Atomics.load(control, CONTROL.FAIL) !== 0;
    // At a handshake the worker raises PAUSE, posts, and sleeps until the main thread lowers it;
    // then it takes the lr and momentum the callbacks set, before the step fit would use them in.
    const handshake = (wait: boolean, message: WorkerMessage) => {
      if (wait) Atomics.store(control, CONTROL.PAUSE, 1);
      post(message);
      if (!wait) return;
      while (Atomics.load(control, CONTROL.PAUSE) === 1 && !failed()) Atomics.wait(control, CONTROL.PAUSE, 1);
      const set = Atomics.exchange(control, CONTROL.SET, 0);
      if (set & SET.LR) optimizer.lr = values[VALUE.LR];
      if (set & SET.MOMENTUM) optimizer.momentum = values[VALUE.MOMENTUM];
    };
    const stopIfAsked = (ctx: TrainContext) => {
      // A callback threw on the main thread: fit would end right there, its optimiser as it is.
      if (failed()) throw new BlasnetError(ErrorCode.ABORTED, 'fitAsync: a callback failed on the main thread');
      if (Atomics.load(control, CONTROL.STOP) !== 0) ctx.stop('aborted');
    };
    // Callbacks see the optimiser and schedule of the last epoch end, whichever hooks they have.
    const watched = waitOn.epochBegin || waitOn.batchEnd || waitOn.epochEnd;
    const bridge: Callback = {
      onTrainBegin(ctx) {
        const set = input.trainBegin;
        if (set.lr !== null) optimizer.lr = set.lr;
        if (set.momentum !== null) optimizer.momentum = set.momentum;
        stopIfAsked(ctx);
      },
      onEpochBegin(epoch, ctx) {
        handshake(waitOn.epochBegin, { type: 'epochBegin', epoch, stepsPerEpoch: ctx.stepsPerEpoch, lr: optimizer.lr, momentum: optimizer.momentum });
        stopIfAsked(ctx);
      },
      onBatchEnd(logs, ctx) {
        if (input.reportBatches) handshake(waitOn.batchEnd, { type: 'batch', logs: { ...logs }, lr: optimizer.lr, momentum: optimizer.momentum });
        stopIfAsked(ctx);
      },
      onEpochEnd(logs, ctx) {
        // The main thread's callbacks see the weights as they are now, and the optimiser and
        // schedule as the next epoch starts.
        handshake(waitOn.epochEnd, {
          type: 'epochEnd', logs: { ...logs }, optimizer: watched ? optimizer.state() : null,
          schedule: watched && ctx.schedule ? ctx.schedule.state() : null, maskState: model.maskState(),
        });
        stopIfAsked(ctx);
      },
    };
    // The main thread checked every row (or the Dataset did when built): the worker trains on the
    // same shared memory as a Dataset, with no copy and no second scan.
    const { validationData, sampleWeight, ...fit } = input.fit;
    const data = (x: WorkerInput['x'], y: Int32Array | Float32Array, w: Float32Array | null): SharedDataset => ({
      x: x.data, rows: x.rows, cols: x.cols, y, yCols: y.length / x.rows, sampleWeight: w, columns: null,
    });
    const train = sharedDataset(data(input.x, input.y, (sampleWeight as Float32Array | undefined) ?? null));
    training = { model, optimizer };
    const history = model.fit(train, {
      ...fit,
      ...(validationData ? { validationData: sharedDataset(data(validationData.x, validationData.y, validationData.w)) } : {}),
      callbacks: [bridge],
    });
    post({ type: 'done', history, optimizer: optimizer.state(), maskState: model.maskState() });
  } catch (e) {
    const err = e as Error & { code?: string };
    post({
      type: 'error', name: err.name, code: err.code, message: err.message,
      optimizer: training ? training.optimizer.state() : null, maskState: training ? training.model.maskState() : null,
    });
  }
}

/**
 * A full collection of this thread's heap. A kept worker allocates almost nothing while it waits,
 * so V8 would never collect the last job's objects, and through them the shared memory they
 * reference (fitAsync's copy of x, a Dataset its caller has dropped) would stay allocated while
 * the worker lives: a service retraining on fresh data would grow without bound. Null where V8
 * does not offer it.
 */
const collect = ((): (() => void) | null => {
  // A process started with --expose-gc gives it to this thread too, and its flag stays as it is.
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    // Contexts made later (the application's own vm contexts) get no gc they did not ask for.
    v8.setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
})();

/**
 * When the kept worker collects: right after a job once the jobs since the last collection
 * referenced COLLECT_BYTES of shared memory (their x, targets, weights and validation rows), else
 * once it has waited COLLECT_IDLE_MS for the next job. A full collection costs this thread about
 * 10-15 ms of CPU, ten times a small model's whole fitAsync: a service retraining many small
 * models pays it once per burst, not per call, and memory is still given back.
 */
const COLLECT_BYTES = 16 << 20;
const COLLECT_IDLE_MS = 500;
let pendingBytes = 0;
let idleCollect: NodeJS.Timeout | null = null;

function sharedBytes(input: WorkerInput): number {
  const v = input.fit.validationData;
  const w = input.fit.sampleWeight as Float32Array | undefined;
  return input.x.data.byteLength + input.y.byteLength + (w?.byteLength ?? 0) +
    (v ? v.x.data.byteLength + v.y.byteLength + (v.w?.byteLength ?? 0) : 0);
}

port.on('message', (m: { type: 'job'; input: WorkerInput }) => {
  if (idleCollect) {
    clearTimeout(idleCollect);
    idleCollect = null;
  }
  run(m.input);
  if (!collect) return;
  const gc = collect;
  // After the job's last message (the caller already has it), with the job's objects unreachable.
  pendingBytes += sharedBytes(m.input);
  if (pendingBytes >= COLLECT_BYTES) {
    pendingBytes = 0;
    setImmediate(gc);
  } else {
    idleCollect = setTimeout(() => {
      idleCollect = null;
      pendingBytes = 0;
      gc();
    }, COLLECT_IDLE_MS);
  }
});
