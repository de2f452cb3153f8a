/**
 * CSV files to matrices: feature selection, a label column (class names or numeric targets) and
 * strict checking, so that a malformed cell fails loudly with its line and column instead of
 * becoming a silent NaN or 0.
 */
import * as buffer from 'buffer';
import { parse } from 'csv-parse/sync';
import { largeFloat32Array } from '../backend/memory';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { largest } from '../math';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import { bool, options as checkOptions, show } from './check';
import { readBytes } from './idx';
import { fitsFloat32, isPlainObject, nameList } from '../describe';

/** Options of readCsv. */
export interface CsvOptions {
  /** The first row names the columns. Default true; without a header the names are '0', '1', ... */
  header?: boolean;
  /** The feature columns, by name or 0-based index, in this order. Default: every column but the label. */
  columns?: (string | number)[];
  /** The label column, by name or 0-based index. Default: none (no labels). */
  label?: string | number;
  /**
   * Class labels instead of numeric targets: true forces classes (Int32Array), false forces
   * numeric targets (Float32Array; a non-numeric label is then an error). Default: classes when
   * some label is not a number or a labelMap is given, numeric targets otherwise.
   */
  classes?: boolean;
  /**
   * How label strings become class numbers: a { name: class } record (classes 0..1048575), or
   * 'auto' (the default): labels that are all integers in 0..1048575 (2^20 - 1) keep their value
   * (classNames '0'..'max'); otherwise the distinct labels are numbered in sorted order: by value
   * when all are numbers, else by code unit. Numbers are compared by their exact decimal value, not
   * the double they round to: '1' and '1.0' are one class, 9007199254740992 and 9007199254740993
   * two, and so are 0.1 and 0.10000000000000001; a class is named by its number's shortest form
   * ('1.0' as '1'), or, when no double holds it exactly, by its digits or as written ('1e400').
   */
  labelMap?: 'auto' | Record<string, number>;
  /** The field delimiter. Default ','; a quote or line break in it is ERR_BLASNET_ARG_RANGE. */
  delimiter?: string;
  /**
   * What an empty cell or NA/N/A/NaN/null (any case) or ? in a used column does: 'error' (default,
   * ERR_BLASNET_DATA) or 'skipRow' (the row is left out; see `skipped`).
   */
  missing?: 'error' | 'skipRow';
}

/** A CSV file as a feature matrix and, with a label column, its labels. */
export interface CsvData {
  /** [rows, features] float32. */
  x: Matrix;
  /** Class numbers (Int32Array) or numeric targets (Float32Array), one per row; absent without a label column. */
  labels?: Int32Array | Float32Array;
  /** With class labels: classNames[c] is the label string of class c. */
  classNames?: string[];
  /** The names of the feature columns, in the order of x's columns. */
  columns: string[];
  /** The name of the label column, when there is one. */
  labelColumn?: string;
  /** The number of rows left out by missing: 'skipRow'. */
  skipped: number;
}

/** A decimal number as a CSV cell spells it. @internal */
export const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A missing cell: empty, NA, N/A, NaN, null (any case) or ? (as UCI's files mark one). @internal */
export const MISSING = /^(?:|na|n\/a|nan|null|\?)$/i;
/** The largest class number readCsv produces (classNames has one entry per class up to the largest). */
const MAX_CLASS = 1048575;

/** One parsed record and where it started. @internal */
export interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Reads a CSV file (a path), or CSV text (a string containing a line break, or a Buffer /
 * Uint8Array of UTF-8), into { x, labels?, classNames?, columns, skipped } with csv-parse (quoted
 * fields, a byte-order mark and blank lines are handled; cells are trimmed).
 * Feature cells must be decimal numbers ('1', '-2.5', '3e-4') that fit a float32. Errors, all
 * ERR_BLASNET_DATA naming the file, the data row (1-based, the header not counted), its line and the
 * column: a non-numeric or non-finite cell, a row with more or fewer fields than the header, a selected column the file lacks, a missing cell (unless
 * missing: 'skipRow'), a label absent from labelMap (ERR_BLASNET_LABEL). A missing file is
 * ERR_BLASNET_IO.
 */
export function readCsv(pathOrText: string | Uint8Array, options?: CsvOptions): CsvData {
  const fn = 'readCsv';
  const opts = checkOptions(fn, options, {
    header: true, columns: true, label: true, classes: true, labelMap: true, delimiter: true, missing: true,
  });
  const header = bool(fn, 'options.header', opts.header ?? true);
  const missing = opts.missing ?? 'error';
  if (missing !== 'error' && missing !== 'skipRow') {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected 'error' or 'skipRow' for options.missing but received ${show(missing)}`);
  }
  const delimiter = checkDelimiter(fn, opts.delimiter);
  if (opts.columns !== undefined && !(Array.isArray(opts.columns) && opts.columns.every(isColumnRef))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected an array of column names or indices for options.columns but received ${show(opts.columns)}`);
  }
  if (opts.label !== undefined && !isColumnRef(opts.label)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a column name or index for options.label but received ${show(opts.label)}`);
  }
  if (opts.classes !== undefined) bool(fn, 'options.classes', opts.classes);
  const labelMap = checkLabelMap(fn, opts.labelMap);
  if (labelMap && typeof labelMap === 'object' && opts.classes === false) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: options.labelMap maps labels to classes, which contradicts options.classes = false`);
  }

  const { source, records, fail } = parseCsv(fn, pathOrText, delimiter);
  if (records.length === 0) fail(header ? 'empty: no header row' : 'empty: no rows');
  const width = records[0].record.length;
  const names = header ? records[0].record.map((s) => s.trim()) : Array.from({ length: width }, (_, i) => String(i));
  const body = header ? records.slice(1) : records;

  const resolve = (ref: string | number, what: string): number => {
    if (typeof ref === 'number') {
      if (!(Number.isInteger(ref) && ref >= 0 && ref < width)) fail(`${what} ${ref} does not exist: the file has ${width} columns (0..${width - 1})`);
      return ref;
    }
    const first = names.indexOf(ref);
    if (first < 0) fail(`${what} ${JSON.stringify(ref)} does not exist; the columns are ${nameList(names)}`);
    if (names.indexOf(ref, first + 1) >= 0) fail(`${what} ${JSON.stringify(ref)} is ambiguous: the header names it more than once`);
    return first;
  };
  const labelIndex = opts.label === undefined ? -1 : resolve(opts.label, 'label column');
  const featureIndex = opts.columns === undefined
    ? names.map((_, i) => i).filter((i) => i !== labelIndex)
    : opts.columns.map((c) => resolve(c, 'column'));
  if (labelIndex >= 0 && featureIndex.includes(labelIndex)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: the label column ${JSON.stringify(names[labelIndex])} is also selected in options.columns`);
  }

  const k = featureIndex.length;
  const data = largeFloat32Array(body.length * k);
  const labelCells: string[] = [];
  const labelLines: number[] = [];
  const labelRows: number[] = [];
  let rows = 0;
  let skipped = 0;
  const cellName = (j: number): string => (header ? `column ${JSON.stringify(names[j])}` : `column ${j}`);
  for (let r = 0; r < body.length; r++) {
    const { record, info } = body[r];
    if (record.length !== width) {
      fail(`data row ${r + 1} (line ${info.lines}) has ${record.length} fields but ${header ? 'the header has' : 'the first row has'} ${width}`);
    }
    // Missing cells are looked for first, so that a skipped row leaves no trace in x.
    let skip = false;
    for (let c = 0; c <= k; c++) {
      const j = c < k ? featureIndex[c] : labelIndex;
      if (j < 0) continue;
      if (MISSING.test(record[j].trim())) {
        if (missing === 'skipRow') {
          skip = true;
          break;
        }
        fail(`missing value ${JSON.stringify(record[j])} at data row ${r + 1} (line ${info.lines}), ${cellName(j)}`);
      }
    }
    if (skip) {
      skipped++;
      continue;
    }
    const o = rows * k;
    for (let c = 0; c < k; c++) {
      const j = featureIndex[c];
      const cell = record[j].trim();
      if (!NUMBER.test(cell)) fail(`${JSON.stringify(record[j])} at data row ${r + 1} (line ${info.lines}), ${cellName(j)} is not a number`);
      const v = Number(cell);
      if (!fitsFloat32(v)) fail(`${cell} at data row ${r + 1} (line ${info.lines}), ${cellName(j)} does not fit a float32`);
      data[o + c] = v;
    }
    if (labelIndex >= 0) {
      labelCells.push(record[labelIndex].trim());
      labelLines.push(info.lines);
      labelRows.push(r + 1);
    }
    rows++;
  }

  const result: CsvData = {
    x: new Matrix(rows === body.length ? data : data.slice(0, rows * k), rows, k),
    columns: featureIndex.map((j) => names[j]),
    skipped,
  };
  if (labelIndex < 0) return result;
  result.labelColumn = names[labelIndex];
  const allNumeric = labelCells.every((s) => NUMBER.test(s));
  const asClasses = opts.classes ?? (labelMap !== undefined || !allNumeric);
  if (!asClasses) {
    const labels = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      const s = labelCells[i];
      if (!NUMBER.test(s)) fail(`label ${JSON.stringify(s)} at data row ${labelRows[i]} (line ${labelLines[i]}), ${cellName(labelIndex)} is not a number (options.classes is false)`);
      const v = Number(s);
      if (!fitsFloat32(v)) fail(`label ${s} at data row ${labelRows[i]} (line ${labelLines[i]}), ${cellName(labelIndex)} does not fit a float32`);
      labels[i] = v;
    }
    result.labels = labels;
    return result;
  }
  const labels = new Int32Array(rows);
  if (labelMap !== undefined && labelMap !== 'auto') {
    for (let i = 0; i < rows; i++) {
      const s = labelCells[i];
      if (!Object.prototype.hasOwnProperty.call(labelMap, s)) {
        throw rangeError(ErrorCode.LABEL, `${fn}: ${source}: label ${JSON.stringify(s)} at data row ${labelRows[i]} (line ${labelLines[i]}) is not in options.labelMap`);
      }
      labels[i] = labelMap[s];
    }
    const classNames: string[] = [];
    // largest, not Math.max(...values): a map of many labels would overflow the call stack.
    const top = largest(Object.values(labelMap), -1);
    for (let c = 0; c <= top; c++) classNames.push('');
    // Several names may share a class; the first one (in the record's key order) names it.
    for (const [name, c] of Object.entries(labelMap)) if (classNames[c] === '') classNames[c] = name;
    result.labels = labels;
    result.classNames = classNames;
    return result;
  }
  // Numeric labels are told apart by their exact decimal value: through a double, 9007199254740993
  // would join 9007199254740992's class, 1.0000000000000001 would be class 1, 1e400 "Infinity".
  const decimals = allNumeric ? labelCells.map(exactDecimal) : [];
  const integers = allNumeric && decimals.every((d) => classNumber(d) >= 0);
  if (integers) {
    let top = -1;
    for (let i = 0; i < rows; i++) {
      labels[i] = classNumber(decimals[i]);
      if (labels[i] > top) top = labels[i];
    }
    result.classNames = Array.from({ length: top + 1 }, (_, c) => String(c));
  } else {
    if (allNumeric) {
      const first = new Map<string, number>();
      decimals.forEach((d, i) => {
        if (!first.has(d.key)) first.set(d.key, i);
      });
      const keys = [...first.keys()].sort((a, b) => compareDecimals(decimals[first.get(a) as number], decimals[first.get(b) as number]));
      const index = new Map(keys.map((k, c) => [k, c]));
      for (let i = 0; i < rows; i++) labels[i] = index.get(decimals[i].key) as number;
      result.classNames = keys.map((k) => decimalName(labelCells[first.get(k) as number], decimals[first.get(k) as number]));
    } else {
      const classNames = Array.from(new Set(labelCells)).sort();
      const index = new Map(classNames.map((s, c) => [s, c]));
      for (let i = 0; i < rows; i++) labels[i] = index.get(labelCells[i]) as number;
      result.classNames = classNames;
    }
  }
  result.labels = labels;
  return result;
}

/**
 * A decimal number (a cell NUMBER matches) exactly: sign, significant digits without leading or
 * trailing zeros ('0' for zero, which has no sign), and the power of ten they are scaled by; `key`
 * is one string per value, so '1', '1.0', '+1' and '1e0' share one and '0.1' and
 * '0.10000000000000001' do not.
 */
interface Decimal {
  negative: boolean;
  digits: string;
  exponent: bigint;
  key: string;
}

function exactDecimal(cell: string): Decimal {
  const m = /^([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(cell) as RegExpExecArray;
  let digits = (m[2] + m[3]).replace(/^0+/, '');
  let exponent = BigInt(m[4] ?? 0) - BigInt(m[3].length);
  const zeros = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - zeros);
  exponent += BigInt(zeros);
  if (digits === '') return { negative: false, digits: '0', exponent: 0n, key: '0' };
  const negative = m[1] === '-';
  return { negative, digits, exponent, key: `${negative ? '-' : ''}${digits}e${exponent}` };
}

/** The class a decimal is when it is an integer in [0, MAX_CLASS], else -1. */
function classNumber(d: Decimal): number {
  if (d.digits === '0') return 0;
  if (d.negative || d.exponent < 0n || BigInt(d.digits.length) + d.exponent > 7n) return -1;
  const v = Number(d.digits) * 10 ** Number(d.exponent);
  return v <= MAX_CLASS ? v : -1;
}

/** Orders decimals by value, exactly (no conversion to doubles). */
function compareDecimals(a: Decimal, b: Decimal): number {
  const sign = (d: Decimal): number => (d.digits === '0' ? 0 : d.negative ? -1 : 1);
  const sa = sign(a), sb = sign(b);
  if (sa !== sb || sa === 0) return sa - sb;
  // Same sign: compare magnitudes by the place of the leading digit, then digit by digit.
  const la = BigInt(a.digits.length) + a.exponent, lb = BigInt(b.digits.length) + b.exponent;
  let m = la < lb ? -1 : la > lb ? 1 : 0;
  if (m === 0) {
    const n = Math.max(a.digits.length, b.digits.length);
    const da = a.digits.padEnd(n, '0'), db = b.digits.padEnd(n, '0');
    m = da < db ? -1 : da > db ? 1 : 0;
  }
  return sa * m;
}

/**
 * A numeric class's name: the shortest form of its double when that double is its exact value
 * ('1.0' is '1', '1e3' '1000'), an integer written in digits in full past 2^53 ('+0090071992547409930'
 * is '90071992547409930'), else the label as first written in the file ('0.10000000000000001', '1e400').
 */
function decimalName(cell: string, d: Decimal): string {
  const n = Number(cell);
  if (Number.isFinite(n) && exactDecimal(String(n)).key === d.key) return String(n);
  if (/^[+-]?\d+$/.test(cell)) return BigInt(cell).toString();
  return cell;
}

function isColumnRef(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function checkLabelMap(fn: string, m: unknown): 'auto' | Record<string, number> | undefined {
  if (m === undefined || m === 'auto') return m;
  if (!isPlainObject(m)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected 'auto' or a { label: class } object for options.labelMap but received ${show(m)}`);
  }
  for (const [name, c] of Object.entries(m)) {
    if (!(typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= MAX_CLASS)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected an integer class in [0, ${MAX_CLASS}] for options.labelMap[${JSON.stringify(name)}] but received ${show(c)}`);
    }
  }
  return m as Record<string, number>;
}

/**
 * options.delimiter (default ','): a non-empty string (else ERR_BLASNET_ARG_TYPE) holding no quote
 * and no line break (else ERR_BLASNET_ARG_RANGE: csv-parse would read each line as one field, and
 * a file of numbers as one column). @internal
 */
export function checkDelimiter(fn: string, v: unknown): string {
  if (v === undefined) return ',';
  if (typeof v !== 'string' || v === '') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a non-empty string for options.delimiter but received ${show(v)}`);
  }
  if (/["\r\n]/.test(v)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected a delimiter without a quote or line break for options.delimiter but received ${show(v)}`);
  }
  return v;
}

/** Parsed CSV input: its records (with line numbers), its name for messages, and a failure helper. @internal */
export interface ParsedCsv {
  source: string;
  records: CsvRecord[];
  fail: (message: string) => never;
}

/**
 * The 1-based line of the first byte sequence in `bytes` that is not UTF-8, or 0 when all of it
 * is UTF-8 (a file with a UTF-16 byte-order mark is decoded as UTF-16 before this).
 */
function firstLineNotUtf8(bytes: Buffer): number {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return 0;
  if (buffer.isUtf8(bytes)) return 0;
  const bad = firstNotUtf8(bytes);
  let line = 1;
  for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629), or the length. */
function firstNotUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (need === 0 || i + need >= n) return i;
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return n;
}

/**
 * Parses a CSV file path, CSV text (a string with a line break) or UTF-8 bytes with csv-parse;
 * errors are ERR_BLASNET_DATA naming `fn` and the source (a missing file ERR_BLASNET_IO). @internal
 */
/**
 * The most fields a line may hold: 2^24. csv-parse gathers a record's fields in one JS array,
 * and past V8's limit for one (about 1.3e8 elements) the process dies with a fatal error no
 * handler catches.
 */
export const MAX_CSV_FIELDS = 2 ** 24;

/**
 * ERR_BLASNET_DATA (through `fail`) for a line of more than MAX_CSV_FIELDS fields, before any is
 * parsed. Only a line longer than that many characters can hold that many, so the text is
 * searched for line breaks in windows of that length (one search per window for a file of
 * ordinary lines), and only a window without one has its delimiters counted.
 */
function refuseWideLines(input: string | Buffer, delimiter: string, fail: (message: string) => never): void {
  const n = input.length;
  // A string and a Buffer search alike for one character (the Buffer by its UTF-8 bytes).
  const text = input as string;
  const lineEnd = (from: number): number => {
    const a = text.indexOf('\n', from), r = text.indexOf('\r', from);
    return Math.min(a < 0 ? n : a, r < 0 ? n : r);
  };
  let start = 0;
  while (n - start > MAX_CSV_FIELDS) {
    const b = Math.max(text.lastIndexOf('\n', start + MAX_CSV_FIELDS), text.lastIndexOf('\r', start + MAX_CSV_FIELDS));
    if (b >= start) {
      start = b + 1;
      continue;
    }
    // A line of more than MAX_CSV_FIELDS characters: its fields counted, up to the limit.
    const end = lineEnd(start);
    let fields = 1;
    for (let at = text.indexOf(delimiter, start); at >= 0 && at < end; at = text.indexOf(delimiter, at + 1)) {
      if (++fields > MAX_CSV_FIELDS) {
        let line = 1;
        for (let i = text.indexOf('\n'); i >= 0 && i < start; i = text.indexOf('\n', i + 1)) line++;
        fail(`line ${line} holds more than ${MAX_CSV_FIELDS} fields, more than a table can be read with (is the delimiter right?)`);
      }
    }
    start = end + 1;
  }
}

export function parseCsv(fn: string, pathOrText: string | Uint8Array, delimiter: string): ParsedCsv {
  let input: string | Buffer;
  let source: string;
  if (typeof pathOrText === 'string') {
    if (/[\r\n]/.test(pathOrText)) {
      input = pathOrText;
      source = 'CSV text';
    } else {
      input = readBytes(pathOrText, fn);
      source = pathOrText;
    }
  } else if (typedArrayTag(pathOrText) === 'Uint8Array') {
    input = Buffer.from(pathOrText.buffer, pathOrText.byteOffset, pathOrText.byteLength);
    source = 'CSV bytes';
  } else {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a file path, CSV text or bytes but received ${show(pathOrText)}`);
  }
  const fail = (message: string): never => {
    throw new BlasnetError(ErrorCode.DATA, `${fn}: ${source}: ${message}`);
  };
  if (typeof input !== 'string' && input.length >= 2 && ((input[0] === 0xfe && input[1] === 0xff) || (input[0] === 0xff && input[1] === 0xfe))) {
    // UTF-16 with its byte-order mark, either byte order (csv-parse reads only the little-endian one).
    const encoding = input[0] === 0xfe ? 'utf-16be' : 'utf-16le';
    try {
      input = new TextDecoder(encoding, { fatal: true }).decode(input);
    } catch {
      return fail(`starts with the ${encoding === 'utf-16be' ? 'big' : 'little'}-endian UTF-16 byte-order mark but is not UTF-16 text throughout; save it as UTF-8 and read it again`);
    }
  }
  if (typeof input !== 'string') {
    const line = firstLineNotUtf8(input);
    // Read as UTF-8 anyway, each such byte would become U+FFFD: "Müller" and "Möller" one class.
    if (line > 0) {
      fail(`line ${line} is not UTF-8 text (a file saved as Latin-1 or Windows-1252, as some spreadsheet programs write CSV, ` +
        'has bytes that UTF-8 cannot read); save the file as UTF-8 ("CSV UTF-8") and read it again');
    }
  }
  refuseWideLines(input, delimiter, fail);
  let records: CsvRecord[];
  try {
    // Field counts are checked by the callers, so that the error can say which row and what was expected.
    // Any line ending on any line: a file with a CRLF header and LF rows (appended by another
    // program) is read as Python's csv reads it, where csv-parse would take the first line's for all.
    records = parse(input, {
      delimiter, info: true, bom: true, skip_empty_lines: true, relax_column_count: true, record_delimiter: ['\r\n', '\n', '\r'],
    }) as CsvRecord[];
  } catch (e) {
    return fail((e as Error).message);
  }
  return { source, records, fail };
}
