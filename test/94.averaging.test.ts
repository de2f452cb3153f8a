/**
 * Weight averaging (EMA, SWA with BatchNorm statistics recomputed) and Monte Carlo dropout, on
 * every backend.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { batchNorm, dense, dropout, earlyStopping, Ensemble, loadModel, Matrix, mcPredict, modelCheckpoint, predictProba, Rng, Sequential, snapshotEnsemble, Standardizer, updateBatchNorm } from '../lib';
import type { Backend } from '../lib';
import { blobs, forEachBackend, rejectsCode, throwsCode } from './helpers';

function model(b: Backend, bn = false): Sequential {
  return new Sequential({
    inputSize: 4, seed: 3, backend: b,
    layers: [dense(16, { activation: 'relu' }), ...(bn ? [batchNorm()] : []), dropout(0.3), dense(3, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 }, metrics: ['accuracy'] });
}

forEachBackend('weight averaging', (b) => {
  const { x, y } = blobs(240, 13);

  it('ema: the model ends with avg = decay avg + (1 - decay) w over every step', () => {
    const m = model(b);
    const ref = model(b);
    const decay = 0.9;
    let avg: Float64Array | null = null;
    ref.fit(x, y, {
      epochs: 2, batchSize: 30,
      callbacks: [{ onBatchEnd: (_l, ctx) => {
        const w = ctx.model.params;
        if (!avg) avg = Float64Array.from(w);
        else for (let i = 0; i < w.length; i++) avg[i] = decay * avg[i] + (1 - decay) * w[i];
      } }],
    });
    const h = m.fit(x, y, { epochs: 2, batchSize: 30, ema: { decay } });
    assert.equal(h.averaged, 'ema');
    let worst = 0;
    for (let i = 0; i < m.params.length; i++) worst = Math.max(worst, Math.abs(m.params[i] - (avg as unknown as Float64Array)[i]));
    assert.ok(worst < 1e-5, `largest difference from the float64 EMA ${worst}`);
    assert.notDeepEqual(m.params, ref.params, 'the averaged weights are not the last ones');
  });

  it('swa: the mean of the epoch-end weights from startEpoch, at its lr, BatchNorm statistics recomputed', () => {
    const m = model(b, true);
    const ends: Float32Array[] = [];
    const lrs: number[] = [];
    const h = m.fit(x, y, {
      epochs: 5, batchSize: 30, swa: { startEpoch: 2, lr: 0.02 },
      callbacks: [{ onEpochEnd: (l, ctx) => { ends.push(ctx.model.params.slice()); lrs.push(l.lr); } }],
    });
    assert.equal(h.averaged, 'swa');
    assert.deepEqual(lrs.slice(2), [0.02, 0.02, 0.02]);
    for (let i = 0; i < m.params.length; i += 7) {
      const mean = (ends[2][i] + ends[3][i] + ends[4][i]) / 3;
      assert.ok(Math.abs(m.params[i] - mean) < 1e-5, `param ${i}: ${m.params[i]} vs ${mean}`);
    }
    // The statistics match what updateBatchNorm computes for these weights.
    const stats = m.buffers().map((v) => v.data.slice());
    updateBatchNorm(m, x, { batchSize: 30 });
    assert.deepEqual(m.buffers().map((v) => v.data), stats);
    assert.ok((m.evaluate(x, y).accuracy as number) > 0.8);
    throwsCode(() => model(b).fit(x, y, { ema: { decay: 1 } }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => model(b).fit(x, y, { swa: { startEpoch: -1 } }), 'ERR_BLASNET_ARG_RANGE');
    // An average that would never start (startEpoch is 0-based) is refused, not silently left out.
    throwsCode(() => model(b).fit(x, y, { epochs: 3, swa: { startEpoch: 3, lr: 0.01 } }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      'swa.startEpoch 3 (0-based) is past the last epoch (2), so no epoch would be averaged');
    assert.equal(model(b).fit(x, y, { epochs: 3, batchSize: 30, swa: { startEpoch: 2 } }).averaged, 'swa');
    throwsCode(() => model(b).fit(x, y, { ema: { decay: 0.9 }, swa: { startEpoch: 0 } }), 'ERR_BLASNET_ARG_RANGE');
  });

  it("earlyStopping's restoreBestWeights with ema or swa is refused before any step, in fit and fitAsync", async () => {
    for (const averaging of [{ ema: { decay: 0.9 } }, { swa: { startEpoch: 1 } }]) {
      const m = model(b);
      const before = m.params.slice();
      let began = 0;
      const callbacks = () => [{ onTrainBegin: () => { began++; } }, earlyStopping({ monitor: 'loss', patience: 2, restoreBestWeights: true })];
      throwsCode(() => m.fit(x, y, { epochs: 3, batchSize: 30, ...averaging, callbacks: callbacks() }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'restoreBestWeights');
      await rejectsCode(() => m.fitAsync(x, y, { epochs: 3, batchSize: 30, ...averaging, callbacks: callbacks() }), 'ERR_BLASNET_ARG_RANGE', 'restoreBestWeights');
      assert.equal(began, 0);
      assert.deepEqual(m.params, before);
      // Without restoreBestWeights the two go together.
      const h = m.fit(x, y, { epochs: 2, batchSize: 30, ...averaging, callbacks: [earlyStopping({ monitor: 'loss', patience: 2 })] });
      assert.equal(h.averaged, 'ema' in averaging ? 'ema' : 'swa');
    }
  });

  it('resume with ema, or with swa past its startEpoch, is refused (a checkpoint holds no average); swa starting later resumes exactly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-avg-resume-'));
    try {
      const file = path.join(dir, 'ck-{epoch}.blasnet');
      const whole = model(b);
      whole.fit(x, y, { epochs: 5, batchSize: 30, swa: { startEpoch: 3 }, callbacks: [modelCheckpoint(file)] });
      const ck = () => loadModel(file.replace('{epoch}', '2'), { backend: b });
      for (const averaging of [{ ema: { decay: 0.9 } }, { swa: { startEpoch: 1 } }, { swa: { startEpoch: 0 } }]) {
        const c = ck();
        const before = c.model.params.slice();
        throwsCode(() => c.model.fit(x, y, { epochs: 5, batchSize: 30, ...averaging, resume: c }), 'ERR_BLASNET_ARG_RANGE', RangeError,
          'does not hold');
        await rejectsCode(() => c.model.fitAsync(x, y, { epochs: 5, batchSize: 30, ...averaging, resume: c }), 'ERR_BLASNET_ARG_RANGE', 'does not hold');
        assert.deepEqual(c.model.params, before);
      }
      // From epoch 2 on, an average that starts at epoch index 2 or later has lost nothing.
      const c = ck();
      const h = c.model.fit(x, y, { epochs: 5, batchSize: 30, swa: { startEpoch: 3 }, resume: c });
      assert.equal(h.averaged, 'swa');
      assert.deepEqual(c.model.params, whole.params);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ema and swa take only their own keys, in fit and fitAsync; fitAsync averages as fit does', async () => {
    const extra = { ema: { ema: { decay: 0.9, f() {} } }, swa: { swa: { startEpoch: 0, every: 2 } } };
    for (const [key, options] of Object.entries(extra)) {
      throwsCode(() => model(b).fit(x, y, options), 'ERR_BLASNET_ARG_RANGE', RangeError, `in ${key}`);
      await rejectsCode(model(b).fitAsync(x, y, options), 'ERR_BLASNET_ARG_RANGE', `in ${key}`);
    }
    for (const options of [{ ema: { decay: 0.9 } }, { swa: { startEpoch: 1, lr: 0.02 } }]) {
      const s = model(b, true), a = model(b, true);
      const hs = s.fit(x, y, { epochs: 3, batchSize: 30, ...options });
      const ha = await a.fitAsync(x, y, { epochs: 3, batchSize: 30, ...options });
      assert.equal(ha.averaged, hs.averaged);
      assert.deepEqual(a.params, s.params);
      assert.deepEqual(a.buffers().map((v) => v.data), s.buffers().map((v) => v.data));
    }
  });

  it('updateBatchNorm: the cumulative average of the batch statistics', () => {
    const m = model(b, true);
    m.fit(x, y, { epochs: 1, batchSize: 30 });
    updateBatchNorm(m, x, { batchSize: 60 });
    // Running mean = mean over the 4 batches of each batch's mean of the BatchNorm input.
    const h = new Sequential({ inputSize: 4, backend: b, layers: [dense(16, { activation: 'relu' })] });
    h.setWeights(m.getWeights().slice(0, 2));
    const z = h.predict(x).data;
    const mean = new Float64Array(16);
    for (let i = 0; i < 240; i++) for (let j = 0; j < 16; j++) mean[j] += z[i * 16 + j] / 240;
    const got = m.buffers()[0].data;
    for (let j = 0; j < 16; j++) assert.ok(Math.abs(got[j] - mean[j]) < 1e-4, `unit ${j}: ${got[j]} vs ${mean[j]}`);
  });

  it('updateBatchNorm refuses one row, NaN and a partial row before it resets the statistics, which stay as they were', () => {
    const m = model(b, true);
    m.fit(x, y, { epochs: 1, batchSize: 30 });
    const stats = m.buffers().map((v) => v.data.slice());
    const nan = x.slice();
    nan[5 * 4 + 2] = NaN;
    throwsCode(() => updateBatchNorm(m, x.subarray(0, 4)), 'ERR_BLASNET_SHAPE', RangeError, 'at least 2 rows');
    throwsCode(() => updateBatchNorm(m, nan), 'ERR_BLASNET_DATA', undefined, 'updateBatchNorm: x holds NaN at index 22 (row 6, column 3)');
    throwsCode(() => updateBatchNorm(m, x.subarray(0, 9)), 'ERR_BLASNET_SHAPE', RangeError, 'Expected a whole number of rows of 4 features but received 9 values');
    assert.deepEqual(m.buffers().map((v) => v.data), stats);
  });

  it("updateBatchNorm runs raw rows through the model's own preprocessing, as fit and predict take them", () => {
    // Columns far from 0: without the scaler the statistics would be those of the raw rows.
    const flat = x.map((v, i) => 50 + 10 * v + (i % 4));
    const raw = new Matrix(flat, flat.length / 4, 4);
    const scaled = new Standardizer().fit(raw);
    const withScaler = model(b, true).setPreprocessing(scaled);
    withScaler.fit(raw, y, { epochs: 1, batchSize: 30 });
    updateBatchNorm(withScaler, raw);
    const byHand = model(b, true);
    byHand.setWeights(withScaler.getWeights());
    updateBatchNorm(byHand, scaled.transform(raw));
    assert.deepEqual(withScaler.buffers().map((v) => Array.from(v.data)), byHand.buffers().map((v) => Array.from(v.data)));
    // Rows as arrays are taken too.
    updateBatchNorm(withScaler, Array.from({ length: raw.rows }, (_, r) => Array.from(flat.subarray(r * 4, r * 4 + 4))));
    assert.deepEqual(withScaler.buffers().map((v) => Array.from(v.data)), byHand.buffers().map((v) => Array.from(v.data)));
  });
});

forEachBackend('Monte Carlo dropout', (b) => {
  const { x, y } = blobs(120, 17);

  it('mean and spread over stochastic passes, BatchNorm untouched, the model unchanged', () => {
    const m = model(b, true);
    m.fit(x, y, { epochs: 3, batchSize: 20 });
    const stats = m.buffers().map((v) => v.data.slice());
    const masks = m.maskState();
    const p = m.predict(x, { mcSamples: 30, seed: 5 });
    assert.equal(p.mean.rows, 120);
    assert.deepEqual(m.buffers().map((v) => v.data), stats, 'running statistics untouched');
    assert.deepEqual(m.maskState(), masks, "the model's mask stream untouched");
    for (let r = 0; r < 120; r++) {
      const s = p.mean.row(r).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(s - 1) < 1e-5, 'the mean of probabilities is a distribution');
    }
    assert.ok(p.std.data.some((v) => v > 1e-3), 'dropout makes the passes differ');
    assert.deepEqual(mcPredict(m, x, { samples: 30, seed: 5 }).mean.data, p.mean.data, 'seeded');
    const plain = new Sequential({ inputSize: 4, backend: b, layers: [dense(3)] });
    assert.ok(plain.predict(x, { mcSamples: 4 }).std.data.every((v) => v === 0), 'no stochastic layer, no spread');
    throwsCode(() => m.predict(x, { mcSamples: 0 }), 'ERR_BLASNET_ARG_RANGE');
  });
});

forEachBackend('Monte Carlo dropout over logits', (b) => {
  const { x, y } = blobs(120, 17);
  const rows = 120;

  /**
   * The float64 mean and variance over `samples` passes of forward with the generator mcPredict
   * seeds (one batch of all rows per pass, as mcPredict runs 120 rows), each pass's outputs
   * mapped by `map` (a row of outputs to its values).
   */
  function reference(m: Sequential, samples: number, seed: number, map: (z: Float64Array) => Float64Array): { mean: Float64Array; variance: Float64Array; meanOutput: Float64Array } {
    const k = m.outputSize;
    const sum = new Float64Array(rows * k), sq = new Float64Array(rows * k), raw = new Float64Array(rows * k);
    const rng = new Rng(seed);
    for (let s = 0; s < samples; s++) {
      const z = m.forward(new Matrix(x, rows, 4), { training: false, stochasticRng: rng }).data;
      for (let r = 0; r < rows; r++) {
        const v = map(Float64Array.from(z.subarray(r * k, (r + 1) * k)));
        for (let j = 0; j < k; j++) {
          sum[r * k + j] += v[j];
          sq[r * k + j] += v[j] * v[j];
          raw[r * k + j] += z[r * k + j] / samples;
        }
      }
    }
    const mean = sum.map((v) => v / samples);
    return { mean, variance: sq.map((v, i) => v / samples - mean[i] * mean[i]), meanOutput: raw };
  }

  const softmax = (z: Float64Array) => {
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const t = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / t);
  };
  const sigmoid = (z: Float64Array) => z.map((v) => 1 / (1 + Math.exp(-v)));

  function close(got: Float32Array, want: Float64Array, tol: number, what: string): void {
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst < tol, `${what}: largest difference ${worst}`);
  }

  /** mcPredict's mean and variance against the reference passes turned into probabilities by toProbs. */
  function matchesReference(m: Sequential, samples: number, seed: number, toProbs: (z: Float64Array) => Float64Array) {
    const p = mcPredict(m, x, { samples, seed });
    const ref = reference(m, samples, seed, toProbs);
    close(p.mean.data, ref.mean, 1e-6, 'mean of the probabilities');
    close(p.std.data.map((v) => v * v), ref.variance, 1e-5, 'variance of the probabilities');
    return { p, ref };
  }

  it('a crossEntropy model ending in logits: the mean and spread of each pass\'s softmax, not softmax of the mean logits', () => {
    const m = new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.5), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } });
    m.fit(x, y, { epochs: 5, batchSize: 20 });
    const { p, ref } = matchesReference(m, 25, 11, softmax);
    for (let r = 0; r < rows; r++) assert.ok(Math.abs(p.mean.row(r).reduce((a, v) => a + v, 0) - 1) < 1e-5, `row ${r} sums to 1`);
    // Averaging logits first gives another, sharper distribution.
    let apart = 0;
    for (let r = 0; r < rows; r++) {
      const q = softmax(ref.meanOutput.subarray(r * 3, r * 3 + 3));
      for (let j = 0; j < 3; j++) apart = Math.max(apart, Math.abs(q[j] - p.mean.data[r * 3 + j]));
    }
    assert.ok(apart > 1e-2, `softmax of the mean logits is within ${apart} of the mean probabilities`);
    assert.deepEqual(m.predict(x, { mcSamples: 25, seed: 11 }).mean.data, p.mean.data, 'predict with mcSamples is mcPredict');
  });

  it('a binaryCrossEntropy model ending in a logit: the mean of each pass\'s sigmoid', () => {
    const t = Float32Array.from(y, (c) => (c === 0 ? 1 : 0));
    const m = new Sequential({ inputSize: 4, seed: 5, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.5), dense(1)] })
      .compile({ loss: 'binaryCrossEntropy', optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } });
    m.fit(x, t, { epochs: 5, batchSize: 20 });
    const { p } = matchesReference(m, 25, 2, sigmoid);
    assert.ok(p.mean.data.every((v) => v >= 0 && v <= 1));
  });

  it('regression outputs are averaged as values', () => {
    const t = Float32Array.from({ length: rows * 2 }, (_, i) => x[(i >> 1) * 4 + (i & 1)] * 3);
    const m = new Sequential({ inputSize: 4, seed: 7, backend: b, layers: [dense(16, { activation: 'relu' }), dropout(0.3), dense(2)] })
      .compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.05 } });
    m.fit(x, t, { epochs: 3, batchSize: 20 });
    const p = mcPredict(m, x, { samples: 10, seed: 4 });
    const ref = reference(m, 10, 4, (z) => z);
    close(p.mean.data, ref.mean, 1e-5, 'mean of the outputs');
    assert.ok(p.mean.data.some((v) => v < 0 || v > 1), 'values, not probabilities');
  });
});

forEachBackend('ensembles', (b) => {
  const { x, y } = blobs(240, 19);
  const file = path.join(os.tmpdir(), `blasnet-ens-${process.pid}-${b.name}.blasnet`);
  after(() => fs.rmSync(file, { force: true }));

  function member(seed: number): Sequential {
    return new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(8, { activation: 'relu' }), dense(3, { activation: 'softmax' })] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.02 } });
  }

  it('averages its members, trains them in parallel exactly as one by one, and saves as one file', async () => {
    const e = new Ensemble([member(1), member(2), member(3)]);
    const f = new Ensemble([member(1), member(2), member(3)]);
    e.fit(x, y, { epochs: 3, batchSize: 20 });
    await f.fitAsync(x, y, { epochs: 3, batchSize: 20, parallel: true });
    f.models.forEach((m, i) => assert.deepEqual(m.params, e.models[i].params));
    const p = e.predict(x);
    const ps = e.models.map((m) => m.predict(x));
    for (let i = 0; i < p.data.length; i += 11) assert.ok(Math.abs(p.data[i] - (ps[0].data[i] + ps[1].data[i] + ps[2].data[i]) / 3) < 1e-6);
    assert.ok((e.evaluate(x, y).accuracy as number) > 0.8);
    e.save(file);
    const back = Ensemble.load(file, { backend: b.name });
    assert.deepEqual(back.predict(x).data, p.data);
    throwsCode(() => new Ensemble([member(1), new Sequential({ inputSize: 4, backend: b, layers: [dense(2)] })]), 'ERR_BLASNET_SHAPE', RangeError, 'model 1');
    throwsCode(() => new Ensemble([]), 'ERR_BLASNET_ARG_TYPE');
    // A member not compiled is refused before any member trains, one by one or in parallel.
    const uncompiled = () => new Sequential({ inputSize: 4, seed: 3, backend: b, layers: [dense(8, { activation: 'relu' }), dense(3, { activation: 'softmax' })] });
    const g = new Ensemble([member(1), member(2), uncompiled()]);
    const before = g.models.map((m) => m.params.slice());
    throwsCode(() => g.fit(x, y, { epochs: 1 }), 'ERR_BLASNET_STATE', undefined, 'member 2 is not compiled');
    for (const parallel of [false, true]) await rejectsCode(g.fitAsync(x, y, { epochs: 1, parallel }), 'ERR_BLASNET_STATE', 'no member was trained');
    g.models.forEach((m, i) => assert.deepEqual(m.params, before[i]));
  });

  it('fitAsync in parallel: callbacks per member (a shared array refused), and a failing member stops the others before the call settles', async () => {
    const o = { epochs: 6, batchSize: 20, validationSplit: 0.25 };
    const stopping = () => [earlyStopping({ monitor: 'valLoss', patience: 1, restoreBestWeights: true })];
    const e = new Ensemble([member(1), member(2), member(3)]);
    await rejectsCode(e.fitAsync(x, y, { ...o, parallel: true, callbacks: stopping() }), 'ERR_BLASNET_ARG_RANGE', 'callbacks: (member) =>');
    assert.ok(e.models.every((m) => m.optimizer?.stepCount === 0));
    const seen: number[] = [];
    const hs = await e.fitAsync(x, y, { ...o, parallel: true, callbacks: (i) => { seen.push(i); return stopping(); } });
    assert.deepEqual(seen.sort(), [0, 1, 2]);
    // Each member ends as it does trained alone with callbacks of its own.
    for (let i = 0; i < 3; i++) {
      const alone = member(i + 1);
      const h = await alone.fitAsync(x, y, { ...o, callbacks: stopping() });
      assert.deepEqual(e.models[i].params, alone.params, `member ${i}`);
      assert.equal(hs[i].epochs.length, h.epochs.length);
    }
    // Member 0 fails after its first epoch: the others are stopped, and none trains on once the call has settled.
    const f = new Ensemble([member(1), member(2), member(3)]);
    const boom = new Error('member 0 failed');
    await assert.rejects(f.fitAsync(x, y, {
      epochs: 1000, batchSize: 20, parallel: true,
      callbacks: (i) => [{ onEpochEnd: (l) => { if (i === 0 && l.epoch === 0) throw boom; } }],
    }), (err) => err === boom);
    assert.ok(f.models.every((m) => !m.isTraining));
    const steps = f.models.map((m) => m.optimizer?.stepCount);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.models.map((m) => m.optimizer?.stepCount), steps);
    f.save(file);
  });

  it('averages probabilities: members ending in logits (crossEntropy) are turned into softmax first, as predictProba does', () => {
    const logits = (seed: number) => new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(8, { activation: 'relu' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.02 } });
    const e = new Ensemble([logits(1), logits(2), member(3)]);
    e.fit(x, y, { epochs: 2, batchSize: 20 });
    const p = e.predict(x);
    const ps = e.models.map((m) => predictProba(m, x));
    for (let i = 0; i < p.data.length; i++) {
      const mean = (ps[0].data[i] + ps[1].data[i] + ps[2].data[i]) / 3;
      assert.ok(Math.abs(p.data[i] - mean) < 1e-6, `output ${i}: ${p.data[i]} vs the mean probability ${mean}`);
    }
    for (let r = 0; r < p.rows; r++) {
      const sum = p.row(r).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
    }
    // A member whose outputs are not class scores cannot be averaged with ones that are.
    const regression = new Sequential({ inputSize: 4, seed: 4, backend: b, layers: [dense(3)] }).compile({ loss: 'mse', optimizer: 'adam' });
    throwsCode(() => new Ensemble([logits(1), regression]).predict(x), 'ERR_BLASNET_STATE', undefined, 'model 1');
  });

  it('evaluate reads y as the members\' evaluate does: plain arrays of targets score mse, of labels accuracy', () => {
    const targets = Array.from({ length: x.length / 4 }, (_, i) => x[4 * i] - 0.5 * x[4 * i + 1]);
    const regressor = (seed: number) => new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(8, { activation: 'tanh' }), dense(1)] })
      .compile({ loss: 'mse', optimizer: { name: 'adam', lr: 0.02 } });
    const e = new Ensemble([regressor(1), regressor(2)]);
    e.fit(x, Float32Array.from(targets), { epochs: 3, batchSize: 20 });
    const p = e.predict(x);
    let se = 0;
    for (let i = 0; i < targets.length; i++) se += (p.data[i] - targets[i]) ** 2;
    const scores = e.evaluate(x, targets);
    assert.deepEqual(Object.keys(scores), ['mse']);
    assert.ok(Math.abs(scores.mse - se / targets.length) < 1e-6, `mse ${scores.mse} vs ${se / targets.length}`);
    assert.equal(e.evaluate(x, Float32Array.from(targets)).mse, scores.mse);
    throwsCode(() => e.evaluate(x, y), 'ERR_BLASNET_ARG_TYPE', TypeError, 'mse takes targets');
    // Classifiers: an integer array is labels; a fractional one is not a class.
    const c = new Ensemble([member(1), member(2)]);
    assert.equal(c.evaluate(x, Array.from(y)).accuracy, c.evaluate(x, y).accuracy);
    throwsCode(() => c.evaluate(x, targets), 'ERR_BLASNET_LABEL', RangeError);
    throwsCode(() => c.evaluate(x, Int32Array.from(y, (v) => v + 3)), 'ERR_BLASNET_LABEL', RangeError);
    // gaussianNll members: rows of [mean | variance], targets of the means, scored on the means as each member's mse.
    const gaussian = (seed: number) => new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(8, { activation: 'tanh' }), dense(2, { biasInit: { name: 'constant', value: 1 } as never })] })
      .compile({ loss: 'gaussianNll', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['mse'] });
    const g = new Ensemble([gaussian(1), gaussian(2)]);
    g.fit(x, Float32Array.from(targets), { epochs: 2, batchSize: 20 });
    const pg = g.predict(x);
    let sg = 0;
    for (let i = 0; i < targets.length; i++) sg += (pg.data[2 * i] - targets[i]) ** 2;
    assert.ok(Math.abs(g.evaluate(x, targets).mse - sg / targets.length) < 1e-6);
    // The prediction is the mixture's: the mean of the means, and the mean variance plus the
    // means' variance about their mean.
    const [p1, p2] = g.models.map((m) => m.predict(x).data);
    for (let i = 0; i < targets.length; i++) {
      const mu = (p1[2 * i] + p2[2 * i]) / 2;
      const v = (p1[2 * i + 1] + p2[2 * i + 1]) / 2 + ((p1[2 * i] - mu) ** 2 + (p2[2 * i] - mu) ** 2) / 2;
      assert.ok(Math.abs(pg.data[2 * i] - mu) < 1e-6 && Math.abs(pg.data[2 * i + 1] - v) <= 1e-6 * Math.max(1, v), `row ${i}: ${pg.data[2 * i]}, ${pg.data[2 * i + 1]} against ${mu}, ${v}`);
    }
    assert.ok(p1.some((v, i) => i % 2 === 0 && v !== p2[i]), 'the members disagree somewhere');
    const mixed = new Ensemble([gaussian(3), new Sequential({ inputSize: 4, seed: 4, backend: b, layers: [dense(2)] }).compile({ loss: 'mse', optimizer: 'adam' })]);
    throwsCode(() => mixed.predict(x), 'ERR_BLASNET_STATE', undefined, 'gaussianNll');
  });

  it('snapshotEnsemble keeps the model at the end of every cosine cycle', () => {
    const m = member(4);
    const lrs: number[] = [];
    const { ensemble, history } = snapshotEnsemble(m, x, y, { cycles: 3, epochsPerCycle: 2, batchSize: 20, callbacks: [{ onBatchEnd: (_l, ctx) => { lrs.push(ctx.optimizer.lr); } }] });
    assert.equal(ensemble.models.length, 3);
    assert.equal(history.epochs.length, 6);
    assert.deepEqual(ensemble.models[2].params, m.params, 'the last snapshot is the final model');
    assert.notDeepEqual(ensemble.models[0].params, ensemble.models[1].params);
    // The lr restarts at the start of every cycle: 24 steps per cycle.
    assert.ok(lrs[23] < lrs[24] && lrs[47] < lrs[48], 'warm restarts');
    assert.ok((ensemble.evaluate(x, y).accuracy as number) > 0.8);
    // With dropLast, 240 rows in batches of 50 are 4 steps an epoch, not 5: each cycle of 8 steps
    // ends at its smallest lr, where its snapshot is taken, and the next starts again from the top.
    const dropped: number[] = [];
    snapshotEnsemble(member(4), x, y, { cycles: 3, epochsPerCycle: 2, batchSize: 50, dropLast: true, callbacks: [{ onBatchEnd: (_l, ctx) => { dropped.push(ctx.optimizer.lr); } }] });
    assert.equal(dropped.length, 24);
    for (const end of [7, 15, 23]) {
      const cycle = dropped.slice(end - 7, end + 1);
      assert.equal(Math.min(...cycle), dropped[end], `step ${end} ends its cycle`);
      if (end < 23) assert.equal(dropped[end + 1], dropped[0], `step ${end + 1} restarts`);
    }
  });
});
