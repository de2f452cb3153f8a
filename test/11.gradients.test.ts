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
import {
  batchNormBackwardLoop, batchNormForwardLoop, penaltyLoop, preluBackwardLoop, preluLoop,
} from '../lib/backend/js';
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

/** Uniform float64 values in [lo, hi), kept at least `gap` away from 0 (the kinks of |w| and PReLU). */
function awayFromZero(rng: Rng, n: number, lo: number, hi: number, gap = 0): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    do a[i] = rng.range(lo, hi); while (Math.abs(a[i]) < gap);
  }
  return a;
}

/** Central difference of f with respect to v[i] (float64, step 1e-6). */
function fd64(f: () => number, v: Float64Array, i: number, h = 1e-6): number {
  const keep = v[i];
  v[i] = keep + h;
  const up = f();
  v[i] = keep - h;
  const down = f();
  v[i] = keep;
  return (up - down) / (2 * h);
}

function near64(numeric: number, analytic: number, what: string): void {
  assert.ok(Math.abs(numeric - analytic) <= 1e-7 + 1e-6 * Math.abs(analytic), `${what}: ${analytic}, finite difference ${numeric}`);
}

/**
 * The js backend's formulas (exported from lib/backend/js.ts) on Float64Array: the gradient
 * kernels against finite differences of the forward formulas, to float64 precision.
 */
describe('penalty, PReLU and batch-norm gradients (float64 finite differences)', () => {
  it('penalty: d/dw of l1 sum|w| + l2/2 sum w^2', () => {
    const rng = new Rng(41);
    const n = 23;
    const w = awayFromZero(rng, n, -2, 2, 0.01);
    for (const [l1, l2] of [[0.3, 0], [0, 0.7], [0.25, 1.5]]) {
      const grad = new Float64Array(n).fill(0.5);
      penaltyLoop(n, l1, l2, w, grad);
      for (let i = 0; i < n; i++) {
        near64(fd64(() => penaltyLoop(n, l1, l2, w, null), w, i), grad[i] - 0.5, `l1 ${l1}, l2 ${l2}: d/dw[${i}]`);
      }
    }
  });

  for (const perUnit of [true, false]) {
    it(`prelu${perUnit ? ' per unit' : ' with a shared slope'}: dx and da of sum(c * y)`, () => {
      const rng = new Rng(perUnit ? 42 : 43);
      const rows = 5, cols = 7, n = rows * cols;
      const x = awayFromZero(rng, n, -3, 3, 0.01);
      const a = awayFromZero(rng, perUnit ? cols : 1, -0.5, 0.8);
      const c = awayFromZero(rng, n, -1, 1);
      const y = new Float64Array(n);
      const loss = (): number => {
        preluLoop(perUnit, rows, cols, x, a, y);
        return y.reduce((s, v, i) => s + c[i] * v, 0);
      };
      const da = new Float64Array(a.length), dx = new Float64Array(n);
      preluBackwardLoop(perUnit, rows, cols, 0, x, a, c, da, dx);
      for (let i = 0; i < n; i++) near64(fd64(loss, x, i), dx[i], `dx[${i}]`);
      for (let j = 0; j < a.length; j++) near64(fd64(loss, a, j), da[j], `da[${j}]`);
    });
  }

  for (const training of [true, false]) {
    it(`batch norm (${training ? 'training' : 'eval'}): dx, dgamma and dbeta of sum(c * y)`, () => {
      const rng = new Rng(training ? 44 : 45);
      const rows = 7, cols = 5, n = rows * cols, eps = 1e-3, momentum = 0.1;
      const x = awayFromZero(rng, n, -2, 2);
      for (let i = 0; i < n; i += cols) x[i] += 5; // a column with a large mean
      const gamma = awayFromZero(rng, cols, -2, 2, 0.1), beta = awayFromZero(rng, cols, -1, 1);
      const runningMean0 = awayFromZero(rng, cols, -1, 1), runningVar0 = awayFromZero(rng, cols, 0.2, 2);
      const c = awayFromZero(rng, n, -1, 1);
      const mean = new Float64Array(cols), invStd = new Float64Array(cols);
      const xhat = new Float64Array(n), y = new Float64Array(n);
      // Fresh running estimates per call: training updates them in place.
      const loss = (): number => {
        batchNormForwardLoop(training, rows, cols, eps, momentum, x, gamma, beta, runningMean0.slice(), runningVar0.slice(),
          mean, invStd, xhat, y);
        return y.reduce((s, v, i) => s + c[i] * v, 0);
      };
      loss();
      const dgamma = new Float64Array(cols), dbeta = new Float64Array(cols), dx = new Float64Array(n);
      batchNormBackwardLoop(training, rows, cols, 0, xhat, gamma, invStd, c, dgamma, dbeta, dx);
      for (let i = 0; i < n; i++) near64(fd64(loss, x, i), dx[i], `dx[${i}]`);
      for (let j = 0; j < cols; j++) {
        near64(fd64(loss, gamma, j), dgamma[j], `dgamma[${j}]`);
        near64(fd64(loss, beta, j), dbeta[j], `dbeta[${j}]`);
      }
    });
  }
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

  it('mul: d/dx sum(c * x * y) = mul(c, y)', () => {
    const rng = new Rng(50);
    const x = rng.uniformArray(n, -2, 2), y = rng.uniformArray(n, -2, 2), c = rng.uniformArray(n);
    const out = new Float32Array(n);
    const forward = (v: Float32Array) => {
      b.mul(n, v, y, out);
      return b.dot(n, c, out);
    };
    const dx = new Float32Array(n);
    b.mul(n, c, y, dx);
    for (let i = 0; i < n; i++) {
      const numeric = fd(forward, x, i);
      assert.ok(Math.abs(numeric - dx[i]) <= tol * (1 + Math.abs(dx[i])), `mul[${i}]: ${dx[i]} vs ${numeric}`);
    }
  });

  it('penalty: its gradient', () => {
    const rng = new Rng(51);
    const w = rng.uniformArray(n, -2, 2);
    for (let i = 0; i < n; i++) if (Math.abs(w[i]) < 0.05) w[i] = 0.5; // away from the kink of |w|
    const grad = new Float32Array(n);
    b.penalty(n, 0.3, 0.7, w, grad);
    for (let i = 0; i < n; i++) {
      const numeric = fd((v) => b.penalty(n, 0.3, 0.7, v, null), w, i);
      assert.ok(Math.abs(numeric - grad[i]) <= tol * (1 + Math.abs(grad[i])), `penalty[${i}]: ${grad[i]} vs ${numeric}`);
    }
  });

  for (const perUnit of [true, false]) {
    it(`prelu${perUnit ? ' per unit' : ' with a shared slope'}: dx and da of sum(c * y)`, () => {
      const rng = new Rng(perUnit ? 52 : 53);
      const rows = 4, cols = 9, m = rows * cols;
      const x = rng.uniformArray(m, -3, 3);
      for (let i = 0; i < m; i++) if (Math.abs(x[i]) < 0.05) x[i] = -0.5; // away from the kink at 0
      const a = rng.uniformArray(perUnit ? cols : 1, -0.3, 0.6);
      const c = rng.uniformArray(m);
      const y = new Float32Array(m);
      const forward = () => {
        b.prelu(perUnit, rows, cols, x, a, y);
        return b.dot(m, c, y);
      };
      const da = new Float32Array(a.length), dx = new Float32Array(m);
      b.preluBackward(perUnit, rows, cols, 0, x, a, c, da, dx);
      for (const [name, param, grad] of [['x', x, dx], ['a', a, da]] as const) {
        for (let i = 0; i < param.length; i++) {
          const numeric = fd(() => forward(), param, i);
          assert.ok(Math.abs(numeric - grad[i]) <= tol * (1 + Math.abs(grad[i])), `d${name}[${i}]: ${grad[i]} vs ${numeric}`);
        }
      }
    });
  }

  for (const training of [true, false]) {
    it(`batch norm (${training ? 'training' : 'eval'}): dx, dgamma and dbeta of sum(c * y)`, () => {
      const rng = new Rng(training ? 54 : 55);
      const rows = 6, cols = 5, m = rows * cols;
      const x = rng.uniformArray(m, -2, 2);
      const gamma = rng.uniformArray(cols, 0.5, 1.5), beta = rng.uniformArray(cols, -1, 1);
      const runningMean = rng.uniformArray(cols, -1, 1), runningVar = rng.uniformArray(cols, 0.5, 2);
      const c = rng.uniformArray(m);
      const mean = new Float32Array(cols), invStd = new Float32Array(cols), xhat = new Float32Array(m), y = new Float32Array(m);
      // Training moves the running estimates, which its y does not read; eval reads but keeps them.
      const forward = () => {
        b.batchNormForward(training, rows, cols, 1e-5, 0.1, x, gamma, beta, runningMean, runningVar, mean, invStd, xhat, y);
        return b.dot(m, c, y);
      };
      forward();
      const dgamma = new Float32Array(cols), dbeta = new Float32Array(cols), dx = new Float32Array(m);
      b.batchNormBackward(training, rows, cols, 0, xhat, gamma, invStd, c, dgamma, dbeta, dx);
      for (const [name, param, grad] of [['x', x, dx], ['gamma', gamma, dgamma], ['beta', beta, dbeta]] as const) {
        for (let i = 0; i < param.length; i++) {
          const numeric = fd(() => forward(), param, i);
          assert.ok(Math.abs(numeric - grad[i]) <= tol * (1 + Math.abs(grad[i])), `d${name}[${i}]: ${grad[i]} vs ${numeric}`);
        }
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
