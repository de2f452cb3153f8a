/**
 * The remaining regularisers and stopping criteria: the max-norm constraint (a kernel on both
 * backends, applied after each step), Gaussian noise, an augmentation hook, and stopping on a
 * step count, a time budget or a loss tolerance.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dense, earlyStopping, gaussianNoise, getBackend, jsBackend, loadModel, Matrix, nativeAvailable, Rng, saveModel, Sequential } from '../lib';
import type { Backend, Dense } from '../lib';
import { blobs, forEachBackend, throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-reg-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function rowNorms(w: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => Math.sqrt(w.subarray(r * cols, (r + 1) * cols).reduce((s, v) => s + v * v, 0)));
}

forEachBackend('maxNormRows', (b) => {
  it('scales rows longer than maxNorm back to it and leaves the others bit for bit', () => {
    const rng = new Rng(4);
    const rows = 7, cols = 13;
    const w = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) w[r * cols + j] = rng.normal() * (r + 1) * 0.3;
    const before = w.slice();
    const norms = rowNorms(before, rows, cols);
    b.maxNormRows(rows, cols, 2, w);
    const after = rowNorms(w, rows, cols);
    for (let r = 0; r < rows; r++) {
      if (norms[r] > 2) assert.ok(Math.abs(after[r] - 2) < 1e-5, `row ${r}: ${after[r]}`);
      else assert.deepEqual(w.subarray(r * cols, (r + 1) * cols), before.subarray(r * cols, (r + 1) * cols));
    }
    assert.ok(norms.some((n) => n > 2) && norms.some((n) => n <= 2), 'the case has rows on both sides');
  });

  it('checks its arguments', () => {
    throwsCode(() => b.maxNormRows(2, 2, 0, new Float32Array(4)), 'ERR_BLASNET_ARG_RANGE', RangeError, 'maxNorm');
    throwsCode(() => b.maxNormRows(2, 2, NaN, new Float32Array(4)), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => b.maxNormRows(2, 2, 1, new Float32Array(3)), 'ERR_BLASNET_ARG_LENGTH', RangeError);
    throwsCode(() => b.maxNormRows(2, 2, 1, new Int32Array(4) as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    b.maxNormRows(0, 5, 1, new Float32Array(0));
  });
});

(nativeAvailable() ? describe : describe.skip)('maxNormRows parity', () => {
  it('native and js agree bit for bit', () => {
    const rng = new Rng(9);
    const w = Float32Array.from({ length: 64 * 100 }, () => rng.normal());
    const a = w.slice(), c = w.slice();
    jsBackend.maxNormRows(64, 100, 8, a);
    getBackend('native').maxNormRows(64, 100, 8, c);
    assert.deepEqual(a, c);
  });
});

forEachBackend('regularisers in training', (b) => {
  const { x, y } = blobs(240, 11);

  function model(b: Backend, extra: { maxNorm?: number; noise?: number } = {}): Sequential {
    const layers = [
      ...(extra.noise ? [gaussianNoise(extra.noise)] : []),
      dense(16, { activation: 'relu', ...(extra.maxNorm ? { maxNorm: extra.maxNorm } : {}) }),
      dense(3),
    ];
    return new Sequential({ inputSize: 4, seed: 2, backend: b, layers })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.5, momentum: 0.9 }, metrics: ['accuracy'] });
  }

  it('a dense maxNorm holds after every step and survives a save and load', () => {
    const m = model(b, { maxNorm: 0.5 });
    const free = model(b);
    const norms: number[] = [];
    m.fit(x, y, { epochs: 3, batchSize: 20, callbacks: [{ onBatchEnd: (_l, ctx) => { norms.push(...rowNorms(ctx.model.parameters()[0].data, 16, 4)); } }] });
    free.fit(x, y, { epochs: 3, batchSize: 20 });
    assert.ok(norms.every((n) => n <= 0.5 * (1 + 1e-6)), `largest row norm ${Math.max(...norms)}`);
    assert.ok(Math.max(...rowNorms(free.parameters()[0].data, 16, 4)) > 0.5, 'without the constraint the norms grow past it');
    const file = path.join(tmp, `maxnorm-${b.name}.blasnet`);
    saveModel(file, m);
    assert.equal((loadModel(file, { backend: b }).model.layers[0] as Dense).maxNorm, 0.5);
    // One message for every value outside the range, naming the range that holds.
    for (const bad of [0, -1, NaN, Infinity, 2e30]) {
      throwsCode(() => dense(4, { maxNorm: bad }), 'ERR_BLASNET_ARG_RANGE', RangeError, `dense: Expected maxNorm in (0, 1e+30) but received ${bad}`);
    }
    throwsCode(() => dense(4, { maxNorm: '1' as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'maxNorm');
  });

  it('gaussianNoise adds N(0, std^2) while training, the same on every backend, and nothing at inference', () => {
    const n = 20000;
    const m = new Sequential({ inputSize: 1, seed: 5, backend: b, layers: [gaussianNoise(0.5)] });
    const zeros = new Float32Array(n);
    const noisy = m.forward(zeros, { training: true }).data.slice(0, n);
    const mean = noisy.reduce((s, v) => s + v, 0) / n;
    const std = Math.sqrt(noisy.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.5) < 0.02, `std ${std}`);
    assert.deepEqual(m.predict(new Float32Array([1, 2, 3])).data, new Float32Array([1, 2, 3]));
    const js = new Sequential({ inputSize: 1, seed: 5, backend: jsBackend, layers: [gaussianNoise(0.5)] });
    assert.deepEqual(js.forward(zeros, { training: true }).data.slice(0, n), noisy);
    // Training through it: the gradient is the identity, so the model still learns.
    const t = model(b, { noise: 0.1 });
    t.fit(x, y, { epochs: 5, batchSize: 20 });
    assert.ok((t.evaluate(x, y).accuracy as number) > 0.8);
    const file = path.join(tmp, `noise-${b.name}.blasnet`);
    saveModel(file, t);
    assert.deepEqual(loadModel(file, { backend: b }).model.predict(x).data, t.predict(x).data);
    throwsCode(() => gaussianNoise(-1), 'ERR_BLASNET_ARG_RANGE');
  });

  it('augment sees every batch, is seeded, and changes training', () => {
    let calls = 0;
    const flip = (bx: Matrix, _by: Int32Array | Float32Array, rng: Rng) => {
      calls++;
      for (let i = 0; i < bx.rows * bx.cols; i++) bx.data[i] += 0.3 * rng.normal();
    };
    const a = model(b), c = model(b), plain = model(b);
    a.fit(x, y, { epochs: 2, batchSize: 40, augment: flip });
    assert.equal(calls, 12);
    c.fit(x, y, { epochs: 2, batchSize: 40, augment: flip });
    plain.fit(x, y, { epochs: 2, batchSize: 40 });
    assert.deepEqual(a.params, c.params, 'the same seed augments the same way');
    assert.notDeepEqual(a.params, plain.params);
    throwsCode(() => model(b).fit(x, y, { augment: 5 as never }), 'ERR_BLASNET_ARG_TYPE');
    return model(b).fitAsync(x, y, { augment: flip }).then(() => assert.fail('expected a rejection'), (e) => assert.equal(e.code, 'ERR_BLASNET_ARG_RANGE'));
  });

  it('maxSteps, timeLimitMs and minDelta stop training', async () => {
    const s = model(b).fit(x, y, { epochs: 10, batchSize: 20, maxSteps: 17 });
    assert.equal(s.steps, 17);
    assert.equal(s.stopReason, 'maxSteps: 17 steps');
    const sa = await model(b).fitAsync(x, y, { epochs: 10, batchSize: 20, maxSteps: 17 });
    assert.equal(sa.steps, 17);
    const t = model(b).fit(x, y, { epochs: 100000, batchSize: 20, timeLimitMs: 1 });
    assert.ok(t.steps < 100000 * 12, `${t.steps} steps`);
    assert.match(t.stopReason as string, /^timeLimitMs: 1 ms/);
    const still = new Sequential({ inputSize: 4, seed: 2, backend: b, layers: [dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 1e-12 } });
    const d = still.fit(x, y, { epochs: 50, batchSize: 20, minDelta: 1e-3 });
    assert.equal(d.epochs.length, 2);
    assert.match(d.stopReason as string, /^minDelta/);
    for (const bad of [{ maxSteps: 0 }, { timeLimitMs: -1 }, { minDelta: -1 }, { minDelta: NaN }]) {
      throwsCode(() => model(b).fit(x, y, bad), 'ERR_BLASNET_ARG_RANGE');
    }
  });
});

forEachBackend("halfMse and reduction 'sum'", (b) => {
  const rng = new Rng(23);
  const x = Float32Array.from({ length: 40 * 4 }, () => rng.normal());
  const t = Float32Array.from({ length: 40 * 2 }, () => rng.normal());
  const labels = Int32Array.from({ length: 40 }, (_, i) => i % 3);
  const net = (loss: unknown, out = 2) => new Sequential({ inputSize: 4, seed: 8, backend: b, layers: [dense(6, { activation: 'tanh' }), dense(out)], loss: loss as never });

  it('halfMse is half of mse, its gradient p - t', () => {
    const a = net('mse'), h = net('halfMse');
    const la = a.lossAndGradient(x, t), lh = h.lossAndGradient(x, t);
    assert.ok(Math.abs(lh - la / 2) < 1e-12);
    assert.deepEqual(h.grads, a.grads.map((g) => g / 2));
  });

  it("'sum' adds the terms the mean averages: rows for crossEntropy, every element for mse", () => {
    for (const [name, target, out, count] of [['mse', t, 2, 80], ['crossEntropy', labels, 3, 40], ['halfMse', t, 2, 40]] as const) {
      const mean = net(name, out), sum = net({ name, reduction: 'sum' }, out);
      const lm = mean.lossAndGradient(x, target), ls = sum.lossAndGradient(x, target);
      const n = name === 'halfMse' ? 80 : count;
      assert.ok(Math.abs(ls - lm * n) < 1e-9 * Math.abs(ls), `${name}: ${ls} vs ${lm} * ${n}`);
      for (let i = 0; i < sum.grads.length; i++) assert.ok(Math.abs(sum.grads[i] - mean.grads[i] * n) <= 1e-5 * (Math.abs(sum.grads[i]) + 1e-6), `${name} grad ${i}`);
    }
  });

  it('fit, evaluate, fitAsync and model files keep the spec', async () => {
    const make = () => net({ name: 'halfMse', reduction: 'sum' }).compile({ loss: { name: 'halfMse', reduction: 'sum' }, optimizer: { name: 'sgd', lr: 1e-3 } });
    const s = make(), a = make();
    const hs = s.fit(x, t, { epochs: 2, batchSize: 10 });
    await a.fitAsync(x, t, { epochs: 2, batchSize: 10 });
    assert.deepEqual(a.params, s.params);
    // An epoch's loss is the sum over its batches; evaluate reports the sum over the set.
    assert.ok(hs.epochs[0].loss > 10 * hs.stepLoss[0] * 0.5);
    const e = s.evaluate(x, t).loss;
    let total = 0;
    const p = s.predict(x).data;
    for (let i = 0; i < 80; i++) total += 0.5 * (p[i] - t[i]) ** 2;
    assert.ok(Math.abs(e - total) < 1e-4 * total, `${e} vs ${total}`);
    const file = path.join(tmp, `half-${b.name}.blasnet`);
    saveModel(file, s);
    assert.deepEqual(loadModel(file, { backend: b }).model.config().loss, { name: 'halfMse', param: 0, reduction: 'sum' });
    throwsCode(() => net({ name: 'mse', reduction: 'max' }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'reduction');
    throwsCode(() => net('halfMSE'), 'ERR_BLASNET_UNKNOWN_NAME', RangeError, 'halfMse');
  });
});

forEachBackend('layer penalties in every reported loss', (b) => {
  const { x, y } = blobs(50, 21);
  const net = (loss: unknown = 'crossEntropy') => new Sequential({
    inputSize: 4, seed: 6, backend: b,
    layers: [dense(6, { activation: 'tanh', l1: 0.05, l2: 0.5 }), dense(3, { activation: 'softmax', l2: 0.3 })],
  }).compile({ loss: loss as never, optimizer: { name: 'sgd', lr: 0 } });
  const close = (a: number, c: number, what: string) => assert.ok(Math.abs(a - c) <= 1e-6 * Math.abs(c), `${what}: ${a} vs ${c}`);

  it('with lr 0, loss, valLoss and evaluate().loss agree on the same rows (batch sizes that do not divide them)', async () => {
    const m = net();
    const penalty = m.penaltyValue();
    assert.ok(penalty > 0.1, `the case has a penalty: ${penalty}`);
    const data = m.lossValue(x, y);
    const h = m.fit(x, y, { epochs: 2, batchSize: 7, validationData: { x, y } });
    for (const e of h.epochs) {
      close(e.loss, data + penalty, 'loss');
      close(e.valLoss as number, e.loss, 'valLoss');
    }
    for (const batchSize of [9, 50, 256]) close(m.evaluate(x, y, { batchSize }).loss, h.epochs[0].loss, `evaluate, batchSize ${batchSize}`);
    const a = net();
    const ha = await a.fitAsync(x, y, { epochs: 1, batchSize: 7, validationData: { x, y } });
    close(ha.epochs[0].valLoss as number, ha.epochs[0].loss, 'fitAsync valLoss');
    close(ha.epochs[0].valLoss as number, h.epochs[0].valLoss as number, 'fitAsync against fit');
  });

  it('validationSplit and the monitors read the penalised valLoss', () => {
    const m = net();
    const seen: number[] = [];
    const h = m.fit(x, y, {
      epochs: 1, batchSize: 7, validationSplit: 0.2,
      callbacks: [earlyStopping({ monitor: 'valLoss', patience: 3 }), { onEpochEnd: (logs) => { seen.push(logs.valLoss as number); } }],
    });
    const held = x.subarray(40 * 4), heldY = y.subarray(40);
    close(h.epochs[0].valLoss as number, m.lossValue(held, heldY) + m.penaltyValue(), 'validationSplit valLoss');
    assert.equal(seen[0], h.epochs[0].valLoss);
  });

  it("reduction 'sum': evaluate adds the penalty once to the sum over the set", () => {
    const m = net({ name: 'crossEntropy', reduction: 'sum' });
    const expected = m.lossValue(x, y) + m.penaltyValue();
    for (const batchSize of [9, 50]) close(m.evaluate(x, y, { batchSize }).loss, expected, `batchSize ${batchSize}`);
  });

  it('lossAndGradient adds penaltyShare of the penalties, value and gradient; 0 leaves them out; bad shares are refused', () => {
    const m = net();
    const penalty = m.penaltyValue();
    const pass = (share?: number) => {
      const loss = m.lossAndGradient(x, y, share === undefined ? {} : { penaltyShare: share });
      return { loss, g: Float64Array.from(m.grads) };
    };
    const full = pass(), half = pass(0.5), none = pass(0), one = pass(1);
    close(none.loss, m.lossValue(x, y), 'share 0 is the data loss');
    close(full.loss, none.loss + penalty, 'default share 1');
    close(half.loss, none.loss + penalty / 2, 'share 0.5');
    assert.deepEqual(one.g, full.g);
    let moved = 0;
    for (let i = 0; i < full.g.length; i++) {
      const want = (full.g[i] + none.g[i]) / 2;
      assert.ok(Math.abs(half.g[i] - want) <= 1e-6 * (Math.abs(full.g[i]) + Math.abs(none.g[i]) + 1e-3), `gradient ${i}: ${half.g[i]} vs ${want}`);
      if (full.g[i] !== none.g[i]) moved++;
    }
    assert.ok(moved > 0, 'the penalty moves the gradient');
    throwsCode(() => m.lossAndGradient(x, y, { penaltyShare: -0.5 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'penaltyShare');
    throwsCode(() => m.lossAndGradient(x, y, { penaltyShare: NaN }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'penaltyShare');
    throwsCode(() => m.lossAndGradient(x, y, { penaltyShare: Infinity }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'penaltyShare');
    throwsCode(() => m.lossAndGradient(x, y, { penaltyShare: '1' as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'penaltyShare');
  });
});
