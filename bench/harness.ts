/**
 * Timing. A trial's body runs `reps` operations per call so that loop and closure overhead is
 * paid once per sample, not once per operation; this matters for the sub-microsecond calls the
 * overhead suite times. bench/c/gemm.c implements the same procedure, so in-process and
 * direct-C figures are comparable.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** How long to time a trial. */
export interface TimingOptions {
  /** Seconds of untimed calls first, so the JIT has tiered up and kernel threads are awake. */
  warmup: number;
  /** Minimum duration of one timed sample, in seconds. */
  minTime: number;
  /** Number of timed samples; the median is reported, with min and max. */
  runs: number;
}

/** Seconds per operation over the timed samples. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  /** Operations per sample. */
  reps: number;
  /** Seconds per operation of every sample, in the order they ran. */
  samples: number[];
}

/** A timed body: performs `reps` operations. */
export type Body = (reps: number) => void;

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Warms `body` up for `opts.warmup` seconds (at least one operation) and returns how many
 * operations make a sample of at least `opts.minTime` seconds, from the warmup's per-operation
 * estimate.
 */
export function repsFor(body: Body, opts: Pick<TimingOptions, 'warmup' | 'minTime'>): number {
  // Growing batches keep timer reads rare for tiny bodies while a slow body still stops after
  // one operation once the warmup time is spent. The sample size comes from the last batch
  // alone: the first calls run unoptimised code and would inflate the estimate.
  let batch = 1;
  let perOp = 0;
  const t0 = now();
  for (;;) {
    const s = now();
    body(batch);
    const e = now();
    perOp = (e - s) / batch;
    if (e - t0 >= opts.warmup) break;
    batch *= 2;
  }
  return Math.max(1, Math.ceil(opts.minTime / Math.max(perOp, 1e-10)));
}

/** Seconds per operation over one sample of `reps` operations. */
export function sampleOnce(body: Body, reps: number): number {
  const s = now();
  body(reps);
  return (now() - s) / reps;
}

/** Times `body`: repsFor, then `opts.runs` samples. */
export function measure(body: Body, opts: TimingOptions): Stats {
  const reps = repsFor(body, opts);
  const samples: number[] = [];
  for (let r = 0; r < opts.runs; r++) samples.push(sampleOnce(body, reps));
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), reps, samples };
}

/**
 * Round `round`'s order of `n` drivers, from a Williams design (a balanced Latin square): over
 * every `n` rounds (2n when n is odd) each driver runs once in each position and right after
 * every other driver equally often, so that no driver always runs first, last or next to the
 * same one. Round r's order is the first round's shifted by r; for odd n the second n rounds
 * run the first n's orders backwards.
 */
export function roundOrder(n: number, round: number): number[] {
  // First round: 0, 1, n-1, 2, n-2, ...
  const first = Array.from({ length: n }, (_, j) => (j === 0 ? 0 : j % 2 === 1 ? (j + 1) / 2 : n - j / 2));
  const k = round % (n % 2 === 0 ? n : 2 * n);
  const order = first.map((v) => (v + k) % n);
  return k >= n ? order.reverse() : order;
}

/** Stats of samples that are one operation each (seconds per run, per call, ...). */
export function statsOf(samples: number[]): Stats {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), reps: 1, samples };
}

/** `work / seconds` for the median, best and worst sample (the best rate comes from the min time). */
export interface Rate {
  median: number;
  min: number;
  max: number;
}

/** Converts per-operation times into a rate of `work` units per second. */
export function rate(stats: Stats, work: number): Rate {
  return { median: work / stats.median, min: work / stats.max, max: work / stats.min };
}

/** CPU time counters of the whole machine and of this process (with its waited-for children). */
export interface CpuSnapshot {
  /** Every CPU's time, in clock ticks. */
  total: number;
  /** Time any CPU spent running something. */
  busy: number;
  /** Time the hypervisor gave this machine's CPUs to someone else. */
  steal: number;
  /** This process's and its children's CPU time (the c driver runs as a child). */
  self: number;
}

/**
 * Reads /proc counters; null where there is no /proc (the load figures are then left out). `self`
 * also counts the processes in `children` (running children of this one, whose time /proc/self
 * only counts once they have been waited for).
 */
export function cpuSnapshot(children: readonly number[] = []): CpuSnapshot | null {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
    // Fields after the parenthesised command name; utime, stime, cutime, cstime are fields 14-17.
    const times = (pid: number | 'self'): number[] => {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    };
    const f = times('self');
    let self = f[11] + f[12] + f[13] + f[14];
    for (const pid of children) {
      const c = times(pid);
      self += c[11] + c[12];
    }
    return {
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      busy: user + nice + system + irq + softirq,
      steal,
      self,
    };
  } catch {
    return null;
  }
}

/** How much of the machine other work took between two snapshots, as fractions of all CPUs. */
export interface Load {
  /** CPU time of other processes (what might have slowed the trials down). */
  others: number;
  /** CPU time the hypervisor took. */
  steal: number;
}

/** The load between `a` and `b`, or null if either is missing or no time passed. */
export function loadBetween(a: CpuSnapshot | null, b: CpuSnapshot | null): Load | null {
  if (!a || !b || b.total <= a.total) return null;
  const total = b.total - a.total;
  return {
    others: Math.max(0, (b.busy - a.busy) - (b.self - a.self)) / total,
    steal: (b.steal - a.steal) / total,
  };
}

/** The value after `--name` on the command line (`--name value`), or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/**
 * One sample from a fresh process: runs `script --child ...args` under this process's node flags
 * (node --flag dist/bench/x.js passes --flag on) with `env` added to the environment, and parses
 * the last line it prints as JSON. Throws with the child's stderr when it fails.
 */
export function freshProcessSample<T>(script: string, args: readonly string[], label: string, env: NodeJS.ProcessEnv = {}): T {
  const r = spawnSync(process.execPath, [...process.execArgv, script, '--child', ...args], {
    encoding: 'utf8', env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`${label} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as T;
}

/**
 * `--samples` fresh-process samples of `script` with this process's arguments (but its own
 * --samples, --before and --json); with `--before PATH` as many of another build's library (PATH,
 * its dist/lib, passed to the child as --lib), the two alternating process by process so that the
 * machine's drift falls on both alike. `before` is empty without --before. `moreArgs` is called
 * right before each child starts, for arguments measured then (the vCPUs' round trip).
 */
export function alternateBuilds<T>(script: string, moreArgs: () => string[] = () => []): { rows: T[]; before: T[]; beforeLib: string } {
  const samples = Number(arg('samples', '7'));
  const given = arg('before', '');
  const beforeLib = given ? path.resolve(given) : '';
  const own = new Set(['--json', '--samples', '--before']);
  const rest = process.argv.slice(2).filter((a, i, all) => !own.has(a) && !own.has(all[i - 1]));
  const beforeArgs = [...rest.filter((a, i, all) => a !== '--lib' && all[i - 1] !== '--lib'), '--lib', beforeLib];
  const rows: T[] = [], before: T[] = [];
  for (let s = 0; s < samples; s++) {
    if (beforeLib) before.push(freshProcessSample<T>(script, [...beforeArgs, ...moreArgs()], `sample ${s + 1} (${beforeLib})`));
    rows.push(freshProcessSample<T>(script, [...rest, ...moreArgs()], `sample ${s + 1}`));
  }
  return { rows, before, beforeLib };
}

/** Time and calls of one backend function, as timedBackend adds them up. */
export interface CallTime {
  ns: number;
  calls: number;
}

/**
 * A copy of a backend (or any object of functions) whose every function call adds its wall time
 * (ns, two clock reads, about 0.1 us) and its count to `spent` under the function's name.
 */
export function timedBackend<B extends object>(inner: B, spent: Map<string, CallTime>): B {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(inner)) {
    if (typeof v !== 'function') {
      out[key] = v;
      continue;
    }
    const f = v as (...a: unknown[]) => unknown;
    out[key] = (...a: unknown[]): unknown => {
      const t0 = process.hrtime.bigint();
      try {
        return f.apply(inner, a);
      } finally {
        const s = spent.get(key) ?? { ns: 0, calls: 0 };
        s.ns += Number(process.hrtime.bigint() - t0);
        s.calls++;
        spent.set(key, s);
      }
    };
  }
  return out as B;
}
