/**
 * The reference training workload: Fashion-MNIST's 60,000 training images (float32 in [0, 1]),
 * a 784-256-128-10 ReLU MLP with softmax cross-entropy and Adam (lr 1e-3), shuffled minibatches,
 * in samples per second at batch 32, 128 and 512, plus a small 784-32-10 net at batch 32.
 * Data loading is excluded; each timed run starts from a freshly built and compiled model.
 *
 * Drivers: blasnet native (model.fit over the whole set, no metrics); PyTorch at several thread
 * settings (bench/peers/torch_mlp.py, one whole epoch per run, where Debian's python3-torch is
 * installed); TensorFlow.js on its wasm and cpu backends (bench/peers/tfjs-mlp.js, a fixed number
 * of steps, where `npm ci --prefix bench/peers` has installed it); blasnet js (model.fit over a
 * fixed number of steps: a prefix of the training set sized steps x batch); a naive JS MLP
 * (bench/naive-mlp.ts: triple-loop products, Adam) over the same steps. A missing peer is
 * reported as not run and its targets as not measured.
 *
 * Interleaved: per trial (configuration), `runs` rounds; in each round every driver does one
 * timed run, in an order that changes from round to round (roundOrder, a balanced Latin square),
 * so that machine drift lands on every driver alike and no driver always follows the same one;
 * medians and min–max are over the rounds. blasnet native (bench/mlp-native.ts) and the peers run
 * in processes of their own, started once per trial and kept across its rounds (ServedPeer: the
 * parent writes "run", the child answers with one JSON line), so that their start-up, data load
 * and warmup are neither timed nor repeated, and no driver runs in the process that hosts the
 * others (measured in this process, beside the js and naive rows' heaps, native at batch 512 ran
 * about 10% slower than the same build in a process of its own: bench/RESULTS.md, run S); a short pause after each multi-threaded run lets its thread
 * pools go idle before the next driver. `--before=PATH` adds the same native runs by an older
 * build (its dist/bench/mlp-native.js) as rows "native (before)", for before/after in one run (in
 * both tables when OPENBLAS_CORETYPE is set).
 *
 * Native runs (nativeRun) time the first epoch of a freshly built model, which is what a one-epoch
 * fit costs and what the targets use, and also its second epoch in the same fit call, in a column
 * of its own: later epochs run at another speed than first ones (bench/steady-epochs.ts, RESULTS
 * "The subnormal flush"). Right after each native run, one sample of the GEMM-only bound: the GEMMs
 * one training step must do (per layer forward Z = X W^T and dW = dZ^T X, and dX = dZ W for all
 * but the first layer), timed alone through the native backend's gemm at the same batch size and
 * thread count.
 *
 * Environment. The tables say which OpenBLAS kernel set ran (its core name) and which instruction
 * set blasnet's own kernels used. Rows run under the environment as found; when OPENBLAS_CORETYPE
 * is set, blasnet native and PyTorch also run in child processes with it unset, OpenBLAS then choosing its kernels from the CPU, in the same rounds, reported in a second
 * table: ratios are taken only within a table. Every useful GFLOP/s is also given as a fraction of
 * the machine's FMA peak measured at the start of the run (bench/c/fma.c via bench/peak.ts).
 *
 * `--trial=ID,...` (bench/run.ts) runs only the named trials, for a short check.
 */
import * as os from 'os';
import * as path from 'path';
import { activationId, loadFashionMnist, Matrix, Rng, Sequential, dense } from '../../lib';
import type { Backend } from '../../lib';
import { alignedFloat32Array } from '../../lib/backend/memory';
import { BackendDriver, jsDriver, nativeDriver, ROOT } from '../drivers';
import { cpuSnapshot, Load, loadBetween, measure, Rate, rate, roundOrder, Stats, statsOf, TimingOptions } from '../harness';
import { NaiveMlp } from '../naive-mlp';
import { linkState, measureLink } from '../link';
import { measurePeak } from '../peak';
import { ServedPeer, startTfjs, startTorch, TorchSetting, torchSettings } from '../peers';
import { num, pct, rateCell, Suite, SuiteResult, Table, Target } from '../report';

/** Native must reach this share of the GEMM-only bound, per trial (issue 14). */
const BOUND_TARGETS: Record<string, number> = { 'ref-32': 0.7, 'ref-128': 0.85, 'ref-512': 0.85, 'small-32': 0.6 };
/** The js backend must be at least this many times faster than the naive MLP. */
const NAIVE_TARGET = 2;

export interface MlpTrial {
  id: string;
  sizes: number[];
  batch: number;
  /** Steps the js backend and the naive MLP time (native always runs a whole epoch). */
  steps: number;
}

export const TRIALS: readonly MlpTrial[] = [
  { id: 'ref-32', sizes: [784, 256, 128, 10], batch: 32, steps: 200 },
  { id: 'ref-128', sizes: [784, 256, 128, 10], batch: 128, steps: 50 },
  { id: 'ref-512', sizes: [784, 256, 128, 10], batch: 512, steps: 16 },
  { id: 'small-32', sizes: [784, 32, 10], batch: 32, steps: 200 },
];

const netName = (s: readonly number[]): string => s.join('-');

/** The trials named in `only` (all when it is absent), or an error naming the unknown ones. */
export function selectTrials(only: readonly string[] | undefined): MlpTrial[] {
  if (!only) return [...TRIALS];
  const unknown = only.filter((id) => !TRIALS.some((t) => t.id === id));
  if (unknown.length > 0) throw new Error(`mlp: unknown trial ${unknown.join(', ')} (trials: ${TRIALS.map((t) => t.id).join(', ')})`);
  return TRIALS.filter((t) => only.includes(t.id));
}

/** Weights (no biases) of a net. */
export function weights(sizes: readonly number[]): number {
  let w = 0;
  for (let l = 0; l + 1 < sizes.length; l++) w += sizes[l] * sizes[l + 1];
  return w;
}

/** Useful FLOPs per sample: 2W forward, 2W for dW, 2W for dX except into the input. */
export function flopsPerSample(sizes: readonly number[]): number {
  return 6 * weights(sizes) - 2 * sizes[0] * sizes[1];
}

export interface Gemm {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

/**
 * The GEMMs of one training step at batch `n`, on random data, in arrays allocated as the
 * library allocates a model's (lib/backend/memory.ts: on 64-byte boundaries once the addon has
 * loaded; `aligned` false: as V8 places them), so that the bound sees the operands a step does.
 */
export function stepGemms(sizes: readonly number[], n: number, aligned = true): Gemm[] {
  const rng = new Rng(3);
  const g: Gemm[] = [];
  const alloc = (len: number): Float32Array => (aligned ? alignedFloat32Array(len) : new Float32Array(len));
  const random = (len: number): Float32Array => {
    const out = alloc(len);
    out.set(rng.uniformArray(len, -1, 1));
    return out;
  };
  const mk = (transA: boolean, transB: boolean, m: number, nn: number, k: number): Gemm =>
    ({ transA, transB, m, n: nn, k, a: random(m * k), b: random(k * nn), c: alloc(m * nn) });
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fi = sizes[l], fo = sizes[l + 1];
    g.push(mk(false, true, n, fo, fi)); // Z [n, fo] = X [n, fi] W^T
    g.push(mk(true, false, fo, fi, n)); // dW [fo, fi] = dZ^T X
    if (l > 0) g.push(mk(false, false, n, fi, fo)); // dX [n, fi] = dZ [n, fo] W [fo, fi]
  }
  return g;
}

/** The workload's model: ReLU hidden layers, linear output, crossEntropy and Adam lr 1e-3 (seed 1). */
export function buildMlp(sizes: readonly number[], backend: Backend): Sequential {
  const model = new Sequential({
    inputSize: sizes[0], seed: 1, backend,
    layers: [...sizes.slice(1, -1).map((s) => dense(s, { activation: 'relu' })), dense(sizes[sizes.length - 1])],
  });
  return model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
}

/**
 * Seconds per call of one training step's GEMMs (stepGemms) at batch `n`, alone, each run the way
 * the step runs it: the backend's gemm, except the forward products where info().packedForward
 * is on, which run through denseForward (identity, no bias) as the step runs them: the weights
 * packed, then the packed kernels' product, or OpenBLAS's matrix-vector path for a batch too
 * short to pack for (info().packedForwardMinRows), chosen by the addon itself.
 */
export function timeStepGemms(backend: Backend, sizes: readonly number[], n: number, timing: TimingOptions): Stats {
  const gemms = stepGemms(sizes, n);
  const packed = backend.info().packedForward === true;
  const identity = activationId('identity');
  return measure((reps) => {
    for (let r = 0; r < reps; r++) {
      for (const g of gemms) {
        if (packed && !g.transA && g.transB) backend.denseForward(identity, 0, g.m, g.k, g.n, g.a, g.b, null, g.c, g.c);
        else backend.gemm(g.transA, g.transB, g.m, g.n, g.k, 1, g.a, g.b, 0, g.c);
      }
    }
  }, timing);
}

/** The training set's inputs and labels, as the suite loads them. */
export interface TrainSet {
  x: Matrix;
  labels: Int32Array;
}

/** Seconds of one native run (nativeRun). */
export interface NativeRun {
  /** The first epoch of a freshly built model, from the fit call to the end of its first epoch. */
  first: number;
  /** The same model's second epoch, in the same fit call. */
  steady: number;
  /** One training step's GEMMs alone (timeStepGemms), sampled right after the epochs. */
  gemm: number;
}

/** Reads one value of every 4 KB page of `data` (SuiteContext.touch says why); returns their sum, so the reads are kept. */
export function touchPages(data: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 1024) sum += data[i];
  return sum;
}

/**
 * One run of blasnet native at the driver's thread count: a freshly built model (untimed), one
 * fit call of two epochs over the first `rows` rows (the whole set by default; no metrics), the
 * time to the end of each epoch taken by an onEpochEnd callback, then one sample of the GEMM-only
 * bound, so that the bound sees the machine in the state the epochs saw (2-thread rates on this
 * VM drift for seconds at a time). `warm` gives that sample the full warmup of `gemmTiming`;
 * `touch` first reads the data set's pages (touchPages), untimed.
 */
export function nativeRun(native: BackendDriver, t: MlpTrial, train: TrainSet, gemmTiming: TimingOptions, rows = train.x.rows, warm = false,
  touch = false): NativeRun {
  const { x, labels } = train;
  if (touch) touchPages(x.data);
  const model = buildMlp(t.sizes, native.backend);
  const xs = rows === x.rows ? x : new Matrix(x.data.subarray(0, rows * x.cols), rows, x.cols);
  const ys = labels.subarray(0, rows);
  const ends: bigint[] = [];
  const timer = { onEpochEnd: () => { ends.push(process.hrtime.bigint()); } };
  return native.use(() => {
    const t0 = process.hrtime.bigint();
    model.fit(xs, ys, { epochs: 2, batchSize: t.batch, shuffle: true, callbacks: [timer] });
    const gemm = timeStepGemms(native.backend, t.sizes, t.batch, { ...gemmTiming, warmup: warm ? gemmTiming.warmup : 0.02, runs: 1 }).median;
    return { first: Number(ends[0] - t0) / 1e9, steady: Number(ends[1] - ends[0]) / 1e9, gemm };
  });
}

/** What bench/mlp-native.ts prints first, once it has loaded the data and warmed up. */
export interface NativeChildInfo {
  threads: number;
  coreName: string;
  kernelIsa: string;
}

/** The process environment without OPENBLAS_CORETYPE: OpenBLAS picks its kernels from the CPU. */
function withoutCoreType(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  return env;
}

/** The OpenBLAS core name in a PyTorch peer's BLAS line ("... (core SkylakeX, pthreads, 2 threads)"). */
const torchCore = (info: Record<string, unknown> | undefined): string => /\(core (\w+)/.exec(String(info?.blas ?? ''))?.[1] ?? 'unknown';

interface RowResult {
  trial: string;
  /** Who ran it: 'native', 'js', 'naive JS', 'tfjs-wasm', 'tfjs-cpu', 'PyTorch (...)'. */
  driver: string;
  threads: number;
  /** Samples per timed run. */
  samples: number;
  steps: number;
  /** Seconds per run. */
  stats: Stats;
  samplesPerSecond: Rate;
  gflops: number;
  /** Native rows only: seconds for one step's GEMMs alone. */
  gemm: Stats | null;
  /** Native rows only: samples/s of the second epoch of each run's model. */
  steady: Rate | null;
  load: Load | null;
  /** PyTorch rows: its best thread setting (no malloc tuning) in this run. */
  best?: boolean;
  /** PyTorch rows: its fastest setting of all in this run. */
  fastest?: boolean;
  /** The threads cell when one number does not say it (PyTorch: its own threads and OpenBLAS's). */
  threadsLabel?: string;
  /** The OpenBLAS core name (kernel set) that ran, for native and PyTorch rows. */
  core?: string;
  info?: Record<string, unknown>;
}

/**
 * Marks PyTorch's best thread setting (best) and its fastest setting of all (fastest) among one
 * trial's rows. The issue's targets name the best thread setting; the malloc-tuned settings are a
 * stricter, separate comparison.
 */
function markBest(torchRows: RowResult[]): void {
  const fastest = (rows: RowResult[]): RowResult | undefined =>
    rows.length === 0 ? undefined : rows.reduce((a, b) => (b.samplesPerSecond.median > a.samplesPerSecond.median ? b : a));
  const bestThreads = fastest(torchRows.filter((r) => !r.driver.includes('malloc')));
  if (bestThreads) bestThreads.best = true;
  const bestAny = fastest(torchRows);
  if (bestAny) bestAny.fastest = true;
}

/** One timed run of a driver: seconds, and for native rows the steady epoch's and the GEMMs'. */
type RunSample = { seconds: number; steady?: number; gemm?: number };

/**
 * A driver in a trial's rounds: `run` times one run (a child process serves it, or it runs here),
 * `close` stops its process. Rows are per run: samples, steps and what the driver reported.
 */
interface RoundDriver {
  driver: string;
  /** The table it belongs to: the environment as found, or OPENBLAS_CORETYPE unset in a child. */
  unset: boolean;
  threads: number;
  samples: number;
  steps: number;
  extra: Partial<RowResult>;
  /** The child process that computes, whose CPU time is then not background load. */
  pid?: number;
  /** Runs on more than one thread, whose pools may spin for a moment after it returns. */
  spins: boolean;
  run(): Promise<{ ok: true; sample: RunSample } | { ok: false; reason: string }>;
  close(): Promise<void>;
}

/** Pause after a multi-threaded run, for its idle threads to stop spinning (OpenBLAS's wait about 0.1 s before they sleep). */
const SETTLE_MS = 150;

/** CPU-time counters summed over a driver's runs (for its background-load cell). */
interface LoadSum {
  total: number;
  busy: number;
  steal: number;
  self: number;
  seen: boolean;
}

/** A peer that did not run, and why. */
interface Skip {
  trial: string;
  driver: string;
  reason: string;
}

/** Targets against PyTorch's best setting, per trial: native must be at least this many times faster. */
const TORCH_TARGETS: Record<string, number> = { 'ref-32': 2.5, 'ref-128': 1.5, 'ref-512': 1.5, 'small-32': 3 };
const WASM_TARGET = 25;
const TFJS_CPU_TARGET = 150;
const JS_TFJS_CPU_TARGET = 5;

/** Steps per timed run for the tfjs backends (a whole epoch would take minutes on tfjs-cpu). */
const TFJS_STEPS: Record<string, { wasm: number; cpu: number }> = {
  'ref-32': { wasm: 100, cpu: 30 },
  'ref-128': { wasm: 25, cpu: 8 },
  'ref-512': { wasm: 8, cpu: 3 },
  'small-32': { wasm: 300, cpu: 100 },
};

export const mlpSuite: Suite = {
  name: 'mlp',
  title: 'MLP training throughput: the reference workload',
  summary: 'Fashion-MNIST training set (60,000 images, float32 in [0, 1]), 784-256-128-10 ReLU MLP (and a small 784-32-10), ' +
    'softmax cross-entropy, Adam lr 1e-3, shuffled minibatches, data loading excluded; samples per second, median of the runs ' +
    'with min and max over interleaved rounds, for blasnet (native, first and steady epoch, and js), PyTorch, TensorFlow.js (wasm and cpu) ' +
    'and a naive JS MLP, each peer in its own process kept across the rounds; against the GEMM-only bound.',
  defaults: { warmup: 0, minTime: 0, runs: 3 },

  async run(ctx): Promise<SuiteResult> {
    const trials = selectTrials(ctx.only);
    const touch = ctx.touch ?? true;
    ctx.progress('mlp: loading Fashion-MNIST (not timed)');
    const train = loadFashionMnist({ split: 'train' });
    const x = train.x, labels = train.labels;
    const native = nativeDriver();
    const js = jsDriver();
    const runs = ctx.timing.runs;
    const cores = os.cpus().length;
    const gemmTiming = { warmup: Math.max(ctx.timing.warmup, 0.2), minTime: Math.max(ctx.timing.minTime, 0.3), runs: Math.max(runs, 3) };
    const results: RowResult[] = [];
    const skips: Skip[] = [];
    const naiveLoss: Record<string, number> = {};
    /** The vCPUs' round trip over one cache line (bench/link.ts) at the start of each round, per trial, ns. */
    const links: Record<string, (number | null)[]> = {};
    const settings = torchSettings(cores);
    const coreType = process.env.OPENBLAS_CORETYPE;
    // Rows with OPENBLAS_CORETYPE unset in the child processes (only when it is set here).
    const unset: RowResult[] = [];
    ctx.progress('mlp: FMA peak (bench/c/fma.c)');
    const peak = measurePeak(0.2, Math.max(runs, 5));
    const nativeInfo = native.backend.info();
    const epochSteps = (t: MlpTrial): number => Math.ceil(x.rows / t.batch);
    const timed = (body: () => void): number => {
      const t0 = process.hrtime.bigint();
      body();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };
    const threadsLabel = (info: Record<string, unknown>, threads: number): string | undefined => {
      const blasThreads = /(\d+) threads?\)/.exec(String(info.blas ?? ''))?.[1];
      return blasThreads ? `${threads} + OpenBLAS ${blasThreads}` : undefined;
    };
    /** A driver served by a peer process (ServedPeer): one JSON line per run, `seconds` read from it. */
    const served = (peer: ServedPeer, d: Omit<RoundDriver, 'run' | 'close' | 'pid'>, read: (json: Record<string, unknown>) => RunSample): RoundDriver => ({
      ...d, pid: peer.pid,
      async run() {
        const r = await peer.run();
        return r.ok ? { ok: true, sample: read(r.json) } : r;
      },
      close: () => peer.close(),
    });
    const peerSeconds = (json: Record<string, unknown>): RunSample => ({ seconds: json.seconds as number });

    /** Every driver of trial `t`, its peers started (in parallel: start-up, data load and warmup are not timed). */
    const startDrivers = async (t: MlpTrial): Promise<RoundDriver[]> => {
      const rows = t.steps * t.batch;
      const wanted: { name: string; unset: boolean; start: () => Promise<RoundDriver | { reason: string }> }[] = [];
      const torch = (setting: TorchSetting, isUnset: boolean) => async (): Promise<RoundDriver | { reason: string }> => {
        const r = await startTorch(setting, t.sizes, t.batch, isUnset ? withoutCoreType() : process.env, touch);
        if (!r.ok) return r;
        const threads = r.info.threads as number;
        return served(r.peer, {
          driver: `PyTorch (${setting.label})`, unset: isUnset, threads, samples: r.info.rows as number, steps: r.info.steps as number, spins: true,
          extra: { info: r.info, threadsLabel: threadsLabel(r.info, threads), core: torchCore(r.info) },
        }, peerSeconds);
      };
      for (const setting of settings) wanted.push({ name: `PyTorch (${setting.label})`, unset: false, start: torch(setting, false) });
      /** blasnet native in a child process (bench/mlp-native.js from `script`, default this build's) kept across the rounds. */
      const nativeChild = (driver: string, isUnset: boolean, env: NodeJS.ProcessEnv, script = path.join(ROOT, 'dist', 'bench', 'mlp-native.js')) =>
        async (): Promise<RoundDriver | { reason: string }> => {
          const r = await ServedPeer.start(process.execPath, [path.resolve(script), t.id, JSON.stringify(gemmTiming), ...(touch ? ['--touch'] : [])], env, `mlp-native (${driver})`,
            'npm run build (for an older build: npm run build there, then copy this checkout\'s dist/bench into its dist/)');
          if (!r.ok) return r;
          const info = r.info as unknown as NativeChildInfo;
          return served(r.peer, {
            driver, unset: isUnset, threads: info.threads, samples: x.rows, steps: epochSteps(t), spins: true, extra: { core: info.coreName },
          }, (json) => ({ seconds: json.first as number, steady: json.steady as number, gemm: json.gemm as number }));
        };
      wanted.push({ name: 'native', unset: false, start: nativeChild('native', false, process.env) });
      // The same runs by an older build of the library, for before/after figures within one run.
      if (ctx.before !== undefined) wanted.push({ name: 'native (before)', unset: false, start: nativeChild('native (before)', false, process.env, ctx.before) });
      if (coreType !== undefined) {
        wanted.push({ name: 'native', unset: true, start: nativeChild('native', true, withoutCoreType()) });
        if (ctx.before !== undefined) {
          wanted.push({ name: 'native (before)', unset: true, start: nativeChild('native (before)', true, withoutCoreType(), ctx.before) });
        }
        for (const setting of settings) wanted.push({ name: `PyTorch (${setting.label})`, unset: true, start: torch(setting, true) });
      }
      for (const backend of ['wasm', 'cpu'] as const) {
        wanted.push({
          name: `tfjs-${backend}`, unset: false, start: async () => {
            const r = await startTfjs(backend, t.sizes, t.batch, TFJS_STEPS[t.id][backend]);
            if (!r.ok) return r;
            const steps = r.info.steps as number;
            return served(r.peer, {
              driver: `tfjs-${backend}`, unset: false, threads: r.info.threads as number, samples: steps * t.batch, steps, spins: false, extra: { info: r.info },
            }, peerSeconds);
          },
        });
      }
      const started = await Promise.all(wanted.map((w) => w.start()));
      const peers: RoundDriver[] = [];
      started.forEach((d, k) => {
        if ('run' in d) peers.push(d);
        else skips.push({ trial: t.id, driver: `${wanted[k].name}${wanted[k].unset ? ', OPENBLAS_CORETYPE unset' : ''}`, reason: d.reason });
      });

      // In this process: warmed up here, each run from a freshly built model or net (untimed).
      ctx.progress(`mlp ${t.id}: warming up js and naive JS (not timed)`);
      const jsFit = (n: number) => {
        const model = buildMlp(t.sizes, js.backend);
        const xs = new Matrix(x.data.subarray(0, n * x.cols), n, x.cols);
        const ys = labels.subarray(0, n);
        return () => js.use(() => { model.fit(xs, ys, { epochs: 1, batchSize: t.batch, shuffle: true }); });
      };
      jsFit(5 * t.batch)();
      const naiveTrain = (steps: number) => {
        const net = new NaiveMlp(t.sizes, 1, 1e-3);
        return () => { naiveLoss[t.id] = net.train(x.data, labels, rows, t.batch, steps); };
      };
      naiveTrain(3)();
      /** Times `run` (built, untimed, by the caller) after reading the pages of the rows it trains on. */
      const timedAfterTouch = (run: () => void): RunSample => {
        if (touch) touchPages(x.data.subarray(0, rows * x.cols));
        return { seconds: timed(run) };
      };
      const here = (driver: string, threads: number, samples: number, steps: number, spins: boolean, extra: Partial<RowResult>,
        run: () => RunSample): RoundDriver => ({
        driver, unset: false, threads, samples, steps, spins, extra,
        run: async () => ({ ok: true, sample: run() }),
        close: async () => undefined,
      });
      return [
        ...peers,
        here('js', js.threads, rows, t.steps, false, {}, () => timedAfterTouch(jsFit(rows))),
        here('naive JS', 1, rows, t.steps, false, {}, () => timedAfterTouch(naiveTrain(t.steps))),
      ];
    };

    for (const t of trials) {
      const fpS = flopsPerSample(t.sizes);
      ctx.progress(`mlp ${t.id}: starting the peers (start-up, data load and warmup not timed)`);
      const drivers = await startDrivers(t);
      const samples = drivers.map(() => [] as RunSample[]);
      const loads: LoadSum[] = drivers.map(() => ({ total: 0, busy: 0, steal: 0, self: 0, seen: true }));
      const failed = drivers.map(() => false);
      for (let round = 0; round < runs; round++) {
        ctx.progress(`mlp ${t.id} round ${round + 1}/${runs}: ${drivers.length} drivers`);
        (links[t.id] ??= []).push(measureLink());
        for (const k of roundOrder(drivers.length, round)) {
          const d = drivers[k];
          if (failed[k]) continue;
          const pids = d.pid === undefined ? [] : [d.pid];
          const before = cpuSnapshot(pids);
          const r = await d.run();
          const after = cpuSnapshot(pids);
          if (!r.ok) {
            failed[k] = true;
            skips.push({ trial: t.id, driver: `${d.driver}${d.unset ? ', OPENBLAS_CORETYPE unset' : ''}`, reason: `${r.reason} (in round ${round + 1})` });
            continue;
          }
          samples[k].push(r.sample);
          const l = loads[k];
          if (before && after) {
            l.total += after.total - before.total;
            l.busy += after.busy - before.busy;
            l.steal += after.steal - before.steal;
            l.self += after.self - before.self;
          } else {
            l.seen = false;
          }
          if (d.spins) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        }
      }
      await Promise.all(drivers.map((d) => d.close()));

      const torchRows: RowResult[] = [];
      const unsetTorch: RowResult[] = [];
      drivers.forEach((d, k) => {
        if (failed[k]) return;
        const got = samples[k];
        const stats = statsOf(got.map((g) => g.seconds));
        const sps = rate(stats, d.samples);
        const l = loads[k];
        const load = l.seen ? loadBetween({ total: 0, busy: 0, steal: 0, self: 0 }, l) : null;
        const row: RowResult = {
          trial: t.id, driver: d.driver, threads: d.threads, samples: d.samples, steps: d.steps, stats, samplesPerSecond: sps,
          gflops: (sps.median * fpS) / 1e9, gemm: d.driver.startsWith('native') ? statsOf(got.map((g) => g.gemm as number)) : null,
          steady: d.driver.startsWith('native') ? rate(statsOf(got.map((g) => g.steady as number)), d.samples) : null, load, ...d.extra,
        };
        (d.unset ? unset : results).push(row);
        if (d.driver.startsWith('PyTorch')) (d.unset ? unsetTorch : torchRows).push(row);
      });
      markBest(torchRows);
      markBest(unsetTorch);
    }

    const find = (trial: string, driver: string, rows = results): RowResult | undefined => rows.find((r) => r.trial === trial && r.driver === driver);
    // The issue's targets are set under OpenBLAS's own kernel choice: the second table's rows when
    // OPENBLAS_CORETYPE is set here (and those ran), else the first table's.
    const targetRows = coreType !== undefined && unset.some((r) => r.driver === 'native') ? unset : results;
    const torchBest = (trial: string): RowResult | undefined => targetRows.find((r) => r.trial === trial && r.best);
    const torchFastest = (trial: string): RowResult | undefined => targetRows.find((r) => r.trial === trial && r.fastest);
    const nativeOf = (trial: string, rows = results) => find(trial, 'native', rows) as RowResult;
    const sgemmRate = (trial: string, rows = results): number => {
      const t = TRIALS.find((x2) => x2.id === trial) as MlpTrial;
      return (t.batch * flopsPerSample(t.sizes)) / ((nativeOf(trial, rows).gemm as Stats).median * 1e9);
    };
    const peakGflops = peak.best?.gflops.median ?? null;
    const ofPeak = (gflops: number): string => (peakGflops ? pct(gflops / peakGflops) : 'n/a');
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const torchInfo = results.find((r) => r.driver.startsWith('PyTorch'))?.info;
    const tfjsInfo = results.find((r) => r.driver === 'tfjs-wasm')?.info;
    const describeTimed = (r: RowResult): string =>
      r.samples === x.rows ? `1 epoch (${r.steps} steps)` : `${r.steps} steps (${r.samples} rows)`;

    const table: Table = {
      title: 'Training throughput, samples/s',
      notes: [
        `Machine: ${cpu}, ${cores} cores; OPENBLAS_CORETYPE=${coreType ?? '(unset)'}: OpenBLAS ran its ${nativeInfo.coreName} kernels in blasnet ` +
          `(PyTorch's: the "core" column); blasnet's own kernels ran at instruction-set level ${nativeInfo.kernelIsa} (BLASNET_ISA; the CPU supports ${nativeInfo.kernelIsaSupported}), ` +
          `the dense forward products on ${nativeInfo.packedForward ? 'blasnet\'s packed kernels' : 'OpenBLAS'} (info().packedForward; BLASNET_PACKED_FORWARD). ` +
          `Every row ran in this run, interleaved: per configuration ${runs} round${runs === 1 ? '' : 's'}, in each round every row (of both tables when there are two) one timed run, ` +
          'in an order that changes from round to round (rows of a balanced Latin square, so that no row always runs first, last or after the same one); a pause of ' +
          `${SETTLE_MS} ms after each multi-threaded run. blasnet native and each peer run in a process of their own, started once per configuration and kept across the rounds ` +
          '(start-up, data load and warmup untimed), answering one run per request; js and naive JS run in the suite\'s process, warmed up once per configuration. ' +
          'Every timed run starts from a freshly built model (seed 1); samples/s is median (min–max) over the rounds. ' +
          (touch ? 'Before each timed run, untimed, blasnet native, PyTorch, js and naive JS read one value of every 4 KB page of the rows they train on (tfjs keeps its data in its own tensors and does not): between its runs a driver idles ' +
            'while the others run, and on this VM a first epoch after a minute\'s idle ran 10-30% slower until those pages had been read again (bench/RESULTS.md, run T).'
          : 'The drivers do not read their data set between runs (--no-touch).'),
        'native = blasnet on the addon (bench/mlp-native.ts): model.fit of two epochs over the 60,000 rows, no metrics or validation, one callback taking the time at each epoch end; ' +
          '"samples/s" is the first epoch (from the fit call, so fit\'s NaN scan of the inputs and its set-up are in it), ' +
          '"steady epoch" the second epoch of the same model (the rate of a long job\'s later epochs; bench/RESULTS.md "The subnormal flush" says why they differ). ' +
          (ctx.before !== undefined ? `native (before) = the same runs by an older build of the library (${ctx.before}, a child process kept across the rounds, in both tables when there are two); ` : '') +
          'js = blasnet on the TypeScript backend, model.fit over a prefix of steps × batch rows. naive JS = bench/naive-mlp.ts (i-j-k triple loops, Adam), same steps as js.',
        `PyTorch = bench/peers/torch_mlp.py${torchInfo ? ` (torch ${String(torchInfo.version)}, BLAS: ${String(torchInfo.blas ?? 'unknown').replace(/ \(.*\)$/, '')})` : ''}: ` +
          'nn.Sequential of Linear/ReLU, CrossEntropyLoss, Adam(lr=1e-3), one whole epoch per run (X.index_select(0, idx) batches of a randperm); ' +
          `one row per setting (${settings.map((s) => `${s.label}: ${[s.threads === null ? 'no set_num_threads' : `set_num_threads(${s.threads})`,
            ...Object.entries(s.env).map(([k, v]) => `${k}=${v}`)].join(' ')}`).join('; ')}); ` +
          'its best thread setting is marked ★ (the issue\'s targets compare with it); "+ malloc" rows also keep glibc from returning freed blocks to ' +
          'the kernel every step (bench/peers.ts says why), not a thread setting and not PyTorch\'s default; when one of them is faster still it is marked ☆ ' +
          'and a separate, stricter target compares with it.',
        `tfjs = bench/peers/tfjs-mlp.js, TensorFlow.js ${String(tfjsInfo?.version ?? '4.22.0')} (npm ci --prefix bench/peers): fused matMul+bias+ReLU, softmaxCrossEntropy, ` +
          `tf.train.adam(1e-3), optimizer.minimize in tf.tidy, batches gathered from preloaded tensors; a fixed number of steps per run; ` +
          `wasm${tfjsInfo ? ` with SIMD ${tfjsInfo.simd ? 'on' : 'off'}, ${String(tfjsInfo.threads)} thread` : ''}; cpu = the pure-JS backend (tfjs-node does not install offline).`,
        'GFLOP/s counts useful FLOPs: 6 × weights − 2 × first-layer weights per sample (forward, dW, dX except into the input). ' +
          '"SGEMM share" is that rate over the SGEMM rate of the same GEMM shapes measured in this run through blasnet\'s gemm (the table below). ' +
          '"native ÷ this" is blasnet native\'s median samples/s over the row\'s. ' +
          `"of FMA peak" is useful GFLOP/s over the machine's FMA peak measured at the start of this run (${peak.best ? `${num(peak.best.gflops.median)} GFLOP/s, ${peak.best.isa} on ${peak.best.threads} thread(s); the table "FMA peak" below` : `not measured: ${peak.error}`}).`,
        'The two CPUs\' round trip over one cache line at the start of each round (bench/link.ts; on a VM it can move with where the hypervisor runs the vCPUs, ' +
          'and the step\'s speed with it: bench/RESULTS.md, run AD), per configuration: ' +
          `${trials.map((t) => `${t.id} ${(links[t.id] ?? []).map((ns) => (ns === null ? 'n/a' : `${ns.toFixed(0)} (${linkState(ns)})`)).join(', ')}`).join('; ')} ns.`,
      ],
      columns: ['net', 'batch', 'who', 'core', 'threads', 'timed per run', 'samples/s', 'steady epoch, samples/s', 'useful GFLOP/s', 'of FMA peak', 'SGEMM share', 'native ÷ this', 'background'],
      rows: [],
    };
    const order = (d: string): number => (d === 'native' ? 0 : d.startsWith('PyTorch') ? 1 : d === 'tfjs-wasm' ? 2 : d === 'tfjs-cpu' ? 3 : d === 'js' ? 4 : 5);
    for (const t of trials) {
      const rowsOf = results.filter((r) => r.trial === t.id).sort((a, b) => order(a.driver) - order(b.driver));
      const nat = nativeOf(t.id).samplesPerSecond.median;
      for (const r of rowsOf) {
        table.rows.push([netName(t.sizes), String(t.batch), `${r.driver}${r.best ? ' ★' : ''}${r.fastest && !r.best ? ' ☆' : ''}`, r.core ?? '–',
          r.threadsLabel ?? String(r.threads), describeTimed(r),
          rateCell(r.samplesPerSecond), r.steady ? rateCell(r.steady) : '–', num(r.gflops), ofPeak(r.gflops), (r.gflops / sgemmRate(t.id)).toFixed(2),
          r.driver === 'native' ? '1' : `${num(nat / r.samplesPerSecond.median)}×`, r.load ? pct(r.load.others + r.load.steal) : 'n/a']);
      }
    }
    if (skips.length > 0) table.notes.push(`Not run: ${skips.map((s) => `${s.driver} at ${s.trial}: ${s.reason}`).join('; ')}.`);

    // The second table: OPENBLAS_CORETYPE unset in the child processes, ratios within it only.
    const unsetTable: Table | null = coreType === undefined ? null : {
      title: 'Training throughput with OPENBLAS_CORETYPE unset in the child processes (OpenBLAS chooses its kernels from the CPU), samples/s',
      notes: [
        `Rows of blasnet native (bench/mlp-native.ts, the same runs as above in a child process kept across the rounds) and PyTorch at the same settings, ` +
          `interleaved in the same rounds as the rows of the table above, with OPENBLAS_CORETYPE (here ${coreType}) removed from the child's environment. ` +
          'Ratios compare rows of this table only; "core" is the OpenBLAS kernel set each child reports.',
      ],
      columns: ['net', 'batch', 'who', 'core', 'threads', 'samples/s', 'steady epoch, samples/s', 'useful GFLOP/s', 'of FMA peak', 'fraction of GEMM-only bound', 'native ÷ this', 'background'],
      rows: trials.flatMap((t) => {
        const rowsOf = unset.filter((r) => r.trial === t.id);
        const nat = find(t.id, 'native', unset);
        return rowsOf.map((r) => [netName(t.sizes), String(t.batch), `${r.driver}${r.best ? ' ★' : ''}${r.fastest && !r.best ? ' ☆' : ''}`, r.core ?? '–',
          r.threadsLabel ?? String(r.threads), rateCell(r.samplesPerSecond), r.steady ? rateCell(r.steady) : '–', num(r.gflops), ofPeak(r.gflops),
          r.gemm ? (r.samplesPerSecond.median / (t.batch / r.gemm.median)).toFixed(2) : '–',
          nat ? (r === nat ? '1' : `${num(nat.samplesPerSecond.median / r.samplesPerSecond.median)}×`) : 'n/a',
          r.load ? pct(r.load.others + r.load.steal) : 'n/a']);
      }),
    };

    const peakTable: Table = {
      title: 'FMA peak of this machine (single precision)',
      notes: [
        `bench/c/fma.c built with \`${peak.command}\`: 12 independent chains of fused multiply-adds on registers, no memory traffic; every thread runs ` +
          'the same count, a sample is the slowest thread\'s time; GFLOP/s = 2 × lanes × FMAs / s, median (min–max) of the samples. ' +
          'The highest median is the "FMA peak" the tables divide by.' + (peak.error ? ` Not measured: ${peak.error}.` : ''),
      ],
      columns: ['instruction set', 'threads', 'GFLOP/s'],
      rows: peak.rows.map((r) => [r.isa, String(r.threads), rateCell(r.gflops, 1)]),
    };

    // The rows the targets take (those run with OPENBLAS_CORETYPE unset when it is set here).
    const boundUnder = targetRows === unset ? `, OPENBLAS_CORETYPE (${coreType}) unset as in the targets` : '';
    const boundTable: Table = {
      title: `blasnet native against its GEMM-only bound${boundUnder}`,
      notes: [
        'GEMM-only bound: the step\'s GEMMs alone (per layer Z = X Wᵀ and dW = dZᵀ X, dX = dZ W for all but the first layer) through the native backend\'s gemm ' +
          '(Z = X Wᵀ where info().packedForward is on: the weights packed and the packed kernels\' product, as denseForward runs it) at the same ' +
          `batch and threads, on arrays allocated as the library allocates a model's (64-byte aligned where the addon reports addresses), one sample of ≥ ${gemmTiming.minTime} s right after each native run's two epochs (median over the rounds); bound = batch / their time. ` +
          'Their FLOPs over their time is the SGEMM rate for these shapes; since the useful-FLOP count is exactly those GEMMs\' FLOPs, ' +
          'the fraction of the SGEMM rate equals the fraction of the bound. The targets take the first epoch; "steady" is the second epoch of the same runs.',
      ],
      columns: ['net', 'batch', 'threads', 'samples/s', 'GEMM-only bound, samples/s', 'fraction of bound', 'steady epoch, samples/s', 'steady fraction of bound',
        'SGEMM GFLOP/s (these shapes)', 'SGEMM of FMA peak'],
      rows: trials.map((t) => {
        const r = nativeOf(t.id, targetRows);
        const bound = t.batch / (r.gemm as Stats).median;
        return [netName(t.sizes), String(t.batch), String(r.threads), num(r.samplesPerSecond.median), num(bound),
          (r.samplesPerSecond.median / bound).toFixed(2), num((r.steady as Rate).median), ((r.steady as Rate).median / bound).toFixed(2),
          num(sgemmRate(t.id, targetRows)), ofPeak(sgemmRate(t.id, targetRows))];
      }),
    };

    // Both rows ran in every round, one shortly after the other: their ratio per round drifts less than the rows do.
    const roundsOf = (a: RowResult, b: RowResult): string => {
      const r = a.stats.samples.map((s2, i) => (a.samples / s2) / (b.samples / b.stats.samples[i]));
      return r.length > 1 ? `, per round ${num(Math.min(...r))}–${num(Math.max(...r))}×` : '';
    };
    const targets: Target[] = [];
    const under = targetRows === unset ? ' (OPENBLAS_CORETYPE unset)' : '';
    for (const t of trials) {
      const need = TORCH_TARGETS[t.id];
      const best = torchBest(t.id);
      const natRow = nativeOf(t.id, targetRows);
      const nat = natRow.samplesPerSecond.median;
      targets.push({
        name: `native ${netName(t.sizes)} at batch ${t.batch} at least ${need}× PyTorch's best thread setting${under}`,
        met: best ? nat / best.samplesPerSecond.median >= need : null,
        measured: best
          ? `${(nat / best.samplesPerSecond.median).toFixed(2)}× (${num(nat)} vs ${num(best.samplesPerSecond.median)} samples/s, ${best.driver}; medians${roundsOf(natRow, best)})`
          : 'not measured: PyTorch not available (apt-get install python3-torch)',
      });
    }
    const strict = trials.map((t) => ({ t, best: torchFastest(t.id), nat: nativeOf(t.id, targetRows).samplesPerSecond.median }));
    targets.push({
      name: 'stricter, beyond the issue: the same ratios against PyTorch\'s fastest setting including the malloc-tuned ones',
      met: strict.some((x2) => !x2.best) ? null : strict.every((x2) => x2.nat / (x2.best as RowResult).samplesPerSecond.median >= TORCH_TARGETS[x2.t.id]),
      measured: strict.map(({ t, best, nat }) => best
        ? `${netName(t.sizes)} b${t.batch}: ${(nat / best.samplesPerSecond.median).toFixed(2)}× (need ${TORCH_TARGETS[t.id]}×; ${best.driver})`
        : `${netName(t.sizes)} b${t.batch}: not measured`).join('; ') + ' (medians)',
    });
    for (const t of trials) {
      const r = nativeOf(t.id, targetRows);
      const bound = t.batch / (r.gemm as Stats).median;
      const share = r.samplesPerSecond.median / bound;
      targets.push({
        name: `native ${netName(t.sizes)} at batch ${t.batch} at least ${Math.round(BOUND_TARGETS[t.id] * 100)}% of the GEMM-only bound${under}`,
        met: share >= BOUND_TARGETS[t.id],
        measured: `${num(r.samplesPerSecond.median)} samples/s = ${(100 * share).toFixed(1)}% of the bound ${num(bound)} samples/s (medians)`,
      });
    }
    const versus = (who: string, of: string, need: number, name: string): void => {
      const pairs = trials.map((t) => ({ t, a: find(t.id, who), b: find(t.id, of) }));
      const missing = pairs.some((p) => !p.a || !p.b);
      const ratios = pairs.filter((p) => p.a && p.b).map((p) => ({
        t: p.t, r: (p.a as RowResult).samplesPerSecond.median / (p.b as RowResult).samplesPerSecond.median, rounds: roundsOf(p.a as RowResult, p.b as RowResult),
      }));
      targets.push({
        name,
        met: missing ? null : ratios.every((x2) => x2.r >= need),
        measured: (ratios.map(({ t, r, rounds }) => `${netName(t.sizes)} b${t.batch}: ${num(r)}×${rounds ? ` (${rounds.slice(2)})` : ''}`).join('; ') || 'not measured') +
          (missing ? `; ${of} not run in every configuration (${skips.filter((s) => s.driver === of).map((s) => s.reason)[0] ?? 'skipped'})` : '') + ' (medians)',
      });
    };
    versus('native', 'tfjs-wasm', WASM_TARGET, `native at least ${WASM_TARGET}× tfjs-wasm (every configuration)`);
    versus('native', 'tfjs-cpu', TFJS_CPU_TARGET, `native at least ${TFJS_CPU_TARGET}× tfjs-cpu (every configuration)`);
    versus('js', 'naive JS', NAIVE_TARGET, `blasnet js at least ${NAIVE_TARGET}× the naive JS MLP (every configuration)`);
    versus('js', 'tfjs-cpu', JS_TFJS_CPU_TARGET, `blasnet js at least ${JS_TFJS_CPU_TARGET}× tfjs-cpu (every configuration)`);

    return {
      tables: [table, ...(unsetTable ? [unsetTable] : []), boundTable, peakTable],
      targets,
      records: [...results.map((r) => ({ ...r, naiveLastLoss: r.driver === 'naive JS' ? naiveLoss[r.trial] : undefined })),
        ...unset.map((r) => ({ ...r, openblasCoretype: '(unset)' })), { skips }, { peak }, { links }],
    };
  },
};
