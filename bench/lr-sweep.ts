/**
 * Does the lr range test point at a learning rate that trains well? On Fashion-MNIST, a
 * 784-256-128-10 ReLU MLP with Adam, batch 128: lrFinder's suggestions (steepest descent and
 * minimum / 10), then 3 epochs at each lr of a sweep, ranked by test accuracy. Prints a markdown
 * table and a JSON line.
 *
 *   npm run build:ts && node dist/bench/lr-sweep.js [--lrs 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2] [--epochs 3]
 */
import { defaultBackend, dense, loadFashionMnist, lrFinder, Sequential } from '../lib';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const lrs = arg('--lrs', '1e-4,3e-4,1e-3,3e-3,1e-2,3e-2').split(',').map(Number);
const epochs = Number(arg('--epochs', '3'));
const seed = 1;

const train = loadFashionMnist({ split: 'train' });
const test = loadFashionMnist({ split: 'test' });
const build = (lr: number) => {
  const model = new Sequential({
    inputSize: 784, seed, layers: [dense(256, { activation: 'relu' }), dense(128, { activation: 'relu' }), dense(10)],
  });
  model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr }, metrics: ['accuracy'] });
  return model;
};

const b = defaultBackend();
let t = Date.now();
const found = lrFinder(build(1e-3), train.x, train.labels, { start: 1e-7, end: 10, steps: 100, batchSize: 128, seed });
const finderSeconds = (Date.now() - t) / 1000;

const rows: { lr: number; trainLoss: number; testLoss: number; testAccuracy: number; seconds: number }[] = [];
for (const lr of lrs) {
  t = Date.now();
  const model = build(lr);
  const h = model.fit(train.x, train.labels, { epochs, batchSize: 128, seed });
  const r = model.evaluate(test.x, test.labels);
  rows.push({ lr, trainLoss: h.epochs[h.epochs.length - 1].loss, testLoss: r.loss, testAccuracy: r.accuracy, seconds: (Date.now() - t) / 1000 });
}
const best = rows.reduce((a, r) => (r.testAccuracy > a.testAccuracy ? r : a));
const within = (lr: number) => lr / best.lr <= 10 && best.lr / lr <= 10;

const out = (s: string) => process.stdout.write(`${s}\n`);
out(`backend ${b.name} (${b.info().config}, ${b.getNumThreads()} threads); 784-256-128-10 relu, Adam, batch 128, seed ${seed}, ${epochs} epochs per lr`);
out('');
out(`lrFinder (1e-7 to 10, 100 steps, ${finderSeconds.toFixed(1)} s): steepest ${found.steepest.toPrecision(3)}, minimum ${found.minimum.toPrecision(3)}, ` +
  `minimum / 10 ${found.minimumOver10.toPrecision(3)}${found.diverged ? `, stopped at step ${found.steps} (diverged)` : ''}`);
out('');
out('| lr | train loss (last epoch) | test loss | test accuracy | seconds |');
out('| ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  out(`| ${r.lr}${r === best ? ' (best)' : ''} | ${r.trainLoss.toFixed(4)} | ${r.testLoss.toFixed(4)} | ${r.testAccuracy.toFixed(4)} | ${r.seconds.toFixed(1)} |`);
}
out('');
out(`best lr ${best.lr}; steepest ${found.steepest.toPrecision(3)} is ${within(found.steepest) ? '' : 'NOT '}within a factor of 10; ` +
  `minimum / 10 ${found.minimumOver10.toPrecision(3)} is ${within(found.minimumOver10) ? '' : 'NOT '}within a factor of 10`);
out(JSON.stringify({ backend: b.name, threads: b.getNumThreads(), steepest: found.steepest, minimumOver10: found.minimumOver10, best: best.lr, rows }));
