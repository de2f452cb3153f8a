/**
 * Tables to model inputs: a fitted, per-column preprocessing of raw cells (strings, numbers,
 * missing values) into the float32 matrix a network takes, and of label cells into its targets.
 * Learnt on the training rows only, replayed on any other rows, saved with the model.
 *
 * Like scikit-learn's ColumnTransformer over SimpleImputer(add_indicator) + StandardScaler for
 * numeric columns and SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown='ignore') for
 * categorical ones, with a LabelEncoder for class names and a StandardScaler for regression
 * targets, as one object with one JSON form.
 */
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { Matrix } from '../tensor';
import { checkDelimiter, MISSING, NUMBER, parseCsv } from './csv';
import { bool, matrix, options as checkOptions, show } from './check';
import { UNRECORDED_ROWS, withinRounding } from './rounding';
import { fitsFloat32, nameList } from '../describe';

/**
 * One raw cell: text from a file, or a value from a JS record. null, undefined and NaN are
 * missing; a string is a number when it spells a decimal one (optionally with an exponent, around
 * any spaces: "0x1F" is text); a bigint is the number it holds (rounded to the nearest double past
 * 2^53, as Number() does; as a category it keeps every digit). A boolean is the category of the
 * words true and false in any case (True, TRUE, false...), as a CSV file spells it
 * (recordsToMatrix reads it as 1/0 instead). Any other value (a Date, an object, an array) is
 * ERR_BLASNET_DATA naming the row and column: convert it to one of these first.
 *
 * As a category or class, a string is matched by its trimmed text and keeps the spelling it was
 * first seen with in training: "007" and "7" are two classes (named "007" and "7"), and so are
 * "1.0" and "1". A number is matched as its shortest form (String(n)), so the number 7 matches
 * "7", not "007" or "7.0"; a bigint as its digits.
 */
export type Cell = string | number | bigint | boolean | null | undefined;

/** Rows of raw cells under named columns, as readTable returns a CSV file. */
export interface Table {
  /** Column names, in file order. */
  columns: string[];
  /** One array of cells per data row, as wide as `columns`. */
  rows: Cell[][];
  /** Where the rows came from (a file name), for messages. */
  source?: string;
  /** Each row's 1-based data row number in the source, for messages. Default: its position + 1. */
  rowNumbers?: number[];
}

/**
 * What TabularPreprocessor takes: a Table, or plain objects keyed by column name (records). The
 * columns of records are the fields of all of them, in the order they first appear; a record
 * without one of them has a missing value there. Records typed with an interface (no index
 * signature) are taken as they are (`object`); their cells are checked when read.
 */
export type TableInput = Table | ReadonlyArray<Readonly<Record<string, Cell>>> | readonly object[];

/** The kind of problem a label column poses. */
export type Task = 'classification' | 'regression';

/**
 * Reads a CSV file (a path), CSV text (a string containing a line break) or UTF-8 bytes into a
 * Table of trimmed strings, without interpreting any cell. The first row names the columns.
 * A row with a different number of fields than the header, a duplicate or empty column name, or a
 * file without a header is ERR_BLASNET_DATA (rows are named as data rows, 1-based, header not
 * counted); a missing file ERR_BLASNET_IO; a delimiter (default ',') holding a quote or a line
 * break ERR_BLASNET_ARG_RANGE.
 */
export function readTable(pathOrText: string | Uint8Array, options: { delimiter?: string } = {}): Table {
  const fn = 'readTable';
  const delimiter = checkDelimiter(fn, checkOptions(fn, options, { delimiter: true }).delimiter);
  const { source, records, fail } = parseCsv(fn, pathOrText, delimiter);
  if (records.length === 0) fail('empty: no header row');
  const columns = records[0].record.map((s) => s.trim());
  // A set, not indexOf per column: a header of 10^5 names took 10 s that way (10^6: a quarter hour).
  const seen = new Set<string>();
  columns.forEach((c, j) => {
    if (c === '') fail(`column ${j + 1} of the header has no name`);
    if (seen.has(c)) fail(`the header names column ${JSON.stringify(c)} more than once`);
    seen.add(c);
  });
  const rows: string[][] = [];
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r];
    if (record.length !== columns.length) {
      fail(`data row ${r} (line ${info.lines}) has ${record.length} fields but the header has ${columns.length}`);
    }
    rows.push(record.map((s) => s.trim()));
  }
  return { columns, rows, source };
}

/**
 * The rows of a Table at the given positions, in that order, as a new Table that keeps each row's
 * data row number in the source (so errors on a part still name the row in the user's file).
 */
export function takeRows(table: Table, index: ArrayLike<number>): Table {
  if (typeof table !== 'object' || table === null || !Array.isArray(table.rows) || !Array.isArray(table.columns)) {
    throw typeError(ErrorCode.ARG_TYPE, `takeRows: Expected a Table (as readTable returns it) for table but received ${show(table)}`);
  }
  if (typeof index !== 'object' || index === null || !Number.isSafeInteger(index.length)) {
    throw typeError(ErrorCode.ARG_TYPE, `takeRows: Expected an array of row positions for index but received ${show(index)}`);
  }
  const rows: Cell[][] = [];
  const rowNumbers: number[] = [];
  for (let k = 0; k < index.length; k++) {
    const i = index[k];
    if (!(Number.isInteger(i) && i >= 0 && i < table.rows.length)) {
      throw rangeError(ErrorCode.INDEX, `takeRows: index[${k}] = ${show(i)} is not a row of the table (0..${table.rows.length - 1})`);
    }
    rows.push(table.rows[i]);
    rowNumbers.push(table.rowNumbers?.[i] ?? i + 1);
  }
  return { columns: table.columns, rows, rowNumbers, ...(table.source !== undefined ? { source: table.source } : {}) };
}

/** Options of TabularPreprocessor.fit. */
export interface TabularOptions {
  /** The label column, or several for multi-output regression. Default: none (features only). */
  label?: string | string[];
  /** The feature columns, in this order. Default: every column but the labels. */
  features?: string[];
  /** Columns to one-hot encode even if their cells are numbers. Columns with a non-numeric cell always are. */
  categorical?: string[];
  /**
   * Standardise numeric columns, z = (x - mean) / std on the training rows (ddof 0). A column
   * constant in training (all values equal, or a std within the float64 rounding error of the
   * mean) is only centred, z = x - mean, as Standardizer does. Default true.
   */
  standardize?: boolean;
  /**
   * Fill missing cells (empty, NA, N/A, NaN, null, any case, or ?; null/undefined/NaN in records) with
   * the training median (numeric) or most frequent category, and add a 0/1 indicator column for
   * each column that had missing cells in training. Default true; false makes a missing cell
   * ERR_BLASNET_DATA.
   */
  impute?: boolean;
  /**
   * A category not seen in training, at transform: 'warn' (default) encodes it as all zeros in
   * that column's one-hot block and emits one process warning (code BLASNET_UNKNOWN_CATEGORY)
   * per column and call; 'error' makes it ERR_BLASNET_DATA.
   */
  unknownCategory?: 'warn' | 'error';
  /**
   * 'classification', 'regression' or 'auto' (default): classification when a label cell is
   * text, or all are integers with few distinct values (at most min(50, max(2, rows / 3)));
   * regression otherwise. The decision and its reason are in `task` and `taskReason`. An infinite
   * or float32-overflowing number ("inf", "1e39") among numbers is ERR_BLASNET_DATA naming its
   * row, not text.
   */
  task?: Task | 'auto';
  /** Standardise regression targets as numeric columns (predictions are turned back by inverseTargets). Default true. */
  scaleTargets?: boolean;
  /**
   * A preprocessor fitted on all the rows these are part of (a training split, a fold): its
   * feature columns and their kinds are kept, and only the statistics (fills, means, stds,
   * categories) are fitted on these rows. So a column of numbers whose one text cell lies outside
   * these rows stays categorical, and a split's seed cannot decide whether a column is numeric.
   * A feature column with no values in these rows, only missing cells, is left out (as
   * scikit-learn's SimpleImputer drops a column with no observed values) with one process
   * warning (code BLASNET_EMPTY_COLUMN). Default none: the kinds are decided on these rows.
   */
  kindsFrom?: TabularPreprocessor;
}

interface NumericColumn {
  name: string;
  kind: 'numeric';
  fill: number;
  mean: number;
  std: number;
  indicator: boolean;
}

interface CategoricalColumn {
  name: string;
  kind: 'categorical';
  categories: string[];
  fill: string;
  indicator: boolean;
}

type Column = NumericColumn | CategoricalColumn;

type Target =
  | { task: 'classification'; column: string; classNames: string[] }
  | { task: 'regression'; columns: string[]; mean: number[]; std: number[] };

/** What TabularPreprocessor.toJSON returns (plain data; stored in model files). */
export interface TabularPreprocessorJSON {
  type: 'TabularPreprocessor';
  standardize: boolean;
  impute: boolean;
  unknownCategory: 'warn' | 'error';
  columns: Column[];
  target: Target | null;
  taskReason: string | null;
  /**
   * The training rows the means and standard deviations came from, which bound their rounding
   * noise (see standardScaling). Absent in files written before it was recorded.
   */
  rows?: number;
  /**
   * How cells are matched to category and class names: 'text', names spelt as first seen in
   * training and matched as Cell describes. Absent in files written before: their names are
   * normalised (numbers in their shortest form, "007" stored as "7", "1.0" as "1") and cells are
   * normalised the same way to match them, as then; a boolean or true/false in any case also
   * matches the one name that spells the word in another case.
   */
  matching?: 'text';
}

/** Row access over either input form, with the user's name for each row. */
interface RowView {
  n: number;
  source: string;
  /**
   * The cell of row i in a column: undefined (missing) for a record without that field; a value
   * that is not a Cell fails.
   */
  cell: (i: number, column: string) => Cell;
  /** Row i in the user's terms: "data row 3" (1-based, as in the file) or "records[2]". */
  where: (i: number) => string;
  /** Whether the input has the column (for records: some record has the field). */
  has: (column: string) => boolean;
  /** The columns: a Table's, or the fields of all records in the order they first appear. */
  columns: string[];
}

function rowView(fn: string, data: unknown): RowView {
  if (Array.isArray(data)) {
    const records = data as Record<string, Cell>[];
    records.forEach((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected records[${i}] to be a plain object but received ${show(r)}`);
      }
    });
    // JSON bodies and some drivers leave out a null field, the first record's as any other's.
    const seen = new Set<string>();
    for (const r of records) for (const k of Object.keys(r)) seen.add(k);
    const columns = [...seen];
    return {
      n: records.length,
      source: 'records',
      cell: (i, c) => (Object.hasOwn(records[i], c) ? checkCell(fn, 'records', records[i][c], `records[${i}]`, c) : undefined),
      where: (i) => `records[${i}]`,
      has: (c) => seen.has(c),
      columns,
    };
  }
  const t = data as Table;
  if (t === null || typeof t !== 'object' || !Array.isArray(t.columns) || !Array.isArray(t.rows)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a Table ({ columns, rows }, see readTable) or an array of records but received ${show(data)}`);
  }
  const index = new Map<string, number>();
  t.columns.forEach((c, j) => index.set(String(c), j));
  const source = t.source ?? 'table';
  t.rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== t.columns.length) {
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${source}: data row ${i + 1} has ${Array.isArray(r) ? r.length : 'no'} fields but there are ${t.columns.length} columns`);
    }
  });
  return {
    n: t.rows.length,
    source,
    cell: (i, c) => checkCell(fn, source, t.rows[i][index.get(c) as number], `data row ${t.rowNumbers?.[i] ?? i + 1}`, c),
    where: (i) => `data row ${t.rowNumbers?.[i] ?? i + 1}`,
    has: (c) => index.has(c),
    columns: t.columns.map(String),
  };
}

/**
 * `v` if it is a Cell; anything else (what a database driver or a JSON body may hold: a Date, a
 * nested object, an array) is ERR_BLASNET_DATA naming the row and column and how to convert it.
 * Taken as text it would make one category per value ("[object Object]" for every object).
 */
function checkCell(fn: string, source: string, v: unknown, where: string, column: string): Cell {
  switch (typeof v) {
    case 'string': case 'number': case 'bigint': case 'boolean': case 'undefined':
      return v;
    case 'function': case 'symbol':
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${source}: a ${typeof v} at ${where}, column ${JSON.stringify(column)} is not a cell value; ` +
        'a cell holds a string, number, bigint, boolean, null or undefined');
    default:
  }
  if (v === null) return null;
  let what: string, advice: string;
  if (v instanceof Date) {
    what = `a Date (${Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()})`;
    advice = 'convert it first, e.g. to a number with getTime()';
  } else if (Array.isArray(v)) {
    what = 'an array';
    advice = 'spread it into columns of their own or join it into text';
  } else {
    const proto = Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null;
    const plain = proto === null || proto === Object.prototype;
    const name = plain ? '' : typeof proto.constructor?.name === 'string' ? proto.constructor.name : '';
    what = name ? `an object (${name})` : 'an object';
    advice = plain ? 'spread its fields into columns of their own' : 'convert it to a string, number, bigint or boolean first';
  }
  throw new BlasnetError(ErrorCode.DATA, `${fn}: ${source}: ${what} at ${where}, column ${JSON.stringify(column)} is not a cell value; ${advice}`);
}

function isMissing(v: Cell): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'number') return Number.isNaN(v);
  return typeof v === 'string' && MISSING.test(v.trim());
}

/**
 * The number a cell holds, or undefined when it is not a number: a number, a bigint (as Number()
 * reads it) or a decimal string. Infinite numbers and numbers past float32's range are not numbers here.
 */
function numberOf(v: Cell): number | undefined {
  if (typeof v === 'number') return fitsFloat32(v) ? v : undefined;
  if (typeof v === 'bigint') {
    const x = Number(v);
    return fitsFloat32(x) ? x : undefined;
  }
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (!NUMBER.test(s)) return undefined;
  const x = Number(s);
  return fitsFloat32(x) ? x : undefined;
}

/**
 * Whether a cell that is not a number (numberOf) is written as one all the same: infinite, or
 * beyond float32's range ("inf", "-Infinity", "1e39").
 */
function outOfRangeNumber(v: Cell): boolean {
  if (typeof v === 'number') return !Number.isNaN(v);
  if (typeof v === 'bigint') return true;
  if (typeof v !== 'string') return false;
  const s = v.trim();
  return NUMBER.test(s) || /^[+-]?inf(?:inity)?$/i.test(s);
}

/**
 * A number written with thousands separators or a decimal comma ("1,234", "1.234.567",
 * "1 234,5", "1000,5"): text to blasnet, which does not guess which convention a file follows
 * ("1,234" is 1234 in one and 1.234 in the other), but counted as a number when deciding whether
 * a column of categories was meant to be numeric.
 */
const SEPARATED_NUMBER = /^[+-]?(?:\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?|\d+,\d+)$/;

/**
 * Warns (BLASNET_MOSTLY_NUMERIC) when a column fit makes categories of is mostly numbers: more
 * than half its non-missing cells are numbers (or numbers with thousands separators or a decimal
 * comma), naming the first few cells that are not. One-hot by value, such a column gives every
 * number not seen in training all zeros, so the model cannot read it on new rows. Otherwise warns
 * as manyCategories does.
 */
function mostlyNumeric(view: RowView, name: string, values: number, notNumbers: readonly number[], categories: number): void {
  let separated = 0;
  for (const i of notNumbers) {
    const v = view.cell(i, name);
    if (typeof v === 'string' && SEPARATED_NUMBER.test(v.trim())) separated++;
  }
  const numeric = values - notNumbers.length + separated;
  if (numeric * 2 <= values) {
    manyCategories(view, name, values, categories);
    return;
  }
  const shown = notNumbers.slice(0, 3).map((i) => `${cellText(view.cell(i, name))} at ${view.where(i)}`);
  const more = notNumbers.length > 3 ? `, ... (${notNumbers.length} in all)` : '';
  const how = separated > 0
    ? 'if they are numbers written with thousands separators or decimal commas, rewrite them as plain decimals (1234, 1000.5) first: ' +
      'blasnet does not guess which convention a file follows; if they are mistakes or a marker of missing values, blank them to have them imputed'
    : 'if they are mistakes or a marker of missing values, fix them or blank them to have them imputed';
  process.emitWarning(`${view.source}: column ${JSON.stringify(name)} holds numbers but ${notNumbers.length} of its ${values} cells are text ` +
    `(${shown.join(', ')}${more}), so it is one-hot encoded by value (${categories} categories) and a number not seen in training ` +
    `encodes as all zeros; ${how}; to keep it as categories, name it in the categorical option (--categorical)`, { code: 'BLASNET_MOSTLY_NUMERIC' });
}

/**
 * Warns (BLASNET_MANY_CATEGORIES) when a categorical column has more than 20 categories and more
 * than one per two non-missing cells: nearly every row has a value of its own (an id, a name, a
 * timestamp), so most rows at predict time bring one not seen in training, which encodes as all
 * zeros, and the one-hot block only lets the model memorise the training rows.
 */
function manyCategories(view: RowView, name: string, values: number, categories: number): void {
  if (categories <= 20 || categories * 2 <= values) return;
  process.emitWarning(`${view.source}: column ${JSON.stringify(name)} has ${categories} categories in ${values} cells, nearly one per row, ` +
    'so its one-hot encoding tells the model little about new rows (a value not seen in training encodes as all zeros); ' +
    'leave the column out if it identifies rows (an id, a name, a timestamp), or turn it into numbers or fewer categories', { code: 'BLASNET_MANY_CATEGORIES' });
}

/** A cell as a message shows it: text quoted, a number (Infinity too) as it prints, a bigint with its n. */
function cellText(v: Cell): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'bigint' ? `${v}n` : String(v);
}

/** The words a boolean is, in any case: one category each. */
const BOOLEAN_WORD = /^(?:true|false)$/i;

/**
 * A category's or class's name, as fit stores the first cell of it: a string's trimmed text as
 * written ("007", "+1", "True"), a number in its shortest form (String(n)), a bigint's digits, a
 * boolean "true" or "false".
 */
function categoryName(v: Cell): string {
  if (typeof v === 'string') return v.trim();
  return typeof v === 'bigint' ? v.toString() : String(v);
}

/**
 * What a cell is matched to a category or class by: its name (categoryName), the words true and
 * false in any case as "true" and "false". So "007" and "7" are two categories and "1.0" and "1"
 * too (codes keep their spelling), "7" and the number 7 one, True, TRUE, true and the boolean
 * true one.
 */
function categoryKey(v: Cell): string {
  const s = categoryName(v);
  return BOOLEAN_WORD.test(s) ? s.toLowerCase() : s;
}

/**
 * The names files written before categoryKey matching hold (no `matching` field), and what cells
 * are matched to them by: trimmed text, numbers in their shortest form ("007", "7.0" and "+7" as
 * "7"; an integer past 2^53 written out keeps every digit), a boolean "true" or "false".
 */
function legacyCategoryName(v: Cell): string {
  if (typeof v === 'bigint') return v.toString();
  const n = numberOf(v);
  if (n !== undefined) {
    // An integer past 2^53 written out in full (an id) keeps every digit: through a double,
    // 9007199254740992 and 9007199254740993 would be one category.
    if (!Number.isSafeInteger(n) && typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) return BigInt(v.trim()).toString();
    return String(n);
  }
  return String(v).trim();
}

/**
 * The mean and divisor that standardise `values` plus `missing` cells imputed with `fill` (their
 * median): float64 mean and population standard deviation, two passes. A constant column is
 * only centred, as Standardizer does (divisor 1: x - mean, 0 on the training rows): one whose
 * values are all equal (its mean is then that value exactly), or whose std is rounding noise
 * (see withinRounding). Without that rule the computed mean of 1000 x 0.1 is 0.09999999999999859,
 * the std about 1e-15, and 0.11 at predict time would be standardised to 7e12.
 */
function standardScaling(values: readonly number[], fill: number, missing: number): { mean: number; std: number } {
  const n = values.length + missing;
  if (values.every((v) => v === values[0])) return { mean: values[0], std: 1 };
  let sum = fill * missing;
  for (const v of values) sum += v;
  const mean = sum / n;
  let ss = (fill - mean) * (fill - mean) * missing;
  for (const v of values) ss += (v - mean) * (v - mean);
  const std = Math.sqrt(ss / n);
  return { mean, std: divisor(std, mean, n) };
}

/**
 * The divisor of a column (or target) whose mean and std came from n rows: 1 (only centred) when
 * std is within the rounding error of the mean, n * eps * |mean|, else std.
 */
function divisor(std: number, mean: number, n: number): number {
  return withinRounding(std, mean, n) ? 1 : std;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sortCategories(names: string[]): string[] {
  const numeric = names.every((s) => numberOf(s) !== undefined);
  if (!numeric) return names.slice().sort();
  // By value; integers past 2^53 that round to one double, by their exact value; spellings of
  // one value ("02134" and "2134"), by their text.
  const exact = (s: string): bigint | null => (/^[+-]?\d+$/.test(s) ? BigInt(s) : null);
  return names.slice().sort((a, b) => {
    const d = Number(a) - Number(b);
    if (d !== 0) return d;
    const x = exact(a), y = exact(b);
    if (x !== null && y !== null && x !== y) return x < y ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * The first-seen names of the categories of `cells` (by categoryKey), sorted (sortCategories),
 * with how many cells each has.
 */
function namedCategories(cells: readonly Cell[]): { names: string[]; counts: Map<string, number> } {
  const byKey = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const v of cells) {
    const k = categoryKey(v);
    let name = byKey.get(k);
    if (name === undefined) {
      name = categoryName(v);
      byKey.set(k, name);
    }
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return { names: sortCategories([...counts.keys()]), counts };
}

/**
 * The position of a cell's category in stored `names`, or undefined. Files written now match by
 * categoryKey. A file from before (`legacy`) matches by legacyCategoryName, as that version did,
 * and a boolean or true/false in any case that no name spells exactly by the one name that
 * spells the word in another case (a file fitted on True/False from pandas).
 */
function vocabulary(names: readonly string[], legacy: boolean): (v: Cell) => number | undefined {
  const index = new Map<string, number>();
  names.forEach((name, j) => {
    const k = legacy ? name : categoryKey(name);
    if (!index.has(k)) index.set(k, j);
  });
  if (!legacy) return (v) => index.get(categoryKey(v));
  const words = new Map<string, number | null>();
  names.forEach((name, j) => {
    if (BOOLEAN_WORD.test(name)) words.set(name.toLowerCase(), words.has(name.toLowerCase()) ? null : j);
  });
  return (v) => {
    const k = legacyCategoryName(v);
    const j = index.get(k);
    return j !== undefined || !BOOLEAN_WORD.test(k) ? j : words.get(k.toLowerCase()) ?? undefined;
  };
}

/**
 * A fitted preprocessing of tables: per feature column, numeric standardisation or one-hot
 * encoding by the training categories, imputation of missing cells with indicator columns; and
 * for the label, the class-name vocabulary (classification) or a target scaler (regression).
 * Fit with `TabularPreprocessor.fit(table, options)` on the training rows; `transform` turns any
 * rows with the same columns into the network's input (label columns are ignored, extra columns
 * too), `targets` their labels into the network's targets, `inverseTargets` network outputs back
 * into the label's units. Store it in the model file (saveModel's `preprocessing`); loadModel
 * returns it as `preprocessor`.
 */
export class TabularPreprocessor {
  /** Whether numeric columns are standardised. */
  readonly standardize: boolean;
  /** Whether missing cells are imputed (otherwise they are errors). */
  readonly impute: boolean;
  /** What transform does with a category not seen in training. */
  readonly unknownCategory: 'warn' | 'error';
  /** Why `task` was chosen (auto detection), or null when it was given. */
  readonly taskReason: string | null;
  private readonly cols: Column[];
  private readonly target: Target | null;
  private readonly rows: number | undefined;
  /** Names normalised as in files from before `matching` (see TabularPreprocessorJSON). */
  private readonly legacyNames: boolean;

  private constructor(json: TabularPreprocessorJSON) {
    this.standardize = json.standardize;
    this.impute = json.impute;
    this.unknownCategory = json.unknownCategory;
    this.cols = json.columns;
    this.target = json.target;
    this.taskReason = json.taskReason;
    this.rows = json.rows;
    this.legacyNames = json.matching !== 'text';
  }

  /**
   * Learns everything from the training rows: which columns are categorical, their categories
   * and modes, numeric medians, means and standard deviations (after imputation, float64), the
   * task, the class names or the targets' means and standard deviations. Categories and class
   * names are spelt as first seen (see Cell for how cells match them) and sorted: by value when
   * all are numbers (spellings of one value by their text), else by code unit. Errors name the
   * row and column: a missing cell with impute off, a missing label, a non-numeric regression
   * label or an infinite one among numbers (ERR_BLASNET_DATA); an unknown column
   * (ERR_BLASNET_DATA); several label columns for classification, a column named twice in
   * `label`, `features` or `categorical`, both a label and a feature, or a categorical column
   * that is a label or not among options.features (ERR_BLASNET_ARG_RANGE).
   * Process warnings: a column made categories while most of its cells are numbers (a few text
   * cells, thousands separators or decimal commas, which are never read as numbers), code
   * BLASNET_MOSTLY_NUMERIC, naming the first few text cells; a categorical column of more than 20
   * categories and more than one per two cells, code BLASNET_MANY_CATEGORIES.
   */
  static fit(data: TableInput, options: TabularOptions = {}): TabularPreprocessor {
    const fn = 'TabularPreprocessor.fit';
    const o = checkOptions(fn, options, {
      label: true, features: true, categorical: true, standardize: true, impute: true, unknownCategory: true, task: true, scaleTargets: true,
      kindsFrom: true,
    });
    const kindsFrom = o.kindsFrom;
    if (kindsFrom !== undefined && !(kindsFrom instanceof TabularPreprocessor)) {
      throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a TabularPreprocessor for options.kindsFrom but received ${show(kindsFrom)}`);
    }
    const standardize = bool(fn, 'options.standardize', o.standardize ?? true);
    const impute = bool(fn, 'options.impute', o.impute ?? true);
    const scaleTargets = bool(fn, 'options.scaleTargets', o.scaleTargets ?? true);
    const unknownCategory = o.unknownCategory ?? 'warn';
    if (unknownCategory !== 'warn' && unknownCategory !== 'error') {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected 'warn' or 'error' for options.unknownCategory but received ${show(unknownCategory)}`);
    }
    const taskOption = o.task ?? 'auto';
    if (!['auto', 'classification', 'regression'].includes(taskOption)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected 'classification', 'regression' or 'auto' for options.task but received ${show(taskOption)}`);
    }
    const names = (v: unknown, what: string): string[] => {
      if (v === undefined) return [];
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '')) {
        throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected column names for options.${what} but received ${show(v)}`);
      }
      // One column twice would be two label outputs or two inputs of the same values.
      const named = new Set<string>();
      const twice = list.find((s) => named.size === named.add(s).size);
      if (twice !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: options.${what} names column ${show(twice)} more than once`);
      return list as string[];
    };
    const labels = names(o.label, 'label');
    const view = rowView(fn, data);
    if (view.n === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: ${view.source}: no data rows to fit`);
    const columnList = view.columns.length > 0
      ? `the columns are ${nameList(view.columns)}`
      : `the ${Array.isArray(data) ? 'records have' : 'table has'} no columns`;
    const missingColumn = (c: string, what: string): never => {
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: ${what} ${JSON.stringify(c)} does not exist; ${columnList}`);
    };
    for (const c of labels) if (!view.has(c)) missingColumn(c, 'label column');
    const features = o.features !== undefined ? names(o.features, 'features')
      : kindsFrom ? kindsFrom.cols.map((c) => c.name) : view.columns.filter((c) => !labels.includes(c));
    for (const c of features) {
      if (!view.has(c)) missingColumn(c, 'feature column');
      if (labels.includes(c)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: column ${JSON.stringify(c)} is both a label and a feature`);
    }
    if (features.length === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: ${view.source}: no feature columns`);
    const categorical = [...names(o.categorical, 'categorical')];
    for (const c of kindsFrom?.cols ?? []) if (c.kind === 'categorical' && features.includes(c.name) && !categorical.includes(c.name)) categorical.push(c.name);
    for (const c of categorical) {
      if (labels.includes(c)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: column ${JSON.stringify(c)} is the label column and cannot be a categorical feature`);
      if (view.has(c) && !features.includes(c)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: categorical column ${JSON.stringify(c)} is not one of options.features`);
      if (!features.includes(c)) missingColumn(c, 'categorical column (a feature)');
    }

    const leftOut: string[] = [];
    const columns: Column[] = [];
    for (const name of features) {
      const cells: Cell[] = [];
      // The rows of the cells that are not numbers (numberOf), in order.
      const notNumbers: number[] = [];
      let missing = 0;
      for (let i = 0; i < view.n; i++) {
        const v = view.cell(i, name);
        if (isMissing(v)) {
          if (!impute) {
            throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: missing value ${JSON.stringify(v ?? null)} at ${view.where(i)}, column ${JSON.stringify(name)} (imputation is off)`);
          }
          missing++;
        } else {
          cells.push(v);
          if (numberOf(v) === undefined) notNumbers.push(i);
        }
      }
      if (cells.length === 0) {
        if (kindsFrom) {
          leftOut.push(name);
          continue;
        }
        throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: column ${JSON.stringify(name)} has no values, only missing cells`);
      }
      const indicator = missing > 0;
      const forced = categorical.includes(name);
      // A column of numbers with an infinite or float32-overflowing one among them would
      // otherwise turn into one category per distinct value, and the model would lose it.
      if (!forced && notNumbers.length > 0 && notNumbers.every((i) => outOfRangeNumber(view.cell(i, name)))) {
        const i = notNumbers[0];
        throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: ${cellText(view.cell(i, name))} at ${view.where(i)}, column ${JSON.stringify(name)}, ` +
          'is not a finite float32 number, in a column of numbers; fix the cell, or blank it to have it imputed');
      }
      if (forced || notNumbers.length > 0) {
        const { names: categories, counts } = namedCategories(cells);
        if (!forced) mostlyNumeric(view, name, cells.length, notNumbers, categories.length);
        else manyCategories(view, name, cells.length, categories.length);
        let fill = categories[0];
        for (const c of categories) if ((counts.get(c) as number) > (counts.get(fill) as number)) fill = c;
        columns.push({ name, kind: 'categorical', categories, fill, indicator });
        continue;
      }
      const values = cells.map((v) => numberOf(v) as number);
      const fill = median(values);
      const { mean, std } = standardize ? standardScaling(values, fill, missing) : { mean: 0, std: 1 };
      columns.push({ name, kind: 'numeric', fill, mean, std, indicator });
    }
    if (leftOut.length > 0) {
      if (columns.length === 0) {
        throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: every feature column has only missing cells in these ${view.n} rows`);
      }
      process.emitWarning(`${view.source}: ${leftOut.length === 1 ? 'column' : 'columns'} ${leftOut.map((c) => JSON.stringify(c)).join(', ')} ` +
        `${leftOut.length === 1 ? 'has' : 'have'} no values in these ${view.n} rows, only missing cells, and ${leftOut.length === 1 ? 'is' : 'are'} left out`,
      { code: 'BLASNET_EMPTY_COLUMN' });
    }

    let target: Target | null = null;
    let taskReason: string | null = null;
    if (labels.length > 0) {
      const cells: Cell[][] = labels.map((c) => {
        const out: Cell[] = [];
        for (let i = 0; i < view.n; i++) {
          const v = view.cell(i, c);
          if (isMissing(v)) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: missing label at ${view.where(i)}, column ${JSON.stringify(c)}`);
          out.push(v);
        }
        return out;
      });
      let task: Task;
      if (taskOption !== 'auto') {
        task = taskOption as Task;
      } else {
        ({ task, reason: taskReason } = detectTask(fn, view, labels, cells, view.n));
      }
      if (task === 'classification') {
        if (labels.length > 1) {
          throw rangeError(ErrorCode.ARG_RANGE,
            `${fn}: classification takes one label column but received ${labels.map((s) => JSON.stringify(s)).join(', ')}; several label columns are for regression`);
        }
        const classNames = namedCategories(cells[0]).names;
        if (classNames.length < 2) {
          throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: the label column ${JSON.stringify(labels[0])} holds one class, ` +
            `${JSON.stringify(classNames[0])}, in all ${view.n} rows; a classifier needs rows of two classes or more`);
        }
        target = { task, column: labels[0], classNames };
      } else {
        const mean: number[] = [], std: number[] = [];
        labels.forEach((c, k) => {
          const values = cells[k].map((v, i) => regressionValue(fn, view, v, i, c));
          const { mean: m, std: s } = scaleTargets ? standardScaling(values, 0, 0) : { mean: 0, std: 1 };
          mean.push(m);
          std.push(s);
        });
        target = { task, columns: labels, mean, std };
      }
    }
    return new TabularPreprocessor({
      type: 'TabularPreprocessor', standardize, impute, unknownCategory, columns, target, taskReason, rows: view.n, matching: 'text',
    });
  }

  /** 'classification' or 'regression', or null when fitted without a label. */
  get task(): Task | null {
    return this.target ? this.target.task : null;
  }

  /** The class names seen in training, spelt as first seen, in class-number order (classification), else null. */
  get classNames(): readonly string[] | null {
    return this.target?.task === 'classification' ? this.target.classNames : null;
  }

  /** The label columns. */
  get labelColumns(): readonly string[] {
    if (!this.target) return [];
    return this.target.task === 'classification' ? [this.target.column] : this.target.columns;
  }

  /** The raw feature columns transform reads, in order. */
  get featureColumns(): readonly string[] {
    return this.cols.map((c) => c.name);
  }

  /**
   * The names of transform's output columns: a numeric column's name, `name=category` for each
   * one-hot column, `name (missing)` for an indicator.
   */
  get featureNames(): string[] {
    const out: string[] = [];
    for (const c of this.cols) {
      if (c.kind === 'numeric') out.push(c.name);
      else for (const k of c.categories) out.push(`${c.name}=${k}`);
      if (c.indicator) out.push(`${c.name} (missing)`);
    }
    return out;
  }

  /** The width of transform's output: the model's input size. */
  get inputSize(): number {
    let n = 0;
    for (const c of this.cols) n += (c.kind === 'numeric' ? 1 : c.categories.length) + (c.indicator ? 1 : 0);
    return n;
  }

  /** The width of the network's output: the number of classes, or of regression targets; 0 without a label. */
  get outputSize(): number {
    if (!this.target) return 0;
    return this.target.task === 'classification' ? this.target.classNames.length : this.target.columns.length;
  }

  /** Whether `data` has every label column (an unlabeled file has none, or not all). */
  hasLabels(data: TableInput): boolean {
    const view = rowView('TabularPreprocessor.hasLabels', data);
    return this.labelColumns.length > 0 && this.labelColumns.every((c) => view.has(c));
  }

  /** One line per kind of column, for people. */
  describe(): string {
    const numeric = this.cols.filter((c) => c.kind === 'numeric');
    const cat = this.cols.filter((c): c is CategoricalColumn => c.kind === 'categorical');
    const imputed = this.cols.filter((c) => c.indicator);
    const parts = [`${numeric.length} numeric${numeric.length && this.standardize ? ' (standardised)' : ''}`];
    if (cat.length) parts.push(`${cat.length} categorical (${cat.map((c) => `${c.name}: ${c.categories.length}`).join(', ')}; one-hot)`);
    if (imputed.length) parts.push(`${imputed.length} with missing values (imputed, indicator columns: ${imputed.map((c) => c.name).join(', ')})`);
    return `${this.cols.length} feature columns -> ${this.inputSize} inputs: ${parts.join('; ')}`;
  }

  /**
   * The network's input for `data`: a new [rows, inputSize] float32 Matrix. Every feature column
   * must be present (others are ignored; in records, in some record: one without the field has a
   * missing value there). Errors name the row and column (ERR_BLASNET_DATA): a
   * missing column, a cell that is not a number in a numeric column, a missing cell with impute
   * off, an unknown category with unknownCategory 'error'. An unknown category with 'warn' is
   * encoded as all zeros and reported by one process warning (code BLASNET_UNKNOWN_CATEGORY) per
   * column.
   */
  transform(data: TableInput): Matrix {
    const fn = 'TabularPreprocessor.transform';
    const view = rowView(fn, data);
    for (const c of this.cols) {
      if (!view.has(c.name) && view.n > 0) {
        throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: feature column ${JSON.stringify(c.name)} is missing; the model was trained on ${this.cols.map((x) => JSON.stringify(x.name)).join(', ')}`);
      }
    }
    const width = this.inputSize;
    const out = Matrix.zeros(view.n, width);
    const d = out.data;
    const fail = (i: number, c: Column, what: string): never => {
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: ${what} at ${view.where(i)}, column ${JSON.stringify(c.name)}`);
    };
    let offset = 0;
    for (const c of this.cols) {
      const lookup = c.kind === 'categorical' ? vocabulary(c.categories, this.legacyNames) : null;
      const fill = c.kind === 'categorical' ? c.categories.indexOf(c.fill) : -1;
      let unknown = 0, firstUnknown = -1, unknownValue = '';
      for (let i = 0; i < view.n; i++) {
        const v = view.cell(i, c.name);
        const o = i * width + offset;
        const missing = isMissing(v);
        if (missing && !this.impute) fail(i, c, `missing value ${JSON.stringify(v ?? null)} (imputation is off)`);
        if (c.kind === 'numeric') {
          let x = c.fill;
          if (!missing) {
            const n = numberOf(v);
            if (n === undefined) {
              fail(i, c, `${cellText(v)} is not ${outOfRangeNumber(v) ? 'a finite float32 number' : 'a number'} (the column was numeric in training)`);
            }
            x = n as number;
          }
          d[o] = (x - c.mean) / c.std;
          if (c.indicator) d[o + 1] = missing ? 1 : 0;
        } else {
          const k = missing ? c.fill : categoryName(v);
          const j = missing ? (fill >= 0 ? fill : undefined) : (lookup as (v: Cell) => number | undefined)(v);
          if (j === undefined) {
            if (this.unknownCategory === 'error') fail(i, c, `category ${JSON.stringify(k)} was not seen in training`);
            if (unknown++ === 0) {
              firstUnknown = i;
              unknownValue = k;
            }
          } else {
            d[o + j] = 1;
          }
          if (c.indicator) d[o + c.categories.length] = missing ? 1 : 0;
        }
      }
      if (unknown > 0) {
        process.emitWarning(`${view.source}: ${unknown} row${unknown > 1 ? 's' : ''} of column ${JSON.stringify(c.name)} had categories not seen in training `
          + `(first ${JSON.stringify(unknownValue)} at ${view.where(firstUnknown)}); encoded as all zeros`, { code: 'BLASNET_UNKNOWN_CATEGORY' });
      }
      offset += (c.kind === 'numeric' ? 1 : c.categories.length) + (c.indicator ? 1 : 0);
    }
    return out;
  }

  /**
   * The network's targets for the labels of `data`: class numbers (Int32Array) through the
   * training vocabulary, or a [rows, outputs] Matrix of standardised regression targets. A label
   * not seen in training is ERR_BLASNET_LABEL naming the row, column and the known classes; a
   * missing label column or cell, or a non-numeric regression label, is ERR_BLASNET_DATA.
   */
  targets(data: TableInput): Int32Array | Matrix {
    const fn = 'TabularPreprocessor.targets';
    const t = this.target;
    if (!t) throw new BlasnetError(ErrorCode.STATE, `${fn}: fitted without a label column`);
    const view = rowView(fn, data);
    for (const c of this.labelColumns) {
      if (!view.has(c) && view.n > 0) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: label column ${JSON.stringify(c)} is missing`);
    }
    const cell = (i: number, c: string): Cell => {
      const v = view.cell(i, c);
      if (isMissing(v)) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: missing label at ${view.where(i)}, column ${JSON.stringify(c)}`);
      return v;
    };
    if (t.task === 'classification') {
      const lookup = vocabulary(t.classNames, this.legacyNames);
      const out = new Int32Array(view.n);
      for (let i = 0; i < view.n; i++) {
        const v = cell(i, t.column);
        const j = lookup(v);
        if (j === undefined) {
          const k = categoryName(v);
          const known = t.classNames.length <= 20 ? t.classNames.map((s) => JSON.stringify(s)).join(', ') : `${t.classNames.length} classes`;
          throw rangeError(ErrorCode.LABEL, `${fn}: ${view.source}: label ${JSON.stringify(k)} at ${view.where(i)}, column ${JSON.stringify(t.column)} was not seen in training (classes: ${known})`);
        }
        out[i] = j;
      }
      return out;
    }
    const k = t.columns.length;
    const out = Matrix.zeros(view.n, k);
    t.columns.forEach((c, j) => {
      for (let i = 0; i < view.n; i++) out.data[i * k + j] = (regressionValue(fn, view, cell(i, c), i, c) - t.mean[j]) / t.std[j];
    });
    return out;
  }

  /**
   * The class index of each row's label (targets() of a classification), typed as the class
   * labels fit, evaluate and classificationReport take. ERR_BLASNET_STATE for a preprocessor
   * fitted on a regression label or on none.
   */
  classIndices(data: TableInput): Int32Array {
    const t = this.target;
    if (!t || t.task !== 'classification') {
      throw new BlasnetError(ErrorCode.STATE, `TabularPreprocessor.classIndices: fitted ${t ? 'on a regression label; targets() gives its standardised values' : 'without a label column'}`);
    }
    return this.targets(data) as Int32Array;
  }

  /**
   * Network outputs of a regression back in the label's units: y * std + mean per target
   * column, computed in float64 and rounded once into a new (float32) Matrix, so about 7
   * significant digits: past 2^24 in magnitude a value is a multiple of a power of two
   * (5015949080 comes back as 5015949312). inverseTargetsFloat64 keeps the float64 values.
   * ERR_BLASNET_STATE for classification; ERR_BLASNET_SHAPE when the width is not the number of
   * targets.
   */
  inverseTargets(y: Matrix): Matrix {
    const m = unscaledTargets(this.target, 'TabularPreprocessor.inverseTargets', y);
    return new Matrix(Float32Array.from(m.values), m.rows, m.cols);
  }

  /**
   * As inverseTargets, without the rounding to float32: [rows, targets] row-major in a new
   * Float64Array. For labels whose mean is large next to their spread (prices in cents,
   * timestamps), where float32's spacing at the label's magnitude is coarser than the network's
   * float32 output resolves after scaling by std.
   */
  inverseTargetsFloat64(y: Matrix): Float64Array {
    return unscaledTargets(this.target, 'TabularPreprocessor.inverseTargetsFloat64', y).values;
  }

  /**
   * The regression labels of `data` in their own units, as the cells hold them: [rows, targets]
   * row-major in a new Float64Array, the truth to score inverseTargetsFloat64's predictions
   * against (targets rounds its standardised values to float32). ERR_BLASNET_STATE for
   * classification; a missing label column or cell, or a label that is not a number, is
   * ERR_BLASNET_DATA, as in targets.
   */
  labelValues(data: TableInput): Float64Array {
    const fn = 'TabularPreprocessor.labelValues';
    const t = this.target;
    if (!t || t.task !== 'regression') throw new BlasnetError(ErrorCode.STATE, `${fn}: only a regression has numeric labels`);
    const view = rowView(fn, data);
    const k = t.columns.length;
    const out = new Float64Array(view.n * k);
    t.columns.forEach((c, j) => {
      if (!view.has(c) && view.n > 0) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: label column ${JSON.stringify(c)} is missing`);
      for (let i = 0; i < view.n; i++) {
        const v = view.cell(i, c);
        if (isMissing(v)) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: missing label at ${view.where(i)}, column ${JSON.stringify(c)}`);
        out[i * k + j] = regressionValue(fn, view, v, i, c);
      }
    });
    return out;
  }

  /** The fitted state as plain JSON. */
  toJSON(): TabularPreprocessorJSON {
    return JSON.parse(JSON.stringify({
      type: 'TabularPreprocessor', standardize: this.standardize, impute: this.impute, unknownCategory: this.unknownCategory,
      columns: this.cols, target: this.target, taskReason: this.taskReason, ...(this.rows !== undefined ? { rows: this.rows } : {}),
      ...(this.legacyNames ? {} : { matching: 'text' }),
    })) as TabularPreprocessorJSON;
  }

  /**
   * A TabularPreprocessor from toJSON()'s output; malformed input is ERR_BLASNET_FORMAT. A column's
   * stored std within the rounding error of its mean (fit's constant-column rule, with the recorded
   * row count, or 2^24 rows for a file from before it was recorded) that is also the distance of its
   * median from its mean (rows of one value) is read as a constant column: its training value maps
   * to what the fit that stored the std gave it, and other values are only centred around that.
   * Other columns, and a regression target, keep their std, with which their network was trained.
   */
  static fromJSON(json: unknown): TabularPreprocessor {
    const bad = (m: string): never => {
      throw new BlasnetError(ErrorCode.FORMAT, `TabularPreprocessor.fromJSON: ${m}`);
    };
    const j = json as Partial<TabularPreprocessorJSON> | null;
    if (!j || typeof j !== 'object' || j.type !== 'TabularPreprocessor') bad('Expected an object with type "TabularPreprocessor"');
    const o = j as TabularPreprocessorJSON;
    if (typeof o.standardize !== 'boolean' || typeof o.impute !== 'boolean' || !['warn', 'error'].includes(o.unknownCategory)) bad('malformed options');
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (!Array.isArray(o.columns) || o.columns.length === 0) bad('Expected a non-empty array of columns');
    o.columns.forEach((c, i) => {
      const ok = c && typeof c === 'object' && typeof c.name === 'string' && typeof c.indicator === 'boolean' && (c.kind === 'numeric'
        ? finite(c.fill) && finite(c.mean) && finite(c.std) && c.std > 0
        : c.kind === 'categorical' && strings(c.categories) && c.categories.length > 0 && typeof c.fill === 'string');
      if (!ok) bad(`column ${i} is malformed`);
    });
    const t = o.target;
    if (t !== null) {
      const ok = t && typeof t === 'object' && (t.task === 'classification'
        ? typeof t.column === 'string' && strings(t.classNames) && t.classNames.length > 0
        : t.task === 'regression' && strings(t.columns) && t.columns.length > 0 && Array.isArray(t.mean) && Array.isArray(t.std)
          && t.mean.length === t.columns.length && t.std.length === t.columns.length && t.mean.every(finite) && t.std.every((s) => finite(s) && s > 0));
      if (!ok) bad('target is malformed');
    }
    if (o.taskReason !== null && typeof o.taskReason !== 'string') bad('taskReason is malformed');
    if (o.rows !== undefined && !(Number.isSafeInteger(o.rows) && o.rows > 0)) bad('rows is malformed');
    if (o.matching !== undefined && o.matching !== 'text') bad('matching is malformed');
    if (o.matching === 'text') {
      // Two names one cell matches ("True" and "true") would make it two one-hot columns or classes.
      const twice = (names: string[]): string | undefined => {
        const seen = new Set<string>();
        return names.find((k) => seen.size === seen.add(categoryKey(k)).size);
      };
      o.columns.forEach((c, i) => {
        const k = c.kind === 'categorical' ? twice(c.categories) : undefined;
        if (k !== undefined) bad(`column ${i} holds the category ${show(k)} twice`);
      });
      const k = t?.task === 'classification' ? twice(t.classNames) : undefined;
      if (k !== undefined) bad(`target holds the class ${show(k)} twice`);
    }
    const copy = JSON.parse(JSON.stringify(o)) as TabularPreprocessorJSON;
    // fit's constant-column rule, also for a file written before it: a std of rounding noise
    // (about 1e-15 for a column of 0.1) would turn 0.11 into about 7e12. Without the row count
    // such a file lacks, the bound is taken at UNRECORDED_ROWS (2^24). A column is read as
    // constant only when its std is also the distance of its median (`fill`) from its mean, as
    // for rows that all hold one value; a real column with a small spread (timestamps a few
    // seconds apart) keeps its std. The fit that stored a constant column's std divided by it:
    // its training rows, every one `fill`, reached the network as (fill - mean) / std, about -1
    // or 1, and the network learnt that. They still do; other values are only centred around them.
    // A regression target of such a std keeps it: the network learnt to give (y - mean) / std for
    // its one value y, which the stored std maps back to y; a divisor of 1 would add that -1 or 1
    // to every prediction.
    const n = copy.rows ?? UNRECORDED_ROWS;
    for (const c of copy.columns) {
      if (c.kind !== 'numeric' || c.std === 1 || !withinRounding(c.std, c.mean, n)) continue;
      if (!(Math.abs(c.std - Math.abs(c.fill - c.mean)) <= 1e-6 * c.std)) continue;
      c.mean = c.fill - (c.fill - c.mean) / c.std;
      c.std = 1;
    }
    return new TabularPreprocessor(copy);
  }
}

function regressionValue(fn: string, view: RowView, v: Cell, i: number, column: string): number {
  const n = numberOf(v);
  if (n === undefined) {
    throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: label ${cellText(v)} at ${view.where(i)}, column ${JSON.stringify(column)} ` +
      `is not ${outOfRangeNumber(v) ? 'a finite float32 number' : 'a number'} (the task is regression)`);
  }
  return n;
}

/**
 * Auto task detection over the label columns' cells (none missing; cells[k][i] is row i). A
 * column of numbers with an infinite or float32-overflowing one among them is ERR_BLASNET_DATA
 * naming it, as in a feature column: as text it would make every distinct price a class.
 */
function detectTask(fn: string, view: RowView, labels: string[], cells: Cell[][], rows: number): { task: Task; reason: string } {
  const names = labels.map((s) => JSON.stringify(s)).join(', ');
  const limit = Math.min(50, Math.max(2, Math.floor(rows / 3)));
  for (let k = 0; k < labels.length; k++) {
    const text = cells[k].find((v) => numberOf(v) === undefined && !outOfRangeNumber(v));
    if (text !== undefined) {
      mostlyNumericLabel(fn, view, labels[k], cells[k], limit);
      return { task: 'classification', reason: `label ${JSON.stringify(labels[k])} holds text (${JSON.stringify(String(text).trim())})` };
    }
  }
  for (let k = 0; k < labels.length; k++) {
    const i = cells[k].findIndex((v) => numberOf(v) === undefined);
    if (i >= 0) {
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: label ${cellText(cells[k][i])} at ${view.where(i)}, column ${JSON.stringify(labels[k])}, ` +
        'is not a finite float32 number, in a column of numbers; fix the cell or leave the row out');
    }
  }
  if (labels.length > 1) return { task: 'regression', reason: `several numeric label columns (${names})` };
  const values = cells[0].map((v) => numberOf(v) as number);
  if (values.some((v) => !Number.isInteger(v))) return { task: 'regression', reason: `label ${names} holds non-integer numbers` };
  const distinct = new Set(cells[0].map(categoryKey)).size;
  if (distinct <= limit) return { task: 'classification', reason: `label ${names} holds ${distinct} distinct integers (at most ${limit} means classes)` };
  return { task: 'regression', reason: `label ${names} holds ${distinct} distinct integers (more than ${limit} means a quantity)` };
}

/**
 * ERR_BLASNET_DATA for a label column that holds numbers in most cells (plain, or with thousands
 * separators or a decimal comma) and text in a few, with more distinct values than classes have
 * (`limit`, as for integers): as text every distinct price would be a class, a classifier of
 * hundreds of one-row classes. Names the first text cells; --task classification keeps them as
 * classes.
 */
function mostlyNumericLabel(fn: string, view: RowView, name: string, cells: Cell[], limit: number): void {
  const text: number[] = [];
  let separated = 0;
  cells.forEach((v, i) => {
    if (numberOf(v) !== undefined) return;
    if (typeof v === 'string' && SEPARATED_NUMBER.test(v.trim())) separated++;
    else text.push(i);
  });
  const numeric = cells.length - text.length;
  const distinct = new Set(cells.map(categoryKey)).size;
  if (numeric * 2 <= cells.length || distinct <= limit) return;
  const shown = text.slice(0, 3).map((i) => `${cellText(cells[i])} at ${view.where(i)}`);
  const what = [
    ...(text.length > 0 ? [`${text.length} text cell${text.length === 1 ? '' : 's'} (${shown.join(', ')}${text.length > 3 ? ', ...' : ''})`] : []),
    ...(separated > 0 ? [`${separated} number${separated === 1 ? '' : 's'} written with thousands separators or a decimal comma`] : []),
  ].join(' and ');
  throw new BlasnetError(ErrorCode.DATA, `${fn}: ${view.source}: label ${JSON.stringify(name)} holds numbers, but ${what} among its ${cells.length} ` +
    `cells would make it classes, ${distinct} of them; fix those cells or leave their rows out (a missing label is not imputed), write numbers ` +
    'as plain decimals (1234.5), or set the task to classification (--task classification) if the values are classes');
}

/** y * std + mean per target column of a regression, in float64 (inverseTargets and its float64 twin). */
function unscaledTargets(t: Target | null, fn: string, y: Matrix): { values: Float64Array; rows: number; cols: number } {
  if (!t || t.task !== 'regression') throw new BlasnetError(ErrorCode.STATE, `${fn}: only a regression has targets to scale back`);
  const m = matrix(fn, 'y', y);
  const k = t.columns.length;
  if (m.cols !== k) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected y with ${k} columns but received [${m.rows}, ${m.cols}]`);
  const values = new Float64Array(m.rows * k);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < k; j++) values[i * k + j] = m.data[i * k + j] * t.std[j] + t.mean[j];
  return { values, rows: m.rows, cols: k };
}

/**
 * Why a table preprocessing with labels cannot go with a model of `outputs` outputs, or null: a
 * classifier over the table has one output per class (a 2-class table, 2 outputs: the CLI's
 * predict, evaluate and export read output k as class k), a regression one per label column.
 * @internal
 */
export function tableOutputsMismatch(table: TabularPreprocessor, outputs: number): string | null {
  const want = table.outputSize;
  if (want === 0 || want === outputs) return null;
  const what = table.task === 'classification'
    ? `${want} classes (${(table.classNames as readonly string[]).slice(0, 5).map((c) => JSON.stringify(c)).join(', ')}${want > 5 ? ', ...' : ''}), one output each`
    : `${want} label column${want === 1 ? '' : 's'}, one output each`;
  return `the table preprocessing has ${what}, but the model has ${outputs} output${outputs === 1 ? '' : 's'}`;
}
