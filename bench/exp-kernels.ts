/**
 * The kernels that take exponentials (native/vmath.h), timed on one kernel thread at each
 * instruction-set level, for this build's addon and optionally another's (an older build kept
 * aside): the cross-entropy loss with its gradient at 512 x 10 and 32 x 10 (the reference MLP's
 * training batch and a small one), softmax, logSoftmax and its backward at 512 x 10, and the
 * activations over 1M elements. Each (addon, level) runs in a child process of its own; rounds
 * alternate them so that a loaded machine's drift spreads over all. Prints a Markdown table of
 * medians (min–max) in µs per call.
 *
 *   node dist/bench/exp-kernels.js [OTHER_ADDON.node] [ROUNDS] [RUNS_PER_ROUND]
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { activationId, ACTIVATIONS, getBackend, lossId, Rng } from '../lib';
import type { ActivationName } from '../lib';
import { KERNEL_ISA_LEVELS } from '../lib/backend/native';
import { measure, median } from './harness';

const ACT_N = 1 << 20;
const ACTS: ActivationName[] = ['sigmoid', 'tanh', 'elu', 'selu', 'silu', 'softplus'];

interface Case { id: string; run: (reps: number) => void }

function cases(): Case[] {
  const b = getBackend('native');
  b.setNumThreads(1);
  const rng = new Rng(3);
  const out: Case[] = [];
  for (const rows of [512, 32]) {
    const cols = 10, x = rng.uniformArray(rows * cols, -4, 4), g = new Float32Array(rows * cols);
    const labels = Int32Array.from({ length: rows }, (_, i) => i % cols);
    out.push({ id: `crossEntropy + grad ${rows}x${cols}`, run: (n) => { for (let i = 0; i < n; i++) b.loss(lossId('crossEntropy'), 0, rows, cols, x, labels, g); } });
  }
  const rows = 512, cols = 10, x = rng.uniformArray(rows * cols, -4, 4), y = new Float32Array(rows * cols), dy = rng.uniformArray(rows * cols, -1, 1), dx = new Float32Array(rows * cols);
  out.push({ id: 'softmax 512x10', run: (n) => { for (let i = 0; i < n; i++) b.softmax(rows, cols, x, y); } });
  out.push({ id: 'logSoftmax 512x10', run: (n) => { for (let i = 0; i < n; i++) b.logSoftmax(rows, cols, x, y); } });
  b.logSoftmax(rows, cols, x, y);
  out.push({ id: 'logSoftmaxBackward 512x10', run: (n) => { for (let i = 0; i < n; i++) b.logSoftmaxBackward(rows, cols, y, dy, dx); } });
  const ax = rng.uniformArray(ACT_N, -4, 4), ay = new Float32Array(ACT_N), ady = rng.uniformArray(ACT_N, -1, 1), adx = new Float32Array(ACT_N);
  for (const name of ACTS) {
    const id = activationId(name), p = ACTIVATIONS[name].param;
    out.push({ id: `${name} forward 1M`, run: (n) => { for (let i = 0; i < n; i++) b.activation(id, p, ACT_N, ax, ay); } });
    b.activation(id, p, ACT_N, ax, ay);
    out.push({ id: `${name} backward 1M`, run: (n) => { for (let i = 0; i < n; i++) b.activationBackward(id, p, ACT_N, ax, ay, ady, adx); } });
  }
  return out;
}

function child(runs: number): void {
  const timing = { warmup: 0.05, minTime: 0.05, runs };
  const res: Record<string, number[]> = {};
  for (const c of cases()) res[c.id] = measure(c.run, timing).samples;
  process.stdout.write(JSON.stringify({ isa: getBackend('native').info().kernelIsa, res }));
}

function main(): void {
  const other = process.argv[2] && process.argv[2] !== '-' ? path.resolve(process.argv[2]) : null;
  const rounds = Number(process.argv[3] ?? 3), runs = Number(process.argv[4] ?? 3);
  const supported = getBackend('native').info().kernelIsaSupported;
  const levels = KERNEL_ISA_LEVELS.slice(0, KERNEL_ISA_LEVELS.indexOf(supported as (typeof KERNEL_ISA_LEVELS)[number]) + 1);
  const builds: [string, string | undefined][] = [['this build', process.env.BLASNET_ADDON_PATH]];
  if (other) builds.unshift(['other build', other]);
  const cols = builds.flatMap(([b, addon]) => levels.map((isa) => ({ label: `${b} ${isa}`, addon, isa, samples: {} as Record<string, number[]> })));
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    for (const c of cols) {
      const env = { ...process.env, BLASNET_ISA: c.isa, BLASNET_EXP_CHILD: String(runs) } as NodeJS.ProcessEnv;
      if (c.addon) env.BLASNET_ADDON_PATH = c.addon; else delete env.BLASNET_ADDON_PATH;
      const p = spawnSync(process.execPath, [__filename], { env, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`${c.label}: ${p.stderr}`);
      const o = JSON.parse(p.stdout) as { isa: string; res: Record<string, number[]> };
      if (o.isa !== c.isa) throw new Error(`${c.label} ran at ${o.isa}`);
      for (const [k, v] of Object.entries(o.res)) c.samples[k] = [...(c.samples[k] ?? []), ...v];
    }
  }
  const ids = Object.keys(cols[0].samples);
  const fmt = (xs: number[]) => `${(median(xs) * 1e6).toPrecision(3)} (${(Math.min(...xs) * 1e6).toPrecision(3)}–${(Math.max(...xs) * 1e6).toPrecision(3)})`;
  console.log(`µs per call, one kernel thread, median (min–max) of ${rounds} rounds × ${runs} samples; ${other ? `other build: ${other}; ` : ''}${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`| kernel | ${cols.map((c) => c.label).join(' | ')} |`);
  console.log(`|---|${cols.map(() => '---').join('|')}|`);
  for (const id of ids) console.log(`| ${id} | ${cols.map((c) => fmt(c.samples[id])).join(' | ')} |`);
}

if (process.env.BLASNET_EXP_CHILD) child(Number(process.env.BLASNET_EXP_CHILD));
else if (require.main === module) main();
