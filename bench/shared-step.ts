/**
 * The optimiser step over weights the other core has just read, as a training step meets it: the
 * reference MLP (784-256-128-10, Adam) on the native backend, its gradients from one batch, and
 * then, per repetition, something that reads the weights followed by a timed optimizer.step():
 *
 *   - `own`: nothing between two steps (each thread's rows of the weights are its own);
 *   - `b32`: a forward pass at batch 32, whose products are cut by units (each core reads the
 *     rows of the weights its optimiser part writes, but for the output layer);
 *   - `b512`: a forward pass at batch 512, whose products are cut by batch rows (both cores read
 *     every weight, so every line the step writes must first be taken back from the other core).
 *
 * Each sample is a fresh process; the parent measures the two vCPUs' round trip over one cache
 * line (bench/c/core-link.c) right before each, since that cost moves with where the VM's vCPUs
 * run (bench/RESULTS.md, run AD). With --before PATH (another build's dist/lib) the two builds
 * alternate process by process and the report pairs them.
 *
 *   node dist/bench/shared-step.js [--samples 7] [--reps 400] [--before OLD/dist/lib] [--json]
 */
import * as os from 'os';
import * as path from 'path';
import { alternateBuilds, arg, median } from './harness';
import { measureLink } from './link';

const CONDITIONS = ['own', 'b32', 'b512'] as const;
type Condition = (typeof CONDITIONS)[number];

interface Sample {
  /** Microseconds per optimizer.step(), median over the repetitions, per condition. */
  us: Record<Condition, number>;
  threads: number;
  isa: string;
  core: string;
  /** The round trip measured by the parent just before this process, ns (null without cc). */
  linkNs: number | null;
}

function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  const be = b.getBackend('native');
  const reps = Number(arg('reps', '400'));
  const model = new b.Sequential({
    inputSize: 784, seed: 1, backend: be,
    layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10)],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
  const rng = new b.Rng(3);
  const x512 = new b.Matrix(rng.uniformArray(512 * 784, 0, 1), 512, 784);
  const x32 = new b.Matrix(x512.data.subarray(0, 32 * 784), 32, 784);
  const labels = new Int32Array(512).map((_, i) => i % 10);
  model.lossAndGradient(x512, labels);
  const optimizer = model.optimizer as NonNullable<typeof model.optimizer>;
  const between: Record<Condition, () => void> = {
    own: () => undefined,
    b32: () => void model.forward(x32),
    b512: () => void model.forward(x512),
  };
  const info = be.info() as { kernelIsa?: string; coreName?: string };
  const us = {} as Record<Condition, number>;
  for (const c of CONDITIONS) {
    const xs: number[] = [];
    for (let r = 0; r < reps + 20; r++) {
      between[c]();
      const t0 = process.hrtime.bigint();
      optimizer.step();
      if (r >= 20) xs.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    us[c] = median(xs);
  }
  const sample: Sample = {
    us, threads: be.getNumThreads(), isa: String(info.kernelIsa), core: String(info.coreName),
    linkNs: Number(arg('link', 'NaN')) || null,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function main(): void {
  const { rows, before, beforeLib } = alternateBuilds<Sample>(__filename, () => {
    const ns = measureLink();
    return ns === null ? [] : ['--link', ns.toFixed(0)];
  });
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows, before })}\n`);
    return;
  }
  const first = rows[0];
  console.log(`Adam step over 784-256-128-10's weights, native backend, ${first.threads} thread(s), ` +
    `kernels ${first.isa}, OpenBLAS core ${first.core}, ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log('us per step, median over the repetitions of each process; processes in run order (the round trip measured before each)');
  const head = beforeLib ? ['sample', 'round trip ns (this / before)', ...CONDITIONS.flatMap((c) => [`${c}: this`, `${c}: before`])] :
    ['sample', 'round trip ns', ...CONDITIONS];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => ' --- ').join('|')}|`);
  rows.forEach((r, i) => {
    const o = before[i];
    const link = o ? `${r.linkNs ?? 'n/a'} / ${o.linkNs ?? 'n/a'}` : `${r.linkNs ?? 'n/a'}`;
    const cells = CONDITIONS.flatMap((c) => (o ? [r.us[c].toFixed(1), o.us[c].toFixed(1)] : [r.us[c].toFixed(1)]));
    console.log(`| ${i + 1} | ${link} | ${cells.join(' | ')} |`);
  });
  const med = (xs: Sample[], c: Condition): string => median(xs.map((s) => s.us[c])).toFixed(1);
  console.log(`medians: ${CONDITIONS.map((c) => `${c} ${med(rows, c)}${before.length ? ` (before ${med(before, c)})` : ''}`).join(', ')}`);
}

if (process.argv.includes('--child')) child();
else main();
