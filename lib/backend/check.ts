/**
 * Argument guards of the js backend: the same checks, codes and messages as the native binding
 * (binding/args.h), so that a test of a bad call holds on both backends.
 */
import { ErrorCode, rangeError, typeError } from '../errors';
import { isDetached, typedArrayTag, typedBuffer, typedByteOffset, typedLength } from '../typed';
import { FLOAT32_MAX, fitsFloat32, show as describeValue, typeName } from '../describe';

const MAX_DIM = 2147483647;

function show(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return String(v);
}


/**
 * A weighted loss's row weights: each finite and non-negative, else ERR_BLASNET_ARG_RANGE naming
 * the first bad one (lossWeighted's check, and the model's before its pass).
 */
export function refuseBadRowWeights(fn: string, weight: Float32Array, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const v = weight[r];
    if (!(v >= 0 && v <= FLOAT32_MAX)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected finite non-negative values in weight but weight[${r}] is ${describeValue(v)}`);
    }
  }
}

export function argCount(fn: string, got: number, want: number): void {
  if (got !== want) {
    throw typeError(ErrorCode.ARG_COUNT, `${fn}: Expected ${want} arguments but received ${got}`);
  }
}

function num(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected number for ${name} but received ${typeName(v)}`);
  }
  return v;
}

/** A non-negative integer that fits a BLAS dimension. */
export function dim(fn: string, name: string, v: unknown): number {
  const x = num(fn, name, v);
  if (!(x >= 0 && x <= MAX_DIM && Number.isInteger(x))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected non-negative integer for ${name} but received ${show(x)}`);
  }
  return x;
}

/** A finite number that fits a float; returned rounded to float32, as the kernels see it. */
export function scalar(fn: string, name: string, v: unknown): number {
  const x = num(fn, name, v);
  if (!fitsFloat32(x)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected finite number for ${name} but received ${show(x)}`);
  }
  return Math.fround(x);
}

/**
 * A finite number that must also lie in a domain (`ok`, tested on the float the kernel will see;
 * `domain` names it in the message, which shows the value as received).
 */
export function scalarIn(fn: string, name: string, v: unknown, ok: (x: number) => boolean, domain: string): number {
  const x = scalar(fn, name, v);
  if (!ok(x)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected ${domain} for ${name} but received ${show(v)}`);
  }
  return x;
}

export function flag(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected boolean for ${name} but received ${typeName(v)}`);
  }
  return v;
}

/** A table id in [0, count). */
export function id(fn: string, name: string, v: unknown, count: number): number {
  const x = num(fn, name, v);
  if (!(x >= 0 && x < count && Number.isInteger(x))) {
    throw rangeError(ErrorCode.UNKNOWN_ID, `${fn}: Expected integer in [0, ${count}) for ${name} but received ${show(x)}`);
  }
  return x;
}

/**
 * A needed length: a number while it is a safe integer, else the exact bigint. Dims are below
 * 2^31, so a product of two (or a stride term plus one) can pass 2^53, where a float64 loses the
 * last digits the binding's uint64 arithmetic keeps: messages quote this value, so both backends
 * print the same integer.
 */
export type Count = number | bigint;

/** The exact product of two non-negative integers, as a Count. */
export function mul(a: Count, b: Count): Count {
  if (typeof a === 'number' && typeof b === 'number') {
    // A float product that is a safe integer is exact.
    const p = a * b;
    if (Number.isSafeInteger(p)) return p;
  }
  const q = BigInt(a) * BigInt(b);
  return q <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(q) : q;
}

/** The exact sum of two non-negative integers, as a Count. */
export function add(a: Count, b: Count): Count {
  if (typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a + b)) return a + b;
  const s = BigInt(a) + BigInt(b);
  return s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}

type Kind = 'Float32Array' | 'Int32Array';

function typed(fn: string, name: string, v: unknown, needed: Count, formula: string, kind: Kind, nullable: boolean): void {
  if (nullable && v === null) return;
  if (typedArrayTag(v) !== kind) {
    throw typeError(
      ErrorCode.ARG_TYPE,
      `${fn}: Expected ${kind}${nullable ? ' or null' : ''} for ${name} but received ${typeName(v)}`,
    );
  }
  if (isDetached(v)) {
    throw typeError(ErrorCode.DETACHED, `${fn}: ${name} is backed by a detached ArrayBuffer`);
  }
  const length = typedLength(v);
  if (length < needed) {
    throw rangeError(
      ErrorCode.ARG_LENGTH,
      `${fn}: Expected ${name} to hold at least ${needed} elements (${formula}) but it has ${length}`,
    );
  }
}

export function f32(fn: string, name: string, v: unknown, needed: Count, formula: string): void {
  typed(fn, name, v, needed, formula, 'Float32Array', false);
}
export function f32OrNull(fn: string, name: string, v: unknown, needed: Count, formula: string): void {
  typed(fn, name, v, needed, formula, 'Float32Array', true);
}
export function i32(fn: string, name: string, v: unknown, needed: Count, formula: string): void {
  typed(fn, name, v, needed, formula, 'Int32Array', false);
}

/** An array argument with the number of elements the kernel touches. */
export interface Span {
  name: string;
  a: Float32Array | Int32Array | null;
  used: number;
}

/**
 * `out` must not share memory with `input`. Two SharedArrayBuffer objects over the same memory
 * (one received through postMessage) cannot be told apart from JavaScript: the js backend sees
 * them as disjoint, the native backend does not.
 */
export function disjoint(fn: string, out: Span, input: Span): void {
  const o = out.a;
  const i = input.a;
  if (!o || !i || out.used === 0 || input.used === 0 || typedBuffer(o) !== typedBuffer(i)) return;
  // Both kinds of array here have 4-byte elements.
  const o0 = typedByteOffset(o);
  const o1 = o0 + out.used * 4;
  const i0 = typedByteOffset(i);
  const i1 = i0 + input.used * 4;
  if (o0 < i1 && i0 < o1) {
    throw rangeError(ErrorCode.ALIAS, `${fn}: ${out.name} must not share memory with ${input.name}`);
  }
}

/** `out` may be `input` itself (elementwise in place) but must not partly overlap it. */
export function sameOrDisjoint(fn: string, out: Span, input: Span): void {
  if (out.a && input.a && typedBuffer(out.a) === typedBuffer(input.a) &&
      typedByteOffset(out.a) === typedByteOffset(input.a) && out.used === input.used) {
    return;
  }
  disjoint(fn, out, input);
}
