/**
 * Data-parallel scaling over MPI (issue 17): the reference MLP (784-256-128-10 ReLU, Adam) at a
 * batch of 512 rows per rank, each rank on 1 kernel thread, trained by fitDistributed on 1 rank
 * and on 2 ranks (mpirun on this machine, shared-memory transport); samples/s of both, the
 * speed-up and the scaling efficiency; the time of one allreduce of the whole gradient arena
 * (0.94 MB); and a ring-allreduce cost model for N machines computed from the measured step time.
 *
 *   node dist/bench/mpi-scaling.js [--steps=40] [--backend=native]
 *
 * The command starts `mpirun --oversubscribe --allow-run-as-root -np R node mpi-scaling.js
 * --rank-job` for R = 1 and 2 and reads rank 0's JSON line. Data are seeded random rows: only
 * speed is measured. The first 5 steps of each run are warm-up and not timed.
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import { dense, fitDistributed, getBackend, initDistributed, Rng, Sequential } from '../lib';
import type { BackendName } from '../lib';
import { cpuSnapshot, loadBetween } from './harness';

const arg = (name: string, def: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const STEPS = Number(arg('steps', '40'));
const BACKEND = arg('backend', 'native') as BackendName;
const BATCH = 512;
const WARM = 5;
const LAYERS = [784, 256, 128, 10];

interface RankResult {
  ranks: number;
  samplesPerSecond: number;
  stepMs: number;
  allreduceMs: { median: number; min: number; max: number };
  arenaBytes: number;
  params: number;
}

function rankJob(): void {
  const comm = initDistributed({ timeoutMs: 600_000 });
  const backend = getBackend(BACKEND);
  backend.setNumThreads(1);
  const rows = BATCH * comm.size * (STEPS + WARM);
  const rng = new Rng(1);
  const x = new Float32Array(rows * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) y[i] = rng.int(10);
  const model = new Sequential({
    inputSize: 784, seed: 1, backend,
    layers: [dense(256, { activation: 'relu' }), dense(128, { activation: 'relu' }), dense(10, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
  let t0 = 0n, t1 = 0n;
  fitDistributed(model, x, y, {
    epochs: 1, batchSize: BATCH, seed: 1, communicator: comm,
    callbacks: [{ onBatchEnd: (l) => {
      if (l.step === WARM - 1) t0 = process.hrtime.bigint();
      t1 = process.hrtime.bigint();
    } }],
  });
  const seconds = Number(t1 - t0) / 1e9;
  // The collective alone: the whole gradient arena, as every step reduces it.
  const g = new Float32Array(model.grads.length);
  const times: number[] = [];
  for (let i = 0; i < 60; i++) {
    comm.barrier();
    const a = process.hrtime.bigint();
    comm.allreduce(g);
    times.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  times.splice(0, 10);
  times.sort((a, b) => a - b);
  // The slowest rank decides: every rank reports, rank 0 keeps the largest.
  const worst = new Float64Array([seconds]);
  comm.allreduce(worst);
  if (comm.isRoot) {
    const r: RankResult = {
      ranks: comm.size,
      samplesPerSecond: (STEPS * BATCH * comm.size) / seconds,
      stepMs: (seconds * 1000) / STEPS,
      allreduceMs: { median: times[times.length >> 1], min: times[0], max: times[times.length - 1] },
      arenaBytes: 4 * model.grads.length,
      params: model.grads.length,
    };
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  }
}

function run(ranks: number): RankResult {
  const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', String(ranks), process.execPath, __filename, '--rank-job',
    `--steps=${STEPS}`, `--backend=${BACKEND}`], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, timeout: 600_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`mpirun -np ${ranks} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line.slice(7)) as RankResult;
}

/** Dense layer shapes [in, out] of an MLP. */
function shapes(widths: number[]): [number, number][] {
  return widths.slice(1).map((out, i) => [widths[i], out]);
}

/**
 * One step's time on N machines from the single-rank compute time: ring allreduce
 * 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency, either after the backward pass (one bucket,
 * as fitDistributed does) or per layer, each layer's bucket reduced while the backward pass of
 * the layers below it runs (DDP's buckets). Compute is split between layers by FLOPs.
 */
function predict(widths: number[], computeMs: number, n: number, gbit: number, latencyUs: number): { plain: number; overlap: number } {
  const L = shapes(widths);
  const flops = L.map(([i, o]) => 2 * BATCH * i * o);
  // Forward 1 GEMM per layer, backward 2 (dW, dX) except the first layer (no dX).
  const units = flops.reduce((s, f, k) => s + f * (k === 0 ? 2 : 3), 0);
  const msPerFlop = computeMs / units;
  const bw = (gbit * 1e9) / 8 / 1e3; // bytes per ms
  const ring = (bytes: number) => (n === 1 ? 0 : (2 * (n - 1) / n) * bytes / bw + 2 * (n - 1) * latencyUs / 1e3);
  const bytes = L.map(([i, o]) => 4 * (i * o + o));
  const plain = computeMs + ring(bytes.reduce((s, b) => s + b, 0));
  let t = flops.reduce((s, f) => s + f, 0) * msPerFlop;
  let commEnd = 0;
  for (let k = L.length - 1; k >= 0; k--) {
    t += flops[k] * (k === 0 ? 1 : 2) * msPerFlop;
    commEnd = Math.max(t, commEnd) + ring(bytes[k]);
  }
  const overlap = Math.max(t, commEnd);
  return { plain: computeMs / plain, overlap: computeMs / overlap };
}

function main(): void {
  const before = cpuSnapshot();
  const one = run(1);
  const two = run(2);
  const load = loadBetween(before, cpuSnapshot());
  const speedup = two.samplesPerSecond / one.samplesPerSecond;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`MPI data-parallel scaling: 784-256-128-10 ReLU MLP, Adam, batch ${BATCH} per rank, ${STEPS} timed steps, backend ${BACKEND}, 1 kernel thread per rank`);
  console.log(`machine: ${os.cpus().length} x ${cpu}; other processes used ${load ? (100 * load.others).toFixed(0) : '?'}% of the CPUs during the runs`);
  console.log('');
  console.log('| ranks x threads | samples/s | step ms (per rank) | speed-up | efficiency |');
  console.log('|---|---|---|---|---|');
  console.log(`| 1 x 1 | ${one.samplesPerSecond.toFixed(0)} | ${one.stepMs.toFixed(1)} | 1.00 | 1.00 |`);
  console.log(`| 2 x 1 | ${two.samplesPerSecond.toFixed(0)} | ${two.stepMs.toFixed(1)} | ${speedup.toFixed(2)} | ${(speedup / 2).toFixed(2)} |`);
  console.log('');
  const a = two.allreduceMs;
  console.log(`allreduce of the gradient arena (${two.params} floats, ${(two.arenaBytes / 1e6).toFixed(2)} MB), 2 ranks on loopback: median ${a.median.toFixed(3)} ms (min ${a.min.toFixed(3)}, max ${a.max.toFixed(3)}) over 50`);
  console.log('');
  const wide = [784, 2560, 1280, 10];
  const nets: [string, number[], number][] = [
    ['784-256-128-10', LAYERS, one.stepMs],
    ['784-2560-1280-10 (10x wider)', wide, one.stepMs * flopsOf(wide) / flopsOf(LAYERS)],
  ];
  const links: [string, number, number][] = [['10 Gbit/s, 10 us', 10, 10], ['100 Gbit/s, 2 us', 100, 2]];
  console.log('Predicted efficiency on N machines (compute: the measured 1-rank step scaled by FLOPs; ring allreduce; after backward | per-layer buckets overlapped with backward):');
  console.log('');
  console.log('| model | step ms | link | N=4 | N=16 | N=64 |');
  console.log('|---|---|---|---|---|---|');
  const model: Record<string, unknown>[] = [];
  for (const [name, widths, ms] of nets) {
    for (const [link, gbit, lat] of links) {
      const cells = [4, 16, 64].map((n) => {
        const p = predict(widths, ms, n, gbit, lat);
        model.push({ model: name, stepMs: ms, link, n, efficiency: p.plain, overlapped: p.overlap });
        return `${p.plain.toFixed(2)} / ${p.overlap.toFixed(2)}`;
      });
      console.log(`| ${name} | ${ms.toFixed(1)} | ${link} | ${cells.join(' | ')} |`);
    }
  }
  console.log('');
  console.log(JSON.stringify({ bench: 'mpi-scaling', backend: BACKEND, batchPerRank: BATCH, steps: STEPS, one, two, speedup, efficiency: speedup / 2, load, model }));
}

function flopsOf(widths: number[]): number {
  return shapes(widths).reduce((s, [i, o], k) => s + 2 * BATCH * i * o * (k === 0 ? 2 : 3), 0);
}

if (process.argv.includes('--rank-job')) rankJob();
else main();
