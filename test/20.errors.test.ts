/**
 * Walks every error path of every kernel export on every backend, from the tables in
 * cases/errors.ts: for each argument position, wrong types, bad numbers, short and detached
 * arrays; for each output, aliasing (exact, partial, through SharedArrayBuffer) and the documented
 * in-place uses; argument counts; and the data-dependent errors (index, label, target, param).
 * Each category is one `it` that runs all its cases and lists every failure at once.
 */
import * as vm from 'vm';
import { ACTIVATION_NAMES, BlasnetError, ErrorCode, Rng } from '../lib';
import type { Backend } from '../lib';
import { forEachBackend, normError, throwsCode } from './helpers';
import {
  AliasRule, call, cloneArgs, isTyped, KernelSpec, Kind, Param, SPECS, TYPE_CODES, TypedArg,
} from './cases/errors';

interface Case {
  what: string;
  args: unknown[];
  /** null: the call must succeed. */
  code: ErrorCode | null;
  mentions: string[];
  /** For calls that must succeed: a reference call whose outputs the case's outputs must match. */
  reference?: { args: unknown[]; pairs: [number, number][] };
}

type Category = 'valid calls' | 'argument count' | 'wrong types' | 'bad numbers' | 'short arrays' |
  'detached buffers' | 'aliasing and in-place use' | 'SharedArrayBuffer' | 'data errors';

const CATEGORIES: readonly Category[] = ['valid calls', 'argument count', 'wrong types', 'bad numbers',
  'short arrays', 'detached buffers', 'aliasing and in-place use', 'SharedArrayBuffer', 'data errors'];

const isArrayKind = (k: Kind): boolean => k === 'f32' || k === 'f32?' || k === 'i32' || k === 'target';

function expectedArrayType(p: Param): string {
  if (p.kind === 'i32') return 'Int32Array';
  // Anything but an Int32Array takes the dense path of a labels-or-dense target.
  return p.kind === 'f32?' ? 'Float32Array or null' : 'Float32Array';
}

function detachedLike(a: TypedArg): TypedArg {
  const copy = a.slice();
  structuredClone(copy.buffer, { transfer: [copy.buffer] });
  return copy;
}

/** Subarray views of one buffer (shared or not): `input` at element `inAt`, `out` at `outAt`, data copied. */
function viewsOf(buffer: ArrayBufferLike, input: TypedArg, inAt: number, out: TypedArg, outAt: number): [TypedArg, TypedArg] {
  const mk = (like: TypedArg, at: number): TypedArg =>
    like instanceof Int32Array ? new Int32Array(buffer).subarray(at, at + like.length) : new Float32Array(buffer).subarray(at, at + like.length);
  const o = mk(out, outAt);
  o.set(out as never);
  const i = mk(input, inAt);
  i.set(input as never);
  return [i, o];
}

// The intrinsic getters read the real memory of a typed array, whatever own properties it has.
const TYPED_PROTO = Object.getPrototypeOf(Int8Array.prototype) as object;
const intrinsic = (key: string): ((this: unknown) => unknown) =>
  (Object.getOwnPropertyDescriptor(TYPED_PROTO, key) as PropertyDescriptor).get as (this: unknown) => unknown;
const realBuffer = intrinsic('buffer'), realOffset = intrinsic('byteOffset'), realLength = intrinsic('byteLength');

function realBytes(v: unknown): Uint8Array | null {
  try {
    const len = realLength.call(v) as number;
    if (len === 0) return new Uint8Array(0);
    return new Uint8Array(realBuffer.call(v) as ArrayBuffer, realOffset.call(v) as number, len);
  } catch {
    return null;
  }
}

function snapshot(args: readonly unknown[]): (Uint8Array | null)[] {
  return args.map((v) => realBytes(v)?.slice() ?? null);
}

function changedPositions(args: readonly unknown[], before: readonly (Uint8Array | null)[]): number[] {
  const changed: number[] = [];
  args.forEach((v, i) => {
    const s = before[i];
    const now = realBytes(v);
    if (!s || !now) return;
    if (now.length !== s.length || now.some((x, j) => x !== s[j])) changed.push(i);
  });
  return changed;
}

function wrongTypeValues(p: Param, valid: unknown): [string | null, unknown][] {
  if (p.kind === 'flag') {
    return [['string', 'true'], ['undefined', undefined], ['object', {}], ['Array', [1]], ['number', 1], ['null', null],
      ['Float32Array', new Float32Array(1)]];
  }
  if (!isArrayKind(p.kind)) {
    return [['string', '3'], ['undefined', undefined], ['object', {}], ['Array', [1, 2]], ['null', null], ['boolean', true],
      ['Float32Array', new Float32Array(1)], ['bigint', BigInt(3)]];
  }
  const n = (valid as TypedArg).length;
  const values: [string | null, unknown][] = [['string', 'x'], ['undefined', undefined], ['object', {}],
    ['Array', Array.from(valid as TypedArg)], ['number', n], ['boolean', false], ['Float64Array', new Float64Array(n)],
    ['Uint8Array', new Uint8Array(4 * n)], ['Uint32Array', new Uint32Array(n)], ['Int16Array', new Int16Array(n)],
    // Node's message says "object", the js backend's says "DataView": only the code and name are checked.
    [null, new DataView(new ArrayBuffer(4 * n))]];
  if (p.kind !== 'f32?') values.push(['null', null]);
  if (p.kind === 'i32') values.push(['Float32Array', new Float32Array(n)]);
  if (p.kind === 'f32' || p.kind === 'f32?') values.push(['Int32Array', new Int32Array(n)]);
  return values;
}

function badNumbers(p: Param): [number, ErrorCode, string][] {
  if (p.kind === 'dim') {
    return [-1, 1.5, -0.5, NaN, Infinity, -Infinity, 2 ** 31, 1e300].map((v) => [v, ErrorCode.ARG_RANGE, `Expected non-negative integer for ${p.name} but received`]);
  }
  if (p.kind === 'scalar') {
    return [NaN, Infinity, -Infinity, 1e39, -1e39, 3.5e38].map((v) => [v, ErrorCode.ARG_RANGE, `Expected finite number for ${p.name} but received`]);
  }
  if (p.kind === 'id') {
    const n = p.ids as number;
    return [-1, n, n + 1, 0.5, -0.5, NaN, Infinity, 2 ** 31].map((v) => [v, ErrorCode.UNKNOWN_ID, `Expected integer in [0, ${n}) for ${p.name} but received`]);
  }
  return [];
}

function aliasCases(spec: KernelSpec, rng: Rng, rule: AliasRule): Case[] {
  const oi = spec.params.findIndex((p) => p.name === rule.out);
  const ii = spec.params.findIndex((p) => p.name === rule.input);
  const outputs = spec.params.flatMap((p, i) => (p.out && i !== ii ? [i] : []));
  const alias = [`${rule.out} must not share memory with ${rule.input}`];
  const cases: Case[] = [];
  const base = (): [unknown[], TypedArg, TypedArg] => {
    const a = spec.valid(rng);
    return [a, a[ii] as TypedArg, a[oi] as TypedArg];
  };
  const sameKind = (i: TypedArg, o: TypedArg): boolean => i.constructor === o.constructor && i.length === o.length;

  {
    const [a, i, o] = base();
    if (sameKind(i, o)) {
      const ref = cloneArgs(a);
      (ref[oi] as TypedArg).set(i as never);
      a[oi] = i;
      cases.push(rule.same
        ? { what: `${rule.out} is ${rule.input} itself`, args: a, code: null, mentions: [], reference: { args: ref, pairs: outputs.map((k) => [k, k]) } }
        : { what: `${rule.out} is ${rule.input} itself`, args: a, code: ErrorCode.ALIAS, mentions: alias });
    }
  }
  {
    const [a, i, o] = base();
    const ref = cloneArgs(a);
    const buf = new ArrayBuffer(4 * (i.length + o.length));
    [a[ii], a[oi]] = viewsOf(buf, i, 0, o, 0);
    if (rule.same) {
      (ref[oi] as TypedArg).set(i as never);
      cases.push({ what: `${rule.out} is a second view of ${rule.input}'s memory`, args: a, code: null, mentions: [], reference: { args: ref, pairs: outputs.map((k) => [k, k]) } });
    } else {
      cases.push({ what: `${rule.out} starts where ${rule.input} starts`, args: a, code: ErrorCode.ALIAS, mentions: alias });
    }
  }
  for (const shared of [false, true]) {
    const [a, i, o] = base();
    // Two one-element arrays cannot partly overlap.
    if (i.length < 2 && o.length < 2) continue;
    const buf = shared ? new SharedArrayBuffer(4 * (i.length + o.length)) : new ArrayBuffer(4 * (i.length + o.length));
    // Partial overlap: the later view starts inside the earlier one.
    const [inAt, outAt] = i.length >= 2 ? [0, Math.ceil(i.length / 2)] : [Math.ceil(o.length / 2), 0];
    [a[ii], a[oi]] = viewsOf(buf, i, inAt, o, outAt);
    cases.push({ what: `${rule.out} partly overlaps ${rule.input}${shared ? ' (SharedArrayBuffer)' : ''}`, args: a, code: ErrorCode.ALIAS, mentions: alias });
  }
  for (const outFirst of [false, true]) {
    const [a, i, o] = base();
    const buf = new ArrayBuffer(4 * (i.length + o.length));
    [a[ii], a[oi]] = outFirst ? viewsOf(buf, i, o.length, o, 0) : viewsOf(buf, i, 0, o, i.length);
    cases.push({ what: `${rule.out} adjacent to ${rule.input} (${outFirst ? 'before' : 'after'})`, args: a, code: null, mentions: [] });
  }
  return cases;
}

function buildCases(spec: KernelSpec, rng: Rng): Map<Category, Case[]> {
  const by = new Map<Category, Case[]>(CATEGORIES.map((c) => [c, []]));
  const add = (c: Category, x: Case): void => void (by.get(c) as Case[]).push(x);
  const n = spec.params.length;

  add('valid calls', { what: 'valid', args: spec.valid(rng), code: null, mentions: [] });
  const nullable = spec.params.flatMap((p, i) => (p.kind === 'f32?' ? [i] : []));
  for (const i of nullable) {
    const a = spec.valid(rng);
    a[i] = null;
    add('valid calls', { what: `${spec.params[i].name} = null`, args: a, code: null, mentions: [] });
  }
  if (nullable.length > 1) {
    const a = spec.valid(rng);
    for (const i of nullable) a[i] = null;
    add('valid calls', { what: 'every nullable array null', args: a, code: null, mentions: [] });
  }
  {
    const a = spec.valid(rng);
    const longer = a.map((v) => {
      if (!isTyped(v)) return v;
      const big = v instanceof Int32Array ? new Int32Array(v.length + 3) : new Float32Array(v.length + 3);
      big.set(v as never);
      return big;
    });
    add('valid calls', { what: 'arrays longer than needed', args: longer, code: null, mentions: [] });
  }

  const counts = [0, n - 1, n + 1, n + 5].filter((c) => c >= 0 && c !== n);
  for (const c of counts) {
    const a = spec.valid(rng);
    const args = c <= n ? a.slice(0, c) : [...a, ...new Array<unknown>(c - n).fill(0)];
    add('argument count', { what: `${c} arguments`, args, code: ErrorCode.ARG_COUNT, mentions: [`Expected ${n} arguments but received ${c}`] });
  }
  add('argument count', { what: 'trailing undefined', args: [...spec.valid(rng), undefined], code: ErrorCode.ARG_COUNT, mentions: [`Expected ${n} arguments but received ${n + 1}`] });

  spec.params.forEach((p, i) => {
    for (const [received, value] of wrongTypeValues(p, spec.valid(rng)[i])) {
      const a = spec.valid(rng);
      a[i] = value;
      const want = p.kind === 'flag' ? 'boolean' : isArrayKind(p.kind) ? expectedArrayType(p) : 'number';
      const mention = `Expected ${want} for ${p.name} but received${received ? ` ${received}` : ''}`;
      add('wrong types', { what: `${p.name} = ${received ?? 'DataView'}`, args: a, code: ErrorCode.ARG_TYPE, mentions: [mention] });
    }
    for (const [value, code, mention] of badNumbers(p)) {
      const a = spec.valid(rng);
      a[i] = value;
      add('bad numbers', { what: `${p.name} = ${value}`, args: a, code, mentions: [mention] });
    }
    if (isArrayKind(p.kind)) {
      const a = spec.valid(rng);
      const v = a[i] as TypedArg;
      a[i] = v.subarray(0, v.length - 1);
      add('short arrays', {
        what: `${p.name} one element short`, args: a, code: ErrorCode.ARG_LENGTH,
        mentions: [`Expected ${p.name} to hold at least ${v.length} elements (`, `but it has ${v.length - 1}`],
      });
      const d = spec.valid(rng);
      d[i] = detachedLike(d[i] as TypedArg);
      add('detached buffers', { what: `${p.name} detached`, args: d, code: ErrorCode.DETACHED, mentions: [`${p.name} is backed by a detached ArrayBuffer`] });
    }
  });

  for (const rule of spec.alias) for (const c of aliasCases(spec, rng, rule)) add('aliasing and in-place use', c);

  {
    const a = spec.valid(rng);
    const shared = a.map((v) => {
      if (!isTyped(v)) return v;
      const s = v instanceof Int32Array ? new Int32Array(new SharedArrayBuffer(v.byteLength)) : new Float32Array(new SharedArrayBuffer(v.byteLength));
      s.set(v as never);
      return s;
    });
    const outs = spec.params.flatMap((p, i) => (p.out ? [i] : []));
    add('SharedArrayBuffer', {
      what: 'every array backed by a SharedArrayBuffer', args: shared, code: null, mentions: [],
      reference: { args: a, pairs: outs.map((k) => [k, k]) },
    });
  }

  for (const d of spec.data?.(rng) ?? []) add('data errors', { what: d.what, args: d.args, code: d.code, mentions: d.mentions });
  return by;
}

/** Runs one case; returns what went wrong, or null. */
function runCase(b: Backend, spec: KernelSpec, c: Case): string | null {
  let refResult: unknown;
  if (c.reference) {
    try {
      refResult = call(b, spec.fn, c.reference.args);
    } catch (e) {
      return `the reference call threw ${(e as Error).message}`;
    }
  }
  const before = snapshot(c.args);
  const threadsBefore = b.getNumThreads();
  let thrown: unknown = null;
  let result: unknown;
  try {
    result = call(b, spec.fn, c.args);
  } catch (e) {
    thrown = e;
  }
  if (c.code === null) {
    if (thrown !== null) {
      const e = thrown as Error & { code?: string };
      return `expected success but got ${e.code ?? e.constructor.name}: ${e.message}`;
    }
    if (result !== undefined && !(typeof result === 'number' && Number.isFinite(result))) {
      return `returned ${String(result)}`;
    }
    if (c.reference) {
      if (result !== undefined && Math.abs((result as number) - (refResult as number)) > 1e-6 * Math.max(1, Math.abs(refResult as number))) {
        return `returned ${String(result)} but the reference call returned ${String(refResult)}`;
      }
      for (const [k, r] of c.reference.pairs) {
        const got = c.args[k] as TypedArg | null, want = c.reference.args[r] as TypedArg | null;
        if (got === null || want === null) continue;
        const err = normError(got, want);
        if (!(err <= 1e-6)) return `${spec.params[k].name} differs from the reference (normalised error ${err})`;
      }
    }
    return null;
  }
  if (thrown === null) return `expected ${c.code} but the call returned ${String(result)}`;
  if (!(thrown instanceof Error)) return `threw a non-Error ${String(thrown)}`;
  const e = thrown as Error & { code?: unknown };
  const problems: string[] = [];
  if (e.code !== c.code) problems.push(`code ${String(e.code)} instead of ${c.code}`);
  const cls = TYPE_CODES.has(c.code) ? TypeError : RangeError;
  if (!(e instanceof cls)) problems.push(`${e.constructor.name} instead of ${cls.name}`);
  if (!(e instanceof BlasnetError)) problems.push('not instanceof BlasnetError');
  if (!e.message.startsWith(`${spec.fn}: `)) problems.push(`message does not start with "${spec.fn}: "`);
  for (const m of c.mentions) if (!e.message.includes(m)) problems.push(`message lacks "${m}"`);
  const changed = changedPositions(c.args, before);
  if (changed.length > 0) problems.push(`changed ${changed.map((i) => spec.params[i]?.name ?? `#${i}`).join(', ')}`);
  if (b.getNumThreads() !== threadsBefore) problems.push('changed the thread count');
  return problems.length === 0 ? null : `${problems.join('; ')} (message: ${e.message})`;
}

function runAll(b: Backend, cases: readonly [KernelSpec, Case][]): void {
  const failures: string[] = [];
  for (const [spec, c] of cases) {
    const f = runCase(b, spec, c);
    if (f !== null) failures.push(`${spec.title}: ${c.what}: ${f}`);
  }
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${cases.length} cases failed:\n  ${failures.slice(0, 40).join('\n  ')}` +
      (failures.length > 40 ? `\n  ... and ${failures.length - 40} more` : ''));
  }
}

const otherRealm = vm.runInNewContext('({ f32: (n) => new Float32Array(n), i32: (n) => new Int32Array(n) })') as
  { f32(n: number): Float32Array; i32(n: number): Int32Array };

/** The same array from another realm (a vm context, as test runners and sandboxes create). */
function fromOtherRealm(v: TypedArg): TypedArg {
  const copy = v instanceof Int32Array ? otherRealm.i32(v.length) : otherRealm.f32(v.length);
  copy.set(v as never);
  return copy;
}

/**
 * Exotic typed arrays. Objects that look like typed arrays to JavaScript but are not what the
 * kernels would read must be rejected: the guards judge the real array (its element type, length
 * and memory), not its properties. Real typed arrays must be accepted whatever their prototype or
 * realm, as the addon reads them.
 */
function exoticCases(rng: Rng): Map<string, [KernelSpec, Case][]> {
  const out = new Map<string, [KernelSpec, Case][]>();
  const add = (k: string, s: KernelSpec, c: Case): void => {
    if (!out.has(k)) out.set(k, []);
    (out.get(k) as [KernelSpec, Case][]).push([s, c]);
  };
  for (const spec of SPECS) {
    spec.params.forEach((p, i) => {
      if (!isArrayKind(p.kind)) return;
      const want = `Expected ${expectedArrayType(p)} for ${p.name} but received`;
      {
        const a = spec.valid(rng);
        a[i] = Object.create(p.kind === 'i32' ? Int32Array.prototype : Float32Array.prototype) as unknown;
        add('objects whose prototype is a typed array prototype are ARG_TYPE', spec, { what: `${p.name} = Object.create(prototype)`, args: a, code: ErrorCode.ARG_TYPE, mentions: [want] });
      }
      {
        const a = spec.valid(rng);
        const n = (a[i] as TypedArg).length;
        a[i] = Object.setPrototypeOf(p.kind === 'i32' ? new Float32Array(n) : new Float64Array(n), null) as unknown;
        add('prototype-less typed arrays of the wrong type are ARG_TYPE', spec, { what: `${p.name} of the wrong type without prototype`, args: a, code: ErrorCode.ARG_TYPE, mentions: [want] });
      }
      {
        const a = spec.valid(rng);
        a[i] = new Proxy(a[i] as TypedArg, {});
        add('proxies of typed arrays are ARG_TYPE', spec, { what: `${p.name} = Proxy`, args: a, code: ErrorCode.ARG_TYPE, mentions: [want] });
      }
      {
        const a = spec.valid(rng);
        const v = a[i] as TypedArg;
        const short = v.subarray(0, v.length - 1);
        Object.defineProperty(short, 'length', { value: v.length });
        a[i] = short;
        add('an own length property does not hide a short array', spec, {
          what: `${p.name} short with length shadowed`, args: a, code: ErrorCode.ARG_LENGTH,
          mentions: [`Expected ${p.name} to hold at least ${v.length} elements (`],
        });
      }
    });
    const outs = spec.params.flatMap((p, i) => (p.out ? [i] : []));
    for (const [how, convert] of [
      ['from another realm', fromOtherRealm],
      ['without prototype', (v: TypedArg): TypedArg => Object.setPrototypeOf(v.slice(), null) as TypedArg],
    ] as const) {
      const a = spec.valid(rng);
      add(`typed arrays ${how} are accepted`, spec, {
        what: `every array ${how}`, args: a.map((v) => (isTyped(v) ? convert(v) : v)), code: null, mentions: [],
        reference: { args: a, pairs: outs.map((k) => [k, k]) },
      });
    }
    for (const rule of spec.alias) {
      const oi = spec.params.findIndex((p) => p.name === rule.out);
      const ii = spec.params.findIndex((p) => p.name === rule.input);
      const mentions = [`${rule.out} must not share memory with ${rule.input}`];
      // One element apart, the later view starting inside the earlier: an input of one element
      // (a shared PReLU slope) goes second, or the two would only be adjacent; two of one element
      // overlap only on the same element.
      const overlapAt = (i: TypedArg, o: TypedArg): [number, number] =>
        (i.length >= 2 ? [0, 1] : o.length >= 2 ? [1, 0] : [0, 0]);
      {
        const a = spec.valid(rng);
        const i = a[ii] as TypedArg, o = a[oi] as TypedArg;
        const [inAt, outAt] = overlapAt(i, o);
        const [vi, vo] = viewsOf(new ArrayBuffer(4 * (i.length + o.length)), i, inAt, o, outAt);
        Object.defineProperty(vo, 'buffer', { value: new ArrayBuffer(vo.byteLength) });
        a[ii] = vi;
        a[oi] = vo;
        add('an own buffer property does not hide aliasing', spec, { what: `${rule.out} overlaps ${rule.input}`, args: a, code: ErrorCode.ALIAS, mentions });
      }
      {
        const a = spec.valid(rng);
        const i = a[ii] as TypedArg, o = a[oi] as TypedArg;
        const sab = new SharedArrayBuffer(4 * (i.length + o.length));
        // A structured clone of a SharedArrayBuffer is a second object over the same memory, as
        // a worker receives it from postMessage.
        const twin = structuredClone(sab);
        const [inAt, outAt] = overlapAt(i, o);
        a[ii] = viewsOf(sab, i, inAt, o, outAt)[0];
        a[oi] = viewsOf(twin, i, inAt, o, outAt)[1];
        add('aliasing through two SharedArrayBuffer objects over one memory is ALIAS', spec, { what: `${rule.out} overlaps ${rule.input}`, args: a, code: ErrorCode.ALIAS, mentions });
      }
    }
  }
  return out;
}

forEachBackend('argument errors', (b) => {
  let threads = 1;
  let walked = 0;
  let impostors = 0;
  before(() => {
    threads = b.getNumThreads();
  });
  after(() => {
    b.setNumThreads(threads);
    b.setThreadLimit(0);
    console.log(`      error walk [${b.name}]: ${walked} cases over ${SPECS.length} specs, plus ${impostors} exotic typed-array cases`);
  });

  SPECS.forEach((spec, s) => {
    describe(spec.title, () => {
      const cases = buildCases(spec, new Rng(2000 + s));
      for (const cat of CATEGORIES) {
        const list = cases.get(cat) as Case[];
        if (list.length === 0) continue;
        it(`${cat} (${list.length})`, () => {
          walked += list.length;
          runAll(b, list.map((c) => [spec, c]));
        });
      }
    });
  });

  it('prints a received number as JavaScript prints it (String(v)), on every backend', () => {
    const rng = new Rng(20);
    const values = [0.1, 2.2, 1e21, 1.5e21, 1e-7, 1.5e-7, -1e-7, 1e-6, 0.000001234, 123456789.125, 5e-324, 1.7976931348623157e308,
      0.1 + 0.2, -2.5e-10, 1e20, 99999999999999990000, 4294967296.5, 12345678901234567890, -3.75, 10.5, 1e-300 * 1.1];
    for (let i = 0; i < 200; i++) values.push((rng.uniform() - 0.5) * 10 ** (rng.int(80) - 40));
    for (const v of values) {
      throwsCode(() => b.activation(v, 0, 1, new Float32Array(1), new Float32Array(1)), ErrorCode.UNKNOWN_ID, RangeError,
        `activation: Expected integer in [0, ${ACTIVATION_NAMES.length}) for activation but received ${String(v)}`);
    }
  });

  it('names a needed length past 2^53 exactly, with the same digits on every backend', () => {
    // Dims of 2^31 - 1: products past 2^53, where a float64 product loses its last digits.
    const M = 2 ** 31 - 1, big = BigInt(M);
    const one = () => new Float32Array(1);
    const cases: [string, () => unknown, string][] = [
      ['gemm', () => b.gemm(false, false, M, 1, M, 1, one(), one(), 0, one()), `a to hold at least ${big * big} elements (m*k)`],
      ['gemmBatched', () => b.gemmBatched(false, false, M, 1, M, M, 1, one(), M, one(), 0, 0, one(), 0),
        `a to hold at least ${(big - 1n) * big + big * big} elements ((batch-1)*strideA + m*k)`],
      ['colSum', () => b.colSum(M, M, 0, one(), one()), `x to hold at least ${big * big} elements (rows*cols)`],
      ['denseForward', () => b.denseForward(0, 0, M, M, 1, one(), one(), null, one(), one()), `x to hold at least ${big * big} elements (batch*inDim)`],
      ['loss', () => b.loss(0, 0, M, M, one(), one(), null), `pred to hold at least ${big * big} elements (rows*cols)`],
    ];
    for (const [fn, call, message] of cases) {
      throwsCode(call, ErrorCode.ARG_LENGTH, RangeError, `${fn}: Expected ${message} but it has 1`);
    }
  });

  it('covers every kernel export of the Backend interface', () => {
    const kernels = ['gemm', 'gemmBatched', 'addBias', 'colSum', 'gatherRows', 'gatherRowsChecked', 'shuffledRange', 'argmaxRows', 'scale', 'axpy', 'dot',
      'sumSquares', 'firstNonFinite', 'firstLabelOutside', 'mul', 'penalty', 'activation', 'activationBackward', 'softmax', 'logSoftmax', 'softmaxBackward',
      'logSoftmaxBackward', 'prelu', 'preluBackward', 'batchNormForward', 'batchNormBackward',
      'denseForward', 'denseBackward', 'packDense', 'packedDenseForward', 'loss', 'lossWeighted', 'optimizerStep', 'optimizerStepBlocks', 'clamp', 'maxNormRows', 'setNumThreads', 'setThreadLimit'];
    const covered = new Set(SPECS.map((s) => s.fn));
    const missing = kernels.filter((k) => !covered.has(k as never));
    if (missing.length > 0) throw new Error(`no spec for ${missing.join(', ')}`);
    const exported = Object.keys(b).filter((k) => typeof (b as unknown as Record<string, unknown>)[k] === 'function');
    const unlisted = exported.filter((k) => !kernels.includes(k) && k !== 'getNumThreads' && k !== 'info');
    if (unlisted.length > 0) throw new Error(`exports without a spec: ${unlisted.join(', ')}`);
  });

  describe('exotic typed arrays', () => {
    for (const [title, list] of exoticCases(new Rng(2999))) {
      // JavaScript cannot see that two SharedArrayBuffer objects map one memory; only the addon can.
      const jsBlind = b.name === 'js' && title.includes('two SharedArrayBuffer objects');
      (jsBlind ? it.skip : it)(`${title} (${list.length})`, () => {
        impostors += list.length;
        runAll(b, list);
      });
    }
  });
});
