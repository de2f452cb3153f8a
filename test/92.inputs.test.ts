/**
 * One input converter for every entry point (records with a column spec included), and the
 * Keras-style conveniences: optimizer shorthand, verbose, predictProba/predictClasses, compile
 * settings restored by loadModel, 1-based epochs in the history CSV.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { batchNorm, checkModel, classificationReport, classWeights, confusionMatrix, Dataset, dense, dropout, encodeIdx, loadModel, lrFinder, Matrix, mcPredict, modelCheckpoint, oneHot, recordsToMatrix, regressionReport, Rng, rocAuc, saveModel, saveModels, Sequential, Standardizer, TabularPreprocessor, trainTestSplit } from '../lib';
import type { Backend, DataRecord } from '../lib';
import { csvLogger, earlyStopping } from '../lib/train/callbacks';
import type { FitOptions } from '../lib/train/fit';
import { BlasnetError } from '../lib/errors';
import { forEachBackend, rejectsCode, throwsCode, warningsDuring } from './helpers';

/** What `f` threw or rejected with, or null. */
async function caught(f: () => unknown): Promise<(Error & { code?: string }) | null> {
  try {
    await f();
    return null;
  } catch (err) {
    return err as Error & { code?: string };
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-inputs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Three seeded blobs in 3 dimensions, as a Matrix with labels and as records. */
function table(n: number, seed: number): { x: Matrix; y: Int32Array; records: DataRecord[] } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 3), y = new Int32Array(n);
  const records: DataRecord[] = [];
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 3; j++) x[i * 3 + j] = Math.fround((j === y[i] ? 2 : 0) + rng.normal() + 5 * j);
    records.push({ a: x[i * 3], b: x[i * 3 + 1], c: x[i * 3 + 2], kind: y[i] });
  }
  return { x: new Matrix(x, n, 3), y, records };
}

function model(b: Backend, out = 3, activation: 'softmax' | 'sigmoid' | 'identity' = 'identity', loss = 'crossEntropy'): Sequential {
  return new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(8, { activation: 'tanh' }), dense(out, { activation })] })
    .compile({ loss: loss as 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
}

forEachBackend('records and the one input converter', (b) => {
  const data = table(60, 1);

  it('fit on records with a label key trains exactly as on the Matrix and labels', () => {
    const m1 = model(b), m2 = model(b);
    m1.fit(data.x, data.y, { epochs: 2, batchSize: 16 });
    m2.fit(data.records, 'kind', { epochs: 2, batchSize: 16 });
    assert.deepEqual(m2.params, m1.params);
    assert.deepEqual(m2.inputColumns, ['a', 'b', 'c']);
    // Keys in another order are read by name.
    const shuffled = data.records.map((r) => ({ kind: r.kind, c: r.c, a: r.a, b: r.b }));
    assert.deepEqual(m2.predict(shuffled).data, m1.predict(data.x).data);
    assert.deepEqual(m2.evaluate(shuffled, 'kind'), m1.evaluate(data.x, data.y));
    assert.deepEqual(Array.from(m2.forward(data.records.slice(0, 5)).data.subarray(0, 15)),
      Array.from(m1.forward(new Matrix(data.x.data.subarray(0, 15), 5, 3)).data.subarray(0, 15)));
    const l1 = m1.lossAndGradient(new Matrix(data.x.data.subarray(0, 15), 5, 3), data.y.subarray(0, 5));
    const l2 = m2.lossAndGradient(data.records.slice(0, 5), data.y.subarray(0, 5));
    assert.equal(l2, l1);
  });

  it('labels past 32 bits are refused, not wrapped into classes (number[], Float64Array, a record key)', () => {
    for (const big of [2 ** 32 + 1, -(2 ** 32), 2 ** 53]) {
      const labels = Array.from(data.y);
      labels[7] = big;
      const msg = `the label of row 8 is ${big}, outside [0, 3)`;
      throwsCode(() => model(b).fit(data.x, labels, { epochs: 1 }), 'ERR_BLASNET_LABEL', RangeError, msg);
      throwsCode(() => model(b).fit(data.x, Float64Array.from(labels) as never, { epochs: 1 }), 'ERR_BLASNET_LABEL', RangeError, msg);
      throwsCode(() => model(b).evaluate(data.x, labels), 'ERR_BLASNET_LABEL', RangeError, msg);
      const records = data.records.map((r, i) => (i === 7 ? { ...r, kind: big } : r));
      throwsCode(() => model(b).fit(records, 'kind', { epochs: 1 }), 'ERR_BLASNET_LABEL', RangeError, msg);
    }
  });

  it('fitAsync takes records and a label key as fit does', async () => {
    const m1 = model(b), m2 = model(b);
    m1.fit(data.x, data.y, { epochs: 2, batchSize: 16 });
    await m2.fitAsync(data.records, 'kind', { epochs: 2, batchSize: 16 });
    assert.deepEqual(m2.params, m1.params);
    assert.deepEqual(m2.inputColumns, ['a', 'b', 'c']);
  });

  it('reads numeric strings, booleans and bigints as a database driver returns them', () => {
    const m = recordsToMatrix([{ a: '1.5', b: true, c: 3n }, { a: ' -2 ', b: false, c: 7 }], ['a', 'b', 'c']);
    assert.deepEqual(Array.from(m.data), [1.5, 1, 3, -2, 0, 7]);
  });

  it('numeric strings are decimal numbers, as a CSV reader and TabularPreprocessor read them; hex, binary and octal are not', () => {
    const cells = [' 12 ', '1e3', '.5', '5.', '+5', '-1.5E-2', '007'];
    const m = recordsToMatrix(cells.map((a) => ({ a })), ['a']);
    assert.deepEqual(Array.from(m.data), [12, 1000, 0.5, 5, 5, Math.fround(-0.015), 7]);
    const p = TabularPreprocessor.fit(cells.map((a, i) => ({ a, y: i % 2 })), { label: 'y', standardize: false });
    assert.deepEqual(p.transform(cells.map((a) => ({ a }))), m);
    for (const a of ['0x1F', '0b101', '0o17', '1_000', '12px']) {
      throwsCode(() => recordsToMatrix([{ a: 1 }, { a }], ['a']), 'ERR_BLASNET_DATA', undefined, `row 2, column "a": ${JSON.stringify(a)} is not a number`);
      throwsCode(() => p.transform([{ a }]), 'ERR_BLASNET_DATA', undefined, `${JSON.stringify(a)} is not a number (the column was numeric in training)`);
    }
    for (const a of ['Infinity', '-inf', '1e400']) {
      throwsCode(() => recordsToMatrix([{ a }], ['a']), 'ERR_BLASNET_DATA', undefined, `row 1, column "a": ${JSON.stringify(a)} is not a finite number`);
    }
  });

  it('a finite value past float32 range is refused, as readCsv refuses the cell, not read as Infinity', () => {
    for (const a of [1e39, -1e39, '1e39', ' -3.5e38 ', 10n ** 39n]) {
      throwsCode(() => recordsToMatrix([{ a: 1 }, { a }], ['a']), 'ERR_BLASNET_DATA', undefined, 'row 2, column "a": ');
      throwsCode(() => recordsToMatrix([{ a: 1 }, { a }], ['a']), 'ERR_BLASNET_DATA', undefined, 'does not fit a float32');
    }
    // The largest float32 and values just beneath it are read as they are.
    assert.deepEqual(Array.from(recordsToMatrix([{ a: 3.4028234663852886e38 }, { a: '-3.4e38' }], ['a']).data), [3.4028234663852886e38, Math.fround(-3.4e38)]);
    const m = model(b);
    m.fit(data.records, 'kind', { epochs: 1 });
    throwsCode(() => m.predict([{ a: 1, b: 1e39, c: 1 }]), 'ERR_BLASNET_DATA', undefined, 'predict: row 1, column "b": 1e+39 does not fit a float32');
    // A label or target past float32 range, named as a label column.
    throwsCode(() => model(b, 1, 'identity', 'mse').fit(data.records.map((r, i) => ({ ...r, kind: i === 3 ? 1e39 : 1 })), 'kind'),
      'ERR_BLASNET_DATA', undefined, 'row 4, column "kind": 1e+39 does not fit a float32');
    // Rows of numbers: the value as given, not the Infinity float32 makes of it.
    throwsCode(() => m.predict([[1, 1, 1], [1, -1e39, 1]]), 'ERR_BLASNET_DATA', undefined, 'row 2, column 2 of x is -1e+39, which does not fit a float32');
  });

  it('a Date, object, array, function or symbol is a coded error saying what it is and how to convert it', () => {
    const cases: [unknown, string][] = [
      [new Date(Date.UTC(2024, 0, 2)), 'row 2, column "b": a Date (2024-01-02T00:00:00.000Z) is not a number; convert it first, e.g. with getTime()'],
      [{ city: 'Oslo' }, 'row 2, column "b": an object is not a number; spread its fields into columns of their own'],
      [[1, 2], 'row 2, column "b": an array is not a number; spread it into columns of their own'],
      [() => 1, 'row 2, column "b": a function is not a number'],
      [Symbol('s'), 'row 2, column "b": a symbol is not a number'],
      [10n ** 400n, 'row 2, column "b": 1' + '0'.repeat(400) + 'n is not a finite number'],
    ];
    for (const [cell, message] of cases) {
      throwsCode(() => recordsToMatrix([{ a: 1, b: 2 }, { a: 1, b: cell }], ['a', 'b']), 'ERR_BLASNET_DATA', undefined, `recordsToMatrix: ${message}`);
    }
  });

  it('names the 1-based row and the column of a bad value before any work', () => {
    const m = model(b);
    const before = m.params.slice();
    const bad = data.records.map((r) => ({ ...r }));
    (bad[2] as Record<string, unknown>).b = null;
    throwsCode(() => m.fit(bad, 'kind'), 'ERR_BLASNET_DATA', undefined, 'row 3, column "b": missing value');
    (bad[2] as Record<string, unknown>).b = 'red';
    throwsCode(() => m.fit(bad, 'kind'), 'ERR_BLASNET_DATA', undefined, 'row 3, column "b": "red" is not a number');
    const noLabel = data.records.map((r) => ({ ...r }));
    delete (noLabel[4] as Record<string, unknown>).kind;
    throwsCode(() => m.fit(noLabel, 'kind'), 'ERR_BLASNET_DATA', undefined, 'row 5, column "kind"');
    const wrongLabel = data.records.map((r, i) => ({ ...r, kind: i === 9 ? 7 : r.kind }));
    throwsCode(() => m.fit(wrongLabel, 'kind'), 'ERR_BLASNET_LABEL', RangeError, 'row 10');
    assert.deepEqual(m.params, before);
    // Extra keys make the records too wide for this model.
    const wide = model(b);
    throwsCode(() => wide.fit(data.records.map((r) => ({ ...r, d: 1 })), 'kind'), 'ERR_BLASNET_SHAPE', RangeError, 'a, b, c, d');
    // predict on records needs a column spec.
    throwsCode(() => model(b).predict(data.records), 'ERR_BLASNET_STATE');
    throwsCode(() => m.fit(data.x, 'kind'), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => m.setInputColumns(['a', 'a', 'b']), 'ERR_BLASNET_ARG_RANGE', RangeError);
  });

  it('a call that rejects its data leaves the input columns as they were', async () => {
    const m = model(b);
    throwsCode(() => m.fit(data.records, 'label'), 'ERR_BLASNET_DATA', undefined, 'no record has the field "label"');
    assert.equal(m.inputColumns, null);
    // Failures found after the records' keys were read: a label, validation rows, weights.
    const wrongLabel = data.records.map((r, i) => ({ ...r, kind: i === 9 ? 7 : r.kind }));
    throwsCode(() => m.fit(wrongLabel, 'kind'), 'ERR_BLASNET_LABEL', RangeError, 'row 10');
    assert.equal(m.inputColumns, null);
    throwsCode(() => m.fit(data.records, 'kind', { validationData: { x: data.records.slice(0, 5), y: [0, 1] } }), 'ERR_BLASNET_SHAPE', RangeError);
    assert.equal(m.inputColumns, null);
    throwsCode(() => m.fit(data.records, 'kind', { sampleWeight: [1, 2] }), 'ERR_BLASNET_SHAPE', RangeError, 'sampleWeight has 2 values');
    assert.equal(m.inputColumns, null);
    await rejectsCode(m.fitAsync(data.records, 'label'), 'ERR_BLASNET_DATA', 'no record has the field "label"');
    await rejectsCode(m.fitAsync(wrongLabel, 'kind'), 'ERR_BLASNET_LABEL', 'row 10');
    assert.equal(m.inputColumns, null);
    // A Dataset built from records lends its columns only to a call that succeeds.
    throwsCode(() => m.evaluate(Dataset.from(wrongLabel, 'kind')), 'ERR_BLASNET_LABEL', RangeError);
    assert.equal(m.inputColumns, null);
    // A bad row of x found in the first epoch, after a validation Dataset lent its columns.
    const nan = new Matrix(data.x.data.slice(), 60, 3);
    nan.data[100] = NaN;
    throwsCode(() => m.fit(nan, data.y, { validationData: Dataset.from(data.records.slice(0, 12), 'kind') }), 'ERR_BLASNET_DATA', undefined, 'row 34');
    assert.equal(m.inputColumns, null);
    const keep = model(b);
    keep.fit(data.records, 'kind', { epochs: 1 });
    assert.deepEqual(keep.inputColumns, ['a', 'b', 'c']);
    const extra = data.records.map((r) => ({ ...r, d: 1 }));
    throwsCode(() => keep.fit(extra, 'label'), 'ERR_BLASNET_DATA', undefined, '"label"');
    assert.deepEqual(keep.inputColumns, ['a', 'b', 'c']);
    // Once training has begun the columns stay with the weights trained on them.
    const stopped = model(b);
    assert.throws(() => stopped.fit(data.records, 'kind', { epochs: 3, callbacks: [{ onEpochEnd: () => { throw new Error('stop'); } }] }), /stop/);
    assert.deepEqual(stopped.inputColumns, ['a', 'b', 'c']);
    const aborted = model(b), ac = new AbortController();
    const before = aborted.params.slice();
    await assert.rejects(aborted.fitAsync(data.records, 'kind', {
      epochs: 1000, batchSize: 10, signal: ac.signal, onProgress: (e) => { if (e.type === 'batch') ac.abort(); },
    }), (e: Error) => e.name === 'AbortError');
    assert.notDeepEqual(aborted.params, before);
    assert.deepEqual(aborted.inputColumns, ['a', 'b', 'c']);
  });

  it('columns taken from the first record: keys only later records have are named in a warning', async () => {
    const rows = data.records.map((r, i) => (i === 0 ? { a: r.a, b: r.b, kind: r.kind } : { ...r, w: 1 }));
    const m = model(b);
    const seen = await warningsDuring(() => {
      throwsCode(() => m.fit(rows, 'kind', { epochs: 1, sampleWeight: 'w' }), 'ERR_BLASNET_SHAPE', RangeError, 'received 2 (records read by 2 columns: a, b)');
    });
    assert.equal(m.inputColumns, null);
    assert.deepEqual(seen.map((w) => [w.code, w.message]), [['BLASNET_UNREAD_KEYS', 'fit: the input columns are the first record\'s keys '
      + '(a, b), so key "c" of later records (first in records[1]) is not read; name the columns with setInputColumns([...]) to read it']]);
    const two = data.records.map((r, i) => (i < 2 ? { a: r.a, kind: r.kind } : { ...r }));
    const ds = await warningsDuring(() => {
      assert.deepEqual(Dataset.from(two, 'kind').columns, ['a']);
    });
    assert.deepEqual(ds.map((w) => w.message), ['Dataset.from: the input columns are the first record\'s keys (a), so keys "b", "c" of later records '
      + '(first in records[2]) are not read; name the columns with options.columns to read them']);
    assert.deepEqual(await warningsDuring(() => Dataset.from(data.records, 'kind')), []);
  });

  it('a mistyped label key cannot leave the label among the inputs', () => {
    // y is independent of a and b: a model that reads only a and b cannot predict it.
    const rng = new Rng(7);
    const rows = Array.from({ length: 60 }, (_, i) => ({ a: i % 7, b: (i % 3) * 2, y: rng.uniform() < 0.5 ? 1 : 0 }));
    const m = new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    throwsCode(() => m.fit(rows, 'Y'), 'ERR_BLASNET_DATA', undefined, 'no record has the field "Y"');
    assert.equal(m.inputColumns, null);
    // The corrected call reads two columns, not the label as a third.
    throwsCode(() => m.fit(rows, 'y'), 'ERR_BLASNET_SHAPE', RangeError, 'received 2 (records read by 2 columns: a, b)');
    assert.equal(m.inputColumns, null);
  });

  it('a label or weight key that is also an input column is refused', async () => {
    const m = model(b).setInputColumns(['a', 'kind', 'c']);
    const before = m.params.slice();
    throwsCode(() => m.fit(data.records, 'kind'), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the label key "kind" is also an input column');
    await rejectsCode(m.fitAsync(data.records, 'kind'), 'ERR_BLASNET_ARG_RANGE', 'the label key "kind" is also an input column');
    throwsCode(() => m.evaluate(data.records, 'kind'), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the label key "kind"');
    assert.deepEqual(m.params, before);
    assert.deepEqual(m.inputColumns, ['a', 'kind', 'c']);
    const weighted = data.records.map((r, i) => ({ ...r, w: 1 + (i % 2) }));
    const w = model(b).setInputColumns(['a', 'b', 'w']);
    throwsCode(() => w.fit(weighted, 'kind', { sampleWeight: 'w' }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the sampleWeight key "w" is also an input column');
    throwsCode(() => Dataset.from(data.records, 'kind', { columns: ['a', 'kind'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the label key "kind"');
    throwsCode(() => Dataset.from(weighted, 'kind', { columns: ['a', 'w'], sampleWeight: 'w' }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      'the sampleWeight key "w"');
  });

  it('a label or weight key that no record has is named as such', () => {
    const m = model(b);
    throwsCode(() => m.fit(data.records, 'nolabel'), 'ERR_BLASNET_DATA', undefined, 'no record has the field "nolabel" (the label key)');
    const weighted = data.records.map((r, i) => ({ ...r, w: 1 + (i % 2) }));
    throwsCode(() => m.fit(weighted, 'kind', { sampleWeight: 'W' }), 'ERR_BLASNET_DATA', undefined, 'no record has the field "W" (the sampleWeight key)');
    m.setInputColumns(['a', 'b', 'c']);
    throwsCode(() => m.evaluate(data.records, 'nolabel'), 'ERR_BLASNET_DATA', undefined, 'no record has the field "nolabel"');
    throwsCode(() => Dataset.from(data.records, 'nolabel'), 'ERR_BLASNET_DATA', undefined, 'no record has the field "nolabel"');
    throwsCode(() => Dataset.from(weighted, 'kind', { sampleWeight: 'W' }), 'ERR_BLASNET_DATA', undefined, 'no record has the field "W"');
  });

  it('rows of numbers: a ragged or non-numeric row is named 1-based', () => {
    const m = model(b);
    throwsCode(() => m.predict([[1, 2, 3], [1, 2]]), 'ERR_BLASNET_SHAPE', RangeError, 'row 2 of x has 2 values but row 1 has 3');
    throwsCode(() => m.predict([[1, 2, 3], [1, '2', 3]] as never), 'ERR_BLASNET_ARG_TYPE', TypeError, 'row 2, column 2');
    throwsCode(() => m.forward([[1, 2]]), 'ERR_BLASNET_SHAPE', RangeError, 'Expected 3 features per row but received 2');
  });

  it("a Matrix whose buffer was shrunk or detached since it was made is ERR_BLASNET_ARG_LENGTH or _DETACHED naming x, never rows of stale output", async () => {
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    const Buffer2024 = ArrayBuffer as unknown as new (bytes: number, options?: { maxByteLength: number }) => Resizable;
    const rows = 40;
    const bad = (mode: 'shrink' | 'detach'): Matrix => {
      const buffer = new Buffer2024(rows * 3 * 4, { maxByteLength: rows * 3 * 4 });
      const x = new Matrix(new Float32Array(buffer).fill(1), rows, 3);
      if (mode === 'shrink') buffer.resize(8 * 3 * 4);
      else structuredClone(buffer, { transfer: [buffer] });
      return x;
    };
    const m = new Sequential({ inputSize: 3, seed: 1, backend: b, layers: [dense(4, { activation: 'relu' }), dropout(0.5), dense(2)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    const labels = new Int32Array(rows);
    const calls: [string, (x: Matrix) => unknown][] = [
      ['predict', (x) => m.predict(x)],
      ['mcPredict', (x) => mcPredict(m, x, { samples: 2 })],
      ['mcPredict', (x) => m.predict(x, { mcSamples: 2 })],
      // predictProba runs predict, whose name its input errors carry.
      ['predict', (x) => m.predictProba(x)],
      ['evaluate', (x) => m.evaluate(x, labels)],
      ['fit', (x) => m.fit(x, labels, { epochs: 1, batchSize: 8 })],
      ['Dataset.from', (x) => Dataset.from(x, labels)],
      ['fitAsync', (x) => m.fitAsync(x, labels, { epochs: 1, batchSize: 8 })],
      ['Standardizer.fit', (x) => new Standardizer().fit(x)],
      ['trainTestSplit', (x) => trainTestSplit(x, labels, { testFraction: 0.25 })],
    ];
    for (const [where, f] of calls) {
      for (const mode of ['shrink', 'detach'] as const) {
        const e = await caught(() => f(bad(mode)));
        const expected = mode === 'shrink'
          ? { code: 'ERR_BLASNET_ARG_LENGTH', message: `${where}: x holds 24 values, fewer than its 40 rows x 3 columns (its buffer shrank after the Matrix was made)` }
          : { code: 'ERR_BLASNET_DETACHED', message: `${where}: x is backed by a detached ArrayBuffer` };
        assert.deepEqual(e && { code: e.code, message: e.message }, expected, `${where}, ${mode}`);
      }
    }
  });

  it('a target Matrix shrunk or detached since it was made is ERR_BLASNET_ARG_LENGTH or _DETACHED naming y, as x is; so are the Matrix\'s own reads and the reports', async () => {
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    const Buffer2024 = ArrayBuffer as unknown as new (bytes: number, options?: { maxByteLength: number }) => Resizable;
    const rows = 10;
    const bad = (mode: 'shrink' | 'detach', cols = 2): Matrix => {
      const buffer = new Buffer2024(rows * cols * 4, { maxByteLength: rows * cols * 4 });
      const y = new Matrix(new Float32Array(buffer).fill(0.5), rows, cols);
      if (mode === 'shrink') buffer.resize(3 * 4);
      else structuredClone(buffer, { transfer: [buffer] });
      return y;
    };
    const expected = (mode: 'shrink' | 'detach', where: string, name: string, cols = 2) => (mode === 'shrink'
      ? { code: 'ERR_BLASNET_ARG_LENGTH', message: `${where}: ${name} holds 3 values, fewer than its ${rows} rows x ${cols} columns (its buffer shrank after the Matrix was made)` }
      : { code: 'ERR_BLASNET_DETACHED', message: `${where}: ${name} is backed by a detached ArrayBuffer` });
    const m = new Sequential({ inputSize: 3, seed: 1, backend: b, layers: [dense(2)] }).compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
    const x = new Matrix(new Float32Array(rows * 3), rows, 3);
    const good = new Matrix(new Float32Array(rows * 2), rows, 2);
    const calls: [string, string, (y: Matrix) => unknown, number?][] = [
      ['fit', 'y', (y) => m.fit(x, y, { epochs: 1 })],
      ['evaluate', 'y', (y) => m.evaluate(x, y)],
      ['fitAsync', 'y', (y) => m.fitAsync(x, y, { epochs: 1 })],
      ['Dataset.from', 'y', (y) => Dataset.from(x, y)],
      ['regressionReport', 'yTrue', (y) => regressionReport(y, good)],
      ['regressionReport', 'yPred', (y) => regressionReport(good, y)],
      ['Matrix.get', 'the Matrix', (y) => y.get(5, 1)],
      ['Matrix.row', 'the Matrix', (y) => y.row(5)],
      ['Matrix.toArray', 'the Matrix', (y) => y.toArray()],
      ['Matrix.clone', 'the Matrix', (y) => y.clone()],
      ['Matrix.argmax', 'the Matrix', (y) => y.argmax()],
    ];
    const before = Float32Array.from(m.params);
    for (const [where, name, f] of calls) {
      for (const mode of ['shrink', 'detach'] as const) {
        const e = await caught(() => f(bad(mode)));
        assert.deepEqual(e && { code: e.code, message: e.message }, expected(mode, where, name), `${where}, ${mode}`);
      }
    }
    assert.deepEqual(m.params, before, 'no call trained');
    const detached = new Float32Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    throwsCode(() => new Matrix(detached, 2, 4), 'ERR_BLASNET_DETACHED', TypeError, 'Matrix: data is backed by a detached ArrayBuffer');
  });

  it('detached label arrays are ERR_BLASNET_DETACHED in the reports, oneHot, classWeights and encodeIdx, never read as empty; reports of no rows are refused', () => {
    const det = <T extends Int32Array | Float32Array>(a: T): T => {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
      return a;
    };
    const two = Int32Array.from([0, 1]);
    const cases: [string, () => unknown][] = [
      ['classificationReport: yTrue', () => classificationReport(det(new Int32Array(2)), two)],
      ['classificationReport: yPred', () => classificationReport(two, det(new Int32Array(2)))],
      ['confusionMatrix: yTrue', () => confusionMatrix(det(new Int32Array(2)), two, 2)],
      ['rocAuc: yTrue', () => rocAuc(det(new Int32Array(2)), [0.1, 0.9])],
      ['rocAuc: scores', () => rocAuc(two, det(new Float32Array(2)))],
      ['oneHot: labels', () => oneHot(det(new Int32Array(2)), 3)],
      ['classWeights: classes', () => classWeights('balanced', det(new Int32Array(2)), 2)],
      ['encodeIdx: data', () => encodeIdx(det(new Int32Array(2)))],
      ['regressionReport: yTrue', () => regressionReport(det(new Float32Array(2)), [1, 2])],
    ];
    for (const [mention, f] of cases) throwsCode(f, 'ERR_BLASNET_DETACHED', TypeError, `${mention} is backed by a detached ArrayBuffer`);
    throwsCode(() => classificationReport([], []), 'ERR_BLASNET_SHAPE', RangeError, 'classificationReport: Expected at least one row');
    throwsCode(() => rocAuc([], []), 'ERR_BLASNET_SHAPE', RangeError, 'rocAuc: Expected at least one row');
    // With rows, as before.
    assert.equal(classificationReport(two, two).accuracy, 1);
    assert.equal(rocAuc(two, [0.1, 0.9]), 1);
  });

  it('shared params, grads and buffers that overlap are ERR_BLASNET_ALIAS at construction, before a pass could write gradients over weights', () => {
    const layers = () => [dense(4, { activation: 'relu' }), batchNorm(), dense(2)];
    const total = new Sequential({ inputSize: 3, seed: 1, backend: b, layers: layers() }).params.length;
    const sab = new SharedArrayBuffer((3 * total + 16) * 4);
    const at = (offset: number, n: number) => new Float32Array(sab, offset * 4, n);
    const buffers = () => [at(3 * total, 4), at(3 * total + 4, 4)];
    const make = (params: Float32Array, grads: Float32Array, bufs: Float32Array[]) =>
      new Sequential({ inputSize: 3, seed: 1, backend: b, layers: layers(), shared: { params, grads, buffers: bufs } });
    throwsCode(() => make(at(0, total), at(total - 5, total), buffers()), 'ERR_BLASNET_ALIAS', RangeError, 'Sequential: shared.params must not share memory with shared.grads');
    throwsCode(() => make(at(0, total), at(0, total), buffers()), 'ERR_BLASNET_ALIAS', RangeError, 'Sequential: shared.params must not share memory with shared.grads');
    throwsCode(() => make(at(0, total), at(total, total), [at(2 * total - 2, 4), at(3 * total, 4)]), 'ERR_BLASNET_ALIAS', RangeError,
      'Sequential: shared.grads must not share memory with shared.buffers[0]');
    throwsCode(() => make(at(0, total), at(total, total), [at(3 * total, 4), at(3 * total + 2, 4)]), 'ERR_BLASNET_ALIAS', RangeError,
      'Sequential: shared.buffers[0] must not share memory with shared.buffers[1]');
    // Apart, as a worker's model is made: accepted.
    const ok = make(at(0, total), at(total, total), buffers());
    assert.equal(ok.params.length, total);
  });

  it('a detached Float32Array or Int32Array (x, y, sampleWeight, weights) is ERR_BLASNET_DETACHED naming it, not an empty input', async () => {
    const detached = <T extends Float32Array | Int32Array>(a: T): T => {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
      return a;
    };
    const m = new Sequential({ inputSize: 3, seed: 1, backend: b, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    const x = () => new Float32Array(30), y = () => new Int32Array(10);
    const cases: [string, () => unknown][] = [
      ['predict: x', () => m.predict(detached(x()))],
      ['fit: x', () => m.fit(detached(x()), y())],
      ['fit: y', () => m.fit(x(), detached(y()))],
      ['evaluate: y', () => m.evaluate(x(), detached(y()))],
      ['fit: sampleWeight', () => m.fit(x(), y(), { sampleWeight: detached(new Float32Array(10)) })],
      ['setWeights: 0.weight', () => m.setWeights([detached(new Float32Array(6)), new Float32Array(2)])],
      ['fitAsync: y', () => m.fitAsync(x(), detached(y()))],
    ];
    for (const [mention, f] of cases) {
      await rejectsCode(async () => f(), 'ERR_BLASNET_DETACHED', `${mention} is backed by a detached ArrayBuffer`);
    }
  });

  it('a y with fewer rows than x is reported as a row-count mismatch', () => {
    const m = new Sequential({ inputSize: 2, backend: b, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    throwsCode(() => m.fit([[1, 2], [3, 4]], [0]), 'ERR_BLASNET_SHAPE', RangeError, 'y has 1 row (one label each) but x has 2');
    const r = new Sequential({ inputSize: 2, backend: b, layers: [dense(1)] }).compile({ loss: 'mse', optimizer: 'adam' });
    throwsCode(() => r.fit([[1, 2], [3, 4]], [0.5]), 'ERR_BLASNET_SHAPE', RangeError, 'y has 1 row but x has 2');
    throwsCode(() => r.fit([[1, 2], [3, 4]], [[0.5]]), 'ERR_BLASNET_SHAPE', RangeError, 'y has 1 row but x has 2');
    // Rows of targets are accepted as a Matrix is.
    r.fit([[1, 2], [3, 4]], [[0.5], [1]]);
  });

  it('preprocessing is applied exactly once, on records as on rows, and travels with the model', () => {
    const scaler = new Standardizer().fit(data.x);
    const raw = model(b).setPreprocessing(scaler);
    const manual = model(b);
    raw.fit(data.records, 'kind', { epochs: 2, batchSize: 16, validationData: { x: data.records.slice(0, 12), y: 'kind' } });
    manual.fit(scaler.transform(data.x), data.y, { epochs: 2, batchSize: 16,
      validationData: { x: scaler.transform(new Matrix(data.x.data.subarray(0, 36), 12, 3)), y: data.y.subarray(0, 12) } });
    assert.deepEqual(raw.params, manual.params);
    const file = path.join(tmp, `pre-${b.name}.blasnet`);
    saveModel(file, raw);
    const loaded = loadModel(file, { backend: b }).model;
    assert.deepEqual(loaded.inputColumns, ['a', 'b', 'c']);
    assert.deepEqual(loaded.predict(data.records).data, manual.predict(scaler.transform(data.x)).data);
  });
});

forEachBackend('compile shorthand, verbose and class predictions', (b) => {
  const data = table(60, 2);

  it("compile({ optimizer: 'adam' }) is Adam with its defaults", () => {
    const m = model(b).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    assert.equal(m.optimizer?.name, 'adam');
    assert.equal(m.optimizer?.options.lr, 1e-3);
    throwsCode(() => model(b).compile({ loss: 'crossEntropy', optimizer: 'adamw2' as never }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
  });

  it('verbose prints one line per epoch; the default is quiet', () => {
    const m = model(b);
    const lines: string[] = [];
    const write = process.stdout.write;
    const isTTY = process.stdout.isTTY;
    process.stdout.isTTY = false;
    process.stdout.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stdout.write;
    try {
      m.fit(data.x, data.y, { epochs: 2, batchSize: 30 });
      assert.equal(lines.length, 0);
      m.fit(data.x, data.y, { epochs: 2, batchSize: 30, verbose: true });
    } finally {
      process.stdout.write = write;
      process.stdout.isTTY = isTTY;
    }
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^epoch 1\/2 .*loss/);
    assert.match(lines[1], /^epoch 2\/2 /);
    throwsCode(() => m.fit(data.x, data.y, { verbose: 1 as never }), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });

  it('predictProba: softmax of logits under crossEntropy, outputs as they are after softmax', () => {
    const logits = model(b);
    logits.fit(data.x, data.y, { epochs: 3, batchSize: 16 });
    const out = logits.predict(data.x);
    const p = logits.predictProba(data.x);
    for (let r = 0; r < 60; r++) {
      const z = [0, 1, 2].map((j) => out.get(r, j));
      const m = Math.max(...z), s = z.reduce((a, v) => a + Math.exp(v - m), 0);
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(p.get(r, j) - Math.exp(z[j] - m) / s) < 1e-6);
    }
    const classes = logits.predictClasses(data.x);
    for (let r = 0; r < 60; r++) {
      const row = [0, 1, 2].map((j) => out.get(r, j));
      assert.equal(classes[r], row.indexOf(Math.max(...row)));
    }
    const soft = model(b, 3, 'softmax');
    assert.deepEqual(soft.predictProba(data.x).data, soft.predict(data.x).data);
  });

  it('predictClasses on one binaryCrossEntropy logit thresholds its sigmoid at 0.5', () => {
    const m = model(b, 1, 'identity', 'binaryCrossEntropy');
    const yb = new Float32Array(60).map((_, i) => (data.y[i] === 0 ? 1 : 0));
    m.fit(data.x, yb, { epochs: 5, batchSize: 16 });
    const z = m.predict(data.x).data;
    const p = m.predictProba(data.x).data;
    const c = m.predictClasses(data.x);
    for (let i = 0; i < 60; i++) {
      assert.ok(Math.abs(p[i] - 1 / (1 + Math.exp(-z[i]))) < 1e-6);
      assert.equal(c[i], z[i] > 0 ? 1 : 0);
    }
    throwsCode(() => model(b, 1, 'identity', 'mse').predictProba(data.x), 'ERR_BLASNET_STATE');
  });

  it('predictClasses gives no class to a row whose scores are NaN (NaN weights); predictProba returns the NaNs', () => {
    for (const [units, act, loss] of [[3, 'softmax', 'crossEntropy'], [1, 'identity', 'binaryCrossEntropy']] as const) {
      const m = model(b, units, act, loss);
      const rows = new Matrix(data.x.data.slice(0, 3 * data.x.cols), 3, data.x.cols);
      // predict refuses a NaN in x; a NaN bias makes every row's scores NaN.
      const w = m.getWeights();
      w[1].data[0] = NaN;
      m.setWeights(w);
      assert.ok(Number.isNaN(m.predictProba(rows).get(1, 0)));
      // The first row, numbered from 1 as fit, the input checks and predict --csv number rows.
      throwsCode(() => m.predictClasses(rows), 'ERR_BLASNET_DATA', undefined, 'row 1 has no class: its probabilities hold NaN');
    }
  });

  it('predict, predictProba, predictClasses, mcPredict and evaluate refuse NaN and infinities in x, naming the 1-based row and column', () => {
    const m = model(b, 3, 'softmax');
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = data.x.data.slice(0, 4 * data.x.cols);
      x[2 * data.x.cols + 1] = bad;
      const mention = `x holds ${bad} at index ${2 * data.x.cols + 1} (row 3, column 2); clean or impute the data first`;
      const rows = Array.from({ length: 4 }, (_, i) => Array.from(x.subarray(i * data.x.cols, (i + 1) * data.x.cols)));
      for (const input of [new Matrix(x, 4, data.x.cols), x, rows]) {
        throwsCode(() => m.predict(input), 'ERR_BLASNET_DATA', undefined, `predict: ${mention}`);
        throwsCode(() => m.predict(input, { batchSize: 1 }), 'ERR_BLASNET_DATA', undefined, `predict: ${mention}`);
        throwsCode(() => m.predictProba(input), 'ERR_BLASNET_DATA', undefined, `predict: ${mention}`);
        throwsCode(() => m.predictClasses(input), 'ERR_BLASNET_DATA', undefined, `predict: ${mention}`);
        throwsCode(() => m.predict(input, { mcSamples: 2 }), 'ERR_BLASNET_DATA', undefined, `mcPredict: ${mention}`);
        throwsCode(() => m.evaluate(input, data.y.subarray(0, 4)), 'ERR_BLASNET_DATA', undefined, `evaluate: ${mention}`);
      }
      // Through a scaler: the raw row and column are named, before the scaler spreads a NaN.
      const scaled = model(b, 3, 'softmax').setPreprocessing(new Standardizer().fit(data.x));
      throwsCode(() => scaled.predict(new Matrix(x, 4, data.x.cols)), 'ERR_BLASNET_DATA', undefined, `predict: ${mention}`);
    }
    // A clean row beside them still predicts, and finite input is unchanged.
    assert.equal(m.predict(data.x).rows, data.x.rows);
  });

  it('fit (validationSplit, checks), fitAsync, lrFinder and checkModel refuse NaN and infinities, naming the 1-based row and column', async () => {
    const cols = data.x.cols, n = data.x.rows;
    for (const bad of [NaN, -Infinity]) {
      // Row n - 1: in the rows validationSplit 0.1 holds out.
      const x = data.x.data.slice();
      x[(n - 2) * cols + 1] = bad;
      const mention = `x holds ${bad} at index ${(n - 2) * cols + 1} (row ${n - 1}, column 2); clean or impute the data first`;
      throwsCode(() => model(b, 3, 'softmax').fit(x, data.y, { epochs: 1, validationSplit: 0.1 }), 'ERR_BLASNET_DATA', undefined, `fit: ${mention}`);
      throwsCode(() => model(b, 3, 'softmax').fit(x, data.y, { epochs: 1, checks: true }), 'ERR_BLASNET_DATA', undefined, `fit: ${mention}`);
      await rejectsCode(model(b, 3, 'softmax').fitAsync(x, data.y, { epochs: 1 }), 'ERR_BLASNET_DATA', `fitAsync: ${mention}`);
      throwsCode(() => lrFinder(model(b, 3, 'softmax'), x, data.y, { steps: 5 }), 'ERR_BLASNET_DATA', undefined, `lrFinder: ${mention}`);
      throwsCode(() => checkModel(model(b, 3, 'softmax'), x, data.y), 'ERR_BLASNET_DATA', undefined, `checkModel: ${mention}`);
      // Float targets too.
      const t = Float32Array.from(data.y);
      t[4] = bad;
      const target = `y holds ${bad} at index 4 (row 5, column 1)`;
      throwsCode(() => lrFinder(model(b, 1, 'identity', 'mse'), data.x, t, { steps: 5 }), 'ERR_BLASNET_DATA', undefined, `lrFinder: ${target}`);
      throwsCode(() => checkModel(model(b, 1, 'identity', 'mse'), data.x, t), 'ERR_BLASNET_DATA', undefined, `checkModel: ${target}`);
    }
  });

  it("a call refused before its first step or by a bad row leaves the optimiser's lr and momentum as it found them, in fit and fitAsync", async () => {
    const x = data.x.data.slice();
    x[x.length - 1] = NaN;
    const oneCycle = { name: 'oneCycle' as const, maxLr: 0.1, totalSteps: 100 };
    const cases: [string, FitOptions, Float32Array | Matrix, string][] = [
      ['a bad row', { epochs: 1, batchSize: 4, schedule: oneCycle, scheduleEvery: 'step' }, x, 'ERR_BLASNET_DATA'],
      ['onTrainBegin', { epochs: 2, schedule: { name: 'linear', startFactor: 0.1, totalIters: 2 }, callbacks: [earlyStopping()] }, data.x, 'ERR_BLASNET_ARG_RANGE'],
      ['a callback', { epochs: 1, batchSize: 4, schedule: oneCycle, scheduleEvery: 'step', callbacks: [{ onTrainBegin: () => { throw new BlasnetError('ERR_BLASNET_STATE' as never, 'no'); } }] }, data.x, 'ERR_BLASNET_STATE'],
    ];
    for (const [what, o, xs, code] of cases) {
      for (const run of ['fit', 'fitAsync'] as const) {
        const m = new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(8, { activation: 'tanh' }), dense(3)] })
          .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.01, momentum: 0.5 } });
        if (run === 'fit') throwsCode(() => m.fit(xs, data.y, o), code);
        else await rejectsCode(m.fitAsync(xs, data.y, o as never), code);
        assert.equal(m.optimizer?.lr, 0.01, `${what}, ${run}: lr`);
        assert.equal(m.optimizer?.momentum, 0.5, `${what}, ${run}: momentum`);
      }
    }
  });

  it('lossAndGradient and lossValue refuse labels under a loss of targets (and targets under one of labels) by name, before any pass', () => {
    const bn = () => new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(2), batchNorm(), dropout(0.3), dense(1)] });
    const x = new Matrix(data.x.data.subarray(0, 4 * 3), 4, 3);
    const labels = Int32Array.from([0, 1, 1, 0]);
    for (const loss of ['binaryCrossEntropy', 'mse', 'hinge', 'l1', 'huber'] as const) {
      const m = bn();
      m.setLoss(loss);
      m.train();
      const stats = m.buffers().map((v) => v.data.slice());
      const masks = m.maskState();
      throwsCode(() => m.lossAndGradient(x, labels), 'ERR_BLASNET_ARG_TYPE', TypeError, `lossAndGradient: ${loss} takes targets, not class labels`);
      throwsCode(() => m.lossValue(x, labels), 'ERR_BLASNET_ARG_TYPE', TypeError, `lossValue: ${loss} takes targets, not class labels`);
      assert.deepEqual(m.buffers().map((v) => v.data), stats, `${loss}: BatchNorm's statistics moved`);
      assert.deepEqual(m.maskState(), masks, `${loss}: the dropout stream moved`);
    }
    const mm = new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(3)] });
    mm.setLoss('multiMargin');
    throwsCode(() => mm.lossAndGradient(x, new Float32Array(12)), 'ERR_BLASNET_ARG_TYPE', TypeError, 'lossAndGradient: multiMargin takes class labels');
  });

  it('gaussianNll on an odd number of outputs is refused when the loss is set', () => {
    const layers = () => [dense(3)];
    throwsCode(() => new Sequential({ inputSize: 3, backend: b, layers: layers(), loss: 'gaussianNll' }), 'ERR_BLASNET_SHAPE', RangeError, 'gaussianNll reads each output row as means then variances, so it needs an even number of outputs, but the model has 3');
    const m = new Sequential({ inputSize: 3, backend: b, layers: layers() });
    throwsCode(() => m.setLoss('gaussianNll'), 'ERR_BLASNET_SHAPE', RangeError, 'even number of outputs');
    throwsCode(() => m.compile({ loss: 'gaussianNll', optimizer: 'adam' }), 'ERR_BLASNET_SHAPE', RangeError, 'even number of outputs');
    throwsCode(() => m.lossAndGradient(new Matrix(new Float32Array(6), 2, 3), new Float32Array(3), { loss: 'gaussianNll' } as never), 'ERR_BLASNET_SHAPE', RangeError, 'even number of outputs');
    assert.equal(m.lossSpec, null);
  });

  it('hinge targets other than -1 and +1 are refused before any step, in fit and fitAsync, naming the row', async () => {
    const t = Float32Array.from(data.y, (c) => (c % 2 ? 1 : -1));
    t[data.x.rows - 1] = 0;
    for (const run of ['fit', 'fitAsync'] as const) {
      const m = model(b, 1, 'identity', 'hinge');
      const before = m.params.slice();
      let steps = 0;
      const o = { epochs: 1, batchSize: 4, shuffle: false, callbacks: [{ onBatchEnd: () => { steps++; } }] };
      const mention = `${run}: the hinge target of row ${data.x.rows} is 0; hinge targets must be -1 or +1`;
      if (run === 'fit') throwsCode(() => m.fit(data.x, t, o), 'ERR_BLASNET_TARGET', RangeError, mention);
      else await rejectsCode(m.fitAsync(data.x, t, o), 'ERR_BLASNET_TARGET', mention);
      assert.equal(steps, 0, run);
      assert.deepEqual(m.params, before, run);
      assert.equal(m.optimizer?.stepCount, 0, run);
    }
  });

  it('binaryCrossEntropy and crossEntropy targets outside [0, 1] are refused before any step (their loss has no lower bound there)', async () => {
    const labels012 = Float32Array.from(data.y);
    const negative = Matrix.from(Array.from({ length: data.x.rows }, (_, r) => (r === 5 ? [-1, 1, 1] : [0, 1, 0])));
    for (const [out, loss, y, mention] of [
      [1, 'binaryCrossEntropy', labels012, 'the binaryCrossEntropy target of row 3 is 2; binaryCrossEntropy targets are probabilities in [0, 1]'],
      [3, 'crossEntropy', negative, 'the crossEntropy target of row 6, column 1 is -1; crossEntropy target rows are probabilities in [0, 1]'],
    ] as const) {
      for (const run of ['fit', 'fitAsync'] as const) {
        const m = model(b, out, 'identity', loss);
        const before = m.params.slice();
        if (run === 'fit') throwsCode(() => m.fit(data.x, y, { epochs: 1 }), 'ERR_BLASNET_TARGET', RangeError, `${run}: ${mention}`);
        else await rejectsCode(m.fitAsync(data.x, y, { epochs: 1 }), 'ERR_BLASNET_TARGET', `${run}: ${mention}`);
        assert.deepEqual(m.params, before);
        // lossAndGradient checks its batch, before any pass.
        throwsCode(() => m.lossAndGradient(data.x, y instanceof Matrix ? y.data : y), 'ERR_BLASNET_TARGET', RangeError, 'probabilities in [0, 1]');
      }
    }
    // Probabilities inside [0, 1] (soft labels) train.
    const soft = Float32Array.from(data.y, (c) => (c === 0 ? 0.1 : 0.9));
    assert.equal(model(b, 1, 'identity', 'binaryCrossEntropy').fit(data.x, soft, { epochs: 1 }).epochs.length, 1);
  });

  it('crossEntropy and multiMargin over one output (a loss of 0 whatever the weights) are refused when the loss is set or used, not when a model is built', () => {
    for (const loss of ['crossEntropy', 'multiMargin'] as const) {
      const m = new Sequential({ inputSize: 3, backend: b, layers: [dense(1, { activation: 'sigmoid' })], loss });
      throwsCode(() => m.compile({ loss, optimizer: 'adam' }), 'ERR_BLASNET_SHAPE', RangeError, `compile: ${loss} needs one output per class, 2 or more, but the model has 1`);
      throwsCode(() => m.setLoss(loss), 'ERR_BLASNET_SHAPE', RangeError, 'use one output with binaryCrossEntropy');
      throwsCode(() => m.lossValue(data.x, new Int32Array(data.x.rows)), 'ERR_BLASNET_SHAPE', RangeError, 'lossValue: ');
      // A file holding such a model with its compile settings (as earlier versions wrote it) still loads, and predicts.
      const file = path.join(tmp, `one-output-${loss}-${b.name}.blasnet`);
      saveModel(file, m, { compile: { optimizer: { name: 'adam', lr: 0.01 }, metrics: [] } as never });
      const loaded = loadModel(file, { backend: b }).model;
      assert.equal(loaded.lossSpec?.name, loss);
      assert.equal(loaded.optimizer?.name, 'adam');
      assert.deepEqual(loaded.predict(data.x).data, m.predict(data.x).data);
      throwsCode(() => loaded.fit(data.x, new Int32Array(data.x.rows), { epochs: 1 }), 'ERR_BLASNET_SHAPE', RangeError, `fit: ${loss} needs one output per class`);
    }
  });

  it('class labels in a Float32Array, one per row (readCsv\'s numeric label column), train as the same labels in an Int32Array; other lengths say where labels go', () => {
    const a = model(b), c = model(b);
    a.fit(data.x, data.y, { epochs: 2, shuffle: false });
    c.fit(data.x, Float32Array.from(data.y), { epochs: 2, shuffle: false });
    assert.deepEqual(c.params, a.params);
    assert.deepEqual(c.evaluate(data.x, Float32Array.from(data.y)), a.evaluate(data.x, data.y));
    throwsCode(() => model(b).fit(data.x, Float32Array.from(data.y).fill(0.5), { epochs: 1 }), 'ERR_BLASNET_LABEL', RangeError, 'the label of row 1 is 0.5, not an integer class');
    throwsCode(() => model(b).fit(data.x, new Float32Array(data.x.rows + 1), { epochs: 1 }), 'ERR_BLASNET_SHAPE', RangeError, 'class labels go in an Int32Array or number[], one per row');
    // multiMargin takes labels only: target rows are refused before any step, under its own name.
    const mm = model(b, 3, 'identity', 'multiMargin');
    throwsCode(() => mm.fit(data.x, Matrix.from(Array.from(data.y, (c2) => [c2 === 0 ? 1 : 0, c2 === 1 ? 1 : 0, c2 === 2 ? 1 : 0])), { epochs: 1 }),
      'ERR_BLASNET_ARG_TYPE', TypeError, 'fit: multiMargin takes class labels, one per row');
    assert.equal(mm.optimizer?.stepCount, 0);
  });

  it('a compile refused for its optimiser or metrics leaves the loss, optimiser and metrics as they were', () => {
    const m = model(b);
    for (const bad of [
      { loss: 'mse', optimizer: { name: 'adam', lr: -1 } },
      { loss: 'mse', optimizer: 'sgd' },
      { loss: 'mse', optimizer: 'adam', metrics: ['nope'] },
      { loss: 'mse', optimizer: 'adam', metrics: ['mse', 'mse'] },
    ]) {
      assert.throws(() => m.compile(bad as never), (e: { code?: string }) => typeof e.code === 'string' && e.code.startsWith('ERR_BLASNET_'));
      assert.equal(m.lossSpec?.name, 'crossEntropy', JSON.stringify(bad));
      assert.equal(m.optimizer?.name, 'adam');
      assert.deepEqual(m.metrics, ['accuracy']);
    }
    assert.equal(m.fit(data.x, data.y, { epochs: 1 }).epochs.length, 1);
  });

  it('row weights that are negative or not finite are refused before the training pass moves BatchNorm or the dropout stream', () => {
    const m = new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(8), batchNorm(), dropout(0.3), dense(3)] });
    m.setLoss('crossEntropy');
    const stats = m.buffers().map((v) => v.data.slice()), masks = m.maskState();
    for (const bad of [-1, NaN, Infinity]) {
      const w = new Float32Array(data.x.rows).fill(1);
      w[2] = bad;
      throwsCode(() => m.lossAndGradient(data.x, data.y, { weight: w }), 'ERR_BLASNET_ARG_RANGE', RangeError, `weight[2] is ${bad}`);
      throwsCode(() => m.lossValue(data.x, data.y, { weight: w, training: true }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'weight[2]');
    }
    assert.deepEqual(m.buffers().map((v) => v.data), stats);
    assert.deepEqual(m.maskState(), masks);
  });

  it('the common mistakes get messages that say what to do', () => {
    // Another typed array for x: named, with its conversion.
    throwsCode(() => model(b).predict(new Float64Array(data.x.data) as never), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'but received a Float64Array; convert it with Float32Array.from(x)');
    throwsCode(() => model(b).predict(new DataView(new ArrayBuffer(12)) as never), 'ERR_BLASNET_ARG_TYPE', TypeError, 'but received a DataView');
    // The kernel-level calls take labels as an Int32Array, and say so for a Float32Array of one per row.
    throwsCode(() => model(b).lossValue(data.x, Float32Array.from(data.y)), 'ERR_BLASNET_SHAPE', RangeError, 'class labels go in an Int32Array here');
    // A decimal comma in a record.
    const m = model(b);
    m.fit(data.records, 'kind', { epochs: 1 });
    throwsCode(() => m.predict([{ a: '1,5', b: 1, c: 2 }]), 'ERR_BLASNET_DATA', undefined, '"1,5" is not a number; write numbers with a decimal point and no thousands separators');
    // Labels numbered from 1; labels from 0 that need one more output are told no such thing.
    throwsCode(() => model(b).fit(data.x, Int32Array.from(data.y, (c) => c + 1), { epochs: 1 }), 'ERR_BLASNET_LABEL', RangeError,
      'outside [0, 3) (the model has 3 outputs); labels count from 0, so 3 classes are 0 to 2');
    const fourClasses = Int32Array.from(data.y, (c, i) => (i === 7 ? 3 : c));
    const e = (() => {
      try {
        model(b).fit(data.x, fourClasses, { epochs: 1 });
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    assert.ok(e && /is 3, outside \[0, 3\) \(the model has 3 outputs\)$/.test(e.message), e?.message);
    // Records on a model without columns.
    throwsCode(() => model(b).predict(data.records), 'ERR_BLASNET_STATE', undefined, 'or pass preprocessor.transform(records)');
    // A file of several models read as one.
    const several = path.join(tmp, `several-${b.name}.blasnet`);
    saveModels(several, [model(b), model(b)]);
    throwsCode(() => loadModel(several), 'ERR_BLASNET_FORMAT', undefined, 'a blasnet file of several models (saveModels), not of one; read it with loadModels or Ensemble.load');
    // A checkpoint resumed on a model of another parameter count.
    const ckFile = path.join(tmp, `ck-${b.name}.blasnet`);
    model(b).fit(data.x, data.y, { epochs: 1, callbacks: [modelCheckpoint(ckFile)] });
    const wide = new Sequential({ inputSize: 3, seed: 4, backend: b, layers: [dense(16, { activation: 'tanh' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
    throwsCode(() => wide.fit(data.x, data.y, { epochs: 2, resume: loadModel(ckFile) }), 'ERR_BLASNET_STATE', undefined,
      "the checkpoint's model has 59 parameters and this one 115");
  });

  it('loadModel restores loss, optimiser state and metrics: the loaded model evaluates and trains on as the original', () => {
    const m = model(b);
    m.fit(data.x, data.y, { epochs: 2, batchSize: 16 });
    const file = path.join(tmp, `compiled-${b.name}.blasnet`);
    saveModel(file, m);
    const loaded = loadModel(file, { backend: b }).model;
    assert.deepEqual(loaded.evaluate(data.x, data.y), m.evaluate(data.x, data.y));
    assert.equal(loaded.optimizer?.stepCount, m.optimizer?.stepCount);
    m.fit(data.x, data.y, { epochs: 1, batchSize: 16 });
    loaded.fit(data.x, data.y, { epochs: 1, batchSize: 16 });
    assert.deepEqual(loaded.params, m.params);
    saveModel(file, m, { optimizer: null });
    assert.equal(loadModel(file, { backend: b }).model.optimizer?.stepCount, 0);
  });

  it('the history CSV numbers epochs from 1, as the console does', () => {
    const csv = path.join(tmp, `history-${b.name}.csv`);
    model(b).fit(data.x, data.y, { epochs: 3, batchSize: 30, callbacks: [csvLogger(csv)] });
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    assert.deepEqual(rows, ['1', '2', '3']);
  });
});
