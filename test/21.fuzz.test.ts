/**
 * Fuzzes every kernel export with seeded, malformed calls: random argument counts, values drawn
 * from a pool of bad and good values, mostly-valid calls with one or two arguments mutated (so the
 * deep checks run), and valid calls whose arrays are moved into one buffer at random offsets (so
 * aliasing and exact in-place use happen by chance). Every call must return normally or throw a
 * coded TypeError/RangeError, and the process must survive. Both backends see the same call
 * sequence, so their outcomes are compared call by call at the end.
 *
 * BLASNET_FUZZ_SEED and BLASNET_FUZZ_CALLS override the defaults; the seed is printed.
 */
import { BlasnetError, Rng } from '../lib';
import type { Backend } from '../lib';
import { backends, forEachBackend } from './helpers';
import { call, isTyped, KernelSpec, Kind, pick, SPECS, TYPE_CODES, TypedArg } from './cases/errors';

const SEED = process.env.BLASNET_FUZZ_SEED !== undefined ? Number(process.env.BLASNET_FUZZ_SEED) >>> 0 : 0x5eed2105;
const CALLS = Math.max(10000, Number(process.env.BLASNET_FUZZ_CALLS ?? 50000));

// Dims from 1024 up make any product with another non-zero dim larger than every array here.
const HUGE_DIM = 1024;
const SMALL_DIMS = [0, 1, 2, 3, 4, 5, 6, 7];
const BAD_DIMS = [-1, -0, 1.5, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32 + 1, 2 ** 53, 1e39, 65536, 2 ** 30, -(2 ** 31)];
const BAD_SCALARS = [NaN, Infinity, -Infinity, 1e39, -1e39, 3.5e38, 3.4028234663852886e38, -3.4028234663852886e38, 5e-324, -0];
const BAD_IDS = [-1, 1.5, NaN, Infinity, 2 ** 31, 1e300, -0, 64, 8, 10];
const LABEL_VALUES = [-1, 0, 1, 2, 3, 6, 7, 8, 2 ** 31 - 1, -(2 ** 31)];

function junk(rng: Rng): unknown {
  switch (rng.int(16)) {
    case 0: return null;
    case 1: return undefined;
    case 2: return 'x';
    case 3: return '';
    case 4: return '3';
    case 5: return {};
    case 6: return [];
    case 7: return [1, 2, 3];
    case 8: return rng.int(2) === 1;
    case 9: return Symbol('fuzz');
    case 10: return BigInt(rng.int(5));
    case 11: return () => 0;
    case 12: return new Date(0);
    case 13: return new ArrayBuffer(4 * rng.int(8));
    case 14: return new DataView(new ArrayBuffer(4 * rng.int(8)));
    default: return { length: rng.int(50), 0: 1 };
  }
}

function dim(rng: Rng): number {
  return rng.uniform() < 0.7 ? pick(rng, SMALL_DIMS) : pick(rng, BAD_DIMS);
}

function scalar(rng: Rng): number {
  return rng.uniform() < 0.6 ? rng.range(-3, 3) : pick(rng, BAD_SCALARS);
}

/** One buffer per call: views of it alias each other at random. */
interface Ctx {
  f32: Float32Array;
  i32: Int32Array;
}

function newCtx(rng: Rng): Ctx {
  const n = 8 + rng.int(57);
  const buffer = rng.int(4) === 0 ? new SharedArrayBuffer(4 * n) : new ArrayBuffer(4 * n);
  const f32 = new Float32Array(buffer);
  for (let i = 0; i < n; i++) f32[i] = rng.range(-2, 2);
  return { f32, i32: new Int32Array(buffer) };
}

function floats(rng: Rng, n: number): Float32Array {
  const a = rng.uniformArray(n, -2, 2);
  if (n > 0 && rng.int(8) === 0) a[rng.int(n)] = pick(rng, [NaN, Infinity, -Infinity, 1e30]);
  return a;
}

function labelArray(rng: Rng): Int32Array {
  const a = new Int32Array(rng.int(11));
  for (let i = 0; i < a.length; i++) a[i] = rng.int(3) === 0 ? pick(rng, LABEL_VALUES) : rng.int(4);
  return a;
}

function detached(rng: Rng): TypedArg {
  const a = rng.int(2) === 0 ? new Float32Array(rng.int(20)) : new Int32Array(rng.int(20));
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

function sharedView(rng: Rng, ctx: Ctx, int: boolean): TypedArg {
  const whole = int ? ctx.i32 : ctx.f32;
  const start = rng.int(whole.length + 1);
  return whole.subarray(start, start + rng.int(whole.length - start + 1));
}

function wrongTyped(rng: Rng): ArrayBufferView {
  const n = rng.int(41);
  switch (rng.int(7)) {
    case 0: return new Float64Array(n);
    case 1: return new Uint8Array(n);
    case 2: return new Int16Array(n);
    case 3: return new Uint32Array(n);
    case 4: return new Uint8ClampedArray(n);
    case 5: return new BigInt64Array(n);
    default: return Buffer.alloc(n);
  }
}

function array(rng: Rng, ctx: Ctx, kind: Kind): unknown {
  const labelsFirst = kind === 'i32' || kind === 'target';
  switch (rng.int(labelsFirst ? 14 : 12)) {
    case 0: case 1: return floats(rng, rng.int(41));
    case 2: case 3: return sharedView(rng, ctx, false);
    case 4: return sharedView(rng, ctx, true);
    case 5: return detached(rng);
    case 6: return wrongTyped(rng);
    case 7: {
      const sab = new Float32Array(new SharedArrayBuffer(4 * rng.int(41)));
      sab.set(floats(rng, sab.length));
      return sab;
    }
    case 8: {
      const big = floats(rng, 45);
      const start = 1 + rng.int(4);
      return big.subarray(start, start + rng.int(41));
    }
    case 9: return kind === 'f32?' || rng.int(4) === 0 ? null : floats(rng, rng.int(8));
    case 10: return Int32Array.from(floats(rng, rng.int(41)), (v) => Math.round(v));
    default: return labelArray(rng);
  }
}

/** A value for a parameter of `kind`: mostly something of the right shape, sometimes anything. */
function valueFor(rng: Rng, ctx: Ctx, kind: Kind | null, ids = 10): unknown {
  if (kind === null || rng.uniform() < 0.25) {
    const any: Kind[] = ['flag', 'dim', 'scalar', 'id', 'f32', 'i32'];
    return rng.int(4) === 0 ? junk(rng) : valueFor(rng, ctx, pick(rng, any), ids);
  }
  switch (kind) {
    case 'flag': return rng.uniform() < 0.7 ? rng.int(2) === 1 : rng.int(2) === 0 ? junk(rng) : rng.int(2);
    case 'dim': return rng.uniform() < 0.9 ? dim(rng) : junk(rng);
    case 'scalar': return rng.uniform() < 0.9 ? scalar(rng) : junk(rng);
    case 'id': return rng.uniform() < 0.6 ? rng.int(ids) : rng.uniform() < 0.8 ? pick(rng, BAD_IDS) : junk(rng);
    default: return rng.uniform() < 0.9 ? array(rng, ctx, kind) : junk(rng);
  }
}

/**
 * Copies the arrays of a call into one buffer, either packed end to end (disjoint, so still valid)
 * or at random offsets (overlapping at random, sometimes exactly).
 */
function rehome(rng: Rng, args: unknown[]): void {
  const at = args.flatMap((v, i) => (isTyped(v) ? [i] : []));
  const total = at.reduce((s, i) => s + (args[i] as TypedArg).length, 0);
  const longest = at.reduce((m, i) => Math.max(m, (args[i] as TypedArg).length), 1);
  const packed = rng.int(2) === 0;
  const size = packed ? total : Math.max(longest, Math.ceil(total / 2));
  const buffer = rng.int(3) === 0 ? new SharedArrayBuffer(4 * size) : new ArrayBuffer(4 * size);
  let next = 0;
  for (const i of at) {
    const src = args[i] as TypedArg;
    const start = packed ? next : rng.int(size - src.length + 1);
    next += src.length;
    const view = src instanceof Int32Array ? new Int32Array(buffer, 4 * start, src.length) : new Float32Array(buffer, 4 * start, src.length);
    view.set(src as never);
    args[i] = view;
  }
}

/** Writes one bad value into an array of the call: labels and indices out of range, odd targets. */
function poke(rng: Rng, args: unknown[]): void {
  const at = args.flatMap((v, i) => (isTyped(v) && v.length > 0 ? [i] : []));
  if (at.length === 0) return;
  const a = args[pick(rng, at)] as TypedArg;
  a[rng.int(a.length)] = a instanceof Int32Array ? pick(rng, LABEL_VALUES) : pick(rng, [0, 0.5, -1, 1, 2, NaN, Infinity, -Infinity]);
}

/** Keeps every call cheap: a huge valid dim next to a zero one would make an O(huge) empty loop. */
function tame(spec: KernelSpec, args: unknown[]): void {
  if (args.length !== spec.params.length) return;
  const dims = spec.params.flatMap((p, i) => (p.kind === 'dim' ? [i] : []));
  const huge = dims.some((i) => {
    const v = args[i];
    return typeof v === 'number' && Number.isInteger(v) && v >= HUGE_DIM && v <= 2 ** 31 - 1;
  });
  if (huge) for (const i of dims) if (args[i] === 0) args[i] = 1;
}

type Mode = 'mutated' | 'valid' | 'count' | 'random';

interface FuzzCall {
  spec: KernelSpec;
  mode: Mode;
  args: unknown[];
}

function nextCall(rng: Rng): FuzzCall {
  const spec = pick(rng, SPECS);
  const ctx = newCtx(rng);
  const n = spec.params.length;
  const r = rng.uniform();
  let mode: Mode;
  let args: unknown[];
  if (r < 0.55) {
    mode = 'mutated';
    args = spec.valid(rng);
    if (rng.int(4) === 0) rehome(rng, args);
    if (rng.int(5) === 0) {
      poke(rng, args);
    } else {
      const k = rng.int(5) === 0 ? 2 : 1;
      for (let j = 0; j < k; j++) {
        const i = rng.int(n);
        args[i] = valueFor(rng, ctx, spec.params[i].kind, spec.params[i].ids);
      }
    }
  } else if (r < 0.63) {
    mode = 'valid';
    args = spec.valid(rng);
    spec.params.forEach((p, i) => {
      if (p.kind === 'f32?' && rng.int(3) === 0) args[i] = null;
    });
    if (rng.int(2) === 0) rehome(rng, args);
  } else if (r < 0.73) {
    mode = 'count';
    args = spec.valid(rng);
    let c = rng.int(n + 4);
    if (c === n) c = n + 1;
    while (args.length > c) args.pop();
    while (args.length < c) args.push(valueFor(rng, ctx, null));
  } else {
    mode = 'random';
    const c = rng.uniform() < 0.8 ? n : rng.int(n + 3);
    args = [];
    for (let i = 0; i < c; i++) args.push(i < n ? valueFor(rng, ctx, spec.params[i].kind, spec.params[i].ids) : valueFor(rng, ctx, null));
  }
  tame(spec, args);
  return { spec, mode, args };
}

function describeValue(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function' || v === undefined || v === null || typeof v === 'boolean') return String(v);
  if (ArrayBuffer.isView(v)) {
    const name = v.constructor.name;
    if (v.byteLength === 0 && !(v.buffer instanceof SharedArrayBuffer) && isDetached(v.buffer as ArrayBuffer)) return `${name}(detached)`;
    const len = 'length' in v ? (v as unknown as { length: number }).length : v.byteLength;
    const where = `${v.buffer instanceof SharedArrayBuffer ? 'SAB' : 'buffer'}#${bufferId(v.buffer)}@${v.byteOffset}`;
    const values = v instanceof Int32Array && len <= 10 ? ` [${Array.from(v).join(',')}]` : '';
    return `${name}(${len}) ${where}${values}`;
  }
  if (Array.isArray(v)) return `[${v.map(describeValue).join(',')}]`;
  return Object.prototype.toString.call(v);
}

function isDetached(b: ArrayBuffer): boolean {
  try {
    b.slice(0, 0);
    return false;
  } catch {
    return true;
  }
}

const bufferIds = new WeakMap<ArrayBufferLike, number>();
let nextBufferId = 0;
function bufferId(b: ArrayBufferLike): number {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
}

function describeCall(c: FuzzCall): string {
  return `${c.spec.fn}(${c.args.map(describeValue).join(', ')})`;
}

/** Returns the outcome ('ok' or the code) or, for a call that broke the contract, why. */
function outcome(b: Backend, c: FuzzCall): { result: string; bad: string | null } {
  let value: unknown;
  try {
    value = call(b, c.spec.fn, c.args);
  } catch (thrown) {
    if (!(thrown instanceof Error)) return { result: 'non-Error', bad: `threw a non-Error: ${String(thrown)}` };
    const e = thrown as Error & { code?: unknown };
    const code = typeof e.code === 'string' ? e.code : String(e.code);
    const problems: string[] = [];
    const coded = code.startsWith('ERR_BLASNET_');
    if (!coded) problems.push(`code ${code}`);
    if (!(e instanceof TypeError) && !(e instanceof RangeError)) problems.push(`${e.constructor.name}, not TypeError/RangeError`);
    else if (coded && (e instanceof TypeError) !== TYPE_CODES.has(code)) problems.push(`${e.constructor.name} for ${code}`);
    if (!(e instanceof BlasnetError)) problems.push('not instanceof BlasnetError');
    return { result: code, bad: problems.length > 0 ? `${problems.join('; ')}: ${e.message}` : null };
  }
  if (value !== undefined && typeof value !== 'number') return { result: 'ok', bad: `returned ${String(value)}` };
  return { result: 'ok', bad: null };
}

/** Per backend: the outcome and description of every call, for the cross-backend comparison. */
const runs = new Map<string, { results: string[]; calls: string[] }>();

forEachBackend('fuzz', (b) => {
  let threads = 1;
  before(() => {
    threads = b.getNumThreads();
  });
  after(() => {
    b.setNumThreads(threads);
    b.setThreadLimit(0);
  });

  it(`${CALLS} seeded calls return or throw a coded TypeError/RangeError`, function () {
    this.timeout(120000);
    const rng = new Rng(SEED);
    nextBufferId = 0;
    const results: string[] = [];
    const calls: string[] = [];
    const bad: string[] = [];
    const byCode = new Map<string, number>();
    let ok = 0;
    let malformed = 0;
    const t0 = Date.now();
    for (let i = 0; i < CALLS; i++) {
      const c = nextCall(rng);
      if (c.mode !== 'valid') malformed++;
      calls.push(describeCall(c));
      const o = outcome(b, c);
      results.push(o.result);
      if (o.result === 'ok') ok++;
      else byCode.set(o.result, (byCode.get(o.result) ?? 0) + 1);
      if (o.bad !== null && bad.length < 20) bad.push(`#${i} ${calls[i]}: ${o.bad}`);
    }
    const ms = Date.now() - t0;
    runs.set(b.name, { results, calls });
    const codes = [...byCode].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k.replace('ERR_BLASNET_', '')} ${v}`).join(', ');
    console.log(`      fuzz [${b.name}] seed=0x${SEED.toString(16)} calls=${CALLS} (malformed ${malformed}) returned=${ok} threw=${CALLS - ok} in ${ms} ms; ${codes}`);
    if (bad.length > 0) throw new Error(`calls broke the error contract (seed 0x${SEED.toString(16)}):\n  ${bad.join('\n  ')}`);
  });
});

describe('fuzz: backends agree', () => {
  it('js and native give the same outcome for every call', function () {
    if (backends().length < 2) this.skip();
    const js = runs.get('js'), native = runs.get('native');
    if (!js || !native) this.skip();
    const diffs: string[] = [];
    js.results.forEach((r, i) => {
      if (r !== native.results[i]) diffs.push(`#${i} ${js.calls[i]}: js ${r}, native ${native.results[i]}`);
    });
    if (diffs.length > 0) {
      throw new Error(`${diffs.length} of ${js.results.length} calls differ (seed 0x${SEED.toString(16)}):\n  ${diffs.slice(0, 20).join('\n  ')}`);
    }
  });
});
