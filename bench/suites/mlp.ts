/**
 * The reference training workload: Fashion-MNIST's 60,000 training images (float32 in [0, 1]),
 * a 784-256-128-10 ReLU MLP with softmax cross-entropy and Adam (lr 1e-3), shuffled minibatches,
 * in samples per second at batch 32, 128 and 512, plus a small 784-32-10 net at batch 32.
 * Data loading is excluded; each timed run starts from a freshly built and compiled model.
 *
 * Drivers: blasnet native (model.fit, one whole epoch, no metrics), blasnet js (model.fit over a
 * fixed number of steps: a prefix of the training set sized steps x batch), and a naive JS MLP
 * (bench/naive-mlp.ts: triple-loop products, Adam) over the same number of steps.
 *
 * For native rows, the GEMM-only bound: the GEMMs one training step must do (per layer forward
 * Z = X W^T and dW = dZ^T X, and dX = dZ W for all but the first layer), timed alone through the
 * native backend's gemm at the same batch size and thread count.
 */
import * as os from 'os';
import { loadFashionMnist, Matrix, Rng, Sequential, dense } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver } from '../drivers';
import { cpuSnapshot, Load, loadBetween, measure, median, Rate, rate, Stats } from '../harness';
import { NaiveMlp } from '../naive-mlp';
import { num, pct, rateCell, Suite, SuiteResult, Table, Target } from '../report';

/** Native must reach this share of the GEMM-only bound at batch 512. */
const BOUND_TARGET = 0.85;
/** The js backend must be at least this many times faster than the naive MLP. */
const NAIVE_TARGET = 2;

interface MlpTrial {
  id: string;
  sizes: number[];
  batch: number;
  /** Steps the js backend and the naive MLP time (native always runs a whole epoch). */
  steps: number;
}

const TRIALS: readonly MlpTrial[] = [
  { id: 'ref-32', sizes: [784, 256, 128, 10], batch: 32, steps: 200 },
  { id: 'ref-128', sizes: [784, 256, 128, 10], batch: 128, steps: 50 },
  { id: 'ref-512', sizes: [784, 256, 128, 10], batch: 512, steps: 16 },
  { id: 'small-32', sizes: [784, 32, 10], batch: 32, steps: 200 },
];

const netName = (s: readonly number[]): string => s.join('-');

/** Weights (no biases) of a net. */
function weights(sizes: readonly number[]): number {
  let w = 0;
  for (let l = 0; l + 1 < sizes.length; l++) w += sizes[l] * sizes[l + 1];
  return w;
}

/** Useful FLOPs per sample: 2W forward, 2W for dW, 2W for dX except into the input. */
function flopsPerSample(sizes: readonly number[]): number {
  return 6 * weights(sizes) - 2 * sizes[0] * sizes[1];
}

interface Gemm {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

/** The GEMMs of one training step at batch `n`, on random data. */
function stepGemms(sizes: readonly number[], n: number): Gemm[] {
  const rng = new Rng(3);
  const g: Gemm[] = [];
  const mk = (transA: boolean, transB: boolean, m: number, nn: number, k: number): Gemm =>
    ({ transA, transB, m, n: nn, k, a: rng.uniformArray(m * k, -1, 1), b: rng.uniformArray(k * nn, -1, 1), c: new Float32Array(m * nn) });
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fi = sizes[l], fo = sizes[l + 1];
    g.push(mk(false, true, n, fo, fi)); // Z [n, fo] = X [n, fi] W^T
    g.push(mk(true, false, fo, fi, n)); // dW [fo, fi] = dZ^T X
    if (l > 0) g.push(mk(false, false, n, fi, fo)); // dX [n, fi] = dZ [n, fo] W [fo, fi]
  }
  return g;
}

/** Stats over `runs` timed calls of a body built fresh (untimed) for each run, after one untimed warmup. */
function timeRuns(make: (warmup: boolean) => () => void, runs: number): Stats {
  make(true)();
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const body = make(false);
    const t0 = process.hrtime.bigint();
    body();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), reps: 1, samples };
}

interface RowResult {
  trial: string;
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
  load: Load | null;
}

export const mlpSuite: Suite = {
  name: 'mlp',
  title: 'MLP training throughput: the reference workload',
  summary: 'Fashion-MNIST training set (60,000 images, float32 in [0, 1]), 784-256-128-10 ReLU MLP (and a small 784-32-10), ' +
    'softmax cross-entropy, Adam lr 1e-3, shuffled minibatches, data loading excluded; samples per second, median of the runs ' +
    'with min and max, against the GEMM-only bound and a naive JS MLP.',
  defaults: { warmup: 0, minTime: 0, runs: 3 },

  run(ctx): SuiteResult {
    ctx.progress('mlp: loading Fashion-MNIST (not timed)');
    const train = loadFashionMnist({ split: 'train' });
    const x = train.x, labels = train.labels;
    const native = nativeDriver();
    const js = jsDriver();
    const runs = ctx.timing.runs;
    const gemmTiming = { warmup: Math.max(ctx.timing.warmup, 0.2), minTime: Math.max(ctx.timing.minTime, 0.3), runs: Math.max(runs, 3) };
    const results: RowResult[] = [];
    const naiveLoss: Record<string, number> = {};

    const fitBody = (d: BackendDriver, t: MlpTrial, rows: number) => () => {
      const model = new Sequential({
        inputSize: t.sizes[0], seed: 1, backend: d.backend,
        layers: [...t.sizes.slice(1, -1).map((s) => dense(s, { activation: 'relu' })), dense(t.sizes[t.sizes.length - 1])],
      });
      model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
      const xs = new Matrix(x.data.subarray(0, rows * x.cols), rows, x.cols);
      const ys = labels.subarray(0, rows);
      return () => { model.fit(xs, ys, { epochs: 1, batchSize: t.batch, shuffle: true }); };
    };

    for (const t of TRIALS) {
      const fpS = flopsPerSample(t.sizes);
      const push = (driver: string, threads: number, rowsPerRun: number, steps: number, stats: Stats, gemm: Stats | null, load: Load | null) => {
        const sps = rate(stats, rowsPerRun);
        results.push({ trial: t.id, driver, threads, samples: rowsPerRun, steps, stats, samplesPerSecond: sps, gflops: (sps.median * fpS) / 1e9, gemm, load });
      };

      // native: whole epochs.
      ctx.progress(`mlp ${t.id} native (${native.threads} thr): ${runs} epochs`);
      let before = cpuSnapshot();
      const nat = native.use(() => {
        const stats = timeRuns((warm) => fitBody(native, t, warm ? Math.min(x.rows, 20 * t.batch) : x.rows)(), runs);
        const gemms = stepGemms(t.sizes, t.batch);
        const gemm = measure((reps) => {
          for (let r = 0; r < reps; r++) {
            for (const g of gemms) native.backend.gemm(g.transA, g.transB, g.m, g.n, g.k, 1, g.a, g.b, 0, g.c);
          }
        }, gemmTiming);
        return { stats, gemm };
      });
      push('native', native.threads, x.rows, Math.ceil(x.rows / t.batch), nat.stats, nat.gemm, loadBetween(before, cpuSnapshot()));

      // js: a fixed number of steps through model.fit.
      const rows = t.steps * t.batch;
      ctx.progress(`mlp ${t.id} js: ${runs} runs of ${t.steps} steps`);
      before = cpuSnapshot();
      const jsStats = js.use(() => timeRuns((warm) => fitBody(js, t, warm ? 5 * t.batch : rows)(), runs));
      push('js', js.threads, rows, t.steps, jsStats, null, loadBetween(before, cpuSnapshot()));

      // naive: the same number of steps.
      ctx.progress(`mlp ${t.id} naive: ${runs} runs of ${t.steps} steps`);
      before = cpuSnapshot();
      const naiveStats = timeRuns((warm) => {
        const net = new NaiveMlp(t.sizes, 1, 1e-3);
        const steps = warm ? 3 : t.steps;
        return () => { naiveLoss[t.id] = net.train(x.data, labels, rows, t.batch, steps); };
      }, runs);
      push('naive JS', 1, rows, t.steps, naiveStats, null, loadBetween(before, cpuSnapshot()));
    }

    const find = (trial: string, driver: string) => results.find((r) => r.trial === trial && r.driver === driver) as RowResult;
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const table: Table = {
      title: 'Training throughput, samples/s',
      notes: [
        `Machine: ${cpu}, ${os.cpus().length} cores; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}. ` +
          `Each run: a fresh model (seed 1), then one timed call; ${runs} runs after one shorter untimed warmup; samples/s is median (min–max).`,
        'native = blasnet on the addon (model.fit, one whole epoch of 60,000 rows, no metrics, validation or callbacks). ' +
          'js = blasnet on the TypeScript backend, model.fit over a prefix of steps × batch rows (a fixed number of steps, not an epoch, to keep the run short). ' +
          'naive JS = bench/naive-mlp.ts: i-j-k triple-loop products on Float32Arrays, Adam (bias-corrected, PyTorch defaults), same steps as js.',
        'GFLOP/s counts useful FLOPs: 6 × weights − 2 × first-layer weights per sample (forward, dW, dX except into the input; biases, activations, loss and Adam not counted).',
        'GEMM-only bound: the step\'s GEMMs alone (per layer Z = X Wᵀ and dW = dZᵀ X, dX = dZ W for all but the first layer) through the native backend\'s gemm at the same ' +
          `batch and threads (median of ${gemmTiming.runs} samples of ≥ ${gemmTiming.minTime} s); bound = batch / their time. ` +
          'SGEMM GFLOP/s is those GEMMs\' FLOPs over their time. Because the useful-FLOP count is exactly those GEMMs\' FLOPs, the fraction of the SGEMM rate equals the fraction of the bound.',
      ],
      columns: ['net', 'batch', 'backend', 'threads', 'timed', 'samples/s', 'useful GFLOP/s', 'GEMM-only bound, samples/s',
        'fraction of bound', 'SGEMM GFLOP/s (these shapes)', 'fraction of SGEMM rate', 'background'],
      rows: results.map((r) => {
        const t = TRIALS.find((x2) => x2.id === r.trial) as MlpTrial;
        const bg = r.load ? pct(r.load.others + r.load.steal) : 'n/a';
        const timed = r.driver === 'native' ? `1 epoch (${r.steps} steps)` : `${r.steps} steps (${r.samples} rows)`;
        const base = [netName(t.sizes), String(t.batch), r.driver, String(r.threads), timed, rateCell(r.samplesPerSecond), num(r.gflops)];
        if (!r.gemm) return [...base, '–', '–', '–', '–', bg];
        const bound = t.batch / r.gemm.median;
        const sgemm = (bound * flopsPerSample(t.sizes)) / 1e9;
        return [...base, num(bound), (r.samplesPerSecond.median / bound).toFixed(2), num(sgemm), (r.gflops / sgemm).toFixed(2), bg];
      }),
    };

    const targets: Target[] = [];
    const big = find('ref-512', 'native');
    const bound = 512 / (big.gemm as Stats).median;
    const share = big.samplesPerSecond.median / bound;
    targets.push({
      name: `native 784-256-128-10 at batch 512 at least ${Math.round(BOUND_TARGET * 100)}% of the GEMM-only bound`,
      met: share >= BOUND_TARGET,
      measured: `${num(big.samplesPerSecond.median)} samples/s = ${(100 * share).toFixed(1)}% of the bound ${num(bound)} samples/s (medians); need ≥ ${Math.round(BOUND_TARGET * 100)}%`,
    });
    const ratios = TRIALS.map((t) => ({ t, r: find(t.id, 'js').samplesPerSecond.median / find(t.id, 'naive JS').samplesPerSecond.median }));
    targets.push({
      name: `blasnet js at least ${NAIVE_TARGET}× the naive JS MLP (every configuration)`,
      met: ratios.every((x2) => x2.r >= NAIVE_TARGET),
      measured: ratios.map(({ t, r }) => `${netName(t.sizes)} b${t.batch}: ${r.toFixed(2)}× (${num(find(t.id, 'js').samplesPerSecond.median)} vs ` +
        `${num(find(t.id, 'naive JS').samplesPerSecond.median)} samples/s)`).join('; ') + `; need ≥ ${NAIVE_TARGET}× (medians)`,
    });

    return {
      tables: [table],
      targets,
      records: results.map((r) => ({ ...r, naiveLastLoss: r.driver === 'naive JS' ? naiveLoss[r.trial] : undefined })),
    };
  },
};
