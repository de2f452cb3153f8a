/**
 * Input conversion: the one place where what a caller passes as x (a Matrix, a Float32Array of
 * whole rows, rows of numbers, or records with a column spec) becomes a model's numeric rows.
 * fit, fitAsync, evaluate, predict, forward and lossAndGradient all go through it, so every entry
 * point accepts the same inputs and reports a bad one with the same message: 1-based data rows and
 * the column as the caller named it.
 */
import { largeFloat32Array } from '../backend/memory';
import type { Backend } from '../backend/types';
import { fitsFloat32, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { held, Matrix } from '../tensor';
import { typedArrayTag, typedLength } from '../typed';
import { checkFinite, refuseDetached } from './check';
import { NUMBER } from './csv';
import { Dataset } from './dataset';
import { MinMaxScaler, PCA, Standardizer } from './preprocess';
import { TabularPreprocessor } from './tabular';

/** One data row as a JSON body or a database driver gives it: column name -> value. */
export type DataRecord = Readonly<Record<string, unknown>>;

/**
 * Inputs: a Matrix, a Float32Array of whole rows, rows of numbers, or an array of records (plain
 * objects) whose values are read by column name (see InputSpec.columns). Records are typed as
 * `object` so that rows typed with an interface (`interface Customer { ... }`, which has no index
 * signature) are taken as they are; their values are checked when read.
 */
export type Input = Matrix | Float32Array | ReadonlyArray<ArrayLike<number>> | readonly DataRecord[] | readonly object[];

/** How raw input becomes a model's rows. */
export interface InputSpec {
  /** Values per row the model takes. */
  readonly width: number;
  /** The record keys read, in column order; needed for records, ignored otherwise. */
  readonly columns?: readonly string[] | null;
  /**
   * A fitted transform from the raw rows (records already read by column) to the model's rows,
   * applied by toMatrix once per call; forward and lossAndGradient (readRows) never apply it.
   */
  readonly preprocessing?: { transform(x: Matrix): Matrix } | null;
}

/** A reusable (data, rows) pair that readRows fills. */
export interface Rows {
  data: Float32Array;
  rows: number;
}

function isPlainRecord(v: unknown): v is DataRecord {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typedArrayTag(v) !== undefined) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether x is an array of records (plain objects) rather than rows of numbers. */
export function isRecords(x: unknown): x is readonly DataRecord[] {
  return Array.isArray(x) && x.length > 0 && isPlainRecord(x[0]);
}

function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function' || typeof v === 'symbol') return `a ${typeof v}`;
  if (v === null || v === undefined) return String(v);
  if (v instanceof Date) return `a Date (${Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()})`;
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/** What to do with a value that is not a number, after "is not a number; ". */
function notNumberAdvice(v: unknown): string {
  if (v instanceof Date) return 'convert it first, e.g. with getTime()';
  if (Array.isArray(v)) return 'spread it into columns of their own';
  if (isPlainRecord(v)) return 'spread its fields into columns of their own';
  // A decimal comma ("1,5") or a thousands separator ("1,500"): either way not a number as written.
  if (typeof v === 'string' && /^\s*[+-]?\d+(,\d+)+\s*$/.test(v)) return 'write numbers with a decimal point and no thousands separators';
  return typeof v === 'string' ? 'encode categorical columns first' : 'convert it to a number first';
}

/**
 * A record's value as a number: numbers as they are, booleans as 1/0, numeric strings (what
 * database drivers return for DECIMAL and BIGINT columns) parsed as decimal numbers, optionally
 * with an exponent, around any spaces (as readCsv and TabularPreprocessor read a cell: "0x1F",
 * "0b101" and "0o17" are not numbers, though Number() takes them), bigints converted (exactly up
 * to 2^53, then to the nearest double, as Number() does). Anything else (a missing value, a
 * category name, NaN, a Date, an object or array), and a number infinite or past float32's range
 * (1e39, which float32 would make Infinity; readCsv refuses such a cell too), is ERR_BLASNET_DATA
 * naming the 1-based row and the column, and saying how to convert a Date, object or array.
 */
function recordNumber(v: unknown, row: number, column: string, where: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'boolean') n = v ? 1 : 0;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && NUMBER.test(v.trim())) n = Number(v);
  else if (typeof v === 'string' && /^[+-]?inf(?:inity)?$/i.test(v.trim())) n = Infinity;
  else {
    const missing = v === null || v === undefined || v === '';
    throw new BlasnetError(ErrorCode.DATA, `${where}: row ${row + 1}, column ${JSON.stringify(column)}: ` +
      (missing ? 'missing value; impute or drop the row first' : `${showValue(v)} is not a number; ${notNumberAdvice(v)}`));
  }
  if (!Number.isFinite(n)) {
    throw new BlasnetError(ErrorCode.DATA, `${where}: row ${row + 1}, column ${JSON.stringify(column)}: ${showValue(v)} is not a finite number`);
  }
  if (!fitsFloat32(n)) {
    throw new BlasnetError(ErrorCode.DATA, `${where}: row ${row + 1}, column ${JSON.stringify(column)}: ${showValue(v)} does not fit a float32`);
  }
  return n;
}

function checkColumns(columns: unknown, where: string): readonly string[] {
  if (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c === '')) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty array of column names for columns`);
  }
  const seen = new Set<string>();
  for (const c of columns as string[]) {
    if (seen.has(c)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: column ${JSON.stringify(c)} is named twice in columns`);
    seen.add(c);
  }
  return columns as string[];
}

/**
 * Records as a Matrix [records.length, columns.length]: row i holds records[i][columns[j]].
 * Values are read as recordNumber describes; a record that is not a plain object, or a missing or
 * non-numeric value, is a coded error naming the 1-based row and the column.
 */
export function recordsToMatrix(records: readonly object[], columns: readonly string[], where = 'recordsToMatrix'): Matrix {
  const cols = checkColumns(columns, where);
  if (!Array.isArray(records)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an array of records`);
  const c = cols.length;
  const out = largeFloat32Array(records.length * c);
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    if (!isPlainRecord(rec)) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: row ${i + 1} is ${showValue(rec)}, not a record (a plain object)`);
    }
    for (let j = 0; j < c; j++) out[i * c + j] = recordNumber(rec[cols[j]], i, cols[j], where);
  }
  return new Matrix(out, records.length, c);
}

/** One column of records as numbers (a label or target column), checked as recordsToMatrix does. */
export function recordColumn(records: readonly object[], key: string, where = 'recordColumn'): Float64Array {
  if (typeof key !== 'string' || key === '') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a column name for the label key`);
  if (!Array.isArray(records)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an array of records`);
  const out = new Float64Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    if (!isPlainRecord(rec)) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: row ${i + 1} is ${showValue(rec)}, not a record (a plain object)`);
    }
    out[i] = recordNumber(rec[key], i, key, where);
  }
  return out;
}

/** What a key names when it is not an input column: the label or the rows' sample weights. */
export type RecordKeyRole = 'label' | 'sampleWeight';

/**
 * Checks a label or sampleWeight key before anything reads the records by column: some record
 * must have the field, else ERR_BLASNET_DATA (as for a missing value) naming the key; and the key
 * must not be one of `columns`, the input columns, else ERR_BLASNET_ARG_RANGE. Without these
 * checks a mistyped key leaves the real label among the inferred input columns and surfaces as a
 * feature count, and a label among columns set by hand trains a model that reads its own label.
 */
export function checkRecordKey(records: readonly DataRecord[], key: string, role: RecordKeyRole, columns: readonly string[] | null | undefined,
  where: string): void {
  if (typeof key !== 'string' || key === '') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a column name for the ${role} key`);
  if (!records.some((r) => isPlainRecord(r) && Object.hasOwn(r, key))) {
    const fields = Object.keys(records[0]);
    const shown = fields.length > 12 ? `${fields.slice(0, 12).join(', ')}, ... (${fields.length} in all)` : fields.join(', ');
    throw new BlasnetError(ErrorCode.DATA, `${where}: no record has the field ${JSON.stringify(key)} (the ${role} key); the first record's fields are ${shown}`);
  }
  if (Array.isArray(columns) && columns.includes(key)) {
    const what = role === 'label' ? 'the label it is trained to predict' : "the rows' weights";
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the ${role} key ${JSON.stringify(key)} is also an input column (${columns.join(', ')}); ` +
      `the model would read ${what} as a feature. Leave it out of the input columns or name another key`);
  }
}

/**
 * The column spec records imply: the first record's keys in their order, less `exclude` (the
 * label keys). Database rows and JSON bodies keep one key order, and values are then read by name,
 * so a record with its keys in another order still reads right. Keys that only later records have
 * (a JSON body that leaves out a null field makes them) are not read, and one process warning
 * (code BLASNET_UNREAD_KEYS) names them, the first record having them, and `option`, the way to
 * name the columns instead. A later record without one of the first record's keys is an error
 * when it is read (a missing value).
 */
export function inferColumns(records: readonly DataRecord[], exclude: readonly string[], where: string, option = 'setInputColumns([...])'): string[] {
  if (!isRecords(records)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty array of records`);
  const first = Object.keys(records[0]);
  const cols = first.filter((k) => !exclude.includes(k));
  if (cols.length === 0) throw rangeError(ErrorCode.SHAPE, `${where}: the records hold no input columns besides the label`);
  const known = new Set([...first, ...exclude]);
  const unread: string[] = [];
  let at = -1;
  for (let i = 1; i < records.length; i++) {
    const r = records[i];
    if (!isPlainRecord(r)) continue;
    for (const k of Object.keys(r)) {
      if (known.has(k)) continue;
      known.add(k);
      unread.push(k);
      if (at < 0) at = i;
    }
  }
  if (unread.length > 0) {
    const many = unread.length > 1;
    const names = unread.length > 12 ? `${unread.slice(0, 12).map((k) => JSON.stringify(k)).join(', ')}, ... (${unread.length} in all)`
      : unread.map((k) => JSON.stringify(k)).join(', ');
    process.emitWarning(`${where}: the input columns are the first record's keys (${cols.join(', ')}), so key${many ? 's' : ''} ${names} ` +
      `of later records (first in records[${at}]) ${many ? 'are' : 'is'} not read; name the columns with ${option} to read ${many ? 'them' : 'it'}`,
    { code: 'BLASNET_UNREAD_KEYS' });
  }
  return cols;
}

function numberRows(x: ArrayLike<ArrayLike<number>>, where: string): Matrix {
  const r = x.length;
  const first = x[0] as unknown;
  if (first === null || typeof first !== 'object' || typeof (first as ArrayLike<number>).length !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Matrix, Float32Array, rows of numbers or records for x; row 1 is ${showValue(first)}`);
  }
  const c = (first as ArrayLike<number>).length;
  const data = largeFloat32Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = x[i] as unknown as ArrayLike<unknown> | null;
    if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: row ${i + 1} of x is ${showValue(row)}, not an array of numbers`);
    }
    if (row.length !== c) {
      throw rangeError(ErrorCode.SHAPE, `${where}: row ${i + 1} of x has ${row.length} values but row 1 has ${c}`);
    }
    for (let j = 0; j < c; j++) {
      const v = row[j];
      if (typeof v !== 'number') {
        throw typeError(ErrorCode.ARG_TYPE, `${where}: row ${i + 1}, column ${j + 1} of x is ${showValue(v)}, not a number`);
      }
      const k = i * c + j;
      data[k] = v;
      // A finite double past float32's range reaches the model as Infinity: name it as given.
      if (data[k] - data[k] !== 0 && v - v === 0) {
        throw new BlasnetError(ErrorCode.DATA, `${where}: row ${i + 1}, column ${j + 1} of x is ${v}, which does not fit a float32`);
      }
    }
  }
  return new Matrix(data, r, c);
}

/**
 * Features per row that a preprocessing of blasnet's own returns: a fitted Standardizer's or
 * MinMaxScaler's columns, a fitted PCA's components, a TabularPreprocessor's inputSize; null for
 * anything else (a preprocessor of the caller's, or one not fitted yet).
 */
export function preprocessedWidth(p: unknown): number | null {
  if (p instanceof TabularPreprocessor) return p.inputSize;
  if (p instanceof Standardizer) return p.mean?.length ?? null;
  if (p instanceof MinMaxScaler) return p.min?.length ?? null;
  if (p instanceof PCA) return p.components?.rows ?? null;
  return null;
}

/**
 * ERR_BLASNET_SHAPE, naming both widths, when `p` is known to return other than the `inputSize`
 * features per row a model takes: a scaler or table preprocessing fitted for another model.
 */
export function checkPreprocessedWidth(where: string, p: unknown, inputSize: number): void {
  const width = preprocessedWidth(p);
  if (width === null || width === inputSize) return;
  const name = p instanceof TabularPreprocessor ? 'table preprocessing' : p instanceof Standardizer ? 'Standardizer' : p instanceof MinMaxScaler ? 'MinMaxScaler' : 'PCA';
  throw rangeError(ErrorCode.SHAPE, `${where}: the ${name} returns ${width} features per row but the model takes ${inputSize} (its inputSize)`);
}

function widthError(where: string, width: number, cols: number, columns: readonly string[] | null): RangeError {
  const from = columns ? ` (records read by ${cols} columns: ${columns.join(', ')})` : '';
  return rangeError(ErrorCode.SHAPE, `${where}: Expected ${width} features per row but received ${cols}${from}`);
}

function needColumns(spec: InputSpec, where: string): readonly string[] {
  if (!spec.columns) {
    throw new BlasnetError(ErrorCode.STATE,
      `${where}: records need a column spec; call setInputColumns([...]) or fit on records first (fit takes their keys), ` +
      'or, for records a TabularPreprocessor reads, give the model its preprocessing (model.setPreprocessing(preprocessor)) or pass preprocessor.transform(records)');
  }
  return spec.columns;
}

/**
 * x as rows of spec.width values, without preprocessing, into `out`: for a Matrix or a
 * Float32Array the data is used in place and nothing is allocated (the training step's path);
 * rows of numbers and records are converted. Returns `out`.
 */
export function readRows(x: Input, spec: InputSpec, where: string, out: Rows): Rows {
  const width = spec.width;
  if (x instanceof Matrix) {
    if (x.cols !== width) throw widthError(where, width, x.cols, null);
    if (x.rows === 0) throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least one row`);
    held(where, 'x', x);
    out.data = x.data;
    out.rows = x.rows;
    return out;
  }
  if (typedArrayTag(x) === 'Float32Array') {
    const n = typedLength(x);
    if (n % width !== 0) {
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected a whole number of rows of ${width} features but received ${n} values`);
    }
    if (n === 0) {
      refuseDetached(where, 'x', x);
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least one row`);
    }
    out.data = x as Float32Array;
    out.rows = n / width;
    return out;
  }
  const m = convert(x, spec, where);
  if (m.cols !== width) throw widthError(where, width, m.cols, isRecords(x) ? needColumns(spec, where) : null);
  out.data = m.data;
  out.rows = m.rows;
  return out;
}

/** Rows of numbers or records as a Matrix of their own width (no preprocessing, no width check). */
function convert(x: Input, spec: InputSpec, where: string): Matrix {
  if (!Array.isArray(x)) {
    // Another typed array (a Float64Array from a numeric library, a Uint8Array of pixels): named, with the conversion.
    // By tag, so that arrays of another realm (a vm context, a worker's message) are named alike.
    const tag = typedArrayTag(x);
    const numeric = tag !== undefined && tag !== 'BigInt64Array' && tag !== 'BigUint64Array';
    const other = numeric ? `a ${typeName(x)}; convert it with Float32Array.from(x)` : ArrayBuffer.isView(x) ? `a ${typeName(x)}` : showValue(x);
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Matrix, Float32Array, rows of numbers or records for x but received ${other}`);
  }
  if (x.length === 0) throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least one row`);
  if (isRecords(x)) return recordsToMatrix(x, needColumns(spec, where), where);
  return numberRows(x as ArrayLike<ArrayLike<number>>, where);
}

/**
 * x as a Matrix of the model's rows: records read by spec.columns, then spec.preprocessing (if
 * any) applied to the raw rows, then the width checked. The entry point for whole data sets (fit,
 * evaluate, predict); a Matrix without preprocessing comes back as it is. With `scan` (a backend),
 * NaN and infinities are ERR_BLASNET_DATA naming the first one's index, row and column (1-based):
 * in the raw rows before preprocessing, so the message names the caller's cell (not a Dataset's,
 * scanned when it was built), and in what the preprocessing returns.
 */
export function toMatrix(x: Input | Dataset, spec: InputSpec, where: string, scan?: Backend): Matrix {
  let m: Matrix;
  if (x instanceof Dataset) {
    const own = spec.columns, theirs = x.columns;
    if (own && theirs && (own.length !== theirs.length || own.some((c, i) => c !== theirs[i]))) {
      throw rangeError(ErrorCode.SHAPE, `${where}: the Dataset's columns (${theirs.join(', ')}) differ from the model's (${own.join(', ')})`);
    }
    m = x.x;
  } else if (x instanceof Matrix) {
    held(where, 'x', x);
    m = x;
  } else if (typedArrayTag(x) === 'Float32Array') {
    if (spec.preprocessing) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: with preprocessing set, pass x as a Matrix, rows of numbers or records (its width is the raw data's)`);
    }
    const rows = readRows(x, spec, where, { data: x as Float32Array, rows: 0 });
    m = new Matrix(rows.data, rows.rows, spec.width);
  } else m = convert(x, spec, where);
  if (m.rows === 0) throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least one row`);
  // A Dataset's rows were scanned when it was built (fit takes them as they are too).
  if (scan && !(x instanceof Dataset)) checkFinite(scan, where, 'x', m.data, m.rows * m.cols, 0, m.cols);
  if (spec.preprocessing) {
    m = spec.preprocessing.transform(m);
    if (scan) checkFinite(scan, where, "the preprocessing's output", m.data, m.rows * m.cols, 0, m.cols);
  }
  if (m.cols !== spec.width) {
    throw widthError(where, spec.width, m.cols, isRecords(x) && !spec.preprocessing ? needColumns(spec, where) : x instanceof Dataset ? x.columns : null);
  }
  return m;
}

/**
 * y, or the column its label key names in the records x (checked as fit checks it: records, a key
 * some record has, not one of the model's input columns).
 */
export function labelsOf<T>(x: Input, y: T | string, inputColumns: readonly string[] | null, where: string): T | Float64Array {
  if (typeof y !== 'string') return y;
  if (!isRecords(x)) throw typeError(ErrorCode.ARG_TYPE, `${where}: a label key (${JSON.stringify(y)}) needs x as an array of records`);
  checkRecordKey(x, y, 'label', inputColumns, where);
  return recordColumn(x, y, where);
}
