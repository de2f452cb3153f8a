/**
 * Non-GEMM kernels' memory bandwidth at each instruction-set level: every kernel of
 * bench/kernel-bandwidth.ts (optimiser steps, activations and their derivatives, colSum, the
 * elementwise helpers, fit's NaN scan, gather, the loss) over n = 1M elements on one kernel
 * thread, in GB/s of the bytes it must move, at each level this CPU supports (portable, AVX2,
 * AVX-512: child processes with BLASNET_ISA set), against a STREAM-like triad of the same n on one
 * thread (bench/c/triad.c). The levels are interleaved: ROUNDS rounds, each running every level's
 * child once for a share of the samples, so that the machine drifting (a shared VM drifts by tens
 * of percent over a minute) spreads over all levels instead of favouring the last.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { KERNEL_ISA_LEVELS } from '../../lib/backend/native';
import { nativeBackend, ROOT } from '../drivers';
import { rate, Rate, Stats, statsOf } from '../harness';
import { BANDWIDTH_KERNELS } from '../kernel-bandwidth';
import { num, rateCell, Suite, SuiteResult, Table, Target } from '../report';
import { buildTriad, runTriad } from './optim';

const N = 1 << 20;
/** Rounds of one child per level; each child takes runs / ROUNDS samples (rounded up). */
const ROUNDS = 3;

interface LevelRun {
  isa: string;
  kernels: { id: string; seconds: Stats }[] | null;
  error: string | null;
}

export const bandwidthSuite: Suite = {
  name: 'bandwidth',
  title: 'Non-GEMM kernels: bandwidth at each instruction-set level against the triad',
  summary: `Each non-GEMM native kernel over n = ${N} elements on one kernel thread, in GB/s of the bytes it must read and write, at every ` +
    'instruction-set level this CPU supports (BLASNET_ISA=portable, avx2, avx512, a child process each, one after another), against a ' +
    'STREAM-like triad of the same n on one thread.',
  defaults: { warmup: 0.1, minTime: 0.1, runs: 6 },

  run(ctx): SuiteResult {
    const supported = nativeBackend().info().kernelIsaSupported;
    const levels = KERNEL_ISA_LEVELS.slice(0, KERNEL_ISA_LEVELS.indexOf(supported as (typeof KERNEL_ISA_LEVELS)[number]) + 1);
    const script = path.join(ROOT, 'dist', 'bench', 'kernel-bandwidth.js');
    const timing = { ...ctx.timing, runs: Math.ceil(ctx.timing.runs / ROUNDS) };
    const samples = levels.map(() => new Map<string, number[]>());
    const errors: (string | null)[] = levels.map(() => null);
    for (let round = 0; round < ROUNDS; round++) {
      levels.forEach((isa, l) => {
        if (errors[l]) return;
        ctx.progress(`bandwidth: round ${round + 1} of ${ROUNDS}, kernels at BLASNET_ISA=${isa}`);
        const r = spawnSync(process.execPath, [script, String(N), JSON.stringify(timing)],
          { env: { ...process.env, BLASNET_ISA: isa }, encoding: 'utf8', maxBuffer: 16 << 20 });
        if (r.error || r.status !== 0) {
          errors[l] = `exited with ${r.status ?? r.signal}: ${r.error?.message ?? r.stderr.trim()}`;
          return;
        }
        const out = JSON.parse(r.stdout.trim()) as { isa: string; kernels: { id: string; seconds: Stats }[] };
        if (out.isa !== isa) errors[l] = `ran at ${out.isa}`;
        for (const k of out.kernels) samples[l].set(k.id, [...(samples[l].get(k.id) ?? []), ...k.seconds.samples]);
      });
    }
    const runs: LevelRun[] = levels.map((isa, l) => ({
      isa,
      kernels: errors[l] ? null : [...samples[l]].map(([id, xs]) => ({ id, seconds: statsOf(xs) })),
      error: errors[l],
    }));
    ctx.progress(`bandwidth: triad n = ${N}`);
    const triad = runTriad(N, ctx.timing.minTime, ctx.timing.runs);
    const triadGBs = triad.bandwidth ? triad.bandwidth.median / 1e9 : null;

    const bw = (run: LevelRun, id: string): Rate | null => {
      const k = run.kernels?.find((x) => x.id === id);
      const spec = BANDWIDTH_KERNELS.find((x) => x.id === id);
      return k && spec ? rate(k.seconds, spec.bytes * N) : null;
    };
    const top = runs[runs.length - 1], base = runs[0];
    const table: Table = {
      title: `Kernel bandwidth at n = ${N}, one thread, GB/s: portable vs AVX2 vs AVX-512`,
      notes: [
        'GB/s = bytes the kernel must read and write per element × n / time per call, median (min–max) over the samples of every round; ' +
          `each level ran in processes of its own with BLASNET_ISA set, interleaved: ${ROUNDS} rounds of one process per level. Levels compile the same loop bodies with -ffp-contract=off and compute the same bits (test/13.isa).`,
        `Triad: bench/c/triad.c built with \`${buildTriad().command}\`, a = b + s·c at the same n, 12 bytes per element, one thread: ` +
          (triad.bandwidth ? `${rateCell(triad.bandwidth, 1e9)} GB/s.` : `not measured (${triad.skipped}).`),
        'gatherRows has one loop for every level (memcpy already picks its own instructions), so its columns differ only by noise. ' +
          'Sigmoid, tanh, softmax and the loss take their exponentials from native/vmath.h, which vectorises at each level. Failed levels: ' + (runs.filter((r) => r.error).map((r) => `${r.isa}: ${r.error}`).join('; ') || 'none') + '.',
      ],
      columns: ['kernel', 'traffic', 'B/elem', ...runs.map((r) => r.isa), `${top.isa} ÷ ${base.isa}`, `${top.isa} of triad`],
      rows: BANDWIDTH_KERNELS.map((k) => {
        const cells = runs.map((r) => bw(r, k.id));
        const first = cells[0], last = cells[cells.length - 1];
        return [k.label + (k.leveled ? '' : ' (one loop)'), k.traffic, String(k.bytes), ...cells.map((c) => (c ? rateCell(c, 1e9) : '–')),
          first && last ? (last.median / first.median).toFixed(2) : '–',
          last && triadGBs ? (last.median / 1e9 / triadGBs).toFixed(2) : '–'];
      }),
    };
    const targets: Target[] = [];
    const adam = bw(top, 'adam');
    if (adam && triadGBs) {
      targets.push({
        name: `Adam step at ${top.isa} at least 0.5× the same-size triad's bandwidth (one thread)`,
        met: adam.median / 1e9 / triadGBs >= 0.5,
        measured: `${num(adam.median / 1e9)} GB/s = ${(adam.median / 1e9 / triadGBs).toFixed(2)}× the triad's ${num(triadGBs)} GB/s (medians)`,
      });
    }
    return { tables: [table], targets, records: [...runs, { triad }] };
  },
};
