/**
 * Row weights in every loss (lossWeighted on each backend against a float64 reference built from
 * one-row unweighted losses, gradients by central finite differences), and sampleWeight /
 * classWeight in fit and fitAsync.
 */
import { strict as assert } from 'assert';
import { backends, forEachBackend, normError, throwsCode } from './helpers';
import { classWeights, Dataset, dense, LOSS_NAMES, LOSSES, lossId, Matrix, Rng, Sequential } from '../lib';
import type { Backend, LossName } from '../lib';

interface Case {
  name: LossName;
  rows: number;
  cols: number;
  param: number;
  pred: Float64Array;
  target: Float64Array | Int32Array;
  weight: Float64Array;
}

/** Random inputs for a loss, kept away from its kinks, with weights in [0, 3) (one of them 0). */
function makeCase(name: LossName, rng: Rng, labels = false): Case {
  const rows = 7;
  const cols = name === 'gaussianNll' ? 6 : 4;
  const def = LOSSES[name];
  const pred = Float64Array.from({ length: rows * cols }, () => Math.fround(rng.range(-2, 2)));
  let target: Float64Array | Int32Array;
  if ((def.targets.labels && !def.targets.dense) || labels) {
    target = Int32Array.from({ length: rows }, () => rng.int(cols));
  } else if (def.targets.half) {
    target = Float64Array.from({ length: rows * (cols / 2) }, () => Math.fround(rng.range(-1, 1)));
    for (let r = 0; r < rows; r++) for (let j = cols / 2; j < cols; j++) pred[r * cols + j] = Math.fround(rng.range(0.3, 2));
  } else if (name === 'hinge') {
    target = Float64Array.from({ length: rows * cols }, () => (rng.uniform() < 0.5 ? -1 : 1));
  } else if (name === 'crossEntropy') {
    target = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) target[r * cols + j] = Math.fround(rng.uniform() / cols);
  } else {
    target = Float64Array.from({ length: rows * cols }, () => Math.fround(rng.uniform()));
  }
  const weight = Float64Array.from({ length: rows }, () => Math.fround(rng.range(0, 3)));
  weight[2] = 0;
  return { name, rows, cols, param: def.param, pred, target, weight };
}

/** Row r of a case's target. */
function targetRow(c: Case, r: number): Float64Array | Int32Array {
  if (c.target instanceof Int32Array) return c.target.subarray(r, r + 1);
  const w = c.target.length / c.rows;
  return c.target.subarray(r * w, (r + 1) * w);
}

/**
 * The documented semantics, in float64, from the unweighted one-row losses: every loss's mean is
 * (1/rows) sum_r (its value on row r alone), so the weighted loss is (1/rows) sum_r w_r l_r and
 * its gradient on row r is w_r / rows times row r's own gradient.
 */
function reference(c: Case): { value: number; grad: Float64Array } {
  const def = LOSSES[c.name];
  const grad = new Float64Array(c.rows * c.cols);
  let value = 0;
  for (let r = 0; r < c.rows; r++) {
    const g = grad.subarray(r * c.cols, (r + 1) * c.cols);
    value += c.weight[r] * def.compute(c.param, 1, c.cols, c.pred.subarray(r * c.cols, (r + 1) * c.cols), targetRow(c, r), g);
    for (let j = 0; j < c.cols; j++) g[j] *= c.weight[r] / c.rows;
  }
  return { value: value / c.rows, grad };
}

const CASES: [LossName, boolean][] = LOSS_NAMES.flatMap((n) => (n === 'crossEntropy' ? [[n, false], [n, true]] : [[n, false]]) as [LossName, boolean][]);
const title = (n: LossName, labels: boolean) => `${n}${labels ? ' (labels)' : ''}`;

describe('weighted losses: float64 semantics and gradients', () => {
  for (const [name, labels] of CASES) {
    it(`${title(name, labels)}: the table's weighted loss is the weighted mean of one-row losses, and its gradient is the finite difference`, () => {
      const rng = new Rng(300 + lossId(name));
      for (let trial = 0; trial < 3; trial++) {
        const c = makeCase(name, rng, labels);
        const def = LOSSES[name];
        const grad = new Float64Array(c.rows * c.cols);
        const value = def.compute(c.param, c.rows, c.cols, c.pred, c.target, grad, c.weight);
        const ref = reference(c);
        assert.ok(Math.abs(value - ref.value) <= 1e-12 * (1 + Math.abs(ref.value)), `${value} vs ${ref.value}`);
        assert.ok(normError(grad, ref.grad) < 1e-12);
        const h = 1e-6;
        for (let i = 0; i < c.pred.length; i++) {
          const keep = c.pred[i];
          c.pred[i] = keep + h;
          const up = def.compute(c.param, c.rows, c.cols, c.pred, c.target, null, c.weight);
          c.pred[i] = keep - h;
          const down = def.compute(c.param, c.rows, c.cols, c.pred, c.target, null, c.weight);
          c.pred[i] = keep;
          const numeric = (up - down) / (2 * h);
          assert.ok(Math.abs(numeric - grad[i]) <= 1e-8 + 1e-6 * Math.abs(grad[i]), `d/dpred[${i}] = ${grad[i]}, finite difference ${numeric}`);
        }
      }
    });
  }
});

function f32Args(c: Case): { pred: Float32Array; target: Float32Array | Int32Array; weight: Float32Array } {
  return {
    pred: Float32Array.from(c.pred),
    target: c.target instanceof Int32Array ? c.target : Float32Array.from(c.target),
    weight: Float32Array.from(c.weight),
  };
}

forEachBackend('lossWeighted', (b) => {
  for (const [name, labels] of CASES) {
    it(`${title(name, labels)}: matches the float64 reference; all-ones weights give loss() exactly`, () => {
      const c = makeCase(name, new Rng(400 + lossId(name)), labels);
      const { pred, target, weight } = f32Args(c);
      const id = lossId(name);
      const grad = new Float32Array(c.rows * c.cols);
      const value = b.lossWeighted(id, c.param, c.rows, c.cols, pred, target, weight, grad);
      const ref = reference(c);
      assert.ok(Math.abs(value - ref.value) <= 1e-6 * (1 + Math.abs(ref.value)), `${value} vs ${ref.value}`);
      assert.ok(normError(grad, ref.grad) < 1e-5, `gradient error ${normError(grad, ref.grad)}`);
      assert.equal(b.lossWeighted(id, c.param, c.rows, c.cols, pred, target, weight, null), value);

      const ones = new Float32Array(c.rows).fill(1);
      const g1 = new Float32Array(c.rows * c.cols), g0 = new Float32Array(c.rows * c.cols);
      assert.equal(b.lossWeighted(id, c.param, c.rows, c.cols, pred, target, ones, g1), b.loss(id, c.param, c.rows, c.cols, pred, target, g0));
      assert.deepEqual(g1, g0);
    });
  }

  it('bad weights are coded errors before any output is written', () => {
    const c = makeCase('mse', new Rng(9));
    const { pred, target } = f32Args(c);
    for (const [v, at] of [[-1, 3], [NaN, 0], [Infinity, 6]] as const) {
      const weight = new Float32Array(c.rows).fill(1);
      weight[at] = v;
      const grad = new Float32Array(c.rows * c.cols).fill(7);
      throwsCode(() => b.lossWeighted(lossId('mse'), 0, c.rows, c.cols, pred, target, weight, grad), 'ERR_BLASNET_ARG_RANGE', RangeError,
        `lossWeighted: Expected finite non-negative values in weight but weight[${at}] is ${v}`);
      assert.ok(grad.every((g) => g === 7));
    }
    throwsCode(() => b.lossWeighted(lossId('mse'), 0, c.rows, c.cols, pred, target, new Float32Array(c.rows - 1), null), 'ERR_BLASNET_ARG_LENGTH', RangeError);
    throwsCode(() => b.lossWeighted(lossId('mse'), 0, c.rows, c.cols, pred, target, null as never, null), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
});

describe('lossWeighted: backends agree', () => {
  const list = backends();
  (list.length > 1 ? it : it.skip)('native and js within a normalised error of 1e-5 on every loss', () => {
    const [js, native] = list;
    for (const [name, labels] of CASES) {
      const c = makeCase(name, new Rng(500 + lossId(name)), labels);
      const { pred, target, weight } = f32Args(c);
      const gj = new Float32Array(c.rows * c.cols), gn = new Float32Array(c.rows * c.cols);
      const vj = js.lossWeighted(lossId(name), c.param, c.rows, c.cols, pred, target, weight, gj);
      const vn = native.lossWeighted(lossId(name), c.param, c.rows, c.cols, pred, target, weight, gn);
      assert.ok(normError([vn], [vj]) < 1e-5, `${name}: ${vn} vs ${vj}`);
      assert.ok(normError(gn, gj) < 1e-5, `${name}: gradient error ${normError(gn, gj)}`);
    }
  });
});

describe('classWeights', () => {
  it("'balanced' is n_samples / (n_classes * count), over the classes present", () => {
    // 6 rows: class 0 three times, class 1 twice, class 3 once; class 2 absent (n_classes = 3).
    const w = classWeights('balanced', new Int32Array([0, 1, 0, 3, 1, 0]), 4);
    assert.deepEqual(Array.from(w), [6 / 9, 6 / 6, 1, 6 / 3]);
  });
  it('a map sets the named classes; the others keep 1; bad keys and values are coded errors', () => {
    assert.deepEqual(Array.from(classWeights({ 1: 5, 2: 0 }, new Int32Array([0, 1, 2]), 3)), [1, 5, 0]);
    throwsCode(() => classWeights({ 3: 1 }, new Int32Array([0]), 3), 'ERR_BLASNET_LABEL', RangeError);
    throwsCode(() => classWeights({ 1: -2 }, new Int32Array([0]), 3), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => classWeights({ 1: NaN }, new Int32Array([0]), 3), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => classWeights('auto' as never, new Int32Array([0]), 3), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
  it('labels outside the classes, a class count that is not one, and classes that are not an Int32Array are coded errors', () => {
    throwsCode(() => classWeights('balanced', new Int32Array([0, 0, 1, 2]), 2), 'ERR_BLASNET_LABEL', RangeError, 'the label of row 4 is 2, outside [0, 2)');
    throwsCode(() => classWeights('balanced', new Int32Array([0, -1]), 2), 'ERR_BLASNET_LABEL', RangeError, 'row 2 is -1');
    for (const count of [-1, 1.5, NaN, 0, 2 ** 30]) throwsCode(() => classWeights('balanced', new Int32Array([0]), count), 'ERR_BLASNET_ARG_RANGE', RangeError, 'class count');
    throwsCode(() => classWeights('balanced', null as never, 2), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Int32Array');
    throwsCode(() => classWeights('balanced', ['a', 'b'] as never, 2), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Int32Array');
  });
});

/** An imbalanced three-class table: 5 rows of class 0 for each of class 1 and 2. */
function imbalanced(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 7 < 5 ? 0 : i % 7 === 5 ? 1 : 2;
    x[i * 2] = rng.normal() + y[i];
    x[i * 2 + 1] = rng.normal() - y[i];
  }
  return { x, y };
}

function net(b: Backend): Sequential {
  return new Sequential({ inputSize: 2, seed: 8, backend: b, layers: [dense(6, { activation: 'tanh' }), dense(3)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
}

forEachBackend('sampleWeight and classWeight in fit', (b) => {
  const data = imbalanced(70, 3);

  it('one full-batch step with sampleWeight is one SGD step on the weighted loss', () => {
    const sw = Float32Array.from({ length: 70 }, (_, i) => (i % 3) * 0.5);
    const fitted = net(b), manual = net(b);
    fitted.fit(data.x, data.y, { epochs: 1, batchSize: 70, shuffle: false, sampleWeight: sw });
    manual.lossAndGradient(data.x, data.y, { weight: sw });
    manual.optimizer?.step();
    assert.deepEqual(fitted.params, manual.params);
    const plain = net(b);
    plain.fit(data.x, data.y, { epochs: 1, batchSize: 70, shuffle: false });
    assert.notDeepEqual(plain.params, fitted.params);
  });

  it("classWeight 'balanced' multiplies into sampleWeight; ones change nothing", () => {
    const sw = Float32Array.from({ length: 70 }, (_, i) => 1 + (i % 2));
    const counts = [50, 10, 10];
    const expected = Float32Array.from({ length: 70 }, (_, i) => sw[i] * (70 / (3 * counts[data.y[i]])));
    const a = net(b), e = net(b);
    a.fit(data.x, data.y, { epochs: 2, batchSize: 16, sampleWeight: sw, classWeight: 'balanced' });
    e.fit(data.x, data.y, { epochs: 2, batchSize: 16, sampleWeight: expected });
    assert.deepEqual(a.params, e.params);
    const ones = net(b), none = net(b);
    ones.fit(data.x, data.y, { epochs: 2, batchSize: 16, sampleWeight: new Float32Array(70).fill(1), classWeight: { 0: 1 } });
    none.fit(data.x, data.y, { epochs: 2, batchSize: 16 });
    assert.deepEqual(ones.params, none.params);
  });

  it('balanced class weights raise the recall of the rare classes', () => {
    const recall = (m: Sequential) => {
      const c = m.predictClasses(data.x);
      let hit = 0, n = 0;
      for (let i = 0; i < 70; i++) if (data.y[i] !== 0) { n++; if (c[i] === data.y[i]) hit++; }
      return hit / n;
    };
    const plain = net(b), weighted = net(b);
    plain.fit(data.x, data.y, { epochs: 15, batchSize: 10 });
    weighted.fit(data.x, data.y, { epochs: 15, batchSize: 10, classWeight: 'balanced' });
    assert.ok(recall(weighted) > recall(plain), `rare-class recall ${recall(weighted)} vs ${recall(plain)}`);
  });

  it('evaluate with sampleWeight is sum_i w_i l_i / n; without, the plain mean', () => {
    const m = net(b);
    m.fit(data.x, data.y, { epochs: 2, batchSize: 16 });
    const sw = Float32Array.from({ length: 70 }, (_, i) => (i % 5) / 2);
    let weighted = 0, plain = 0;
    for (let i = 0; i < 70; i++) {
      const l = m.lossValue(data.x.subarray(i * 2, i * 2 + 2), data.y.subarray(i, i + 1));
      weighted += sw[i] * l;
      plain += l;
    }
    assert.ok(Math.abs(m.evaluate(data.x, data.y, { sampleWeight: sw, batchSize: 16 }).loss - weighted / 70) < 1e-6);
    assert.ok(Math.abs(m.evaluate(data.x, data.y, { batchSize: 16 }).loss - plain / 70) < 1e-6);
    throwsCode(() => m.evaluate(data.x, data.y, { sampleWeight: new Float32Array(3) }), 'ERR_BLASNET_SHAPE', RangeError);
  });

  it('fitAsync trains with the same weights as fit', async () => {
    const a = net(b), s = net(b);
    s.fit(data.x, data.y, { epochs: 2, batchSize: 16, classWeight: 'balanced', validationSplit: 0.2 });
    await a.fitAsync(data.x, data.y, { epochs: 2, batchSize: 16, classWeight: 'balanced', validationSplit: 0.2 });
    assert.deepEqual(a.params, s.params);
  });

  it("'balanced' counts the classes of the training rows only, not of validationSplit's", async () => {
    // Sorted labels, as a sorted export gives them: the held-out rows are all of class 2.
    const order = Array.from({ length: 70 }, (_, i) => i).sort((i, j) => data.y[i] - data.y[j]);
    const x = new Float32Array(140), y = new Int32Array(70);
    order.forEach((from, i) => { x.set(data.x.subarray(from * 2, from * 2 + 2), i * 2); y[i] = data.y[from]; });
    const sw = Float32Array.from({ length: 70 }, (_, i) => 1 + (i % 3));
    const options = { epochs: 2, batchSize: 16, classWeight: 'balanced' as const };
    const alone = net(b), weighted = net(b);
    alone.fit(x.subarray(0, 112), y.subarray(0, 56), options);
    weighted.fit(x.subarray(0, 112), y.subarray(0, 56), { ...options, sampleWeight: sw.subarray(0, 56) });
    const split = { ...options, validationSplit: 0.2 };
    const runs: [string, Sequential, Sequential, () => unknown][] = [];
    const add = (what: string, expected: Sequential, run: (m: Sequential) => unknown) => {
      const m = net(b);
      runs.push([what, m, expected, () => run(m)]);
    };
    add('fit', alone, (m) => m.fit(x, y, split));
    add('fit with sampleWeight', weighted, (m) => m.fit(x, y, { ...split, sampleWeight: sw }));
    add('fit on a Dataset', weighted, (m) => m.fit(Dataset.from(new Matrix(x, 70, 2), y, { sampleWeight: sw }), split));
    add('fitAsync', alone, (m) => m.fitAsync(x, y, split));
    add('fitAsync on a Dataset', weighted, (m) => m.fitAsync(Dataset.from(new Matrix(x, 70, 2), y, { sampleWeight: sw }), split));
    for (const [what, m, expected, run] of runs) {
      await run();
      assert.deepEqual(m.params, expected.params, what);
    }
    // Counted over all 70 rows the weights differ, and so would the weights trained.
    assert.notDeepEqual(Array.from(classWeights('balanced', y, 3)), Array.from(classWeights('balanced', y.subarray(0, 56), 3)));
  });

  it("validationSplit weights the validation loss by the held-out rows' sampleWeight, as evaluate does; classWeight and metrics leave it alone", async () => {
    const make = () => new Sequential({ inputSize: 2, seed: 8, backend: b, layers: [dense(6, { activation: 'tanh' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 }, metrics: ['accuracy'] });
    const sw = Float32Array.from({ length: 70 }, (_, i) => (i % 5 === 0 ? 4 : i % 3));
    // The last 14 rows (0.2 of 70) are held out.
    const held = { x: data.x.subarray(56 * 2), y: data.y.subarray(56), w: sw.subarray(56) };
    const split = { epochs: 2, batchSize: 16, validationSplit: 0.2 };
    const runs: [string, (m: Sequential) => unknown, Float32Array | null][] = [
      ['fit', (m) => m.fit(data.x, data.y, { ...split, sampleWeight: sw }), held.w],
      ['fit with classWeight', (m) => m.fit(data.x, data.y, { ...split, sampleWeight: sw, classWeight: 'balanced' }), held.w],
      ['fit with classWeight alone', (m) => m.fit(data.x, data.y, { ...split, classWeight: { 2: 3 } }), null],
      ['fit on a Dataset', (m) => m.fit(Dataset.from(new Matrix(data.x, 70, 2), data.y, { sampleWeight: sw }), split), held.w],
      ['fit on records', (m) => m.fit(Array.from({ length: 70 }, (_, i) => ({ u: data.x[i * 2], v: data.x[i * 2 + 1], label: data.y[i], w: sw[i] })), 'label',
        { ...split, sampleWeight: 'w' }), held.w],
      ['fitAsync', (m) => m.fitAsync(data.x, data.y, { ...split, sampleWeight: sw }), held.w],
      ['fitAsync with classWeight', (m) => m.fitAsync(data.x, data.y, { ...split, sampleWeight: sw, classWeight: 'balanced' }), held.w],
      ['fitAsync on a Dataset', (m) => m.fitAsync(Dataset.from(new Matrix(data.x, 70, 2), data.y, { sampleWeight: sw }), split), held.w],
    ];
    for (const [what, run, w] of runs) {
      const m = make();
      const h = await run(m) as { epochs: { valLoss: number; valAccuracy: number }[] };
      const last = h.epochs[h.epochs.length - 1];
      const plain = m.evaluate(held.x, held.y);
      const weighted = w ? m.evaluate(held.x, held.y, { sampleWeight: w }) : plain;
      assert.equal(last.valLoss, weighted.loss, what);
      if (w) assert.notEqual(weighted.loss, plain.loss, what);
      assert.equal(last.valAccuracy, plain.accuracy, `${what}: accuracy unweighted`);
    }
  });

  it('records take the weight column by key', () => {
    const records = Array.from({ length: 70 }, (_, i) => ({ u: data.x[i * 2], v: data.x[i * 2 + 1], label: data.y[i], w: i % 4 }));
    const r = net(b), m = net(b);
    r.fit(records, 'label', { epochs: 1, batchSize: 16, sampleWeight: 'w' });
    m.fit(data.x, data.y, { epochs: 1, batchSize: 16, sampleWeight: records.map((x) => x.w) });
    assert.deepEqual(r.params, m.params);
  });

  it('bad weights are coded errors before any work, naming the row', () => {
    const m = net(b);
    const before = m.params.slice();
    const sw = new Float32Array(70).fill(1);
    sw[4] = -1;
    throwsCode(() => m.fit(data.x, data.y, { sampleWeight: sw }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the sampleWeight of row 5 is -1');
    sw[4] = NaN;
    throwsCode(() => m.fit(data.x, data.y, { sampleWeight: sw }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'row 5 is NaN');
    throwsCode(() => m.fit(data.x, data.y, { sampleWeight: new Float32Array(69) }), 'ERR_BLASNET_SHAPE', RangeError, 'sampleWeight has 69 values but x has 70 rows');
    throwsCode(() => m.fit(data.x, data.y, { classWeight: { 5: 2 } }), 'ERR_BLASNET_LABEL', RangeError);
    throwsCode(() => m.fit(data.x, data.y, { sampleWeight: 'w' }), 'ERR_BLASNET_ARG_TYPE', TypeError);
    const mse = new Sequential({ inputSize: 2, backend: b, layers: [dense(1)] }).compile({ loss: 'mse', optimizer: 'adam' });
    throwsCode(() => mse.fit(data.x, new Float32Array(70).fill(0.5), { classWeight: 'balanced' }), 'ERR_BLASNET_TARGET', RangeError, 'row 1 is 0.5');
    assert.deepEqual(m.params, before);
    return assert.rejects(m.fitAsync(data.x, data.y, { sampleWeight: new Float32Array(3) }), { code: 'ERR_BLASNET_SHAPE' });
  });
});
