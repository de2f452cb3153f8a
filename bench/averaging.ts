/**
 * Averaging and ensembles on Fashion-MNIST: the default job's model (784-256-128-10 ReLU, Adam
 * 1e-3, cosine schedule, batch 128, 15 epochs) trained plainly, with an EMA of the weights, with
 * SWA over the last epochs, as an ensemble of 5 seeds, and as a snapshot ensemble of one run.
 * Test accuracy and log loss of each, and the training time.
 *
 *   node dist/bench/averaging.js [--epochs=N]
 */
import * as os from 'os';
import { defaultBackend, dense, Ensemble, loadFashionMnist, Matrix, Sequential, snapshotEnsemble } from '../lib';
import type { FitOptions } from '../lib';

const epochsArg = process.argv.find((a) => a.startsWith('--epochs='));
const EPOCHS = epochsArg ? Number(epochsArg.slice(9)) : 15;
const train = loadFashionMnist({ split: 'train' });
const test = loadFashionMnist({ split: 'test' });

function make(seed: number): Sequential {
  return new Sequential({
    inputSize: 784, seed,
    layers: [dense(256, { activation: 'relu' }), dense(128, { activation: 'relu' }), dense(10, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 }, metrics: ['accuracy'] });
}

function score(p: Matrix): { accuracy: number; logLoss: number } {
  const cls = p.argmax();
  let ok = 0, nll = 0;
  for (let i = 0; i < p.rows; i++) {
    if (cls[i] === test.labels[i]) ok++;
    nll -= Math.log(Math.max(p.data[i * 10 + test.labels[i]], 1e-12));
  }
  return { accuracy: ok / p.rows, logLoss: nll / p.rows };
}

const base: FitOptions = { epochs: EPOCHS, batchSize: 128, seed: 1, schedule: { name: 'cosineAnnealing', tMax: EPOCHS } };
const rows: { name: string; accuracy: number; logLoss: number; seconds: number }[] = [];
function time<T>(f: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = f();
  return [r, Number(process.hrtime.bigint() - t0) / 1e9];
}

{
  const m = make(1);
  const [, s] = time(() => m.fit(train.x, train.labels, base));
  rows.push({ name: 'one model (the default job)', ...score(m.predict(test.x)), seconds: s });
}
{
  const m = make(1);
  const [, s] = time(() => m.fit(train.x, train.labels, { ...base, ema: { decay: 0.999 } }));
  rows.push({ name: 'EMA of the weights (decay 0.999 per step)', ...score(m.predict(test.x)), seconds: s });
}
{
  const start = Math.floor(EPOCHS * 2 / 3);
  const m = make(1);
  const [, s] = time(() => m.fit(train.x, train.labels, { ...base, swa: { startEpoch: start, lr: 2e-4 } }));
  rows.push({ name: `SWA from epoch ${start + 1} at lr 2e-4`, ...score(m.predict(test.x)), seconds: s });
}
{
  const members = [1, 2, 3, 4, 5].map(make);
  const e = new Ensemble(members);
  const [, s] = time(() => e.fit(train.x, train.labels, base));
  rows.push({ name: 'ensemble of 5 seeds (probabilities averaged)', ...score(e.predict(test.x)), seconds: s });
  rows.push({ name: '  its members alone (mean)', ...(() => {
    const sc = members.map((m) => score(m.predict(test.x)));
    return { accuracy: sc.reduce((a, v) => a + v.accuracy, 0) / 5, logLoss: sc.reduce((a, v) => a + v.logLoss, 0) / 5 };
  })(), seconds: s / 5 });
}
{
  const m = make(1);
  const cycles = 5, per = Math.max(1, Math.round(EPOCHS / cycles));
  const [r, s] = time(() => snapshotEnsemble(m, train.x, train.labels, { cycles, epochsPerCycle: per, batchSize: 128, seed: 1 }));
  rows.push({ name: `snapshot ensemble (${cycles} cosine cycles of ${per} epochs, one run)`, ...score(r.ensemble.predict(test.x)), seconds: s });
}

const b = defaultBackend();
process.stdout.write(`Fashion-MNIST test set, 784-256-128-10 ReLU, Adam 1e-3, batch 128, ${EPOCHS} epochs; backend ${b.name} (${b.info().config ?? ''}, ${b.getNumThreads()} threads); ${os.cpus()[0].model}, ${os.cpus().length} CPUs\n\n`);
process.stdout.write('| model | test accuracy | test log loss | training seconds |\n| --- | --- | --- | --- |\n');
for (const r of rows) process.stdout.write(`| ${r.name} | ${r.accuracy.toFixed(4)} | ${r.logLoss.toFixed(4)} | ${r.seconds.toFixed(1)} |\n`);
process.stdout.write(`${JSON.stringify({ epochs: EPOCHS, backend: b.name, rows })}\n`);
