/**
 * Each GEMM of a training step of the reference MLPs (784-256-128-10 and 784-32-10), alone,
 * through the native backend's gemm at the given batch sizes and thread counts, and the bias
 * gradient's column sums of the same steps: how the backend cuts a product over its threads and
 * into OpenBLAS calls (native/gemm.cc), and how fast colSum runs, shape by shape. Medians over
 * `--runs` samples of at least `--min-time` seconds, microseconds per call.
 *
 *   node dist/bench/step-gemms.js [--batch 32,128,512] [--threads 1,2] [--runs 5] [--min-time 0.05] [--unaligned] [--json]
 *
 * The arrays are allocated as the library allocates a model's (lib/backend/memory.ts: on 64-byte
 * boundaries once the addon has loaded), or with --unaligned as V8 places them.
 *
 * Another build's addon is measured with the same script through BLASNET_ADDON_PATH
 * (lib/backend/native.ts), alternating the two for a before/after comparison:
 *
 *   for r in 1 2; do BLASNET_ADDON_PATH=/tmp/old/build/Release/blasnet.node node dist/bench/step-gemms.js; node dist/bench/step-gemms.js; done
 */
import { getBackend, Rng } from '../lib';
import { alignedFloat32Array } from '../lib/backend/memory';
import { arg, measure, Stats } from './harness';
import { stepGemms } from './suites/mlp';

const NETS: readonly (readonly number[])[] = [[784, 256, 128, 10], [784, 32, 10]];

interface Row {
  net: string;
  batch: number;
  threads: number;
  op: string;
  shape: string;
  us: number;
  min: number;
  max: number;
}

const list = (name: string, fallback: string): number[] => arg(name, fallback).split(',').map(Number);

function main(): void {
  const native = getBackend('native');
  const timing = { warmup: 0.02, minTime: Number(arg('min-time', '0.05')), runs: Number(arg('runs', '5')) };
  const aligned = !process.argv.includes('--unaligned');
  const rows: Row[] = [];
  const add = (net: readonly number[], batch: number, threads: number, op: string, shape: string, s: Stats): void => {
    rows.push({ net: net.join('-'), batch, threads, op, shape, us: s.median * 1e6, min: s.min * 1e6, max: s.max * 1e6 });
  };
  const defaultThreads = native.getNumThreads();
  for (const threads of list('threads', `1,${defaultThreads}`)) {
    native.setNumThreads(threads);
    for (const net of NETS) {
      for (const batch of list('batch', '32,128,512')) {
        for (const g of stepGemms(net, batch, aligned)) {
          const op = `${g.transA ? 'T' : 'N'}${g.transB ? 'T' : 'N'}`;
          const s = measure((reps) => {
            for (let r = 0; r < reps; r++) native.gemm(g.transA, g.transB, g.m, g.n, g.k, 1, g.a, g.b, 0, g.c);
          }, timing);
          add(net, batch, threads, op, `${g.m}x${g.n}x${g.k}`, s);
        }
        for (const cols of net.slice(1)) {
          const x = aligned ? alignedFloat32Array(batch * cols) : new Float32Array(batch * cols), out = new Float32Array(cols);
          x.set(new Rng(5).uniformArray(batch * cols, -1, 1));
          add(net, batch, threads, 'colSum', `${batch}x${cols}`, measure((reps) => {
            for (let r = 0; r < reps; r++) native.colSum(batch, cols, 0, x, out);
          }, timing));
        }
      }
    }
  }
  native.setNumThreads(defaultThreads);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const info = native.info();
  console.log(`native backend, OpenBLAS core ${info.coreName}, kernels ${info.kernelIsa}, addon ${process.env.BLASNET_ADDON_PATH ?? '(this build)'}, arrays ${aligned ? 'allocated as the library\'s' : 'unaligned'}; ` +
    `median (min-max) of ${timing.runs} samples of >= ${timing.minTime} s, us per call`);
  console.log('| net | batch | threads | op | M x N x K (colSum: rows x cols) | us | range |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.net} | ${r.batch} | ${r.threads} | ${r.op} | ${r.shape} | ${r.us.toFixed(1)} | ${r.min.toFixed(1)}-${r.max.toFixed(1)} |`);
  }
}

main();
