/**
 * Peers: other libraries running the reference workload, each in a process of its own so that
 * their threads, allocators and JITs do not share a process with blasnet or with each other.
 *
 * - TensorFlow.js 4.22 (bench/peers/tfjs-mlp.js) on its pure-JS CPU backend and its WASM backend.
 *   Installed apart from the library: `npm ci --prefix bench/peers`.
 * - PyTorch (bench/peers/torch_mlp.py), Debian's python3-torch: `apt-get install python3-torch`.
 *   Run at several thread settings; the best one is PyTorch's figure.
 *
 * A peer that is not installed is skipped with the reason; the rest of the run goes on.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from './drivers';
import { median, Rate, Stats, statsOf } from './harness';

/** A peer's measurement of one configuration. */
export interface PeerRun {
  /** Samples/s per timed run, with median, min and max. */
  rate: Rate;
  /** Seconds per timed run (median etc.), for the "timed" column. */
  stats: Stats;
  /** Rows per timed run. */
  rows: number;
  /** Steps per timed run. */
  steps: number;
  /** Threads the peer computed on. */
  threads: number;
  /** What the peer reported about itself (version, backend, BLAS, environment). */
  info: Record<string, unknown>;
}

/** A run, or why there is none. */
export type PeerResult = { ok: true; run: PeerRun } | { ok: false; reason: string };

/** Exit status the peer scripts use for "not installed". */
const NOT_INSTALLED = 3;

function fromJson(json: Record<string, unknown>): PeerRun {
  const perRun = json.samplesPerSecond as number[];
  const seconds = json.secondsPerRun as number[];
  const steps = json.steps as number;
  const rows = (json.rows as number | undefined) ?? steps * (json.batch as number);
  return {
    rate: { median: median(perRun), min: Math.min(...perRun), max: Math.max(...perRun) },
    stats: statsOf(seconds),
    rows,
    steps,
    threads: json.threads as number,
    info: json,
  };
}

function runPeer(command: string, args: string[], env: NodeJS.ProcessEnv, what: string, install: string): PeerResult {
  const r = runPeerRaw(command, args, env, what, install);
  return r.ok ? { ok: true, run: fromJson(r.json) } : r;
}

/** TensorFlow.js on `backend` ('cpu' or 'wasm'): `runs` timed runs of `steps` steps after a short warmup. */
export function runTfjs(backend: 'cpu' | 'wasm', sizes: readonly number[], batch: number, steps: number, runs: number): PeerResult {
  const script = path.join(ROOT, 'bench', 'peers', 'tfjs-mlp.js');
  return runPeer(process.execPath, [script, `--backend=${backend}`, `--sizes=${sizes.join(',')}`, `--batch=${batch}`,
    `--steps=${steps}`, `--runs=${runs}`], process.env, `tfjs-${backend}`, 'npm ci --prefix bench/peers');
}

/** One way of running PyTorch: its intra-op threads and the environment it starts with. */
export interface TorchSetting {
  /** Short label for tables. */
  label: string;
  /** torch.set_num_threads, or null for PyTorch's own default. */
  threads: number | null;
  /** Environment set before torch loads. */
  env: Record<string, string>;
}

/**
 * glibc malloc tunables that keep freed blocks up to 32 MiB in the heap: with glibc's defaults
 * every step frees PyTorch's large gradient and Adam temporaries back to the kernel and
 * page-faults them in again (about 330 faults per step at batch 32 on the reference net).
 */
const MALLOC_TUNED = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824';

/**
 * The settings PyTorch is run at; its best (highest median) in each configuration is its figure.
 * Debian's torch does its float GEMMs in OpenBLAS (pthreads), whose thread pool is separate from
 * torch's OpenMP threads: torch.set_num_threads does not change it, OPENBLAS_NUM_THREADS (or else
 * OMP_NUM_THREADS) does. On this kind of machine:
 * - "default": no settings. torch 1.13 takes half the cores for its own threads (1 here) and
 *   OpenBLAS one per core, so the GEMMs run on every core and the rest on one.
 * - "N threads, OpenBLAS 1": torch's threads on every core, OpenBLAS on one, so only one pool
 *   computes. (N torch threads with OpenBLAS at its default runs two busy pools on the same cores,
 *   2-3x slower than the default here; it is left out.)
 * - each of those with MALLOC_TUNED: not a default, but the fastest PyTorch found on this machine.
 */
export function torchSettings(cores: number): TorchSetting[] {
  const out: TorchSetting[] = [{ label: 'default', threads: null, env: {} }];
  if (cores > 1) {
    out.push({ label: `${cores} threads, OpenBLAS 1`, threads: cores, env: { OMP_NUM_THREADS: String(cores), OPENBLAS_NUM_THREADS: '1' } });
  }
  for (const s of [...out]) {
    out.push({ label: `${s.label} + malloc`, threads: s.threads, env: { ...s.env, GLIBC_TUNABLES: MALLOC_TUNED } });
  }
  return out;
}

/**
 * PyTorch at one setting: `runs` timed epochs (or `steps` steps each, when given), in a process
 * started from `baseEnv` (default: this process's environment) plus the setting's variables.
 */
export function runTorch(setting: TorchSetting, sizes: readonly number[], batch: number, runs: number, steps?: number,
  baseEnv: NodeJS.ProcessEnv = process.env): PeerResult {
  const script = path.join(ROOT, 'bench', 'peers', 'torch_mlp.py');
  const args = [script, `--sizes=${sizes.join(',')}`, `--batch=${batch}`, `--runs=${runs}`];
  if (setting.threads !== null) args.push(`--threads=${setting.threads}`);
  if (steps !== undefined) args.push(`--steps=${steps}`);
  // The caller's own thread settings must not leak into the "default" row.
  const env = { ...baseEnv };
  for (const k of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GLIBC_TUNABLES', 'OMP_WAIT_POLICY']) delete env[k];
  return runPeer('python3', args, { ...env, ...setting.env }, `pytorch (${setting.label})`, 'apt-get install python3-torch');
}

/** An inference peer's timings: per batch size, seconds per call of each timed sample. */
export interface InferencePeerRun {
  /** Stats of seconds per call, by batch size. */
  byBatch: Map<number, Stats>;
  /** What the peer reported about itself (version, threads). */
  info: Record<string, unknown>;
}

/** What an inference peer is given: the model in its format, the input rows and where to put its outputs. */
export interface InferencePeerJob {
  sizes: readonly number[];
  batches: readonly number[];
  /** Raw float32 rows of sizes[0] values, at least max(batches) of them. */
  inputFile: string;
  /** Where the peer writes each batch's outputs (raw float32, batches in order). */
  outputsFile: string;
  timing: { warmup: number; minTime: number; runs: number };
  /** The peer's intra-op threads, or null for its default. */
  threads: number | null;
}

function runInferencePeer(command: string, args: string[], env: NodeJS.ProcessEnv, what: string, install: string):
  { ok: true; run: InferencePeerRun } | { ok: false; reason: string } {
  const r = runPeerRaw(command, args, env, what, install);
  if (!r.ok) return r;
  const results = r.json.results as { batch: number; secondsPerCall: number[] }[];
  return { ok: true, run: { byBatch: new Map(results.map((x) => [x.batch, statsOf(x.secondsPerCall)])), info: r.json } };
}

/** Runs a peer script and parses the JSON line it ends its output with, or says why it did not run. */
function runPeerRaw(command: string, args: string[], env: NodeJS.ProcessEnv, what: string, install: string):
  { ok: true; json: Record<string, unknown> } | { ok: false; reason: string } {
  const r = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 900000, maxBuffer: 16 << 20 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? `${command} not found (${install})` : `${what}: ${r.error.message}` };
  }
  if (r.status === NOT_INSTALLED) return { ok: false, reason: `not installed (${install})` };
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    return { ok: false, reason: `${what} exited with ${r.status ?? r.signal}: ${last}` };
  }
  try {
    return { ok: true, json: JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown> };
  } catch (e) {
    return { ok: false, reason: `${what}: no JSON result (${(e as Error).message})` };
  }
}

const timingArgs = (job: InferencePeerJob): string[] =>
  [`--warmup=${job.timing.warmup}`, `--min-time=${job.timing.minTime}`, `--runs=${job.timing.runs}`];

/** onnxruntime-node (bench/peers/ort-infer.js) running the ONNX model in `model`. */
export function runOrtInference(model: string, job: InferencePeerJob): { ok: true; run: InferencePeerRun } | { ok: false; reason: string } {
  const script = path.join(ROOT, 'bench', 'peers', 'ort-infer.js');
  const args = [script, `--model=${model}`, `--input=${job.inputFile}`, `--features=${job.sizes[0]}`, `--batches=${job.batches.join(',')}`,
    `--outputs=${job.outputsFile}`, ...timingArgs(job)];
  if (job.threads !== null) args.push(`--threads=${job.threads}`);
  return runInferencePeer(process.execPath, args, process.env, 'onnxruntime-node', 'ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix bench/peers');
}

/** PyTorch (bench/peers/torch_infer.py) with the state_dict in the safetensors file `weights`, softmax output. */
export function runTorchInference(weights: string, job: InferencePeerJob): { ok: true; run: InferencePeerRun } | { ok: false; reason: string } {
  const script = path.join(ROOT, 'bench', 'peers', 'torch_infer.py');
  const args = [script, `--weights=${weights}`, `--sizes=${job.sizes.join(',')}`, `--input=${job.inputFile}`, `--batches=${job.batches.join(',')}`,
    `--outputs=${job.outputsFile}`, ...timingArgs(job)];
  if (job.threads !== null) args.push(`--threads=${job.threads}`);
  const env = { ...process.env };
  for (const k of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GLIBC_TUNABLES', 'OMP_WAIT_POLICY']) delete env[k];
  return runInferencePeer('python3', args, env, 'pytorch', 'apt-get install python3-torch');
}
