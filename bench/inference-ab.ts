/**
 * The reference MLP's forward pass without the model around it, this build against another in
 * the same process, calls alternating: frozen (packDense once, then packedDenseForward per layer,
 * as compileInference({ freeze: true }) runs it) and live (denseForward per layer, as predict,
 * compileInference and training run it: OpenBLAS, or the packed kernels over weights packed per
 * call where info().packedForward is on), at batch 1, 2, 3, 4, 16 and 1000; then single
 * products of 1-4 rows (the first layer's forward product and the second layer's input
 * gradient), which OpenBLAS handles differently by core. Microseconds per call, median (min-max) over the samples.
 *
 *   node dist/bench/inference-ab.js [--before OLD/dist/lib] [--samples 15] [--batches 1,2,3,4,16,1000] [--no-products]
 *
 * Without --before only this build runs. Both builds load their own addon; before each sample
 * (about 20 ms of calls) the script waits 2 ms, so that the other build's idle kernel threads have
 * stopped spinning.
 */
import * as path from 'path';
import { arg, statsOf } from './harness';
import { timeCell } from './report';
import { measureLink, linkState } from './link';

type Lib = typeof import('../lib');
type Backend = ReturnType<Lib['getBackend']>;

const DIMS: ReadonlyArray<readonly [number, number]> = [[784, 256], [256, 128], [128, 10]];

interface Build {
  b: Lib;
  be: Backend;
  aligned: (n: number) => Float32Array;
  packedLength: (outDim: number, inDim: number) => number;
}

function load(lib: string): Build {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as Lib;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const memory = require(path.join(lib, 'backend', 'memory')) as typeof import('../lib/backend/memory');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const packed = require(path.join(lib, 'backend', 'packed')) as typeof import('../lib/backend/packed');
  return { b, be: b.getBackend('native'), aligned: (n) => memory.alignedFloat32Array(n), packedLength: packed.packedDenseLength };
}

/** "median (min-max)" of samples in microseconds. */
function cell(us: number[]): string {
  return timeCell(statsOf(us), 1);
}

function main(): void {
  const libs = [path.resolve(path.join(__dirname, '..', 'lib'))];
  const before = arg('before', '');
  if (before) libs.push(path.resolve(before));
  const samples = Number(arg('samples', '15'));
  const builds = libs.map(load);
  const { b, aligned } = builds[0];
  const rng = new b.Rng(7);
  const random = (n: number): Float32Array => {
    const a = aligned(n);
    a.set(rng.uniformArray(n, -0.5, 0.5));
    return a;
  };
  const relu = b.activationId('relu');
  const layers = DIMS.map(([inDim, outDim]) => ({ inDim, outDim, w: random(outDim * inDim), bias: random(outDim) }));
  const packed = builds.map(({ be, packedLength }) => layers.map((l) => {
    const p = aligned(packedLength(l.outDim, l.inDim));
    be.packDense(l.outDim, l.inDim, l.w, l.bias, p);
    return p;
  }));
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const time = (f: () => void, reps: number): number => {
    // The other build's idle kernel threads spin for 200 us before they sleep (native/pool.cc).
    Atomics.wait(pause, 0, 0, 2);
    for (let r = 0; r < 3; r++) f();
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) f();
    return Number(process.hrtime.bigint() - t0) / 1e3 / reps;
  };
  const info = builds[0].be.info() as { coreName?: string; kernelIsa?: string; packedForward?: boolean };
  const link = measureLink();
  console.log(`native backend, ${builds[0].be.getNumThreads()} thread(s), OpenBLAS core ${info.coreName}, kernels ` +
    `${info.kernelIsa}, this build's live forward on ${info.packedForward ? 'the packed kernels' : 'OpenBLAS'}; builds: this (${libs[0]})${before ? `, before (${libs[1]})` : ''}; ` +
    `CPUs' round trip ${link === null ? 'not measured' : `${link.toFixed(0)} ns, ${linkState(link)}`}`);
  const who = before ? ['this', 'before'] : ['this'];
  console.log('\nforward pass of 784-256-128-10 (ReLU), us per call');
  console.log(`| batch | ${who.map((w) => `frozen, ${w}`).join(' | ')} | ${who.map((w) => `live, ${w}`).join(' | ')} |`);
  console.log(`| --- | ${who.map(() => '---').join(' | ')} | ${who.map(() => '---').join(' | ')} |`);
  const batches = arg('batches', '1,2,3,4,16,1000').split(',').map(Number);
  if (batches.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--batches: positive integers, got ${arg('batches', '')}`);
  for (const batch of batches) {
    const h = [random(batch * 784), random(batch * 256), random(batch * 128), random(batch * 10)];
    const z = [random(batch * 256), random(batch * 128), random(batch * 10)];
    const reps = Math.max(10, Math.round(1.5e9 / (batch * 230000)));  // about 20 ms a sample
    const cells: string[] = [];
    for (const frozen of [true, false]) {
      const t: number[][] = builds.map(() => []);
      for (let s = 0; s < samples; s++) {
        builds.forEach(({ be }, i) => {
          t[i].push(time(frozen
            ? () => { for (let l = 0; l < 3; l++) be.packedDenseForward(relu, 0, batch, layers[l].inDim, layers[l].outDim, h[l], packed[i][l], h[l + 1]); }
            : () => { for (let l = 0; l < 3; l++) be.denseForward(relu, 0, batch, layers[l].inDim, layers[l].outDim, h[l], layers[l].w, layers[l].bias, z[l], h[l + 1]); },
          reps));
        });
      }
      cells.push(...t.map(cell));
    }
    console.log(`| ${batch} | ${cells.join(' | ')} |`);
  }
  if (process.argv.includes('--no-products')) return;
  console.log('\nsingle products of few rows, us per call');
  console.log(`| product | rows | ${who.join(' | ')} |`);
  console.log(`| --- | --- | ${who.map(() => '---').join(' | ')} |`);
  const products = [
    { name: 'forward 784->256 (x W^T)', transB: true, n: 256, k: 784 },
    { name: 'input gradient 256->784 (dZ W)', transB: false, n: 784, k: 256 },
  ];
  for (const p of products) {
    for (const m of [1, 2, 3, 4]) {
      const a = random(m * p.k), w = random(p.n * p.k), c = random(m * p.n);
      const t: number[][] = builds.map(() => []);
      for (let s = 0; s < samples; s++) {
        builds.forEach(({ be }, i) => t[i].push(time(() => be.gemm(false, p.transB, m, p.n, p.k, 1, a, w, 0, c), 1000)));
      }
      console.log(`| ${p.name} | ${m} | ${t.map(cell).join(' | ')} |`);
    }
  }
}

main();
