/**
 * A service retraining many small models with fitAsync: back-to-back calls on fresh data, each a
 * 16-32-4 ReLU MLP (Adam) trained for one epoch on 64 rows in batches of 16, in a fresh process.
 * Reports wall time and CPU time (the process's, the training worker's included) per call over
 * `--calls` calls after 20 untimed ones, and the same for fit. With `--before PATH` (another
 * build's dist/lib) the two builds alternate process by process.
 *
 *   node dist/bench/small-fitasync.js [--samples 7] [--calls 200] [--before other/dist/lib] [--json]
 */
import * as path from 'path';
import { alternateBuilds, arg, median } from './harness';

interface Sample {
  lib: string;
  /** fitAsync: wall and CPU ms per call. */
  asyncMs: number;
  asyncCpuMs: number;
  /** fit, the same calls on the calling thread. */
  fitMs: number;
  fitCpuMs: number;
}

async function child(): Promise<void> {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  const calls = Number(arg('calls', '200'));
  const b = require(lib) as typeof import('../lib');
  const rows = 64;
  const rng = new b.Rng(1);
  const fresh = () => ({ x: rng.uniformArray(rows * 16, -1, 1), y: Int32Array.from({ length: rows }, (_, i) => i % 4) });
  const model = () => new b.Sequential({ inputSize: 16, seed: 1, layers: [b.dense(32, { activation: 'relu' }), b.dense(4)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
  const options = { epochs: 1, batchSize: 16 };
  const time = async (run: (d: { x: Float32Array; y: Int32Array }) => Promise<unknown> | unknown): Promise<{ ms: number; cpuMs: number }> => {
    for (let i = 0; i < 20; i++) await run(fresh());
    const data = Array.from({ length: calls }, fresh);
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (const d of data) await run(d);
    const ms = (performance.now() - t0) / calls, c = process.cpuUsage(c0);
    return { ms, cpuMs: (c.user + c.system) / 1e3 / calls };
  };
  const a = await time((d) => model().fitAsync(d.x, d.y, options));
  const f = await time((d) => model().fit(d.x, d.y, options));
  const sample: Sample = { lib, asyncMs: a.ms, asyncCpuMs: a.cpuMs, fitMs: f.ms, fitCpuMs: f.cpuMs };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function summary(rows: Sample[]): Record<string, number> {
  const m = (k: keyof Omit<Sample, 'lib'>) => median(rows.map((r) => r[k]));
  return { asyncMs: m('asyncMs'), asyncCpuMs: m('asyncCpuMs'), fitMs: m('fitMs'), fitCpuMs: m('fitCpuMs') };
}

function main(): void {
  const { rows, before } = alternateBuilds<Sample>(__filename);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows, before, summary: summary(rows), beforeSummary: before.length ? summary(before) : null })}\n`);
    return;
  }
  const f = (v: number) => v.toFixed(2);
  process.stdout.write(`many small models: 16-32-4 MLP, one epoch of 64 rows (batch 16), ${arg('calls', '200')} calls per sample, ` +
    `${rows.length} fresh processes per build; medians (min-max) of the per-sample means\n`);
  process.stdout.write('| build | fitAsync ms / call | fitAsync CPU ms / call | fit ms / call | fit CPU ms / call |\n| --- | --- | --- | --- | --- |\n');
  const cell = (xs: Sample[], k: keyof Omit<Sample, 'lib'>) => `${f(median(xs.map((r) => r[k])))} (${f(Math.min(...xs.map((r) => r[k])))}-${f(Math.max(...xs.map((r) => r[k])))})`;
  for (const [name, xs] of [['before', before], ['this', rows]] as const) {
    if (xs.length === 0) continue;
    process.stdout.write(`| ${name} (${xs[0].lib}) | ${cell(xs, 'asyncMs')} | ${cell(xs, 'asyncCpuMs')} | ${cell(xs, 'fitMs')} | ${cell(xs, 'fitCpuMs')} |\n`);
  }
}

if (process.argv.includes('--child')) void child();
else main();
