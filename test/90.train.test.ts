/**
 * Training end to end: compile, fit, evaluate, metrics and callbacks, on every backend.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { batchNorm, dense, dropout, fitDistributed, jsBackend, Matrix, PCA, progressBar, Rng, saveModel, Sequential, Standardizer } from '../lib';
import type { Backend, Communicator, FitOptions } from '../lib';
import { loadModel } from '../lib/io/model-file';
import { checkpointOf, csvLogger, earlyStopping, modelCheckpoint, reduceLrOnPlateau, terminateOnNaN } from '../lib/train/callbacks';
import type { BatchLogs, Callback, EpochLogs } from '../lib/train/callbacks';
import { createMetric, metricOn } from '../lib/train/metrics';
import type { Metric, MetricSpec } from '../lib/train/metrics';
import { blobs, forEachBackend, rejectsCode, throwsCode, warningsDuring } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-train-'));

/** A callback whose every hook calls `at` with the hook's name. */
function everyHook(at: (hook: string) => void): Callback {
  return {
    onTrainBegin: () => at('onTrainBegin'),
    onEpochBegin: () => at('onEpochBegin'),
    onBatchEnd: () => at('onBatchEnd'),
    onEpochEnd: () => at('onEpochEnd'),
    onTrainEnd: () => at('onTrainEnd'),
  };
}
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function classifier(b: Backend, seed = 1): Sequential {
  return new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.1), dense(3, { activation: 'softmax' })] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy', { name: 'topKAccuracy', k: 2 }] });
}

describe('metrics', () => {
  const pred = new Float32Array([0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.2, 0.3, 0.5]);
  it('accuracy and top-k from labels or one-hot targets', () => {
    const acc = createMetric('accuracy');
    acc.update(pred, 3, 3, new Int32Array([1, 1, 2]));
    assert.equal(acc.value(), 2 / 3);
    acc.reset();
    acc.update(pred, 3, 3, new Float32Array([0, 1, 0, 1, 0, 0, 0, 1, 0]));
    assert.equal(acc.value(), 2 / 3);
    const top2 = createMetric({ name: 'topKAccuracy', k: 2 });
    top2.update(pred, 3, 3, new Int32Array([2, 1, 0]));
    assert.equal(top2.name, 'top2Accuracy');
    assert.equal(top2.value(), 2 / 3);
    // A row with a NaN or infinite score is a miss (TensorFlow's in_top_k), wherever it sits.
    const bad = new Float32Array([NaN, NaN, NaN, 0.1, Infinity, 0.2, 0.5, 0.3, NaN, 0.6, 0.3, 0.1]);
    const top1 = createMetric({ name: 'topKAccuracy', k: 1 });
    top1.update(bad, 4, 3, new Int32Array([0, 2, 0, 0]));
    assert.equal(top1.value(), 1 / 4);
  });
  forEachBackend('accuracy on a backend\'s argmaxRows', (b) => {
    it('counts as the JavaScript loop does, from labels and one-hot targets; narrower targets, labels outside the outputs and short predictions are coded errors', () => {
      const rng = new Rng(3);
      const rows = 300, cols = 7, scores = rng.uniformArray(rows * cols, -1, 1);
      const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
      const oneHot = new Float32Array(rows * cols);
      labels.forEach((c, r) => { oneHot[r * cols + c] = 1; });
      for (const t of [labels, oneHot]) {
        const plain = createMetric('accuracy'), kernel = metricOn('accuracy', b);
        // Two batches of different sizes: the metric's scratch grows.
        for (const [from, to] of [[0, 100], [100, rows]]) {
          const target = t instanceof Int32Array ? t.subarray(from, to) : t.subarray(from * cols, to * cols);
          plain.update(scores.subarray(from * cols, to * cols), to - from, cols, target);
          kernel.update(scores.subarray(from * cols, to * cols), to - from, cols, target);
        }
        assert.equal(kernel.value(), plain.value());
        assert.ok(plain.value() > 0 && plain.value() < 1);
      }
      // Read past, these gave scores that looked like scores.
      for (const m of [createMetric('accuracy'), metricOn('accuracy', b)]) {
        throwsCode(() => m.update(scores, rows, cols, rng.uniformArray(rows * 3, 0, 1)), 'ERR_BLASNET_SHAPE', RangeError, 'Expected 2100 target values');
        throwsCode(() => m.update(scores, 2, cols, Int32Array.from([1, 7])), 'ERR_BLASNET_LABEL', RangeError, 'target[1] = 7 is outside [0, 7)');
        throwsCode(() => m.update(scores.subarray(0, 7), 2, cols, Int32Array.from([1, 2])), 'ERR_BLASNET_SHAPE', RangeError, 'Expected 14 predictions');
        throwsCode(() => m.update(new Float32Array(4), 4, 1, Int32Array.from([0, 1, 2, 1])), 'ERR_BLASNET_LABEL', RangeError, 'target[2] = 2 is outside [0, 2)');
      }
      // Under gaussianNll (means and variances), a class metric is refused when compiled.
      const g = new Sequential({ inputSize: 2, backend: b, layers: [dense(4)] });
      throwsCode(() => g.compile({ loss: 'gaussianNll', optimizer: 'adam', metrics: ['accuracy'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, '"accuracy" scores classes, and gaussianNll');
      assert.equal(g.lossSpec, null, 'a refused compile sets no loss');
      throwsCode(() => g.compile({ loss: 'gaussianNll', optimizer: 'adam', metrics: [{ name: 'binaryAccuracy', threshold: 0.5 } as never] }), 'ERR_BLASNET_ARG_RANGE', RangeError, '"binaryAccuracy" scores classes');
      g.compile({ loss: 'crossEntropy', optimizer: 'adam', metrics: ['accuracy'] });
      throwsCode(() => g.setLoss('gaussianNll'), 'ERR_BLASNET_ARG_RANGE', RangeError, 'setLoss: "accuracy" scores classes');
      assert.equal((g.lossSpec as { name: string } | null)?.name, 'crossEntropy');
      g.compile({ loss: 'gaussianNll', optimizer: 'adam', metrics: ['mse'] });
    });
  });
  it('mse, mae, binaryAccuracy', () => {
    const t = new Float32Array([0, 1, 0, 1, 0, 0, 0, 1, 1]);
    const mse = createMetric('mse'), mae = createMetric('mae'), bin = createMetric('binaryAccuracy');
    for (const m of [mse, mae, bin]) m.update(pred, 3, 3, t);
    let se = 0, ae = 0, ok = 0;
    for (let i = 0; i < 9; i++) {
      se += (pred[i] - t[i]) ** 2;
      ae += Math.abs(pred[i] - t[i]);
      if ((pred[i] > 0.5) === (t[i] > 0.5)) ok++;
    }
    assert.ok(Math.abs(mse.value() - se / 9) < 1e-12);
    assert.ok(Math.abs(mae.value() - ae / 9) < 1e-12);
    assert.equal(bin.value(), ok / 9);
    assert.ok(Number.isNaN(createMetric('mse').value()));
  });
  it('mse and mae score class labels as their one-hot rows (the 0/1 class with one output)', () => {
    const labels = new Int32Array([1, 0, 2]);
    const oneHot = new Float32Array([0, 1, 0, 1, 0, 0, 0, 0, 1]);
    for (const name of ['mse', 'mae'] as const) {
      const a = createMetric(name), h = createMetric(name);
      a.update(pred, 3, 3, labels);
      h.update(pred, 3, 3, oneHot);
      assert.ok(Number.isFinite(a.value()), name);
      assert.equal(a.value(), h.value(), name);
    }
    const p = new Float32Array([0.9, 0.2, 0.6]);
    const one = createMetric('mse'), oneF = createMetric('mse');
    one.update(p, 3, 1, new Int32Array([1, 0, 0]));
    oneF.update(p, 3, 1, new Float32Array([1, 0, 0]));
    assert.equal(one.value(), oneF.value());
    throwsCode(() => createMetric('mae').update(pred, 3, 3, new Int32Array([1, 3, 0])), 'ERR_BLASNET_LABEL', RangeError);
  });
  it('mse and mae compare the mean columns with half-width targets (gaussianNll)', () => {
    // Rows [mean0, mean1 | var0, var1] against targets [rows, 2].
    const p = new Float32Array([1, 2, 9, 9, 3, 4, 9, 9]);
    const t = new Float32Array([1.5, 2, 2, 5]);
    const mse = createMetric('mse'), mae = createMetric('mae');
    mse.update(p, 2, 4, t);
    mae.update(p, 2, 4, t);
    assert.ok(Math.abs(mse.value() - (0.25 + 0 + 1 + 1) / 4) < 1e-12);
    assert.ok(Math.abs(mae.value() - (0.5 + 0 + 1 + 1) / 4) < 1e-12);
  });
  it('metrics refuse targets narrower than they read with ERR_BLASNET_SHAPE', () => {
    const narrow = new Float32Array(4);
    throwsCode(() => createMetric('mse').update(pred, 3, 3, narrow), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => createMetric('mae').update(pred, 3, 3, narrow), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => createMetric('binaryAccuracy').update(pred, 3, 3, narrow), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => createMetric({ name: 'topKAccuracy', k: 2 }).update(pred, 3, 3, narrow), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => createMetric({ name: 'topKAccuracy', k: 2 }).update(pred, 3, 3, new Int32Array([0, 3, 1])), 'ERR_BLASNET_LABEL', RangeError);
  });
  it("'accuracy' on one output is binary accuracy: class 1 above 0.5, as predictClasses (Keras)", () => {
    const acc = createMetric('accuracy');
    const p = new Float32Array([0.9, 0.2, 0.6, 0.4, 0.5]);
    acc.update(p, 5, 1, new Float32Array([1, 0, 0, 1, 0]));
    assert.equal(acc.value(), 3 / 5);
    acc.reset();
    acc.update(p, 5, 1, new Int32Array([0, 0, 1, 1, 1]));
    assert.equal(acc.value(), 2 / 5);
  });
  it('binaryAccuracy reads class labels as their one-hot rows', () => {
    const rng = new Rng(4);
    const rows = 60, cols = 3, p = rng.uniformArray(rows * cols, 0, 1);
    const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
    const oneHot = new Float32Array(rows * cols);
    labels.forEach((c, r) => { oneHot[r * cols + c] = 1; });
    for (const threshold of [0.5, 0.3]) {
      const a = createMetric({ name: 'binaryAccuracy', threshold }), h = createMetric({ name: 'binaryAccuracy', threshold });
      a.update(p, rows, cols, labels);
      h.update(p, rows, cols, oneHot);
      assert.equal(a.value(), h.value());
      assert.ok(a.value() > 0 && a.value() < 1);
    }
    // Two softmax outputs: every row right is 1, every row wrong 0.
    const bin = createMetric('binaryAccuracy');
    bin.update(new Float32Array([0.9, 0.1, 0.2, 0.8]), 2, 2, new Int32Array([0, 1]));
    assert.equal(bin.value(), 1);
    bin.reset();
    bin.update(new Float32Array([0.9, 0.1, 0.2, 0.8]), 2, 2, new Int32Array([1, 0]));
    assert.equal(bin.value(), 0);
  });
  it('binaryAccuracy reads one-column labels as the 0/1 class, as accuracy does', () => {
    const p = new Float32Array([0.9, 0.2, 0.8]), labels = new Int32Array([1, 0, 1]);
    const bin = createMetric('binaryAccuracy'), acc = createMetric('accuracy'), dense01 = createMetric('binaryAccuracy');
    bin.update(p, 3, 1, labels);
    acc.update(p, 3, 1, labels);
    dense01.update(p, 3, 1, new Float32Array([1, 0, 1]));
    assert.equal(bin.value(), 1);
    assert.equal(acc.value(), 1);
    assert.equal(dense01.value(), 1);
    throwsCode(() => createMetric('binaryAccuracy').update(p, 3, 1, new Int32Array([1, 2, 0])), 'ERR_BLASNET_LABEL', RangeError);
  });
  it('unknown metrics and bad options are coded errors', () => {
    throwsCode(() => createMetric('f1' as never), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
    throwsCode(() => createMetric({ name: 'topKAccuracy', k: 0 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
  });
});

forEachBackend('fit and evaluate', (b) => {
  const train = blobs(300, 1), test = blobs(150, 2);

  it('learns a separable problem and reports History and metrics', () => {
    const m = classifier(b);
    const h = m.fit(train.x, train.y, { epochs: 8, batchSize: 32, validationData: { x: test.x, y: test.y } });
    assert.equal(h.epochs.length, 8);
    assert.equal(h.steps, 8 * Math.ceil(300 / 32));
    assert.ok(h.epochs[7].loss < h.epochs[0].loss);
    for (const k of ['loss', 'accuracy', 'top2Accuracy', 'valLoss', 'valAccuracy', 'valTop2Accuracy', 'lr', 'seconds', 'samplesPerSecond']) {
      assert.equal(typeof h.epochs[7][k], 'number', k);
    }
    const ev = m.evaluate(test.x, test.y);
    assert.ok(ev.accuracy > 0.9, `accuracy ${ev.accuracy}`);
    assert.ok(Math.abs(ev.loss - h.epochs[7].valLoss) < 1e-9, 'validation logs are evaluate() of the same data');
    assert.equal(m.training, false, 'fit leaves the model in inference mode');
  });

  it("'mse' and 'mae' are finite for class labels and for gaussianNll's half-width targets", () => {
    const m = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam', metrics: ['mse', 'mae'] });
    const ev = m.evaluate(test.x, test.y);
    assert.ok(Number.isFinite(ev.mse) && Number.isFinite(ev.mae), JSON.stringify(ev));
    const x = train.x, rows = 300, y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) y[r] = x[r * 4];
    const g = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), dense(2, { activation: 'softplus' })] })
      .compile({ loss: 'gaussianNll', optimizer: 'adam', metrics: ['mse', 'mae'] });
    const h = g.fit(x, y, { epochs: 2, batchSize: 64 });
    for (const e of h.epochs) assert.ok(Number.isFinite(e.mse) && Number.isFinite(e.mae), JSON.stringify(e));
    const gev = g.evaluate(x, y);
    const out = g.predict(x);
    let se = 0;
    for (let r = 0; r < rows; r++) se += (out.data[r * 2] - y[r]) ** 2;
    assert.ok(Math.abs(gev.mse - se / rows) < 1e-6 * Math.max(1, gev.mse), `${gev.mse} vs ${se / rows}`);
  });

  it('is reproducible: the same seed gives the same weights; another seed does not', () => {
    const a = classifier(b), c = classifier(b), d = classifier(b);
    a.fit(train.x, train.y, { epochs: 2, seed: 5 });
    c.fit(train.x, train.y, { epochs: 2, seed: 5 });
    d.fit(train.x, train.y, { epochs: 2, seed: 6 });
    assert.deepEqual(a.params, c.params);
    assert.notDeepEqual(a.params, d.params);
  });

  it('accepts number[] labels, a Matrix of one-hot targets and validationSplit', () => {
    const m = classifier(b);
    const h = m.fit(Matrix.from(Array.from({ length: 300 }, (_, i) => Array.from(train.x.subarray(i * 4, i * 4 + 4)))), Array.from(train.y),
      { epochs: 1, validationSplit: 0.2 });
    assert.equal(h.steps, Math.ceil(240 / 32));
    assert.equal(typeof h.epochs[0].valLoss, 'number');
    const oneHot = new Matrix(new Float32Array(300 * 3), 300, 3);
    train.y.forEach((c, i) => (oneHot.data[i * 3 + c] = 1));
    classifier(b).fit(train.x, oneHot, { epochs: 1 });
  });

  it('follows a schedule per epoch or per step', () => {
    const m = classifier(b);
    const h = m.fit(train.x, train.y, { epochs: 3, schedule: { name: 'step', stepSize: 1, gamma: 0.5 } });
    assert.deepEqual(h.epochs.map((e) => e.lr), [0.01, 0.005, 0.0025]);
    const m2 = classifier(b);
    const h2 = m2.fit(train.x, train.y, { epochs: 1, batchSize: 100, schedule: { name: 'exponential', gamma: 0.5 }, scheduleEvery: 'step' });
    assert.deepEqual(Array.from(h2.stepLr.subarray(0, 3)), [0.01, 0.005, 0.0025]);
    // The epoch logs the lr its last step took, as an epoch-wise schedule's epoch does.
    assert.equal(h2.epochs[0].lr, 0.0025);
    assert.equal(m2.optimizer?.lr, 0.00125);
  });

  it('a chainable schedule carries on from an lr a callback changed (reduceLrOnPlateau), as PyTorch\'s chainable schedulers; oneCycle sets its own', () => {
    // One halving, at the end of epoch 1 (no epoch improves by 10, cooldown 100), under lr 1 * 0.9^t.
    const make = () => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 1 } });
    const x = train.x.subarray(0, 16 * 4), y = train.y.subarray(0, 16).map((c) => c % 2);
    const plateau = () => reduceLrOnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, threshold: 10, cooldown: 100 });
    const exponential = { name: 'exponential' as const, gamma: 0.9 };
    const close = (got: ArrayLike<number>, want: number[], what: string) =>
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-12 * w, `${what}: step ${i}: ${got[i]} against ${w}`));
    const perEpoch = make().fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, schedule: exponential, callbacks: [plateau()] });
    // PyTorch (ExponentialLR + ReduceLROnPlateau): 1, 1, 0.45, 0.45, 0.405, 0.405, 0.3645, 0.3645.
    close(perEpoch.stepLr, [1, 1, 0.45, 0.45, 0.405, 0.405, 0.3645, 0.3645], 'per epoch');
    const perStep = make().fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, schedule: exponential, scheduleEvery: 'step', callbacks: [plateau()] });
    close(perStep.stepLr, [1, 0.9, 0.405, 0.3645, 0.32805, 0.295245, 0.2657205, 0.23914845], 'per step');
    // CosineAnnealingLR with an eta_min chains on the excess over it (never below it), and steps
    // out of its minimum by the curve's rise: PyTorch's numbers for tMax 6 and 3, eta_min 0.2.
    for (const [tMax, want] of [
      [6, [1, 0.9464101615137757, 0.4, 0.3333333333333334, 0.2666666666666667, 0.21786327949540818, 0.2, 0.2535898384862245]],
      [3, [1, 0.8, 0.2, 0.2, 0.4, 0.8, 1, 0.8]],
    ] as const) {
      const h = make().fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, schedule: { name: 'cosineAnnealing', tMax, etaMin: 0.2 }, scheduleEvery: 'step', callbacks: [plateau()] });
      close(h.stepLr, [...want], `cosineAnnealing tMax ${tMax}, etaMin 0.2`);
    }
    // A schedule that sets its own lr from its formula (PyTorch's OneCycleLR too) undoes the halving.
    const oneCycle = { name: 'oneCycle' as const, maxLr: 1, totalSteps: 8, cycleMomentum: false };
    const own = make().fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, schedule: oneCycle, scheduleEvery: 'step' });
    const halved = make().fit(x, y, { epochs: 4, batchSize: 8, shuffle: false, schedule: oneCycle, scheduleEvery: 'step', callbacks: [plateau()] });
    assert.deepEqual(Array.from(halved.stepLr.subarray(3)), Array.from(own.stepLr.subarray(3)));
  });

  it('an epoch cap of 1e10 that a time limit ends trains, its per-step arrays grown as steps come', () => {
    const m = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const h = m.fit(train.x.subarray(0, 40), train.y.subarray(0, 10).map((c) => c % 2), { epochs: 1e10, batchSize: 1, timeLimitMs: 150 });
    assert.match(h.stopReason as string, /timeLimitMs/);
    assert.ok(h.steps > 0 && h.stepLoss.length >= h.steps && h.stepLr.length >= h.steps);
    assert.ok(Array.from(h.stepLoss.subarray(0, h.steps)).every(Number.isFinite));
    assert.ok(h.stepLr[h.steps - 1] > 0);
  });

  it('a progress bar on a terminal is stopped when training throws, so the process can end', () => {
    const lib = path.join(__dirname, '..', 'lib');
    // A terminal-like stream: the bar redraws on a timer of its own until stopped.
    const script = `
      const bn = require(${JSON.stringify(lib)});
      const { Writable } = require('stream');
      const tty = new Writable({ write(_c, _e, done) { done(); } });
      tty.isTTY = true; tty.columns = 80; tty.cursorTo = () => true; tty.clearLine = () => true; tty.moveCursor = () => true;
      const m = new bn.Sequential({ inputSize: 2, seed: 1, backend: ${JSON.stringify(b.name)}, layers: [bn.dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
      const boom = { onBatchEnd(l) { if (l.batch === 3) throw new Error('boom'); } };
      try { m.fit(new Float32Array(400), new Int32Array(200), { epochs: 2, batchSize: 8, callbacks: [bn.progressBar({ stream: tty }), boom] }); }
      catch (e) { console.log('caught ' + e.message); }
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, 'the process ended by itself');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /caught boom/);
  });

  it('validationSplit holds out the rows Keras holds out: n - floor(n (1 - f))', () => {
    for (const [n, f, held] of [[100, 0.123, 13], [7, 0.2, 2], [3, 0.1, 1], [50, 0.2, 10], [10, 0.7, 7]]) {
      const m = new Sequential({ inputSize: 4, seed: 2, backend: b, layers: [dense(3, { activation: 'softmax' })] })
        .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0 } });
      const x = train.x.subarray(0, n * 4), y = train.y.subarray(0, n);
      const h = m.fit(x, y, { epochs: 1, batchSize: 8, validationSplit: f });
      const want = m.lossValue(x.subarray((n - held) * 4), y.subarray(n - held));
      assert.ok(Math.abs((h.epochs[0].valLoss as number) - want) <= 1e-6 * want, `n ${n}, validationSplit ${f}: valLoss ${h.epochs[0].valLoss}, the last ${held} rows' ${want}`);
    }
  });

  it("refuses reduceOnPlateau per step before any step, in fit and fitAsync (it steps on an epoch's loss)", async () => {
    const m = classifier(b);
    const before = m.params.slice();
    const o = { epochs: 1, schedule: { name: 'reduceOnPlateau' as const }, scheduleEvery: 'step' as const };
    throwsCode(() => m.fit(train.x, train.y, o), 'ERR_BLASNET_ARG_RANGE', RangeError, "reduceOnPlateau steps on the epoch's loss or valLoss; use scheduleEvery 'epoch'");
    await rejectsCode(m.fitAsync(train.x, train.y, o), 'ERR_BLASNET_ARG_RANGE', 'scheduleEvery');
    assert.deepEqual(m.params, before);
    assert.equal(m.optimizer?.stepCount, 0);
  });

  it('clips gradients by global norm and by value', () => {
    const m = classifier(b);
    let worst = 0;
    m.fit(train.x, train.y, { epochs: 1, clipNorm: 0.05, callbacks: [{ onBatchEnd: () => { worst = Math.max(worst, Math.sqrt(b.sumSquares(m.grads.length, m.grads))); } }] });
    assert.ok(worst <= 0.05 * (1 + 1e-5), `largest gradient norm ${worst}`);
    const m2 = classifier(b);
    let largest = 0;
    m2.fit(train.x, train.y, { epochs: 1, clipValue: 0.01, callbacks: [{ onBatchEnd: () => { for (const g of m2.grads) largest = Math.max(largest, Math.abs(g)); } }] });
    assert.ok(largest <= 0.01 + 1e-9);
  });

  it('checks its inputs before any work starts', () => {
    const m = classifier(b);
    const before = m.params.slice();
    const bad = train.x.slice();
    bad[17] = NaN;
    throwsCode(() => m.fit(bad, train.y), 'ERR_BLASNET_DATA', undefined, 'index 17');
    bad[17] = Infinity;
    throwsCode(() => m.fit(bad, train.y), 'ERR_BLASNET_DATA');
    const labels = train.y.slice();
    labels[5] = 3;
    throwsCode(() => m.fit(train.x, labels), 'ERR_BLASNET_LABEL', RangeError, 'row 6');
    throwsCode(() => m.fit(train.x.subarray(0, 7), train.y), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => m.fit(train.x, train.y.subarray(1)), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => m.fit(train.x, train.y, { epochs: 0 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => m.fit(train.x, train.y, { batchSize: 1.5 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => m.fit(train.x, train.y, { validationSplit: 1 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => m.fit(train.x, train.y, { epoch: 3 } as never), 'ERR_BLASNET_ARG_RANGE', RangeError, 'epoch');
    throwsCode(() => m.fit(train.x, new Float32Array(300 * 3).fill(NaN)), 'ERR_BLASNET_DATA');
    assert.deepEqual(m.params, before);
    const raw = new Sequential({ inputSize: 4, backend: b, layers: [dense(3)] });
    throwsCode(() => raw.fit(train.x, train.y), 'ERR_BLASNET_STATE');
    throwsCode(() => raw.evaluate(train.x, train.y), 'ERR_BLASNET_STATE');
    throwsCode(() => raw.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: -1 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'Invalid learning rate');
  });
});

forEachBackend('class metrics of binary and logit models', (b) => {
  const rng = new Rng(5);
  const n = 400;
  const x = new Float32Array(n * 2).map(() => rng.normal());
  const y = Float32Array.from({ length: n }, (_, i) => (x[i * 2] + x[i * 2 + 1] > 0 ? 1 : 0));
  const labels = Int32Array.from(y);
  /** The fraction of rows whose predictClasses is their class. */
  const agreement = (m: Sequential, from = 0, to = n) => {
    const c = m.predictClasses(x.subarray(from * 2, to * 2));
    let hits = 0;
    for (let i = from; i < to; i++) if (c[i - from] === labels[i]) hits++;
    return hits / (to - from);
  };
  for (const head of ['sigmoid', 'logits'] as const) {
    const binary = () => new Sequential({ inputSize: 2, seed: 1, backend: b, layers: [dense(1, head === 'sigmoid' ? { activation: 'sigmoid' } : {})] })
      .compile({ loss: 'binaryCrossEntropy', optimizer: { name: 'sgd', lr: 1e-9 }, metrics: ['accuracy', 'binaryAccuracy'] });

    it(`one ${head} output: accuracy and binaryAccuracy are the accuracy of predictClasses`, () => {
      const m = binary();
      // Every row wrong, then about three rows in four right.
      for (const [w, want] of [[[-3, -3], 0], [[1, 0], -1]] as const) {
        m.setWeights([new Float32Array(w), new Float32Array([0])]);
        const truth = agreement(m);
        if (want >= 0) assert.equal(truth, want);
        else assert.ok(truth > 0.6 && truth < 0.9, `accuracy of predictClasses ${truth}`);
        const ev = m.evaluate(x, y);
        assert.equal(ev.accuracy, truth);
        assert.equal(ev.binaryAccuracy, truth);
      }
    });

    it(`one ${head} output: fit logs accuracy and valAccuracy of the model's classes`, () => {
      const m = binary();
      m.setWeights([new Float32Array([-3, -3]), new Float32Array([0])]);
      const h = m.fit(x, y, { epochs: 1, validationSplit: 0.25 });
      assert.equal(h.epochs[0].accuracy, 0);
      assert.equal(h.epochs[0].valAccuracy, agreement(m, 300, n));
      assert.equal(h.epochs[0].valAccuracy, 0);
      assert.equal(h.epochs[0].valBinaryAccuracy, 0);
    });
  }

  it('two crossEntropy logits with class labels: binaryAccuracy is the accuracy of predictClasses', () => {
    const m = new Sequential({ inputSize: 2, seed: 1, backend: b, layers: [dense(2)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam', metrics: ['accuracy', 'binaryAccuracy'] });
    // Logits of both classes above 0.5 in most rows: thresholding them as they are would be wrong.
    m.setWeights([new Float32Array([0, 0, 1, 0]), new Float32Array([2, 2])]);
    const truth = agreement(m);
    assert.ok(truth > 0.6 && truth < 0.9, `accuracy of predictClasses ${truth}`);
    const ev = m.evaluate(x, labels);
    assert.equal(ev.accuracy, truth);
    assert.equal(ev.binaryAccuracy, truth);
  });
});

forEachBackend('callbacks', (b) => {
  const train = blobs(150, 3);

  it('user callbacks see every boundary in order and can stop training', () => {
    const events: string[] = [];
    const m = classifier(b);
    const h = m.fit(train.x, train.y, {
      epochs: 5, batchSize: 50, callbacks: [{
        onTrainBegin: () => events.push('begin'),
        onEpochBegin: (e) => events.push(`e${e}`),
        onBatchEnd: (l) => events.push(`b${l.epoch}.${l.batch}`),
        onEpochEnd: (l, ctx) => { events.push(`end${l.epoch}`); if (l.epoch === 1) ctx.stop('enough'); },
        onTrainEnd: () => events.push('done'),
      }],
    });
    assert.deepEqual(events, ['begin', 'e0', 'b0.0', 'b0.1', 'b0.2', 'end0', 'e1', 'b1.0', 'b1.1', 'b1.2', 'end1', 'done']);
    assert.equal(h.stopReason, 'enough');
    assert.equal(h.epochs.length, 2);
  });

  it("from fit's callbacks, calls that would change what its loop uses are ERR_BLASNET_BUSY, as from fitAsync's; predict, evaluate, setWeights and saveModel work", () => {
    const m = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), batchNorm(), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
    // Each call, and the name its message starts with.
    const racing: Record<string, [string, () => unknown]> = {
      compile: ['compile', () => m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.5 } })],
      'compile (another loss)': ['compile', () => m.compile({ loss: 'mse', optimizer: { name: 'adam', lr: 0.01 } })],
      setLoss: ['setLoss', () => m.setLoss('mse')],
      fit: ['fit', () => m.fit(train.x, train.y, { epochs: 1, batchSize: 7 })],
      lossAndGradient: ['lossAndGradient', () => m.lossAndGradient(train.x, train.y)],
      'training forward': ['forward', () => m.forward(train.x, { training: true })],
      reseed: ['reseed', () => m.reseed(3)],
      'optimizer.step': ['adam.step', () => m.optimizer?.step()],
      setPreprocessing: ['setPreprocessing', () => m.setPreprocessing(null)],
      setInputColumns: ['setInputColumns', () => m.setInputColumns(null)],
    };
    const refused: Record<string, string[]> = {};
    const allowed: string[] = [];
    let fitAsyncRefused: Promise<unknown> | null = null;
    const attempt = (hook: string) => {
      for (const [name, [label, f]] of Object.entries(racing)) {
        try {
          f();
        } catch (e) {
          const err = e as Error & { code?: string };
          if (err.code === 'ERR_BLASNET_BUSY' && err.message.startsWith(`${label}: the model is training (fit`)) (refused[hook] ??= []).push(name);
          else throw e;
        }
      }
      fitAsyncRefused ??= m.fitAsync(train.x, train.y);
      assert.equal(m.predict(train.x).rows, 150);
      assert.ok(Number.isFinite(m.evaluate(train.x, train.y).loss));
      m.setWeights(m.getWeights());
      saveModel(path.join(tmp, `busy-${b.name}.blasnet`), m);
      allowed.push(hook);
    };
    const h = m.fit(train.x, train.y, {
      epochs: 2, batchSize: 50, validationSplit: 0.2, callbacks: [everyHook(attempt)],
    });
    const hooks = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'];
    for (const hook of hooks) assert.deepEqual(refused[hook]?.filter((n, i, a) => a.indexOf(n) === i), Object.keys(racing), hook);
    assert.deepEqual([...new Set(allowed)], hooks);
    // The loop kept its optimiser: every step went to Adam, whose state goes with the weights.
    assert.equal(m.optimizer?.name, 'adam');
    assert.equal(m.optimizer?.stepCount, h.steps);
    assert.equal(h.epochs.length, 2);
    return (fitAsyncRefused as unknown as Promise<unknown>).then(() => assert.fail('fitAsync resolved'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_BLASNET_BUSY');
      // Free again once fit has returned, also after a callback threw.
      assert.throws(() => m.fit(train.x, train.y, { epochs: 1, callbacks: [{ onBatchEnd: () => { throw new Error('callback'); } }] }), /callback/);
      m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
      m.fit(train.x, train.y, { epochs: 1 });
    });
  });

  it("from fit's callbacks, train(), eval() and setting training are ERR_BLASNET_BUSY; fit leaves the mode it was called in", () => {
    const m = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), dropout(0.3), batchNorm(), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
    const switches: Record<string, () => unknown> = { train: () => m.train(), eval: () => m.eval(), training: () => { m.training = false; } };
    const seen: string[] = [];
    const attempt = (hook: string) => {
      for (const [where, f] of Object.entries(switches)) {
        throwsCode(f, 'ERR_BLASNET_BUSY', undefined, `${where}: fit sets the model's mode itself`);
      }
      seen.push(`${hook}:${m.training}`);
    };
    for (const mode of [true, false]) {
      if (mode) m.train();
      else m.eval();
      seen.length = 0;
      m.fit(train.x, train.y, {
        epochs: 1, batchSize: 100, validationSplit: 0.2, callbacks: [everyHook(attempt)],
      });
      // Training mode throughout the loop; the mode it was called in again for onTrainEnd and after.
      assert.deepEqual(seen, ['onTrainBegin:true', 'onEpochBegin:true', 'onBatchEnd:true', 'onBatchEnd:true', 'onEpochEnd:true', `onTrainEnd:${mode}`]);
      assert.equal(m.training, mode, `fit called in ${mode ? 'training' : 'inference'} mode leaves it so`);
    }
    // Also when a callback throws before the loop starts.
    m.train();
    assert.throws(() => m.fit(train.x, train.y, { epochs: 1, callbacks: [{ onTrainBegin: () => { throw new Error('callback'); } }] }), /callback/);
    assert.equal(m.training, true);
    m.eval();
    assert.throws(() => m.fit(train.x, train.y, { epochs: 1, callbacks: [{ onTrainBegin: () => { throw new Error('callback'); } }] }), /callback/);
    assert.equal(m.training, false);
    throwsCode(() => { (m as { training: unknown }).training = 1; }, 'ERR_BLASNET_ARG_TYPE', TypeError, 'Expected boolean for training');
  });

  it("evaluate, predict and Monte Carlo predict from fit's callbacks leave the training as it was", () => {
    const make = () => new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.3), batchNorm(), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
    const held = blobs(90, 4);
    const opts = { epochs: 3, batchSize: 32, validationSplit: 0.2 };
    const plain = make(), checked = make();
    const hp = plain.fit(train.x, train.y, opts);
    const custom: number[] = [];
    const modes: boolean[] = [];
    const validate = () => {
      const ev = checked.evaluate(held.x, held.y);
      assert.equal(checked.predict(held.x).rows, 90);
      assert.equal(checked.predictClasses(held.x).length, 90);
      assert.equal(checked.predict(held.x, { mcSamples: 3, seed: 2 }).mean.rows, 90);
      custom.push(ev.loss);
      modes.push(checked.training);
    };
    const hc = checked.fit(train.x, train.y, { ...opts, callbacks: [{ onEpochEnd: validate, onBatchEnd: validate }] });
    assert.deepEqual(checked.params, plain.params, 'the same weights as without the callbacks');
    assert.deepEqual(checked.buffers().map((v) => v.data), plain.buffers().map((v) => v.data), 'the same running statistics');
    assert.deepEqual(checked.maskState(), plain.maskState(), 'the same dropout stream');
    assert.deepEqual(hc.epochs.map((e) => [e.loss, e.valLoss, e.accuracy]), hp.epochs.map((e) => [e.loss, e.valLoss, e.accuracy]));
    assert.ok(custom.every(Number.isFinite) && custom.length === 3 * (4 + 1));
    assert.ok(modes.every((t) => t), 'the model stays in training mode for the loop');
    assert.ok(Math.abs(custom[custom.length - 1] - checked.evaluate(held.x, held.y).loss) < 1e-12, 'the last epoch end saw the final weights');
  });

  it('earlyStopping stops after patience epochs and restores the best weights', () => {
    const m = classifier(b);
    const seen: Float32Array[] = [];
    let bestEpoch = -1, best = Infinity;
    const h = m.fit(train.x, train.y, {
      epochs: 30, validationData: { x: train.x, y: train.y },
      callbacks: [
        // A monitor that improves twice and then never again.
        { onEpochEnd: (l) => { (l as Record<string, number>).fake = l.epoch < 2 ? -l.epoch : 5; } },
        earlyStopping({ monitor: 'fake', patience: 3, restoreBestWeights: true }),
        { onEpochEnd: (l: EpochLogs) => { seen.push(m.params.slice()); if (l.fake < best) { best = l.fake; bestEpoch = l.epoch; } } },
      ],
    });
    // Keras' count: the third epoch in a row without an improvement stops it.
    assert.equal(h.epochs.length, 2 + 3);
    assert.match(h.stopReason as string, /earlyStopping: fake did not improve for 3 epochs/);
    assert.deepEqual(m.params, seen[bestEpoch]);
  });

  it('earlyStopping restores the best weights also when training ends without an early stop', () => {
    const m = classifier(b);
    const seen: Float32Array[] = [];
    const h = m.fit(train.x, train.y, {
      epochs: 5, validationData: { x: train.x, y: train.y },
      callbacks: [
        // Best at epoch 1, never beaten, but patience 10 outlasts the 5 epochs.
        { onEpochEnd: (l) => { (l as Record<string, number>).fake = l.epoch === 1 ? -1 : 0; } },
        earlyStopping({ monitor: 'fake', patience: 10, restoreBestWeights: true }),
        { onEpochEnd: () => { seen.push(m.params.slice()); } },
      ],
    });
    assert.equal(h.epochs.length, 5);
    assert.equal(h.stopReason ?? null, null);
    assert.notDeepEqual(seen[4], seen[1]);
    assert.deepEqual(m.params, seen[1]);
  });

  it('reduceLrOnPlateau cuts the learning rate when the monitor stalls', () => {
    const m = classifier(b);
    const h = m.fit(train.x, train.y, {
      epochs: 6,
      callbacks: [{ onEpochEnd: (l) => { (l as Record<string, number>).flat = 1; } }, reduceLrOnPlateau({ monitor: 'flat', patience: 1, factor: 0.5 })],
    });
    // Epoch 0 sets the best; with patience 1 the second bad epoch in a row cuts the lr (at the
    // ends of epochs 2 and 4); each epoch's log shows the lr it trained with.
    assert.deepEqual(h.epochs.map((e) => e.lr), [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]);
    assert.equal(m.optimizer?.lr, 0.0025);
  });

  it('terminateOnNaN stops at the first non-finite loss', () => {
    const m = new Sequential({ inputSize: 4, backend: b, layers: [dense(3)] })
      .compile({ loss: { name: 'nan', compute: () => NaN }, optimizer: { name: 'sgd', lr: 0.1 } });
    const h = m.fit(train.x, train.y.map(() => 0) as unknown as Float32Array, { epochs: 3, batchSize: 50, onNonFinite: 'continue', callbacks: [terminateOnNaN()] });
    assert.equal(h.steps, 1);
    assert.match(h.stopReason as string, /terminateOnNaN/);
  });

  it('modelCheckpoint saves loadable models; csvLogger writes one row per epoch', () => {
    const m = classifier(b);
    const file = path.join(tmp, `ckpt-${b.name}-{epoch}.blasnet`);
    const csv = path.join(tmp, `log-${b.name}.csv`);
    m.fit(train.x, train.y, { epochs: 3, callbacks: [modelCheckpoint(file, { every: 2 }), csvLogger(csv)] });
    assert.ok(!fs.existsSync(file.replace('{epoch}', '1')));
    const loaded = loadModel(file.replace('{epoch}', '2'), { backend: b });
    assert.equal(loaded.metadata?.epoch, 2);
    assert.equal((loaded.optimizer as { name: string }).name, 'adam');
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^epoch,loss,accuracy,top2Accuracy,lr/);
  });
});

describe('metric names at compile', () => {
  const make = () => new Sequential({ inputSize: 4, layers: [dense(3, { activation: 'softmax' })] });
  const compile = (metrics: MetricSpec[]) => make().compile({ loss: 'crossEntropy', optimizer: 'adam', metrics });
  it('refuses two metrics with one log name, naming it (compile, and evaluate\'s metrics)', () => {
    throwsCode(() => compile(['accuracy', 'binaryAccuracy', { name: 'binaryAccuracy', threshold: 0.3 }]), 'ERR_BLASNET_ARG_RANGE', RangeError, '"binaryAccuracy"');
    throwsCode(() => compile(['mse', 'mse']), 'ERR_BLASNET_ARG_RANGE', RangeError, '"mse"');
    throwsCode(() => compile([{ name: 'topKAccuracy', k: 2 }, { name: 'topKAccuracy', k: 2 }]), 'ERR_BLASNET_ARG_RANGE', RangeError, '"top2Accuracy"');
    const { x, y } = blobs(30, 1);
    throwsCode(() => compile([]).evaluate(x, y, { metrics: ['mae', 'mae'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, '"mae"');
  });
  it('refuses a metric named as another log: loss, a validation name, epoch, lr, timing', () => {
    const named = (name: string): Metric => ({ name, higherIsBetter: true, reset() {}, update() {}, value: () => 0 });
    for (const name of ['loss', 'valLoss', 'valAccuracy', 'epoch', 'lr', 'seconds', 'samplesPerSecond']) {
      throwsCode(() => compile(['accuracy', named(name)]), 'ERR_BLASNET_ARG_RANGE', RangeError, JSON.stringify(name));
    }
    // A metric 'val' with another one's name after it would take that one's validation name.
    throwsCode(() => compile([named('f1'), named('valF1')]), 'ERR_BLASNET_ARG_RANGE', RangeError, '"valF1"');
  });
  it('takes distinct names', () => {
    const m = compile(['accuracy', 'binaryAccuracy', { name: 'topKAccuracy', k: 2 }, 'mse', 'mae']);
    const h = m.fit(blobs(30, 1).x, blobs(30, 1).y, { epochs: 1, validationSplit: 0.2 });
    assert.deepEqual(Object.keys(h.epochs[0]).filter((k) => /ccuracy|mse|mae/i.test(k)),
      ['accuracy', 'binaryAccuracy', 'top2Accuracy', 'mse', 'mae', 'valAccuracy', 'valBinaryAccuracy', 'valTop2Accuracy', 'valMse', 'valMae']);
  });
});

describe('batch logs', () => {
  it('every onBatchEnd gets an object of its own, which stays as it was handed over', () => {
    const { x, y } = blobs(50, 5);
    const m = new Sequential({ inputSize: 4, layers: [dense(3, { activation: 'softmax' })] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const kept: BatchLogs[] = [];
    const h = m.fit(x, y, { epochs: 2, batchSize: 20, shuffle: false, callbacks: [{ onBatchEnd: (l) => { kept.push(l); } }] });
    assert.deepEqual(kept.map((l) => [l.epoch, l.batch, l.step, l.rows]), [[0, 0, 0, 20], [0, 1, 1, 20], [0, 2, 2, 10], [1, 0, 3, 20], [1, 1, 4, 20], [1, 2, 5, 10]]);
    assert.deepEqual(kept.map((l) => l.loss), Array.from(h.stepLoss));
  });
});

describe('callback modes', () => {
  const train = blobs(90, 13);
  // A custom metric that grows at every read: the training value, then the validation one, each
  // epoch, so both 'f1' and 'valF1' improve at every epoch when larger is better.
  const rising = (name: string, higherIsBetter: boolean): Metric => {
    let reads = 0;
    return { name, higherIsBetter, reset() {}, update() {}, value: () => ++reads };
  };
  const model = (metrics: MetricSpec[]) => new Sequential({ inputSize: 4, seed: 3, layers: [dense(3, { activation: 'softmax' })] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.01 }, metrics });

  it("earlyStopping's 'auto' follows a compiled metric's higherIsBetter, by its name and its val name", () => {
    for (const monitor of ['f1', 'valF1']) {
      const h = model([rising('f1', true)]).fit(train.x, train.y, {
        epochs: 4, validationData: train, callbacks: [earlyStopping({ monitor, patience: 1 })],
      });
      assert.equal(h.stopReason, null, monitor);
      assert.equal(h.epochs.length, 4, monitor);
    }
    // Smaller is better for this one, whatever its name says.
    const h = model([rising('inaccuracy', false)]).fit(train.x, train.y, { epochs: 4, callbacks: [earlyStopping({ monitor: 'inaccuracy', patience: 1 })] });
    assert.equal(h.epochs.length, 2);
    assert.match(h.stopReason as string, /earlyStopping: inaccuracy did not improve/);
  });

  it('earlyStopping never stops at the first epoch; restoreBestWeights without an improvement restores the first epoch\'s weights', () => {
    for (const patience of [0, 1]) {
      const m = model([]);
      const seen: Float32Array[] = [];
      const h = m.fit(train.x, train.y, {
        epochs: 5,
        callbacks: [
          { onEpochEnd: (l: EpochLogs) => { (l as Record<string, number>).fake = NaN; } },
          earlyStopping({ monitor: 'fake', patience, restoreBestWeights: true }),
          { onEpochEnd: () => { seen.push(m.params.slice()); } },
        ],
      });
      // As Keras' EarlyStopping: the second epoch without an improvement stops it, not the first.
      assert.equal(h.epochs.length, 2, `patience ${patience}`);
      assert.match(h.stopReason as string, /earlyStopping: fake did not improve for 2 epochs/);
      assert.notDeepEqual(seen[1], seen[0]);
      assert.deepEqual(m.params, seen[0], `patience ${patience}: the first epoch's weights`);
    }
  });

  it("modelCheckpoint's saveBestOnly keeps the best epoch of a larger-is-better metric", () => {
    const file = path.join(tmp, 'best-f1.blasnet');
    model([rising('f1', true)]).fit(train.x, train.y, {
      epochs: 3, validationData: train, callbacks: [modelCheckpoint(file, { monitor: 'valF1', saveBestOnly: true })],
    });
    assert.equal(loadModel(file).metadata?.epoch, 3);
  });

  it("reduceLrOnPlateau's default mode follows a compiled metric's higherIsBetter", () => {
    const h = model([rising('f1', true)]).fit(train.x, train.y, {
      epochs: 4, callbacks: [reduceLrOnPlateau({ monitor: 'f1', patience: 0, factor: 0.5 })],
    });
    assert.deepEqual(h.epochs.map((e) => e.lr), [0.01, 0.01, 0.01, 0.01]);
  });

  it('a validation monitor in a run without validation data is refused before the first step, in fit and fitAsync', async () => {
    const cases: [string, () => Callback][] = [
      ['earlyStopping', () => earlyStopping()],
      ['reduceLrOnPlateau', () => reduceLrOnPlateau({ monitor: 'valAccuracy' })],
      ['modelCheckpoint', () => modelCheckpoint(path.join(tmp, 'never.blasnet'), { saveBestOnly: true, monitor: 'valAccuracy' })],
    ];
    for (const [who, make] of cases) {
      for (const run of ['fit', 'fitAsync'] as const) {
        const m = model(['accuracy']);
        const before = m.params.slice();
        let steps = 0;
        const callbacks = [make(), { onBatchEnd: () => { steps++; } }];
        const o = { epochs: 2, callbacks };
        if (run === 'fit') throwsCode(() => m.fit(train.x, train.y, o), 'ERR_BLASNET_ARG_RANGE', RangeError, `${who}: monitor`);
        else await rejectsCode(() => m.fitAsync(train.x, train.y, o), 'ERR_BLASNET_ARG_RANGE', `${who}: monitor`);
        assert.equal(steps, 0, `${who} ${run}: no step`);
        assert.deepEqual(m.params, before, `${who} ${run}: weights untouched`);
      }
      // With validation data (or a split) the same callback trains.
      const h = model(['accuracy']).fit(train.x, train.y, { epochs: 1, validationSplit: 0.2, callbacks: [make()] });
      assert.equal(h.epochs.length, 1, who);
      const ha = await model(['accuracy']).fitAsync(train.x, train.y, { epochs: 1, validationSplit: 0.2, callbacks: [make()] });
      assert.equal(ha.epochs.length, 1, `${who} fitAsync`);
      const hv = await model(['accuracy']).fitAsync(train.x, train.y, { epochs: 1, validationData: train, callbacks: [make()] });
      assert.equal(hv.epochs.length, 1, `${who} fitAsync, validationData`);
    }
    assert.equal(fs.existsSync(path.join(tmp, 'never.blasnet')), true, 'the validated run saved its best epoch');
    // A log a callback adds is not known at train begin: monitoring it is left to the epoch's end.
    const fake = { onEpochEnd: (l: EpochLogs) => { (l as Record<string, number>).valFake = 1; } };
    const h = model([]).fit(train.x, train.y, { epochs: 2, callbacks: [fake, earlyStopping({ monitor: 'valFake' })] });
    assert.equal(h.epochs.length, 2);
  });

  it('a monitor that names no compiled metric keeps the name rule; an explicit mode wins', () => {
    // 'fake' is not a metric: smaller is better, so a rising value stops at the second epoch.
    let v = 0;
    const fake = { onEpochEnd: (l: EpochLogs) => { (l as Record<string, number>).fake = ++v; } };
    let h = model([]).fit(train.x, train.y, { epochs: 4, callbacks: [fake, earlyStopping({ monitor: 'fake', patience: 1 })] });
    assert.equal(h.epochs.length, 2);
    h = model([rising('f1', true)]).fit(train.x, train.y, { epochs: 4, callbacks: [earlyStopping({ monitor: 'f1', patience: 1, mode: 'min' })] });
    assert.equal(h.epochs.length, 2);
  });
});

forEachBackend('resuming from a checkpoint', (b) => {
  const train = blobs(240, 7);
  const make = () => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.3), dense(3)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
  const schedule = { name: 'cosineAnnealing' as const, tMax: 4 };

  it('continues identically to an uninterrupted run', () => {
    const whole = make();
    const hw = whole.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule });
    const file = path.join(tmp, `resume-${b.name}-{epoch}.blasnet`);
    const first = make();
    first.fit(train.x, train.y, { epochs: 2, batchSize: 32, schedule, callbacks: [modelCheckpoint(file)] });
    const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
    const resumed = ck.model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
    const hr = resumed.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: ck });
    assert.deepEqual(resumed.params, whole.params);
    assert.deepEqual(hr.epochs.map((e) => e.epoch), [2, 3]);
    assert.deepEqual(hr.epochs.map((e) => e.loss), hw.epochs.slice(2).map((e) => e.loss));
    throwsCode(() => make().fit(train.x, train.y, { epochs: 2, resume: ck }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'epoch 2');
    throwsCode(() => make().fit(train.x, train.y, { epochs: 4, resume: {} }), 'ERR_BLASNET_STATE');
  });

  it('an epoch a stop cuts short counts its batches, steps no per-epoch schedule and writes no checkpoint; the last epoch end resumes identically', async () => {
    const o = { epochs: 4, batchSize: 32, schedule };
    const whole = make();
    whole.fit(train.x, train.y, o);
    for (const how of ['onBatchEnd', 'maxSteps', 'signal'] as const) {
      const file = path.join(tmp, `cut-${how}-${b.name}-{epoch}.blasnet`);
      for (let e = 1; e <= 4; e++) fs.rmSync(file.replace('{epoch}', String(e)), { force: true });
      const m = make();
      const stopAt = { onBatchEnd: (l: { step: number }, ctx: { stop(r: string): void }) => { if (l.step === 18) ctx.stop('cut'); } };
      const logs: EpochLogs[] = [];
      const seen = { onEpochEnd: (l: EpochLogs) => { logs.push(l); } };
      if (how === 'signal') {
        // The abort lands inside the third epoch (8 batches each): after step 18.
        const ac = new AbortController();
        await rejectsCode(m.fitAsync(train.x, train.y, { ...o, signal: ac.signal, callbacks: [modelCheckpoint(file), seen, { onBatchEnd: (l) => { if (l.step === 18) ac.abort(); } }] }), 'ERR_BLASNET_ABORTED');
      } else {
        m.fit(train.x, train.y, { ...o, ...(how === 'maxSteps' ? { maxSteps: 19 } : {}), callbacks: [modelCheckpoint(file), seen, ...(how === 'maxSteps' ? [] : [stopAt])] });
      }
      assert.equal(logs.length, 3, how);
      assert.equal(logs[2].batches, 3, how);
      assert.equal(logs[1].batches, undefined);
      assert.ok(fs.existsSync(file.replace('{epoch}', '2')), `${how}: the checkpoint of epoch 2`);
      assert.ok(!fs.existsSync(file.replace('{epoch}', '3')), `${how}: no checkpoint of the cut epoch 3`);
      // The per-epoch schedule stayed at epoch 3's rate: the cut epoch trained at it throughout.
      assert.equal(m.optimizer?.lr, logs[2].lr, how);
      const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
      ck.model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] }).fit(train.x, train.y, { ...o, resume: ck });
      assert.deepEqual(ck.model.params, whole.params, how);
    }
    // A checkpoint of a cut epoch written by hand (checkpointOf in a callback of one's own) is refused.
    let written = '';
    make().fit(train.x, train.y, { ...o, callbacks: [{ onBatchEnd: (l, ctx) => { if (l.step === 10) ctx.stop('cut'); } },
      { onEpochEnd: (l, ctx) => { if (l.batches !== undefined) { written = path.join(tmp, `cut-own-${b.name}.blasnet`); saveModel(written, ctx.model, checkpointOf(ctx, l)); } } }] });
    const own = loadModel(written, { backend: b });
    throwsCode(() => own.model.fit(train.x, train.y, { ...o, resume: own }), 'ERR_BLASNET_STATE', undefined, 'cut epoch 2 short (after 3 of its batches)');
  });

  it("minDelta's best loss goes into the checkpoint: a resumed run stops where the uninterrupted one stops, in fit and fitAsync", async () => {
    const o = { epochs: 30, batchSize: 32, minDelta: 0.02 };
    const whole = make();
    const hw = whole.fit(train.x, train.y, o);
    assert.ok(hw.stopReason?.startsWith('minDelta') && hw.epochs.length > 4 && hw.epochs.length < 30, `${hw.epochs.length} epochs: ${hw.stopReason}`);
    const at = hw.epochs.length - 1;
    const file = path.join(tmp, `mindelta-${b.name}-{epoch}.blasnet`);
    make().fit(train.x, train.y, { ...o, epochs: at, callbacks: [modelCheckpoint(file)] });
    for (const run of ['fit', 'fitAsync'] as const) {
      const ck = loadModel(file.replace('{epoch}', String(at)), { backend: b });
      assert.equal(typeof ck.metadata?.minDeltaBest, 'number');
      const c = ck.model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
      const h = run === 'fit' ? c.fit(train.x, train.y, { ...o, resume: ck }) : await c.fitAsync(train.x, train.y, { ...o, resume: ck });
      assert.equal(h.epochs.length, 1, run);
      assert.equal(h.stopReason, hw.stopReason, run);
      assert.deepEqual(c.params, whole.params, run);
    }
  });

  it('earlyStopping and reduceLrOnPlateau resume from the states a checkpoint keeps, as an uninterrupted run, in fit and fitAsync', async () => {
    // Labels that cannot be learnt: the validation loss plateaus, so the lr is cut and training stops early.
    const rng = new Rng(5);
    const y = Int32Array.from(train.y, () => rng.int(3));
    const o = { epochs: 14, batchSize: 32, validationSplit: 0.25 };
    const fast = () => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.3), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.05 }, metrics: ['accuracy'] });
    const watchers = () => [
      reduceLrOnPlateau({ patience: 0, factor: 0.5 }),
      earlyStopping({ patience: 3, restoreBestWeights: true }),
    ];
    const whole = fast();
    const hw = whole.fit(train.x, y, { ...o, callbacks: watchers() });
    // The best epoch comes before the checkpoint (after 6 epochs), the cuts and the stop after it.
    const bestEpoch = hw.epochs.reduce((bi, e, i, all) => (e.valLoss < all[bi].valLoss ? i : bi), 0);
    assert.ok(bestEpoch < 6 && hw.stopReason !== null && hw.epochs.length > 7, `best epoch ${bestEpoch + 1} of ${hw.epochs.length}`);
    assert.ok(new Set(hw.epochs.slice(6).map((e) => e.lr)).size > 1, 'the lr is cut after the checkpoint');
    const file = path.join(tmp, `watchers-${b.name}-{epoch}.blasnet`);
    // The checkpoint comes first in the list, but is written after the others' epoch ends.
    const first = fast();
    first.fit(train.x, y, { ...o, callbacks: [modelCheckpoint(file), ...watchers(), { onEpochEnd: (l, ctx) => { if (l.epoch === 5) ctx.stop('interrupted'); } }] });
    for (const run of ['fit', 'fitAsync'] as const) {
      const ck = loadModel(file.replace('{epoch}', '6'), { backend: b });
      const h = run === 'fit' ? ck.model.fit(train.x, y, { ...o, resume: ck, callbacks: watchers() })
        : await ck.model.fitAsync(train.x, y, { ...o, resume: ck, callbacks: watchers() });
      assert.deepEqual(h.epochs.map((e) => e.lr), hw.epochs.slice(6).map((e) => e.lr), `${run}: lr`);
      assert.equal(h.stopReason, hw.stopReason, run);
      assert.deepEqual(ck.model.params, whole.params, `${run}: the best epoch's weights`);
    }
    // A checkpoint without the states (written before they were kept) resumes them afresh, and says so.
    const ck = loadModel(file.replace('{epoch}', '6'), { backend: b });
    delete (ck.metadata as Record<string, unknown>).callbacks;
    const seen = await warningsDuring(() => { ck.model.fit(train.x, y, { ...o, epochs: 7, resume: ck, callbacks: watchers() }); });
    assert.deepEqual(seen.map((w) => [w.code, w.message]), [['BLASNET_CALLBACK_STATE',
      'fit: the checkpoint holds no state for reduceLrOnPlateau, earlyStopping; they start afresh, so the run may differ from an uninterrupted one']]);
  });

  it("a saveBestOnly checkpoint is not replaced by a resumed epoch worse than the best already saved, in fit and fitAsync", async () => {
    // The monitor is the lr, best at its largest, under an exponential decay: every epoch is worse
    // than the one before.
    const o = { epochs: 4, batchSize: 32, schedule: { name: 'exponential' as const, gamma: 0.5 } };
    const best = () => modelCheckpoint(file, { monitor: 'lr', mode: 'max', saveBestOnly: true });
    const savedEpoch = () => loadModel(file, { backend: b }).metadata?.epoch;
    const file = path.join(tmp, `best-${b.name}.blasnet`);
    make().fit(train.x, train.y, { ...o, callbacks: [best(), { onEpochEnd: (l, ctx) => { if (l.epoch === 1) ctx.stop('interrupted'); } }] });
    assert.equal(savedEpoch(), 1);
    for (const run of ['fit', 'fitAsync'] as const) {
      const ck = loadModel(file, { backend: b });
      const h = run === 'fit' ? ck.model.fit(train.x, train.y, { ...o, resume: ck, callbacks: [best()] })
        : await ck.model.fitAsync(train.x, train.y, { ...o, resume: ck, callbacks: [best()] });
      assert.deepEqual(h.epochs.map((e) => e.epoch), [1, 2, 3], run);
      assert.equal(savedEpoch(), 1, `${run}: the best file still holds epoch 1`);
    }
    // Resumed from another checkpoint (the last epoch's), the best file's own value is the one to
    // beat: an epoch better than the checkpoint's but worse than the file's leaves the file alone.
    const last = path.join(tmp, `last-${b.name}.blasnet`);
    const m = make();
    m.fit(train.x, train.y, { epochs: 1, batchSize: 32, callbacks: [modelCheckpoint(last)] });
    const ck = loadModel(last, { backend: b });
    // The checkpoint's lr 0.01 as 0.001, so that the resumed epoch (lr 0.01) is better than it.
    (ck.metadata?.logs as { lr: number }).lr = 0.001;
    saveModel(file, m, { metadata: { epoch: 1, logs: { epoch: 0, loss: 1, lr: 1 } } });
    ck.model.fit(train.x, train.y, { epochs: 2, batchSize: 32, resume: ck, callbacks: [best()] });
    assert.equal(loadModel(file, { backend: b }).metadata?.epoch, 1);
    // Not resumed, a fresh callback writes over what is there, as before.
    make().fit(train.x, train.y, { epochs: 1, batchSize: 32, callbacks: [best()] });
    assert.equal(savedEpoch(), 1);
    assert.equal((loadModel(file, { backend: b }).metadata?.logs as { lr: number }).lr, 0.01);
  });

  it("refuses to resume a model whose weights are not the checkpoint's, in fit and fitAsync; copied weights resume exactly", async () => {
    const whole = make();
    whole.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule });
    const file = path.join(tmp, `resume-other-${b.name}-{epoch}.blasnet`);
    make().fit(train.x, train.y, { epochs: 2, batchSize: 32, schedule, callbacks: [modelCheckpoint(file)] });
    const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
    const fresh = make();
    const before = fresh.params.slice();
    throwsCode(() => fresh.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: ck }), 'ERR_BLASNET_STATE', undefined, "weights are not the checkpoint's");
    await rejectsCode(fresh.fitAsync(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: ck }), 'ERR_BLASNET_STATE', "weights are not the checkpoint's");
    assert.deepEqual(fresh.params, before);
    fresh.setWeights(ck.model.getWeights());
    fresh.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: ck });
    assert.deepEqual(fresh.params, whole.params);
  });

  it("a checkpoint resumed on another model (its weights copied) brings its BatchNorm statistics, in fit and fitAsync", async () => {
    const bnModel = () => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(16), batchNorm(), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
    const o = { epochs: 4, batchSize: 32 };
    const whole = bnModel();
    whole.fit(train.x, train.y, o);
    const file = path.join(tmp, `resume-bn-${b.name}-{epoch}.blasnet`);
    bnModel().fit(train.x, train.y, { ...o, epochs: 2, callbacks: [modelCheckpoint(file)] });
    for (const run of ['fit', 'fitAsync'] as const) {
      const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
      const fresh = bnModel();
      fresh.setWeights(ck.model.getWeights());
      if (run === 'fit') fresh.fit(train.x, train.y, { ...o, resume: ck });
      else await fresh.fitAsync(train.x, train.y, { ...o, resume: ck });
      assert.deepEqual(fresh.params, whole.params, run);
      assert.deepEqual(fresh.buffers().map((v) => v.data), whole.buffers().map((v) => v.data), `${run}: running statistics`);
    }
  });

  it('a resumed call refused before its first step, or put back by a bad row, leaves the model as it found it, in fit and fitAsync', async () => {
    const bnModel = (lr: number) => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(16), batchNorm(), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr, momentum: 0.9 } });
    const file = path.join(tmp, `resume-refused-${b.name}-{epoch}.blasnet`);
    bnModel(0.1).fit(train.x, train.y, { epochs: 2, batchSize: 32, callbacks: [modelCheckpoint(file)] });
    const bad = train.x.slice();
    bad[bad.length - 1] = NaN;
    const throwing = { onTrainBegin: () => { throw new Error('refused'); } };
    for (const run of ['fit', 'fitAsync'] as const) {
      for (const [what, xs, callbacks] of [['onTrainBegin', train.x, [throwing]], ['a bad row', bad, []]] as const) {
        const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
        const m = bnModel(0.01);
        m.setWeights(ck.model.getWeights());
        const before = { stats: m.buffers().map((v) => v.data.slice()), state: JSON.stringify(m.optimizer?.state()), masks: m.maskState() };
        const o = { epochs: 4, batchSize: 32, resume: ck, callbacks: [...callbacks] };
        if (run === 'fit') assert.throws(() => m.fit(xs, train.y, o));
        else await assert.rejects(m.fitAsync(xs, train.y, o));
        assert.equal(m.optimizer?.lr, 0.01, `${run}, ${what}: lr`);
        assert.equal(JSON.stringify(m.optimizer?.state()), before.state, `${run}, ${what}: optimiser state`);
        assert.deepEqual(m.buffers().map((v) => v.data), before.stats, `${run}, ${what}: running statistics`);
        assert.deepEqual(m.maskState(), before.masks, `${run}, ${what}: dropout stream`);
      }
    }
  });

  it("csvLogger, resumed, keeps the interrupted run's rows up to the checkpoint: the log of an uninterrupted run", async () => {
    const columns = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 3).join(','));
    const whole = path.join(tmp, `log-whole-${b.name}.csv`);
    make().fit(train.x, train.y, { epochs: 5, batchSize: 32, schedule, callbacks: [csvLogger(whole)] });
    for (const run of ['fit', 'fitAsync'] as const) {
      const log = path.join(tmp, `log-resumed-${run}-${b.name}.csv`);
      const ck = path.join(tmp, `log-ck-${run}-${b.name}-{epoch}.blasnet`);
      // Checkpoints every 2 epochs; the run is interrupted after epoch 3, so the log holds a row past the checkpoint.
      make().fit(train.x, train.y, { epochs: 5, batchSize: 32, schedule, callbacks: [csvLogger(log), modelCheckpoint(ck, { every: 2 }),
        { onEpochEnd: (l, ctx) => { if (l.epoch === 2) ctx.stop('interrupted'); } }] });
      assert.equal(columns(log).length, 4);
      const c = loadModel(ck.replace('{epoch}', '2'), { backend: b });
      const o = { epochs: 5, batchSize: 32, schedule, resume: c, callbacks: [csvLogger(log)] };
      if (run === 'fit') c.model.fit(train.x, train.y, o);
      else await c.model.fitAsync(train.x, train.y, o);
      // epoch, loss and accuracy columns (the others are timings).
      assert.deepEqual(columns(log), columns(whole), run);
    }
  });

  it('csvLogger, resumed over a log an earlier release numbered from 0, renumbers its kept rows from 1 and drops the row past the checkpoint', () => {
    const columns = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 3).join(','));
    const whole = path.join(tmp, `log0-whole-${b.name}.csv`);
    make().fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, callbacks: [csvLogger(whole)] });
    const log = path.join(tmp, `log0-resumed-${b.name}.csv`);
    const ck = path.join(tmp, `log0-ck-${b.name}-{epoch}.blasnet`);
    make().fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, callbacks: [csvLogger(log), modelCheckpoint(ck, { every: 2 }),
      { onEpochEnd: (l, ctx) => { if (l.epoch === 2) ctx.stop('interrupted'); } }] });
    // As the earlier release wrote it: epochs 0, 1, 2 for the three epochs run.
    const [header, ...rows] = fs.readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(rows.length, 3);
    fs.writeFileSync(log, [header, ...rows.map((r) => `${Number(r.split(',')[0]) - 1}${r.slice(r.indexOf(','))}`)].join('\n') + '\n');
    const c = loadModel(ck.replace('{epoch}', '2'), { backend: b });
    c.model.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: c, callbacks: [csvLogger(log)] });
    assert.deepEqual(columns(log), columns(whole));
    // A log numbered from 1 whose first row's epoch cell is blank is not read as numbered from 0.
    const odd = path.join(tmp, `log0-blank-${b.name}.csv`);
    fs.writeFileSync(odd, [header, `${rows[0].slice(rows[0].indexOf(','))}`, ...rows.slice(1)].join('\n') + '\n');
    const c2 = loadModel(ck.replace('{epoch}', '2'), { backend: b });
    c2.model.fit(train.x, train.y, { epochs: 4, batchSize: 32, schedule, resume: c2, callbacks: [csvLogger(odd)] });
    assert.deepEqual(columns(odd).map((l) => l.split(',')[0]), ['epoch', '', '2', '3', '4']);
  });

  it("a checkpoint whose schedule state this schedule does not give is refused by fit's resume, naming the checkpoint and, for a chain, an earlier release", () => {
    const chain = { name: 'sequential' as const, schedules: [{ name: 'cyclic' as const, baseLr: 0.001, maxLr: 0.1, stepSizeUp: 2 }, { name: 'exponential' as const, gamma: 0.9 }], milestones: [4] };
    const ck = path.join(tmp, `chain-ck-${b.name}-{epoch}.blasnet`);
    make().fit(train.x, train.y, { epochs: 2, batchSize: 32, schedule: chain, scheduleEvery: 'epoch', callbacks: [modelCheckpoint(ck)] });
    const c = loadModel(ck.replace('{epoch}', '2'), { backend: b });
    (c.schedule as { lr: number }).lr *= 1.5;
    throwsCode(() => c.model.fit(train.x, train.y, { epochs: 3, batchSize: 32, schedule: chain, scheduleEvery: 'epoch', resume: c }), 'ERR_BLASNET_STATE', undefined,
      "fit (resume): the checkpoint's schedule state does not fit this schedule: the state's lr at step 2 is");
    throwsCode(() => c.model.fit(train.x, train.y, { epochs: 3, batchSize: 32, schedule: chain, scheduleEvery: 'epoch', resume: c }), 'ERR_BLASNET_STATE', undefined,
      'or by an earlier release of blasnet, whose sequential chains gave other rates after a oneCycle or cyclic phase (train such a run afresh)');
    // A chain without such a phase computes what it always did: no such clause.
    const plain = { name: 'sequential' as const, schedules: [{ name: 'step' as const, stepSize: 1 }, { name: 'exponential' as const, gamma: 0.9 }], milestones: [4] };
    const ck2 = path.join(tmp, `chain2-ck-${b.name}-{epoch}.blasnet`);
    make().fit(train.x, train.y, { epochs: 2, batchSize: 32, schedule: plain, scheduleEvery: 'epoch', callbacks: [modelCheckpoint(ck2)] });
    const c2 = loadModel(ck2.replace('{epoch}', '2'), { backend: b });
    (c2.schedule as { lr: number }).lr *= 1.5;
    let message = '';
    try {
      c2.model.fit(train.x, train.y, { epochs: 3, batchSize: 32, schedule: plain, scheduleEvery: 'epoch', resume: c2 });
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /it was made from another spec or base lr$/);
  });

  it('a checkpoint path that cannot be written fails before the first step, in fit and fitAsync', async () => {
    const m = make();
    const bad = path.join(tmp, 'no-such-dir', 'ck-{epoch}.blasnet');
    throwsCode(() => m.fit(train.x, train.y, { epochs: 2, callbacks: [modelCheckpoint(bad)] }), 'ERR_BLASNET_IO', undefined, 'no-such-dir');
    await rejectsCode(m.fitAsync(train.x, train.y, { epochs: 2, callbacks: [modelCheckpoint(bad)] }), 'ERR_BLASNET_IO', 'no-such-dir');
    assert.equal(m.optimizer?.stepCount, 0);
    assert.ok(!fs.existsSync(path.dirname(bad)));
  });

  it('replaces every {epoch} in a checkpoint path', () => {
    const file = path.join(tmp, `twice-${b.name}-{epoch}-of-run-{epoch}.blasnet`);
    make().fit(train.x, train.y, { epochs: 2, batchSize: 32, callbacks: [modelCheckpoint(file)] });
    for (const e of [1, 2]) assert.ok(fs.existsSync(path.join(tmp, `twice-${b.name}-${e}-of-run-${e}.blasnet`)), `epoch ${e}`);
  });

  for (const every of ['epoch', 'step'] as const) {
    it(`continues identically without compile() once the schedule has moved the lr (scheduleEvery '${every}')`, () => {
      const o = { epochs: 4, batchSize: 32, scheduleEvery: every, schedule: every === 'epoch' ? schedule : { name: 'cosineAnnealing' as const, tMax: 32 } };
      const whole = make();
      const hw = whole.fit(train.x, train.y, o);
      const file = path.join(tmp, `resume-lr-${every}-${b.name}-{epoch}.blasnet`);
      make().fit(train.x, train.y, { ...o, callbacks: [modelCheckpoint(file), { onEpochEnd: (l, ctx) => { if (l.epoch === 1) ctx.stop('interrupted'); } }] });
      const ck = loadModel(file.replace('{epoch}', '2'), { backend: b });
      // The loaded optimiser holds the scheduled lr; the schedule was made from the compiled one.
      assert.equal(ck.model.optimizer?.lr, 0.005);
      const hr = ck.model.fit(train.x, train.y, { ...o, resume: ck });
      assert.deepEqual(ck.model.params, whole.params);
      assert.deepEqual(hr.epochs.map((e) => e.loss), hw.epochs.slice(2).map((e) => e.loss));
      assert.deepEqual(hr.stepLr, hw.stepLr.slice(16));
    });
  }
});

forEachBackend('fit with a oneCycle schedule to its end', (b) => {
  // The repro: 4 rows in batches of 2, sgd with momentum, as torch.optim.SGD under OneCycleLR.
  const x = new Matrix(new Float32Array(8).map((_, i) => i / 8), 4, 2);
  const y = new Matrix(new Float32Array(4).map((_, i) => i % 2), 4, 1);
  const make = () => new Sequential({ inputSize: 2, seed: 1, backend: b, layers: [dense(1)] })
    .compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } });
  const linear = { name: 'oneCycle' as const, maxLr: 0.1, totalSteps: 4, annealStrategy: 'linear' as const };
  // torch 1.13 OneCycleLR(SGD(lr=0.1, momentum=0.9), max_lr=0.1, total_steps=4, ...): the lr and
  // momentum of each of the 4 updates (its value after the 4th, never used, is -0.0357 with 'linear').
  const TORCH = {
    linear: { lr: [0.004, 0.0714286857142857, 0.03571454285714286, 3.999999999976245e-7], momentum: [0.95, 0.8785714285714286, 0.9142857142857143, 0.95] },
    threePhase: { lr: [0.004, 0.03600000000000003, 0.0022224000000000002, 4.0000000000022656e-7], momentum: [0.95, 0.9166666666666666, 0.95, 0.95] },
  };
  const close = (actual: readonly number[], expected: readonly number[], what: string) => {
    assert.equal(actual.length, expected.length, `${what}: length`);
    actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-12 * Math.abs(expected[i]), `${what}[${i}]: ${v}, torch ${expected[i]}`));
  };
  /** The hooks called, and the momentum each update used (read in onBatchEnd, before the schedule moves). */
  const recorder = () => {
    const seen = { hooks: [] as string[], momentum: [] as number[] };
    const callback = {
      onTrainBegin: () => void seen.hooks.push('begin'),
      onEpochEnd: (l: EpochLogs) => void seen.hooks.push(`end${l.epoch}`),
      onBatchEnd: (_: unknown, ctx: { optimizer: { momentum?: number } }) => void seen.momentum.push(ctx.optimizer.momentum as number),
      onTrainEnd: () => void seen.hooks.push('done'),
    };
    return { seen, callback };
  };

  for (const [what, every, epochs, batchSize, schedule, torch] of [
    ['linear, every step', 'step', 2, 2, linear, TORCH.linear],
    ['linear, every epoch', 'epoch', 4, 4, linear, TORCH.linear],
    ['threePhase linear, every step', 'step', 2, 2, { ...linear, pctStart: 0.4, threePhase: true }, TORCH.threePhase],
  ] as const) {
    it(`${what}: as many steps as totalSteps train torch's lr and momentum and return the History`, () => {
      const m = make();
      const { seen, callback } = recorder();
      const h = m.fit(x, y, { epochs, batchSize, shuffle: false, scheduleEvery: every, schedule, callbacks: [callback] });
      assert.deepEqual(seen.hooks, ['begin', ...Array.from({ length: epochs }, (_, e) => `end${e}`), 'done']);
      assert.equal(h.epochs.length, epochs);
      const used = every === 'step' ? Array.from(h.stepLr) : h.epochs.map((e) => e.lr);
      close(used, torch.lr, 'lr');
      close(seen.momentum, torch.momentum, 'momentum');
      // The optimiser ends with the last lr and momentum an update used; the last epoch's log too.
      assert.equal(m.optimizer?.lr, used[3]);
      assert.equal(m.optimizer?.momentum, seen.momentum[seen.momentum.length - 1]);
      assert.equal(h.epochs[epochs - 1].lr, used[3]);
    });
  }

  it('more steps than totalSteps are refused before any step (ERR_BLASNET_ARG_RANGE naming both), by steps or epochs', () => {
    for (const [options, mentions] of [
      [{ epochs: 3, batchSize: 2, scheduleEvery: 'step', schedule: linear }, 'at most 4 steps (totalSteps 4) but this fit would step it 6 times (3 epochs of 2 steps'],
      [{ epochs: 5, batchSize: 2, scheduleEvery: 'epoch', schedule: linear }, 'would step it 5 times (5 epochs'],
      [{ epochs: 3, batchSize: 2, scheduleEvery: 'step', schedule: { ...linear, annealStrategy: 'cos' } }, '6 times'],
      [{ epochs: 3, batchSize: 2, scheduleEvery: 'step', schedule: { name: 'warmup', warmupSteps: 1, then: linear } }, 'at most 5 steps'],
    ] as const) {
      const m = make();
      const before = m.params.slice();
      let hooks = 0;
      throwsCode(() => m.fit(x, y, { ...options, callbacks: [{ onTrainBegin: () => void hooks++ }] } as FitOptions), 'ERR_BLASNET_ARG_RANGE', RangeError, mentions);
      assert.deepEqual(m.params, before, 'no step taken');
      assert.equal(m.optimizer?.lr, 0.1, 'the optimiser untouched');
      assert.equal(hooks, 0, 'no callback called');
    }
    // maxSteps, and SWA's constant lr over the epochs from its startEpoch, keep the schedule within its steps.
    make().fit(x, y, { epochs: 3, batchSize: 2, maxSteps: 4, scheduleEvery: 'step', schedule: linear });
    make().fit(x, y, { epochs: 3, batchSize: 2, scheduleEvery: 'step', schedule: linear, swa: { startEpoch: 2, lr: 0.01 } });
    make().fit(x, y, { epochs: 6, batchSize: 4, maxSteps: 4, schedule: linear });
  });

  it('fitDistributed counts each rank\'s steps and refuses more than totalSteps before any collective', () => {
    // Rank 0 of 2, alone: 2 of the 4 rows per rank, one batch of 2 per epoch.
    let collectives = 0;
    const communicator: Communicator = {
      rank: 0, size: 2, isRoot: true, threadLevel: 'funneled', timeoutMs: 1000,
      allreduce: () => void collectives++, broadcast: () => void collectives++, barrier: () => void collectives++,
      broadcastJson: <T>(v: T) => (collectives++, v), finalize: () => undefined,
      abort: () => {
        throw new Error('abort');
      },
    };
    const m = make();
    const before = m.params.slice();
    throwsCode(() => fitDistributed(m, x, y, { epochs: 5, batchSize: 2, schedule: linear, scheduleEvery: 'step', communicator }),
      'ERR_BLASNET_ARG_RANGE', RangeError, 'would step it 5 times (5 epochs of 1 step');
    assert.equal(collectives, 0);
    assert.deepEqual(m.params, before);
    const h = fitDistributed(m, x, y, { epochs: 4, batchSize: 2, schedule: linear, scheduleEvery: 'step', communicator });
    close(Array.from(h.stepLr), TORCH.linear.lr, 'lr');
    assert.equal(m.optimizer?.lr, h.stepLr[3]);
  });

  it('resume counts the checkpoint\'s steps: the rest of totalSteps trains as an uninterrupted run, more is refused', () => {
    const options = { epochs: 2, batchSize: 2, shuffle: false, scheduleEvery: 'step' as const, schedule: linear };
    const whole = make();
    const hw = whole.fit(x, y, options);
    const file = path.join(tmp, `onecycle-${b.name}-{epoch}.blasnet`);
    make().fit(x, y, { ...options, callbacks: [modelCheckpoint(file), { onEpochEnd: (_l, ctx) => ctx.stop('interrupted') }] });
    const ck = loadModel(file.replace('{epoch}', '1'), { backend: b });
    const before = ck.model.params.slice();
    throwsCode(() => ck.model.fit(x, y, { ...options, epochs: 3, resume: ck }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      'would step it 6 times (the checkpoint\'s 2, then 2 epochs of 2 steps');
    assert.deepEqual(ck.model.params, before);
    const hr = ck.model.fit(x, y, { ...options, resume: ck });
    assert.deepEqual(ck.model.params, whole.params);
    assert.deepEqual(Array.from(hr.stepLr), Array.from(hw.stepLr.subarray(2)));
    assert.equal(ck.model.optimizer?.lr, whole.optimizer?.lr);
  });
});

forEachBackend('preprocessing stored with the model', (b) => {
  it('is fitted on the training data, applied by fit, evaluate and predict, and saved with the model', () => {
    const raw = blobs(200, 9);
    // Shift and scale the features far from unit range: a model without the standardizer would see other inputs.
    const x = Matrix.from(Array.from({ length: 200 }, (_, i) => Array.from(raw.x.subarray(i * 4, i * 4 + 4), (v, j) => 100 + 50 * v * (j + 1))));
    const scaler = new Standardizer().fit(x);
    const m = classifier(b).setPreprocessing(scaler);
    m.fit(x, raw.y, { epochs: 5 });
    const direct = classifier(b);
    direct.setWeights(m.getWeights());
    const scaled = scaler.transform(x);
    assert.deepEqual(m.predict(x).data, direct.predict(scaled).data, 'predict applies the preprocessing');
    assert.ok(m.evaluate(x, raw.y).accuracy > 0.85);
    const file = path.join(tmp, `pre-${b.name}.blasnet`);
    saveModel(file, m);
    const loaded = loadModel(file, { backend: b });
    assert.ok(loaded.model.preprocessing instanceof Standardizer);
    assert.deepEqual(loaded.model.predict(x).data, m.predict(x).data);
    throwsCode(() => m.predict(x.data), 'ERR_BLASNET_ARG_TYPE', TypeError, 'preprocessing');
    throwsCode(() => classifier(b).setPreprocessing(new Standardizer()), 'ERR_BLASNET_STATE');
  });

  it('returning another width than the model takes is ERR_BLASNET_SHAPE naming both widths; the raw width is free', () => {
    const raw = new Matrix(new Rng(3).uniformArray(40 * 6, -1, 1), 40, 6);
    const m = classifier(b);
    throwsCode(() => m.setPreprocessing(new Standardizer().fit(raw)), 'ERR_BLASNET_SHAPE', RangeError,
      'the Standardizer returns 6 features per row but the model takes 4');
    throwsCode(() => m.setPreprocessing(new PCA({ components: 3, backend: b }).fit(raw)), 'ERR_BLASNET_SHAPE', RangeError,
      'the PCA returns 3 features per row but the model takes 4');
    assert.equal(m.preprocessing, null);
    const pca = new PCA({ components: 4, backend: b }).fit(raw);
    m.setPreprocessing(pca);
    assert.equal(m.preprocessing, pca);
    assert.equal(m.predict(raw).rows, 40);
  });
});

forEachBackend('dropLast and the batch plan', (b) => {
  const rng = new Rng(4);
  const x = new Matrix(rng.uniformArray(33 * 3, -1, 1), 33, 3), y = Int32Array.from({ length: 33 }, (_, i) => i % 2);
  const net = (layers = [dense(4), batchNorm(), dense(2)]): Sequential =>
    new Sequential({ inputSize: 3, seed: 1, backend: b, layers }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });

  it('a batchNorm model whose last batch would hold one row is refused before any step, weights untouched', () => {
    const m = net(), before = m.params.slice();
    throwsCode(() => m.fit(x, y, { epochs: 2, batchSize: 32 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'a batch of 1 row has no batch statistics for batchNorm (33 training rows in batches of 32); pass dropLast: true');
    assert.deepEqual(m.params, before);
    // The same holds where validationSplit leaves 33 training rows of 34.
    const x34 = new Matrix(rng.uniformArray(34 * 3, -1, 1), 34, 3), y34 = Int32Array.from({ length: 34 }, (_, i) => i % 2);
    throwsCode(() => m.fit(x34, y34, { batchSize: 16, validationSplit: 1 / 34 }), 'ERR_BLASNET_ARG_RANGE', RangeError, '33 training rows');
    assert.deepEqual(m.params, before);
    // One training row in all: no batch setting helps.
    throwsCode(() => m.fit(new Matrix(x.data.slice(0, 3), 1, 3), y.slice(0, 1), { epochs: 1 }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      '(1 training row in batches of 32); train on at least 2 rows');
  });

  it('dropLast leaves out the short last batch, as drop_last; without batchNorm a last batch of one row trains', () => {
    const m = net();
    const h = m.fit(x, y, { epochs: 2, batchSize: 32, dropLast: true });
    assert.equal(h.steps, 2, 'one full batch per epoch');
    const plain = net([dense(4, { activation: 'relu' }), dense(2)]);
    assert.equal(plain.fit(x, y, { epochs: 2, batchSize: 32 }).steps, 4);
    assert.equal(net([dense(4, { activation: 'relu' }), dense(2)]).fit(x, y, { epochs: 2, batchSize: 16, dropLast: true }).steps, 4);
  });

  it('refuses dropLast that leaves no batch, and a dropLast that is not a boolean', () => {
    const m = net([dense(2)]), before = m.params.slice();
    throwsCode(() => m.fit(x, y, { batchSize: 64, dropLast: true }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'dropLast leaves no batch: 33 training rows, batchSize 64');
    throwsCode(() => m.fit(x, y, { dropLast: 1 as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'boolean for dropLast');
    assert.deepEqual(m.params, before);
  });
});

describe('progress bar', () => {
  it('draws a bar with loss, samples/s and ETA on a terminal, one line per epoch elsewhere', () => {
    const train = blobs(120, 11);
    const capture = (isTTY: boolean) => {
      let text = '';
      const stream = Object.assign(new Writable({
        write(chunk: Buffer, _enc: string, done: () => void) { text += chunk.toString(); done(); },
      }), { isTTY, columns: 120, rows: 30, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
      const m = classifier(jsBackend);
      m.fit(train.x, train.y, { epochs: 2, batchSize: 10, callbacks: [progressBar({ stream: stream as unknown as NodeJS.WriteStream })] });
      return text;
    };
    const tty = capture(true);
    assert.match(tty, /epoch 1\/2 \[[^\]]*\] \d+\/12 \| loss [\d.]+ \| \d+ samples\/s \| ETA/);
    assert.match(tty, /epoch 2\/2 +loss [\d.]+ +accuracy/);
    const plain = capture(false);
    assert.doesNotMatch(plain, /ETA/);
    assert.equal(plain.trim().split('\n').length, 2);
    // Every metric with four decimals, whatever its size.
    for (const line of plain.trim().split('\n')) {
      assert.match(line, /^epoch \d\/2  loss \d+\.\d{4}  accuracy \d\.\d{4}  top2Accuracy \d\.\d{4}  lr /, line);
    }
  });
});

forEachBackend('the threads option', (b) => {
  // At batch 128 the first layer's forward product (128 x 128 x 784) is cut in two on two native
  // threads. Under OpenBLAS's Haswell and Zen kernels that changes its last bits; the SkylakeX
  // kernels round each piece as the whole, so there the cap is also read from inside the loop.
  const net = (): Sequential => new Sequential({ inputSize: 784, seed: 3, backend: b,
    layers: [dense(128, { activation: 'relu' }), dense(4, { activation: 'softmax' })] }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
  const rng = new Rng(9);
  const data = { x: new Matrix(rng.uniformArray(512 * 784, -1, 1), 512, 784), y: Int32Array.from({ length: 512 }, () => rng.int(4)) };
  let threads = 1;
  before(() => { threads = b.getNumThreads(); });
  after(() => { b.setNumThreads(threads); b.setThreadLimit(0); });

  /** The weights after fit with `options`, under setNumThreads(n), and the caps seen at each batch. */
  function trained(n: number, options: Record<string, unknown>): { params: Float32Array; caps: Set<number> } {
    b.setNumThreads(n);
    const m = net();
    const caps = new Set<number>();
    // setThreadLimit returns the cap in force; the second call puts it back.
    const onBatchEnd = (): void => { const cap = b.setThreadLimit(0); b.setThreadLimit(cap); caps.add(cap); };
    m.fit(data.x, data.y, { epochs: 1, batchSize: 128, callbacks: [{ onBatchEnd }], ...options });
    b.setNumThreads(threads);
    return { params: m.params.slice(), caps };
  }

  it('threads caps the loop: threads 1 trains to the bits of a fit on one thread, a cap at the count changes nothing', () => {
    const two = Math.max(2, threads);
    const one = trained(1, {}), all = trained(two, {});
    assert.deepEqual([...one.caps, ...all.caps], [0, 0], 'no cap without the option');
    const capped = trained(two, { threads: 1 });
    assert.deepEqual([...capped.caps], [1], 'the cap holds at every batch');
    assert.deepEqual(capped.params, one.params);
    const atCount = trained(two, { threads: two }), above = trained(two, { threads: 64 });
    assert.deepEqual([...atCount.caps, ...above.caps], [two, 64]);
    assert.deepEqual(atCount.params, all.params);
    assert.deepEqual(above.params, all.params, 'a cap above the count is no cap');
  });

  it('the cap lasts for the loop only, also when a callback throws', () => {
    const m = net();
    m.fit(data.x, data.y, { epochs: 1, batchSize: 32 });
    assert.equal(b.setThreadLimit(0), 0, 'no cap left after fit');
    assert.throws(() => m.fit(data.x, data.y, { epochs: 1, batchSize: 32, threads: 1, callbacks: [{ onBatchEnd: () => { throw new Error('stop here'); } }] }),
      /stop here/);
    assert.equal(b.setThreadLimit(0), 0, 'no cap left after a throwing fit');
    assert.equal(b.setThreadLimit(5), 0);
    m.fit(data.x, data.y, { epochs: 1, batchSize: 32, threads: 1 });
    assert.equal(b.setThreadLimit(0), 5, 'a cap set before fit is put back');
  });

  it('rejects threads that are not an integer in [1, 1024]', () => {
    const m = net();
    for (const v of [0, -1, 1.5, 1025, 'auto', NaN, true]) {
      throwsCode(() => m.fit(data.x, data.y, { threads: v as never }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'for threads');
    }
  });
});
