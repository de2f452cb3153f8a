import { ErrorCode, rangeError, typeError } from './errors';
import { show } from './describe';
import { argmaxRow } from './math';
import { typedArrayTag, typedLength } from './typed';
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
    index('get', 'i', i, this.rows);
    index('get', 'j', j, this.cols);
    return this.data[i * this.cols + j];
  }

  /** Row i as a new array of numbers; i outside [0, rows) is ERR_BLASNET_INDEX. */
  row(i: number): number[] {
    index('row', 'i', i, this.rows);
    return Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols));
  }

  /** The rows as arrays of numbers. */
  toArray(): number[][] {
    return Array.from({ length: this.rows }, (_, i) => this.row(i));
  }

  /** A copy that owns exactly rows * cols elements. */
  clone(): Matrix {
    return new Matrix(this.data.slice(0, this.rows * this.cols), this.rows, this.cols);
  }

  /** Index of the largest value of each row (first on ties). */
  argmax(): Int32Array {
    const out = new Int32Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = argmaxRow(this.data, i * this.cols, this.cols);
    return out;
  }
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
