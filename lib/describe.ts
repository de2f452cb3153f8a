/** Small pieces every module's argument checks and messages share. */
import { typedArrayTag } from './typed';
import { ErrorCode, rangeError, typeError } from './errors';

/** The largest finite float32; a number above it does not fit the kernels' floats. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Whether a number fits the kernels' float32: at most FLOAT32_MAX in magnitude (so not NaN or
 * infinite). Every reader of data (CSV cells, records, table cells) refuses a value that does not,
 * rather than letting float32 turn 1e39 into Infinity.
 */
export function fitsFloat32(v: number): boolean {
  return Math.abs(v) <= FLOAT32_MAX;
}

/**
 * Whether `v` is an object of keys and values, as an options object or a `{ key: value }` map is
 * written: not null, an array, a typed array, a Map, a Set, a Date or another built-in collection
 * (whose entries Object.entries does not see, so a Map given for a map option would be read as
 * empty), from any realm.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.prototype.toString.call(v) === '[object Object]';
}

/**
 * Names as a message lists them: quoted, comma-separated, the first `max` of them and then how
 * many more (a header of 10^6 columns would make a message of megabytes).
 */
export function nameList(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((s) => JSON.stringify(s)).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Whether `key` is an own property of `o` (not inherited, whatever `o` defines). */
export function hasOwn(o: object, key: PropertyKey): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/**
 * A value as messages show it: strings quoted, arrays in brackets (the first 10 elements, two
 * levels deep), BigInts with their `n`, plain objects as JSON (up to 100
 * characters), anything else as it prints. Never throws: a message must
 * survive the bad value it describes (Symbols and null-prototype objects do not convert to
 * strings, an object's own toString may throw).
 */
export function show(v: unknown): string {
  return showAt(v, 0);
}

function showAt(v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (Array.isArray(v)) {
    if (depth > 1) return `Array(${v.length})`;
    const items = v.slice(0, 10).map((x) => showAt(x, depth + 1));
    return `[${items.join(', ')}${v.length > 10 ? `, ... ${v.length - 10} more` : ''}]`;
  }
  try {
    const proto: unknown = typeof v === 'object' && v !== null ? Object.getPrototypeOf(v) : undefined;
    if (proto === Object.prototype || proto === null) {
      const json = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
      return json.length > 100 ? `${json.slice(0, 97)}...` : json;
    }
    return String(v);
  } catch {
    return typeName(v);
  }
}

/** The kind of a value for messages: 'null', 'Array', a typed array's class, or its typeof. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  const tag = typedArrayTag(v);
  if (tag) return tag;
  if (typeof v === 'object') {
    // A built-in collection by its name (Map, Set, Date, ...), a plain object as 'object'.
    const kind = Object.prototype.toString.call(v).slice(8, -1);
    return kind === 'Object' ? 'object' : kind;
  }
  return typeof v;
}

/** An option of a table entry: its default and the check that parses a given value. */
export interface OptionParser {
  readonly default: unknown;
  parse(value: unknown, key: string, label: string): unknown;
}

/**
 * The options of a `{ name, ...options }` spec against a table entry's option definitions: an
 * unknown key is a RangeError, a missing required one a TypeError, every given value goes through
 * its parser, the rest take their defaults; then the entry's cross-option check, if any.
 */
export function parseOptions<D extends OptionParser>(label: string, spec: Record<string, unknown>, defs: Readonly<Record<string, D>>,
  isRequired: (def: D) => boolean, check?: (options: Record<string, unknown>) => string | undefined): Record<string, unknown> {
  for (const key of Object.keys(spec)) {
    if (key === 'name' || spec[key] === undefined) continue;
    if (!hasOwn(defs, key)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${label}: Unknown option ${show(key)}; expected ${Object.keys(defs).join(', ')}`);
    }
  }
  const options: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) {
    const value = spec[key];
    if (value !== undefined) options[key] = def.parse(value, key, label);
    else if (isRequired(def)) throw typeError(ErrorCode.ARG_TYPE, `${label}: Missing required option ${key}`);
    else options[key] = def.default;
  }
  const problem = check?.(options);
  if (problem !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${label}: ${problem}`);
  return options;
}

/**
 * The id of `name` in a kernel table (its position in the table's names, shared with the
 * addon); RangeError ERR_BLASNET_UNKNOWN_NAME listing the names when it is not there.
 */
export function tableId(kind: string, names: readonly string[], name: string): number {
  const id = names.indexOf(name);
  if (id < 0) {
    throw rangeError(ErrorCode.UNKNOWN_NAME, `Unknown ${kind} ${show(name)}; expected one of ${names.join(', ')}`);
  }
  return id;
}

/**
 * The keys an options argument may hold, each set to `true`: written as an object literal against
 * the options' type, so the compiler refuses a list that misses one of the type's keys or adds one
 * it does not have.
 */
export type OptionKeys<T> = { readonly [K in keyof T]-?: true };

/**
 * Refuses every key of `o` that is not in `known` with RangeError ERR_BLASNET_ARG_RANGE
 * `label: unknown option key`, whatever its value: a misspelt option would otherwise be ignored and
 * its default used without a word. For an object nested in the options, `name` is its option's
 * name and the message says `name.key`.
 */
export function checkOptionKeys(label: string, o: object, known: Readonly<Record<string, true>>, name = 'options'): void {
  // A Map (or another collection) keeps its entries where Object.keys does not see them.
  if (!isPlainObject(o)) throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected an object for ${name} but received ${typeName(o)}`);
  for (const k of Object.keys(o)) {
    if (!hasOwn(known, k)) throw rangeError(ErrorCode.ARG_RANGE, `${label}: unknown option ${name === 'options' ? k : `${name}.${k}`}`);
  }
}

/**
 * An options argument: undefined gives {}; anything but a plain object (null, a number, an
 * array, a function) is a TypeError ERR_BLASNET_ARG_TYPE, so that a misplaced argument is not
 * read as "all defaults". With `known`, a key outside it is refused (checkOptionKeys); `name` names
 * the argument, or the option an object nested in the options belongs to.
 */
export function optionsArg<T extends object>(label: string, v: T | undefined, known?: OptionKeys<NoInfer<T>>, name = 'options'): T {
  if (v === undefined) return {} as T;
  if (!isPlainObject(v)) {
    throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected an object for ${name} but received ${typeName(v)}`);
  }
  if (known) checkOptionKeys(label, v, known, name);
  return v;
}
