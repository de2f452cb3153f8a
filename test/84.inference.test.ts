/**
 * compileInference: the same numbers as predict (with and without stored preprocessing), the
 * same buffers on every call of a batch size (nothing allocated after the first), the caller's
 * output when given, and coded errors for bad batches. Frozen functions (options.freeze): the same
 * numbers over the packed weights, blind to later weight changes until refresh().
 */
import { strict as assert } from 'assert';
import { activation, batchNorm, compileInference, dense, dropout, gaussianNoise, Matrix, PCA, prelu, Rng, Sequential, Standardizer } from '../lib';
import { INFERENCE_BATCH_SIZES } from '../lib/interop/inference';
import { forEachBackend, normError, throwsCode } from './helpers';

forEachBackend('compileInference', (backend) => {
  const make = (inputSize = 6) => {
    const m = new Sequential({
      inputSize, seed: 2, backend,
      layers: [dense(16, { activation: 'gelu', dropConnect: 0.2 }), batchNorm(), prelu({ perUnit: true }), dropout(0.3),
        dense(8, { activation: 'tanh' }), dropout(0.2, { mode: 'classic' }), dense(3, { activation: 'softmax' })],
    });
    m.train();
    m.forward(new Rng(1).uniformArray(64 * inputSize, -1, 2));
    m.eval();
    return m;
  };

  it('equals predict at batch sizes 1, 7 and 1000', () => {
    const m = make();
    const infer = compileInference(m);
    assert.equal(infer.inputSize, 6);
    assert.equal(infer.outputSize, 3);
    const rng = new Rng(3);
    for (const rows of [1, 7, 1000]) {
      const x = rng.uniformArray(rows * 6, -2, 2);
      const y = infer(x);
      assert.equal(y.length, rows * 3);
      const err = normError(y, m.predict(x, { batchSize: rows }).data);
      assert.ok(err < 1e-6, `batch ${rows}: normalised error ${err}`);
    }
  });

  it('applies the stored preprocessing: raw rows in, predict\'s outputs out', () => {
    const rng = new Rng(4);
    const raw = new Matrix(rng.uniformArray(300 * 9, -3, 5), 300, 9);
    for (const [p, width] of [[new Standardizer().fit(raw), 9], [new PCA({ components: 6, whiten: true, backend }).fit(raw), 6]] as const) {
      const m = make(width);
      m.setPreprocessing(p);
      const infer = compileInference(m);
      assert.equal(infer.inputSize, 9);
      const x = new Matrix(rng.uniformArray(40 * 9, -3, 5), 40, 9);
      const err = normError(infer(x.data), m.predict(x).data);
      assert.ok(err < 1e-6, `${p.constructor.name}: normalised error ${err}`);
    }
  });

  it('returns the same buffer on every call of a batch size, and writes into out when given', () => {
    const m = make();
    const infer = compileInference(m);
    const rng = new Rng(5);
    const a = rng.uniformArray(20 * 6), b = rng.uniformArray(20 * 6);
    const first = infer(a);
    const firstValues = first.slice();
    const second = infer(b);
    assert.equal(second, first, 'the same output buffer object');
    const secondValues = second.slice();
    assert.notDeepEqual(secondValues, firstValues);
    assert.deepEqual(infer(a), firstValues);
    const single = infer(rng.uniformArray(6));
    assert.notEqual(single, first);
    assert.equal(infer(rng.uniformArray(6)), single);
    assert.equal(infer(a), first);
    const out = new Float32Array(20 * 3 + 5).fill(7);
    assert.equal(infer(b, out), out);
    assert.deepEqual(out.subarray(0, 60), secondValues);
    assert.equal(out[60], 7);
  });

  it('keeps the buffers of the most recently used batch sizes only, for either kind of function', () => {
    for (const freeze of [false, true]) {
      const m = freeze
        ? new Sequential({ inputSize: 6, seed: 2, backend, layers: [dense(16, { activation: 'relu' }), dense(3, { activation: 'softmax' })] })
        : make();
      const infer = compileInference(m, { freeze });
      assert.equal(infer.frozen, freeze);
      const rng = new Rng(6);
      const x = rng.uniformArray(40 * 6);
      const one = infer(x.subarray(0, 6));
      // Up to INFERENCE_BATCH_SIZES sizes in turn: every size keeps its buffer.
      for (let round = 0; round < 2; round++) {
        for (let rows = 2; rows <= INFERENCE_BATCH_SIZES; rows++) infer(x.subarray(0, rows * 6));
        assert.equal(infer(x.subarray(0, 6)), one, `round ${round}: batch 1 still has its buffer`);
      }
      // As many more sizes again: batch 1's buffers go, and come back fresh and right.
      for (let rows = 2; rows <= 2 * INFERENCE_BATCH_SIZES; rows++) infer(x.subarray(0, rows * 6));
      const again = infer(x.subarray(0, 6));
      assert.notEqual(again, one, 'batch 1 was dropped');
      assert.ok(normError(again, m.predict(x.subarray(0, 6), { batchSize: 1 }).data) < 1e-6);
    }
  });

  it('follows the weights live: training after compiling changes the results', () => {
    const m = make();
    const infer = compileInference(m);
    const x = new Rng(6).uniformArray(6);
    const before = infer(x).slice();
    m.params[0] += 1;
    assert.notDeepEqual(infer(x), before);
    assert.ok(normError(infer(x), m.predict(x).data) < 1e-6);
  });

  it('rejects a batch that is not whole rows, a non-Float32Array, a short out and preprocessing of other kinds', () => {
    const infer = compileInference(make());
    throwsCode(() => infer(new Float32Array(7)), 'ERR_BLASNET_SHAPE', RangeError, 'rows of 6 features');
    throwsCode(() => infer(new Float32Array(0)), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => infer([1, 2, 3, 4, 5, 6] as unknown as Float32Array), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => infer(new Float32Array(12), new Float32Array(5)), 'ERR_BLASNET_SHAPE', RangeError, 'out');
    // Another kind of array for out is a type error; a detached x or out says so.
    throwsCode(() => infer(new Float32Array(12), new Float64Array(8) as unknown as Float32Array), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Float32Array for out');
    throwsCode(() => infer(new Float32Array(12), [0, 0, 0, 0, 0, 0, 0, 0] as unknown as Float32Array), 'ERR_BLASNET_ARG_TYPE', TypeError, 'out');
    const detached = (a: Float32Array): Float32Array => {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
      return a;
    };
    throwsCode(() => infer(detached(new Float32Array(12))), 'ERR_BLASNET_DETACHED', TypeError, 'inference: x is backed by a detached ArrayBuffer');
    throwsCode(() => infer(new Float32Array(12), detached(new Float32Array(8))), 'ERR_BLASNET_DETACHED', TypeError, 'inference: out is backed');
    throwsCode(() => compileInference({} as Sequential), 'ERR_BLASNET_ARG_TYPE', TypeError);
    class TableEncoder {}
    const m = make();
    (m as { preprocessing: unknown }).preprocessing = new TableEncoder();
    throwsCode(() => compileInference(m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'TableEncoder');
  });

  it('a stored scaler returning another width than the model takes is ERR_BLASNET_SHAPE naming both widths', () => {
    const m = make();
    // Assigning the field skips setPreprocessing's checks.
    m.preprocessing = new Standardizer().fit(new Matrix(new Rng(6).uniformArray(20 * 5, -1, 1), 20, 5));
    throwsCode(() => compileInference(m), 'ERR_BLASNET_SHAPE', RangeError, 'the Standardizer returns 5 features per row but the model takes 6');
  });

  /** Dense layers with parameter-free layers between them, odd widths (none a multiple of 16). */
  const makeDense = (inputSize = 13) => new Sequential({
    inputSize, seed: 8, backend,
    layers: [dense(37, { activation: 'relu' }), dropout(0.4), dense(17, { activation: 'elu', bias: false }),
      gaussianNoise(0.3), activation('tanh'), dense(33), dense(5, { activation: 'softmax' })],
  });

  it('freeze: equals predict at batch sizes 1, 7 and 1000, with and without preprocessing', () => {
    const rng = new Rng(9);
    const m = makeDense();
    const infer = compileInference(m, { freeze: true });
    assert.equal(infer.frozen, true);
    assert.equal(compileInference(m).frozen, false);
    for (const rows of [1, 7, 1000]) {
      const x = rng.uniformArray(rows * 13, -2, 2);
      const err = normError(infer(x), m.predict(x, { batchSize: rows }).data);
      assert.ok(err < 1e-5, `batch ${rows}: normalised error ${err}`);
    }
    const raw = new Matrix(rng.uniformArray(200 * 13, -3, 5), 200, 13);
    m.setPreprocessing(new Standardizer().fit(raw));
    const pre = compileInference(m, { freeze: true });
    const x = new Matrix(rng.uniformArray(30 * 13, -3, 5), 30, 13);
    const err = normError(pre(x.data), m.predict(x).data);
    assert.ok(err < 1e-5, `preprocessing: normalised error ${err}`);
  });

  it('freeze: later weight changes are ignored until refresh(), which a live function needs not', () => {
    const m = makeDense();
    const frozen = compileInference(m, { freeze: true });
    const live = compileInference(m);
    const x = new Rng(10).uniformArray(4 * 13);
    const before = frozen(x).slice();
    for (let i = 0; i < m.params.length; i += 3) m.params[i] *= -1.5;
    assert.deepEqual(frozen(x), before);
    const now = m.predict(x).data;
    assert.ok(normError(live(x), now) < 1e-5);
    assert.ok(normError(before, now) > 1e-3, 'the change moved the outputs');
    frozen.refresh();
    assert.ok(normError(frozen(x), now) < 1e-5);
    live.refresh();
    assert.ok(normError(live(x), now) < 1e-5);
  });

  it('a live function sees every change of the weights at every batch size, one weight at a time', () => {
    // Each change below must show at once, whichever path the batch size takes (OpenBLAS, or the
    // packed kernels over weights packed for the call: then a frozen function's outputs, to the bit).
    const m = makeDense();
    const live = compileInference(m);
    const info = backend.info();
    const packedFrom = info.packedForward ? (info.packedForwardMinRows as number) : Infinity;
    const views = m.parameters();
    const rng = new Rng(12);
    for (const rows of [1, 5, 64, 300]) {
      const x = rng.uniformArray(rows * 13, -2, 2);
      live(x);
      views.forEach((v, k) => {
        const at = (k * 7) % v.data.length;
        v.data[at] = v.data[at] * -2 + 0.25;
        const y = live(x).slice();
        const now = m.predict(x, { batchSize: rows }).data;
        assert.ok(normError(y, now) < 1e-5, `batch ${rows}, ${v.name}[${at}]: normalised error ${normError(y, now)}`);
        if (rows >= packedFrom) assert.deepEqual(y, compileInference(m, { freeze: true })(x), `batch ${rows}, ${v.name}`);
      });
      // Calls with nothing changed in between compute the same.
      assert.deepEqual(live(x), live(x).slice());
      // A weight changed and set back between two calls: the function follows it both ways.
      const bias = views[views.length - 1].data;
      const before = live(x).slice();
      const saved = bias[0];
      bias[0] = 50;
      assert.notDeepEqual(live(x), before);
      bias[0] = saved;
      assert.deepEqual(live(x), before, `batch ${rows}: a weight set back`);
    }
  });

  it('follows setPreprocessing: a live function from its next call, a frozen one from refresh(), inputSize with them', () => {
    const rng = new Rng(14);
    const raw = new Matrix(rng.uniformArray(40 * 20, -3, 5), 40, 20);
    const m = makeDense();
    m.setPreprocessing(new PCA({ components: 13, backend }).fit(raw));
    const live = compileInference(m);
    const frozen = compileInference(m, { freeze: true });
    assert.equal(live.inputSize, 20);
    const x20 = raw.data.subarray(0, 5 * 20);
    const before = frozen(x20).slice();
    assert.ok(normError(live(x20), m.predict(new Matrix(x20, 5, 20)).data) < 1e-5);
    // Another scaler of the same width: the live function applies it, the frozen one not yet.
    m.setPreprocessing(new Standardizer().fit(new Matrix(rng.uniformArray(40 * 13, 10, 20), 40, 13)));
    const x13 = rng.uniformArray(5 * 13, 10, 20);
    assert.equal(live.inputSize, 13);
    assert.ok(normError(live(x13), m.predict(new Matrix(x13, 5, 13)).data) < 1e-5);
    assert.equal(frozen.inputSize, 20);
    assert.deepEqual(frozen(x20), before);
    frozen.refresh();
    assert.equal(frozen.inputSize, 13);
    assert.ok(normError(frozen(x13), m.predict(new Matrix(x13, 5, 13)).data) < 1e-5);
    // None: raw rows are the model's own.
    m.setPreprocessing(null);
    assert.ok(normError(live(x13), m.predict(new Matrix(x13, 5, 13)).data) < 1e-5);
    throwsCode(() => live(x20), 'ERR_BLASNET_SHAPE', RangeError, 'rows of 13 features');
  });

  it('freeze: refuses layers with parameters or state of their own, and a non-boolean freeze', () => {
    throwsCode(() => compileInference(make(), { freeze: true }), 'ERR_BLASNET_UNSUPPORTED', undefined, 'batchNorm');
    throwsCode(() => compileInference(makeDense(), { freeze: 1 as unknown as boolean }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'freeze');
    throwsCode(() => compileInference(makeDense(), 'fast' as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    const infer = compileInference(makeDense(), { freeze: true });
    throwsCode(() => infer(new Float32Array(14)), 'ERR_BLASNET_SHAPE', RangeError, 'rows of 13 features');
  });
});
