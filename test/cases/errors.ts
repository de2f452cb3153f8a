/**
 * Argument tables for every kernel export of the Backend interface, shared by the error walk
 * (20.errors) and the fuzzer (21.fuzz). Each spec knows its parameter kinds and names (as the
 * binding spells them in messages), builds a valid argument list from a seeded Rng with packed
 * arrays of exactly the needed length (so "one element short" is `length - 1`), and lists which
 * outputs must be disjoint from which inputs and where exact in-place use is documented.
 */
import { ACTIVATIONS, ACTIVATION_NAMES, ErrorCode, LOSSES, LOSS_NAMES, OPTIMIZER_KERNEL_NAMES, OPTIMIZER_KERNELS, Rng } from '../../lib';
import type { Backend, LossName } from '../../lib';
import { packedDenseLength } from '../../lib/backend/packed';

export type ExportName =
  | 'gemm' | 'gemmBatched' | 'addBias' | 'colSum' | 'gatherRows' | 'gatherRowsChecked' | 'shuffledRange' | 'argmaxRows' | 'scale' | 'axpy' | 'dot'
  | 'sumSquares' | 'firstNonFinite' | 'firstLabelOutside' | 'mul' | 'penalty' | 'activation' | 'activationBackward' | 'softmax' | 'logSoftmax'
  | 'softmaxBackward' | 'logSoftmaxBackward' | 'prelu' | 'preluBackward' | 'batchNormForward'
  | 'batchNormBackward' | 'denseForward' | 'denseBackward' | 'packDense' | 'packedDenseForward' | 'loss' | 'lossWeighted' | 'optimizerStep' | 'optimizerStepBlocks' | 'clamp' | 'maxNormRows' | 'setNumThreads' | 'setThreadLimit';

/**
 * flag: boolean; dim: non-negative integer; scalar: finite float; id: table index;
 * f32 / f32? (nullable) / i32: typed arrays; target: Float32Array or Int32Array (crossEntropy).
 */
export type Kind = 'flag' | 'dim' | 'scalar' | 'id' | 'f32' | 'f32?' | 'i32' | 'target';

export interface Param {
  name: string;
  kind: Kind;
  /** Written by the kernel. */
  out?: boolean;
  /** Number of valid ids, for kind 'id'. */
  ids?: number;
}

export interface AliasRule {
  out: string;
  input: string;
  /** The interface documents that `out` may be `input` itself. */
  same: boolean;
}

/** A data-dependent error: arguments with the right types and lengths but a bad value. */
export interface DataCase {
  what: string;
  args: unknown[];
  code: ErrorCode;
  /** Substrings the message must contain (after the `fn: ` prefix). */
  mentions: string[];
}

export interface KernelSpec {
  title: string;
  fn: ExportName;
  params: Param[];
  valid(rng: Rng): unknown[];
  alias: AliasRule[];
  data?(rng: Rng): DataCase[];
}

export type TypedArg = Float32Array | Int32Array;

export const TYPE_CODES: ReadonlySet<string> = new Set([ErrorCode.ARG_TYPE, ErrorCode.ARG_COUNT, ErrorCode.DETACHED]);

/** Calls an export by name with exactly `args` (arguments.length included). */
export function call(b: Backend, fn: ExportName, args: readonly unknown[]): unknown {
  const f = (b as unknown as Record<string, (...a: unknown[]) => unknown>)[fn];
  return f.apply(b, args as unknown[]);
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

const odd = (rng: Rng): number => pick(rng, [3, 5, 7]);
const f32 = (rng: Rng, n: number, lo = -1, hi = 1): Float32Array => rng.uniformArray(n, lo, hi);

export function labels(rng: Rng, n: number, classes: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(classes);
  return a;
}

export const ACT_COUNT = ACTIVATION_NAMES.length;
export const LOSS_COUNT = LOSS_NAMES.length;
export const OPT_COUNT = OPTIMIZER_KERNEL_NAMES.length;

const kernelOf = (id: number) => OPTIMIZER_KERNELS[OPTIMIZER_KERNEL_NAMES[id]];

const HYPER_FLAGS = new Set(['nesterov', 'firstStep', 'lrInVelocity', 'centered', 'epsInsideSqrt', 'decoupled', 'amsgrad', 'rectified']);
const HYPER_DECAYS = new Set(['beta1', 'beta2', 'alpha', 'rho', 'momentum']);

/** A plausible hyper array for kernel `id`: decay rates with their complements, flags 0 or 1. */
export function validHyper(rng: Rng, id: number): Float32Array {
  const names = kernelOf(id).hyper;
  const h = new Float32Array(names.length);
  names.forEach((name, i) => {
    if (HYPER_FLAGS.has(name)) h[i] = rng.int(2);
    // Each oneMinusX follows its X in every layout.
    else if (name.startsWith('oneMinus')) h[i] = 1 - h[i - 1];
    else if (HYPER_DECAYS.has(name)) h[i] = rng.range(0.5, 0.99);
    else if (name === 'eps') h[i] = rng.range(1e-8, 1e-3);
    else if (name === 'bc1' || name === 'bc2' || name === 'rect') h[i] = rng.range(0.1, 1);
    else h[i] = rng.range(0, 0.1);
  });
  return h;
}

function randomActivation(rng: Rng): [number, number] {
  const id = rng.int(ACT_COUNT);
  return [id, ACTIVATIONS[ACTIVATION_NAMES[id]].param];
}

const dim = (name: string): Param => ({ name, kind: 'dim' });
const scalar = (name: string): Param => ({ name, kind: 'scalar' });
const flag = (name: string): Param => ({ name, kind: 'flag' });
const arr = (name: string, out = false): Param => ({ name, kind: 'f32', out });
const act: Param = { name: 'activation', kind: 'id', ids: ACT_COUNT };
const disjointAll = (outs: string[], ins: string[]): AliasRule[] =>
  outs.flatMap((out) => ins.map((input) => ({ out, input, same: false })));
/** Outputs disjoint from each other, each from those before it (the order the binding checks). */
const disjointPairs = (outs: string[]): AliasRule[] =>
  outs.flatMap((out, k) => outs.slice(0, k).map((input) => ({ out, input, same: false })));

/** A copy of `args` with one position replaced. */
const withArg = (args: unknown[], i: number, v: unknown): unknown[] => {
  const a = args.slice();
  a[i] = v;
  return a;
};

const rowwise = (fn: 'softmax' | 'logSoftmax'): KernelSpec => ({
  title: fn,
  fn,
  params: [dim('rows'), dim('cols'), arr('x'), arr('y', true)],
  valid(rng) {
    const rows = odd(rng), cols = odd(rng);
    return [rows, cols, f32(rng, rows * cols, -3, 3), f32(rng, rows * cols)];
  },
  alias: [{ out: 'y', input: 'x', same: true }],
});

const rowwiseBackward = (fn: 'softmaxBackward' | 'logSoftmaxBackward'): KernelSpec => ({
  title: fn,
  fn,
  params: [dim('rows'), dim('cols'), arr('y'), arr('dy'), arr('dx', true)],
  valid(rng) {
    const rows = odd(rng), cols = odd(rng), n = rows * cols;
    return [rows, cols, f32(rng, n, fn === 'softmaxBackward' ? 0 : -3, fn === 'softmaxBackward' ? 1 : 0), f32(rng, n), f32(rng, n)];
  },
  alias: [{ out: 'dx', input: 'y', same: true }, { out: 'dx', input: 'dy', same: true }],
});

/** loss, or lossWeighted (weight [rows] before grad) when `weighted`. */
function lossSpec(name: LossName, targetKind: 'dense' | 'labels', weighted = false): KernelSpec {
  const id = LOSS_NAMES.indexOf(name);
  const def = LOSSES[name];
  const kind: Kind = def.targets.labels && def.targets.dense ? 'target' : def.targets.labels ? 'i32' : 'f32';
  const half = def.targets.half;
  const spec: KernelSpec = {
    title: `${weighted ? 'lossWeighted' : 'loss'} ${name}${kind === 'target' ? ` (${targetKind} target)` : ''}`,
    fn: weighted ? 'lossWeighted' : 'loss',
    params: [
      { name: 'loss', kind: 'id', ids: LOSS_COUNT }, scalar('param'), dim('rows'), dim('cols'),
      arr('pred'), { name: 'target', kind }, ...(weighted ? [arr('weight')] : []), { name: 'grad', kind: 'f32?', out: true },
    ],
    valid(rng) {
      const rows = odd(rng);
      // gaussianNll needs even cols (mean and variance heads); each head stays odd.
      const cols = half ? 2 * odd(rng) : odd(rng);
      const pred = f32(rng, rows * cols, -2, 2);
      let target: TypedArg;
      if (kind === 'i32' || (kind === 'target' && targetKind === 'labels')) {
        target = labels(rng, rows, cols);
      } else if (half) {
        for (let i = 0; i < rows; i++) for (let j = cols / 2; j < cols; j++) pred[i * cols + j] = rng.range(0.1, 2);
        target = f32(rng, rows * (cols / 2));
      } else if (name === 'hinge') {
        target = new Float32Array(rows * cols);
        for (let i = 0; i < target.length; i++) target[i] = rng.int(2) === 0 ? -1 : 1;
      } else {
        target = f32(rng, rows * cols, 0, 1);
      }
      const grad = f32(rng, rows * cols);
      return weighted ? [id, def.param, rows, cols, pred, target, f32(rng, rows, 0, 2), grad] : [id, def.param, rows, cols, pred, target, grad];
    },
    alias: [
      { out: 'grad', input: 'pred', same: false }, { out: 'grad', input: 'target', same: false },
      ...(weighted ? [{ out: 'grad', input: 'weight', same: false }] : []),
    ],
  };
  spec.data = (rng) => {
    const cases: DataCase[] = [];
    const base = (): unknown[] => spec.valid(rng);
    const labelled = kind === 'i32' || (kind === 'target' && targetKind === 'labels');
    if (labelled) {
      for (const bad of ['negative', 'cols', 'max']) {
        const a = base();
        const rows = a[2] as number, cols = a[3] as number, t = a[5] as Int32Array;
        const at = rng.int(rows);
        t[at] = bad === 'negative' ? -1 : bad === 'cols' ? cols : 2147483647;
        cases.push({ what: `label ${t[at]} at row ${at}`, args: a, code: ErrorCode.LABEL, mentions: [`target[${at}] = ${t[at]} is outside [0, ${cols})`] });
      }
    }
    if (kind === 'i32') {
      const a = base();
      a[5] = new Float32Array(a[5] as Int32Array);
      cases.push({ what: 'Float32Array target for a labels-only loss', args: a, code: ErrorCode.ARG_TYPE, mentions: ['Expected Int32Array for target but received Float32Array'] });
    }
    if (kind === 'f32') {
      const a = base();
      const t = a[5] as Float32Array;
      a[5] = Int32Array.from(t, (v) => Math.round(v));
      cases.push({ what: 'Int32Array target for a dense loss', args: a, code: ErrorCode.ARG_TYPE, mentions: ['Expected Float32Array for target but received Int32Array'] });
    }
    if (name === 'hinge') {
      for (const v of [0, 0.5, 2, -1.5, NaN]) {
        const a = base();
        const t = a[5] as Float32Array;
        t[rng.int(t.length)] = v;
        cases.push({ what: `hinge target ${v}`, args: a, code: ErrorCode.TARGET, mentions: ['hinge targets must be -1 or +1'] });
      }
    }
    if (name === 'huber' || name === 'gaussianNll') {
      // The value as read (a float32), in full: -1e-30 is not "-0.000000".
      for (const [p, shown] of [[0, 'received 0'], [-1, 'received -1'], [-1e-30, 'received -1.0000000031710769e-30']] as const) {
        const a = base();
        a[1] = p;
        cases.push({ what: `param ${p}`, args: a, code: ErrorCode.ARG_RANGE, mentions: ['Expected param > 0 for ' + name, shown] });
      }
    }
    if (half) {
      const a = base();
      const cols = (a[3] as number) - 1;
      a[3] = cols;
      cases.push({ what: `odd cols ${cols}`, args: a, code: ErrorCode.ARG_RANGE, mentions: [`Expected even cols (mean and variance heads) for gaussianNll but received ${cols}`] });
    }
    if (weighted) {
      for (const v of [-1, -1e-30, NaN, Infinity, -Infinity]) {
        const a = base();
        const w = a[6] as Float32Array;
        const at = rng.int(w.length);
        w[at] = v;
        cases.push({ what: `weight ${v}`, args: a, code: ErrorCode.ARG_RANGE, mentions: [`Expected finite non-negative values in weight but weight[${at}] is ${String(Math.fround(v))}`] });
      }
    }
    return cases;
  };
  return spec;
}

/** gatherRows and gatherRowsChecked take the same arguments and refuse the same indices. */
function gatherSpec(fn: 'gatherRows' | 'gatherRowsChecked'): KernelSpec {
  return {
    title: fn,
    fn,
    params: [dim('rows'), dim('cols'), dim('srcRows'), { name: 'index', kind: 'i32' }, arr('src'), arr('dst', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng), srcRows = odd(rng);
      return [rows, cols, srcRows, labels(rng, rows, srcRows), f32(rng, srcRows * cols), f32(rng, rows * cols)];
    },
    alias: disjointAll(['dst'], ['src', 'index']),
    data(rng) {
      return [-1, 'srcRows', 2147483647, -2147483648].map((bad) => {
        const a = this.valid(rng);
        const rows = a[0] as number, srcRows = a[2] as number, index = a[3] as Int32Array;
        const at = rng.int(rows);
        index[at] = bad === 'srcRows' ? srcRows : (bad as number);
        return { what: `index ${index[at]} at row ${at}`, args: a, code: ErrorCode.INDEX, mentions: [`index[${at}] = ${index[at]} is outside [0, ${srcRows})`] };
      });
    },
  };
}

export const SPECS: readonly KernelSpec[] = [
  {
    title: 'gemm',
    fn: 'gemm',
    params: [flag('transA'), flag('transB'), dim('m'), dim('n'), dim('k'), scalar('alpha'), arr('a'), arr('b'), scalar('beta'), arr('c', true)],
    valid(rng) {
      const m = odd(rng), n = odd(rng), k = odd(rng);
      return [rng.int(2) === 1, rng.int(2) === 1, m, n, k, rng.range(-2, 2), f32(rng, m * k), f32(rng, k * n), rng.range(-1, 1), f32(rng, m * n)];
    },
    alias: disjointAll(['c'], ['a', 'b']),
  },
  {
    title: 'gemmBatched',
    fn: 'gemmBatched',
    params: [
      flag('transA'), flag('transB'), dim('m'), dim('n'), dim('k'), dim('batch'), scalar('alpha'),
      arr('a'), dim('strideA'), arr('b'), dim('strideB'), scalar('beta'), arr('c', true), dim('strideC'),
    ],
    valid(rng) {
      const m = odd(rng), n = odd(rng), k = odd(rng), batch = odd(rng);
      const sa = m * k + rng.int(3), sb = k * n + rng.int(3), sc = m * n + rng.int(3);
      const len = (s: number, size: number): number => (batch - 1) * s + size;
      return [rng.int(2) === 1, rng.int(2) === 1, m, n, k, batch, rng.range(-2, 2),
        f32(rng, len(sa, m * k)), sa, f32(rng, len(sb, k * n)), sb, rng.range(-1, 1), f32(rng, len(sc, m * n)), sc];
    },
    alias: disjointAll(['c'], ['a', 'b']),
    data(rng) {
      const a = this.valid(rng);
      a[13] = (a[2] as number) * (a[3] as number) - 1;
      return [{ what: 'strideC < m*n', args: a, code: ErrorCode.ALIAS, mentions: ['strideC must be at least m*n'] }];
    },
  },
  {
    title: 'addBias',
    fn: 'addBias',
    params: [dim('rows'), dim('cols'), arr('bias'), arr('y', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng);
      return [rows, cols, f32(rng, cols), f32(rng, rows * cols)];
    },
    alias: [{ out: 'y', input: 'bias', same: false }],
  },
  {
    title: 'colSum',
    fn: 'colSum',
    params: [dim('rows'), dim('cols'), scalar('beta'), arr('x'), arr('out', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng);
      return [rows, cols, rng.range(-1, 1), f32(rng, rows * cols), f32(rng, cols)];
    },
    alias: [{ out: 'out', input: 'x', same: false }],
  },
  gatherSpec('gatherRows'),
  gatherSpec('gatherRowsChecked'),
  {
    title: 'shuffledRange',
    fn: 'shuffledRange',
    params: [dim('n'), { name: 'state', kind: 'i32', out: true }, { name: 'out', kind: 'i32', out: true }],
    valid(rng) {
      const n = odd(rng);
      return [n, labels(rng, 4, 1 << 30), new Int32Array(n)];
    },
    alias: disjointAll(['out'], ['state']),
  },
  {
    title: 'argmaxRows',
    fn: 'argmaxRows',
    params: [dim('rows'), dim('cols'), arr('x'), { name: 'out', kind: 'i32', out: true }],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng);
      return [rows, cols, f32(rng, rows * cols), new Int32Array(rows)];
    },
    alias: disjointAll(['out'], ['x']),
  },
  {
    title: 'scale',
    fn: 'scale',
    params: [dim('n'), scalar('alpha'), arr('x', true)],
    valid(rng) {
      const n = odd(rng);
      return [n, rng.range(-2, 2), f32(rng, n)];
    },
    alias: [],
  },
  {
    title: 'axpy',
    fn: 'axpy',
    params: [dim('n'), scalar('alpha'), arr('x'), arr('y', true)],
    valid(rng) {
      const n = odd(rng);
      return [n, rng.range(-2, 2), f32(rng, n), f32(rng, n)];
    },
    alias: [{ out: 'y', input: 'x', same: true }],
  },
  {
    title: 'dot',
    fn: 'dot',
    params: [dim('n'), arr('x'), arr('y')],
    valid(rng) {
      const n = odd(rng);
      return [n, f32(rng, n), f32(rng, n)];
    },
    alias: [],
  },
  {
    title: 'sumSquares',
    fn: 'sumSquares',
    params: [dim('n'), arr('x')],
    valid(rng) {
      const n = odd(rng);
      return [n, f32(rng, n)];
    },
    alias: [],
  },
  {
    title: 'firstNonFinite',
    fn: 'firstNonFinite',
    params: [dim('n'), arr('x')],
    valid(rng) {
      const n = odd(rng);
      return [n, f32(rng, n)];
    },
    alias: [],
  },
  {
    title: 'firstLabelOutside',
    fn: 'firstLabelOutside',
    params: [dim('n'), { name: 'labels', kind: 'i32' }, dim('classes')],
    valid(rng) {
      const n = odd(rng), classes = odd(rng);
      return [n, labels(rng, n, classes), classes];
    },
    alias: [],
  },
  {
    title: 'mul',
    fn: 'mul',
    params: [dim('n'), arr('x'), arr('y'), arr('out', true)],
    valid(rng) {
      const n = odd(rng);
      return [n, f32(rng, n), f32(rng, n), f32(rng, n)];
    },
    alias: [{ out: 'out', input: 'x', same: true }, { out: 'out', input: 'y', same: true }],
  },
  {
    title: 'penalty',
    fn: 'penalty',
    params: [dim('n'), scalar('l1'), scalar('l2'), arr('w'), { name: 'grad', kind: 'f32?', out: true }],
    valid(rng) {
      const n = odd(rng);
      return [n, rng.range(0, 1), rng.range(0, 1), f32(rng, n), f32(rng, n)];
    },
    alias: [{ out: 'grad', input: 'w', same: false }],
    data(rng) {
      return ([[1, 'l1'], [2, 'l2']] as const).flatMap(([i, name]) => [-1, -0.5, -2.5e30].map((v) => ({
        what: `${name} = ${v}`, args: withArg(this.valid(rng), i, v), code: ErrorCode.ARG_RANGE,
        // The value's digits are not compared: the binding prints 17 significant digits.
        mentions: [`Expected non-negative number for ${name} but received -`],
      })));
    },
  },
  {
    title: 'activation',
    fn: 'activation',
    params: [act, scalar('param'), dim('n'), arr('x'), arr('y', true)],
    valid(rng) {
      const [id, p] = randomActivation(rng);
      const n = odd(rng);
      return [id, p, n, f32(rng, n, -3, 3), f32(rng, n)];
    },
    alias: [{ out: 'y', input: 'x', same: true }],
  },
  {
    title: 'activationBackward',
    fn: 'activationBackward',
    params: [act, scalar('param'), dim('n'), arr('x'), arr('y'), arr('dy'), arr('dx', true)],
    valid(rng) {
      const [id, p] = randomActivation(rng);
      const n = odd(rng);
      const x = f32(rng, n, -3, 3);
      const y = x.map((v) => ACTIVATIONS[ACTIVATION_NAMES[id]].f(v, p));
      return [id, p, n, x, y, f32(rng, n), f32(rng, n)];
    },
    alias: ['x', 'y', 'dy'].map((input) => ({ out: 'dx', input, same: true })),
  },
  rowwise('softmax'),
  rowwise('logSoftmax'),
  rowwiseBackward('softmaxBackward'),
  rowwiseBackward('logSoftmaxBackward'),
  {
    title: 'prelu',
    fn: 'prelu',
    params: [flag('perUnit'), dim('rows'), dim('cols'), arr('x'), arr('a'), arr('y', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng), perUnit = rng.int(2) === 1;
      return [perUnit, rows, cols, f32(rng, rows * cols, -3, 3), f32(rng, perUnit ? cols : 1, 0, 0.5), f32(rng, rows * cols)];
    },
    alias: [{ out: 'y', input: 'x', same: true }, { out: 'y', input: 'a', same: false }],
  },
  {
    title: 'preluBackward',
    fn: 'preluBackward',
    params: [flag('perUnit'), dim('rows'), dim('cols'), scalar('beta'), arr('x'), arr('a'), arr('dy'),
      arr('da', true), arr('dx', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng), perUnit = rng.int(2) === 1, na = perUnit ? cols : 1;
      return [perUnit, rows, cols, rng.int(2), f32(rng, rows * cols, -3, 3), f32(rng, na, 0, 0.5), f32(rng, rows * cols),
        f32(rng, na), f32(rng, rows * cols)];
    },
    alias: [
      { out: 'dx', input: 'dy', same: true },
      ...disjointAll(['dx'], ['x', 'a']),
      ...disjointAll(['da'], ['x', 'a', 'dy', 'dx']),
    ],
  },
  {
    title: 'batchNormForward',
    fn: 'batchNormForward',
    params: [flag('training'), dim('rows'), dim('cols'), scalar('eps'), scalar('momentum'), arr('x'), arr('gamma'),
      arr('beta'), arr('runningMean', true), arr('runningVar', true), arr('mean', true), arr('invStd', true),
      arr('xhat', true), arr('y', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng), n = rows * cols;
      return [rng.int(2) === 1, rows, cols, rng.range(1e-5, 0.1), rng.range(0, 1), f32(rng, n, -2, 2), f32(rng, cols),
        f32(rng, cols), f32(rng, cols), f32(rng, cols, 0.5, 2), f32(rng, cols), f32(rng, cols), f32(rng, n), f32(rng, n)];
    },
    alias: (() => {
      const outs = ['runningMean', 'runningVar', 'mean', 'invStd', 'xhat', 'y'];
      return [...disjointAll(outs, ['x', 'gamma', 'beta']), ...disjointPairs(outs)];
    })(),
    data(rng) {
      const training = (): unknown[] => withArg(this.valid(rng), 0, true);
      const cases: DataCase[] = [1, 0].map((rows) => ({
        what: `training with rows = ${rows}`, args: withArg(training(), 1, rows), code: ErrorCode.ARG_RANGE,
        mentions: [`Expected more than 1 value per channel when training but received rows = ${rows}`],
      }));
      // 1e-50 is positive but rounds to 0 as a float, which is what the kernel would divide by.
      for (const eps of [0, -1e-5, -1, 1e-50]) {
        cases.push({ what: `eps = ${eps}`, args: withArg(this.valid(rng), 3, eps), code: ErrorCode.ARG_RANGE, mentions: ['Expected positive number for eps but received'] });
      }
      for (const momentum of [-0.5, 1.5, -1e-3, 2]) {
        cases.push({ what: `momentum = ${momentum}`, args: withArg(this.valid(rng), 4, momentum), code: ErrorCode.ARG_RANGE, mentions: ['Expected number in [0, 1] for momentum but received'] });
      }
      return cases;
    },
  },
  {
    title: 'batchNormBackward',
    fn: 'batchNormBackward',
    params: [flag('training'), dim('rows'), dim('cols'), scalar('beta'), arr('xhat'), arr('gamma'), arr('invStd'),
      arr('dy'), arr('dgamma', true), arr('dbeta', true), { name: 'dx', kind: 'f32?', out: true }],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng), n = rows * cols;
      return [rng.int(2) === 1, rows, cols, rng.int(2), f32(rng, n, -2, 2), f32(rng, cols), f32(rng, cols, 0.5, 3),
        f32(rng, n), f32(rng, cols), f32(rng, cols), f32(rng, n)];
    },
    alias: [...disjointAll(['dgamma', 'dbeta', 'dx'], ['xhat', 'gamma', 'invStd', 'dy']), ...disjointPairs(['dgamma', 'dbeta', 'dx'])],
  },
  {
    title: 'denseForward',
    fn: 'denseForward',
    params: [act, scalar('param'), dim('batch'), dim('inDim'), dim('outDim'), arr('x'), arr('w'),
      { name: 'b', kind: 'f32?' }, arr('z', true), arr('y', true)],
    valid(rng) {
      const [id, p] = randomActivation(rng);
      const batch = odd(rng), inDim = odd(rng), outDim = odd(rng);
      return [id, p, batch, inDim, outDim, f32(rng, batch * inDim), f32(rng, outDim * inDim), f32(rng, outDim),
        f32(rng, batch * outDim), f32(rng, batch * outDim)];
    },
    alias: [...disjointAll(['z', 'y'], ['x', 'w', 'b']), { out: 'y', input: 'z', same: true }],
  },
  {
    title: 'denseBackward',
    fn: 'denseBackward',
    params: [act, scalar('param'), dim('batch'), dim('inDim'), dim('outDim'), scalar('beta'),
      arr('x'), arr('w'), arr('z'), arr('y'), arr('dy'), arr('dz', true), arr('dw', true),
      { name: 'db', kind: 'f32?', out: true }, { name: 'dx', kind: 'f32?', out: true }],
    valid(rng) {
      const [id, p] = randomActivation(rng);
      const batch = odd(rng), inDim = odd(rng), outDim = odd(rng);
      const z = f32(rng, batch * outDim, -3, 3);
      const y = z.map((v) => ACTIVATIONS[ACTIVATION_NAMES[id]].f(v, p));
      return [id, p, batch, inDim, outDim, rng.int(2), f32(rng, batch * inDim), f32(rng, outDim * inDim), z, y,
        f32(rng, batch * outDim), f32(rng, batch * outDim), f32(rng, outDim * inDim), f32(rng, outDim), f32(rng, batch * inDim)];
    },
    alias: [
      { out: 'dz', input: 'dy', same: true },
      ...disjointAll(['dz'], ['x', 'w', 'z', 'y']),
      ...disjointAll(['dw', 'db', 'dx'], ['x', 'w', 'z', 'y', 'dy', 'dz']),
      { out: 'dw', input: 'db', same: false },
      { out: 'dw', input: 'dx', same: false },
      { out: 'db', input: 'dx', same: false },
    ],
  },
  {
    title: 'packDense',
    fn: 'packDense',
    params: [dim('outDim'), dim('inDim'), arr('w'), { name: 'b', kind: 'f32?' }, arr('packed', true)],
    valid(rng) {
      const outDim = odd(rng), inDim = odd(rng);
      return [outDim, inDim, f32(rng, outDim * inDim), f32(rng, outDim), f32(rng, packedDenseLength(outDim, inDim))];
    },
    alias: disjointAll(['packed'], ['w', 'b']),
  },
  {
    title: 'packedDenseForward',
    fn: 'packedDenseForward',
    params: [act, scalar('param'), dim('batch'), dim('inDim'), dim('outDim'), arr('x'), arr('packed'), arr('y', true)],
    valid(rng) {
      const [id, p] = randomActivation(rng);
      const batch = odd(rng), inDim = odd(rng), outDim = odd(rng);
      return [id, p, batch, inDim, outDim, f32(rng, batch * inDim), f32(rng, packedDenseLength(outDim, inDim)),
        f32(rng, batch * outDim)];
    },
    alias: disjointAll(['y'], ['x', 'packed']),
  },
  ...LOSS_NAMES.flatMap((name) => {
    const d = LOSSES[name].targets;
    const kinds: ('labels' | 'dense')[] = d.labels && d.dense ? ['labels', 'dense'] : [d.labels ? 'labels' : 'dense'];
    return kinds.flatMap((k) => [lossSpec(name, k), lossSpec(name, k, true)]);
  }),
  {
    title: 'optimizerStep',
    fn: 'optimizerStep',
    params: [{ name: 'opt', kind: 'id', ids: OPT_COUNT }, dim('n'), arr('hyper'), arr('param', true), arr('grad'),
      arr('state', true)],
    valid(rng) {
      const id = rng.int(OPT_COUNT), n = odd(rng);
      // Non-negative state: the second-moment slots are square roots' arguments.
      return [id, n, validHyper(rng, id), f32(rng, n), f32(rng, n), f32(rng, kernelOf(id).slots.length * n, 0, 1)];
    },
    // Mutually disjoint, in the order the binding checks.
    alias: [['param', 'hyper'], ['param', 'grad'], ['state', 'hyper'], ['state', 'param'], ['state', 'grad'], ['grad', 'hyper']]
      .map(([out, input]) => ({ out, input, same: false })),
    data(rng) {
      // Each kernel's own hyper length and slot count, one element short.
      return OPTIMIZER_KERNEL_NAMES.flatMap((name, id) => {
        const k = kernelOf(id), n = odd(rng), slots = k.slots.length;
        const good = (): unknown[] => [id, n, validHyper(rng, id), f32(rng, n), f32(rng, n), f32(rng, slots * n, 0, 1)];
        return [
          { what: `${name} hyper short`, args: withArg(good(), 2, new Float32Array(k.hyper.length - 1)), code: ErrorCode.ARG_LENGTH,
            mentions: [`Expected hyper to hold at least ${k.hyper.length} elements (hyper length of ${name}) but it has ${k.hyper.length - 1}`] },
          { what: `${name} state short`, args: withArg(good(), 5, new Float32Array(slots * n - 1)), code: ErrorCode.ARG_LENGTH,
            mentions: [`Expected state to hold at least ${slots * n} elements (${slots}*n) but it has ${slots * n - 1}`] },
        ];
      });
    },
  },
  {
    title: 'optimizerStepBlocks',
    fn: 'optimizerStepBlocks',
    params: [{ name: 'opt', kind: 'id', ids: OPT_COUNT }, dim('n'), arr('hyper'), arr('param', true), arr('grad'),
      arr('state', true), dim('nBlocks'), { name: 'blocks', kind: 'i32' }],
    valid(rng) {
      // n = rows * cols + 1 + a block of 0 rows: one cut-able block, a one-value block, an empty one.
      const id = rng.int(OPT_COUNT), rows = odd(rng), cols = odd(rng), n = rows * cols + 1;
      return [id, n, validHyper(rng, id), f32(rng, n), f32(rng, n), f32(rng, kernelOf(id).slots.length * n, 0, 1), 3,
        new Int32Array([rows, cols, 1, 1, 0, 4])];
    },
    alias: [['param', 'hyper'], ['param', 'grad'], ['state', 'hyper'], ['state', 'param'], ['state', 'grad'], ['grad', 'hyper']]
      .map(([out, input]) => ({ out, input, same: false })),
    data(rng) {
      const good = () => this.valid(rng);
      const n = (args: unknown[]) => args[1] as number;
      const withBlocks = (blocks: number[]): unknown[] => withArg(good(), 7, new Int32Array(blocks));
      const a = good(), b = good(), c = good(), d = good();
      return [
        { what: 'negative rows', args: withArg(a, 7, new Int32Array([-1, 1, n(a) + 1, 1, 0, 1])), code: ErrorCode.ARG_RANGE,
          mentions: ['Expected blocks[0] >= 0 rows and blocks[1] >= 1 columns but received -1 and 1'] },
        { what: 'zero columns', args: withBlocks([0, 0, 0, 1, 0, 1]), code: ErrorCode.ARG_RANGE,
          mentions: ['Expected blocks[0] >= 0 rows and blocks[1] >= 1 columns but received 0 and 0'] },
        { what: 'blocks one value short', args: withArg(b, 7, new Int32Array([n(b) - 1, 1, 0, 1, 0, 1])), code: ErrorCode.SHAPE,
          mentions: [`Expected blocks to cover n = ${n(b)} values but they cover ${n(b) - 1}`] },
        { what: 'blocks one value over', args: withArg(c, 7, new Int32Array([n(c), 1, 1, 1, 0, 1])), code: ErrorCode.SHAPE,
          mentions: [`Expected blocks to cover n = ${n(c)} values but they cover more`] },
        { what: 'blocks whose product overflows 32 bits', args: withArg(d, 7, new Int32Array([65536, 65536, 0, 1, 0, 1])), code: ErrorCode.SHAPE,
          mentions: ['but they cover more'] },
      ];
    },
  },
  {
    title: 'clamp',
    fn: 'clamp',
    params: [dim('n'), scalar('lo'), scalar('hi'), arr('x', true)],
    valid(rng) {
      const n = odd(rng);
      return [n, rng.range(-1, 0), rng.range(0, 1), f32(rng, n, -2, 2)];
    },
    alias: [],
    data(rng) {
      return [[0.5, -0.5], [1, 0], [1e-30, 0], [-1, -2]].map(([lo, hi]) => ({
        what: `lo ${lo} > hi ${hi}`, args: withArg(withArg(this.valid(rng), 1, lo), 2, hi), code: ErrorCode.ARG_RANGE,
        mentions: ['Expected lo <= hi but received lo = '],
      }));
    },
  },
  {
    title: 'maxNormRows',
    fn: 'maxNormRows',
    params: [dim('rows'), dim('cols'), scalar('maxNorm'), arr('w', true)],
    valid(rng) {
      const rows = odd(rng), cols = odd(rng);
      return [rows, cols, rng.range(0.5, 2), f32(rng, rows * cols, -2, 2)];
    },
    alias: [],
    data(rng) {
      return [0, -1].map((v) => ({
        what: `maxNorm ${v}`, args: withArg(this.valid(rng), 2, v), code: ErrorCode.ARG_RANGE,
        mentions: [`Expected positive number for maxNorm but received ${v}`],
      }));
    },
  },
  {
    title: 'setNumThreads',
    fn: 'setNumThreads',
    params: [dim('n')],
    valid() {
      return [1];
    },
    alias: [],
    data() {
      return [0, 1025, 2147483647].map((n) => ({
        what: `n = ${n}`, args: [n], code: ErrorCode.ARG_RANGE, mentions: [`Expected thread count in [1, 1024] but received ${n}`],
      }));
    },
  },
  {
    title: 'setThreadLimit',
    fn: 'setThreadLimit',
    params: [dim('n')],
    valid() {
      return [0];
    },
    alias: [],
    data() {
      return [1025, 2147483647].map((n) => ({
        what: `n = ${n}`, args: [n], code: ErrorCode.ARG_RANGE, mentions: [`Expected thread limit in [0, 1024] but received ${n}`],
      }));
    },
  },
];

export function isTyped(v: unknown): v is TypedArg {
  return v instanceof Float32Array || v instanceof Int32Array;
}

/** A fresh copy of a valid argument list (typed arrays copied, so calls do not leak into others). */
export function cloneArgs(args: readonly unknown[]): unknown[] {
  return args.map((v) => (isTyped(v) ? v.slice() : v));
}
