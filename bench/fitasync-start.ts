/**
 * What a fitAsync call costs before and around its training (issue 14 item 4): in a fresh
 * process, the reference MLP (784-256-128-10 ReLU, Adam, batch 128) trains one step on
 * Fashion-MNIST with fitAsync, x given as the loader's Matrix (copied and scanned onto shared
 * memory) or as a Dataset (built before the clock starts). Reports, per sample and as medians,
 * the time from the call to the worker's first onEpochBegin (checks, copy, worker start, the
 * worker's model and fit set-up) and to the resolved promise (one step, one epoch end), and the
 * same one-step call with fit for comparison. Several --lib builds are measured in turn, sample
 * by sample, so that a loaded machine stretches each alike.
 *
 *   node dist/bench/fitasync-start.js [--samples 5] [--lib dist/lib[,other/dist/lib]] [--json]
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { arg, median } from './harness';

type Mode = 'fit' | 'arrays' | 'dataset';
const MODES: Mode[] = ['fit', 'arrays', 'dataset'];

interface Sample {
  lib: string;
  mode: Mode;
  /** From the call to the first onEpochBegin, ms. */
  beginMs: number;
  /** From the call to the result, ms. */
  totalMs: number;
}

async function child(lib: string, mode: Mode): Promise<void> {
  const b = require(path.resolve(lib)) as typeof import('../lib');
  const train = b.loadFashionMnist({ split: 'train' });
  const ds = mode === 'dataset' ? b.Dataset.from(train.x, train.labels) : null;
  const model = new b.Sequential({
    inputSize: 784, seed: 1, layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10)],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
  let begin = 0;
  const options = { epochs: 1, batchSize: 128, maxSteps: 1, callbacks: [{ onEpochBegin: () => { begin = performance.now(); } }] };
  const t0 = performance.now();
  if (mode === 'fit') model.fit(train.x, train.labels, options);
  else if (ds) await model.fitAsync(ds, options);
  else await model.fitAsync(train.x, train.labels, options);
  const out: Sample = { lib, mode, beginMs: begin - t0, totalMs: performance.now() - t0 };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function main(): void {
  const samples = Number(arg('samples', '5'));
  const libs = arg('lib', path.join(__dirname, '..', 'lib')).split(',').map((l) => path.resolve(l));
  const rows: Sample[] = [];
  for (let s = 0; s < samples; s++) {
    for (const lib of libs) {
      for (const mode of MODES) {
        const r = spawnSync(process.execPath, [__filename, '--child', lib, mode], { encoding: 'utf8', env: process.env });
        if (r.status !== 0) throw new Error(`${mode} (${lib}) failed: ${r.stderr}`);
        rows.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as Sample);
      }
    }
  }
  const table = libs.flatMap((lib) => MODES.map((mode) => {
    const mine = rows.filter((r) => r.lib === lib && r.mode === mode);
    const begin = mine.map((r) => r.beginMs), total = mine.map((r) => r.totalMs);
    return { lib, mode, beginMs: median(begin), beginMin: Math.min(...begin), beginMax: Math.max(...begin),
      totalMs: median(total), totalMin: Math.min(...total), totalMax: Math.max(...total) };
  }));
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ samples, table, rows })}\n`);
    return;
  }
  const f = (v: number) => v.toFixed(0);
  process.stdout.write(`one-step fit / fitAsync calls in fresh processes, ${samples} samples each, medians (range)\n`);
  process.stdout.write('| lib | mode | call to first epoch begin ms | whole call ms |\n| --- | --- | --- | --- |\n');
  for (const t of table) {
    process.stdout.write(`| ${t.lib} | ${t.mode} | ${f(t.beginMs)} (${f(t.beginMin)}-${f(t.beginMax)}) | ${f(t.totalMs)} (${f(t.totalMin)}-${f(t.totalMax)}) |\n`);
  }
}

if (process.argv.includes('--child')) {
  const i = process.argv.indexOf('--child');
  child(process.argv[i + 1], process.argv[i + 2] as Mode).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else main();
