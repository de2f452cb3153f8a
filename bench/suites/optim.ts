/**
 * Optimiser steps: one step of SGD with momentum 0.9 and of Adam (PyTorch's defaults) over a
 * parameter arena of n = 1048576 floats, native vs js, in ms per step and in GB/s of memory
 * traffic; and what memory bandwidth is there to reach,
 * from a STREAM-like triad (bench/c/triad.c, one thread, compiled here with -O3) at the same n and
 * at 16M elements.
 *
 * Traffic counts the bytes a step must read and write per element: SGD with momentum reads p, g
 * and the momentum buffer and writes p and the buffer (20 B); Adam reads p, g, m and v and writes
 * p, m and v (28 B). The triad a = b + s c counts 12 B, as STREAM does.
 *
 * Like the GEMM suite, the drivers run trial by trial (every driver on one trial, then the next),
 * so that a burst of other work on this shared machine disturbs one row rather than a column.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Backend, createOptimizer, jsBackend, OptimizerSpec, Rng } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver, nativeSingleDriver, ROOT } from '../drivers';
import { cpuSnapshot, Load, loadBetween, measure, rate, Rate, Stats } from '../harness';
import { num, pct, rateCell, Suite, SuiteResult, Table, Target, timeCell } from '../report';

/** Elements in the parameter arena. */
const N = 1 << 20;
/** Triad sizes: the arena's n, and one far larger than any cache. */
const TRIAD_SIZES = [N, 1 << 24];
const TRIAD_BYTES = 12;
/** Native must be at least this many times faster than js. */
const SPEEDUP_TARGET = 10;
/** Native must reach at least this share of the same-size triad's bandwidth. */
const BANDWIDTH_TARGET = 0.5;

interface OptimTrial {
  id: string;
  label: string;
  spec: OptimizerSpec;
  /** Bytes read and written per element by one step. */
  bytes: number;
  traffic: string;
}

const TRIALS: readonly OptimTrial[] = [
  {
    id: 'sgd-momentum', label: 'SGD, momentum 0.9', spec: { name: 'sgd', lr: 0.01, momentum: 0.9 }, bytes: 20,
    traffic: 'p, g, buf read; p, buf written',
  },
  {
    id: 'adam', label: 'Adam (defaults)', spec: { name: 'adam' }, bytes: 28,
    traffic: 'p, g, m, v read; p, m, v written',
  },
];

/** The same arenas for every driver: parameters and gradients uniform in [-1, 1). */
function target(b: Backend): { params: Float32Array; grads: Float32Array; backend: Backend } {
  return { params: new Rng(1).uniformArray(N, -1, 1), grads: new Rng(2).uniformArray(N, -1, 1), backend: b };
}

/** The parameters after one step from the seeded start. */
function oneStep(b: Backend, spec: OptimizerSpec): Float32Array {
  const t = target(b);
  createOptimizer(spec, t).step();
  return t.params;
}

/** ||a - b|| / ||b||. */
function normError(a: Float32Array, b: Float32Array): number {
  let num2 = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num2 += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num2 / den);
}

interface StepResult {
  trial: string;
  driver: string;
  threads: number;
  stats: Stats;
  /** Bytes per second of counted traffic. */
  bandwidth: Rate;
  /** Normalised error of the parameters after one step, against js. */
  errorVsJs: number;
  load: Load | null;
}

// ---- the triad --------------------------------------------------------------------------------

export interface TriadBuild {
  binary: string | null;
  command: string;
  error: string | null;
}

let triadBuild: TriadBuild | null = null;

/** Compiles bench/c/triad.c into build/bench-triad (once per process), as drivers.ts does gemm.c. */
export function buildTriad(): TriadBuild {
  if (triadBuild) return triadBuild;
  const src = path.join(ROOT, 'bench', 'c', 'triad.c');
  const out = path.join(ROOT, 'build', 'bench-triad');
  const command = ['cc', '-O3', path.relative(ROOT, src), '-o', path.relative(ROOT, out)].join(' ');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync('cc', ['-O3', src, '-o', out], { encoding: 'utf8' });
  triadBuild = r.error || r.status !== 0
    ? { binary: null, command, error: (r.error?.message ?? r.stderr.trim()) || `cc exited with ${r.status}` }
    : { binary: out, command, error: null };
  return triadBuild;
}

export interface TriadResult {
  n: number;
  stats: Stats | null;
  bandwidth: Rate | null;
  skipped: string | null;
}

export function runTriad(n: number, minTime: number, runs: number): TriadResult {
  const b = buildTriad();
  if (!b.binary) return { n, stats: null, bandwidth: null, skipped: `triad did not build: ${b.error}` };
  const r = spawnSync(b.binary, [String(n), '--min-time', String(minTime), '--runs', String(Math.min(runs, 100))],
    { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return { n, stats: null, bandwidth: null, skipped: `triad failed: ${r.error?.message ?? r.stderr.trim()}` };
  }
  const line = JSON.parse(r.stdout.trim()) as { median: number; min: number; max: number };
  const stats: Stats = { median: line.median, min: line.min, max: line.max, reps: 0, samples: [] };
  return { n, stats, bandwidth: rate(stats, TRIAD_BYTES * n), skipped: null };
}

/** The largest cache of CPU 0, e.g. "L3 32768K", from sysfs (null where there is none). */
function lastLevelCache(): string | null {
  try {
    const dir = '/sys/devices/system/cpu/cpu0/cache';
    let best: { level: number; size: string } | null = null;
    for (const entry of fs.readdirSync(dir).filter((e) => e.startsWith('index'))) {
      const level = Number(fs.readFileSync(path.join(dir, entry, 'level'), 'utf8'));
      const size = fs.readFileSync(path.join(dir, entry, 'size'), 'utf8').trim();
      if (!best || level > best.level) best = { level, size };
    }
    return best ? `L${best.level} ${best.size}` : null;
  } catch {
    return null;
  }
}

const MB = (bytes: number): string => num(bytes / 1e6);
const GBs = (r: Rate): string => num(r.median / 1e9);

export const optimSuite: Suite = {
  name: 'optim',
  title: 'Optimiser steps: native vs js, and the memory bandwidth to reach',
  summary: `One optimiser step (Optimizer.step(): one Backend.optimizerStep call) over a parameter arena of n = ${N} floats, ` +
    'native vs js, in ms per step and GB/s of memory traffic, against a STREAM-like triad on one thread.',
  defaults: { warmup: 0.2, minTime: 0.2, runs: 7 },

  run(ctx): SuiteResult {
    const native = nativeDriver();
    const single = nativeSingleDriver();
    // The native step runs on the kernel threads; its one-thread row is the one the one-thread
    // triad is compared with.
    const drivers: BackendDriver[] = native.threads > 1 ? [native, single, jsDriver()] : [native, jsDriver()];
    const results: StepResult[] = [];
    for (const t of TRIALS) {
      const reference = oneStep(jsBackend, t.spec);
      for (const d of drivers) {
        ctx.progress(`optim ${t.id} ${d.name} (${d.threads} thr)`);
        const before = cpuSnapshot();
        const row = d.use(() => {
          const errorVsJs = normError(oneStep(d.backend, t.spec), reference);
          const arenas = target(d.backend);
          const opt = createOptimizer(t.spec, arenas);
          const stats = measure((reps) => {
            for (let r = 0; r < reps; r++) opt.step();
          }, ctx.timing);
          return { stats, errorVsJs };
        });
        results.push({
          trial: t.id, driver: d.name, threads: d.threads, ...row, bandwidth: rate(row.stats, t.bytes * N),
          load: loadBetween(before, cpuSnapshot()),
        });
      }
    }
    const triads = TRIAD_SIZES.map((n) => {
      ctx.progress(`optim triad n = ${n}`);
      return runTriad(n, ctx.timing.minTime, ctx.timing.runs);
    });

    const find = (trial: string, driver: string, threads: number) =>
      results.find((r) => r.trial === trial && r.driver === driver && r.threads === threads) as StepResult;
    const jsOf = (trial: string) => find(trial, 'js', 1);
    const cache = lastLevelCache();

    const stepTable: Table = {
      title: `One optimiser step at n = ${N}`,
      notes: [
        `Arenas: params and grads uniform in [-1, 1) from the seeded Rng, state from createOptimizer; each sample repeats step() on the same arenas. ` +
          'GB/s = counted bytes per element × n / time per step.',
        'native = the addon (native/optimizers.cc: float32 arithmetic, loops at the best instruction set of the CPU, info().kernelIsa), at its default kernel threads (the arena cut into ranges over ' +
          'the pool) and on one thread; js = the TypeScript backend (float64 arithmetic, one thread).',
        'error vs js = ||p_native - p_js|| / ||p_js|| after one step from the same start (native rounds in float32, js in float64).',
        `Working set: ${MB(3 * 4 * N)} MB for SGD (p, g, buf), ${MB(4 * 4 * N)} MB for Adam (p, g, m, v; its maxExpAvgSq slot is allocated but not touched without amsgrad)` +
          (cache ? `, against a last-level cache of ${cache} on CPU 0: the steps run from cache.` : '.'),
      ],
      columns: ['optimiser', 'traffic', 'bytes/elem', 'backend', 'threads', 'ms/step', 'GB/s', 'speed-up over js', 'error vs js', 'background'],
      rows: results.map((r) => {
        const t = TRIALS.find((x) => x.id === r.trial) as OptimTrial;
        return [t.label, t.traffic, String(t.bytes), r.driver, String(r.threads), timeCell(r.stats, 1e-3), rateCell(r.bandwidth, 1e9),
          (jsOf(r.trial).stats.median / r.stats.median).toFixed(1), r.errorVsJs === 0 ? '0' : r.errorVsJs.toExponential(1),
          r.load ? pct(r.load.others + r.load.steal) : 'n/a'];
      }),
    };

    const build = buildTriad();
    const triadTable: Table = {
      title: 'Memory bandwidth: STREAM-like triad a = b + s·c, one thread',
      notes: [
        `bench/c/triad.c built with \`${build.command}\`${build.error ? ` (failed: ${build.error})` : ''}; GB/s counts 12 bytes per element ` +
          '(two floats read, one written), as STREAM does; the cache also reads each line of a before writing it, which is not counted.',
        `At n = ${N} its three arrays (${MB(12 * N)} MB) fit in the last-level cache like the optimiser arenas do; at n = ${TRIAD_SIZES[1]} ` +
          `(${MB(12 * TRIAD_SIZES[1])} MB) it streams from DRAM. The targets compare with the same-size triad.`,
      ],
      columns: ['n', 'MB counted per triad', 'ms/triad', 'GB/s'],
      rows: triads.map((r) => [String(r.n), MB(TRIAD_BYTES * r.n), r.stats ? timeCell(r.stats, 1e-3) : `skipped: ${r.skipped}`,
        r.bandwidth ? rateCell(r.bandwidth, 1e9) : '–']),
    };

    const [sameTriad, bigTriad] = triads;
    const targets: Target[] = [];
    for (const t of TRIALS) {
      const nat = find(t.id, native.name, native.threads);
      const one = find(t.id, single.name, 1);
      const js = jsOf(t.id);
      const speedup = js.stats.median / nat.stats.median;
      targets.push({
        name: `native ${t.label} step at least ${SPEEDUP_TARGET}× js at n = ${N}`,
        met: speedup >= SPEEDUP_TARGET,
        measured: `js/native = ${speedup.toFixed(1)}× (native ${num(nat.stats.median * 1e3)} ms on ${native.threads} thread(s), js ${num(js.stats.median * 1e3)} ms per step, ` +
          `medians); need ≥ ${SPEEDUP_TARGET}×`,
      });
      const name = `native ${t.label} step at ≥ ${BANDWIDTH_TARGET}× the triad's bandwidth at the same n = ${N} ` +
        `(${t.bytes} B/element; both on one thread)`;
      if (!sameTriad.bandwidth) {
        targets.push({ name, met: null, measured: `not measured (${sameTriad.skipped})` });
        continue;
      }
      const share = one.bandwidth.median / sameTriad.bandwidth.median;
      targets.push({
        name,
        met: share >= BANDWIDTH_TARGET,
        measured: `native on one thread ${GBs(one.bandwidth)} GB/s = ${share.toFixed(2)}× the triad's ${GBs(sameTriad.bandwidth)} GB/s (medians; ` +
          `on ${native.threads} kernel threads: ${GBs(nat.bandwidth)} GB/s); ` +
          `for scale, the 16M-element triad (from DRAM): ${bigTriad.bandwidth ? `${GBs(bigTriad.bandwidth)} GB/s` : 'not measured'}; ` +
          `need ≥ ${BANDWIDTH_TARGET}×`,
      });
    }

    const records = [
      ...results.map((r) => ({ kind: 'step', ...r, msPerStep: r.stats.median * 1e3, gbps: r.bandwidth.median / 1e9 })),
      ...triads.map((r) => ({ kind: 'triad', ...r, gbps: r.bandwidth ? r.bandwidth.median / 1e9 : null, build })),
    ];
    return { tables: [stepTable, triadTable], targets, records };
  },
};
