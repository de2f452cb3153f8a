/**
 * L-BFGS on problems with known minima, on every backend: a convex quadratic (fixed steps), the
 * Rosenbrock function (strong-Wolfe line search), and a model trained full-batch.
 */
import { strict as assert } from 'assert';
import { dense, Rng, Sequential } from '../lib';
import type { Backend } from '../lib';
import { LBFGS } from '../lib/optim/lbfgs';
import { forEachBackend, throwsCode } from './helpers';

function rosenbrock(b: Backend) {
  const params = new Float32Array([-1.5, 2]);
  const grads = new Float32Array(2);
  const closure = () => {
    const [x, y] = params;
    grads[0] = -2 * (1 - x) - 400 * x * (y - x * x);
    grads[1] = 200 * (y - x * x);
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
  };
  return { target: { params, grads, backend: b }, closure };
}

forEachBackend('L-BFGS', (b) => {
  it('minimises a convex quadratic with fixed steps', () => {
    // f(x) = 0.5 x^T A x - c^T x, A = M^T M + I (well conditioned), minimum at A^-1 c.
    const n = 12, rng = new Rng(3);
    const M = Array.from({ length: n * n }, () => rng.range(-0.3, 0.3));
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < n; k++) s += M[k * n + i] * M[k * n + j];
      A[i * n + j] = s;
    }
    const c = Array.from({ length: n }, () => rng.range(-1, 1));
    const params = new Float32Array(n), grads = new Float32Array(n);
    const closure = () => {
      let f = 0;
      for (let i = 0; i < n; i++) {
        let ax = 0;
        for (let j = 0; j < n; j++) ax += A[i * n + j] * params[j];
        grads[i] = ax - c[i];
        f += 0.5 * params[i] * ax - c[i] * params[i];
      }
      return f;
    };
    const opt = new LBFGS({ params, grads, backend: b }, { maxIter: 50 });
    opt.step(closure);
    closure();
    const gmax = Math.max(...Array.from(grads, Math.abs));
    assert.ok(gmax < 1e-4, `max |gradient| ${gmax}`);
  });

  it('finds the Rosenbrock minimum with the strong-Wolfe line search', () => {
    const { target, closure } = rosenbrock(b);
    const opt = new LBFGS(target, { lineSearch: 'strongWolfe', maxIter: 100, toleranceGrad: 1e-6 });
    const first = opt.step(closure);
    assert.ok(Math.abs(first - (2.5 ** 2 + 100 * 0.25 ** 2)) < 1e-3, 'step returns the loss it started from');
    for (let i = 0; i < 3; i++) opt.step(closure);
    assert.ok(Math.abs(target.params[0] - 1) < 1e-3 && Math.abs(target.params[1] - 1) < 2e-3, `ended at ${target.params}`);
    assert.ok(opt.stats.evaluations < 400, `${opt.stats.evaluations} evaluations`);
  });

  it('trains a model full-batch further than as many gradient-descent steps', () => {
    const rng = new Rng(8);
    const x = rng.uniformArray(64 * 3);
    const y = new Float32Array(64);
    for (let i = 0; i < 64; i++) y[i] = Math.sin(x[3 * i]) + x[3 * i + 1] * x[3 * i + 2];
    const make = () => new Sequential({ inputSize: 3, seed: 1, backend: b, loss: 'mse', layers: [dense(8, { activation: 'tanh' }), dense(1)] });
    const m1 = make(), m2 = make();
    const opt = new LBFGS(m1, { lineSearch: 'strongWolfe', maxIter: 50 });
    opt.step(() => m1.lossAndGradient(x, y));
    const lbfgsLoss = m1.lossAndGradient(x, y);
    let gd = 0;
    for (let i = 0; i < opt.stats.evaluations; i++) {
      gd = m2.lossAndGradient(x, y);
      b.axpy(m2.params.length, -0.1, m2.grads, m2.params);
    }
    assert.ok(lbfgsLoss < 0.5 * gd, `L-BFGS ${lbfgsLoss} vs gradient descent ${gd}`);
  });

  it('stops at once when the gradient is already below toleranceGrad', () => {
    const params = new Float32Array([1, 1]), grads = new Float32Array(2);
    let calls = 0;
    const opt = new LBFGS({ params, grads, backend: b });
    opt.step(() => {
      calls++;
      grads.fill(0);
      return 0;
    });
    assert.equal(calls, 1);
  });

  it('rejects bad options and closures with codes', () => {
    const t = rosenbrock(b).target;
    throwsCode(() => new LBFGS(t, { lr: -1 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'Invalid learning rate: -1');
    throwsCode(() => new LBFGS(t, { historySize: 0 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => new LBFGS(t, { maxIter: 1.5 }), 'ERR_BLASNET_ARG_RANGE', RangeError);
    throwsCode(() => new LBFGS(t, { lineSearch: 'armijo' as 'strongWolfe' }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
    throwsCode(() => new LBFGS(t, { lrr: 1 } as never), 'ERR_BLASNET_ARG_RANGE', RangeError, 'lrr');
    throwsCode(() => new LBFGS({} as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => new LBFGS(t).step(undefined as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => new LBFGS(t).step((() => 'x') as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
});
