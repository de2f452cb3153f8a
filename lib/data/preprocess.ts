/**
 * Preprocessing: one-hot targets, and column transforms that are fitted on training data, applied
 * to any data with the same columns, and saved with a model (toJSON / fromJSON) so that predict
 * sees exactly the transform training saw.
 *
 * Every transform checks at fit time that x is a Matrix with rows and columns (ERR_BLASNET_SHAPE)
 * and only finite values (ERR_BLASNET_DATA, naming the row and column, numbered from 1); transform
 * checks the column count (ERR_BLASNET_SHAPE) but does not scan for NaN, which it would pass
 * through. Fitting statistics are accumulated in float64.
 */
import { checkBackendOption, defaultBackend, getBackend } from '../backend/select';
import type { BackendName } from '../backend/select';
import type { Backend } from '../backend/types';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { Matrix } from '../tensor';
import { typedArrayTag, typedBuffer, typedByteOffset } from '../typed';
import { newFloat32Array } from '../backend/memory';
import { allFinite, bool, finite, matrix, options as checkOptions, positiveInt, refuseDetached, show } from './check';
import { symmetricEigen } from './eigen';
import { UNRECORDED_ROWS, withinRounding } from './rounding';

/**
 * One-hot encoding: a [labels.length, classes] matrix with out[i, labels[i]] = 1 and 0 elsewhere,
 * written into `out` when given (which must be [labels.length, classes]). A label that is not an
 * integer in [0, classes) is ERR_BLASNET_LABEL, naming its index.
 */
export function oneHot(labels: Int32Array | ArrayLike<number>, classes: number, out?: Matrix): Matrix {
  const fn = 'oneHot';
  positiveInt(fn, 'classes', classes);
  if (!(typedArrayTag(labels) !== undefined || Array.isArray(labels))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Int32Array or array of labels but received ${show(labels)}`);
  }
  refuseDetached(fn, 'labels', labels);
  const n = labels.length;
  // Each label is read once, checked and used as read: on a SharedArrayBuffer another thread may
  // change it between the pass that checks all (so a bad label leaves `out` alone) and the writes.
  const labelAt = (i: number): number => {
    const l = labels[i];
    if (!(Number.isInteger(l) && l >= 0 && l < classes)) {
      throw rangeError(ErrorCode.LABEL, `${fn}: labels[${i}] = ${show(l)} is not a class in [0, ${classes})`);
    }
    return l;
  };
  for (let i = 0; i < n; i++) labelAt(i);
  const result = out === undefined ? new Matrix(newFloat32Array(n * classes, { where: fn }), n, classes) : checkOut(fn, out, n, classes);
  if (out !== undefined) result.data.fill(0, 0, n * classes);
  for (let i = 0; i < n; i++) result.data[i * classes + labelAt(i)] = 1;
  return result;
}

/** `out` must be a Matrix [rows, cols]. */
function checkOut(fn: string, out: unknown, rows: number, cols: number): Matrix {
  const m = matrix(fn, 'out', out);
  if (m.rows !== rows || m.cols !== cols) {
    throw rangeError(ErrorCode.SHAPE, `${fn}: Expected out of shape [${rows}, ${cols}] but received [${m.rows}, ${m.cols}]`);
  }
  return m;
}

/** x for fitting: a Matrix with at least `minRows` rows and one column, all finite. */
function fitInput(fn: string, x: unknown, minRows = 1): Matrix {
  const m = matrix(fn, 'x', x);
  if (m.rows < minRows || m.cols < 1) {
    throw rangeError(ErrorCode.SHAPE, `${fn}: Expected x with at least ${minRows} row${minRows > 1 ? 's' : ''} and 1 column but received [${m.rows}, ${m.cols}]`);
  }
  allFinite(fn, 'x', m);
  return m;
}

/** x for transform: a Matrix with the fitted column count. */
function transformInput(fn: string, x: unknown, cols: number): Matrix {
  const m = matrix(fn, 'x', x);
  if (m.cols !== cols) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected x with ${cols} columns (as fitted) but received [${m.rows}, ${m.cols}]`);
  return m;
}

function notFitted(fn: string): BlasnetError {
  return new BlasnetError(ErrorCode.STATE, `${fn}: not fitted; call fit(x) first`);
}

/** A saved transform that does not parse: ERR_BLASNET_FORMAT. */
function formatError(type: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.FORMAT, `${type}.fromJSON: ${message}`);
}

/** A JSON field that must be an array of `length` finite numbers. */
function numbers(type: string, json: Record<string, unknown>, key: string, length: number): Float64Array {
  const v = json[key] as ArrayLike<number> | undefined;
  if (!(Array.isArray(v) || typedArrayTag(v) !== undefined) || (v as ArrayLike<number>).length !== length) {
    throw formatError(type, `Expected ${key} to be an array of ${length} numbers`);
  }
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const x = (v as ArrayLike<number>)[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw formatError(type, `${key}[${i}] is ${show(x)}; expected a finite number`);
    out[i] = x;
  }
  return out;
}

function jsonObject(type: string, json: unknown): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || (json as { type?: unknown }).type !== type) {
    throw formatError(type, `Expected an object with type ${JSON.stringify(type)} (from ${type}.toJSON())`);
  }
  return json as Record<string, unknown>;
}

function jsonCols(type: string, json: Record<string, unknown>): number {
  const c = json.cols;
  if (!(typeof c === 'number' && Number.isInteger(c) && c >= 1)) throw formatError(type, 'Expected cols to be a positive integer');
  return c;
}

/** Column means (float64) of x. */
function columnMeans(x: Matrix): Float64Array {
  const { rows, cols, data } = x;
  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  return mean;
}

/** out[i, j] = (x[i, j] - shift[j]) * factor[j] + offset, rounded to float32 once. */
function affineColumns(x: Matrix, out: Matrix, shift: Float64Array, factor: Float64Array, offset: number): void {
  const { rows, cols } = x;
  const src = x.data, dst = out.data;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) dst[o + j] = (src[o + j] - shift[j]) * factor[j] + offset;
  }
}

/** What Standardizer.toJSON returns. */
export interface StandardizerJSON {
  type: 'Standardizer';
  cols: number;
  mean: number[];
  std: number[];
  /** The delta degrees of freedom std was fitted with; absent (files before it existed) means 0. */
  ddof?: 0 | 1;
  /**
   * The rows the mean and std were fitted on, which bound their rounding noise (see Standardizer).
   * Absent in files written before it was recorded.
   */
  rows?: number;
}

/** Options of Standardizer. */
export interface StandardizerOptions {
  /**
   * Delta degrees of freedom of the standard deviation: 0 (default) divides the squared
   * deviations by n, the population standard deviation of scikit-learn's StandardScaler and
   * numpy's std; 1 divides by n - 1, the sample standard deviation of the lecture notes (and
   * torch.std's default). With ddof 1, fit needs at least two rows.
   */
  ddof?: 0 | 1;
}

/**
 * Standardisation per column, z = (x - mean) / std, with the mean and the standard deviation
 * std = sqrt(sum((x - mean)^2) / (n - ddof)) of the data given to fit: ddof 0 (default) is the
 * population standard deviation of scikit-learn's StandardScaler, ddof 1 the notes' sample one.
 * A column constant in the fitted data is only centred: its divisor is 1 instead of 0, so it maps
 * to 0 rather than NaN. That includes a std within the rounding error the float64 mean of the n
 * fitted rows can carry, n * eps * |mean|, the bound scikit-learn's StandardScaler and
 * TabularPreprocessor use: its std is set to 0. (A constant float32 column sums exactly in
 * float64, so its std is 0 anyway; the bound catches a column that differs from a constant only at
 * float32 resolution in a few of very many rows.) fromJSON applies the same rule to the stored
 * std, with the recorded row count or, for a file from before it was recorded, 2^24 rows (a std
 * up to about 4e-9 * |mean|), so a stored std of rounding noise (about 1e-15 for a column of 0.1,
 * which would turn 0.11 into about 7e12) loads as a constant column.
 */
export class Standardizer {
  /** The delta degrees of freedom of std (see StandardizerOptions). */
  readonly ddof: 0 | 1;
  /** The fitted column means, or null before fit. */
  mean: Float64Array | null = null;
  /** The fitted standard deviations (0 for constant columns), or null before fit. */
  std: Float64Array | null = null;
  private inv: Float64Array | null = null;
  /** The fitted rows (undefined when read from a file that did not record them). */
  private rows: number | undefined;

  constructor(options?: StandardizerOptions) {
    const ddof = checkOptions('Standardizer', options, { ddof: true }).ddof ?? 0;
    if (ddof !== 0 && ddof !== 1) {
      throw rangeError(ErrorCode.ARG_RANGE, `Standardizer: Expected 0 or 1 for options.ddof but received ${show(ddof)}`);
    }
    this.ddof = ddof;
  }

  /** Learns the mean and standard deviation of each column of x (two passes, float64). */
  fit(x: Matrix): this {
    const m = fitInput('Standardizer.fit', x, this.ddof + 1);
    const { rows, cols, data } = m;
    const mean = columnMeans(m);
    const std = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) {
        const d = data[o + j] - mean[j];
        std[j] += d * d;
      }
    }
    for (let j = 0; j < cols; j++) std[j] = Math.sqrt(std[j] / (rows - this.ddof));
    this.set(mean, std, rows);
    return this;
  }

  /** Installs the statistics of `rows` rows (undefined: unrecorded), with std of rounding noise set to 0. */
  private set(mean: Float64Array, std: Float64Array, rows: number | undefined): void {
    const n = rows ?? UNRECORDED_ROWS;
    for (let j = 0; j < std.length; j++) if (withinRounding(std[j], mean[j], n)) std[j] = 0;
    this.mean = mean;
    this.std = std;
    this.rows = rows;
    this.inv = std.map((s) => (s === 0 ? 1 : 1 / s));
  }

  /**
   * (x - mean) / std per column, into `out` (a Matrix of x's shape; may be x itself) or a new
   * Matrix. Allocates nothing when out is given.
   */
  transform(x: Matrix, out?: Matrix): Matrix {
    const fn = 'Standardizer.transform';
    if (!this.mean || !this.inv) throw notFitted(fn);
    const m = transformInput(fn, x, this.mean.length);
    const o = out === undefined ? Matrix.zeros(m.rows, m.cols) : checkOut(fn, out, m.rows, m.cols);
    affineColumns(m, o, this.mean, this.inv, 0);
    return o;
  }

  /** fit(x), then transform(x, out). */
  fitTransform(x: Matrix, out?: Matrix): Matrix {
    return this.fit(x).transform(x, out);
  }

  /** The fitted state as plain JSON (numbers survive JSON.stringify exactly). */
  toJSON(): StandardizerJSON {
    if (!this.mean || !this.std) throw notFitted('Standardizer.toJSON');
    return {
      type: 'Standardizer', cols: this.mean.length, mean: Array.from(this.mean), std: Array.from(this.std), ddof: this.ddof,
      ...(this.rows !== undefined ? { rows: this.rows } : {}),
    };
  }

  /**
   * A Standardizer from toJSON()'s output; malformed input is ERR_BLASNET_FORMAT. A stored std
   * within the rounding error of its mean (fit's constant-column rule, with the recorded row
   * count, or 2^24 rows for a file from before it was recorded) is read as a constant column's 0.
   */
  static fromJSON(json: unknown): Standardizer {
    const t = 'Standardizer';
    const o = jsonObject(t, json);
    const cols = jsonCols(t, o);
    const mean = numbers(t, o, 'mean', cols);
    const std = numbers(t, o, 'std', cols);
    if (std.some((s) => s < 0)) throw formatError(t, 'std has a negative entry');
    const ddof = o.ddof ?? 0;
    if (ddof !== 0 && ddof !== 1) throw formatError(t, `ddof must be 0 or 1, not ${show(ddof)}`);
    const rows = o.rows;
    if (rows !== undefined && !(typeof rows === 'number' && Number.isSafeInteger(rows) && rows > ddof)) {
      throw formatError(t, `rows must be an integer above ddof (${ddof}), not ${show(rows)}`);
    }
    const s = new Standardizer({ ddof });
    s.set(mean, std, rows);
    return s;
  }
}

/** Options of MinMaxScaler. */
export interface MinMaxOptions {
  /** The target interval [low, high], low < high. Default [0, 1]. */
  range?: [number, number];
}

/** What MinMaxScaler.toJSON returns. */
export interface MinMaxScalerJSON {
  type: 'MinMaxScaler';
  cols: number;
  range: [number, number];
  min: number[];
  max: number[];
}

/**
 * Min-max scaling per column to [low, high] (default [0, 1]):
 * y = low + (x - min) * (high - low) / (max - min), with the min and max of the data given to fit.
 * A constant column (max = min) maps to low. Data outside the fitted range maps outside
 * [low, high]; nothing is clipped.
 */
export class MinMaxScaler {
  /** The target interval. */
  readonly range: [number, number];
  /** The fitted column minima, or null before fit. */
  min: Float64Array | null = null;
  /** The fitted column maxima, or null before fit. */
  max: Float64Array | null = null;
  private factor: Float64Array | null = null;

  constructor(options?: MinMaxOptions) {
    const fn = 'MinMaxScaler';
    const range = checkOptions(fn, options, { range: true }).range ?? [0, 1];
    if (!Array.isArray(range) || range.length !== 2) {
      throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected [low, high] for options.range but received ${show(range)}`);
    }
    const lo = finite(fn, 'options.range[0]', range[0]);
    const hi = finite(fn, 'options.range[1]', range[1]);
    if (!(lo < hi)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected options.range[0] < options.range[1] but received [${lo}, ${hi}]`);
    this.range = [lo, hi];
  }

  /** Learns each column's minimum and maximum. */
  fit(x: Matrix): this {
    const m = fitInput('MinMaxScaler.fit', x);
    const { rows, cols, data } = m;
    const min = new Float64Array(cols).fill(Infinity);
    const max = new Float64Array(cols).fill(-Infinity);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) {
        const v = data[o + j];
        if (v < min[j]) min[j] = v;
        if (v > max[j]) max[j] = v;
      }
    }
    this.set(min, max);
    return this;
  }

  private set(min: Float64Array, max: Float64Array): void {
    const [lo, hi] = this.range;
    this.min = min;
    this.max = max;
    this.factor = min.map((v, j) => (max[j] > v ? (hi - lo) / (max[j] - v) : 0));
  }

  /** The scaled x, into `out` (x's shape; may be x itself) or a new Matrix. Allocates nothing when out is given. */
  transform(x: Matrix, out?: Matrix): Matrix {
    const fn = 'MinMaxScaler.transform';
    if (!this.min || !this.factor) throw notFitted(fn);
    const m = transformInput(fn, x, this.min.length);
    const o = out === undefined ? Matrix.zeros(m.rows, m.cols) : checkOut(fn, out, m.rows, m.cols);
    affineColumns(m, o, this.min, this.factor, this.range[0]);
    return o;
  }

  /** fit(x), then transform(x, out). */
  fitTransform(x: Matrix, out?: Matrix): Matrix {
    return this.fit(x).transform(x, out);
  }

  /** The fitted state as plain JSON. */
  toJSON(): MinMaxScalerJSON {
    if (!this.min || !this.max) throw notFitted('MinMaxScaler.toJSON');
    return { type: 'MinMaxScaler', cols: this.min.length, range: [this.range[0], this.range[1]], min: Array.from(this.min), max: Array.from(this.max) };
  }

  /** A MinMaxScaler from toJSON()'s output; malformed input is ERR_BLASNET_FORMAT. */
  static fromJSON(json: unknown): MinMaxScaler {
    const t = 'MinMaxScaler';
    const o = jsonObject(t, json);
    const cols = jsonCols(t, o);
    const range = numbers(t, o, 'range', 2);
    if (!(range[0] < range[1])) throw formatError(t, 'range must have low < high');
    const min = numbers(t, o, 'min', cols);
    const max = numbers(t, o, 'max', cols);
    if (min.some((v, j) => v > max[j])) throw formatError(t, 'min exceeds max in some column');
    const s = new MinMaxScaler({ range: [range[0], range[1]] });
    s.set(min, max);
    return s;
  }
}

/** Options of PCA. */
export interface PCAOptions {
  /** How many principal components to keep (k), 1..columns. Default: all columns. */
  components?: number;
  /**
   * Divide each projection by sqrt(eigenvalue + eps), for unit variance. Default false. A direction
   * with eigenvalue + eps = 0 is mapped to 0.
   */
  whiten?: boolean;
  /** Added to the eigenvalues before whitening, so near-zero directions are not blown up. Default 1e-5. */
  eps?: number;
  /** The backend whose gemm computes the covariance and the projections. Default defaultBackend(). */
  backend?: Backend | BackendName;
}

/** What PCA.toJSON returns. */
export interface PCAJSON {
  type: 'PCA';
  cols: number;
  components: number;
  whiten: boolean;
  eps: number;
  mean: number[];
  /** [components, cols] row-major: the principal axes. */
  axes: number[];
  explainedVariance: number[];
  explainedVarianceRatio: number[];
}

// Rows per gemm call when building the covariance or projecting: bounds the centred scratch to
// about 16 MB whatever the data size.
const CHUNK_ELEMENTS = 1 << 22;

/**
 * Principal component analysis. fit centres x (column means, float64), computes the sample
 * covariance C = Xc^T Xc / (n - 1) (as scikit-learn; gemm(true, false, ...) on the backend, float32,
 * in row chunks), eigendecomposes it in float64 (symmetricEigen: O(d^3), 1.5 to 2 s for
 * d = 784), and keeps the k = `components` eigenvectors with the largest eigenvalues.
 * transform projects: y = (x - mean) V_k^T, and with `whiten` y_j /= sqrt(lambda_j + eps), which
 * gives the fitted data unit (sample) variance along every kept axis.
 * Each axis's sign is fixed so that its largest-magnitude entry is positive. Eigenvalues below 0
 * (rounding noise of a singular covariance) are reported as 0.
 */
export class PCA {
  /** k, or null before fit when no `components` option was given. */
  private k: number | null;
  /** Whether transform whitens. */
  readonly whiten: boolean;
  /** The whitening epsilon. */
  readonly eps: number;
  /** The fitted column means, or null before fit. */
  mean: Float64Array | null = null;
  /** The principal axes [k, cols] (unit rows, largest variance first), or null before fit. */
  components: Matrix | null = null;
  /** The variance along each kept axis (the covariance's eigenvalues, largest first). */
  explainedVariance: Float64Array | null = null;
  /** Each kept axis's share of the total variance (trace of the covariance). */
  explainedVarianceRatio: Float64Array | null = null;
  private backendOption: Backend | BackendName | undefined;
  private meanF32: Float32Array | null = null;
  private post: Float32Array | null = null;
  private scratch: Float32Array | null = null;

  constructor(options?: PCAOptions) {
    const fn = 'PCA';
    const o = checkOptions(fn, options, { components: true, whiten: true, eps: true, backend: true });
    this.k = o.components === undefined ? null : positiveInt(fn, 'options.components', o.components);
    this.whiten = bool(fn, 'options.whiten', o.whiten ?? false);
    this.eps = finite(fn, 'options.eps', o.eps ?? 1e-5);
    if (this.eps < 0) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected non-negative number for options.eps but received ${this.eps}`);
    checkBackendOption(fn, o.backend);
    this.backendOption = o.backend;
  }

  /** The number of kept components (k), or null before fit when not given. */
  get nComponents(): number | null {
    return this.k;
  }

  private get backend(): Backend {
    const b = this.backendOption;
    if (b === undefined) return defaultBackend();
    return typeof b === 'string' ? getBackend(b) : b;
  }

  /**
   * Fits the principal axes of x (at least 2 rows). Cost: O(n d^2) for the covariance on the
   * backend's gemm plus O(d^3) for the eigendecomposition in JavaScript (float64).
   */
  fit(x: Matrix): this {
    const fn = 'PCA.fit';
    const m = fitInput(fn, x, 2);
    const { rows, cols, data } = m;
    if (this.k !== null && this.k > cols) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: options.components = ${this.k} exceeds the ${cols} columns of x`);
    }
    const k = this.k ?? cols;
    const mean = columnMeans(m);
    const meanF32 = Float32Array.from(mean);
    // The centred rows are scaled by a power of two that brings the largest |x| near 1, so that
    // their float32 products neither underflow (data of 1e-25: a covariance of zeros) nor
    // overflow (a column of 1e20: Infinity); a power of two changes no bit of the result
    // otherwise, and the float64 covariance takes the scale back.
    let largest = 0;
    for (let i = 0; i < rows * cols; i++) {
      const v = Math.abs(data[i]);
      if (v > largest) largest = v;
    }
    const exponent = largest > 0 ? Math.floor(Math.log2(largest)) : 0;
    const scale = 2 ** -exponent, unscale = 2 ** (2 * exponent);
    const chunk = Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / cols)));
    const xc = newFloat32Array(chunk * cols, { where: 'PCA.fit', what: 'the centred rows' });
    const cov = newFloat32Array(cols * cols, { where: 'PCA.fit', what: `the ${cols} x ${cols} covariance` });
    const b = this.backend;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      centre(data, r0, r1, cols, mean, xc, scale);
      // C += Xc_chunk^T Xc_chunk / (n - 1); the first chunk overwrites.
      b.gemm(true, false, cols, cols, r1 - r0, 1 / (rows - 1), xc, xc, r0 === 0 ? 0 : 1, cov);
    }
    // The BLAS may round the two triangles differently; average them into a symmetric float64 matrix.
    const c64 = new Float64Array(cols * cols);
    let trace = 0;
    for (let i = 0; i < cols; i++) {
      trace += cov[i * cols + i] * unscale;
      for (let j = 0; j <= i; j++) c64[i * cols + j] = c64[j * cols + i] = ((cov[i * cols + j] + cov[j * cols + i]) / 2) * unscale;
    }
    const { values, vectors } = symmetricEigen(c64, cols);
    const variance = new Float64Array(k);
    const ratio = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      variance[j] = Math.max(0, values[j]);
      ratio[j] = trace > 0 ? variance[j] / trace : 0;
    }
    this.install(cols, k, mean, meanF32, Float32Array.from(vectors.subarray(0, k * cols)), variance, ratio);
    return this;
  }

  private install(cols: number, k: number, mean: Float64Array, meanF32: Float32Array, axes: Float32Array,
    variance: Float64Array, ratio: Float64Array): void {
    this.k = k;
    this.mean = mean;
    this.meanF32 = meanF32;
    this.components = new Matrix(axes, k, cols);
    this.explainedVariance = variance;
    this.explainedVarianceRatio = ratio;
    // A direction with no variance at all (and eps 0) is mapped to 0 rather than 0 * Infinity = NaN.
    this.post = this.whiten ? Float32Array.from(variance, (v) => (v + this.eps > 0 ? 1 / Math.sqrt(v + this.eps) : 0)) : null;
    this.scratch = null;
  }

  /**
   * Projects x onto the k kept axes: [x.rows, k], into `out` or a new Matrix. out must not
   * overlap x. The centred rows go through a scratch buffer kept between calls (grown to at most
   * about 16 MB), so repeated calls with out allocate nothing once it is big enough.
   */
  transform(x: Matrix, out?: Matrix): Matrix {
    const fn = 'PCA.transform';
    if (!this.mean || !this.meanF32 || !this.components || this.k === null) throw notFitted(fn);
    const cols = this.mean.length, k = this.k;
    const m = transformInput(fn, x, cols);
    const rows = m.rows;
    const o = out === undefined ? Matrix.zeros(rows, k) : checkOut(fn, out, rows, k);
    if (rows === 0) return o;
    if (overlaps(m.data, rows * cols, o.data, rows * k)) {
      throw rangeError(ErrorCode.ALIAS, `${fn}: out must not share memory with x`);
    }
    const chunk = Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / cols)));
    if (!this.scratch || this.scratch.length < chunk * cols) this.scratch = new Float32Array(chunk * cols);
    const xc = this.scratch;
    const b = this.backend;
    const axes = this.components.data;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      centreF32(m.data, r0, r1, cols, this.meanF32, xc);
      // Only a transform bigger than one chunk needs views; a batch-sized call writes out directly.
      const dst = r0 === 0 ? o.data : o.data.subarray(r0 * k, r1 * k);
      b.gemm(false, true, r1 - r0, k, cols, 1, xc, axes, 0, dst);
    }
    const post = this.post;
    if (post) {
      const d = o.data;
      for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) d[i * k + j] *= post[j];
    }
    return o;
  }

  /** fit(x), then transform(x, out). */
  fitTransform(x: Matrix, out?: Matrix): Matrix {
    return this.fit(x).transform(x, out);
  }

  /** The fitted state as plain JSON (the axes as float32 values, exact). */
  toJSON(): PCAJSON {
    if (!this.mean || !this.components || !this.explainedVariance || !this.explainedVarianceRatio || this.k === null) {
      throw notFitted('PCA.toJSON');
    }
    return {
      type: 'PCA',
      cols: this.mean.length,
      components: this.k,
      whiten: this.whiten,
      eps: this.eps,
      mean: Array.from(this.mean),
      axes: Array.from(this.components.data),
      explainedVariance: Array.from(this.explainedVariance),
      explainedVarianceRatio: Array.from(this.explainedVarianceRatio),
    };
  }

  /**
   * A PCA from toJSON()'s output, on `backend` (default defaultBackend()); malformed input is
   * ERR_BLASNET_FORMAT.
   */
  static fromJSON(json: unknown, backend?: Backend | BackendName): PCA {
    const t = 'PCA';
    const o = jsonObject(t, json);
    const cols = jsonCols(t, o);
    const k = o.components;
    if (!(typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= cols)) throw formatError(t, `Expected components to be an integer in [1, ${cols}]`);
    if (typeof o.whiten !== 'boolean') throw formatError(t, 'Expected whiten to be a boolean');
    if (!(typeof o.eps === 'number' && o.eps >= 0 && Number.isFinite(o.eps))) throw formatError(t, 'Expected eps to be a non-negative number');
    const mean = numbers(t, o, 'mean', cols);
    const axes = Float32Array.from(numbers(t, o, 'axes', k * cols));
    const variance = numbers(t, o, 'explainedVariance', k);
    const ratio = numbers(t, o, 'explainedVarianceRatio', k);
    const p = new PCA({ components: k, whiten: o.whiten, eps: o.eps, backend });
    p.install(cols, k, mean, Float32Array.from(mean), axes, variance, ratio);
    return p;
  }
}

/** xc[r - r0, :] = x[r, :] - mean for rows r0..r1 (fit: float64 means). */
function centre(x: Float32Array, r0: number, r1: number, cols: number, mean: Float64Array, xc: Float32Array, scale = 1): void {
  for (let r = r0, d = 0; r < r1; r++) {
    const s = r * cols;
    for (let j = 0; j < cols; j++, d++) xc[d] = (x[s + j] - mean[j]) * scale;
  }
}

/** As centre, with the means as float32 (transform's hot loop). */
function centreF32(x: Float32Array, r0: number, r1: number, cols: number, mean: Float32Array, xc: Float32Array): void {
  for (let r = r0, d = 0; r < r1; r++) {
    const s = r * cols;
    for (let j = 0; j < cols; j++, d++) xc[d] = x[s + j] - mean[j];
  }
}

/** Whether the leading na elements of a and nb of b share memory. */
function overlaps(a: Float32Array, na: number, b: Float32Array, nb: number): boolean {
  if (typedBuffer(a) !== typedBuffer(b) || na === 0 || nb === 0) return false;
  const a0 = typedByteOffset(a), b0 = typedByteOffset(b);
  return a0 < b0 + nb * 4 && b0 < a0 + na * 4;
}

/** Any fitted transform (Standardizer, MinMaxScaler, PCA). */
export type Preprocessor = Standardizer | MinMaxScaler | PCA;

/**
 * Rebuilds a transform from its toJSON() output, dispatching on `type`; unknown types are
 * ERR_BLASNET_FORMAT. `backend` is used by PCA.
 */
export function preprocessorFromJSON(json: unknown, backend?: Backend | BackendName): Preprocessor {
  const type = json !== null && typeof json === 'object' ? (json as { type?: unknown }).type : undefined;
  switch (type) {
    case 'Standardizer': return Standardizer.fromJSON(json);
    case 'MinMaxScaler': return MinMaxScaler.fromJSON(json);
    case 'PCA': return PCA.fromJSON(json, backend);
    default:
      throw new BlasnetError(ErrorCode.FORMAT, `preprocessorFromJSON: unknown preprocessor type ${show(type)}; expected "Standardizer", "MinMaxScaler" or "PCA"`);
  }
}
