/** Small pieces every module's argument checks and messages share. */
import { typedArrayTag } from './typed';

/** The largest finite float32; a number above it does not fit the kernels' floats. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Whether `key` is an own property of `o` (not inherited, whatever `o` defines). */
export function hasOwn(o: object, key: PropertyKey): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** A value as messages show it: strings quoted, arrays in brackets, anything else as it prints. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return String(v);
}

/** The kind of a value for messages: 'null', 'Array', a typed array's class, or its typeof. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  return typedArrayTag(v) ?? typeof v;
}
