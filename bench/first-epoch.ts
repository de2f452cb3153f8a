/**
 * What the first epoch costs in a fresh process (issue 14 item 3): the CLI's default job
 * (784-256-128-10 ReLU, softmax output, cross-entropy, Adam lr 1e-3, batch 128, cosine over 15
 * epochs, 10% validation split, seed 1) on Fashion-MNIST. Each sample is a fresh process that
 * loads the data, builds the model, and times a one-epoch fit call from start to return (every
 * check, allocation and first touch included); then the same model trains `steady` + 1 more
 * epochs in one fit and the steady-state epoch is the median time between consecutive epoch
 * ends after the first of those (the loop, validation and epoch-end work, as in the one-epoch
 * call). Reports per sample and the median and range of first / steady - 1 over the samples,
 * in wall time and in process CPU time (all threads; a loaded machine stretches wall time by
 * whatever else runs, CPU time much less).
 *
 *   node dist/bench/first-epoch.js [--samples 7] [--steady 3] [--lib dist/lib] [--json]
 *
 * --lib loads another build of the library (an older checkout's dist/lib) for a before/after
 * comparison with the same script.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { arg, median } from './harness';

interface Sample {
  firstMs: number;
  /** The one-epoch call's own loop time (History.epochs[0].seconds). */
  firstLoopMs: number;
  steadyMs: number;
  /** The steady epochs' loop time alone (History seconds), median. */
  steadyLoopMs: number;
  /** Process CPU time (every thread) of the one-epoch call and of the median steady epoch: less sensitive to a loaded machine than wall time. */
  firstCpuMs: number;
  steadyCpuMs: number;
  threads: number;
  backend: string;
}


function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  const steady = Number(arg('steady', '3'));
  const train = b.loadFashionMnist({ split: 'train' });
  const model = new b.Sequential({
    inputSize: 784, seed: 1,
    layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 }, metrics: ['accuracy'] });
  const options = { batchSize: 128, seed: 1, validationSplit: 0.1, schedule: { name: 'cosineAnnealing' as const, tMax: 15 } };
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  const c0 = cpu(), t0 = performance.now();
  const h1 = model.fit(train.x, train.labels, { ...options, epochs: 1 });
  const firstMs = performance.now() - t0, firstCpuMs = cpu() - c0;
  const ends: number[] = [], cpuEnds: number[] = [];
  const h2 = model.fit(train.x, train.labels, {
    ...options, epochs: steady + 1, callbacks: [{ onEpochEnd: () => { ends.push(performance.now()); cpuEnds.push(cpu()); } }],
  });
  const gaps = ends.slice(1).map((t, i) => t - ends[i]);
  const cpuGaps = cpuEnds.slice(1).map((t, i) => t - cpuEnds[i]);
  const out: Sample = {
    firstMs, firstLoopMs: h1.epochs[0].seconds * 1e3, steadyMs: median(gaps),
    steadyLoopMs: median(h2.epochs.slice(1).map((e) => e.seconds * 1e3)), firstCpuMs, steadyCpuMs: median(cpuGaps), threads: model.backend.getNumThreads(), backend: model.backend.name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function main(): void {
  const samples = Number(arg('samples', '7'));
  const rest = process.argv.slice(2).filter((a, i, all) => a !== '--json' && a !== '--samples' && all[i - 1] !== '--samples');
  const rows: Sample[] = [];
  for (let s = 0; s < samples; s++) {
    const r = spawnSync(process.execPath, [__filename, '--child', ...rest], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) throw new Error(`sample ${s + 1} failed: ${r.stderr}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as Sample);
  }
  const over = rows.map((r) => r.firstMs / r.steadyMs - 1);
  const overCpu = rows.map((r) => r.firstCpuMs / r.steadyCpuMs - 1);
  const summary = {
    lib: path.resolve(arg('lib', path.join(__dirname, '..', 'lib'))), backend: rows[0].backend, threads: rows[0].threads, samples,
    firstMs: median(rows.map((r) => r.firstMs)), steadyMs: median(rows.map((r) => r.steadyMs)),
    overhead: { median: median(over), min: Math.min(...over), max: Math.max(...over) },
    cpuOverhead: { median: median(overCpu), min: Math.min(...overCpu), max: Math.max(...overCpu) },
    firstOutsideLoopMs: median(rows.map((r) => r.firstMs - r.firstLoopMs)),
    steadyOutsideLoopMs: median(rows.map((r) => r.steadyMs - r.steadyLoopMs)),
    firstLoopOverSteadyLoop: median(rows.map((r) => r.firstLoopMs / r.steadyLoopMs - 1)),
    rows,
  };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const f = (v: number) => v.toFixed(0);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  process.stdout.write(`first epoch vs steady epoch, ${summary.backend} backend, ${summary.threads} threads, ${samples} fresh processes (${summary.lib})\n`);
  process.stdout.write('| sample | one-epoch fit ms | steady epoch ms | over steady | CPU ms one-epoch / steady | CPU over steady |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- |\n');
  rows.forEach((r, i) => process.stdout.write(`| ${i + 1} | ${f(r.firstMs)} | ${f(r.steadyMs)} | ${pct(over[i])} | ` +
    `${f(r.firstCpuMs)} / ${f(r.steadyCpuMs)} | ${pct(overCpu[i])} |\n`));
  process.stdout.write(`wall: median ${pct(summary.overhead.median)} (range ${pct(summary.overhead.min)} to ${pct(summary.overhead.max)}); ` +
    `CPU: median ${pct(summary.cpuOverhead.median)} (range ${pct(summary.cpuOverhead.min)} to ${pct(summary.cpuOverhead.max)}); ` +
    `outside the loop: first call ${f(summary.firstOutsideLoopMs)} ms, steady epoch ${f(summary.steadyOutsideLoopMs)} ms; ` +
    `first loop over steady loop ${pct(summary.firstLoopOverSteadyLoop)}\n`);
}

if (process.argv.includes('--child')) child();
else main();
