/**
 * Peers: other libraries running the reference workload, each in a process of its own so that
 * their threads, allocators and JITs do not share a process with blasnet or with each other.
 *
 * - TensorFlow.js 4.22 (bench/peers/tfjs-mlp.js) on its pure-JS CPU backend and its WASM backend.
 *   Installed apart from the library: `npm ci --prefix bench/peers`.
 * - PyTorch (bench/peers/torch_mlp.py), Debian's python3-torch: `apt-get install python3-torch`.
 *   Run at several thread settings; the best one is PyTorch's figure. The Python is
 *   pythonForTorch()'s (BLASNET_PYTHON picks one).
 *
 * A peer that is not installed is skipped with the reason; the rest of the run goes on.
 *
 * Either a peer runs all its timed runs in one process (runTfjs, runTorch), or it serves runs one
 * at a time (startTfjs, startTorch: the scripts' --serve mode, a ServedPeer here), so that a
 * caller can interleave runs of several peers while each process starts, loads its data and warms
 * up only once.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
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

/**
 * A peer process that times one run per "run" line written to its stdin and answers each with
 * one JSON line; its first line (after its start-up, data load and warmup) says what it is.
 * Used one request at a time: `run` must not be called again before the last one resolved.
 */
export class ServedPeer {
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;
  private readonly stderrTail: string[] = [];
  private exit: Promise<number | string>;

  private constructor(private readonly child: ChildProcess, private readonly what: string, private readonly install: string) {
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => this.push(line)).on('close', () => {
      this.ended = true;
      this.push(null);
    });
    // A peer that died makes writes to its stdin fail; next() reports its exit instead.
    child.stdin?.on('error', () => undefined);
    // Only the end of stderr is kept: it says why a peer stopped.
    readline.createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 5) this.stderrTail.shift();
    });
    this.exit = new Promise((resolve) => {
      child.on('error', (e) => resolve((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOENT' : e.message));
      child.on('exit', (code, signal) => resolve(code ?? String(signal)));
    });
  }

  /** The process's id, for its CPU time (harness cpuSnapshot). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts `command args` and waits for its first JSON line, or says why there is none. */
  static async start(command: string, args: string[], env: NodeJS.ProcessEnv, what: string, install: string):
    Promise<{ ok: true; peer: ServedPeer; info: Record<string, unknown> } | { ok: false; reason: string }> {
    const peer = new ServedPeer(spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] }), what, install);
    const first = await peer.next();
    if (!first.ok) return first;
    return { ok: true, peer, info: first.json };
  }

  /**
   * One timed run: the peer's JSON line for it, or why it failed (the peer is then stopped).
   * `request` is the line sent (inference peers take "run B" for batch B).
   */
  async run(request = 'run'): Promise<{ ok: true; json: Record<string, unknown> } | { ok: false; reason: string }> {
    this.child.stdin?.write(`${request}\n`);
    return this.next();
  }

  /** Ends the peer's input and waits for it to exit. */
  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill(), 10000);
    await this.exit;
    clearTimeout(timer);
  }

  private push(line: string | null): void {
    if (line !== null) this.lines.push(line);
    const w = this.waiting;
    if (w && (this.lines.length > 0 || this.ended)) {
      this.waiting = null;
      w(this.lines.length > 0 ? (this.lines.shift() as string) : null);
    }
  }

  private async next(): Promise<{ ok: true; json: Record<string, unknown> } | { ok: false; reason: string }> {
    const line = this.lines.length > 0 ? this.lines.shift() as string
      : this.ended ? null : await new Promise<string | null>((resolve) => { this.waiting = resolve; });
    if (line !== null) {
      try {
        return { ok: true, json: JSON.parse(line) as Record<string, unknown> };
      } catch (e) {
        this.child.kill();
        return { ok: false, reason: `${this.what}: not a JSON line (${(e as Error).message}): ${line.slice(0, 200)}` };
      }
    }
    const status = await this.exit;
    if (status === 'ENOENT') return { ok: false, reason: `${this.what}: command not found (${this.install})` };
    if (status === NOT_INSTALLED) return { ok: false, reason: `not installed (${this.install})` };
    return { ok: false, reason: `${this.what} exited with ${status}: ${this.stderrTail[this.stderrTail.length - 1] ?? ''}` };
  }
}

/** TensorFlow.js on `backend` ('cpu' or 'wasm'): `runs` timed runs of `steps` steps after a short warmup. */
export function runTfjs(backend: 'cpu' | 'wasm', sizes: readonly number[], batch: number, steps: number, runs: number): PeerResult {
  const script = path.join(ROOT, 'bench', 'peers', 'tfjs-mlp.js');
  return runPeer(process.execPath, [script, `--backend=${backend}`, `--sizes=${sizes.join(',')}`, `--batch=${batch}`,
    `--steps=${steps}`, `--runs=${runs}`], process.env, `tfjs-${backend}`, 'npm ci --prefix bench/peers');
}

/** TensorFlow.js on `backend` serving runs of `steps` steps (ServedPeer), after a short warmup. */
export function startTfjs(backend: 'cpu' | 'wasm', sizes: readonly number[], batch: number, steps: number) {
  const script = path.join(ROOT, 'bench', 'peers', 'tfjs-mlp.js');
  return ServedPeer.start(process.execPath, [script, `--backend=${backend}`, `--sizes=${sizes.join(',')}`, `--batch=${batch}`,
    `--steps=${steps}`, '--serve=1'], process.env, `tfjs-${backend}`, 'npm ci --prefix bench/peers');
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
  return runPeer(pythonForTorch(), args, torchEnv(setting, baseEnv), `pytorch (${setting.label})`, 'apt-get install python3-torch');
}

let torchPython: string | null = null;

/**
 * The Python that runs the PyTorch peers: BLASNET_PYTHON when set; else the first of `python3`
 * on PATH and Debian's /usr/bin/python3 that imports torch (a version manager's python3 on PATH
 * hides the system one, where `apt-get install python3-torch` puts it); else `python3`, whose
 * failure then names the package to install.
 */
export function pythonForTorch(): string {
  if (torchPython !== null) return torchPython;
  const given = process.env.BLASNET_PYTHON;
  if (given) return (torchPython = given);
  const imports = (py: string) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120000 }).status === 0;
  torchPython = ['python3', '/usr/bin/python3'].find(imports) ?? 'python3';
  return torchPython;
}

/** `baseEnv` plus the setting's variables; the caller's own thread settings must not leak into the "default" row. */
function torchEnv(setting: TorchSetting, baseEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...baseEnv };
  for (const k of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GLIBC_TUNABLES', 'OMP_WAIT_POLICY']) delete env[k];
  return { ...env, ...setting.env };
}

/** PyTorch at one setting serving one-epoch runs (ServedPeer), in a process started as runTorch's. */
export function startTorch(setting: TorchSetting, sizes: readonly number[], batch: number, baseEnv: NodeJS.ProcessEnv = process.env, touch = false) {
  const script = path.join(ROOT, 'bench', 'peers', 'torch_mlp.py');
  const args = [script, `--sizes=${sizes.join(',')}`, `--batch=${batch}`, '--serve'];
  if (touch) args.push('--touch');
  if (setting.threads !== null) args.push(`--threads=${setting.threads}`);
  return ServedPeer.start(pythonForTorch(), args, torchEnv(setting, baseEnv), `pytorch (${setting.label})`, 'apt-get install python3-torch');
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

const ORT_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix bench/peers';

function ortInferenceArgs(model: string, job: InferencePeerJob): string[] {
  const args = [path.join(ROOT, 'bench', 'peers', 'ort-infer.js'), `--model=${model}`, `--input=${job.inputFile}`, `--features=${job.sizes[0]}`,
    `--batches=${job.batches.join(',')}`, `--outputs=${job.outputsFile}`, ...timingArgs(job)];
  if (job.threads !== null) args.push(`--threads=${job.threads}`);
  return args;
}

function torchInferenceArgs(weights: string, job: InferencePeerJob): string[] {
  const args = [path.join(ROOT, 'bench', 'peers', 'torch_infer.py'), `--weights=${weights}`, `--sizes=${job.sizes.join(',')}`, `--input=${job.inputFile}`,
    `--batches=${job.batches.join(',')}`, `--outputs=${job.outputsFile}`, ...timingArgs(job)];
  if (job.threads !== null) args.push(`--threads=${job.threads}`);
  return args;
}

/** PyTorch's environment for the inference peer: none of the thread or allocator settings of the caller's. */
function torchInferenceEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GLIBC_TUNABLES', 'OMP_WAIT_POLICY']) delete env[k];
  return env;
}

/**
 * onnxruntime-node serving one sample per request "run B" (ServedPeer; bench/peers/ort-infer.js
 * --serve), after it has warmed up each batch and written the outputs to job.outputsFile.
 */
export function startOrtInference(model: string, job: InferencePeerJob) {
  return ServedPeer.start(process.execPath, [...ortInferenceArgs(model, job), '--serve'], process.env, 'onnxruntime-node', ORT_INSTALL);
}

/** PyTorch (bench/peers/torch_infer.py --serve) with the state_dict in the safetensors file `weights`, softmax output, serving as startOrtInference. */
export function startTorchInference(weights: string, job: InferencePeerJob) {
  return ServedPeer.start(pythonForTorch(), [...torchInferenceArgs(weights, job), '--serve'], torchInferenceEnv(), 'pytorch', 'apt-get install python3-torch');
}
