/**
 * Typed-array facts read through the built-in getters, not through properties: an own `length`
 * or `buffer` property, a Proxy, a foreign prototype or another realm cannot make an array look
 * like something it is not. This is what the native binding sees, so both backends judge alike.
 */
import { adviseLargeBuffer, memoryError } from './backend/memory';
import type { AllocationContext } from './backend/memory';

const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Int8Array.prototype) as object;

function getter<T>(key: PropertyKey): (target: unknown) => T {
  const get = (Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, key) as PropertyDescriptor).get as (this: unknown) => T;
  return (target) => get.call(target);
}

/** 'Float32Array', 'Int32Array', ... for a real typed array (any realm); undefined otherwise. */
export const typedArrayTag = getter<string | undefined>(Symbol.toStringTag);
/** The element count of a real typed array. */
export const typedLength = getter<number>('length');
/** The byte length of a real typed array (0 once its buffer is detached). */
export const typedByteLength = getter<number>('byteLength');
/** The byte offset of a real typed array. */
export const typedByteOffset = getter<number>('byteOffset');
/** The buffer behind a real typed array. */
export const typedBuffer = getter<ArrayBufferLike>('buffer');

const sliceBuffer = ArrayBuffer.prototype.slice;
const toStringTag = Object.prototype.toString;

/** Whether a real typed array's buffer has been detached (transferred). */
export function isDetached(a: unknown): boolean {
  if (typedByteLength(a) !== 0) return false;
  const buffer = typedBuffer(a);
  if (toStringTag.call(buffer) === '[object SharedArrayBuffer]') return false;
  try {
    sliceBuffer.call(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Whether v is a real Int32Array, from any realm. */
export function isInt32Array(v: unknown): v is Int32Array {
  return typedArrayTag(v) === 'Int32Array';
}

/**
 * A zeroed Float32Array or Int32Array of n values on a SharedArrayBuffer of its own;
 * ERR_BLASNET_MEMORY (memoryError, with `context`) when it cannot be allocated.
 */
export function sharedArray(type: 'Float32Array', n: number, context?: AllocationContext): Float32Array;
export function sharedArray(type: 'Int32Array', n: number, context?: AllocationContext): Int32Array;
export function sharedArray(type: 'Float32Array' | 'Int32Array', n: number, context: AllocationContext = {}): Float32Array | Int32Array {
  let buffer: ArrayBuffer;
  try {
    buffer = new SharedArrayBuffer(n * 4) as unknown as ArrayBuffer;
  } catch (e) {
    throw memoryError(n, e, { ...context, type: type === 'Int32Array' ? 'int32' : 'float32' });
  }
  return type === 'Int32Array' ? new Int32Array(buffer) : new Float32Array(buffer);
}

/**
 * A copy of a Float32Array or Int32Array on a SharedArrayBuffer of its own (what worker threads
 * can read in place); ERR_BLASNET_MEMORY, with `context`, when it cannot be allocated.
 */
export function sharedCopy<T extends Float32Array | Int32Array>(a: T, context?: AllocationContext): T {
  const out = typedArrayTag(a) === 'Int32Array' ? sharedArray('Int32Array', typedLength(a), context) : sharedArray('Float32Array', typedLength(a), context);
  // Advised for huge pages when large: a data set's copy is the largest buffer a fit fills.
  adviseLargeBuffer(out);
  out.set(a as never);
  return out as T;
}
