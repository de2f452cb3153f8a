/**
 * A 50-trial random search on a small table (scikit-learn's breast-cancer data, split 75/25 by
 * bench/search-data.py) over MLP_SPACE, the table preprocessing fitted inside each fold: on one
 * thread, in 2 worker threads, and over a BullMQ queue taken by 2 `blasnet worker` processes on
 * this machine (1 kernel thread each everywhere but the first row). Reports wall time and
 * speed-up, whether all give the same table, the queue's overhead per trial (the same search's
 * wall time against its trials' own time, and a round trip of near-empty trials), a projection
 * of trial throughput against machines, and the best configuration's test accuracy against the
 * default configuration's (defaultBuild with nothing set), both trained on all training rows.
 *
 *   /usr/bin/python3 bench/search-data.py bench/out/search
 *   node dist/bench/search.js [--dir=bench/out/search] [--trials=50] [--epochs=20] [--folds=5] [--metric=valLoss]
 *     [--redis=redis://host:port] [--noop=50] [--cores=2]
 *
 * Without --redis it starts redis-server (Debian's, on PATH) on a free localhost port, without
 * persistence, and stops it at the end; without Redis at all the queue rows are left out.
 */
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { defaultBackend, defaultBuild, MLP_SPACE, readTable, search, TabularPreprocessor } from '../lib';
import type { SearchOptions, SearchResult } from '../lib';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const dir = arg('dir', path.join('bench', 'out', 'search'));
const TRIALS = Number(arg('trials', '50'));
const EPOCHS = Number(arg('epochs', '20'));
const FOLDS = Number(arg('folds', '5'));
const METRIC = arg('metric', 'valLoss') as 'valLoss' | 'accuracy';
const NOOP = Number(arg('noop', '50'));
const CORES = Number(arg('cores', String(os.cpus().length)));
const CLI = path.join(__dirname, '..', 'lib', 'cli.js');

const train = readTable(path.join(dir, 'train.csv'));
const test = readTable(path.join(dir, 'test.csv'));
const data = { table: train, label: 'label', preprocessing: { task: 'classification' as const } };

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Redis URL: --redis, or a redis-server started here; null without either. */
async function redisUrl(): Promise<string | null> {
  const given = arg('redis', '');
  if (given) return given;
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  return `redis://127.0.0.1:${port}`;
}

/** `blasnet worker` processes on the queue, resolved when all listen. */
async function workers(url: string, name: string, n: number): Promise<ChildProcess[]> {
  const started: ChildProcess[] = [];
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--queue-name', name, '--threads', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    started.push(c);
    c.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    let out = '';
    c.stdout?.on('data', (b: Buffer) => {
      if (out.length < 1000) out += b.toString();
      if (out.includes('worker: listening')) resolve();
    });
  })));
  return started;
}

async function timed(extra: Partial<SearchOptions>, options: Partial<SearchOptions> = {}): Promise<{ result: SearchResult; seconds: number }> {
  const t = performance.now();
  const result = await search({
    space: MLP_SPACE, data, trials: TRIALS, seed: 1, budget: { epochs: EPOCHS }, metric: METRIC,
    ...(FOLDS > 1 ? { folds: FOLDS } : {}), ...options, ...extra,
  });
  return { result, seconds: (performance.now() - t) / 1000 };
}

void (async () => {
  const b = defaultBackend();
  const rows = train.rows.length;
  console.log(`${b.name} backend, ${os.cpus().length} cores (${os.cpus()[0].model}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ` +
    `${rows} training and ${test.rows.length} test rows, ${train.columns.length - 1} features; ` +
    `${TRIALS} trials of ${EPOCHS} epochs, ${FOLDS > 1 ? `${FOLDS}-fold stratified cross-validation` : '20% stratified holdout'}, metric ${METRIC}`);
  const mainThreads = b.getNumThreads();
  const runs: { label: string; run: { result: SearchResult; seconds: number } }[] = [];
  runs.push({ label: `local, 1 x ${mainThreads}`, run: await timed({}) });
  const oneSingle = await timed({ threads: 1 });
  runs.push({ label: 'local, 1 x 1', run: oneSingle });
  runs.push({ label: 'local, 2 x 1 (worker threads)', run: await timed({ workers: 2, threads: 1 }) });
  const url = await redisUrl();
  let overhead: number | null = null;
  if (url) {
    const name = `bench-${process.pid}`;
    const ws = await workers(url, name, 2);
    runs.push({ label: 'BullMQ, 2 `blasnet worker` x 1', run: await timed({ queue: { url, name } }) });
    ws.forEach((w) => w.kill('SIGTERM'));
    // Near-empty trials (1 epoch of a 1-unit layer on a holdout) through 1 worker: the round trip.
    const noopOptions: Partial<SearchOptions> = { space: { hidden: 1, lr: 1e-3 }, trials: NOOP, budget: { epochs: 1 }, folds: undefined, refit: false };
    const local = await timed({ threads: 1 }, noopOptions);
    const w1 = await workers(url, `${name}-noop`, 1);
    const remote = await timed({ queue: { url, name: `${name}-noop` } }, noopOptions);
    w1.forEach((w) => w.kill('SIGTERM'));
    const sum = (r: SearchResult) => r.trials.reduce((s, t) => s + t.seconds, 0);
    overhead = (remote.seconds - sum(remote.result)) / NOOP;
    console.log(`near-empty trials x ${NOOP}: local ${local.seconds.toFixed(2)} s (${(1000 * local.seconds / NOOP).toFixed(1)} ms per trial), ` +
      `queue with 1 worker ${remote.seconds.toFixed(2)} s (${(1000 * remote.seconds / NOOP).toFixed(1)} ms per trial, ` +
      `of which the trial itself ${(1000 * sum(remote.result) / NOOP).toFixed(1)} ms): queue overhead ${(1000 * overhead).toFixed(1)} ms per trial`);
  } else {
    console.log('no Redis (--redis or redis-server on PATH): the queue rows are left out');
  }
  const strip = (r: SearchResult) => JSON.stringify(r.trials.map(({ seconds: _s, ...rest }) => rest));
  const trialSeconds = (r: SearchResult) => r.trials.reduce((s, t) => s + t.seconds, 0) / r.trials.length;
  const base = runs[0].run.seconds;
  console.log(`| run (processes or threads x kernel threads) | wall s | speed-up | mean trial s | wall s per trial | best ${METRIC} | same table as local 1 x 1 |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const { label, run } of runs) {
    console.log(`| ${label} | ${run.seconds.toFixed(2)} | ${(base / run.seconds).toFixed(2)} | ${trialSeconds(run.result).toFixed(3)} | ` +
      `${(run.seconds / run.result.trials.length).toFixed(3)} | ${run.result.best?.score.toFixed(4)} | ${strip(run.result) === strip(oneSingle.result)} |`);
  }
  if (overhead !== null) {
    const q = runs[runs.length - 1].run;
    const perTrialQueue = q.seconds * 2 / q.result.trials.length - trialSeconds(q.result);
    console.log(`queue overhead per trial in this search (its start-up and the refit included): ${(1000 * perTrialQueue).toFixed(1)} ms (2 workers: 2 x wall / trials - mean trial)`);
    // One trial at one kernel thread on an idle core (local 1 x 1), plus the measured round trip.
    const t = trialSeconds(oneSingle.result);
    console.log(`projected throughput, ${CORES} workers per machine (one per core), trial ${t.toFixed(3)} s + queue ${(1000 * overhead).toFixed(1)} ms:`);
    console.log('| machines | workers | trials / s | 50 trials s |');
    console.log('|---|---|---|---|');
    for (const m of [1, 2, 4, 8, 16, 32]) {
      const perSecond = (m * CORES) / (t + overhead);
      console.log(`| ${m} | ${m * CORES} | ${perSecond.toFixed(1)} | ${Math.max(t + overhead, 50 / perSecond).toFixed(2)} |`);
    }
  }
  const best = runs[0].run.result;
  if (!best.model || !best.preprocessor) throw new Error('no best model');
  const xt = best.preprocessor.transform(test);
  const yt = best.preprocessor.targets(test) as Int32Array;
  const bestTest = best.model.evaluate(xt, yt, { metrics: ['accuracy'] });
  const prep = TabularPreprocessor.fit(train, { label: 'label', task: 'classification' });
  const baseline = defaultBuild({}, { inputSize: prep.inputSize, outputSize: 2, task: 'classification', seed: 1, backend: b.name as 'js' | 'native' });
  baseline.fit(prep.transform(train), prep.targets(train) as Int32Array, { epochs: EPOCHS, batchSize: 32, seed: 1 });
  const baseTest = baseline.evaluate(prep.transform(test), prep.targets(test) as Int32Array, { metrics: ['accuracy'] });
  console.log(`best configuration: ${JSON.stringify(best.bestConfig)}`);
  console.log('| model (trained on all training rows) | test accuracy | test loss |');
  console.log('|---|---|---|');
  console.log(`| best of the search | ${bestTest.accuracy.toFixed(4)} | ${bestTest.loss.toFixed(4)} |`);
  console.log(`| default configuration (64 relu, adam 1e-3, batch 32) | ${baseTest.accuracy.toFixed(4)} | ${baseTest.loss.toFixed(4)} |`);
  process.exit(0);
})();
