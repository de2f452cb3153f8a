/**
 * One thread or all of them for a training step (fit's threads option): for each net and batch
 * size, two models train on Fashion-MNIST's 60,000 images (Adam lr 1e-3, softmax cross-entropy,
 * ReLU hidden layers), one with `threads: 1` and one with the backend's thread count, one epoch
 * each in turn for --rounds rounds in this one process (the order alternates every round), after
 * one untimed epoch each. Reports the median microseconds per step of each, the median and range
 * of the per-round ratio (one thread's time over all threads'). A second thread's gain depends
 * on the net, the batch size and the machine's state (on a VM, on what shares its cores): the
 * figures say when fit's threads option is worth setting. Before each round, the CPUs' round trip
 * over one cache line (bench/link.ts): on the VM of bench/RESULTS.md run AD it moves between two
 * states, and a small net's gain seems to move with it.
 *
 *   node dist/bench/step-threads.js [--nets 784-16-10,784-32-10,...] [--batches 16,32,64,128] [--rounds 6] [--json]
 */
import { Dataset, getBackend, loadFashionMnist } from '../lib';
import { arg, median } from './harness';
import { linkState, measureLink } from './link';
import { buildMlp } from './suites/mlp';

interface Row {
  net: string;
  batch: number;
  work: number;
  oneThreadUs: number;
  allThreadsUs: number;
  /** Per round: one thread's time over all threads' (above 1: all threads were faster). */
  speedUp: { median: number; min: number; max: number };
  /** The CPUs' round trip before each round (bench/link.ts), ns; null where it cannot be measured. */
  linkNs: (number | null)[];
}

/** "min-max (state)" of the round trips measured, or n/a. */
function linkRange(ns: (number | null)[]): string {
  const got = ns.filter((x): x is number => x !== null);
  if (got.length === 0) return 'n/a';
  const lo = Math.min(...got), hi = Math.max(...got);
  const states = [...new Set(got.map(linkState))].join('/');
  return `${lo.toFixed(0)}-${hi.toFixed(0)} (${states})`;
}

function main(): void {
  const nets = arg('nets', '784-16-10,784-32-10,784-64-10,784-128-10,784-64-64-10,784-256-128-10').split(',');
  const batches = arg('batches', '16,32,64,128').split(',').map(Number);
  const rounds = Number(arg('rounds', '6'));
  const native = getBackend('native');
  const all = native.getNumThreads();
  const train = loadFashionMnist({ split: 'train' });
  const data = Dataset.from(train.x, train.labels);
  const rows: Row[] = [];
  for (const net of nets) {
    const sizes = net.split('-').map(Number);
    for (const batch of batches) {
      const steps = Math.ceil(data.rows / batch);
      const models = { 1: buildMlp(sizes, native), [all]: buildMlp(sizes, native) } as Record<number, ReturnType<typeof buildMlp>>;
      const epoch = (threads: number): number => {
        const t0 = process.hrtime.bigint();
        models[threads].fit(data, { epochs: 1, batchSize: batch, threads });
        return Number(process.hrtime.bigint() - t0) / 1e3 / steps;
      };
      epoch(1);
      epoch(all);
      const one: number[] = [], many: number[] = [], ratio: number[] = [], linkNs: (number | null)[] = [];
      for (let r = 0; r < rounds; r++) {
        linkNs.push(measureLink());
        const order = r % 2 === 0 ? [1, all] : [all, 1];
        const t: Record<number, number> = {};
        for (const n of order) t[n] = epoch(n);
        one.push(t[1]);
        many.push(t[all]);
        ratio.push(t[1] / t[all]);
      }
      const speedUp = { median: median(ratio), min: Math.min(...ratio), max: Math.max(...ratio) };
      rows.push({ net, batch, work: batch * models[1].params.length, oneThreadUs: median(one), allThreadsUs: median(many), speedUp, linkNs });
    }
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const info = native.info();
  console.log(`native backend, 1 against ${all} threads, OpenBLAS core ${info.coreName}, kernels ${info.kernelIsa}; ` +
    `${rounds} alternating one-epoch rounds per row after one untimed epoch each`);
  console.log(`| net | batch | batch x parameters | 1 thread, us/step | ${all} threads, us/step | ${all} threads' speed-up (range) | round trip, ns (bench/link.ts) |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.net} | ${r.batch} | ${(r.work / 1e6).toFixed(2)}M | ${r.oneThreadUs.toFixed(1)} | ${r.allThreadsUs.toFixed(1)} | ` +
      `${r.speedUp.median.toFixed(2)}x (${r.speedUp.min.toFixed(2)}-${r.speedUp.max.toFixed(2)}) | ${linkRange(r.linkNs)} |`);
  }
}

main();
