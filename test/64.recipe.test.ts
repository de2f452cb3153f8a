/**
 * The training recipe (lib/recipe): checkModel's initial-loss, gradient, overfitting and unit
 * checks on seeded synthetic data, with a broken CustomLoss and a broken custom layer that the
 * gradient check must catch; lrFinder's ramp, suggestions, divergence stop and errors; both leave
 * the model and its optimiser exactly as they were; fit({ checks: true }). Run on every backend.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  activation, batchNorm, checkModel, dense, ErrorCode, expectedInitialLoss, Layer, lrFinder, Matrix, PCA, Rng, Sequential, Standardizer, writeLrFinderPlot,
} from '../lib';
import type { Backend, CustomLoss, LayerConfig, LrFinderResult, ParamSpec, PassContext } from '../lib';
import { forEachBackend, stdoutDuring, throwsCode } from './helpers';

/** Gaussian blobs: `classes` well-separated clusters in `dims` dimensions. */
function blobs(n: number, dims: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dims }, () => rng.normal()));
  const x = new Float32Array(n * dims), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < dims; j++) x[i * dims + j] = centres[c][j] + 0.5 * rng.normal();
  }
  return { x, y };
}

/** x's columns moved and stretched far from unit scale (column j: 10^(j - 2) x + 100 j), as raw rows a scaler is for. */
function unscaled(x: Float32Array, dims: number): Matrix {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const j = i % dims;
    out[i] = 10 ** (j - 2) * x[i] + 100 * j;
  }
  return new Matrix(out, x.length / dims, dims);
}

/** Softmax cross-entropy whose gradient is off by a factor of 1.5: what the check must catch. */
const wrongLoss: CustomLoss = {
  name: 'wrongCrossEntropy',
  compute(rows, cols, pred, target, grad) {
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      let m = -Infinity;
      for (let j = 0; j < cols; j++) m = Math.max(m, pred[r * cols + j]);
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(pred[r * cols + j] - m);
      const lse = m + Math.log(s);
      const y = target[r];
      sum += lse - pred[r * cols + y];
      if (grad) {
        for (let j = 0; j < cols; j++) grad[r * cols + j] = (1.5 * (Math.exp(pred[r * cols + j] - lse) - (j === y ? 1 : 0))) / rows;
      }
    }
    return sum / rows;
  },
};

/** y = x * scale per unit, with a backward pass that forgets the x factor for scale's gradient. */
class BrokenScale extends Layer {
  readonly kind = 'brokenScale';
  private out = new Float32Array(0);
  private dx = new Float32Array(0);
  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    return [{ name: 'scale', shape: [inSize], init: { name: 'constant', value: 1.2 } as never, penalized: false }];
  }
  protected allocate(rows: number): void {
    this.out = new Float32Array(rows * this.outSize);
    this.dx = new Float32Array(rows * this.inSize);
  }
  forward(_ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    const s = this.params[0], n = this.inSize;
    for (let r = 0; r < batch; r++) for (let j = 0; j < n; j++) this.out[r * n + j] = x[r * n + j] * s[j];
    return this.out;
  }
  backward(_ctx: PassContext, batch: number, _x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    const s = this.params[0], g = this.grads[0], n = this.inSize;
    g.fill(0);
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < n; j++) {
        g[j] += dy[r * n + j]; // should be dy * x
        this.dx[r * n + j] = dy[r * n + j] * s[j];
      }
    }
    return needDx ? this.dx : null;
  }
  config(): LayerConfig {
    return { kind: this.kind };
  }
}

function snapshot(model: Sequential) {
  return {
    params: model.params.slice(), grads: model.grads.slice(), buffers: model.buffers().map((b) => b.data.slice()),
    mask: model.maskState(), training: model.training, optimizer: JSON.stringify(model.optimizer?.state() ?? null),
  };
}

function assertUntouched(model: Sequential, before: ReturnType<typeof snapshot>): void {
  assert.deepEqual(model.params, before.params, 'parameters restored bit for bit');
  assert.deepEqual(model.grads, before.grads, 'gradients restored');
  model.buffers().forEach((b, i) => assert.deepEqual(b.data, before.buffers[i], `buffer ${b.name}`));
  assert.deepEqual(model.maskState(), before.mask, 'dropout stream');
  assert.equal(model.training, before.training);
  assert.equal(JSON.stringify(model.optimizer?.state() ?? null), before.optimizer, 'optimiser state');
}

describe('expectedInitialLoss', () => {
  it('ln C for crossEntropy, ln 2 for binaryCrossEntropy, mean(y^2) for mse, none otherwise', () => {
    assert.equal(expectedInitialLoss('crossEntropy', 10, new Int32Array(1)).expected, Math.log(10));
    assert.equal(expectedInitialLoss('binaryCrossEntropy', 3, new Float32Array(3)).expected, Math.LN2);
    assert.equal(expectedInitialLoss('mse', 2, Float32Array.from([1, 3, -1, 1])).expected, 3);
    assert.equal(expectedInitialLoss('huber', 2, new Float32Array(2)).expected, null);
  });
});

forEachBackend('checkModel', (b: Backend) => {
  const { x, y } = blobs(200, 6, 4, 1);
  const make = (seed = 2, extra: Layer[] = []) => new Sequential({
    inputSize: 6, seed, backend: b, layers: [dense(16, { activation: 'tanh' }), ...extra, dense(8, { activation: 'relu' }), dense(4)],
  });

  it('passes a sound model: initial loss near ln 4, small gradient errors, overfits 20 rows, and leaves model and optimiser untouched', () => {
    const fresh = make();
    fresh.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
    fresh.train();
    const before = snapshot(fresh);
    const r = checkModel(fresh, x, y, { tolerance: 0.3 });
    assertUntouched(fresh, before);
    assert.equal(r.initialLoss.expected, Math.log(4));
    assert.ok(r.initialLoss.ok, r.text);
    assert.ok(r.gradient && r.gradient.ok && r.gradient.worst < 1e-2, r.text);
    assert.equal(r.gradient?.tensors.length, 6);
    assert.ok(r.overfit && r.overfit.ok && r.overfit.accuracy === 1 && r.overfit.steps > 0 && r.overfit.steps <= 300, r.text);
    assert.equal(r.units.length, 2);
    assert.ok(r.ok, r.text);
    assert.match(r.text, /all checks passed/);
    // Same seed, same report.
    assert.deepEqual(checkModel(fresh, x, y, { tolerance: 0.3 }).gradient, r.gradient);
  });

  it('flags an initial loss far from chance level (a large output scale), without throwing', () => {
    const model = new Sequential({ inputSize: 6, seed: 3, backend: b, layers: [dense(16, { activation: 'tanh' }), dense(4, { init: { name: 'normal', std: 5 } as never })] });
    model.setLoss('crossEntropy');
    const r = checkModel(model, x, y, { gradient: false, overfit: false });
    assert.equal(r.initialLoss.ok, false);
    assert.ok(r.findings.some((f) => /chance-level/.test(f)), r.text);
    assert.equal(r.ok, false);
  });

  it('catches a CustomLoss whose gradient is wrong', () => {
    const model = make();
    model.setLoss(wrongLoss);
    const r = checkModel(model, x, y, { overfit: false });
    assert.ok(r.gradient && !r.gradient.ok, r.text);
    assert.ok(r.gradient.tensors.every((t) => t.worstRelativeError > 0.1), r.text);
    assert.equal(r.initialLoss.expected, null, 'a custom loss has no chance level');
  });

  it('catches a custom layer whose parameter gradient is wrong, and only there', () => {
    const model = make(2, [new BrokenScale()]);
    model.setLoss('crossEntropy');
    const r = checkModel(model, x, y, { overfit: false });
    const bad = r.gradient?.tensors.filter((t) => !t.ok).map((t) => t.name);
    assert.deepEqual(bad, ['1.scale'], r.text);
  });

  it('checks the layers under a head of zero weights: the broken gradient shows, and the zeros are back after', () => {
    // A zero head (a table network's) passes no gradient down: without values of its own for the
    // check, every gradient below it would be 0 on both sides and the broken one would pass.
    const model = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(16, { activation: 'tanh' }), new BrokenScale(), dense(4, { init: 'zeros' })] });
    model.setLoss('crossEntropy');
    const r = checkModel(model, x, y, { overfit: false });
    assert.deepEqual(r.gradient?.tensors.filter((t) => !t.ok).map((t) => t.name), ['1.scale'], r.text);
    assert.ok(model.parameters()[3].data.every((v) => v === 0), 'the head is zero again');
  });

  it('passes a correct dense, batchNorm, relu model: a gradient that is 0 (the bias before batchNorm) is not an error of rounding', () => {
    for (let seed = 0; seed < 10; seed++) {
      const model = new Sequential({ inputSize: 6, seed, backend: b, layers: [dense(8), batchNorm(), activation('relu'), dense(4)] });
      model.setLoss('crossEntropy');
      const r = checkModel(model, x, y, { overfit: false, seed });
      assert.ok(r.gradient?.ok, `seed ${seed}: ${r.text}`);
    }
  });

  it("overfits with the lr the optimiser was compiled with, not the one a schedule left, and scores a sigmoid head's binaryCrossEntropy by accuracy", () => {
    const model = make();
    model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
    model.fit(x, y, { epochs: 2, batchSize: 50, schedule: { name: 'cosineAnnealing', tMax: 2 } });
    assert.equal(model.optimizer?.lr, 0);
    const r = checkModel(model, x, y, { gradient: false });
    assert.ok(r.overfit?.ok, r.text);
    // One sigmoid output under binaryCrossEntropy: 100% accuracy on the 20 rows is overfitting.
    const binary = new Sequential({ inputSize: 6, seed: 3, backend: b, layers: [dense(16, { activation: 'tanh' }), dense(1, { activation: 'sigmoid' })] })
      .compile({ loss: 'binaryCrossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
    const t = new Float32Array(y.length).map((_, i) => (y[i] % 2));
    const rb = checkModel(binary, x, t, { gradient: false });
    assert.ok(rb.overfit?.ok && rb.overfit.accuracy === 1, rb.text);
  });

  it('class labels under a loss that takes targets, and one row under batchNorm, are refused by name, as fit refuses them', () => {
    const m = make();
    m.setLoss('mse');
    throwsCode(() => checkModel(m, x, y), ErrorCode.ARG_TYPE, TypeError, 'checkModel: mse takes targets, not class labels');
    throwsCode(() => lrFinder(m, x, y), ErrorCode.ARG_TYPE, TypeError, 'lrFinder: mse takes targets, not class labels');
    const bn = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(8), batchNorm(), dense(4)] });
    bn.setLoss('crossEntropy');
    throwsCode(() => checkModel(bn, x.subarray(0, 6), y.subarray(0, 1)), ErrorCode.SHAPE, RangeError, 'needs at least 2 rows');
  });

  it('reads y as fit reads it: a Matrix view, rows of numbers; a wrong row count and a fractional label refused as fit refuses them', () => {
    const m = make();
    m.setLoss('mse');
    const rows = 20;
    const xs = x.subarray(0, rows * 6);
    const flat = new Rng(3).uniformArray(rows * 4);
    // A Matrix whose data runs past rows x cols (a view of a larger buffer) and rows of numbers.
    const view = new Matrix(Float32Array.from([...flat, 9, 9, 9, 9]), rows, 4);
    const nested = Array.from({ length: rows }, (_, i) => Array.from(flat.subarray(i * 4, i * 4 + 4)));
    const o = { overfit: { steps: 5 }, gradient: { samples: 2 }, rows };
    const base = checkModel(m, xs, new Matrix(flat, rows, 4), o).initialLoss.loss;
    assert.equal(checkModel(m, xs, view, o).initialLoss.loss, base);
    assert.equal(checkModel(m, xs, nested, o).initialLoss.loss, base);
    assert.ok(lrFinder(m, xs, view, { steps: 5, batchSize: 10 }).lrs.length > 0);
    for (const [f, where] of [[(yy: Matrix) => checkModel(m, xs, yy, o), 'checkModel'], [(yy: Matrix) => lrFinder(m, xs, yy, { steps: 5 }), 'lrFinder']] as const) {
      throwsCode(() => f(new Matrix(new Float32Array(2 * rows * 4), 2 * rows, 4)), ErrorCode.SHAPE, RangeError, `${where}: y has 40 rows but x has 20`);
    }
    const c = make();
    c.setLoss('crossEntropy');
    const labels = Array.from(y.subarray(0, rows));
    labels[3] = 1.5;
    throwsCode(() => checkModel(c, xs, labels, o), ErrorCode.LABEL, RangeError, 'checkModel: the label of row 4 is 1.5, not an integer class');
    throwsCode(() => lrFinder(c, xs, labels, { steps: 5 }), ErrorCode.LABEL, RangeError, 'lrFinder: the label of row 4 is 1.5, not an integer class');
    // Records with a label key, as fit takes them.
    c.setInputColumns(['a', 'b', 'c', 'd', 'e', 'f']);
    const records = Array.from({ length: rows }, (_, i) => ({ ...Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k, j) => [k, xs[i * 6 + j]])), kind: y[i] }));
    const byKey = checkModel(c, records, 'kind', o);
    assert.equal(byKey.initialLoss.loss, checkModel(c, new Matrix(xs, rows, 6), y.subarray(0, rows), o).initialLoss.loss);
    assert.ok(lrFinder(c, records, 'kind', { steps: 5, batchSize: 10 }).lrs.length > 0);
    throwsCode(() => checkModel(c, records, 'a', o), ErrorCode.ARG_RANGE, undefined, 'label');
    throwsCode(() => checkModel(c, xs, 'kind', o), ErrorCode.ARG_TYPE, TypeError, 'needs x as an array of records');
  });

  it('flags dead relu units at initialisation', () => {
    const model = new Sequential({ inputSize: 6, seed: 4, backend: b, layers: [dense(16, { activation: 'relu', biasInit: { name: 'constant', value: -50 } as never }), dense(4)] });
    model.setLoss('crossEntropy');
    const r = checkModel(model, x, y, { gradient: false, overfit: false });
    assert.equal(r.units[0].dead, 1);
    assert.ok(r.findings.some((f) => /dead/.test(f)), r.text);
  });

  it('reports a subset it cannot overfit in the steps allowed', () => {
    const model = make();
    model.setLoss('crossEntropy');
    const r = checkModel(model, x, y, { gradient: false, overfit: { steps: 5, optimizer: { name: 'sgd', lr: 1e-6 } } });
    assert.ok(r.overfit && !r.overfit.ok && r.overfit.steps === 5, r.text);
    assert.ok(r.findings.some((f) => /could not overfit/.test(f)));
  });

  it('rejects bad arguments with coded errors', () => {
    const model = make();
    throwsCode(() => checkModel(model, x, y), ErrorCode.STATE, undefined, 'no loss');
    model.setLoss('crossEntropy');
    throwsCode(() => checkModel(model, x, y, { rows: 0 }), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => checkModel(model, new Float32Array(7), y), ErrorCode.SHAPE, RangeError);
    throwsCode(() => checkModel(model, x, 'labels' as never), ErrorCode.ARG_TYPE, TypeError);
  });

  it("applies the model's preprocessing as fit and evaluate do: the report of the same model on rows transformed by hand", () => {
    const raw = unscaled(x, 6);
    const std = new Standardizer().fit(raw);
    const withScaler = make().setPreprocessing(std);
    withScaler.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
    const plain = make();
    plain.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
    const r = checkModel(withScaler, raw, y, { tolerance: 0.3 });
    assert.deepEqual(r, checkModel(plain, std.transform(raw), y, { tolerance: 0.3 }));
    const evaluated = withScaler.evaluate(raw, y).loss;
    assert.ok(Math.abs(r.initialLoss.loss - evaluated) < 1e-5, `initial loss ${r.initialLoss.loss} vs evaluate ${evaluated}`);
    assert.ok(r.ok, r.text);
    // PCA changes the width: the raw rows have 6 columns, the model takes 3.
    const pca = new PCA({ components: 3 }).fit(raw);
    const small = () => {
      const m = new Sequential({ inputSize: 3, seed: 2, backend: b, layers: [dense(8, { activation: 'tanh' }), dense(4)] });
      m.setLoss('crossEntropy');
      return m;
    };
    const reduced = checkModel(small().setPreprocessing(pca), raw, y, { overfit: false });
    assert.deepEqual(reduced, checkModel(small(), pca.transform(raw), y, { overfit: false }));
    // As fit: with preprocessing set, a flat Float32Array (of which width?) is refused.
    throwsCode(() => checkModel(withScaler, raw.data, y), ErrorCode.ARG_TYPE, TypeError);
  });

  it('fit({ checks: true }) on a model with preprocessing checks the rows fit trains on, transformed once', () => {
    const raw = unscaled(x, 6);
    const model = make().setPreprocessing(new Standardizer().fit(raw));
    model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam' } });
    const expected = checkModel(model, raw, y, { gradient: false, overfit: false }).text;
    const { out } = stdoutDuring(() => model.fit(raw, y, { epochs: 1, batchSize: 50, checks: true }));
    assert.equal(out, `checks: ${expected.split('\n').join('\nchecks: ')}\n`);
  });

  it('fit({ checks: true }) prints the cheap checks before training and never blocks', () => {
    const model = new Sequential({ inputSize: 6, seed: 3, backend: b, layers: [dense(4, { init: { name: 'normal', std: 5 } as never })] });
    model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam' } });
    const { out: text, result: h } = stdoutDuring(() => model.fit(x, y, { epochs: 1, batchSize: 50, checks: true }));
    assert.equal(h.steps, 4);
    assert.match(text, /checks: initial loss/);
    assert.match(text, /chance-level/);
  });
});

forEachBackend('lrFinder', (b: Backend) => {
  const { x, y } = blobs(512, 6, 4, 5);
  const make = () => {
    const m = new Sequential({ inputSize: 6, seed: 6, backend: b, layers: [dense(32, { activation: 'relu' }), dense(4)] });
    m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } });
    return m;
  };

  it('ramps the lr exponentially, smooths with bias correction, stops on divergence, suggests an lr inside the falling part', () => {
    const model = make();
    const before = snapshot(model);
    const r = lrFinder(model, x, y, { start: 1e-5, end: 100, steps: 60, batchSize: 32 });
    assertUntouched(model, before);
    assert.ok(Math.abs(r.lrs[0] - 1e-5) < 1e-18);
    for (let i = 1; i < r.steps; i++) {
      const expected = 1e-5 * (1e7) ** (i / 59);
      assert.ok(Math.abs(r.lrs[i] - expected) <= 1e-12 * expected, `lr ${i}`);
    }
    let avg = 0;
    for (let i = 0; i < r.steps; i++) {
      avg = 0.98 * avg + 0.02 * r.losses[i];
      assert.ok(Math.abs(r.smoothed[i] - avg / (1 - 0.98 ** (i + 1))) < 1e-12, `smoothed ${i}`);
    }
    assert.ok(r.diverged && r.steps < 60, `stopped at ${r.steps}`);
    assert.ok(r.smoothed[r.steps - 1] > 4 * Math.min(...r.smoothed.subarray(0, r.steps - 1)));
    assert.ok(r.steepest < r.minimum, `${r.steepest} < ${r.minimum}`);
    assert.equal(r.minimumOver10, r.minimum / 10);
    assert.equal(r.suggestion, r.steepest);
    // The same seed gives the same curve.
    assert.deepEqual(lrFinder(model, x, y, { start: 1e-5, end: 100, steps: 60, batchSize: 32 }).smoothed, r.smoothed);
  });

  it('leaves out a last batch of one row under batchNorm, which has no batch statistics', () => {
    const bn = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(8), batchNorm(), activation('relu'), dense(4)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const rows = 65;
    const r = lrFinder(bn, x.subarray(0, rows * 6), y.subarray(0, rows), { steps: 20, batchSize: 64 });
    assert.equal(r.steps, 20);
  });

  it('the suggested lr trains: one epoch at it beats one at start', () => {
    const r = lrFinder(make(), x, y, { start: 1e-5, end: 100, steps: 60, batchSize: 32 });
    const at = (lr: number) => {
      const m = make();
      m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr, momentum: 0.9 } });
      m.fit(x, y, { epochs: 1, batchSize: 32 });
      return m.evaluate(x, y).loss;
    };
    assert.ok(at(r.suggestion) < at(1e-5));
  });

  it('a range where the loss never falls is a coded error carrying the curve', () => {
    let thrown: (Error & { code?: string; result?: LrFinderResult }) | null = null;
    try {
      lrFinder(make(), x, y, { start: 1e-12, end: 1e-10, steps: 20 });
    } catch (e) {
      thrown = e as Error & { code?: string; result?: LrFinderResult };
    }
    assert.ok(thrown, 'expected an error');
    assert.equal(thrown.code, ErrorCode.ARG_RANGE);
    assert.match(thrown.message, /never decreased/);
    assert.equal(thrown.result?.steps, 20);
    assert.ok(Number.isNaN(thrown.result?.suggestion));
  });

  it("applies the model's preprocessing as fit does: the curve of the same model on rows transformed by hand", () => {
    const raw = unscaled(x, 6);
    const std = new Standardizer().fit(raw);
    const options = { start: 1e-5, end: 100, steps: 60, batchSize: 32 };
    const r = lrFinder(make().setPreprocessing(std), raw, y, options);
    assert.deepEqual(r, lrFinder(make(), std.transform(raw), y, options));
    assert.ok(r.losses[0] < 2 * Math.log(4), `first loss ${r.losses[0]}, near ln 4 on standardised rows`);
    const pca = new PCA({ components: 4 }).fit(raw);
    const small = () => {
      const m = new Sequential({ inputSize: 4, seed: 6, backend: b, layers: [dense(32, { activation: 'relu' }), dense(4)] });
      return m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } });
    };
    assert.deepEqual(lrFinder(small().setPreprocessing(pca), raw, y, options), lrFinder(small(), pca.transform(raw), y, options));
  });

  it('rejects bad start, end, steps and smoothing with coded errors', () => {
    const model = make();
    throwsCode(() => lrFinder(model, x, y, { start: 0 }), ErrorCode.ARG_RANGE, RangeError, 'start');
    throwsCode(() => lrFinder(model, x, y, { start: 1, end: 0.5 }), ErrorCode.ARG_RANGE, RangeError, 'end');
    throwsCode(() => lrFinder(model, x, y, { end: Infinity }), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => lrFinder(model, x, y, { steps: 3 }), ErrorCode.ARG_RANGE, RangeError, 'at least 5');
    throwsCode(() => lrFinder(model, x, y, { steps: 2.5 }), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => lrFinder(model, x, y, { smoothing: 1 }), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => lrFinder(model, x, y, { start: '1e-5' as never }), ErrorCode.ARG_TYPE, TypeError);
  });
});

describe('lrFinder plot', () => {
  it('writes an SVG and a PNG of the curve', async function () {
    this.timeout(60000);
    const { x, y } = blobs(256, 6, 4, 5);
    const m = new Sequential({ inputSize: 6, seed: 6, layers: [dense(16, { activation: 'relu' }), dense(4)] });
    m.compile({ loss: 'crossEntropy', optimizer: { name: 'adam' } });
    const r = lrFinder(m, x, y, { start: 1e-5, end: 10, steps: 40, batchSize: 32 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-lrf-'));
    try {
      const files = await writeLrFinderPlot(r, path.join(dir, 'lr'));
      assert.match(fs.readFileSync(files.svg, 'utf8'), /^<svg/);
      assert.deepEqual([...fs.readFileSync(files.png).subarray(1, 4)], [0x50, 0x4e, 0x47]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});


