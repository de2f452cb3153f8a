/**
 * A 50-trial random search on a small table (scikit-learn's breast-cancer data, split 75/25 by
 * bench/search-data.py) over MLP_SPACE, run on one thread and in 2 worker threads: wall time and
 * speed-up, whether both give the same table, and the best configuration's test accuracy against
 * the default configuration's (defaultBuild with nothing set), both trained on all training rows.
 *
 *   /usr/bin/python3 bench/search-data.py bench/out/search
 *   node dist/bench/search.js [--dir=bench/out/search] [--trials=50] [--epochs=20] [--folds=5] [--metric=valLoss]
 */
import * as os from 'os';
import * as path from 'path';
import { defaultBackend, defaultBuild, MLP_SPACE, readCsv, search, Standardizer } from '../lib';
import type { SearchResult } from '../lib';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const dir = arg('dir', path.join('bench', 'out', 'search'));
const TRIALS = Number(arg('trials', '50'));
const EPOCHS = Number(arg('epochs', '20'));
const FOLDS = Number(arg('folds', '5'));
const METRIC = arg('metric', 'valLoss') as 'valLoss' | 'accuracy';

const train = readCsv(path.join(dir, 'train.csv'), { label: 'label', classes: true });
const test = readCsv(path.join(dir, 'test.csv'), { label: 'label', classes: true });
const scaler = new Standardizer().fit(train.x);
const x = scaler.transform(train.x);
const xt = scaler.transform(test.x);
const y = train.labels as Int32Array;
const yt = test.labels as Int32Array;

async function timed(workers: number, threads?: number): Promise<{ result: SearchResult; seconds: number }> {
  const t = performance.now();
  const result = await search({
    space: MLP_SPACE, data: { x, y }, trials: TRIALS, seed: 1, workers, budget: { epochs: EPOCHS }, metric: METRIC,
    ...(FOLDS > 1 ? { folds: FOLDS } : {}), ...(threads ? { threads } : {}),
  });
  return { result, seconds: (performance.now() - t) / 1000 };
}

void (async () => {
  const b = defaultBackend();
  console.log(`${b.name} backend, ${os.cpus().length} cores (${os.cpus()[0].model}); ${x.rows} training and ${xt.rows} test rows, ${x.cols} features; ` +
    `${TRIALS} trials of ${EPOCHS} epochs, ${FOLDS > 1 ? `${FOLDS}-fold stratified cross-validation` : '20% stratified holdout'}, metric ${METRIC}`);
  const mainThreads = b.getNumThreads();
  const one = await timed(1);
  const oneSingle = await timed(1, 1);
  const two = await timed(2);
  const strip = (r: SearchResult) => JSON.stringify(r.trials.map(({ seconds: _s, ...rest }) => rest));
  const trialSeconds = (r: SearchResult) => r.trials.reduce((s, t) => s + t.seconds, 0) / r.trials.length;
  console.log(`| workers x threads | wall s | speed-up | mean trial s | best ${METRIC} |`);
  console.log('|---|---|---|---|---|');
  for (const [label, run, threads] of [['1', one, mainThreads], ['1', oneSingle, 1], ['2', two, Math.max(1, Math.floor(os.cpus().length / 2))]] as const) {
    console.log(`| ${label} x ${threads} | ${run.seconds.toFixed(2)} | ${(one.seconds / run.seconds).toFixed(2)} | ${trialSeconds(run.result).toFixed(3)} | ${run.result.best?.score.toFixed(4)} |`);
  }
  console.log(`same table with 1 worker x 1 thread and 2 workers x 1 thread: ${strip(oneSingle.result) === strip(two.result)}; ` +
    `with 1 worker x ${mainThreads} threads: ${strip(one.result) === strip(two.result)}`);
  const best = one.result.model;
  if (!best) throw new Error('no best model');
  const bestTest = best.evaluate(xt, yt, { metrics: ['accuracy'] });
  const baseline = defaultBuild({}, { inputSize: x.cols, outputSize: 2, task: 'classification', seed: 1, backend: b.name as 'js' | 'native' });
  baseline.fit(x, y, { epochs: EPOCHS, batchSize: 32, seed: 1 });
  const baseTest = baseline.evaluate(xt, yt, { metrics: ['accuracy'] });
  console.log(`best configuration: ${JSON.stringify(one.result.bestConfig)}`);
  console.log('| model (trained on all training rows) | test accuracy | test loss |');
  console.log('|---|---|---|');
  console.log(`| best of the search | ${bestTest.accuracy.toFixed(4)} | ${bestTest.loss.toFixed(4)} |`);
  console.log(`| default configuration (64 relu, adam 1e-3, batch 32) | ${baseTest.accuracy.toFixed(4)} | ${baseTest.loss.toFixed(4)} |`);
})();
