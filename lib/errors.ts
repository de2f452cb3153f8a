/**
 * Stable error codes. Every error blasnet throws on purpose carries one of these as `code`;
 * argument errors are `TypeError` (wrong type, detached buffer, wrong argument count) or
 * `RangeError` (bad dimension, short buffer, aliasing, id or label out of range).
 */
export const ErrorCode = {
  ARG_COUNT: 'ERR_BLASNET_ARG_COUNT',
  ARG_TYPE: 'ERR_BLASNET_ARG_TYPE',
  ARG_RANGE: 'ERR_BLASNET_ARG_RANGE',
  ARG_LENGTH: 'ERR_BLASNET_ARG_LENGTH',
  DETACHED: 'ERR_BLASNET_DETACHED',
  ALIAS: 'ERR_BLASNET_ALIAS',
  UNKNOWN_ID: 'ERR_BLASNET_UNKNOWN_ID',
  UNKNOWN_NAME: 'ERR_BLASNET_UNKNOWN_NAME',
  INDEX: 'ERR_BLASNET_INDEX',
  LABEL: 'ERR_BLASNET_LABEL',
  TARGET: 'ERR_BLASNET_TARGET',
  SHAPE: 'ERR_BLASNET_SHAPE',
  STATE: 'ERR_BLASNET_STATE',
  BACKEND: 'ERR_BLASNET_BACKEND',
  FORMAT: 'ERR_BLASNET_FORMAT',
  IO: 'ERR_BLASNET_IO',
  DATA: 'ERR_BLASNET_DATA',
  BUSY: 'ERR_BLASNET_BUSY',
  DIVERGED: 'ERR_BLASNET_DIVERGED',
  ABORTED: 'ERR_BLASNET_ABORTED',
  /** A model part that an export format cannot express (a custom layer, preprocessing or loss). */
  UNSUPPORTED: 'ERR_BLASNET_UNSUPPORTED',
  /** An optional package a feature needs is not installed (the plotting stack). */
  DEPENDENCY: 'ERR_BLASNET_DEPENDENCY',
  /** A collective of distributed training failed or timed out: another rank died, threw or stalled. */
  DISTRIBUTED: 'ERR_BLASNET_DISTRIBUTED',
  /**
   * A buffer could not be allocated: longer than a JavaScript typed array may be, or more than
   * the process could get (a model of billions of weights).
   */
  MEMORY: 'ERR_BLASNET_MEMORY',
  INTERNAL: 'ERR_BLASNET_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/**
 * Base class of blasnet's own errors. `instanceof BlasnetError` is also true for the coded
 * `TypeError`s and `RangeError`s thrown by argument checks (native or js), so one check catches
 * everything blasnet throws on purpose.
 */
export class BlasnetError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    if (!CODES.has(code) || typeof message !== 'string') {
      throw typeError(ErrorCode.ARG_TYPE, `BlasnetError: Expected an ErrorCode and a string message but received ${typeof code} and ${typeof message}`);
    }
    super(message, options);
    this.name = 'BlasnetError';
    this.code = code;
  }

  /** True for any Error whose `code` starts with `ERR_BLASNET_` (see the class comment). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!(value instanceof Error)) return false;
    const code: unknown = (value as Error & { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('ERR_BLASNET_');
  }
}

/** A `TypeError` with a blasnet `code`. */
export function typeError(code: ErrorCode, message: string): TypeError & { code: ErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

/** A `RangeError` with a blasnet `code`. */
export function rangeError(code: ErrorCode, message: string): RangeError & { code: ErrorCode } {
  return Object.assign(new RangeError(message), { code });
}
