/**
 * Metrics: running averages over an epoch of predictions against targets. Each is updated batch
 * by batch (no allocation once its scratch has grown to the largest batch) and read once at the
 * end.
 */
import { jsBackend } from '../backend/js';
import type { Backend } from '../backend/types';
import { checkOptionKeys, show } from '../describe';
import { ErrorCode, rangeError } from '../errors';
import { argmaxRow, firstLabelOutside } from '../math';
import { toProbabilities } from '../predict';
import type { ScoreKind } from '../predict';
import { typedArrayTag, typedLength } from '../typed';

/** A metric accumulated over batches. */
export interface Metric {
  /** Key in logs and History ('accuracy', 'top3Accuracy', 'mse', ...). */
  readonly name: string;
  /** Whether a larger value is better (for monitoring). */
  readonly higherIsBetter: boolean;
  /** Forgets everything added. */
  reset(): void;
  /**
   * Adds a batch: pred [rows, cols], the model's outputs (logits when its loss fuses the output
   * activation), and targets (Int32Array labels or a Float32Array [rows, cols]).
   */
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

/** The log name of a metric's (or the loss's) validation value: 'accuracy' -> 'valAccuracy'. */
export function validationName(name: string): string {
  return `val${name[0].toUpperCase()}${name.slice(1)}`;
}

/** Label r of `labels`, in [0, cols) (ERR_BLASNET_LABEL otherwise, as the losses say). */
function labelAt(name: string, labels: Int32Array, r: number, cols: number): number {
  const y = labels[r];
  if (!(y >= 0 && y < cols)) throw rangeError(ErrorCode.LABEL, `metrics: ${name}: target[${r}] = ${y} is outside [0, ${cols})`);
  return y;
}

/**
 * The width of float targets for `rows` rows of `cols` predictions: `cols`, or `cols / 2` for a
 * loss's half-width targets (gaussianNll's [rows, d] against [mean | variance] rows) when `half`
 * allows it; ERR_BLASNET_SHAPE for anything narrower, so a metric never reads past the targets.
 */
function targetWidth(name: string, target: Float32Array, rows: number, cols: number, half: boolean): number {
  const n = typedLength(target);
  if (n >= rows * cols) return cols;
  if (half && cols % 2 === 0 && n >= rows * (cols / 2)) return cols / 2;
  throw rangeError(ErrorCode.SHAPE, `metrics: ${name}: Expected ${rows * cols} target values (${rows} rows of ${cols})` +
    `${half && cols % 2 === 0 ? ` or ${rows * (cols / 2)} (half-width, as gaussianNll's)` : ''} but received ${show(n)}`);
}

/**
 * ERR_BLASNET_SHAPE when `pred` holds fewer than rows * cols values: a metric never reads past the
 * predictions (an undefined there scored as a wrong class, or NaN).
 */
function checkPredictions(name: string, pred: Float32Array, rows: number, cols: number): void {
  const n = typedLength(pred);
  if (n < rows * cols) throw rangeError(ErrorCode.SHAPE, `metrics: ${name}: Expected ${rows * cols} predictions (${rows} rows of ${cols}) but received ${show(n)}`);
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
 * A model's outputs as probabilities, by predictProba's rule: as they are, or, for logits, through
 * the softmax or sigmoid their loss fuses (on the backend's kernels, into a scratch buffer).
 */
class Probabilities {
  private scratch = new Float32Array(0);
  constructor(private readonly backend: Backend | null, private readonly kind: ScoreKind | null) {}
  of(pred: Float32Array, rows: number, cols: number): Float32Array {
    if (this.kind !== 'softmax' && this.kind !== 'sigmoid') return pred;
    if (this.scratch.length < rows * cols) this.scratch = new Float32Array(rows * cols);
    toProbabilities(this.backend ?? jsBackend, this.kind, rows, cols, pred, this.scratch);
    return this.scratch;
  }
}

/**
 * Fraction of rows whose predicted class is the target class (single-label classification). With
 * several outputs the predicted class is the largest output's, and the target class the label or
 * the largest target; with one output (binary classification) they are 1 when the probability
 * is above 0.5 (a logit above 0 under binaryCrossEntropy: predictClasses' rule) and when the
 * target is above 0.5 (or the label), as Keras's 'accuracy' becomes binary accuracy for one
 * output.
 * With a backend (fit's and evaluate's metrics) the rows' argmax is one backend.argmaxRows call:
 * the native one costs a microsecond a batch, where the same loop in JavaScript runs uncompiled
 * through a fresh process's first epoch.
 */
class Accuracy extends Mean {
  readonly name = 'accuracy';
  readonly higherIsBetter = true;
  private predicted = new Int32Array(0);
  private expected = new Int32Array(0);
  private readonly probabilities: Probabilities;
  constructor(private readonly backend: Backend | null = null, scores: ScoreKind | null = null) {
    super();
    this.probabilities = new Probabilities(backend, scores);
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    checkPredictions(this.name, pred, rows, cols);
    const labels = isLabels(target);
    if (labels) {
      // As the other metrics: a label outside the outputs (0 or 1 for one output) is refused.
      if (typedLength(target) < rows) throw rangeError(ErrorCode.SHAPE, `metrics: accuracy: Expected ${rows} labels but received ${typedLength(target)}`);
      const i = firstLabelOutside(target as Int32Array, rows, cols === 1 ? 2 : cols);
      if (i >= 0) labelAt(this.name, target as Int32Array, i, cols === 1 ? 2 : cols);
    } else {
      targetWidth(this.name, target as Float32Array, rows, cols, false);
    }
    if (cols === 1) {
      const p = this.probabilities.of(pred, rows, 1);
      let hits = 0;
      for (let r = 0; r < rows; r++) if ((p[r] > 0.5 ? 1 : 0) === (labels ? target[r] : target[r] > 0.5 ? 1 : 0)) hits++;
      this.sum += hits;
      this.count += rows;
      return;
    }
    // Labels, or one-hot or distribution targets as wide as the predictions (checked above).
    const b = this.backend;
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

/**
 * Fraction of rows whose target class (the label, or the largest target) is among the k largest
 * predictions. Labels outside [0, cols) are ERR_BLASNET_LABEL, float targets narrower than the
 * predictions ERR_BLASNET_SHAPE.
 */
class TopKAccuracy extends Mean {
  readonly name: string;
  readonly higherIsBetter = true;
  constructor(readonly k: number) {
    super();
    this.name = `top${k}Accuracy`;
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    checkPredictions(this.name, pred, rows, cols);
    const labels = isLabels(target);
    if (!labels) targetWidth(this.name, target as Float32Array, rows, cols, false);
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      const y = labels ? labelAt(this.name, target as Int32Array, r, cols) : argmaxRow(target as Float32Array, off, cols);
      const v = pred[off + y];
      // The target is in the top k when fewer than k classes score strictly higher. A row with a
      // NaN or infinite score is a miss, as TensorFlow's in_top_k counts it (a NaN compares
      // false with everything, so no class would ever score higher than a NaN target).
      let higher = 0, finite = true;
      for (let j = 0; j < cols; j++) {
        const p = pred[off + j];
        if (!Number.isFinite(p)) {
          finite = false;
          break;
        }
        if (p > v) higher++;
      }
      if (finite && higher < this.k) this.sum++;
    }
    this.count += rows;
  }
}

/**
 * The error between predictions and targets element by element, `err` per element, summed and
 * counted: float targets as wide as the predictions, or half as wide (gaussianNll: the mean
 * columns, the first half of each row, against the targets; the variances are not scored), or
 * Int32Array labels as their one-hot rows (with one output, the 0/1 class itself), so labels and
 * oneHot(labels) score alike.
 */
abstract class ElementError extends Mean {
  protected abstract err(d: number): number;
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    checkPredictions(this.name, pred, rows, cols);
    if (isLabels(target)) {
      for (let r = 0; r < rows; r++) {
        const off = r * cols;
        if (cols === 1) {
          this.sum += this.err(pred[r] - labelAt(this.name, target, r, 2));
          continue;
        }
        const y = labelAt(this.name, target, r, cols);
        for (let j = 0; j < cols; j++) this.sum += this.err(pred[off + j] - (j === y ? 1 : 0));
      }
      this.count += rows * cols;
      return;
    }
    const w = targetWidth(this.name, target, rows, cols, true);
    for (let r = 0; r < rows; r++) {
      const off = r * cols, toff = r * w;
      for (let j = 0; j < w; j++) this.sum += this.err(pred[off + j] - target[toff + j]);
    }
    this.count += rows * w;
  }
}

/** Mean squared error over every element (see ElementError for labels and half-width targets). */
class MeanSquaredError extends ElementError {
  readonly name = 'mse';
  readonly higherIsBetter = false;
  protected err(d: number): number {
    return d * d;
  }
}

/** Mean absolute error over every element (see ElementError for labels and half-width targets). */
class MeanAbsoluteError extends ElementError {
  readonly name = 'mae';
  readonly higherIsBetter = false;
  protected err(d: number): number {
    return Math.abs(d);
  }
}

/**
 * Fraction of elements where (probability > threshold) equals (target > 0.5); default threshold
 * 0.5. The threshold applies to probabilities: a logits model's outputs go through the sigmoid
 * or softmax its loss fuses first (predictProba's rule), so under binaryCrossEntropy the default
 * counts a logit above 0 as 1 (Keras's BinaryAccuracy thresholds the outputs as they are and
 * wants threshold 0 for logits). Int32Array labels count as their one-hot rows, so labels and
 * oneHot(labels) score alike; with two softmax outputs that is the accuracy. With one output a
 * label is the 0/1 class (as 'accuracy' reads it). Float targets narrower than the predictions
 * are ERR_BLASNET_SHAPE.
 */
class BinaryAccuracy extends Mean {
  readonly name = 'binaryAccuracy';
  readonly higherIsBetter = true;
  private readonly probabilities: Probabilities;
  constructor(readonly threshold: number, backend: Backend | null = null, scores: ScoreKind | null = null) {
    super();
    this.probabilities = new Probabilities(backend, scores);
  }
  update(pred: Float32Array, rows: number, cols: number, target: Float32Array | Int32Array): void {
    checkPredictions(this.name, pred, rows, cols);
    const p = this.probabilities.of(pred, rows, cols);
    const t = this.threshold;
    let hits = 0;
    if (isLabels(target)) {
      for (let r = 0; r < rows; r++) {
        // One output: the label is the 0/1 class; several: the index of the row's 1.
        if (cols === 1) {
          if ((p[r] > t) === (labelAt(this.name, target, r, 2) === 1)) hits++;
          continue;
        }
        const label = labelAt(this.name, target, r, cols), off = r * cols;
        for (let j = 0; j < cols; j++) if ((p[off + j] > t) === (j === label)) hits++;
      }
    } else {
      targetWidth(this.name, target, rows, cols, false);
      const n = rows * cols;
      for (let i = 0; i < n; i++) if ((p[i] > t) === (target[i] > 0.5)) hits++;
    }
    this.sum += hits;
    this.count += rows * cols;
  }
}

/**
 * Builds a metric from its spec. Its class metrics take predictions for probabilities; fit's and
 * evaluate's also read a logits model's outputs (crossEntropy or binaryCrossEntropy without an
 * output activation) as the probabilities predictProba gives.
 */
export function createMetric(spec: MetricSpec): Metric {
  return metricOn(spec, null);
}

/**
 * createMetric for a model's outputs: the built-in metrics that have kernels run them on `backend`
 * (the model's), and the class metrics read logits (`scores`, lib/predict's scoreKind of the
 * model) as probabilities. createMetric's metrics take the outputs for probabilities.
 */
export function metricOn(spec: MetricSpec, backend: Backend | null, scores: ScoreKind | null = null): Metric {
  if (typeof spec === 'object' && spec !== null && typeof (spec as Metric).update === 'function') return spec as Metric;
  if (spec === 'accuracy') return new Accuracy(backend, scores);
  if (spec === 'mse') return new MeanSquaredError();
  if (spec === 'mae') return new MeanAbsoluteError();
  if (spec === 'binaryAccuracy') return new BinaryAccuracy(0.5, backend, scores);
  if (typeof spec === 'object' && spec !== null) {
    const s = spec as { name?: unknown; k?: unknown; threshold?: unknown };
    if (s.name === 'topKAccuracy') {
      checkOptionKeys('metrics', s, { name: true, k: true });
      if (!Number.isInteger(s.k) || (s.k as number) < 1) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected positive integer for k but received ${show(s.k)}`);
      }
      return new TopKAccuracy(s.k as number);
    }
    if (s.name === 'binaryAccuracy') {
      checkOptionKeys('metrics', s, { name: true, threshold: true });
      if (typeof s.threshold !== 'number' || !Number.isFinite(s.threshold)) {
        throw rangeError(ErrorCode.ARG_RANGE, `metrics: Expected finite number for threshold but received ${show(s.threshold)}`);
      }
      return new BinaryAccuracy(s.threshold, backend, scores);
    }
  }
  throw rangeError(ErrorCode.UNKNOWN_NAME,
    `metrics: Unknown metric ${show(spec)}; expected 'accuracy', 'mse', 'mae', 'binaryAccuracy', { name: 'topKAccuracy', k } or an object with update()`);
}
