/**
 * Many models at once on Fashion-MNIST (issue 14 item 4): peak resident memory and aggregate
 * samples/s for 1, 2 and 4 models of the reference MLP (784-256-128-10 ReLU, Adam, batch 128)
 * trained three ways, each configuration in a fresh process:
 *
 * - fit: the models one after another on the main thread (fit blocks it);
 * - fitAsync (arrays): all at once, x given as the loader's Matrix, which each fitAsync copies
 *   to shared memory;
 * - fitAsync (Dataset): all at once on one Dataset, which every worker reads in place.
 *
 * Aggregate samples/s = models x epochs x rows / wall time from the first call to the last
 * result (worker start, copies and checks included). RSS is the process's peak (maxRSS), and the
 * baseline the peak after the data is loaded (and, for the Dataset, built).
 *
 *   node dist/bench/many-models.js [--models 1,2,4] [--epochs 2] [--rows 60000] [--modes fit,async-arrays,async-dataset] [--warm]
 *                                  [--lib dist/lib] [--json]
 *
 * --lib loads another build of the library (an older checkout's dist/lib, with --modes
 * fit,async-arrays if it has no Dataset) for a before/after comparison with the same script.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { arg, median } from './harness';

type Mode = 'fit' | 'async-arrays' | 'async-dataset';
const MODES: Mode[] = ['fit', 'async-arrays', 'async-dataset'];

interface Result {
  mode: Mode;
  models: number;
  epochs: number;
  rows: number;
  seconds: number;
  samplesPerSecond: number;
  /** Median over models of the mean epoch loop time (History seconds), ms. */
  epochMs: number;
  baselineRssMb: number;
  peakRssMb: number;
  threads: number;
  backend: string;
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;

async function child(mode: Mode, count: number): Promise<void> {
  const b = require(path.resolve(arg('lib', path.join(__dirname, '..', 'lib')))) as typeof import('../lib');
  const epochs = Number(arg('epochs', '2'));
  const full = b.loadFashionMnist({ split: 'train' });
  const rows = Math.min(Number(arg('rows', '60000')), full.x.rows);
  const x = rows === full.x.rows ? full.x : new b.Matrix(full.x.data.slice(0, rows * 784), rows, 784);
  const y = rows === full.x.rows ? full.labels : full.labels.slice(0, rows);
  const ds = mode === 'async-dataset' ? b.Dataset.from(x, y) : null;
  const baselineRssMb = maxRssMb();
  const models = Array.from({ length: count }, (_, i) => new b.Sequential({
    inputSize: 784, seed: i + 1,
    layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10)],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } }));
  const threads = models[0].backend.getNumThreads();
  const options = { epochs, batchSize: 128 };
  if (process.argv.includes('--warm')) {
    // A process that trained before: one step of as many throwaway models, the same way, so
    // fitAsync's workers are started (and kept) and every path's code is compiled.
    const spare = () => new b.Sequential({ inputSize: 784, seed: 99, layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
    const once = { epochs: 1, batchSize: 128, maxSteps: 1 };
    if (mode === 'fit') spare().fit(x, y, once);
    else await Promise.all(models.map(() => (ds ? spare().fitAsync(ds, once) : spare().fitAsync(x, y, once))));
  }
  const t0 = performance.now();
  let histories;
  if (mode === 'fit') histories = models.map((m) => m.fit(x, y, options));
  else if (ds) histories = await Promise.all(models.map((m) => m.fitAsync(ds, options)));
  else histories = await Promise.all(models.map((m) => m.fitAsync(x, y, options)));
  const seconds = (performance.now() - t0) / 1e3;
  const epochMs = median(histories.map((h) => (1e3 * h.epochs.reduce((s, e) => s + e.seconds, 0)) / h.epochs.length));
  const out: Result = {
    mode, models: count, epochs, rows, seconds, samplesPerSecond: (count * epochs * rows) / seconds, epochMs,
    baselineRssMb, peakRssMb: maxRssMb(), threads, backend: models[0].backend.name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function main(): void {
  const counts = arg('models', '1,2,4').split(',').map(Number);
  const pass = process.argv.slice(2).filter((a) => a !== '--json');
  const results: Result[] = [];
  const modes = arg('modes', MODES.join(',')).split(',') as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m}; expected ${MODES.join(', ')}`);
  for (const n of counts) {
    for (const mode of modes) {
      const r = spawnSync(process.execPath, [__filename, '--child', mode, String(n), ...pass], { encoding: 'utf8', env: process.env });
      if (r.status !== 0) throw new Error(`${mode} x ${n} failed: ${r.stderr}`);
      results.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as Result);
    }
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  const r0 = results[0];
  process.stdout.write(`many models: ${r0.backend} backend, ${r0.threads} kernel threads, ${r0.rows} rows, ${r0.epochs} epochs each, batch 128\n`);
  process.stdout.write('| models | mode | wall s | aggregate samples/s | epoch loop ms (median model) | baseline RSS MB | peak RSS MB |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of results) {
    process.stdout.write(`| ${r.models} | ${r.mode} | ${r.seconds.toFixed(2)} | ${r.samplesPerSecond.toFixed(0)} | ${r.epochMs.toFixed(0)} | ` +
      `${r.baselineRssMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |\n`);
  }
}

if (process.argv.includes('--child')) {
  const i = process.argv.indexOf('--child');
  child(process.argv[i + 1] as Mode, Number(process.argv[i + 2])).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else main();
