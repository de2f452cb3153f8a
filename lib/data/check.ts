/**
 * Argument checks shared by the data module. Messages follow the kernel layer's form
 * ("fn: Expected ... for name but received ..."), so that an error names the argument at fault.
 */
import type { Backend } from '../backend/types';
import { checkOptionKeys } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { held, Matrix } from '../tensor';
import { isDetached, typedArrayTag, typedLength } from '../typed';

/** A short description of a value for messages. */
export function show(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  const tag = typedArrayTag(v);
  if (tag) return tag;
  if (Array.isArray(v)) return 'Array';
  if (v instanceof Matrix) return `Matrix [${v.rows}, ${v.cols}]`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v;
}

/** `v` must be a Matrix. */
export function matrix(fn: string, name: string, v: unknown): Matrix {
  if (!(v instanceof Matrix)) throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Matrix for ${name} but received ${show(v)}`);
  held(fn, name, v);
  return v;
}

/** ERR_BLASNET_DETACHED naming `name` when typed array `a` is backed by a detached ArrayBuffer (it reads as empty). */
export function refuseDetached(fn: string, name: string, a: unknown): void {
  if (typedArrayTag(a) !== undefined && isDetached(a)) throw typeError(ErrorCode.DETACHED, `${fn}: ${name} is backed by a detached ArrayBuffer`);
}

/** An options object or undefined (then {}); with `known`, a key outside it is refused (checkOptionKeys). */
export function options<T extends object>(fn: string, v: T | undefined, known?: OptionKeys<NoInfer<T>>): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected an options object but received ${show(v)}`);
  }
  if (known) checkOptionKeys(fn, v, known);
  return v;
}

/** A positive integer. */
export function positiveInt(fn: string, name: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected positive integer for ${name} but received ${show(v)}`);
  }
  return v;
}

/** An integer (seeds). */
export function integer(fn: string, name: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isInteger(v))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected integer for ${name} but received ${show(v)}`);
  }
  return v;
}

/** A boolean. */
export function bool(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected boolean for ${name} but received ${show(v)}`);
  return v;
}

/** A finite number. */
export function finite(fn: string, name: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isFinite(v))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected finite number for ${name} but received ${show(v)}`);
  }
  return v;
}

/**
 * Every element of x is finite; otherwise ERR_BLASNET_DATA naming the first bad row and column,
 * numbered from 1 as the other checks of a data row number them.
 * One pass that only compares: `v - v` is 0 for finite v and NaN for NaN and +-Infinity.
 */
export function allFinite(fn: string, name: string, x: Matrix): void {
  const n = x.rows * x.cols;
  const d = x.data;
  for (let i = 0; i < n; i++) {
    const v = d[i];
    if (v - v !== 0) {
      const r = Math.floor(i / x.cols), c = i - r * x.cols;
      throw new BlasnetError(ErrorCode.DATA, `${fn}: ${name} has ${v} at row ${r + 1}, column ${c + 1}; expected finite values`);
    }
  }
}

/**
 * Checks the first n values of a Float32Array for NaN and infinities with the backend's scan;
 * ERR_BLASNET_DATA names the first bad index (plus `offset`, where data is a part of a larger array)
 * and, given `cols` (values per row of the larger array), its 1-based row and column.
 */
export function checkFinite(backend: Backend, where: string, what: string, data: Float32Array, n: number, offset = 0, cols = 0): void {
  const i = backend.firstNonFinite(n, data);
  if (i >= 0) {
    const at = offset + i, r = cols > 0 ? Math.floor(at / cols) : 0;
    const cell = cols > 0 ? ` (row ${r + 1}, column ${at - r * cols + 1})` : '';
    throw new BlasnetError(ErrorCode.DATA, `${where}: ${what} holds ${data[i]} at index ${at}${cell}; clean or impute the data first`);
  }
}

/** The targets that travel with the rows of x: class labels, flat targets or a matrix. */
export type Targets = Int32Array | Float32Array | Matrix;

/**
 * Checks y against `rows` samples and returns its values per row (1 for labels, targets/rows for a
 * flat Float32Array, cols for a Matrix). null/undefined y gives 0.
 */
export function targetWidth(fn: string, name: string, y: unknown, rows: number): number {
  if (y === null || y === undefined) return 0;
  if (y instanceof Matrix) {
    if (y.rows !== rows) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected ${name} to have ${rows} rows (one per row of x) but it has ${y.rows}`);
    return y.cols;
  }
  const tag = typedArrayTag(y);
  if (tag === 'Int32Array') {
    const n = typedLength(y);
    if (n !== rows) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected ${rows} labels in ${name} (one per row of x) but received ${n}`);
    return 1;
  }
  if (tag === 'Float32Array') {
    const n = typedLength(y);
    if (rows === 0 ? n !== 0 : n % rows !== 0 || n === 0) {
      throw rangeError(ErrorCode.SHAPE, `${fn}: Expected ${name} to hold a whole number of values per row of x (${rows} rows) but it has ${n}`);
    }
    return rows === 0 ? 1 : n / rows;
  }
  throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Int32Array, Float32Array or Matrix for ${name} but received ${show(y)}`);
}
