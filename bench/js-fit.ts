/**
 * The js backend's training speed on run A's four configurations (784-256-128-10 at batch 32, 128
 * and 512 over 200, 50 and 16 steps; 784-32-10 at batch 32 over 200 steps), the way the mlp suite
 * times it: model.fit over a prefix of steps x batch rows of Fashion-MNIST, a freshly built model
 * per run. Beside it, in the same rounds, the naive JS MLP (bench/naive-mlp.ts) and, with
 * --before, the same fit from another build's dist/ directory (an older checkout), the order
 * rotating every round.
 *
 * V8 compiles the GEMM's loops differently from one process to the next (which functions it
 * inlines, and when a deoptimised function is compiled again), so one process says little about
 * the next: --processes runs the whole comparison in that many fresh processes, one after the
 * other, and prints each one's medians. samples/s are medians over --rounds rounds; ratios are
 * per round (this build over the other, over the naive MLP), median and range.
 *
 *   node dist/bench/js-fit.js [--before /path/to/old/dist] [--processes 4] [--rounds 7] [--trials ref-32,small-32] [--json]
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { arg, median } from './harness';
import { NaiveMlp } from './naive-mlp';

interface Trial {
  id: string;
  sizes: number[];
  batch: number;
  steps: number;
}

/** Run A's configurations, with the mlp suite's step counts for the js and naive rows. */
const TRIALS: readonly Trial[] = [
  { id: 'ref-32', sizes: [784, 256, 128, 10], batch: 32, steps: 200 },
  { id: 'ref-128', sizes: [784, 256, 128, 10], batch: 128, steps: 50 },
  { id: 'ref-512', sizes: [784, 256, 128, 10], batch: 512, steps: 16 },
  { id: 'small-32', sizes: [784, 32, 10], batch: 32, steps: 200 },
];

interface Spread { median: number; min: number; max: number }

interface TrialResult {
  trial: string;
  /** Median samples/s of each driver: 'js', 'js before' (with --before), 'naive JS'. */
  samplesPerSecond: Record<string, number>;
  /** Per round: js over naive JS, and js over js before. */
  overNaive: Spread;
  overBefore: Spread | null;
}

const spread = (xs: number[]): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** What a dist/ directory offers for a js-backend fit: the library and the suite's model builder. */
interface Build {
  lib: typeof import('../lib');
  buildMlp: typeof import('./suites/mlp').buildMlp;
}

function loadBuild(dist: string): Build {
  return { lib: require(path.join(dist, 'lib')), buildMlp: require(path.join(dist, 'bench', 'suites', 'mlp')).buildMlp };
}

/** One process's comparison: every trial, `rounds` rounds each. */
function runHere(beforeDist: string | null, rounds: number, trials: readonly Trial[]): TrialResult[] {
  const here = loadBuild(path.join(__dirname, '..'));
  const before = beforeDist ? loadBuild(path.resolve(beforeDist)) : null;
  const train = here.lib.loadFashionMnist({ split: 'train' });
  const x = train.x, labels = train.labels;
  const out: TrialResult[] = [];
  for (const t of trials) {
    const rows = t.steps * t.batch;
    /** A fit over `n` rows on `b`'s js backend, the model built now (untimed). */
    const fitOn = (b: Build, n: number) => {
      const model = b.buildMlp(t.sizes, b.lib.jsBackend);
      const xs = new b.lib.Matrix(x.data.subarray(0, n * x.cols), n, x.cols);
      const ys = labels.subarray(0, n);
      return () => { model.fit(xs, ys, { epochs: 1, batchSize: t.batch, shuffle: true }); };
    };
    const naive = (steps: number) => {
      const net = new NaiveMlp(t.sizes, 1, 1e-3);
      return () => { net.train(x.data, labels, rows, t.batch, steps); };
    };
    const drivers: [string, () => () => void][] = [['js', () => fitOn(here, rows)], ['naive JS', () => naive(t.steps)]];
    if (before) drivers.push(['js before', () => fitOn(before, rows)]);
    // Warm-up as the mlp suite's: five steps of each fit, three of the naive MLP.
    fitOn(here, 5 * t.batch)();
    if (before) fitOn(before, 5 * t.batch)();
    naive(3)();
    const rates: Record<string, number[]> = Object.fromEntries(drivers.map(([k]) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      const order = drivers.map((_, i) => drivers[(i + r) % drivers.length]);
      for (const [k, make] of order) {
        const run = make();
        const t0 = process.hrtime.bigint();
        run();
        rates[k].push(rows / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
    }
    const ratio = (a: string, b: string) => rates[a].map((v, i) => v / rates[b][i]);
    out.push({
      trial: t.id,
      samplesPerSecond: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])),
      overNaive: spread(ratio('js', 'naive JS')),
      overBefore: before ? spread(ratio('js', 'js before')) : null,
    });
  }
  return out;
}

const f2 = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;

function main(): void {
  const before = arg('before', '') || null;
  const rounds = Number(arg('rounds', '7'));
  const processes = Number(arg('processes', '1'));
  const wanted = arg('trials', TRIALS.map((t) => t.id).join(',')).split(',');
  const trials = TRIALS.filter((t) => wanted.includes(t.id));
  if (trials.length === 0) throw new Error(`js-fit: no trial among ${wanted.join(', ')}; known: ${TRIALS.map((t) => t.id).join(', ')}`);
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(runHere(before, rounds, trials)));
    return;
  }
  const perProcess: TrialResult[][] = [];
  for (let p = 0; p < processes; p++) {
    const args = [__filename, '--child', '--rounds', String(rounds), '--trials', trials.map((t) => t.id).join(',')];
    if (before) args.push('--before', before);
    perProcess.push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 })));
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ rounds, processes, before, perProcess }, null, 2));
    return;
  }
  console.log(`js backend fit (this build${before ? ` against ${before}` : ''}) and the naive JS MLP: ${processes} process(es), ${rounds} rounds each, order rotating`);
  console.log(`| process | trial | js, samples/s |${before ? ' js before, samples/s | js / js before |' : ''} naive JS, samples/s | js / naive JS |`);
  console.log(`|---|---|---:|${before ? '---:|---:|' : ''}---:|---:|`);
  perProcess.forEach((results, p) => {
    for (const r of results) {
      const s = r.samplesPerSecond;
      const cells = [String(p + 1), r.trial, s.js.toFixed(0)];
      if (r.overBefore) cells.push(s['js before'].toFixed(0), f2(r.overBefore));
      cells.push(s['naive JS'].toFixed(0), f2(r.overNaive));
      console.log(`| ${cells.join(' | ')} |`);
    }
  });
}

main();
