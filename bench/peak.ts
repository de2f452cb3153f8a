/**
 * The machine's single-precision FMA peak, from bench/c/fma.c (a register-only loop of fused
 * multiply-adds, AVX2 and AVX-512 where the CPU has them, on 1 thread and on as many threads as the
 * native backend computes on by default, one per physical core), compiled here once per process as
 * drivers.ts compiles gemm.c.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nativeDefaultThreads, ROOT } from './drivers';
import { Rate } from './harness';

/** One measurement: GFLOP/s of `isa` FMAs on `threads` threads. */
export interface PeakRow {
  isa: string;
  threads: number;
  gflops: Rate;
}

/** The peak measurements, or why there are none. */
export interface Peak {
  command: string;
  rows: PeakRow[];
  /** The highest median: the machine's FMA peak in this run (GFLOP/s), or null. */
  best: PeakRow | null;
  error: string | null;
}

/** Builds and runs bench/c/fma.c: `runs` samples of at least `minTime` s per (isa, threads). */
export function measurePeak(minTime: number, runs: number, threads: readonly number[] = [...new Set([1, nativeDefaultThreads()])]): Peak {
  const src = path.join(ROOT, 'bench', 'c', 'fma.c');
  const out = path.join(ROOT, 'build', 'bench-fma');
  const command = ['cc', '-O2', '-pthread', path.relative(ROOT, src), '-o', path.relative(ROOT, out)].join(' ');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const fail = (error: string): Peak => ({ command, rows: [], best: null, error });
  const cc = spawnSync('cc', ['-O2', '-pthread', src, '-o', out], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return fail((cc.error?.message ?? cc.stderr.trim()) || `cc exited with ${cc.status}`);
  const args = ['--min-time', String(minTime), '--runs', String(Math.min(runs, 100)), ...threads.flatMap((t) => ['--threads', String(t)])];
  const r = spawnSync(out, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return fail(`bench-fma failed: ${r.error?.message ?? r.stderr.trim()}`);
  const rows = r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => {
    const j = JSON.parse(l) as { isa: string; threads: number; median: number; min: number; max: number };
    return { isa: j.isa, threads: j.threads, gflops: { median: j.median, min: j.min, max: j.max } };
  });
  const best = rows.reduce<PeakRow | null>((a, b) => (!a || b.gflops.median > a.gflops.median ? b : a), null);
  return { command, rows, best, error: rows.length === 0 ? 'no FMA instruction set (needs AVX2 or AVX-512)' : null };
}
