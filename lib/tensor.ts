import { ErrorCode, rangeError, typeError } from './errors';
import { show } from './describe';
import { argmaxRow } from './math';
import { isDetached, typedArrayTag, typedLength } from './typed';
import { newFloat32Array } from './backend/memory';

/**
 * A row-major float32 matrix: `rows` samples of `cols` features in one Float32Array.
 * The data may be longer than rows * cols (a view into a bigger workspace); only the leading
 * rows * cols elements belong to the matrix.
 */
export class Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;

  constructor(data: Float32Array, rows: number, cols: number) {
    if (typedArrayTag(data) !== 'Float32Array') {
      throw typeError(ErrorCode.ARG_TYPE, `Matrix: Expected Float32Array for data but received ${describe(data)}`);
    }
    for (const [name, v] of [['rows', rows], ['cols', cols]] as const) {
      if (!(Number.isInteger(v) && v >= 0)) {
        throw rangeError(ErrorCode.ARG_RANGE, `Matrix: Expected non-negative integer for ${name} but received ${show(v)}`);
      }
    }
    if (typedLength(data) < rows * cols) {
      if (isDetached(data)) throw typeError(ErrorCode.DETACHED, 'Matrix: data is backed by a detached ArrayBuffer');
      throw rangeError(ErrorCode.ARG_LENGTH,
        `Matrix: Expected data to hold at least ${rows * cols} elements (rows*cols) but it has ${typedLength(data)}`);
    }
    this.data = data;
    this.rows = rows;
    this.cols = cols;
  }

  /** A zero matrix. */
  static zeros(rows: number, cols: number): Matrix {
    for (const [name, v] of [['rows', rows], ['cols', cols]] as const) {
      if (!(Number.isInteger(v) && v >= 0)) {
        throw rangeError(ErrorCode.ARG_RANGE, `Matrix.zeros: Expected non-negative integer for ${name} but received ${show(v)}`);
      }
    }
    return new Matrix(newFloat32Array(rows * cols, { where: 'Matrix.zeros' }), rows, cols);
  }

  /**
   * A matrix from rows of numbers; every row must have the same length. Errors name the bad value
   * by its index in `rows` (`rows[2][0]`).
   */
  static from(rows: ArrayLike<ArrayLike<number>>): Matrix {
    const isArrayLike = (v: unknown): v is ArrayLike<unknown> => typeof v === 'object' && v !== null && Number.isSafeInteger((v as ArrayLike<unknown>).length) && (v as ArrayLike<unknown>).length >= 0;
    if (!isArrayLike(rows)) throw typeError(ErrorCode.ARG_TYPE, `Matrix.from: Expected an array of rows but received ${describe(rows)}`);
    const r = rows.length;
    const c = r === 0 ? 0 : isArrayLike(rows[0]) ? rows[0].length : 0;
    const data = newFloat32Array(r * c, { where: 'Matrix.from' });
    for (let i = 0; i < r; i++) {
      const row = rows[i];
      if (!isArrayLike(row)) throw typeError(ErrorCode.ARG_TYPE, `Matrix.from: Expected an array of numbers for rows[${i}] but received ${describe(row)}`);
      if (row.length !== c) {
        throw rangeError(ErrorCode.SHAPE, `Matrix.from: rows[${i}] has ${row.length} values but rows[0] has ${c}`);
      }
      for (let j = 0; j < c; j++) {
        const v = row[j];
        // Anything else would be converted on the way in, some things (a BigInt) not at all.
        if (typeof v !== 'number') throw typeError(ErrorCode.ARG_TYPE, `Matrix.from: Expected a number at rows[${i}][${j}] but received ${describe(v)}`);
        data[i * c + j] = v;
      }
    }
    return new Matrix(data, r, c);
  }

  /** Element (i, j); an index outside the matrix is ERR_BLASNET_INDEX. */
  get(i: number, j: number): number {
    held('Matrix.get', 'the Matrix', this);
    index('get', 'i', i, this.rows);
    index('get', 'j', j, this.cols);
    return this.data[i * this.cols + j];
  }

  /** Row i as a new array of numbers; i outside [0, rows) is ERR_BLASNET_INDEX. */
  row(i: number): number[] {
    held('Matrix.row', 'the Matrix', this);
    index('row', 'i', i, this.rows);
    return Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols));
  }

  /** The rows as arrays of numbers. */
  toArray(): number[][] {
    held('Matrix.toArray', 'the Matrix', this);
    return Array.from({ length: this.rows }, (_, i) => this.row(i));
  }

  /** A copy that owns exactly rows * cols elements. */
  clone(): Matrix {
    held('Matrix.clone', 'the Matrix', this);
    return new Matrix(this.data.slice(0, this.rows * this.cols), this.rows, this.cols);
  }

  /** Index of the largest value of each row (first on ties). */
  argmax(): Int32Array {
    held('Matrix.argmax', 'the Matrix', this);
    const out = new Int32Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = argmaxRow(this.data, i * this.cols, this.cols);
    return out;
  }
}

/**
 * A Matrix's data must still hold its rows: a resizable buffer can shrink, and a buffer be
 * detached, after the Matrix was made. ERR_BLASNET_DETACHED or ERR_BLASNET_ARG_LENGTH naming it
 * (`name`) in `fn`'s message.
 */
export function held(fn: string, name: string, m: Matrix): void {
  const n = typedLength(m.data);
  if (n >= m.rows * m.cols) return;
  if (isDetached(m.data)) throw typeError(ErrorCode.DETACHED, `${fn}: ${name} is backed by a detached ArrayBuffer`);
  throw rangeError(ErrorCode.ARG_LENGTH, `${fn}: ${name} holds ${n} values, fewer than its ${m.rows} rows x ${m.cols} columns (its buffer shrank after the Matrix was made)`);
}

/** i must be an integer in [0, n): ERR_BLASNET_INDEX otherwise. */
function index(fn: string, name: string, i: unknown, n: number): void {
  if (!(Number.isInteger(i) && (i as number) >= 0 && (i as number) < n)) {
    throw rangeError(ErrorCode.INDEX, `Matrix.${fn}: Expected integer in [0, ${n}) for ${name} but received ${show(i)}`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  const tag = typedArrayTag(v);
  if (tag) return tag;
  return Array.isArray(v) ? 'Array' : typeof v;
}
