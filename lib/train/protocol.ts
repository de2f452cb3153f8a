/**
 * Messages between fitAsync (main thread) and its training worker, and the shared control words.
 */
import type { LayerConfig } from '../layers/layer';
import type { LossSpecName, Reduction } from '../model/loss';
import type { OptimizerState } from '../optim';
import type { ScheduleState } from '../schedules';
import type { BatchLogs, EpochLogs } from './callbacks';
import type { FitOptions, History } from './fit';
import type { MetricSpec } from './metrics';

/** Indices into the shared Int32Array the two threads coordinate with. */
export const CONTROL = {
  /** Set to 1 by the main thread: stop after the current batch. */
  STOP: 0,
  /** The callback handshake: 1 while the worker waits for the main thread's callbacks. */
  PAUSE: 1,
  /**
   * Set to 1 by the main thread when a callback there threw: the worker leaves fit at once, as
   * fit leaves when a callback throws, and reports the optimiser state of that point.
   */
  FAIL: 2,
  /** Which optimiser settings (SET bits) the callbacks changed, written before PAUSE is lowered. */
  SET: 3,
  LENGTH: 4,
} as const;

/** Bits of CONTROL.SET, each with its value's index in controlValues. */
export const SET = {
  LR: 1,
  MOMENTUM: 2,
} as const;
export const VALUE = { LR: 0, MOMENTUM: 1, LENGTH: 2 } as const;

const VALUES_AT = 8 * Math.ceil((4 * CONTROL.LENGTH) / 8);

/**
 * The control words, and after them (float64, so an lr crosses exactly) the settings a handshake's
 * callbacks changed, on one SharedArrayBuffer.
 */
export function newControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(VALUES_AT + 8 * VALUE.LENGTH), 0, CONTROL.LENGTH);
}

/** The values of a newControl(). */
export function controlValues(control: Int32Array): Float64Array {
  return new Float64Array(control.buffer, VALUES_AT, VALUE.LENGTH);
}

/** What the worker is given. */
export interface WorkerInput {
  backend: 'js' | 'native';
  model: { inputSize: number; seed: number; layers: LayerConfig[] };
  shared: { params: Float32Array; grads: Float32Array; buffers: Float32Array[] };
  maskState: number[];
  /** The training rows and targets, checked on the main thread, on shared memory. */
  x: { data: Float32Array; rows: number; cols: number };
  y: Int32Array | Float32Array;
  loss: { name: LossSpecName; param: number; reduction: Reduction };
  optimizer: OptimizerState;
  /**
   * The optimiser's lr and momentum as fitAsync found them: the worker's fit starts from them
   * (its schedule is made from that lr), as fit would, whatever onTrainBegin set.
   */
  start: { lr: number; momentum: number | undefined };
  /**
   * The lr and momentum onTrainBegin's callbacks set (null: left as they were), which the worker
   * takes at its own onTrainBegin: after the schedule set its first lr, as fit's callbacks set them.
   */
  trainBegin: { lr: number | null; momentum: number | null };
  metrics: MetricSpec[];
  /** fit's options; validationData as shared rows, with the weights of a weighted Dataset. */
  fit: Omit<FitOptions, 'callbacks' | 'validationData'> & {
    validationData?: { x: { data: Float32Array; rows: number; cols: number }; y: Int32Array | Float32Array; w: Float32Array | null };
  };
  control: Int32Array;
  /** The points where the worker waits for the main thread's callbacks (those it has hooks for). */
  waitOn: { epochBegin: boolean; batchEnd: boolean; epochEnd: boolean };
  /** Whether to report every batch (the main thread has batch callbacks or a progress listener). */
  reportBatches: boolean;
}

/** What the worker posts. */
export type WorkerMessage =
  | { type: 'epochBegin'; epoch: number; stepsPerEpoch: number; lr: number; momentum: number | undefined }
  | { type: 'batch'; logs: BatchLogs; lr: number; momentum: number | undefined }
  | { type: 'epochEnd'; logs: EpochLogs; optimizer: OptimizerState | null; schedule: ScheduleState | null; maskState: number[] }
  | { type: 'done'; history: History; optimizer: OptimizerState; maskState: number[] }
  /** The state is null when the error came before training began (the main thread's is then current). */
  | { type: 'error'; name: string; code: string | undefined; message: string; optimizer: OptimizerState | null; maskState: number[] | null };
