/**
 * A fit's first epoch after the process has idled (the mlp suite's rounds: each driver waits while
 * the others run). One process loads Fashion-MNIST and warms up, then `runs` times: idles `idle`
 * seconds (a sleeping child process, so nothing of this one runs), optionally reads one value of
 * every 4 KB page of the training set (`--touch`, untimed), and fits a fresh 784-256-128-10 model
 * (Adam, no validation) two epochs at `batch`, as bench/mlp-native.ts does. Prints per run the
 * first and second epoch, and the minor page faults and context switches of each.
 *
 *   node dist/bench/idle-epoch.js [--runs 3] [--idle 75] [--batch 512] [--touch]
 */
import { execFileSync } from 'child_process';
import { getBackend, loadFashionMnist, Matrix } from '../lib';
import { arg } from './harness';
import { buildMlp, touchPages } from './suites/mlp';

const SIZES = [784, 256, 128, 10];

function main(): void {
  const runs = Number(arg('runs', '3')), idle = Number(arg('idle', '75')), batch = Number(arg('batch', '512'));
  const touch = process.argv.includes('--touch');
  const train = loadFashionMnist({ split: 'train' });
  const native = getBackend('native');
  const warm = 20 * batch;
  buildMlp(SIZES, native).fit(new Matrix(train.x.data.subarray(0, warm * 784), warm, 784), train.labels.subarray(0, warm), { epochs: 2, batchSize: batch });
  process.stdout.write(`idle ${idle} s before each run, ${touch ? 'pages read after the idle' : 'no page reads'}, batch ${batch}\n`);
  process.stdout.write('| run | first epoch ms | second epoch ms | first over second | minor faults (1st / 2nd) | involuntary switches (1st / 2nd) |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- |\n');
  for (let r = 0; r < runs; r++) {
    if (idle > 0) execFileSync('sleep', [String(idle)]);
    if (touch) touchPages(train.x.data);
    const m = buildMlp(SIZES, native);
    const usage = [process.resourceUsage()];
    const ends: number[] = [];
    const t0 = performance.now();
    m.fit(train.x, train.labels, {
      epochs: 2, batchSize: batch, shuffle: true,
      callbacks: [{ onEpochEnd: () => { ends.push(performance.now()); usage.push(process.resourceUsage()); } }],
    });
    const first = ends[0] - t0, second = ends[1] - ends[0];
    const d = (k: 'minorPageFault' | 'involuntaryContextSwitches', i: number) => usage[i + 1][k] - usage[i][k];
    process.stdout.write(`| ${r + 1} | ${first.toFixed(0)} | ${second.toFixed(0)} | ${(100 * (first / second - 1)).toFixed(1)}% | ` +
      `${d('minorPageFault', 0)} / ${d('minorPageFault', 1)} | ${d('involuntaryContextSwitches', 0)} / ${d('involuntaryContextSwitches', 1)} |\n`);
  }
}

main();
