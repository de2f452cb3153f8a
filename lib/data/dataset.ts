/**
 * Dataset: a training set converted, checked and placed on shared memory once, then handed to
 * any number of models, workers and calls without a copy or a second scan.
 */
import { defaultBackend } from '../backend/select';
import { checkOptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { held, Matrix } from '../tensor';
import { sharedCopy, typedArrayTag, typedLength } from '../typed';
import { checkFinite, refuseDetached } from './check';
import { checkRecordKey, inferColumns, isRecords, recordColumn, recordsToMatrix, toMatrix } from './input';
import type { Input } from './input';
import { sampleWeights } from './weights';

/** Targets a Dataset accepts: class labels, flat targets, a target Matrix, rows of numbers, or a record key. */
export type DatasetTargets = Int32Array | Float32Array | Matrix | ArrayLike<number> | ArrayLike<ArrayLike<number>> | string;

/** Options of Dataset.from. */
export interface DatasetOptions {
  /**
   * One finite non-negative weight per row (or, for records, the key of a weight column), used
   * by fit and evaluate as their sampleWeight option. Default none.
   */
  sampleWeight?: Float32Array | ArrayLike<number> | string;
  /**
   * For records: the keys read as input columns, in order. Default the first record's keys less
   * the label and weight keys (keys only later records have are not read, and a process warning,
   * code BLASNET_UNREAD_KEYS, names them).
   */
  columns?: readonly string[];
}

/** The plain-data form of a Dataset that crosses to worker threads (its arrays stay shared). @internal */
export interface SharedDataset {
  x: Float32Array;
  rows: number;
  cols: number;
  y: Int32Array | Float32Array | null;
  yCols: number;
  sampleWeight: Float32Array | null;
  columns: readonly string[] | null;
}

/** Plain numbers as labels (all integers) or flat float targets. */
function numbersToTargets(a: ArrayLike<unknown>, where: string): Int32Array | Float32Array {
  let integers = true;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: y[${i}] is ${typeof v}, not a number`);
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) integers = false;
  }
  return integers ? Int32Array.from(a as ArrayLike<number>) : Float32Array.from(a as ArrayLike<number>);
}


const BUILD = Symbol('Dataset.build');

/**
 * A read-only data set on shared memory: rows of x (float32), their targets (class labels as an
 * Int32Array, or float targets [rows, yCols]) and optional per-row weights, each in a
 * SharedArrayBuffer the Dataset owns. It is built once (`Dataset.from`): plain arrays and records
 * are converted, everything is copied onto shared memory and checked (shapes, NaN and infinities
 * in x and float targets, weights) at that moment. After that, fit, fitAsync, evaluate, predict,
 * search and Ensemble take it in place of (x, y) with no copy and no second scan, and a worker
 * thread (fitAsync, search's worker runner, concurrent Ensemble members) reads the same memory:
 * N models training at once cost one copy of the data. Label ranges and target widths depend on
 * the model and are checked per call.
 *
 * blasnet never writes to a Dataset's memory; the object is frozen. Its arrays are views of
 * shared memory, so code that writes into them (x.data[i] = ...) changes what every model reads
 * and bypasses the checks made at construction: treat them as read-only.
 */
export class Dataset {
  /** The rows, [rows, cols], on a SharedArrayBuffer. */
  readonly x: Matrix;
  /** Class labels [rows] or flat targets [rows * yCols] on a SharedArrayBuffer, or null (inputs only). */
  readonly y: Int32Array | Float32Array | null;
  /** Values per row in y: 1 for labels, the target width for float targets, 0 without y. */
  readonly yCols: number;
  /** Per-row weights on a SharedArrayBuffer, or null. */
  readonly sampleWeight: Float32Array | null;
  /** The record keys x was read by (records only), else null. */
  readonly columns: readonly string[] | null;

  /** Use Dataset.from. @internal */
  constructor(key: symbol, d: SharedDataset) {
    if (key !== BUILD) throw typeError(ErrorCode.ARG_TYPE, 'Dataset: use Dataset.from(x, y, options) to build one');
    this.x = new Matrix(d.x, d.rows, d.cols);
    this.y = d.y;
    this.yCols = d.yCols;
    this.sampleWeight = d.sampleWeight;
    this.columns = d.columns ? Object.freeze([...d.columns]) : null;
    Object.freeze(this);
  }

  /** Rows in the set. */
  get rows(): number {
    return this.x.rows;
  }

  /** Values per row of x. */
  get cols(): number {
    return this.x.cols;
  }

  /**
   * Builds a Dataset from x (a Matrix, a Float32Array with `cols` given as a Matrix instead, rows
   * of numbers, or records) and optional y (an Int32Array or integer array of class labels, a
   * Float32Array, Matrix or rows of numbers of targets, or for records the key of the label
   * column). Arrays of plain numbers that are all integers become labels; pass a Float32Array
   * for integer-valued regression targets. Everything is copied once onto shared memory and
   * checked; bad input is a coded error (ERR_BLASNET_DATA for NaN or infinities,
   * ERR_BLASNET_SHAPE for row counts, ERR_BLASNET_ARG_TYPE for wrong kinds).
   */
  static from(x: Input, y?: DatasetTargets | null, options: DatasetOptions = {}): Dataset {
    const where = 'Dataset.from';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an options object (sampleWeight, columns) but received ${options === null ? 'null' : typeof options}`);
    }
    checkOptionKeys(where, options, { sampleWeight: true, columns: true });
    if (x instanceof Dataset) throw typeError(ErrorCode.ARG_TYPE, `${where}: x is already a Dataset`);
    let m: Matrix;
    let columns: readonly string[] | null = null;
    if (isRecords(x)) {
      if (typeof y === 'string') checkRecordKey(x, y, 'label', options.columns, where);
      if (typeof options.sampleWeight === 'string') checkRecordKey(x, options.sampleWeight, 'sampleWeight', options.columns, where);
      const exclude = [y, options.sampleWeight].filter((k): k is string => typeof k === 'string');
      columns = options.columns ?? inferColumns(x, exclude, where, 'options.columns');
      m = recordsToMatrix(x, columns, where);
    } else {
      if (options.columns !== undefined) throw typeError(ErrorCode.ARG_TYPE, `${where}: columns applies to records only`);
      if (typedArrayTag(x) === 'Float32Array') throw typeError(ErrorCode.ARG_TYPE, `${where}: a flat Float32Array has no row width; pass new Matrix(data, rows, cols)`);
      m = toMatrix(x, { width: x instanceof Matrix ? x.cols : Array.isArray(x) && x.length > 0 && x[0] ? (x[0] as ArrayLike<number>).length : 0 }, where);
    }
    const rows = m.rows, cols = m.cols;
    if (cols === 0) throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least one value per row`);
    const xs = sharedCopy(m.data.subarray(0, rows * cols), { where, what: 'its copy of x' });
    checkFinite(defaultBackend(), where, 'x', xs, rows * cols);

    let ys: Int32Array | Float32Array | null = null;
    let yCols = 0;
    if (y !== undefined && y !== null) {
      let t: Int32Array | Float32Array;
      if (typeof y === 'string') {
        if (!isRecords(x)) throw typeError(ErrorCode.ARG_TYPE, `${where}: a label key (${JSON.stringify(y)}) needs x as an array of records`);
        t = numbersToTargets(recordColumn(x, y, where), where);
        yCols = 1;
      } else if (y instanceof Matrix) {
        if (y.rows !== rows) throw rangeError(ErrorCode.SHAPE, `${where}: y has ${y.rows} rows but x has ${rows}; give one target row per row of x`);
        held(where, 'y', y);
        t = y.data.subarray(0, y.rows * y.cols);
        yCols = y.cols;
      } else if (typedArrayTag(y) === 'Int32Array' || typedArrayTag(y) === 'Float32Array') {
        refuseDetached(where, 'y', y);
        t = y as Int32Array | Float32Array;
        yCols = typedArrayTag(y) === 'Int32Array' ? 1 : typedLength(y) / rows;
      } else if (Array.isArray(y) && y.length > 0 && typeof y[0] === 'object' && y[0] !== null) {
        const ym = Matrix.from(y as ArrayLike<ArrayLike<number>>);
        if (ym.rows !== rows) throw rangeError(ErrorCode.SHAPE, `${where}: y has ${ym.rows} rows but x has ${rows}; give one target row per row of x`);
        t = ym.data;
        yCols = ym.cols;
      } else if (Array.isArray(y) || (y !== null && typeof y === 'object' && typeof (y as ArrayLike<number>).length === 'number')) {
        // Numbers in any array-like (number[], Uint8Array, Float64Array, ...), read as fit reads them.
        t = numbersToTargets(Array.isArray(y) ? y : Array.from(y as ArrayLike<number>), where);
        yCols = typedArrayTag(t) === 'Int32Array' ? 1 : t.length / rows;
      } else {
        throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected labels (Int32Array or integers) or targets (Matrix, Float32Array or rows of numbers) for y`);
      }
      if (typedArrayTag(t) === 'Int32Array' ? t.length !== rows : !(Number.isInteger(yCols) && yCols > 0)) {
        throw rangeError(ErrorCode.SHAPE, `${where}: y has ${t.length} values, not a whole number of targets per row of x (${rows} rows)`);
      }
      ys = sharedCopy(t, { where, what: 'its copy of y' });
      if (typedArrayTag(ys) === 'Float32Array') checkFinite(defaultBackend(), where, 'y', ys as Float32Array, ys.length);
    }

    let w: Float32Array | null = null;
    const sw = options.sampleWeight;
    if (sw !== undefined) {
      if (typeof sw === 'string') {
        if (!isRecords(x)) throw typeError(ErrorCode.ARG_TYPE, `${where}: a sampleWeight key (${JSON.stringify(sw)}) needs x as an array of records`);
        w = sharedCopy(sampleWeights(Array.from(recordColumn(x, sw, where)), rows, where), { where, what: 'its copy of sampleWeight' });
      } else w = sharedCopy(sampleWeights(sw, rows, where), { where, what: 'its copy of sampleWeight' });
    }
    return new Dataset(BUILD, { x: xs, rows, cols, y: ys, yCols, sampleWeight: w, columns });
  }

  /** The plain-data form that crosses to a worker thread; the arrays stay shared (no copy). @internal */
  toShared(): SharedDataset {
    return { x: this.x.data, rows: this.rows, cols: this.cols, y: this.y, yCols: this.yCols, sampleWeight: this.sampleWeight, columns: this.columns };
  }
}

/**
 * A Dataset over arrays that another thread built and checked as a Dataset (toShared), with no
 * copy and no scan. Only the library's own workers call it, on what a Dataset or fitAsync's
 * checked copy gave them; shapes are still verified. @internal
 */
export function sharedDataset(d: SharedDataset): Dataset {
  const isShared = (a: unknown) => a !== null && ArrayBuffer.isView(a) && (a as Float32Array).buffer instanceof SharedArrayBuffer;
  const ok = isShared(d.x) && typedLength(d.x) >= d.rows * d.cols &&
    (d.y === null || (isShared(d.y) && typedLength(d.y) === d.rows * d.yCols)) &&
    (d.sampleWeight === null || (isShared(d.sampleWeight) && typedLength(d.sampleWeight) === d.rows));
  if (!ok) throw new BlasnetError(ErrorCode.INTERNAL, 'Dataset: the shared arrays do not match their declared shape');
  return new Dataset(BUILD, d);
}
