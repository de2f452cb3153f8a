/**
 * Metrics: running averages over an epoch of predictions against targets. Each is updated batch
 * by batch (no allocation) and read once at the end.
 */
import { show } from '../describe';
import { ErrorCode, rangeError } from '../errors';
import { typedArrayTag } from '../typed';

/** A metric accumulated over batches. */
export interface Metric {
  /** Key in logs and History ('accuracy', 'top3Accuracy', 'mse', ...). */
  readonly name: string;
  /** Whether a larger value is better (for monitoring). */
  readonly higherIsBetter: boolean;
  /** Forgets everything added. */
  reset(): void;
  /** Adds a batch: pred [rows, cols] and targets (Int32Array labels or a Float32Array [rows, cols]). */
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void;
  /** The value over everything added since reset(); NaN before any update. */
  value(): number;
}

/** A metric by name or options. */
export type MetricSpec =
  | 'accuracy' | 'mse' | 'mae' | 'binaryAccuracy'
  | { name: 'topKAccuracy'; k: number }
  | { name: 'binaryAccuracy'; threshold: number }
  | Metric;

function isLabels(t: Float32Array | Int32Array): t is Int32Array {
  return typedArrayTag(t) === 'Int32Array';
}

function argmaxRow(a: Float32Array, off: number, cols: number): number {
  let best = 0;
  for (let j = 1; j < cols; j++) if (a[off + j] > a[off + best]) best = j;
  return best;
}

/** The class of each target row: the label, or the argmax of a one-hot / distribution row. */
function targetClass(t: Float32Array | Int32Array, r: number, cols: number): number {
  return isLabels(t) ? t[r] : argmaxRow(t as Float32Array, r * cols, cols);
}

abstract class Mean implements Metric {
  abstract readonly name: string;
  abstract readonly higherIsBetter: boolean;
  protected sum = 0;
  protected count = 0;
  reset(): void {
    this.sum = 0;
    this.count = 0;
  }
  value(): number {
    return this.count ? this.sum / this.count : NaN;
  }
  abstract update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void;
}

/** Fraction of rows whose largest prediction is the target class (single-label classification). */
class Accuracy extends Mean {
  readonly name = 'accuracy';
  readonly higherIsBetter = true;
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    for (let r = 0; r < rows; r++) if (argmaxRow(pred, r * cols, cols) === targetClass(target, r, cols)) this.sum++;
    this.count += rows;
  }
}

/** Fraction of rows whose target class is among the k largest predictions. */
class TopKAccuracy extends Mean {
  readonly name: string;
  readonly higherIsBetter = true;
  constructor(readonly k: number) {
    super();
    this.name = `top${k}Accuracy`;
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      const y = targetClass(target, r, cols);
      const v = pred[off + y];
      // The target is in the top k when fewer than k classes score strictly higher.
      let higher = 0;
      for (let j = 0; j < cols && higher < this.k; j++) if (pred[off + j] > v) higher++;
      if (higher < this.k) this.sum++;
    }
    this.count += rows;
  }
}

/** Mean squared error over every element. */
class MeanSquaredError extends Mean {
  readonly name = 'mse';
  readonly higherIsBetter = false;
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    const n = rows * cols;
    for (let i = 0; i < n; i++) this.sum += (pred[i] - target[i]) ** 2;
    this.count += n;
  }
}

/** Mean absolute error over every element. */
class MeanAbsoluteError extends Mean {
  readonly name = 'mae';
  readonly higherIsBetter = false;
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    const n = rows * cols;
    for (let i = 0; i < n; i++) this.sum += Math.abs(pred[i] - target[i]);
    this.count += n;
  }
}

/** Fraction of elements where (pred > threshold) equals (target > 0.5); default threshold 0.5. */
class BinaryAccuracy extends Mean {
  readonly name = 'binaryAccuracy';
  readonly higherIsBetter = true;
  constructor(readonly threshold: number) {
    super();
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    const n = rows * cols;
    for (let i = 0; i < n; i++) if ((pred[i] > this.threshold) === (target[i] > 0.5)) this.sum++;
    this.count += n;
  }
}

/** Builds a metric from its spec. */
export function createMetric(spec: MetricSpec): Metric {
  if (typeof spec === 'object' && spec !== null && typeof (spec as Metric).update === 'function') return spec as Metric;
  if (spec === 'accuracy') return new Accuracy();
  if (spec === 'mse') return new MeanSquaredError();
  if (spec === 'mae') return new MeanAbsoluteError();
  if (spec === 'binaryAccuracy') return new BinaryAccuracy(0.5);
  if (typeof spec === 'object' && spec !== null) {
    const s = spec as { name?: unknown; k?: unknown; threshold?: unknown };
    if (s.name === 'topKAccuracy') {
      if (!Number.isInteger(s.k) || (s.k as number) < 1) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected positive integer for k but received ${String(s.k)}`);
      }
      return new TopKAccuracy(s.k as number);
    }
    if (s.name === 'binaryAccuracy') {
      if (typeof s.threshold !== 'number' || !Number.isFinite(s.threshold)) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected finite number for threshold but received ${String(s.threshold)}`);
      }
      return new BinaryAccuracy(s.threshold);
    }
  }
  throw rangeError(ErrorCode.UNKNOWN_NAME,
    `metrics: Unknown metric ${show(spec)}; expected 'accuracy', 'mse', 'mae', 'binaryAccuracy', { name: 'topKAccuracy', k } or an object with update()`);
}
