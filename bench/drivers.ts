/**
 * Drivers: one per way of running a kernel. Suites hold tables of trials and hand each trial to
 * every driver, so adding a backend means adding a driver here, not editing the suites.
 *
 * Backend drivers wrap a Backend at a fixed thread count (native at its default and at 1 thread,
 * js). GEMM has two more: a naive triple loop in JS, the baseline the js backend's blocked GEMM
 * must beat, and "c", bench/c/gemm.c calling cblas_sgemm with no Node in between, the floor for
 * the native backend.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Backend, getBackend, jsBackend, nativeAvailable, nativeLoadError, Rng } from '../lib';
import { measure, Stats, TimingOptions } from './harness';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = path.resolve(__dirname, '..', '..');

/** A backend at a fixed thread count. */
export interface BackendDriver {
  /** Short name for tables: "native" or "js". */
  readonly name: string;
  readonly backend: Backend;
  /** Kernel threads while this driver runs (the js backend always runs on one). */
  readonly threads: number;
  /** Runs `fn` with the backend set to this driver's thread count, restoring the previous count. */
  use<T>(fn: () => T): T;
}

function backendDriver(backend: Backend, threads: number): BackendDriver {
  return {
    name: backend.name,
    backend,
    threads,
    use<T>(fn: () => T): T {
      const before = backend.getNumThreads();
      backend.setNumThreads(threads);
      try {
        const got = backend.getNumThreads();
        if (got !== threads) throw new Error(`${backend.name}: asked for ${threads} threads, got ${got}`);
        return fn();
      } finally {
        backend.setNumThreads(before);
      }
    },
  };
}

/** The native backend, or an error saying how to build it: every suite compares against it. */
export function nativeBackend(): Backend {
  if (!nativeAvailable()) {
    throw new Error(`the native addon did not load (${nativeLoadError()?.message}); run \`npm run build:native\` first`);
  }
  return getBackend('native');
}

let defaultThreads = 0;

/**
 * Native kernel threads at startup (one per physical core this process may run on, unless
 * BLASNET_NUM_THREADS says otherwise), read once so that later setNumThreads calls cannot change
 * what "default" means.
 */
export function nativeDefaultThreads(): number {
  if (defaultThreads === 0) defaultThreads = nativeBackend().getNumThreads();
  return defaultThreads;
}

/** The native backend at its default thread count. */
export function nativeDriver(): BackendDriver {
  return backendDriver(nativeBackend(), nativeDefaultThreads());
}

/** The native backend pinned to one kernel thread. */
export function nativeSingleDriver(): BackendDriver {
  return backendDriver(nativeBackend(), 1);
}

/** The pure-TypeScript backend. */
export function jsDriver(): BackendDriver {
  return backendDriver(jsBackend, jsBackend.getNumThreads());
}

// ---- GEMM -------------------------------------------------------------------------------------

/** One GEMM shape: C [m, n] = op(A) op(B) with alpha = 1, beta = 0, as the Backend interface takes it. */
export interface GemmTrial {
  /** Stable key for JSON and the c driver's command line. */
  readonly id: string;
  /** What the GEMM is, for the table. */
  readonly label: string;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** Floating-point operations of one GEMM (a multiply and an add per inner-product term). */
export function gemmFlops(t: GemmTrial): number {
  return 2 * t.m * t.n * t.k;
}

/** What one driver measured for one trial. */
export interface GemmResult {
  trial: string;
  driver: string;
  threads: number;
  /** Seconds per GEMM, or null when skipped. */
  stats: Stats | null;
  /** Why the trial was not run. */
  skipped: string | null;
  /** sum |C| after one call: every driver computes from the same inputs, so these must agree. */
  checksum: number | null;
}

/** A way of running GEMMs; takes a whole table at once because the c driver runs in one process. */
export interface GemmDriver {
  readonly name: string;
  readonly threads: number;
  /** Why this driver leaves `trial` out, or null when it runs it. */
  skips(trial: GemmTrial): string | null;
  run(trials: readonly GemmTrial[], timing: TimingOptions, progress: (msg: string) => void): GemmResult[];
}

type GemmFn = Backend['gemm'];

interface GemmData {
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

const inputs = new Map<string, GemmData>();

/** A and B from seeds 1 and 2, as bench/c/gemm.c makes them, so that checksums compare. */
function gemmData(t: GemmTrial): GemmData {
  const key = `${t.m}x${t.n}x${t.k}`;
  let d = inputs.get(key);
  if (!d) {
    d = {
      a: new Rng(1).uniformArray(t.m * t.k, -1, 1),
      b: new Rng(2).uniformArray(t.k * t.n, -1, 1),
      c: new Float32Array(t.m * t.n),
    };
    inputs.set(key, d);
  }
  return d;
}

/** sum |x[i]|, in order (the c driver sums the same way). */
export function absSum(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
  return s;
}

function inProcessGemm(name: string, threads: number, gemm: GemmFn, use: <T>(fn: () => T) => T,
  skips: (t: GemmTrial) => string | null): GemmDriver {
  return {
    name,
    threads,
    skips,
    run(trials, timing, progress) {
      return use(() => trials.map((t): GemmResult => {
        const why = skips(t);
        if (why) return { trial: t.id, driver: name, threads, stats: null, skipped: why, checksum: null };
        progress(`gemm ${t.id} ${name} (${threads} thr)`);
        const { a, b, c } = gemmData(t);
        c.fill(0);
        gemm(t.transA, t.transB, t.m, t.n, t.k, 1, a, b, 0, c);
        const checksum = absSum(c);
        const stats = measure((reps) => {
          for (let r = 0; r < reps; r++) gemm(t.transA, t.transB, t.m, t.n, t.k, 1, a, b, 0, c);
        }, timing);
        return { trial: t.id, driver: name, threads, stats, skipped: null, checksum };
      }));
    },
  };
}

/** A backend's gemm as a GEMM driver; `skips` leaves out trials too slow for it. */
export function backendGemmDriver(d: BackendDriver, skips: (t: GemmTrial) => string | null = () => null): GemmDriver {
  return inProcessGemm(d.name, d.threads, d.backend.gemm, (fn) => d.use(fn), skips);
}

/**
 * The textbook GEMM: i, j, k loops with a local accumulator, no blocking or packing. It takes the
 * same transpose flags by indexing through strides, the way one would write it first.
 */
export function naiveGemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
  const aRow = transA ? 1 : k, aCol = transA ? m : 1;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
      c[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]);
    }
  }
}

/** The naive triple loop as a GEMM driver. */
export function naiveGemmDriver(skips: (t: GemmTrial) => string | null = () => null): GemmDriver {
  return inProcessGemm('naive', 1, naiveGemm, (fn) => fn(), skips);
}

/** The compiled c driver, or why it could not be built. */
export interface CBuild {
  binary: string | null;
  command: string;
  error: string | null;
}

let cBuild: CBuild | null = null;

function pkgConfigOpenblas(): string[] | null {
  try {
    const out = execFileSync('pkg-config', ['--cflags', '--libs', 'openblas'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const flags = out.trim().split(/\s+/).filter((f) => f !== '');
    return flags.length > 0 ? flags : null;
  } catch {
    return null;
  }
}

/**
 * Compiles bench/c/gemm.c into build/bench-gemm (once per process). OpenBLAS flags come from
 * pkg-config when it knows openblas, else Debian's pthread build location, which is the library
 * the addon links on this platform.
 */
export function buildCDriver(): CBuild {
  if (cBuild) return cBuild;
  const src = path.join(ROOT, 'bench', 'c', 'gemm.c');
  const out = path.join(ROOT, 'build', 'bench-gemm');
  const blas = pkgConfigOpenblas() ?? ['-I/usr/include/x86_64-linux-gnu/openblas-pthread', '-lopenblas'];
  const args = ['-O2', src, '-o', out, ...blas, '-lm'];
  const command = ['cc', '-O2', path.relative(ROOT, src), '-o', path.relative(ROOT, out), ...blas, '-lm'].join(' ');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync('cc', args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    cBuild = { binary: null, command, error: (r.error?.message ?? r.stderr.trim()) || `cc exited with ${r.status}` };
  } else {
    cBuild = { binary: out, command, error: null };
  }
  return cBuild;
}

interface CLine {
  type: 'info' | 'trial';
  id?: string;
  threads: number;
  reps?: number;
  samples?: number[];
  median?: number;
  min?: number;
  max?: number;
  checksum?: number;
}

/** cblas_sgemm from a C program at `threads` BLAS threads. */
export function cGemmDriver(threads: number): GemmDriver {
  const skips = (): string | null => {
    const b = buildCDriver();
    return b.error ? `c driver did not build: ${b.error}` : null;
  };
  return {
    name: 'c',
    threads,
    skips,
    run(trials, timing, progress) {
      const why = skips();
      const skipAll = (reason: string) => trials.map((t): GemmResult =>
        ({ trial: t.id, driver: 'c', threads, stats: null, skipped: reason, checksum: null }));
      if (why) return skipAll(why);
      progress(`gemm ${trials.length} trials c (${threads} thr)`);
      const args = [
        '--threads', String(threads), '--warmup', String(timing.warmup), '--min-time', String(timing.minTime),
        '--runs', String(timing.runs),
        ...trials.map((t) => `${t.id}:${t.transA ? 1 : 0}:${t.transB ? 1 : 0}:${t.m}:${t.n}:${t.k}`),
      ];
      const r = spawnSync(buildCDriver().binary as string, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.error || r.status !== 0) return skipAll(`c driver failed: ${r.error?.message ?? r.stderr.trim()}`);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as CLine);
      const byId = new Map(lines.filter((l) => l.type === 'trial').map((l) => [l.id as string, l]));
      return trials.map((t): GemmResult => {
        const l = byId.get(t.id);
        if (!l) return { trial: t.id, driver: 'c', threads, stats: null, skipped: 'no output', checksum: null };
        const stats: Stats = {
          median: l.median as number, min: l.min as number, max: l.max as number,
          reps: l.reps as number, samples: l.samples as number[],
        };
        return { trial: t.id, driver: 'c', threads: l.threads, stats, skipped: null, checksum: l.checksum as number };
      });
    },
  };
}
