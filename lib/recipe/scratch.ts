/**
 * What the recipe's checks share: running experiments on a model and putting every byte back
 * afterwards, a fresh optimiser of the model's own spec, and (x, y) as plain arrays with a way to
 * gather rows.
 */
import { checkFinite } from '../data/check';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { LossSpec, TargetInput } from '../model/loss';
import { readTargets, resolveLoss } from '../model/loss';
import { Sequential as SequentialClass } from '../model/sequential';
import type { Sequential } from '../model/sequential';
import { show, typeName } from '../describe';
import { createOptimizer } from '../optim';
import type { Optimizer, OptimizerSpec } from '../optim';
import { Matrix } from '../tensor';


/**
 * Runs `fn` on the model's own arenas and restores afterwards, even if fn throws: parameters,
 * gradients, buffers (BatchNorm statistics), the dropout stream and the training flag, so the
 * model continues bit for bit as if fn had not run. Working in place (instead of on a rebuilt
 * copy) is what lets the checks run any model, custom layers included. Busy models (fitAsync)
 * are refused.
 */
/** `model` must be a Sequential: the recipes read its loss, layers and memory. */
export function modelArg(where: string, model: unknown): Sequential {
  if (!(model instanceof SequentialClass)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected Sequential for model but received ${typeName(model)}`);
  return model;
}

export function onScratch<T>(model: Sequential, where: string, fn: () => T): T {
  if (model.isTraining) throw new BlasnetError(ErrorCode.BUSY, `${where}: the model is training (fitAsync); wait for it to finish`);
  const params = model.params.slice();
  const grads = model.grads.slice();
  const buffers = model.buffers().map((b) => b.data.slice());
  const mask = model.maskState();
  const training = model.training;
  try {
    return fn();
  } finally {
    model.params.set(params);
    model.grads.set(grads);
    model.buffers().forEach((b, i) => b.data.set(buffers[i]));
    model.setMaskState(mask);
    // Unchanged when fn failed before switching it (a busy model refuses the switch too).
    if (model.training !== training) model.training = training;
  }
}

/**
 * The spec of the model's compiled optimiser (its name and options, the lr it was compiled with:
 * a schedule may have left the current one at 0), or `given`, or Adam with lr 1e-3 when the
 * model has none.
 */
export function optimizerSpecOf(model: Sequential, given: OptimizerSpec | undefined): OptimizerSpec {
  if (given !== undefined) return given;
  const o: Optimizer | null = model.optimizer;
  if (!o) return { name: 'adam', lr: 1e-3 };
  return { ...o.options, name: o.name } as unknown as OptimizerSpec;
}

/** A new optimiser over the model's arenas (the caller restores them: see onScratch). */
export function scratchOptimizer(model: Sequential, spec: OptimizerSpec): Optimizer {
  return createOptimizer(spec, model);
}

/** (x, y) checked once: x as one Float32Array of rows, y as labels or flat targets. */
export interface Rows {
  readonly x: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Class labels (Int32Array) or targets, `width` per row. */
  readonly y: Int32Array | Float32Array;
  readonly width: number;
}

/**
 * x (the model's own rows: model.inputMatrix's, preprocessing applied) and y as flat arrays, y
 * read as fit reads it for `loss` (readTargets: labels or targets, their shapes, ranges and
 * values), with errors that name `where`.
 */
export function readRows(model: Sequential, x: Matrix, y: TargetInput, loss: LossSpec, where: string): Rows {
  const t = readTargets(model, resolveLoss(loss), y, x.rows, where);
  return { x: x.data.subarray(0, x.rows * x.cols), rows: x.rows, cols: x.cols, y: t, width: t.length / x.rows };
}

/**
 * NaN and infinities refused in x and in float targets (ERR_BLASNET_DATA naming the row and column,
 * as fit refuses them): an experiment on them would report garbage. Labels are checked by the loss.
 */
export function requireFiniteRows(model: Sequential, r: Rows, where: string): void {
  checkFinite(model.backend, where, 'x', r.x, r.rows * r.cols, 0, r.cols);
  if (r.y instanceof Float32Array) checkFinite(model.backend, where, 'y', r.y, r.y.length, 0, r.width);
}

/** Copies of the given rows of x and y. */
export function gather(r: Rows, index: ArrayLike<number>): { x: Float32Array; y: Int32Array | Float32Array } {
  const k = index.length;
  const x = new Float32Array(k * r.cols);
  const y = r.y instanceof Int32Array ? new Int32Array(k * r.width) : new Float32Array(k * r.width);
  for (let i = 0; i < k; i++) {
    const row = index[i];
    x.set(r.x.subarray(row * r.cols, (row + 1) * r.cols), i * r.cols);
    y.set(r.y.subarray(row * r.width, (row + 1) * r.width), i * r.width);
  }
  return { x, y };
}

/** A positive integer option, or its default. */
export function intOption(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for ${name} but received ${show(v)}`);
  }
  return v;
}
