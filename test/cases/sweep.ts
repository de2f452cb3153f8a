/**
 * The bad-argument sweep run by test/23.sweep: calls every function and class exported from
 * lib/index.ts, and every public method of one instance of each stateful class (per backend
 * where a backend is involved), with every bad value, every pair of bad values and a few common
 * valid first arguments followed by every bad value, and collects
 * each error (thrown, or a rejected promise) that carries no ERR_BLASNET_* code.
 *
 * It runs in a child process (started by the test in an empty temporary directory, so files that
 * a call happens to write land there) because a hanging call cannot be interrupted from the same
 * thread: before each call it writes the call's number and label to the file `progress`, so that
 * the parent can name the call that stopped making progress. It writes its SweepResult to
 * `result.json`.
 */
import * as fs from 'fs';
import * as lib from '../../lib';
import { backends } from '../helpers';

export interface Finding {
  /** The callee, e.g. `batchNorm` or `model[js].predict`. */
  fn: string;
  /** The call, e.g. `batchNorm(null)`. */
  call: string;
  /** `name: message` of what was thrown. */
  error: string;
  /** Where it was thrown: the first stack frame (file:line), to find the fix without a debugger. */
  at?: string;
}

export interface SweepResult {
  calls: number;
  callees: number;
  findings: Finding[];
}

/** An array nested `depth` deep: anything that walks it recursively (String, JSON.stringify) overflows the stack. */
function nested(depth: number): unknown[] {
  let a: unknown[] = [];
  for (let i = 0; i < depth; i++) a = [a];
  return a;
}

const DEEP = nested(100000);

export const BAD_VALUES: readonly unknown[] = [
  undefined, null, NaN, -1, 0, 1.5, 'x', {}, [], Symbol('s'), 10n, new Float32Array(0), () => 0, { name: 'x' },
  new Int32Array(3), [[1, 2]], Infinity, Object.create(null), DEEP,
];

/**
 * First arguments that many callees accept (a count, a rate, a file name, a matrix, a model), so
 * that the checks of the second argument are reached too.
 */
const GOOD_FIRST: readonly unknown[] = [
  2, 0.5, 'out.bin', lib.Matrix.from([[0, 1], [1, 0], [2, 2], [3, 1]]),
  new lib.Sequential({ inputSize: 2, layers: [lib.dense(2)], loss: 'crossEntropy' }),
];

/**
 * TypeScript-private or `@internal` members: visible at runtime, but not public API, so their
 * arguments are trusted and they are not swept. test/23.sweep checks in the sources that each one
 * listed here is still private (or marked @internal).
 */
export const NOT_PUBLIC: Readonly<Record<string, { source: string; names: readonly string[] }>> = {
  model: {
    source: 'model/sequential.ts',
    names: ['run', 'propagate', 'pickLoss', 'outputLoss', 'checkWeight', 'addPenalties', 'reserve',
      'checkInput', 'toTarget', 'targetData', 'notBusy', 'layerOutput', 'inputMatrix', 'fitCallbacks', 'setMode'],
  },
  std: { source: 'data/preprocess.ts', names: ['set'] },
  mm: { source: 'data/preprocess.ts', names: ['set'] },
  pca: { source: 'data/preprocess.ts', names: ['install'] },
  sched: { source: 'schedules.ts', names: ['at', 'isBetter', 'lrAt'] },
  opt: { source: 'optim/optimizers.ts', names: ['guard'] },
  lbfgs: { source: 'optim/lbfgs.ts', names: ['evaluate', 'push', 'direction', 'probe', 'strongWolfe'] },
  batches: { source: 'data/batches.ts', names: ['fill', 'makeTargets', 'viewTargets'] },
  onnx: { source: 'interop/onnx.ts', names: ['unique', 'finish', 'parts'] },
};

/**
 * Exported classes whose constructor is TypeScript-private (instances come from static methods):
 * only their static methods are swept. Checked in the sources like NOT_PUBLIC.
 */
export const PRIVATE_CONSTRUCTORS: Readonly<Record<string, string>> = {
  TabularPreprocessor: 'data/tabular.ts',
};

/** Exports that load a whole data set per call: swept with one argument only. */
const SLOW = new Set(['loadFashionMnist', 'loadMnistLike']);

/** How long an async call may take to settle before it counts as a hang. */
const ASYNC_LIMIT_MS = 20000;

const fmt = (v: unknown): string => {
  if (typeof v === 'symbol') return 'Symbol()';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'fn';
  if (v instanceof Float32Array || v instanceof Int32Array) return `${v.constructor.name}(${v.length})`;
  if (typeof v === 'number') return String(v);
  if (v === DEEP) return '[[...]] (100000 deep)';
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === null) return 'Object.create(null)';
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) return v.constructor.name;
  return JSON.stringify(v) ?? String(v);
};

function isCoded(e: unknown): boolean {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_BLASNET_') && typeof (e as Error).message === 'string';
}

function describeError(e: unknown): string {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}` : `non-Error ${typeof e}: ${String(e)}`;
  } catch {
    return `non-Error ${typeof e}`;
  }
}

function firstFrame(e: unknown): string | undefined {
  const stack = e instanceof Error && typeof e.stack === 'string' ? e.stack : '';
  const frame = /\n\s+at (?:.*? \()?(.*?:\d+):\d+\)?/.exec(stack);
  return frame ? frame[1].replace(/^.*\/dist\//, '') : undefined;
}

const isClass = (f: unknown): boolean => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

/** The public methods of `o` (own and inherited, not `constructor`), minus the listed private ones. */
function methodsOf(o: object, exclude: readonly string[]): string[] {
  const names = new Set<string>(Object.keys(o));
  for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  }
  return [...names].filter((n) => {
    if (n === 'constructor' || exclude.includes(n)) return false;
    const d = Object.getOwnPropertyDescriptor(o, n) ?? findDescriptor(o, n);
    return d !== undefined && typeof d.value === 'function';
  });
}

function findDescriptor(o: object, n: string): PropertyDescriptor | undefined {
  for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, n);
    if (d) return d;
  }
  return undefined;
}

/** Runs the sweep; `progress` receives each call's label before the call. */
export async function sweep(progress: (label: string) => void = () => {}): Promise<SweepResult> {
  const findings: Finding[] = [];
  let calls = 0;
  let callees = 0;
  let current = '';
  const note = (fn: string, call: string, e: unknown): void => {
    if (!isCoded(e)) findings.push({ fn, call, error: describeError(e).slice(0, 300), at: firstFrame(e) });
  };
  // A promise a call leaves behind that rejects later is a finding of the call that made it.
  const onUnhandled = (e: unknown): void => note(current.split('(')[0], `${current} (unhandled rejection)`, e);
  process.on('unhandledRejection', onUnhandled);

  const one = async (fn: string, args: unknown[], call: (...a: unknown[]) => unknown): Promise<void> => {
    const label = `${fn}(${args.map(fmt).join(', ')})`;
    current = label;
    progress(label);
    calls++;
    let result: unknown;
    try {
      result = call(...args);
    } catch (e) {
      note(fn, label, e);
      return;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function') &&
      typeof (result as { then?: unknown }).then === 'function') {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), ASYNC_LIMIT_MS); });
      try {
        const settled = await Promise.race([Promise.resolve(result).then(() => 'ok' as const), limit]);
        if (settled === 'hang') findings.push({ fn, call: label, error: `did not settle within ${ASYNC_LIMIT_MS} ms` });
      } catch (e) {
        note(fn, label, e);
      } finally {
        clearTimeout(timer);
      }
    }
  };

  const sweepCallee = async (fn: string, call: (...a: unknown[]) => unknown, pairs: boolean): Promise<void> => {
    callees++;
    await one(fn, [], call);
    for (const a of BAD_VALUES) await one(fn, [a], call);
    if (!pairs) return;
    for (const a of BAD_VALUES) for (const b of BAD_VALUES) await one(fn, [a, b], call);
    for (const a of GOOD_FIRST) for (const b of BAD_VALUES) await one(fn, [a, b], call);
  };

  for (const [name, v] of Object.entries(lib)) {
    if (typeof v !== 'function') continue;
    const C = v as unknown as new (...a: unknown[]) => unknown;
    const call = isClass(v) ? (...a: unknown[]) => new C(...a) : (...a: unknown[]) => (v as (...a: unknown[]) => unknown)(...a);
    if (!(name in PRIVATE_CONSTRUCTORS)) await sweepCallee(name, call, !SLOW.has(name));
    if (!isClass(v)) continue;
    for (const s of Object.getOwnPropertyNames(v)) {
      const d = Object.getOwnPropertyDescriptor(v, s);
      if (d && typeof d.value === 'function') await sweepCallee(`${name}.${s}`, (...a: unknown[]) => d.value.apply(v, a), true);
    }
  }

  const instances: [string, string, object][] = [];
  for (const b of backends()) {
    const model = new lib.Sequential({ inputSize: 2, layers: [lib.dense(3, { activation: 'relu' }), lib.batchNorm(), lib.dense(2)], backend: b })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    instances.push([`model[${b.name}]`, 'model', model]);
    instances.push([`opt[${b.name}]`, 'opt', lib.createOptimizer({ name: 'adam' }, model)]);
    instances.push([`backend[${b.name}]`, 'backend', b]);
  }
  const x = lib.Matrix.from([[0, 1], [1, 0], [2, 2], [3, 1]]);
  const labels = new Int32Array([0, 1, 0, 1]);
  const linear = new lib.Sequential({ inputSize: 2, layers: [lib.dense(1)], loss: 'mse' });
  instances.push(
    ['matrix', 'matrix', lib.Matrix.zeros(2, 2)],
    ['std', 'std', new lib.Standardizer()],
    ['stdFitted', 'std', new lib.Standardizer().fit(x)],
    ['mm', 'mm', new lib.MinMaxScaler()],
    ['mmFitted', 'mm', new lib.MinMaxScaler().fit(x)],
    ['pca', 'pca', new lib.PCA({ components: 1 })],
    ['pcaFitted', 'pca', new lib.PCA({ components: 1 }).fit(x)],
    ['rng', 'rng', new lib.Rng(1)],
    ['sched', 'sched', lib.createSchedule({ name: 'step', stepSize: 2 }, 0.1)],
    ['plateau', 'sched', lib.createSchedule({ name: 'reduceOnPlateau' }, 0.1)],
    ['lbfgs', 'lbfgs', new lib.LBFGS(linear)],
    ['batches', 'batches', new lib.BatchIterator(x, labels, { batchSize: 2 })],
    ['ensemble', 'ensemble', new lib.Ensemble([0, 1].map((seed) => new lib.Sequential({ inputSize: 2, seed, layers: [lib.dense(2)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } })))],
    ['onnx', 'onnx', new lib.OnnxGraph(13)],
    ['tabular', 'tabular', lib.TabularPreprocessor.fit(lib.readTable('a,b,y\n1,2,0\n3,4,1\n5,6,0\n'), { label: 'y' })],
  );
  for (const [label, kind, o] of instances) {
    for (const n of methodsOf(o, NOT_PUBLIC[kind]?.names ?? [])) {
      const f = (o as Record<string, (...a: unknown[]) => unknown>)[n];
      await sweepCallee(`${label}.${n}`, (...a: unknown[]) => f.apply(o, a), true);
    }
  }
  process.off('unhandledRejection', onUnhandled);
  return { calls, callees, findings };
}

if (require.main === module) {
  // Before each call, `progress` holds the number of calls so far and the call's label. It is a
  // file written synchronously (a pipe to the parent may hold back what was written before a
  // hang), so after a hang the parent reads the label of the call that hung.
  const fd = fs.openSync('progress', 'w');
  const progress = (label: string): void => {
    const line = Buffer.from(`${++started} ${label}`);
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, line, 0, line.length, 0);
  };
  let started = 0;
  // Exits once the result is written: callbacks, timers or workers a swept call left behind must
  // not keep the child alive.
  sweep(progress).then(
    (r) => {
      fs.writeFileSync('result.json', JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      fs.writeFileSync('result.json', JSON.stringify({ failure: describeError(e) }));
      process.exit(1);
    },
  );
}
