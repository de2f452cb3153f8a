import { show } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';

/** Option checks shared by the layers, with one message format. */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for ${name} but received ${String(v)}`);
  }
  return v;
}

export function finiteIn(where: string, name: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for ${name} but received ${typeof v}`);
  }
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    throw rangeError(ErrorCode.ARG_RANGE,
      `${where}: Expected ${name} in [${lo}, ${hi}${hiOpen ? ')' : ']'} but received ${v}`);
  }
  return v;
}

export function oneOf<T extends string>(where: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw rangeError(ErrorCode.UNKNOWN_NAME,
      `${where}: Unknown ${name} ${show(v)}; expected one of ${allowed.join(', ')}`);
  }
  return v as T;
}
