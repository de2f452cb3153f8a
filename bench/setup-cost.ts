/**
 * What a process pays before its training steps run at full speed: building and compiling models
 * (their arenas are fresh memory, mapped page by page at their first write) and the first
 * training step (the pool's workers start, OpenBLAS maps its packing buffers, the workspaces are
 * written for the first time). Each sample is a fresh process that loads the native backend,
 * waits `--idle` ms (as a process loading its data would: the addon's warm-up runs meanwhile),
 * then times its first dense forward pass (the reference MLP's first layer at batch 128, a call
 * straight to the backend) and a second one, then builds and compiles `--models` copies of the reference MLP (784-256-128-10 ReLU, softmax,
 * cross-entropy, Adam) and gives each a one-step fit on one batch of 128 rows, then each a second
 * one-step fit on other rows (retraining a model on fresh data).
 *
 * Setups alternate process by process, so the machine's drift falls on all alike: this build,
 * this build with BLASNET_PREFAULT=0 (fresh buffers are not mapped ahead in one system call),
 * with BLASNET_WARM_UP=0 (no warm-up thread when the addon loads), and with --before PATH another
 * build's dist/lib.
 *
 *   node dist/bench/setup-cost.js [--samples 7] [--models 20] [--idle 200] [--before OLD/dist/lib] [--json]
 */
import * as os from 'os';
import * as path from 'path';
import { arg, freshProcessSample, median } from './harness';

interface Sample {
  /** The process's first denseForward (128 x 784 -> 256, ReLU) and the second, on other arrays, ms. */
  firstForwardMs: number;
  secondForwardMs: number;
  /** Build and compile, ms per model (mean over the models). */
  buildMs: number;
  /** The first model's one-step fit: the process's first training step, ms. */
  firstFitMs: number;
  /** The other models' one-step fits, ms each (mean). */
  laterFitMs: number;
  /** Every model's second one-step fit, on other rows, ms each (mean). */
  refitMs: number;
  threads: number;
  core: string;
}

function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  const backend = b.getBackend('native');
  const models = Number(arg('models', '20'));
  // Busy-wait rather than sleep: the process stays as it would be while parsing its data.
  const idle = Number(arg('idle', '200'));
  const until = performance.now() + idle;
  while (performance.now() < until) { /* the addon's warm-up runs meanwhile */ }
  // The process's first kernel call that wants both threads and OpenBLAS: the reference MLP's
  // first layer at batch 128, then the same on arrays of its own.
  const forward = () => {
    const x = new Float32Array(128 * 784).fill(0.5), w = new Float32Array(256 * 784).fill(0.01);
    const bias = new Float32Array(256), z = new Float32Array(128 * 256), y = new Float32Array(128 * 256);
    const t = performance.now();
    backend.denseForward(b.activationId('relu'), 0, 128, 784, 256, x, w, bias, z, y);
    return performance.now() - t;
  };
  const firstForwardMs = forward(), secondForwardMs = forward();
  const t0 = performance.now();
  const built = [];
  for (let i = 0; i < models; i++) {
    built.push(new b.Sequential({
      inputSize: 784, seed: i + 1,
      layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10, { activation: 'softmax' })],
    }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } }));
  }
  const buildMs = (performance.now() - t0) / models;
  const x = new Float32Array(128 * 784);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 255) / 255;
  const y = Int32Array.from({ length: 128 }, (_, i) => i % 10);
  const fits = built.map((m) => {
    const t = performance.now();
    m.fit(x, y, { epochs: 1, batchSize: 128, shuffle: false });
    return performance.now() - t;
  });
  const later = fits.slice(1);
  const x2 = x.map((v) => 1 - v);
  const refits = built.map((m) => {
    const t = performance.now();
    m.fit(x2, y, { epochs: 1, batchSize: 128, shuffle: false });
    return performance.now() - t;
  });
  const out: Sample = {
    firstForwardMs, secondForwardMs, buildMs, firstFitMs: fits[0], laterFitMs: later.reduce((s, v) => s + v, 0) / Math.max(later.length, 1),
    refitMs: refits.reduce((s, v) => s + v, 0) / refits.length,
    threads: backend.getNumThreads(), core: backend.info().coreName,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

interface Setup {
  label: string;
  lib: string;
  env: Record<string, string>;
}

function main(): void {
  const samples = Number(arg('samples', '7'));
  const before = arg('before', '');
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  const rest = ['--models', arg('models', '20'), '--idle', arg('idle', '200')];
  const setups: Setup[] = [
    ...(before ? [{ label: `before (${path.resolve(before)})`, lib: path.resolve(before), env: {} }] : []),
    { label: 'this build, BLASNET_PREFAULT=0', lib, env: { BLASNET_PREFAULT: '0' } },
    { label: 'this build, BLASNET_WARM_UP=0', lib, env: { BLASNET_WARM_UP: '0' } },
    { label: 'this build', lib, env: {} },
  ];
  const rows = setups.map(() => [] as Sample[]);
  for (let s = 0; s < samples; s++) setups.forEach((setup, i) => rows[i].push(freshProcessSample<Sample>(__filename, ['--lib', setup.lib, ...rest], setup.label, setup.env)));
  const stat = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  const summary = setups.map((setup, i) => ({
    label: setup.label,
    firstForwardMs: stat(rows[i].map((r) => r.firstForwardMs)),
    secondForwardMs: stat(rows[i].map((r) => r.secondForwardMs)),
    buildMs: stat(rows[i].map((r) => r.buildMs)),
    firstFitMs: stat(rows[i].map((r) => r.firstFitMs)),
    laterFitMs: stat(rows[i].map((r) => r.laterFitMs)),
    refitMs: stat(rows[i].map((r) => r.refitMs)),
  }));
  const first = rows[rows.length - 1][0];
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.version}; ` +
    `native backend, ${first.threads} threads, OpenBLAS core ${first.core}`;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ machine, samples, summary, rows })}\n`);
    return;
  }
  process.stdout.write(`set-up costs in fresh processes, ${samples} per setup, alternating; ${machine}\n`);
  process.stdout.write(`${rest.join(' ')}; ms: median (min-max) over the processes\n`);
  process.stdout.write('| setup | first denseForward, ms | second, ms | build + compile, ms per model | first one-step fit (the process\'s first step), ms | later one-step fits, ms each | second one-step fit of a model, ms each |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- |\n');
  const f = (m: { median: number; min: number; max: number }) => `${m.median.toFixed(2)} (${m.min.toFixed(2)}-${m.max.toFixed(2)})`;
  for (const s of summary) process.stdout.write(`| ${s.label} | ${f(s.firstForwardMs)} | ${f(s.secondForwardMs)} | ${f(s.buildMs)} | ${f(s.firstFitMs)} | ${f(s.laterFitMs)} | ${f(s.refitMs)} |\n`);
}

if (process.argv.includes('--child')) child();
else main();
