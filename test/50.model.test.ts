/**
 * Models: whole-model gradients against float64 finite differences of an independent reference
 * (test/reference/model64.ts), on every backend, for every activation x loss and every layer
 * kind; native-vs-js parity of whole passes; determinism; the Sequential API and its errors.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { ACTIVATION_NAMES, decodeModel, encodeModel, getBackend, jsBackend, LOSS_NAMES, LOSSES, Matrix, nativeAvailable, Rng, stateDictEntries } from '../lib';
import type { ActivationName, Backend, LossName } from '../lib';
import { activation, batchNorm, dense, Dense, dropout, Dropout, Layer, prelu } from '../lib/layers';
import type { DenseActivation } from '../lib/layers';
import { Sequential } from '../lib/model/sequential';
import { forEachBackend, normError, requireNative, throwsCode, warningsDuring } from './helpers';
import { gaussianNoise } from '../lib/layers';
import { referenceLoss } from './reference/model64';
import type { Masks } from './reference/model64';

const IN = 5, HIDDEN = 6, ROWS = 7;

interface Problem {
  outCols: number;
  outAct: DenseActivation;
  target: Float32Array | Int32Array;
}

/** An output layer and targets that suit the loss. */
function problemFor(loss: LossName, rng: Rng, outAct?: DenseActivation): Problem {
  const def = LOSSES[loss];
  const classes = 4;
  if (def.targets.labels) {
    return { outCols: classes, outAct: outAct ?? 'identity', target: Int32Array.from({ length: ROWS }, () => rng.int(classes)) };
  }
  if (def.targets.half) {
    // softplus keeps the variance head positive.
    return { outCols: 4, outAct: 'softplus', target: rng.uniformArray(ROWS * 2) };
  }
  if (loss === 'hinge') {
    return { outCols: 3, outAct: outAct ?? 'identity', target: Float32Array.from({ length: ROWS * 3 }, () => (rng.uniform() < 0.5 ? -1 : 1)) };
  }
  if (loss === 'binaryCrossEntropy') {
    return { outCols: 3, outAct: outAct ?? 'sigmoid', target: rng.uniformArray(ROWS * 3, 0, 1) };
  }
  return { outCols: 3, outAct: outAct ?? 'identity', target: rng.uniformArray(ROWS * 3) };
}

function masksOf(model: Sequential): Masks {
  const masks: Masks = { dropout: new Map(), dropConnect: new Map() };
  model.layers.forEach((l, i) => {
    if (l instanceof Dropout) masks.dropout.set(i, l.lastMask(ROWS).slice());
    if (l instanceof Dense && l.lastMask()) masks.dropConnect.set(i, (l.lastMask() as Float32Array).slice());
  });
  return masks;
}

/**
 * Runs one training pass and compares every parameter's gradient with central differences of
 * the float64 reference loss.
 */
function checkModel(b: Backend, layers: Layer[], loss: LossName, target: Float32Array | Int32Array, seed = 1, lossParam?: number): void {
  const model = new Sequential({ inputSize: IN, layers, seed, backend: b });
  const x = new Rng(seed + 100).uniformArray(ROWS * IN, -2, 2);
  const param = lossParam ?? LOSSES[loss].param;
  const value = model.lossAndGradient(x, target, { loss: { name: loss, param } });
  const masks = masksOf(model);
  const p64 = Float64Array.from(model.params);
  const ref = referenceLoss(model, p64, x, ROWS, target, loss, param, masks);
  assert.ok(Math.abs(value - ref) <= 1e-4 * (1 + Math.abs(ref)), `loss ${value} vs float64 reference ${ref}`);
  const grads = model.grads;
  let scale = 0;
  for (const g of grads) scale = Math.max(scale, Math.abs(g));
  const h = 1e-6;
  for (let k = 0; k < p64.length; k++) {
    const keep = p64[k];
    p64[k] = keep + h;
    const up = referenceLoss(model, p64, x, ROWS, target, loss, param, masks);
    p64[k] = keep - h;
    const down = referenceLoss(model, p64, x, ROWS, target, loss, param, masks);
    p64[k] = keep;
    const numeric = (up - down) / (2 * h);
    assert.ok(Math.abs(numeric - grads[k]) <= 2e-3 * (Math.abs(numeric) + 0.05 * scale) + 1e-6,
      `d/d${nameOf(model, k)}: backend ${grads[k]}, float64 finite difference ${numeric}`);
  }
}

function nameOf(model: Sequential, k: number): string {
  let off = 0;
  for (const v of model.parameters()) {
    if (k < off + v.data.length) return `${v.name}[${k - off}]`;
    off += v.data.length;
  }
  return `param[${k}]`;
}

forEachBackend('model gradients: activation x loss (float64 finite differences)', (b) => {
  for (const act of ACTIVATION_NAMES) {
    for (const loss of LOSS_NAMES) {
      it(`${act} hidden layer, ${loss}`, () => {
        const rng = new Rng(7);
        const p = problemFor(loss, rng);
        checkModel(b, [dense(HIDDEN, { activation: act as ActivationName }), dense(p.outCols, { activation: p.outAct })], loss, p.target);
      });
    }
  }
  it('softmax output fused with crossEntropy (labels and distributions)', () => {
    const rng = new Rng(3);
    checkModel(b, [dense(HIDDEN, { activation: 'tanh' }), dense(4, { activation: 'softmax' })], 'crossEntropy',
      Int32Array.from({ length: ROWS }, () => rng.int(4)));
    const dist = new Float32Array(ROWS * 4);
    for (let r = 0; r < ROWS; r++) dist[r * 4 + rng.int(4)] = 1;
    checkModel(b, [dense(HIDDEN, { activation: 'tanh' }), dense(4, { activation: 'softmax' })], 'crossEntropy', dist);
  });
  it('softmax output with mse (not fused: backward through softmax)', () => {
    checkModel(b, [dense(HIDDEN, { activation: 'relu' }), dense(3, { activation: 'softmax' })], 'mse', new Rng(4).uniformArray(ROWS * 3, 0, 1));
  });
  it('activation layers: softmax after logits (fused), logSoftmax, sigmoid after logits (fused)', () => {
    const rng = new Rng(5);
    checkModel(b, [dense(HIDDEN), activation('gelu'), dense(4), activation('softmax')], 'crossEntropy',
      Int32Array.from({ length: ROWS }, () => rng.int(4)));
    checkModel(b, [dense(4), activation('logSoftmax')], 'mse', rng.uniformArray(ROWS * 4, -2, 0));
    checkModel(b, [dense(HIDDEN, { activation: 'elu' }), dense(3), activation('sigmoid')], 'binaryCrossEntropy', rng.uniformArray(ROWS * 3, 0, 1));
  });
});

forEachBackend('model gradients: layer kinds (float64 finite differences)', (b) => {
  const labels = () => Int32Array.from({ length: ROWS }, (_, i) => i % 3);
  it('dropout with a fixed mask, inverted and classic', () => {
    checkModel(b, [dense(HIDDEN, { activation: 'relu' }), dropout(0.4), dense(3)], 'crossEntropy', labels(), 11);
    checkModel(b, [dense(HIDDEN, { activation: 'tanh' }), dropout(0.3, { mode: 'classic' }), dense(3)], 'crossEntropy', labels(), 12);
  });
  it('DropConnect on a dense layer', () => {
    checkModel(b, [dense(HIDDEN, { activation: 'tanh', dropConnect: 0.3 }), dense(3)], 'crossEntropy', labels(), 13);
  });
  it('batch norm in training mode', () => {
    checkModel(b, [dense(HIDDEN), batchNorm(), activation('relu'), dense(3)], 'crossEntropy', labels(), 14);
  });
  it('PReLU, shared and per unit', () => {
    checkModel(b, [dense(HIDDEN), prelu(), dense(3)], 'crossEntropy', labels(), 15);
    checkModel(b, [dense(HIDDEN), prelu({ perUnit: true, init: 0.1 }), dense(3)], 'mse', new Rng(1).uniformArray(ROWS * 3), 16);
  });
  it('L1, L2 and elastic-net penalties (weights only)', () => {
    checkModel(b, [dense(HIDDEN, { activation: 'tanh', l2: 0.1 }), dense(3, { l1: 0.05 })], 'crossEntropy', labels(), 17);
    checkModel(b, [dense(HIDDEN, { activation: 'relu', l1: 0.02, l2: 0.3 }), dense(3, { bias: false })], 'mse', new Rng(2).uniformArray(ROWS * 3), 18);
  });
  it('everything at once', () => {
    checkModel(b, [dense(HIDDEN, { activation: 'leakyRelu', l2: 0.01, dropConnect: 0.2 }), batchNorm(), dropout(0.25),
      dense(HIDDEN), prelu({ perUnit: true }), dense(3, { activation: 'softmax' })], 'crossEntropy', labels(), 19);
  });
});

(nativeAvailable() || requireNative ? describe : describe.skip)('models: native vs js', () => {
  function build(backend: Backend): Sequential {
    return new Sequential({
      inputSize: 20, seed: 42, backend,
      layers: [dense(32, { activation: 'relu', l2: 1e-3 }), batchNorm(), dropout(0.2), dense(16, { activation: 'gelu', dropConnect: 0.1 }),
        prelu({ perUnit: true }), dense(5, { activation: 'softmax' })],
    });
  }
  it('same seed, same initial weights, same masks, same passes', () => {
    const n = build(getBackend('native')), j = build(jsBackend);
    assert.deepEqual(n.params, j.params);
    const x = new Rng(1).uniformArray(33 * 20);
    const y = Int32Array.from({ length: 33 }, (_, i) => i % 5);
    for (let step = 0; step < 3; step++) {
      const ln = n.lossAndGradient(x, y, { loss: 'crossEntropy' });
      const lj = j.lossAndGradient(x, y, { loss: 'crossEntropy' });
      assert.ok(Math.abs(ln - lj) <= 1e-5 * Math.abs(lj), `loss ${ln} vs ${lj}`);
      assert.deepEqual((n.layers[2] as Dropout).lastMask(33), (j.layers[2] as Dropout).lastMask(33));
      const e = normError(n.grads, j.grads);
      assert.ok(e < 1e-4, `gradient normalised error ${e}`);
      // Same plain SGD step on both, so later steps compare the same weights.
      for (const m of [n, j]) m.backend.axpy(m.params.length, -0.1, m.grads, m.params);
    }
    const pn = n.predict(x), pj = j.predict(x);
    assert.ok(normError(pn.data, pj.data) < 1e-4);
  });
});

forEachBackend('Sequential', (b) => {
  const make = (seed = 1) => new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(8, { activation: 'relu' }), batchNorm(), dropout(0.5), dense(3, { activation: 'softmax' })] });

  it('predict (which keeps only what inference needs) gives the eval forward pass\'s outputs for every activation, and no backward pass may follow it', () => {
    const x = new Rng(4).uniformArray(37 * 6);
    for (const act of ['relu', 'tanh', 'gelu', 'sigmoid', 'leakyRelu', 'identity', 'softplus'] as const) {
      const m = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(40, { activation: act }), dense(33, { activation: act }), dense(3, { activation: 'sigmoid' })] });
      m.eval();
      const forward = m.forward(new Matrix(x, 37, 6)).data.slice();
      const predicted = m.predict(new Matrix(x, 37, 6), { batchSize: 16 }).data;
      assert.ok(normError(predicted, forward) < 1e-6, act);
      throwsCode(() => m.backward(new Float32Array(37 * 3)), 'ERR_BLASNET_STATE', undefined, 'backward: call forward first');
      // A forward pass after it is backward's again: its gradients are those of a fresh model.
      m.forward(new Matrix(x, 37, 6));
      m.backward(new Float32Array(37 * 3).fill(1));
      const grads = m.grads.slice();
      const fresh = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(40, { activation: act }), dense(33, { activation: act }), dense(3, { activation: 'sigmoid' })] });
      fresh.eval();
      fresh.forward(new Matrix(x, 37, 6));
      fresh.backward(new Float32Array(37 * 3).fill(1));
      assert.deepEqual(grads, fresh.grads, act);
    }
  });

  it('names, shapes and views of parameters; one arena', () => {
    const m = make();
    const p = m.parameters();
    assert.deepEqual(p.map((v) => v.name), ['0.weight', '0.bias', '1.gamma', '1.beta', '3.weight', '3.bias']);
    assert.deepEqual(p.map((v) => v.shape), [[8, 4], [8], [8], [8], [3, 8], [3]]);
    assert.equal(m.parameterCount, 32 + 8 + 8 + 8 + 24 + 3);
    p[0].data[0] = 123;
    assert.equal(m.params[0], 123);
    assert.equal(p[5].data.buffer, m.params.buffer);
    assert.deepEqual(m.buffers().map((v) => v.name), ['1.runningMean', '1.runningVar']);
  });

  it('custom layer names', () => {
    const m = new Sequential({ inputSize: 2, backend: b, layers: [dense(3, { name: 'hidden' }), dense(1, { name: 'out' })] });
    assert.deepEqual(m.parameters().map((v) => v.name), ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']);
  });

  it('layer names that clash, given or taken from an index, are ERR_BLASNET_ARG_RANGE naming the name', () => {
    throwsCode(() => new Sequential({ inputSize: 2, backend: b, layers: [dense(3, { name: 'hidden' }), dense(3, { name: 'hidden' })] }),
      'ERR_BLASNET_ARG_RANGE', RangeError, 'layers 0 and 1 are both named "hidden"');
    // An unnamed layer's parameters are named by its index.
    throwsCode(() => new Sequential({ inputSize: 2, backend: b, layers: [dense(3, { name: '1' }), dense(3)] }),
      'ERR_BLASNET_ARG_RANGE', RangeError, 'layer 0 is named "1", the name unnamed layer 1 takes from its index');
    throwsCode(() => new Sequential({ inputSize: 2, backend: b, layers: [dense(3), batchNorm(), dense(3, { name: '0' })] }),
      'ERR_BLASNET_ARG_RANGE', RangeError, 'layer 2 is named "0", the name unnamed layer 0 takes from its index');
    // A name equal to the layer's own index clashes with nothing.
    const own = new Sequential({ inputSize: 2, backend: b, layers: [dense(3), dense(1, { name: '1' })] });
    assert.deepEqual(own.parameters().map((v) => v.name), ['0.weight', '0.bias', '1.weight', '1.bias']);
  });

  it("a layer's name is fixed once a model is built from it: another is ERR_BLASNET_STATE, and parameters, buffers, files and exports keep one name", () => {
    const m = new Sequential({ inputSize: 3, backend: b, layers: [dense(4, { name: 'hidden' }), batchNorm(), dense(2)] });
    throwsCode(() => { m.layers[0].name = 'renamed'; }, 'ERR_BLASNET_STATE', undefined, 'dense.name: the layer is part of a built model, whose parameters are named by "hidden"; it cannot be renamed "renamed"');
    throwsCode(() => { m.layers[0].name = undefined; }, 'ERR_BLASNET_STATE', undefined, 'renamed undefined');
    throwsCode(() => { m.layers[1].name = 'norm'; }, 'ERR_BLASNET_STATE', undefined, 'batchNorm.name: the layer is part of a built model, whose parameters are named by its index');
    // The name it has is no change.
    m.layers[0].name = 'hidden';
    m.layers[2].name = undefined;
    const names = ['hidden.weight', 'hidden.bias', '1.gamma', '1.beta', '2.weight', '2.bias'];
    assert.deepEqual(m.parameters().map((v) => v.name), names);
    assert.deepEqual(m.getWeights().map((v) => v.name), names);
    assert.deepEqual(m.buffers().map((v) => v.name), ['1.runningMean', '1.runningVar']);
    assert.deepEqual(m.config().layers.map((l) => l.name), ['hidden', null, null]);
    assert.deepEqual(decodeModel(encodeModel(m), { backend: b }).model.parameters().map((v) => v.name), names);
    assert.deepEqual(stateDictEntries(m).map((e) => e.key),
      ['hidden.weight', 'hidden.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '2.weight', '2.bias']);
    // Before a model is built from it, a layer takes a name (checked as the option is).
    const late = dense(2);
    late.name = 'out';
    throwsCode(() => { late.name = '' as string; }, 'ERR_BLASNET_ARG_TYPE', TypeError, 'dense.name: Expected a non-empty string for name but received ""');
    assert.deepEqual(new Sequential({ inputSize: 3, backend: b, layers: [late] }).parameters().map((v) => v.name), ['out.weight', 'out.bias']);
    throwsCode(() => { late.name = 'other'; }, 'ERR_BLASNET_STATE');
  });

  it('a layer of a built model is ERR_BLASNET_STATE in another model, which would take over its weights; the first model predicts as before', () => {
    const x = new Rng(3).uniformArray(6 * 4);
    const layers = [dense(8, { activation: 'relu' }), batchNorm(), dense(3, { activation: 'softmax' })];
    const first = new Sequential({ inputSize: 4, seed: 1, backend: b, layers });
    const before = first.predict(x).data.slice();
    const params = first.params.slice();
    throwsCode(() => new Sequential({ inputSize: 4, seed: 2, backend: b, layers }), 'ERR_BLASNET_STATE', undefined,
      'Sequential: layer 0 (dense) belongs to a built model');
    throwsCode(() => new Sequential({ inputSize: 4, seed: 2, backend: b, layers: first.layers.slice() }), 'ERR_BLASNET_STATE', undefined,
      'create new layers for this model');
    // Beside new layers, and at another input size (which would have resized it).
    const fresh = dense(8);
    throwsCode(() => new Sequential({ inputSize: 6, backend: b, layers: [fresh, first.layers[1], dense(2)] }), 'ERR_BLASNET_STATE', undefined,
      'Sequential: layer 1 (batchNorm) belongs to a built model');
    assert.deepEqual(first.predict(x).data, before);
    assert.deepEqual(first.params, params);
    assert.equal(first.layers[0].inSize, 4);
    // The refused model took none of the layers: the new one beside the taken one is free.
    assert.equal(new Sequential({ inputSize: 6, backend: b, layers: [fresh, dense(2)] }).layers[0].inSize, 6);
    // A copy has layers of its own: training it leaves the first model as it was.
    const copy = decodeModel(encodeModel(first), { backend: b }).model;
    assert.ok(copy.layers.every((l, i) => l !== first.layers[i]));
    copy.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.5 } });
    copy.fit(x, Int32Array.from({ length: 6 }, (_, i) => i % 3), { epochs: 2, batchSize: 3 });
    assert.notDeepEqual(copy.params, params);
    assert.deepEqual(first.predict(x).data, before);
  });

  it('a model that fails to build leaves its layers free: the same layers build the next one', () => {
    const layers = [dense(3, { activation: 'tanh' }), batchNorm(), dense(2)];
    const n = 2 * 3 + 3 + 3 + 3 + 3 * 2 + 2;
    const wrong = { params: new Float32Array(new SharedArrayBuffer(4 * (n + 1))), grads: new Float32Array(new SharedArrayBuffer(4 * (n + 1))), buffers: [] };
    // Refused after the layers were built and sized.
    throwsCode(() => new Sequential({ inputSize: 2, seed: 4, backend: b, layers, shared: wrong }), 'ERR_BLASNET_SHAPE');
    const short = { params: new Float32Array(new SharedArrayBuffer(4 * n)), grads: new Float32Array(new SharedArrayBuffer(4 * n)), buffers: [] };
    // Refused after the layers were bound to the given memory.
    throwsCode(() => new Sequential({ inputSize: 2, seed: 4, backend: b, layers, shared: short }), 'ERR_BLASNET_SHAPE', undefined, 'shared buffers');
    // Refused before the layers were touched.
    throwsCode(() => new Sequential({ inputSize: 2, seed: 1.5, backend: b, layers }), 'ERR_BLASNET_ARG_RANGE');
    // A shared object of the wrong type: coded errors, not a TypeError from inside.
    const sab = (k: number) => new Float32Array(new SharedArrayBuffer(4 * k));
    for (const bad of [5, null, { params: sab(n), grads: sab(n) }, { params: sab(n), grads: sab(n), buffers: null }, { params: sab(n), grads: sab(n), buffers: [[0, 0, 0], [1, 1, 1]] },
      { params: sab(n), grads: sab(n), buffers: [new Float32Array(3), new Float32Array(3)] }]) {
      throwsCode(() => new Sequential({ inputSize: 2, seed: 4, backend: b, layers, shared: bad as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'shared');
    }
    const m = new Sequential({ inputSize: 2, seed: 4, backend: b, layers });
    const same = new Sequential({ inputSize: 2, seed: 4, backend: b, layers: [dense(3, { activation: 'tanh' }), batchNorm(), dense(2)] });
    assert.deepEqual(m.params, same.params);
    const x = new Rng(5).uniformArray(4 * 2);
    assert.deepEqual(m.predict(x).data, same.predict(x).data);
    throwsCode(() => new Sequential({ inputSize: 2, backend: b, layers }), 'ERR_BLASNET_STATE');
  });

  it('keeps its own copy of the layer list: layers added to the caller\'s array later are not part of it', () => {
    const layers = [dense(3), dense(1)];
    const m = new Sequential({ inputSize: 2, backend: b, layers });
    layers.push(dense(4, { name: 'late' }));
    assert.equal(m.layers.length, 2);
    assert.ok(Object.isFrozen(m.layers));
    assert.equal(m.predict(new Float32Array(2)).cols, 1);
  });

  it('same seed, same weights; different seed, different weights', () => {
    assert.deepEqual(make(5).params, make(5).params);
    assert.notDeepEqual(make(5).params, make(6).params);
  });

  it('predict is batched and has no training side effects', () => {
    const m = make();
    const x = new Rng(2).uniformArray(50 * 4);
    m.lossAndGradient(x, Int32Array.from({ length: 50 }, (_, i) => i % 3), { loss: 'crossEntropy' });
    const running = m.buffers().map((v) => v.data.slice());
    const params = m.params.slice();
    const a = m.predict(x, { batchSize: 7 });
    const c = m.predict(x);
    // Equal to float32 rounding: a product of 1-3 rows (the last batch of 7 here) may sum in
    // another order than a larger one, as it does in any BLAS.
    assert.equal(a.data.length, c.data.length);
    for (let i = 0; i < c.data.length; i++) assert.ok(Math.abs(a.data[i] - c.data[i]) <= 1e-6, `output ${i}: ${a.data[i]} vs ${c.data[i]}`);
    assert.equal(a.rows, 50);
    assert.deepEqual(m.buffers().map((v) => v.data.slice()), running);
    assert.deepEqual(m.params, params);
    for (let r = 0; r < 50; r++) {
      const s = a.row(r).reduce((u, v) => u + v, 0);
      assert.ok(Math.abs(s - 1) < 1e-5, 'softmax rows sum to 1');
    }
  });

  it('forward reuses its workspaces (no allocation per step)', () => {
    const m = make();
    const x = new Rng(3).uniformArray(16 * 4);
    const first = m.forward(x, { training: true });
    const second = m.forward(x, { training: true });
    assert.equal(first, second);
    assert.equal(first.data, second.data);
  });

  it('train and eval modes: dropout only in training', () => {
    const m = make();
    const x = new Rng(4).uniformArray(10 * 4);
    const e1 = m.eval().forward(x).clone();
    const e2 = m.forward(x).clone();
    assert.deepEqual(e1.data, e2.data);
    const t = m.train().forward(x).clone();
    assert.notDeepEqual(t.data, e1.data);
  });

  it('getWeights and setWeights copy, and check shapes', () => {
    const m = make(1), other = make(2);
    other.setWeights(m.getWeights());
    assert.deepEqual(other.params, m.params);
    const w = m.getWeights();
    w[0].data[0] = 99;
    assert.notEqual(m.params[0], 99);
    throwsCode(() => m.setWeights(w.slice(1)), 'ERR_BLASNET_SHAPE', RangeError);
    const bad = m.getWeights().map((t) => t.data);
    bad[2] = new Float32Array(3);
    const before = m.params.slice();
    throwsCode(() => m.setWeights(bad), 'ERR_BLASNET_SHAPE', RangeError, '1.gamma');
    assert.deepEqual(m.params, before, 'nothing changes when one tensor does not fit');
    throwsCode(() => m.setWeights([new Int32Array(32) as unknown as Float32Array, ...bad.slice(1)]), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });

  it('summary lists layers, shapes and counts', () => {
    const s = make().summary();
    assert.match(s, /dense\(8, relu\)/);
    assert.match(s, /\[batch, 3\]/);
    assert.match(s, /total parameters: 83/);
  });

  it('bad input gets coded errors', () => {
    const m = make();
    throwsCode(() => m.forward(new Float32Array(7)), 'ERR_BLASNET_SHAPE', RangeError, '4 features');
    throwsCode(() => m.forward(Matrix.zeros(2, 5)), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => m.forward('x' as unknown as Float32Array), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => m.lossAndGradient(new Float32Array(8), new Int32Array(3), { loss: 'crossEntropy' }), 'ERR_BLASNET_SHAPE', RangeError, 'labels');
    throwsCode(() => m.lossAndGradient(new Float32Array(8), new Int32Array([0, 7]), { loss: 'crossEntropy' }), 'ERR_BLASNET_LABEL', RangeError);
    throwsCode(() => m.lossAndGradient(new Float32Array(8), new Int32Array(2)), 'ERR_BLASNET_STATE');
    throwsCode(() => m.lossAndGradient(new Float32Array(8), new Int32Array(2), { loss: 'nope' as LossName }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
    throwsCode(() => new Sequential({ inputSize: 0, layers: [dense(2)] }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => new Sequential({ inputSize: 2, layers: [] }), 'ERR_BLASNET_ARG_TYPE', TypeError);
    const shared = dense(2);
    throwsCode(() => new Sequential({ inputSize: 2, layers: [shared, shared] }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => dense(0), 'ERR_BLASNET_ARG_RANGE', RangeError, 'units');
    throwsCode(() => dense(2, { activation: 'swish' as ActivationName }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
    throwsCode(() => dropout(1), 'ERR_BLASNET_ARG_RANGE', RangeError, 'rate');
    throwsCode(() => batchNorm({ momentum: 2 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'momentum');
    throwsCode(() => new Sequential({ inputSize: 2, backend: b, layers: [dense(2)] }).backward(new Float32Array(2)), 'ERR_BLASNET_STATE');
  });

  it('a param on a loss that takes none is ERR_BLASNET_ARG_RANGE naming the loss and those that take one; 0, as files record it, is accepted', () => {
    const none: readonly string[] = ['mse', 'l1', 'binaryCrossEntropy', 'crossEntropy', 'hinge', 'halfMse'];
    const takes = 'huber (delta), multiMargin (margin), gaussianNll (eps)';
    for (const name of none) {
      const spec = { name, param: 0.1 } as never;
      const m = make().compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
      throwsCode(() => m.compile({ loss: spec, optimizer: { name: 'sgd', lr: 0.1 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, `loss: ${name} takes no param`);
      throwsCode(() => m.setLoss(spec), 'ERR_BLASNET_ARG_RANGE', RangeError, takes);
      assert.equal(m.lossSpec?.name, 'crossEntropy', `${name}: the refused compile leaves the loss`);
      throwsCode(() => new Sequential({ inputSize: 4, backend: b, layers: [dense(3)], loss: spec }), 'ERR_BLASNET_ARG_RANGE', RangeError, takes);
      throwsCode(() => m.lossValue(new Float32Array(8), new Float32Array(6), { loss: spec }), 'ERR_BLASNET_ARG_RANGE', RangeError, takes);
      new Sequential({ inputSize: 4, backend: b, layers: [dense(3)], loss: { name, param: 0 } as never });
    }
    throwsCode(() => make().setLoss({ name: 'crossEntropy', param: 0.1 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'label_smoothing');
    for (const [name, param] of [['huber', 0.5], ['multiMargin', 2], ['gaussianNll', 1e-3]] as const) {
      assert.equal(new Sequential({ inputSize: 4, backend: b, layers: [dense(4)], loss: { name, param } }).lossSpec?.param, param);
    }
  });

  it('batch norm in training needs more than one row', () => {
    const m = make();
    throwsCode(() => m.lossAndGradient(new Float32Array(4), new Int32Array(1), { loss: 'crossEntropy' }), 'ERR_BLASNET_ARG_RANGE', RangeError);
  });

  it('backward with an explicit output gradient matches lossAndGradient', () => {
    const m = new Sequential({ inputSize: 3, seed: 9, backend: b, layers: [dense(5, { activation: 'tanh' }), dense(2)] });
    const x = new Rng(5).uniformArray(4 * 3);
    const t = new Rng(6).uniformArray(4 * 2);
    m.lossAndGradient(x, t, { loss: 'mse' });
    const expected = m.grads.slice();
    const out = m.forward(x, { training: true });
    const d = new Float32Array(8);
    for (let i = 0; i < 8; i++) d[i] = (2 * (out.data[i] - t[i])) / 8;
    m.backward(d);
    assert.ok(normError(m.grads, expected) < 1e-6);
  });
});

forEachBackend('Sequential: steady state and diagnostics', (b) => {
  it('a training step allocates no typed arrays once the batch size is known', () => {
    const m = new Sequential({ inputSize: 6, seed: 3, backend: b, loss: 'crossEntropy',
      layers: [dense(16, { activation: 'relu', dropConnect: 0.1, l2: 1e-3 }), batchNorm(), dropout(0.3), prelu(), dense(4, { activation: 'softmax' })] });
    const x = new Rng(1).uniformArray(32 * 6);
    const y = Int32Array.from({ length: 32 }, (_, i) => i % 4);
    m.lossAndGradient(x, y);
    const original = globalThis.Float32Array;
    let created = 0;
    class Counting extends original {
      constructor(...args: unknown[]) {
        super(...(args as unknown as [number]));
        created++;
      }
    }
    globalThis.Float32Array = Counting as unknown as typeof Float32Array;
    try {
      for (let i = 0; i < 5; i++) {
        m.lossAndGradient(x, y);
        b.axpy(m.params.length, -0.01, m.grads, m.params);
      }
    } finally {
      globalThis.Float32Array = original;
    }
    assert.equal(created, 0);
  });

  it('diagnostics: statistics, dead units, gradient norms and update ratios', () => {
    const m = new Sequential({ inputSize: 3, seed: 2, backend: b, layers: [dense(4, { activation: 'relu' }), dense(2, { activation: 'tanh' })] });
    // Make unit 0 of the first layer dead: a large negative bias.
    m.parameters()[1].data[0] = -100;
    const x = new Rng(3).uniformArray(10 * 3);
    m.lossAndGradient(x, new Rng(4).uniformArray(10 * 2), { loss: 'mse' });
    const before = m.params.slice();
    b.axpy(m.params.length, -0.1, m.grads, m.params);
    const d = m.diagnostics({ previousParams: before });
    assert.equal(d.length, 2);
    assert.equal(d[0].activation, 'relu');
    assert.ok((d[0].dead as number) >= 0.25, `dead ${d[0].dead}`);
    assert.equal(d[0].saturated, null);
    assert.equal(d[1].dead, null);
    assert.ok(d[1].saturated !== null && d[1].saturated >= 0 && d[1].saturated <= 1);
    const p = m.parameters();
    const g0 = Math.sqrt(b.sumSquares(p[0].grad.length, p[0].grad) + b.sumSquares(p[1].grad.length, p[1].grad));
    assert.ok(Math.abs(d[0].gradNorm - g0) < 1e-9);
    // The update was -0.1 * grad, so ||delta W|| / ||W before|| = 0.1 * ||grad|| / ||W before||.
    let w2 = 0;
    for (let k = 0; k < p[0].data.length + p[1].data.length; k++) w2 += before[k] * before[k];
    assert.ok(Math.abs((d[0].updateRatio as number) - (0.1 * g0) / Math.sqrt(w2)) < 1e-4 * (d[0].updateRatio as number));
    const out = m.forward(x).data;
    let mean = 0;
    for (let k = 0; k < 20; k++) mean += out[k] / 20;
    assert.ok(Math.abs(m.diagnostics()[1].mean - mean) < 1e-6);
  });
});

describe('a model too large to allocate', () => {
  it('is ERR_BLASNET_MEMORY naming its parameter count, not V8\'s RangeError', function () {
    this.timeout(30000);
    // In a child limited to 8 GB of address space, so that the allocation fails wherever the
    // machine would have let it through (and nothing the size of the model is ever mapped).
    const lib = require.resolve('../lib');
    const code = `const bn = require(${JSON.stringify(lib)});
try { new bn.Sequential({ inputSize: 5, layers: [bn.dense(1e9), bn.dense(3)] }); console.log('built'); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, blasnet: e instanceof bn.BlasnetError })); }`;
    const r = spawnSync('bash', ['-c', `ulimit -v 8000000 && exec "${process.execPath}" -e '${code.replace(/'/g, "'\\''")}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { code: string; message: string; blasnet: boolean };
    assert.equal(out.code, 'ERR_BLASNET_MEMORY');
    assert.ok(out.blasnet);
    assert.match(out.message, /^Sequential: the model's 9000000003 parameters need 67\.1 GB .*cannot be allocated/);
  });
});

describe('an output activation before dropout or noise', () => {
  it('warns once (BLASNET_ACTIVATION_BEFORE_NOISE) when the loss would apply it twice, and not otherwise', async () => {
    const codes = async (f: () => void) => (await warningsDuring(f)).map((w) => w.code).filter((c) => c === 'BLASNET_ACTIVATION_BEFORE_NOISE').length;
    const softmaxThenDropout = () => [dense(4, { activation: 'relu' }), dense(3, { activation: 'softmax' }), dropout(0.2)];
    assert.equal(await codes(() => new Sequential({ inputSize: 2, layers: softmaxThenDropout() }).compile({ loss: 'crossEntropy', optimizer: 'adam' })), 1);
    assert.equal(await codes(() => new Sequential({ inputSize: 2, loss: 'crossEntropy', layers: softmaxThenDropout() }).compile({ loss: 'crossEntropy', optimizer: 'adam' })), 1,
      'the constructor and compile warn once between them');
    assert.equal(await codes(() => new Sequential({ inputSize: 2, layers: [dense(1, { activation: 'sigmoid' }), gaussianNoise(0.1), dropout(0.1)] })
      .compile({ loss: 'binaryCrossEntropy', optimizer: 'adam' })), 1);
    // The activation last, a loss that absorbs none, or dropout before the softmax layer: no warning.
    assert.equal(await codes(() => new Sequential({ inputSize: 2, layers: [dense(3, { activation: 'softmax' })] }).compile({ loss: 'crossEntropy', optimizer: 'adam' })), 0);
    assert.equal(await codes(() => new Sequential({ inputSize: 2, layers: softmaxThenDropout() }).compile({ loss: 'mse', optimizer: 'adam' })), 0);
    assert.equal(await codes(() => new Sequential({ inputSize: 2, layers: [dense(4), dropout(0.2), dense(3, { activation: 'softmax' })] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' })), 0);
  });
});
