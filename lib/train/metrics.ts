/**
 * Metrics: running averages over an epoch of predictions against targets. Each is updated batch
 * by batch (no allocation) and read once at the end.
 */
import type { Backend } from '../backend/types';
import { checkOptionKeys, show } from '../describe';
import { ErrorCode, rangeError } from '../errors';
import { argmaxRow } from '../math';
import { typedArrayTag, typedLength } from '../typed';

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

/** How many of a[0..n) equal b[0..n): a loop of its own, which V8 compiles apart from update(). */
function countEqual(a: Int32Array, b: Int32Array, n: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i]) hits++;
  return hits;
}

/**
 * The class of row r of the targets: the label, or the argmax of a one-hot / distribution row.
 * `labels` is isLabels(t), decided once per batch (the type test is a getter call, costly per row
 * in code V8 has not optimised yet: the first epoch runs it).
 */
function targetClass(t: Float32Array | Int32Array, labels: boolean, r: number, cols: number): number {
  return labels ? t[r] : argmaxRow(t as Float32Array, r * cols, cols);
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

/**
 * Fraction of rows whose largest prediction is the target class (single-label classification).
 * With a backend (fit's and evaluate's metrics) the rows' argmax is one backend.argmaxRows call:
 * the native one costs a microsecond a batch, where the same loop in JavaScript runs uncompiled
 * through a fresh process's first epoch.
 */
class Accuracy extends Mean {
  readonly name = 'accuracy';
  readonly higherIsBetter = true;
  private predicted = new Int32Array(0);
  private expected = new Int32Array(0);
  constructor(private readonly backend: Backend | null = null) {
    super();
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    const labels = isLabels(target);
    // One-hot or distribution targets as wide as the predictions (anything else, such as a
    // loss's half-width targets, takes the loop below, which never throws).
    const b = labels || typedLength(target) >= rows * cols ? this.backend : null;
    let hits = 0;
    if (b) {
      if (this.predicted.length < rows) {
        this.predicted = new Int32Array(rows);
        this.expected = new Int32Array(rows);
      }
      const got = this.predicted;
      b.argmaxRows(rows, cols, pred, got);
      let want = target as Int32Array;
      if (!labels) {
        want = this.expected;
        b.argmaxRows(rows, cols, target as Float32Array, want);
      }
      hits = countEqual(got, want, rows);
    } else {
      for (let r = 0; r < rows; r++) if (argmaxRow(pred, r * cols, cols) === targetClass(target, labels, r, cols)) hits++;
    }
    this.sum += hits;
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
    const labels = isLabels(target);
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      const y = targetClass(target, labels, r, cols);
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
  return metricOn(spec, null);
}

/** createMetric, with the built-in metrics that have kernels running them on `backend` (a model's). */
export function metricOn(spec: MetricSpec, backend: Backend | null): Metric {
  if (typeof spec === 'object' && spec !== null && typeof (spec as Metric).update === 'function') return spec as Metric;
  if (spec === 'accuracy') return new Accuracy(backend);
  if (spec === 'mse') return new MeanSquaredError();
  if (spec === 'mae') return new MeanAbsoluteError();
  if (spec === 'binaryAccuracy') return new BinaryAccuracy(0.5);
  if (typeof spec === 'object' && spec !== null) {
    const s = spec as { name?: unknown; k?: unknown; threshold?: unknown };
    if (s.name === 'topKAccuracy') {
      checkOptionKeys('metrics', s, { name: true, k: true });
      if (!Number.isInteger(s.k) || (s.k as number) < 1) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected positive integer for k but received ${String(s.k)}`);
      }
      return new TopKAccuracy(s.k as number);
    }
    if (s.name === 'binaryAccuracy') {
      checkOptionKeys('metrics', s, { name: true, threshold: true });
      if (typeof s.threshold !== 'number' || !Number.isFinite(s.threshold)) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected finite number for threshold but received ${String(s.threshold)}`);
      }
      return new BinaryAccuracy(s.threshold);
    }
  }
  throw rangeError(ErrorCode.UNKNOWN_NAME,
    `metrics: Unknown metric ${show(spec)}; expected 'accuracy', 'mse', 'mae', 'binaryAccuracy', { name: 'topKAccuracy', k } or an object with update()`);
}
