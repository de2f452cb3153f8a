/**
 * Shared test harness: every kernel test is written once and run on every backend that loads.
 * With BLASNET_REQUIRE_NATIVE=1 (set by .ci/run) a missing native addon fails the run instead of
 * being skipped.
 */
import { strict as assert } from 'assert';
import { Backend, getBackend, jsBackend, nativeAvailable, nativeLoadError, Rng } from '../lib';

export const requireNative = process.env.BLASNET_REQUIRE_NATIVE === '1';

/** The backends under test: js always, native when it loads (or required). */
export function backends(): Backend[] {
  if (nativeAvailable()) return [jsBackend, getBackend('native')];
  if (requireNative) throw new Error(`native backend required but not loadable: ${nativeLoadError()?.message}`);
  return [jsBackend];
}

/** Runs `body` inside a describe block per backend. */
export function forEachBackend(title: string, body: (b: Backend) => void): void {
  for (const b of backends()) describe(`${title} [${b.name}]`, () => body(b));
}

/**
 * ||a - b|| / ||b|| (or ||a - b|| when b is zero): the normalised error used to compare backends.
 * Positions where both are NaN agree; NaN on one side only makes the error infinite.
 */
export function normError(a: ArrayLike<number>, b: ArrayLike<number>, n = b.length): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const na = Number.isNaN(a[i]), nb = Number.isNaN(b[i]);
    if (na || nb) {
      if (na !== nb) return Infinity;
      continue;
    }
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}

/** Asserts that `fn` throws an error with `code` (and, optionally, of class `cls`). */
/** Equal element for element (Object.is: NaN matches NaN, -0 does not match 0). */
export function sameValues(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) assert.fail(`${what}: ${a.length} values, expected ${b.length}`);
  for (let i = 0; i < b.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]}, expected ${b[i]}`);
  }
}

export function throwsCode(fn: () => unknown, code: string, cls?: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, mentions?: string): void {
  let thrown: unknown = null;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === null) throw new Error(`expected an error with code ${code} but nothing was thrown`);
  const e = thrown as Error & { code?: string };
  if (e.code !== code) throw new Error(`expected code ${code} but got ${e.code}: ${e.message}`);
  if (cls && !(e instanceof cls)) throw new Error(`expected ${cls.name} but got ${e.constructor.name}: ${e.message}`);
  if (mentions && !e.message.includes(mentions)) {
    throw new Error(`expected the message to mention ${mentions}: ${e.message}`);
  }
}

/**
 * The process warnings emitted while `fn` runs (they are delivered on a later tick), with their
 * codes. Node's own printer is set aside meanwhile, so expected warnings do not clutter the run.
 */
export async function warningsDuring(fn: () => void): Promise<(Error & { code?: string })[]> {
  const seen: (Error & { code?: string })[] = [];
  const on = (w: Error) => seen.push(w);
  const others = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', on);
  try {
    fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', on);
    for (const l of others) process.on('warning', l);
  }
  return seen;
}

/**
 * Awaits `p` (a promise, or a function returning one) and asserts that it rejects with `code`
 * (and a message mentioning `mentions`); returns the error for further checks.
 */
export async function rejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: string, mentions?: string): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    const err = e as Error & { code?: string; cause?: unknown };
    if (err.code !== code) throw new Error(`expected code ${code} but got ${err.code}: ${err.message}`);
    if (mentions && !err.message.includes(mentions)) throw new Error(`expected the message to mention ${mentions}: ${err.message}`);
    return err;
  }
  throw new Error(`expected a rejection with ${code} but the promise resolved`);
}

/** Three Gaussian blobs in 4 dimensions (class c has mean 2.5 on feature c): an easy, seeded classification problem. */
export function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 4), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (j === y[i] ? 2.5 : 0) + rng.normal();
  }
  return { x, y };
}

/** What `fn` writes to process.stdout, captured instead of printed, and what it returns. */
export function stdoutDuring<T>(fn: () => T): { out: string; result: T } {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  try {
    const result = fn();
    return { out: chunks.join(''), result };
  } finally {
    process.stdout.write = write;
  }
}
