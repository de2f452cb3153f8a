/**
 * Gradient checks by central finite differences.
 *
 * In float64 on the reference definitions (the activation table's f/df and the loss table's
 * compute), which is where the formulas live; and in float32 through each backend's own kernels,
 * which checks that a backend's backward pass belongs to its forward pass.
 */
import { strict as assert } from 'assert';
import { ACTIVATION_NAMES, ACTIVATIONS, activationId, LOSS_NAMES, LOSSES, lossId, Rng } from '../lib';
import type { Backend, LossName } from '../lib';
import { forEachBackend } from './helpers';

// Points away from the kinks at 0 (relu, leakyRelu, elu, selu).
const POINTS = [-6.1, -3.3, -1.3, -0.2, 0.07, 0.3, 0.9, 2.7, 7.5];
const PARAMS: Record<string, number[]> = { leakyRelu: [0.01, 0.3], elu: [1, 0.5, 2] };

describe('activation gradients (float64 finite differences)', () => {
  for (const name of ACTIVATION_NAMES) {
    const def = ACTIVATIONS[name];
    for (const p of PARAMS[name] ?? [def.param]) {
      it(`${name}${PARAMS[name] ? ` (${p})` : ''}`, () => {
        const h = 1e-6;
        for (const x of POINTS) {
          const numeric = (def.f(x + h, p) - def.f(x - h, p)) / (2 * h);
          const analytic = def.df(x, def.f(x, p), p);
          assert.ok(Math.abs(numeric - analytic) <= 1e-7 + 1e-6 * Math.abs(analytic),
            `${name}'(${x}) = ${analytic}, finite difference ${numeric}`);
        }
      });
    }
  }
});

interface LossSetup {
  rows: number;
  cols: number;
  pred: Float64Array;
  target: Float64Array | Int32Array;
  param: number;
}

/** Random inputs for a loss, kept away from its kinks. */
function setup(name: LossName, rng: Rng, param?: number): LossSetup {
  const rows = 3;
  const cols = name === 'gaussianNll' ? 8 : 5;
  const pred = new Float64Array(rows * cols);
  for (let i = 0; i < pred.length; i++) pred[i] = rng.range(-2, 2);
  const def = LOSSES[name];
  let target: Float64Array | Int32Array;
  if (def.targets.labels && !def.targets.dense) {
    target = Int32Array.from({ length: rows }, () => rng.int(cols));
  } else if (def.targets.half) {
    target = Float64Array.from({ length: rows * (cols / 2) }, () => rng.range(-1, 1));
    for (let r = 0; r < rows; r++) for (let j = cols / 2; j < cols; j++) pred[r * cols + j] = rng.range(0.3, 2);
  } else if (name === 'hinge') {
    target = Float64Array.from({ length: rows * cols }, () => (rng.uniform() < 0.5 ? -1 : 1));
  } else if (name === 'binaryCrossEntropy') {
    target = Float64Array.from({ length: rows * cols }, () => rng.uniform());
  } else if (name === 'crossEntropy') {
    // A distribution per row; the label form is checked separately below.
    target = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += (target[r * cols + j] = rng.uniform());
      for (let j = 0; j < cols; j++) target[r * cols + j] /= s;
    }
  } else {
    target = Float64Array.from({ length: rows * cols }, () => rng.range(-2, 2));
  }
  return { rows, cols, pred, target, param: param ?? def.param };
}

function checkLoss(name: LossName, s: LossSetup): void {
  const def = LOSSES[name];
  const grad = new Float64Array(s.pred.length);
  def.compute(s.param, s.rows, s.cols, s.pred, s.target, grad);
  const h = 1e-6;
  for (let i = 0; i < s.pred.length; i++) {
    const keep = s.pred[i];
    s.pred[i] = keep + h;
    const up = def.compute(s.param, s.rows, s.cols, s.pred, s.target, null);
    s.pred[i] = keep - h;
    const down = def.compute(s.param, s.rows, s.cols, s.pred, s.target, null);
    s.pred[i] = keep;
    const numeric = (up - down) / (2 * h);
    assert.ok(Math.abs(numeric - grad[i]) <= 1e-8 + 1e-6 * Math.abs(grad[i]),
      `${name}: d/dpred[${i}] = ${grad[i]}, finite difference ${numeric}`);
  }
}

describe('loss gradients (float64 finite differences)', () => {
  for (const name of LOSS_NAMES) {
    it(name, () => {
      const rng = new Rng(lossId(name) + 1);
      for (let trial = 0; trial < 5; trial++) checkLoss(name, setup(name, rng));
    });
  }
  it('crossEntropy with integer labels', () => {
    const rng = new Rng(77);
    const s = setup('crossEntropy', rng);
    s.target = Int32Array.from({ length: s.rows }, () => rng.int(s.cols));
    checkLoss('crossEntropy', s);
  });
  it('huber (delta 0.5), multiMargin (margin 0.3), gaussianNll (eps 0.1)', () => {
    const rng = new Rng(5);
    checkLoss('huber', setup('huber', rng, 0.5));
    checkLoss('multiMargin', setup('multiMargin', rng, 0.3));
    checkLoss('gaussianNll', setup('gaussianNll', rng, 0.1));
  });
  it('gaussianNll below eps: value clamped, gradient taken at the clamped variance (as PyTorch)', () => {
    const eps = 0.5;
    const pred = new Float64Array([1, -1]); // mean 1, variance -1 < eps
    const grad = new Float64Array(2);
    const value = LOSSES.gaussianNll.compute(eps, 1, 2, pred, new Float64Array([0]), grad);
    assert.ok(Math.abs(value - 0.5 * (Math.log(eps) + 1 / eps)) < 1e-12);
    assert.ok(Math.abs(grad[0] - 1 / eps) < 1e-12);
    assert.ok(Math.abs(grad[1] - 0.5 * (1 / eps - 1 / (eps * eps))) < 1e-12);
  });
});

/** d(sum c * f(x))/dx by the backend's backward kernel vs float32 central differences. */
forEachBackend('kernel gradients (float32 finite differences)', (b: Backend) => {
  const n = 64;
  const h = 1e-2;
  const tol = 2e-3;

  function fd(forward: (x: Float32Array) => number, x: Float32Array, i: number): number {
    const keep = x[i];
    x[i] = keep + h;
    const up = forward(x);
    x[i] = keep - h;
    const down = forward(x);
    x[i] = keep;
    return (up - down) / (2 * h);
  }

  for (const name of ACTIVATION_NAMES) {
    it(`activation ${name}`, () => {
      const rng = new Rng(100 + activationId(name));
      const id = activationId(name);
      const p = ACTIVATIONS[name].param;
      const x = rng.uniformArray(n, -3, 3);
      for (let i = 0; i < n; i++) if (Math.abs(x[i]) < 0.05) x[i] = 0.5; // away from kinks
      const c = rng.uniformArray(n);
      const y = new Float32Array(n);
      const forward = (v: Float32Array) => {
        b.activation(id, p, n, v, y);
        return b.dot(n, c, y);
      };
      forward(x);
      const dx = new Float32Array(n);
      b.activationBackward(id, p, n, x, y, c, dx);
      for (let i = 0; i < n; i++) {
        const numeric = fd(forward, x, i);
        assert.ok(Math.abs(numeric - dx[i]) <= tol * (1 + Math.abs(dx[i])), `${name} at ${x[i]}: ${dx[i]} vs ${numeric}`);
      }
    });
  }

  for (const [kind, fwd, bwd] of [
    ['softmax', b.softmax, b.softmaxBackward],
    ['logSoftmax', b.logSoftmax, b.logSoftmaxBackward],
  ] as const) {
    it(kind, () => {
      const rng = new Rng(9);
      const rows = 4, cols = 7, m = rows * cols;
      const x = rng.uniformArray(m, -2, 2);
      const c = rng.uniformArray(m);
      const y = new Float32Array(m);
      const forward = (v: Float32Array) => {
        fwd(rows, cols, v, y);
        return b.dot(m, c, y);
      };
      forward(x);
      const dx = new Float32Array(m);
      bwd(rows, cols, y, c, dx);
      for (let i = 0; i < m; i++) {
        const numeric = fd(forward, x, i);
        assert.ok(Math.abs(numeric - dx[i]) <= tol * (1 + Math.abs(dx[i])), `${kind}[${i}]: ${dx[i]} vs ${numeric}`);
      }
    });
  }

  for (const name of LOSS_NAMES) {
    it(`loss ${name}`, () => {
      const s = setup(name, new Rng(200 + lossId(name)));
      const pred = Float32Array.from(s.pred);
      const target = s.target instanceof Int32Array ? s.target : Float32Array.from(s.target);
      const id = lossId(name);
      const grad = new Float32Array(pred.length);
      b.loss(id, s.param, s.rows, s.cols, pred, target, grad);
      const forward = (v: Float32Array) => b.loss(id, s.param, s.rows, s.cols, v, target, null);
      for (let i = 0; i < pred.length; i++) {
        const numeric = fd(forward, pred, i);
        assert.ok(Math.abs(numeric - grad[i]) <= tol * (0.1 + Math.abs(grad[i])), `${name}[${i}]: ${grad[i]} vs ${numeric}`);
      }
    });
  }

  it('dense layer: dw, db and dx of sum(c * y)', () => {
    const rng = new Rng(31);
    const batch = 5, inDim = 7, outDim = 3;
    const act = activationId('tanh');
    const x = rng.uniformArray(batch * inDim);
    const w = rng.uniformArray(outDim * inDim);
    const bias = rng.uniformArray(outDim);
    const c = rng.uniformArray(batch * outDim);
    const z = new Float32Array(batch * outDim), y = new Float32Array(batch * outDim);
    const forward = () => {
      b.denseForward(act, 0, batch, inDim, outDim, x, w, bias, z, y);
      return b.dot(batch * outDim, c, y);
    };
    forward();
    const dz = new Float32Array(batch * outDim), dw = new Float32Array(outDim * inDim);
    const db = new Float32Array(outDim), dx = new Float32Array(batch * inDim);
    b.denseBackward(act, 0, batch, inDim, outDim, 0, x, w, z, y, c, dz, dw, db, dx);
    for (const [name, param, grad] of [['w', w, dw], ['b', bias, db], ['x', x, dx]] as const) {
      for (let i = 0; i < param.length; i++) {
        const numeric = fd(() => forward(), param, i);
        assert.ok(Math.abs(numeric - grad[i]) <= tol * (1 + Math.abs(grad[i])), `d${name}[${i}]: ${grad[i]} vs ${numeric}`);
      }
    }
  });
});
