/**
 * Dataset: one checked copy of a training set on shared memory, taken by every entry point
 * without a copy; and fit's scan of x as the first epoch gathers it.
 */
import { strict as assert } from 'assert';
import { choice, Dataset, dense, Ensemble, Matrix, Rng, search, Sequential } from '../lib';
import type { Backend } from '../lib';
import { forEachBackend, rejectsCode, throwsCode } from './helpers';

function data(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 6), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = (j === 2 * y[i] ? 2 : 0) + rng.normal();
  }
  return { x, y };
}

function make(b: Backend, seed = 1): Sequential {
  return new Sequential({ inputSize: 6, seed, backend: b, layers: [dense(16, { activation: 'relu' }), dense(3)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 3e-3 }, metrics: ['accuracy'] });
}


const isShared = (a: ArrayBufferView | null) => a !== null && a.buffer instanceof SharedArrayBuffer;

describe('Dataset.from', () => {
  const { x, y } = data(30, 1);

  it('copies every kind of input once onto shared memory and freezes itself', () => {
    const m = new Matrix(x, 30, 6);
    const ds = Dataset.from(m, y);
    assert.ok(isShared(ds.x.data) && isShared(ds.y));
    assert.notEqual(ds.x.data.buffer, x.buffer);
    assert.deepEqual(ds.x.data, x);
    assert.deepEqual(ds.y, y);
    assert.equal(ds.rows, 30);
    assert.equal(ds.cols, 6);
    assert.equal(ds.yCols, 1);
    assert.ok(Object.isFrozen(ds));
    assert.throws(() => { (ds as { y: unknown }).y = null; }, TypeError);

    const rows = Array.from({ length: 30 }, (_, i) => Array.from(x.subarray(i * 6, i * 6 + 6)));
    const fromRows = Dataset.from(rows, Array.from(y));
    assert.deepEqual(fromRows.x.data, ds.x.data);
    assert.ok(fromRows.y instanceof Int32Array, 'integer arrays are class labels');
    const targets = Dataset.from(rows, Array.from(y, (v) => v + 0.5));
    assert.ok(targets.y instanceof Float32Array && targets.yCols === 1);
    // Numbers in other array-likes, as fit takes them: integers are labels, others targets.
    for (const other of [Uint8Array.from(y), Float64Array.from(y), { ...Array.from(y), length: y.length }]) {
      assert.deepEqual(Dataset.from(m, other as ArrayLike<number>).y, ds.y);
    }
    assert.ok(Dataset.from(m, Float64Array.from(y, (v) => v + 0.5)).y instanceof Float32Array);
    const wide = Dataset.from(m, new Matrix(new Float32Array(60).fill(0.25), 30, 2), { sampleWeight: new Float32Array(30).fill(2) });
    assert.equal(wide.yCols, 2);
    assert.ok(isShared(wide.sampleWeight));

    const records = rows.map((r, i) => ({ a: r[0], b: r[1], kind: y[i], w: 1 + (i % 2) }));
    const fromRecords = Dataset.from(records, 'kind', { sampleWeight: 'w' });
    assert.deepEqual(fromRecords.columns, ['a', 'b']);
    assert.deepEqual(Array.from(fromRecords.sampleWeight as Float32Array).slice(0, 3), [1, 2, 1]);
    assert.equal(Dataset.from(m).y, null);
  });

  it('rejects bad input with coded errors', () => {
    const bad = x.slice();
    bad[13] = NaN;
    throwsCode(() => Dataset.from(new Matrix(bad, 30, 6), y), 'ERR_BLASNET_DATA', undefined, 'index 13');
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), new Float32Array(30).fill(Infinity)), 'ERR_BLASNET_DATA');
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), y.subarray(1)), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), new Float32Array(31)), 'ERR_BLASNET_SHAPE', RangeError);
    throwsCode(() => Dataset.from(x, y), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Matrix');
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), 'kind'), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), y, { sampleWeight: new Float32Array(30).fill(-1) }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => Dataset.from(new Matrix(x, 30, 6), y, { shuffle: true } as never), 'ERR_BLASNET_ARG_RANGE', RangeError, 'shuffle');
    throwsCode(() => Dataset.from([{ a: 1, kind: 0 }, { a: 'x', kind: 1 }], 'kind'), 'ERR_BLASNET_DATA', undefined, 'row 2');
    throwsCode(() => new (Dataset as unknown as new (k: symbol, d: unknown) => Dataset)(Symbol('x'), {}), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
});

forEachBackend('Dataset in training', (b) => {
  const { x, y } = data(240, 2);
  const m = new Matrix(x, 240, 6);
  const ds = Dataset.from(m, y);

  it('fit, evaluate and predict on a Dataset equal the same calls on (x, y)', () => {
    const a = make(b), c = make(b);
    const ha = a.fit(ds, { epochs: 2, batchSize: 32 });
    const hc = c.fit(m, y, { epochs: 2, batchSize: 32 });
    assert.deepEqual(a.params, c.params);
    assert.deepEqual(ha.epochs.map((e) => e.loss), hc.epochs.map((e) => e.loss));
    assert.deepEqual(a.evaluate(ds), c.evaluate(m, y));
    assert.deepEqual(a.predict(ds).data, c.predict(m).data);
    assert.deepEqual(a.predictClasses(ds), c.predictClasses(m));
    const w = new Float32Array(240).map((_, i) => 0.5 + (i % 4));
    const dw = Dataset.from(m, y, { sampleWeight: w });
    const p = make(b), q = make(b);
    p.fit(dw, { epochs: 1, batchSize: 32, classWeight: { 1: 2 } });
    q.fit(m, y, { epochs: 1, batchSize: 32, sampleWeight: w, classWeight: { 1: 2 } });
    assert.deepEqual(p.params, q.params);
    const v = make(b), u = make(b);
    v.fit(ds, { epochs: 1, batchSize: 32, validationData: ds });
    u.fit(m, y, { epochs: 1, batchSize: 32, validationData: { x: m, y } });
    assert.deepEqual(v.params, u.params);
  });

  it("a Dataset's sampleWeight weights its loss alike in evaluate and as validationData; metrics stay unweighted", async () => {
    const w = new Float32Array(240).map((_, i) => (i % 5 === 0 ? 4 : i % 3));
    const dw = Dataset.from(m, y, { sampleWeight: w });
    const a = make(b), c = make(b);
    const ha = a.fit(ds, { epochs: 1, batchSize: 32, validationData: dw });
    const weighted = a.evaluate(dw), plain = a.evaluate(m, y);
    assert.equal(weighted.loss, a.evaluate(m, y, { sampleWeight: w }).loss);
    assert.notEqual(weighted.loss, plain.loss);
    assert.equal(ha.epochs[0].valLoss, weighted.loss);
    assert.equal(ha.epochs[0].valAccuracy, plain.accuracy);
    assert.equal(weighted.accuracy, plain.accuracy);
    const hc = await c.fitAsync(ds, { epochs: 1, batchSize: 32, validationData: dw });
    assert.deepEqual(c.params, a.params);
    assert.equal(hc.epochs[0].valLoss, weighted.loss);
    // Validation data given as { x, y } carries no weights.
    const u = make(b);
    assert.equal(u.fit(ds, { epochs: 1, batchSize: 32, validationData: { x: m, y } }).epochs[0].valLoss, plain.loss);
  });

  it('model-dependent checks happen per call, with codes', () => {
    const a = make(b);
    throwsCode(() => a.fit(Dataset.from(m)), 'ERR_BLASNET_SHAPE', RangeError, 'no targets');
    throwsCode(() => a.fit(Dataset.from(m, y.map((v) => v + 3))), 'ERR_BLASNET_LABEL', RangeError);
    throwsCode(() => a.fit(ds, { sampleWeight: new Float32Array(240) }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'Dataset.from');
    throwsCode(() => (a.fit as (...v: unknown[]) => unknown)(ds, y, { epochs: 1 }), 'ERR_BLASNET_ARG_COUNT', TypeError, 'fit(dataset, options)');
    throwsCode(() => (a.evaluate as (...v: unknown[]) => unknown)(ds, y, {}), 'ERR_BLASNET_ARG_COUNT', TypeError);
    const wide = Dataset.from(new Matrix(new Float32Array(240 * 5), 240, 5), y);
    throwsCode(() => a.fit(wide), 'ERR_BLASNET_SHAPE', RangeError);
    const records = Array.from({ length: 20 }, (_, i) => ({ p: i % 3, q: i, kind: i % 3 }));
    const r = new Sequential({ inputSize: 2, backend: b, layers: [dense(3)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    r.setInputColumns(['q', 'p']);
    throwsCode(() => r.fit(Dataset.from(records, 'kind')), 'ERR_BLASNET_SHAPE', RangeError, 'columns');
    throwsCode(() => r.predict(Dataset.from(records, 'kind')), 'ERR_BLASNET_SHAPE', RangeError, 'columns');
  });

  it('fitAsync trains on the Dataset\'s own memory (no copy) and ends as fit does', async () => {
    const a = make(b), c = make(b);
    const ha = await a.fitAsync(ds, { epochs: 2, batchSize: 32 });
    const hc = c.fit(ds, { epochs: 2, batchSize: 32 });
    assert.deepEqual(a.params, c.params);
    assert.deepEqual(ha.epochs.map((e) => e.loss), hc.epochs.map((e) => e.loss));

    // A value written into the Dataset's memory while the worker waits at the first epoch end
    // reaches the worker's second epoch: it reads that memory, not a copy of it.
    const own = Dataset.from(m, y);
    const poke = (target: Float32Array) => ({ onEpochEnd: (l: { epoch: number }) => { if (l.epoch === 0) target[7] = NaN; } });
    const h = await make(b).fitAsync(own, { epochs: 3, batchSize: 32, callbacks: [poke(new Float32Array(own.x.data.buffer))] });
    assert.equal(h.diverged?.epoch, 1, h.stopReason ?? 'no divergence');
    // Plain arrays are copied to shared memory: the same write into the caller's array changes nothing.
    const copy = x.slice();
    const hp = await make(b).fitAsync(copy, y, { epochs: 3, batchSize: 32, callbacks: [poke(copy)] });
    assert.equal(hp.diverged, null);
  });

  it('concurrent fitAsync workers divide the kernel threads and give them back', async () => {
    const before = b.getNumThreads();
    const seen: number[] = [];
    const cb = { onEpochEnd: () => { seen.push(b.getNumThreads()); } };
    await Promise.all([1, 2].map((seed) => make(b, seed).fitAsync(ds, { epochs: 2, batchSize: 32, callbacks: [cb] })));
    // The first epoch end comes while both workers run (each has a second epoch to go).
    assert.equal(seen[0], b.name === 'native' ? Math.max(1, Math.floor(before / 2)) : before);
    assert.equal(b.getNumThreads(), before);
  });

  it('blasnet never writes to a Dataset', async () => {
    const vs = Dataset.from(new Matrix(x.slice(0, 60), 10, 6), y.slice(0, 10));
    const before = [ds.x.data.slice(), (ds.y as Int32Array).slice(), vs.x.data.slice()];
    const a = make(b);
    a.fit(ds, { epochs: 1, batchSize: 50, validationData: vs });
    await a.fitAsync(ds, { epochs: 1, batchSize: 50, validationData: vs });
    a.fit(ds, { epochs: 1, batchSize: 50, validationSplit: 0.2 });
    a.evaluate(ds);
    a.predict(ds);
    assert.deepEqual([ds.x.data, ds.y, vs.x.data], before);
  });

  it('Ensemble and search take a Dataset', async function () {
    this.timeout(30000);
    const e = new Ensemble([make(b, 1), make(b, 2)]);
    const hs = await e.fitAsync(ds, { epochs: 1, batchSize: 32, parallel: true });
    assert.equal(hs.length, 2);
    const f = new Ensemble([make(b, 1), make(b, 2)]);
    f.fit(ds, { epochs: 1, batchSize: 32 });
    assert.deepEqual(e.models.map((q) => q.params), f.models.map((q) => q.params));
    assert.deepEqual(e.evaluate(ds), f.evaluate(m, y));
    const options = { space: { lr: 0.01, hidden: choice([[8], [4]]) }, trials: 2, seed: 3, backend: b.name as 'js' | 'native', budget: { epochs: 1 } };
    const r1 = await search({ ...options, data: ds });
    const r2 = await search({ ...options, data: { x: m, y } });
    assert.deepEqual(r1.trials.map((t) => t.score), r2.trials.map((t) => t.score));
    await assert.rejects(search({ ...options, data: Dataset.from(m, y, { sampleWeight: new Float32Array(240).fill(1) }) }), { code: 'ERR_BLASNET_ARG_RANGE' });
  });
});

forEachBackend('fit scans x as the first epoch gathers it', (b) => {
  const { x, y } = data(240, 3);

  it('stops before the step that would use a bad row, restoring the model as fit found it', () => {
    for (const onNonFinite of ['stop', 'continue'] as const) {
      const a = make(b);
      a.fit(x, y, { epochs: 1, batchSize: 32 });
      const params = a.params.slice(), state = JSON.stringify(a.optimizer?.state());
      const bad = x.slice();
      bad[200 * 6 + 4] = -Infinity;
      let batches = 0;
      throwsCode(() => a.fit(bad, y, { epochs: 2, batchSize: 32, shuffle: false, onNonFinite, callbacks: [{ onBatchEnd: () => { batches++; } }] }),
        'ERR_BLASNET_DATA', undefined, `index ${200 * 6 + 4} (row 201)`);
      // Row 201 is in the seventh batch of an unshuffled epoch; the six before it were trained on.
      assert.equal(batches, 6);
      assert.deepEqual(a.params, params);
      assert.equal(JSON.stringify(a.optimizer?.state()), state);
    }
  });

  it('checks the held-out rows of validationSplit before training', () => {
    const a = make(b);
    const bad = x.slice();
    bad[239 * 6] = NaN;
    let batches = 0;
    throwsCode(() => a.fit(bad, y, { epochs: 1, validationSplit: 0.1, callbacks: [{ onBatchEnd: () => { batches++; } }] }), 'ERR_BLASNET_DATA', undefined, `index ${239 * 6}`);
    assert.equal(batches, 0);
  });

  it('fitAsync still rejects a bad row before its worker trains', async () => {
    const bad = x.slice();
    bad[100] = NaN;
    await rejectsCode(make(b).fitAsync(bad, y, { epochs: 1 }), 'ERR_BLASNET_DATA', 'index 100');
  });
});
