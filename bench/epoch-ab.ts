/**
 * This build against another (an older checkout's dist/) on the native backend, in fresh
 * processes taken in turn: for each net and batch size, --pairs pairs of processes, one of each
 * build, the order swapped every pair. Each process loads Fashion-MNIST into a Dataset, builds
 * the net (ReLU hidden layers, softmax cross-entropy, Adam lr 1e-3, seed 1), trains one untimed
 * epoch, then times --epochs epochs, one fit call each, and reports the median microseconds per
 * step. Printed: both builds' medians over the pairs, and the median and range of the per-pair
 * ratio (before / this: above 1, this build is faster). Pairs of processes rather than one
 * process with both builds: two addons would mean two kernel pools spinning on two cores. Before
 * each pair, the CPUs' round trip over one cache line (bench/link.ts), whose state moves the
 * figures of two-thread steps on a VM (bench/RESULTS.md, run AD).
 *
 *   node dist/bench/epoch-ab.js --before /path/to/old/dist [--nets 784-256-128-10,784-32-10] [--batches 32,128,512] [--pairs 5] [--epochs 3]
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { arg, median } from './harness';
import { linkState, measureLink } from './link';

/** In a child: one process's figure for `dist`'s build. */
function child(dist: string, sizes: number[], batch: number, epochs: number): number {
  /* The build under test, loaded from its own dist/ directory. */
  const lib = require(path.join(dist, 'lib')) as typeof import('../lib');
  const { buildMlp } = require(path.join(dist, 'bench', 'suites', 'mlp')) as typeof import('./suites/mlp');
  const train = lib.loadFashionMnist({ split: 'train' });
  const data = lib.Dataset.from(train.x, train.labels);
  const model = buildMlp(sizes, lib.getBackend('native'));
  const steps = Math.ceil(data.rows / batch);
  model.fit(data, { epochs: 1, batchSize: batch });
  const us: number[] = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = process.hrtime.bigint();
    model.fit(data, { epochs: 1, batchSize: batch });
    us.push(Number(process.hrtime.bigint() - t0) / 1e3 / steps);
  }
  return median(us);
}

function main(): void {
  const epochs = Number(arg('epochs', '3'));
  if (process.argv.includes('--child')) {
    const sizes = arg('net', '').split('-').map(Number);
    process.stdout.write(String(child(arg('dist', ''), sizes, Number(arg('batch', '32')), epochs)));
    return;
  }
  const before = arg('before', '');
  if (!before) throw new Error('epoch-ab: --before /path/to/old/dist is required');
  const here = path.join(__dirname, '..');
  const nets = arg('nets', '784-256-128-10,784-32-10').split(',');
  const batches = arg('batches', '32,128,512').split(',').map(Number);
  const pairs = Number(arg('pairs', '5'));
  const core = process.env.OPENBLAS_CORETYPE ? `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : 'OPENBLAS_CORETYPE unset';
  console.log(`native backend, steady epochs, this build (${here}) against ${before}; ${core}; ${pairs} pairs of processes, ${epochs} timed epochs each`);
  console.log('| net | batch | this, us/step | before, us/step | before / this, per pair | round trip before each pair, ns |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const net of nets) {
    for (const batch of batches) {
      const run = (dist: string): number => Number(execFileSync(process.execPath,
        [__filename, '--child', '--dist', dist, '--net', net, '--batch', String(batch), '--epochs', String(epochs)], { encoding: 'utf8' }));
      const mine: number[] = [], theirs: number[] = [], ratio: number[] = [], links: string[] = [];
      for (let p = 0; p < pairs; p++) {
        const ns = measureLink();
        links.push(ns === null ? 'n/a' : `${ns.toFixed(0)} ${linkState(ns)}`);
        let a: number, b: number;
        if (p % 2 === 0) { a = run(here); b = run(path.resolve(before)); } else { b = run(path.resolve(before)); a = run(here); }
        mine.push(a);
        theirs.push(b);
        ratio.push(b / a);
      }
      console.log(`| ${net} | ${batch} | ${median(mine).toFixed(1)} | ${median(theirs).toFixed(1)} | ` +
        `${median(ratio).toFixed(3)} (${Math.min(...ratio).toFixed(3)}-${Math.max(...ratio).toFixed(3)}) | ${links.join(', ')} |`);
    }
  }
}

main();
