/**
 * The training worker of fitAsync: rebuilds the caller's model over its shared memory, runs the
 * same synchronous fit loop, and reports to the main thread; stops between batches when asked,
 * and pauses at epoch ends while the main thread runs its callbacks.
 */
import { parentPort, workerData } from 'worker_threads';
import { setDefaultBackend } from '../backend/select';
import { layerFromConfig } from '../layers';
import { Sequential } from '../model/sequential';
import { createOptimizer } from '../optim';
import type { OptimizerSpec } from '../optim';
import { Matrix } from '../tensor';
import type { Callback } from './callbacks';
import { CONTROL } from './protocol';
import type { WorkerInput, WorkerMessage } from './protocol';

const input = workerData as WorkerInput;
const post = (m: WorkerMessage) => (parentPort as NonNullable<typeof parentPort>).postMessage(m);

try {
  const backend = setDefaultBackend(input.backend);
  if (input.backend === 'native') backend.setNumThreads(input.threads);
  const model = new Sequential({
    inputSize: input.model.inputSize,
    seed: input.model.seed,
    layers: input.model.layers.map(layerFromConfig),
    backend,
    shared: input.shared,
  });
  model.setMaskState(input.maskState);
  const optimizer = createOptimizer({ name: input.optimizer.name, ...input.optimizer.options } as OptimizerSpec, model);
  optimizer.load(input.optimizer);
  model.compile({ loss: input.loss, optimizer, metrics: input.metrics });
  const control = input.control;
  const bridge: Callback = {
    onEpochBegin(epoch, ctx) {
      post({ type: 'epochBegin', epoch, stepsPerEpoch: ctx.stepsPerEpoch });
    },
    onBatchEnd(logs, ctx) {
      if (input.reportBatches) post({ type: 'batch', logs: { ...logs } });
      if (Atomics.load(control, CONTROL.STOP) !== 0) ctx.stop('aborted');
    },
    onEpochEnd(logs, ctx) {
      if (input.pauseAtEpochEnd) Atomics.store(control, CONTROL.PAUSE, 1);
      post({
        type: 'epochEnd', logs: { ...logs }, optimizer: input.pauseAtEpochEnd ? optimizer.state() : null,
        schedule: input.pauseAtEpochEnd && ctx.schedule ? ctx.schedule.state() : null, maskState: model.maskState(),
      });
      // The main thread's callbacks see the weights as they are now; wait until they are done.
      if (input.pauseAtEpochEnd) while (Atomics.load(control, CONTROL.PAUSE) === 1) Atomics.wait(control, CONTROL.PAUSE, 1);
      if (Atomics.load(control, CONTROL.STOP) !== 0) ctx.stop('aborted');
    },
  };
  const { validationData, ...fit } = input.fit;
  const history = model.fit(new Matrix(input.x.data, input.x.rows, input.x.cols), input.y, {
    ...fit,
    ...(validationData ? { validationData: { x: new Matrix(validationData.x.data, validationData.x.rows, validationData.x.cols), y: validationData.y } } : {}),
    callbacks: [bridge],
  });
  post({ type: 'done', history, optimizer: optimizer.state(), maskState: model.maskState() });
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', name: err.name, code: err.code, message: err.message });
}
