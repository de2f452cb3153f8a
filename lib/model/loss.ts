import { ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag } from '../typed';
import { LOSS_NAMES, LOSSES, lossId } from '../losses';
import type { LossName } from '../losses';

/**
 * A loss of one's own: the mean loss of pred [rows, cols] against target, writing
 * d(loss)/d(pred) into grad unless grad is null.
 */
export interface CustomLoss {
  /** Shown in summaries and errors. */
  readonly name: string;
  /** The mean loss; writes d(loss)/d(pred) into grad unless grad is null. */
  compute(rows: number, cols: number, pred: Float32Array, target: Float32Array | Int32Array, grad: Float32Array | null): number;
}

/** A loss by table name, by name with its parameter, or a CustomLoss. */
export type LossSpec = LossName | { name: LossName; param?: number } | CustomLoss;

/** A loss ready to run: a table kernel (id and parameter) or a custom one. */
export interface ResolvedLoss {
  readonly name: string;
  readonly id: number;
  readonly param: number;
  readonly custom: CustomLoss | null;
}

/** Resolves a LossSpec, with a coded error for an unknown name or a bad parameter type. */
export function resolveLoss(spec: LossSpec): ResolvedLoss {
  if (typeof spec === 'string') return { name: spec, id: lossId(spec), param: LOSSES[spec]?.param ?? 0, custom: null };
  if (spec && typeof spec === 'object' && typeof (spec as CustomLoss).compute === 'function') {
    return { name: (spec as CustomLoss).name, id: -1, param: 0, custom: spec as CustomLoss };
  }
  if (spec && typeof spec === 'object' && typeof (spec as { name?: unknown }).name === 'string') {
    const { name, param } = spec as { name: LossName; param?: number };
    const id = lossId(name);
    if (param !== undefined && (typeof param !== 'number' || !Number.isFinite(param))) {
      throw rangeError(ErrorCode.ARG_RANGE, `loss: Expected finite number for param but received ${String(param)}`);
    }
    return { name, id, param: param ?? LOSSES[name].param, custom: null };
  }
  throw typeError(ErrorCode.ARG_TYPE,
    `loss: Expected a loss name (${LOSS_NAMES.join(', ')}), { name, param } or an object with compute()`);
}

/**
 * The output activation a built-in loss absorbs: crossEntropy after softmax, binaryCrossEntropy
 * after sigmoid. The pair is computed on the logits, with delta = prediction - target.
 */
export function fusedActivation(loss: ResolvedLoss): 'softmax' | 'sigmoid' | null {
  if (loss.custom) return null;
  if (loss.name === 'crossEntropy') return 'softmax';
  if (loss.name === 'binaryCrossEntropy') return 'sigmoid';
  return null;
}

/**
 * Checks what a built-in loss kernel would reject, before any pass runs, so that a bad call
 * changes nothing (a training forward pass moves BatchNorm's running statistics and draws
 * dropout masks): the parameter's domain, labels in [0, cols), hinge targets of -1 or +1.
 * Custom losses check their own inputs.
 */
export function checkTargets(loss: ResolvedLoss, rows: number, cols: number, target: Float32Array | Int32Array, where: string): void {
  if (loss.custom) return;
  if ((loss.name === 'huber' || loss.name === 'gaussianNll') && !(loss.param > 0)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected param > 0 for ${loss.name} but received ${loss.param}`);
  }
  if (typedArrayTag(target) === 'Int32Array') {
    for (let i = 0; i < rows; i++) {
      const c = target[i];
      if (c < 0 || c >= cols) throw rangeError(ErrorCode.LABEL, `${where}: target[${i}] = ${c} is outside [0, ${cols})`);
    }
  } else if (loss.name === 'hinge') {
    const n = rows * cols;
    for (let i = 0; i < n; i++) {
      const t = target[i];
      if (t !== 1 && t !== -1) throw rangeError(ErrorCode.TARGET, `${where}: hinge targets must be -1 or +1; target[${i}] is ${t}`);
    }
  }
}
