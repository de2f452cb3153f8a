/**
 * The js backend's margins, apart from the rest of the mlp suite: run A's four training
 * configurations (784-256-128-10 at batch 32, 128 and 512; 784-32-10 at batch 32) on blasnet's
 * TypeScript backend, the naive JS MLP (bench/naive-mlp.ts) and TensorFlow.js's cpu and wasm
 * backends, interleaved round by round so that all four see the machine in the same state, with
 * the same rows, step counts and peers as the mlp suite's rows. Also the js GEMM's rate on the
 * training step's shapes and the scalar and 128-bit SIMD peaks of this CPU at its clock, the
 * figures a WebAssembly SIMD build's expected speed is estimated from (bench/RESULTS.md).
 */
import * as fs from 'fs';
import { loadFashionMnist, Matrix } from '../../lib';
import { jsDriver } from '../drivers';
import { median, Stats, statsOf } from '../harness';
import { NaiveMlp } from '../naive-mlp';
import { runTfjs } from '../peers';
import { num, rateCell, Suite, SuiteResult, Target } from '../report';
import { buildMlp, flopsPerSample, timeStepGemms } from './mlp';

interface Trial {
  id: string;
  sizes: number[];
  batch: number;
  /** js and naive steps per run (run A's). */
  steps: number;
  /** tfjs steps per run (run A's). */
  wasm: number;
  cpu: number;
}

const TRIALS: readonly Trial[] = [
  { id: 'ref-32', sizes: [784, 256, 128, 10], batch: 32, steps: 200, wasm: 100, cpu: 30 },
  { id: 'ref-128', sizes: [784, 256, 128, 10], batch: 128, steps: 50, wasm: 25, cpu: 8 },
  { id: 'ref-512', sizes: [784, 256, 128, 10], batch: 512, steps: 16, wasm: 8, cpu: 3 },
  { id: 'small-32', sizes: [784, 32, 10], batch: 32, steps: 200, wasm: 300, cpu: 100 },
];

const NAIVE_TARGET = 2;
const TFJS_CPU_TARGET = 5;
const WHO = ['js', 'naive JS', 'tfjs-cpu', 'tfjs-wasm'] as const;

/** The CPU clock in GHz from /proc/cpuinfo (the first core's current figure), or null. */
function clockGHz(): number | null {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Number(m[1]) / 1000 : null;
  } catch {
    return null;
  }
}

export const jsSuite: Suite = {
  name: 'js',
  title: 'The js backend against the naive JS MLP and TensorFlow.js',
  summary: 'Run A\'s training configurations (Fashion-MNIST rows, Adam lr 1e-3, shuffled minibatches) on blasnet\'s js backend, the naive JS MLP ' +
    'and TensorFlow.js (cpu and wasm, each in its own process), one round of each after another so that every round sees the machine alike; ' +
    'samples/s, median (min–max) over the rounds. Then the js GEMM on the training step\'s shapes against this CPU\'s scalar and 128-bit SIMD peaks.',
  defaults: { warmup: 0, minTime: 0, runs: 3 },

  run(ctx): SuiteResult {
    ctx.progress('js: loading Fashion-MNIST (not timed)');
    const train = loadFashionMnist({ split: 'train' });
    const x = train.x, labels = train.labels;
    const js = jsDriver();
    const rounds = ctx.timing.runs;
    const perTrial = new Map<string, Map<string, number[]>>();
    const skipped: string[] = [];
    for (const t of TRIALS) perTrial.set(t.id, new Map(WHO.map((w) => [w, [] as number[]])));
    const timeOnce = (body: () => void): number => {
      const t0 = process.hrtime.bigint();
      body();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };

    for (let round = 0; round <= rounds; round++) {
      const warm = round === 0;
      for (const t of TRIALS) {
        const rows = t.steps * t.batch;
        const got = perTrial.get(t.id) as Map<string, number[]>;
        ctx.progress(`js ${t.id} round ${round}${warm ? ' (warmup)' : ''}`);
        // js: model.fit over a prefix of steps x batch rows (a fresh model per run, untimed).
        const n = warm ? 5 * t.batch : rows;
        const model = buildMlp(t.sizes, js.backend);
        const xs = new Matrix(x.data.subarray(0, n * x.cols), n, x.cols);
        const ys = labels.subarray(0, n);
        const jsSeconds = js.use(() => timeOnce(() => model.fit(xs, ys, { epochs: 1, batchSize: t.batch, shuffle: true })));
        const net = new NaiveMlp(t.sizes, 1, 1e-3);
        const naiveSeconds = timeOnce(() => net.train(x.data, labels, rows, t.batch, warm ? 3 : t.steps));
        if (warm) continue;
        got.get('js')?.push(rows / jsSeconds);
        got.get('naive JS')?.push(rows / naiveSeconds);
        for (const backend of ['cpu', 'wasm'] as const) {
          const steps = backend === 'cpu' ? t.cpu : t.wasm;
          const r = runTfjs(backend, t.sizes, t.batch, steps, 1);
          if (r.ok) got.get(`tfjs-${backend}`)?.push(r.run.rate.median);
          else if (!skipped.includes(`tfjs-${backend}: ${r.reason}`)) skipped.push(`tfjs-${backend}: ${r.reason}`);
        }
      }
    }

    const rateOf = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
    const rows: string[][] = [];
    const targets: Target[] = [];
    const versus = (other: string, need: number, name: string) => {
      const parts: string[] = [];
      let met: boolean | null = true;
      for (const t of TRIALS) {
        const got = perTrial.get(t.id) as Map<string, number[]>;
        const a = got.get('js') as number[], b = got.get(other) as number[];
        if (a.length === 0 || b.length === 0) {
          met = null;
          parts.push(`${t.id}: not measured`);
          continue;
        }
        const ratio = median(a) / median(b);
        if (met !== null && ratio < need) met = false;
        // Per-round ratios: each round's two rows ran back to back.
        const perRound = a.slice(0, b.length).map((v, i) => v / b[i]);
        parts.push(`${t.sizes.join('-')} b${t.batch}: ${num(ratio)}× (rounds ${num(Math.min(...perRound))}–${num(Math.max(...perRound))}×)`);
      }
      targets.push({ name, met, measured: `${parts.join('; ')} (medians)` });
    };
    for (const t of TRIALS) {
      const got = perTrial.get(t.id) as Map<string, number[]>;
      const js0 = got.get('js') as number[];
      for (const w of WHO) {
        const xs = got.get(w) as number[];
        if (xs.length === 0) continue;
        const r = rateOf(xs);
        rows.push([t.sizes.join('-'), String(t.batch), w, rateCell(r), num((r.median * flopsPerSample(t.sizes)) / 1e9),
          w === 'js' ? '1' : `${num(median(js0) / r.median)}×`]);
      }
    }
    versus('naive JS', NAIVE_TARGET, `blasnet js at least ${NAIVE_TARGET}× the naive JS MLP (every configuration)`);
    versus('tfjs-cpu', TFJS_CPU_TARGET, `blasnet js at least ${TFJS_CPU_TARGET}× tfjs-cpu (every configuration)`);

    // The js GEMM alone on each configuration's step shapes, and the peaks it is read against.
    const gemmTiming = { warmup: Math.max(ctx.timing.warmup, 0.2), minTime: Math.max(ctx.timing.minTime, 0.2), runs: Math.max(rounds, 3) };
    const gemmRows: string[][] = [];
    const ghz = clockGHz();
    for (const t of TRIALS) {
      ctx.progress(`js ${t.id}: the step's GEMMs alone`);
      const s: Stats = js.use(() => timeStepGemms(js.backend, t.sizes, t.batch, gemmTiming));
      const flops = t.batch * flopsPerSample(t.sizes);
      const g = statsOf(s.samples.map((v) => flops / v / 1e9));
      gemmRows.push([t.sizes.join('-'), String(t.batch), `${num(g.median)} (${num(g.min)}–${num(g.max)})`,
        ghz ? `${(100 * g.median / (2 * ghz)).toFixed(0)}%` : 'unknown clock']);
    }

    return {
      tables: [{
        title: 'Training throughput, samples/s (median, min–max over the rounds)',
        notes: [
          `${rounds} rounds after an untimed warmup round; in each round every configuration runs js, naive JS, tfjs-cpu and tfjs-wasm once, in that order. ` +
            'js = blasnet\'s TypeScript backend, model.fit over a prefix of steps × batch rows (a fresh model per round, built untimed); naive JS = bench/naive-mlp.ts over ' +
            'the same steps; tfjs = bench/peers/tfjs-mlp.js (npm ci --prefix bench/peers), a fixed number of steps, one run per round. Steps per run as in run A.',
          'useful GFLOP/s as in the mlp suite (6 × weights − 2 × first-layer weights per sample). "js ÷ this" is the js median over the row\'s.',
          ...skipped.map((s) => `Not run: ${s}.`),
        ],
        columns: ['net', 'batch', 'who', 'samples/s', 'useful GFLOP/s', 'js ÷ this'],
        rows,
      }, {
        title: 'The js GEMM on the training step\'s shapes',
        notes: [
          'The GEMMs one training step does (mlp suite stepGemms: Z = X Wᵀ, dW = dZᵀ X, dX = dZ W but into the input) through the js backend\'s gemm, ' +
            'GFLOP/s median (min–max). "of scalar peak": over 2 flops per cycle (one multiply and one add issued per cycle, V8 emitting no FMA) ' +
            `at the clock /proc/cpuinfo reports${ghz ? ` (${ghz.toFixed(2)} GHz)` : ''}. ` +
            (ghz ? `A 128-bit SIMD build (WebAssembly SIMD f32x4) would have 4× that peak: ${num(8 * ghz)} GFLOP/s with separate multiply and add, ` +
              `${num(16 * ghz)} with fused multiply-add (relaxed SIMD), per core.` : ''),
        ],
        columns: ['net', 'batch', 'js GEMM GFLOP/s', 'of scalar peak'],
        rows: gemmRows,
      }],
      targets,
      records: TRIALS.map((t) => ({ trial: t.id, samplesPerSecond: Object.fromEntries(perTrial.get(t.id) as Map<string, number[]>) })),
    };
  },
};
