/**
 * Optimisers against a float64 reference written here from PyTorch's documented algorithms
 * (plain loops over number[], sharing nothing with the kernels or lib/optim), on every backend:
 * every optimiser and every named variant over 8 steps with changing gradients and a learning-rate
 * change after step 3; zero gradients; native vs js on a large arena; every error; state round
 * trips; gradient clipping.
 */
import { strict as assert } from 'assert';
import {
  clipGradNorm, clipGradValue, createOptimizer, getBackend, jsBackend, nativeAvailable, OPTIMIZER_NAMES, OPTIMIZERS, Rng,
  Sequential,
} from '../lib';
import type { Backend, Optimizer, OptimizerName, OptimizerSpec, OptimizerState } from '../lib';
import { dense } from '../lib/layers';
import { copyStateOf, restoreStateCopy } from '../lib/optim/optimizers';
import { forEachBackend, normError, requireNative, throwsCode } from './helpers';

// ---------------------------------------------------------------------------------------------
// The reference

type Vec = number[];
type Options = Record<string, unknown>;
/** One step of an optimiser on p (in place) from gradient g at learning rate lr. */
type RefStep = (p: Vec, g: Vec, lr: number) => void;

/** PyTorch's defaults (torch.optim docs), camel-cased; adamw is Adam with decoupled decay. */
const TORCH_DEFAULTS: Record<OptimizerName, Options> = {
  sgd: { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  adagrad: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
  adadelta: { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 },
  adam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false },
  adamw: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false },
  adamax: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  nadam: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3 },
  radam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
};

const zeros = (n: number): Vec => new Array<number>(n).fill(0);

/** The reference optimiser for a spec; the lr passed to each step overrides spec.lr. */
function reference(spec: OptimizerSpec, n: number): RefStep {
  const o: Options = { ...TORCH_DEFAULTS[spec.name], ...spec };
  const num = (k: string): number => (o[k] as number | undefined) ?? 0;
  const on = (k: string): boolean => o[k] === true;
  const wd = num('weightDecay');
  const [b1, b2] = (o.betas as [number, number] | undefined) ?? [0, 0];
  const eps = num('eps');
  let t = 0;
  switch (spec.name) {
    case 'sgd': {
      const mu = num('momentum'), damp = num('dampening'), nesterov = on('nesterov');
      if (on('lrInVelocity')) {
        // The lecture notes: v = mu v - lr g, p += v (Nesterov: p += mu v - lr g), v_0 = 0.
        const v = zeros(n);
        return (p, grad, lr) => {
          for (let i = 0; i < n; i++) {
            const g = grad[i] + wd * p[i];
            v[i] = mu * v[i] - lr * g;
            p[i] += nesterov ? mu * v[i] - lr * g : v[i];
          }
        };
      }
      let buf: Vec | null = null;
      return (p, grad, lr) => {
        const g = grad.map((x, i) => x + wd * p[i]);
        let d = g;
        if (mu !== 0) {
          const prev: Vec | null = buf;
          const b: Vec = prev === null ? g.slice() : prev.map((x, i) => mu * x + (1 - damp) * g[i]);
          buf = b;
          d = nesterov ? g.map((x, i) => x + mu * b[i]) : b;
        }
        for (let i = 0; i < n; i++) p[i] -= lr * d[i];
      };
    }
    case 'adagrad': {
      const sum = new Array<number>(n).fill(num('initialAccumulatorValue'));
      return (p, grad, lr) => {
        t++;
        const clr = lr / (1 + (t - 1) * num('lrDecay'));
        for (let i = 0; i < n; i++) {
          const g = grad[i] + wd * p[i];
          sum[i] += g * g;
          p[i] -= (clr * g) / (Math.sqrt(sum[i]) + eps);
        }
      };
    }
    case 'rmsprop': {
      const alpha = num('alpha'), mu = num('momentum');
      const v = zeros(n), b = zeros(n), gAve = zeros(n);
      return (p, grad, lr) => {
        for (let i = 0; i < n; i++) {
          const g = grad[i] + wd * p[i];
          v[i] = alpha * v[i] + (1 - alpha) * g * g;
          let vt = v[i];
          if (on('centered')) {
            gAve[i] = alpha * gAve[i] + (1 - alpha) * g;
            vt -= gAve[i] * gAve[i];
          }
          const denom = on('epsInsideSqrt') ? Math.sqrt(vt + eps) : Math.sqrt(vt) + eps;
          if (mu > 0) {
            b[i] = mu * b[i] + g / denom;
            p[i] -= lr * b[i];
          } else {
            p[i] -= (lr * g) / denom;
          }
        }
      };
    }
    case 'adadelta': {
      const rho = num('rho');
      const v = zeros(n), u = zeros(n);
      return (p, grad, lr) => {
        for (let i = 0; i < n; i++) {
          const g = grad[i] + wd * p[i];
          v[i] = rho * v[i] + (1 - rho) * g * g;
          const dx = (Math.sqrt(u[i] + eps) / Math.sqrt(v[i] + eps)) * g;
          u[i] = rho * u[i] + (1 - rho) * dx * dx;
          p[i] -= lr * dx;
        }
      };
    }
    case 'adam':
    case 'adamw': {
      const decoupled = spec.name === 'adamw' || on('decoupledWeightDecay');
      const corrected = o.biasCorrection !== false;
      const m = zeros(n), v = zeros(n), vMax = zeros(n);
      return (p, grad, lr) => {
        t++;
        const bc1 = corrected ? 1 - b1 ** t : 1, bc2 = corrected ? 1 - b2 ** t : 1;
        for (let i = 0; i < n; i++) {
          let g = grad[i];
          if (decoupled) p[i] *= 1 - lr * wd;
          else g += wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          let vh = v[i];
          if (on('amsgrad')) {
            vMax[i] = Math.max(vMax[i], v[i]);
            vh = vMax[i];
          }
          const denom = on('epsInsideSqrt') ? Math.sqrt(vh / bc2 + eps) : Math.sqrt(vh / bc2) + eps;
          p[i] -= (lr * (m[i] / bc1)) / denom;
        }
      };
    }
    case 'adamax': {
      const m = zeros(n), u = zeros(n);
      return (p, grad, lr) => {
        t++;
        for (let i = 0; i < n; i++) {
          const g = grad[i] + wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          u[i] = Math.max(b2 * u[i], Math.abs(g) + eps);
          p[i] -= (lr * m[i]) / ((1 - b1 ** t) * u[i]);
        }
      };
    }
    case 'nadam': {
      const psi = num('momentumDecay');
      const m = zeros(n), v = zeros(n);
      let prod = 1;
      return (p, grad, lr) => {
        t++;
        const mu = b1 * (1 - 0.5 * 0.96 ** (t * psi));
        const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi));
        prod *= mu;
        for (let i = 0; i < n; i++) {
          let g = grad[i];
          if (on('decoupledWeightDecay')) p[i] *= 1 - lr * wd;
          else g += wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          const mHat = (muNext * m[i]) / (1 - prod * muNext) + ((1 - mu) * g) / (1 - prod);
          const vHat = v[i] / (1 - b2 ** t);
          p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
        }
      };
    }
    case 'radam': {
      const m = zeros(n), v = zeros(n);
      const rhoInf = 2 / (1 - b2) - 1;
      return (p, grad, lr) => {
        t++;
        const rho = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
        for (let i = 0; i < n; i++) {
          let g = grad[i];
          if (on('decoupledWeightDecay')) p[i] *= 1 - lr * wd;
          else g += wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          const mHat = m[i] / (1 - b1 ** t);
          if (rho > 5) {
            const l = Math.sqrt(1 - b2 ** t) / (Math.sqrt(v[i]) + eps);
            const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
            p[i] -= lr * mHat * l * r;
          } else {
            p[i] -= lr * mHat;
          }
        }
      };
    }
    default:
      throw new Error(`no reference for ${(spec as { name: string }).name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The variants

/** Every optimiser with its defaults and every named variant (lr chosen so that steps are large). */
const VARIANTS: { title: string; spec: OptimizerSpec }[] = [
  { title: 'sgd', spec: { name: 'sgd', lr: 0.1 } },
  { title: 'sgd momentum', spec: { name: 'sgd', lr: 0.1, momentum: 0.9 } },
  { title: 'sgd momentum, dampening', spec: { name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.3 } },
  { title: 'sgd nesterov', spec: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true } },
  { title: 'sgd momentum, L2', spec: { name: 'sgd', lr: 0.1, momentum: 0.5, weightDecay: 0.1 } },
  { title: 'sgd lrInVelocity', spec: { name: 'sgd', lr: 0.1, momentum: 0.9, lrInVelocity: true } },
  { title: 'sgd lrInVelocity, nesterov, L2', spec: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, lrInVelocity: true, weightDecay: 0.1 } },
  { title: 'adagrad', spec: { name: 'adagrad', lr: 0.1 } },
  { title: 'adagrad lrDecay, L2, initial accumulator', spec: { name: 'adagrad', lr: 0.1, lrDecay: 0.1, weightDecay: 0.1, initialAccumulatorValue: 0.5, eps: 1e-6 } },
  { title: 'rmsprop', spec: { name: 'rmsprop', lr: 0.01 } },
  { title: 'rmsprop momentum', spec: { name: 'rmsprop', lr: 0.01, momentum: 0.9 } },
  { title: 'rmsprop centered', spec: { name: 'rmsprop', lr: 0.01, centered: true, alpha: 0.9 } },
  { title: 'rmsprop centered, momentum, L2', spec: { name: 'rmsprop', lr: 0.01, centered: true, momentum: 0.5, weightDecay: 0.1, alpha: 0.9 } },
  { title: 'rmsprop epsInsideSqrt', spec: { name: 'rmsprop', lr: 0.01, epsInsideSqrt: true, eps: 1e-4 } },
  { title: 'adadelta', spec: { name: 'adadelta' } },
  { title: 'adadelta rho, eps, L2', spec: { name: 'adadelta', lr: 0.5, rho: 0.8, eps: 1e-4, weightDecay: 0.1 } },
  { title: 'adam', spec: { name: 'adam', lr: 0.1 } },
  { title: 'adam amsgrad', spec: { name: 'adam', lr: 0.1, amsgrad: true } },
  { title: 'adam L2', spec: { name: 'adam', lr: 0.1, weightDecay: 0.1 } },
  { title: 'adam decoupledWeightDecay', spec: { name: 'adam', lr: 0.1, weightDecay: 0.1, decoupledWeightDecay: true } },
  { title: 'adam epsInsideSqrt', spec: { name: 'adam', lr: 0.1, epsInsideSqrt: true, eps: 1e-4 } },
  { title: 'adam biasCorrection false', spec: { name: 'adam', lr: 0.1, biasCorrection: false, betas: [0.8, 0.9] } },
  { title: 'adamw', spec: { name: 'adamw', lr: 0.1 } },
  { title: 'adamw amsgrad, betas', spec: { name: 'adamw', lr: 0.1, amsgrad: true, weightDecay: 0.1, betas: [0.8, 0.99] } },
  { title: 'adamax', spec: { name: 'adamax', lr: 0.1 } },
  { title: 'adamax L2, betas', spec: { name: 'adamax', lr: 0.1, weightDecay: 0.1, betas: [0.8, 0.99] } },
  { title: 'nadam', spec: { name: 'nadam', lr: 0.1 } },
  { title: 'nadam L2', spec: { name: 'nadam', lr: 0.1, weightDecay: 0.1 } },
  { title: 'nadam decoupledWeightDecay, momentumDecay', spec: { name: 'nadam', lr: 0.1, weightDecay: 0.1, decoupledWeightDecay: true, momentumDecay: 0.1 } },
  { title: 'radam', spec: { name: 'radam', lr: 0.1 } },
  { title: 'radam betas (rectified from step 6), L2', spec: { name: 'radam', lr: 0.1, betas: [0.9, 0.9], weightDecay: 0.1 } },
  { title: 'radam decoupledWeightDecay', spec: { name: 'radam', lr: 0.1, betas: [0.8, 0.9], weightDecay: 0.1, decoupledWeightDecay: true } },
];

const P0 = [0.5, -1.2, 2.0];
const STEPS = 8;
/** Steps 4 on use this fraction of the initial lr (a schedule's change mid-run). */
const LR_CUT = 0.3;

/** The gradient of step t (1-based): different every step, in every element. */
function gradientAt(t: number, n = 3): Vec {
  return Array.from({ length: n }, (_, i) => Math.sin(1.7 * t + 2.1 * i) * (1 + i) + 0.3 * Math.cos(t));
}

function lrAt(t: number, lr0: number): number {
  return t <= 3 ? lr0 : lr0 * LR_CUT;
}

/** The initial lr of a spec (its own, or PyTorch's default). */
function lrOf(spec: OptimizerSpec): number {
  return ((spec as { lr?: number }).lr ?? TORCH_DEFAULTS[spec.name].lr) as number;
}

/** Parameters after each step of the reference. */
function referenceRun(spec: OptimizerSpec, steps = STEPS): Vec[] {
  const p = P0.slice();
  const step = reference(spec, 3);
  const out: Vec[] = [];
  for (let t = 1; t <= steps; t++) {
    step(p, gradientAt(t), lrAt(t, lrOf(spec)));
    out.push(p.slice());
  }
  return out;
}

/** Parameters after each step of the optimiser on a backend. */
function optimizerRun(b: Backend, spec: OptimizerSpec, steps = STEPS): Vec[] {
  const target = { params: Float32Array.from(P0), grads: new Float32Array(3), backend: b };
  const opt = createOptimizer(spec, target);
  const out: Vec[] = [];
  for (let t = 1; t <= steps; t++) {
    target.grads.set(gradientAt(t));
    opt.lr = lrAt(t, lrOf(spec));
    opt.step();
    out.push(Array.from(target.params));
  }
  assert.equal(opt.stepCount, steps);
  return out;
}

const REL = 1e-6;

/** Relative error of a against b, elementwise, with the float32 storage of p as the floor. */
function assertClose(a: Vec, b: Vec, what: string): void {
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    assert.ok(err <= REL * Math.abs(b[i]) + 1e-7, `${what}[${i}]: ${a[i]} vs reference ${b[i]} (error ${err.toExponential(2)})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

describe('optimizers: the table', () => {
  it('has every optimizer, with PyTorch\'s defaults', () => {
    assert.deepEqual(OPTIMIZER_NAMES, ['sgd', 'adagrad', 'rmsprop', 'adadelta', 'adam', 'adamw', 'adamax', 'nadam', 'radam']);
    for (const name of OPTIMIZER_NAMES) {
      const options = OPTIMIZERS[name].options as Record<string, { default: unknown; required: boolean }>;
      for (const [k, v] of Object.entries(TORCH_DEFAULTS[name])) {
        assert.deepEqual(options[k].default, v, `${name}.${k}`);
      }
      assert.ok(OPTIMIZERS[name].doc.includes('torch.optim.'), `${name} names its torch class`);
    }
    assert.equal(OPTIMIZERS.sgd.options.lr.required, true, 'sgd lr is required');
  });

  it('createOptimizer fills in the defaults', () => {
    const target = { params: new Float32Array(2), grads: new Float32Array(2), backend: jsBackend };
    const o = createOptimizer({ name: 'adamw' }, target);
    assert.deepEqual({ ...o.options }, { lr: 1e-3, eps: 1e-8, betas: [0.9, 0.999], weightDecay: 1e-2, amsgrad: false, epsInsideSqrt: false, biasCorrection: true });
    assert.equal(o.lr, 1e-3);
    assert.equal(o.stepCount, 0);
    assert.equal(o.backend, jsBackend);
  });
});

forEachBackend('optimizers: 8 steps against the float64 reference, lr cut after step 3', (b) => {
  for (const { title, spec } of VARIANTS) {
    it(title, () => {
      const want = referenceRun(spec);
      const got = optimizerRun(b, spec);
      want.forEach((w, t) => assertClose(got[t], w, `step ${t + 1}`));
      // Every step moved every parameter (the comparison is not of parameters standing still).
      got.forEach((p, t) => p.forEach((x, i) => assert.notEqual(x, t === 0 ? P0[i] : got[t - 1][i], `step ${t + 1} moved p[${i}]`)));
    });
  }

  it('sgd momentum: PyTorch\'s form and lrInVelocity agree at a constant lr and differ after the lr changes', () => {
    for (const nesterov of [false, true]) {
      const torch: OptimizerSpec = { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov };
      const velocity: OptimizerSpec = { ...torch, lrInVelocity: true };
      const [a, v] = [optimizerRun(b, torch), optimizerRun(b, velocity)];
      const [ra, rv] = [referenceRun(torch), referenceRun(velocity)];
      for (let t = 0; t < 3; t++) assertClose(v[t], a[t], `step ${t + 1} (before the change)`);
      for (let t = 3; t < STEPS; t++) {
        for (let i = 0; i < 3; i++) {
          assert.ok(Math.abs(v[t][i] - a[t][i]) > 1e-3, `step ${t + 1}: the forms should differ (${v[t][i]} vs ${a[t][i]})`);
          assert.ok(Math.abs(rv[t][i] - ra[t][i]) > 1e-3, `step ${t + 1}: the references should differ`);
        }
      }
    }
  });

  it('zero gradients without weight decay leave the parameters exactly unchanged', () => {
    for (const { title, spec } of VARIANTS) {
      const target = { params: Float32Array.from(P0), grads: new Float32Array(3), backend: b };
      const opt = createOptimizer({ ...spec, weightDecay: 0 } as OptimizerSpec, target);
      for (let t = 0; t < 6; t++) opt.step();
      assert.deepEqual(Array.from(target.params), Array.from(Float32Array.from(P0)), title);
    }
  });

  it('trains a Sequential model: every optimizer lowers the loss', () => {
    const rng = new Rng(5);
    const rows = 32;
    const x = rng.uniformArray(rows * 2, -1, 1);
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) y[r] = x[2 * r] - 2 * x[2 * r + 1];
    const lrs: Partial<Record<OptimizerName, number>> = { sgd: 0.1, adagrad: 0.1, rmsprop: 0.01, adadelta: 1, adam: 0.01, adamw: 0.01, adamax: 0.02, nadam: 0.01, radam: 0.03 };
    for (const name of OPTIMIZER_NAMES) {
      const model = new Sequential({ inputSize: 2, layers: [dense(8, { activation: 'tanh' }), dense(1)], seed: 3, backend: b, loss: 'mse' });
      const opt = createOptimizer({ name, lr: lrs[name] } as OptimizerSpec, model);
      const first = model.lossAndGradient(x, y);
      let last = first;
      for (let s = 0; s < 60; s++) {
        opt.step();
        last = model.lossAndGradient(x, y);
      }
      assert.ok(last < 0.5 * first, `${name}: loss ${first} -> ${last}`);
    }
  });

  it('steps a Sequential with its arena\'s blocks, a plain target and a Backend without them whole, to the same weights', () => {
    // The backend as given, seen through a wrapper that records which step export each step called.
    const calls: string[] = [];
    let seen: number[] = [];
    const recording = (withBlocks: boolean): Backend => {
      const { optimizerStepBlocks, ...rest } = b;
      const w: Backend = { ...rest, optimizerStep: (...args: Parameters<Backend['optimizerStep']>) => { calls.push('whole'); b.optimizerStep(...args); } } as Backend;
      if (withBlocks) {
        (w as { optimizerStepBlocks: Backend['optimizerStepBlocks'] }).optimizerStepBlocks = (...args) => {
          calls.push('blocks');
          seen = Array.from(args[7].subarray(0, 2 * args[6]));
          optimizerStepBlocks.apply(b, args);
        };
      }
      return w;
    };
    const rng = new Rng(8);
    const x = rng.uniformArray(16 * 3, -1, 1), y = rng.uniformArray(16, -1, 1);
    const weights: Float32Array[] = [];
    for (const [what, withBlocks, plain] of [['Sequential', true, false], ['Backend without blocks', false, false], ['plain target', true, true]] as const) {
      calls.length = 0;
      const model = new Sequential({ inputSize: 3, layers: [dense(5, { activation: 'relu' }), dense(2), dense(1)], seed: 4, backend: recording(withBlocks), loss: 'mse' });
      const opt = createOptimizer({ name: 'adam', lr: 0.01 }, plain ? { params: model.params, grads: model.grads, backend: model.backend } : model);
      for (let s = 0; s < 3; s++) {
        model.lossAndGradient(x, y);
        opt.step();
      }
      assert.deepEqual(calls, withBlocks && !plain ? ['blocks', 'blocks', 'blocks'] : ['whole', 'whole', 'whole'], what);
      weights.push(model.params.slice());
    }
    assert.deepEqual(seen, [5, 3, 1, 5, 2, 5, 1, 2, 1, 2, 1, 1], 'rows and columns of each weight, one row per bias');
    assert.deepEqual(weights[1], weights[0], 'whole against blocks');
    assert.deepEqual(weights[2], weights[0], 'plain target against blocks');
  });
});

describe('an optimiser object passed to compile', () => {
  it("is refused over another model's parameters (its steps would train nothing here), accepted over this model's", async () => {
    const make = (seed: number, hidden = 4) => new Sequential({ inputSize: 3, seed, layers: [dense(hidden, { activation: 'tanh' }), dense(2)] });
    const a = make(1).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.5 } });
    const rng = new Rng(2);
    const x = rng.uniformArray(60, -1, 1), y = Int32Array.from({ length: 20 }, (_, i) => i % 2);
    for (const other of [make(2), make(3, 9)]) {
      throwsCode(() => other.compile({ loss: 'crossEntropy', optimizer: a.optimizer as Optimizer }), 'ERR_BLASNET_STATE', undefined,
        "the sgd optimiser was made over another model's parameters");
      throwsCode(() => other.compile({ loss: 'crossEntropy', optimizer: createOptimizer({ name: 'adam' }, a) }), 'ERR_BLASNET_STATE', undefined, 'another model');
    }
    // One made over the model itself, or over its own arenas as a plain target, is its optimiser.
    const b = make(2);
    const before = b.params.slice();
    b.compile({ loss: 'crossEntropy', optimizer: createOptimizer({ name: 'adam', lr: 0.1 }, { params: b.params, grads: b.grads, backend: b.backend }) });
    b.fit(x, y, { epochs: 2, batchSize: 5 });
    assert.notDeepEqual(b.params, before);
    const c = make(2);
    c.compile({ loss: 'crossEntropy', optimizer: createOptimizer({ name: 'adam', lr: 0.1 }, c) });
    await c.fitAsync(x, y, { epochs: 2, batchSize: 5 });
    assert.deepEqual(c.params, b.params, 'fitAsync trains as fit');
  });
});

/** The arena of a state() as floats. */
function arenaOf(s: OptimizerState): Float32Array {
  const bytes = Buffer.from(s.arena as string, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

(nativeAvailable() || requireNative ? describe : describe.skip)('optimizers: native vs js', () => {
  it('every variant, a 10k-element random arena, 10 steps: normalised error < 1e-6', () => {
    const n = 10000;
    for (const { title, spec } of VARIANTS) {
      const rng = new Rng(77);
      const p = rng.uniformArray(n, -2, 2);
      const grads = Array.from({ length: 10 }, () => rng.uniformArray(n, -1, 1));
      const run = (b: Backend): [Float32Array, OptimizerState] => {
        const target = { params: p.slice(), grads: new Float32Array(n), backend: b };
        const opt = createOptimizer(spec, target);
        grads.forEach((g, t) => {
          target.grads.set(g);
          if (t === 5) opt.lr *= 0.5;
          opt.step();
        });
        return [target.params, opt.state()];
      };
      const [pj, sj] = run(jsBackend);
      const [pn, sn] = run(getBackend('native'));
      const err = normError(pn, pj);
      assert.ok(err < 1e-6, `${title}: normalised error ${err}`);
      assert.ok(normError(pn, p) > 1e-4, `${title}: the parameters moved`);
      // The native kernels compute in float32 and the js ones in float64 (native/optimizers.cc), so
      // the state arenas agree to float32 rounding, no longer bit for bit: the same bound as the
      // parameters, slot by slot.
      const [an, aj] = [arenaOf(sn), arenaOf(sj)];
      for (let slot = 0; slot * n < aj.length; slot++) {
        const e = normError(an.subarray(slot * n, (slot + 1) * n), aj.subarray(slot * n, (slot + 1) * n));
        assert.ok(e < 1e-6, `${title}: state slot ${slot}: normalised error ${e}`);
      }
    }
  });
});

forEachBackend('optimizers: state round trip', (b) => {
  const n = 50;
  const gradsAt = (t: number): Float32Array => Float32Array.from(gradientAt(t, n));

  for (const { title, spec } of VARIANTS) {
    it(`${title}: 10 steps, JSON, load into a fresh optimizer, 10 more steps bit for bit`, () => {
      const a = { params: new Rng(9).uniformArray(n, -2, 2), grads: new Float32Array(n), backend: b };
      const optA = createOptimizer(spec, a);
      for (let t = 1; t <= 10; t++) {
        a.grads.set(gradsAt(t));
        if (t === 4) optA.lr = lrOf(spec) * LR_CUT;
        optA.step();
      }
      const saved = JSON.parse(JSON.stringify(optA.state())) as OptimizerState;
      assert.equal(typeof saved.arena, 'string');
      const c = { params: a.params.slice(), grads: new Float32Array(n), backend: b };
      // Made with other options: load restores the saved ones, as load_state_dict does.
      const optC = createOptimizer({ name: spec.name, lr: 7 } as OptimizerSpec, c);
      optC.load(saved);
      assert.equal(optC.lr, optA.lr);
      assert.equal(optC.stepCount, 10);
      assert.deepEqual(optC.options, optA.options);
      for (let t = 11; t <= 20; t++) {
        a.grads.set(gradsAt(t));
        c.grads.set(gradsAt(t));
        optA.step();
        optC.step();
      }
      assert.deepEqual(Array.from(c.params), Array.from(a.params));
      assert.deepEqual(optC.state(), optA.state());
    });
  }

  it('copyStateOf / restoreStateCopy put back the whole state (fit\'s divergence snapshot), reusing the copy', () => {
    for (const spec of [{ name: 'adam', amsgrad: true }, { name: 'nadam' }, { name: 'sgd', lr: 0.1, momentum: 0.9 }] as OptimizerSpec[]) {
      const a = { params: new Rng(1).uniformArray(n, -1, 1), grads: Float32Array.from(gradientAt(1, n)), backend: b };
      const opt = createOptimizer(spec, a);
      opt.step();
      const before = opt.state();
      const copy = copyStateOf(opt);
      const again = copyStateOf(opt, copy);
      assert.equal(again, copy, `${spec.name}: the copy is reused`);
      opt.step();
      opt.lr = 0.5;
      opt.momentum = 0.5;
      assert.notDeepEqual(opt.state(), before);
      restoreStateCopy(opt, again);
      assert.deepEqual(opt.state(), before, spec.name);
      const other = createOptimizer(spec, { params: a.params.slice(), grads: a.grads, backend: b });
      throwsCode(() => restoreStateCopy(other, again), 'ERR_BLASNET_STATE', undefined, 'another optimizer');
    }
  });

  it('a copy of a fresh optimiser holds no arena, and restoring it zeroes the state as it was', () => {
    for (const spec of [{ name: 'adam', amsgrad: true }, { name: 'adagrad', initialAccumulatorValue: 0.25 }, { name: 'nadam' }] as OptimizerSpec[]) {
      const a = { params: new Rng(1).uniformArray(n, -1, 1), grads: Float32Array.from(gradientAt(1, n)), backend: b };
      const opt = createOptimizer(spec, a);
      opt.lr = 0.02;
      const fresh = opt.state();
      const copy = copyStateOf(opt);
      assert.ok('initial' in copy && copy.initial && copy.arena === null, `${spec.name}: no arena copied`);
      opt.step();
      opt.step();
      opt.lr = 0.5;
      restoreStateCopy(opt, copy);
      assert.deepEqual(opt.state(), fresh, `${spec.name}: restored`);
      // The same copy, reused once the state has moved on, takes the arena after all.
      opt.step();
      const moved = opt.state();
      assert.equal(copyStateOf(opt, copy), copy);
      assert.ok('initial' in copy && !copy.initial && copy.arena !== null);
      opt.step();
      restoreStateCopy(opt, copy);
      assert.deepEqual(opt.state(), moved, `${spec.name}: restored after a step`);
    }
    // Neither a loaded state nor one under changed options counts as fresh.
    const a = { params: new Rng(2).uniformArray(n, -1, 1), grads: Float32Array.from(gradientAt(2, n)), backend: b };
    const stepped = createOptimizer({ name: 'adam' }, a);
    stepped.step();
    const loaded = createOptimizer({ name: 'adam' }, { params: a.params.slice(), grads: a.grads, backend: b });
    loaded.load(stepped.state());
    const fromLoad = copyStateOf(loaded);
    assert.ok('initial' in fromLoad && !fromLoad.initial);
    const tuned = createOptimizer({ name: 'adam' }, { params: a.params.slice(), grads: a.grads, backend: b });
    tuned.momentum = 0.5;
    const fromTuned = copyStateOf(tuned);
    assert.ok('initial' in fromTuned && !fromTuned.initial);
    tuned.step();
    restoreStateCopy(tuned, fromTuned);
    assert.equal(tuned.stepCount, 0);
    assert.deepEqual(tuned.options, { ...tuned.options, betas: [0.5, 0.999] });
  });

  it('load also takes the arena as a Float32Array', () => {
    const a = { params: new Rng(1).uniformArray(n, -1, 1), grads: Float32Array.from(gradientAt(1, n)), backend: b };
    const optA = createOptimizer({ name: 'nadam' }, a);
    optA.step();
    const s = optA.state();
    // A copy: a small Buffer is a view of a shared pool.
    const bytes = Buffer.from(s.arena as string, 'base64');
    const arena = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const optB = createOptimizer({ name: 'nadam' }, { params: a.params.slice(), grads: a.grads, backend: b });
    optB.load({ ...s, arena });
    assert.deepEqual(optB.state(), s);
  });

  it('zeroState returns to a fresh optimizer\'s state, keeping lr', () => {
    for (const spec of [{ name: 'nadam' }, { name: 'adagrad', initialAccumulatorValue: 0.25 }, { name: 'sgd', lr: 0.1, momentum: 0.9 }] as OptimizerSpec[]) {
      const a = { params: new Rng(1).uniformArray(n, -1, 1), grads: Float32Array.from(gradientAt(1, n)), backend: b };
      const fresh = createOptimizer(spec, a).state();
      const opt = createOptimizer(spec, a);
      opt.step();
      opt.step();
      opt.lr = 0.125;
      opt.zeroState();
      assert.deepEqual(opt.state(), { ...fresh, lr: 0.125 }, spec.name);
    }
  });

  it('a step that throws leaves the optimizer unchanged', () => {
    const params = new Rng(1).uniformArray(n, -1, 1);
    const a = { params, grads: Float32Array.from(gradientAt(1, n)), backend: b };
    const opt = createOptimizer({ name: 'nadam' }, a);
    opt.step();
    const before = opt.state();
    structuredClone(params.buffer, { transfer: [params.buffer as ArrayBuffer] });
    throwsCode(() => opt.step(), 'ERR_BLASNET_DETACHED', TypeError);
    assert.deepEqual(opt.state(), before);
  });
});

describe('optimizers: errors', () => {
  const target = (): { params: Float32Array; grads: Float32Array; backend: Backend } =>
    ({ params: new Float32Array(4), grads: new Float32Array(4), backend: jsBackend });
  const make = (spec: unknown, model: unknown = target()): Optimizer =>
    createOptimizer(spec as OptimizerSpec, model as { params: Float32Array; grads: Float32Array; backend: Backend });

  const RANGE: [unknown, string][] = [
    [{ name: 'sgd', lr: -1 }, 'sgd: Invalid learning rate: -1'],
    [{ name: 'sgd', lr: 0.1, momentum: -0.5 }, 'sgd: Invalid momentum value: -0.5'],
    [{ name: 'sgd', lr: 0.1, weightDecay: -1 }, 'sgd: Invalid weightDecay value: -1'],
    [{ name: 'sgd', lr: 0.1, nesterov: true }, 'sgd: Nesterov momentum requires a momentum and zero dampening'],
    [{ name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }, 'sgd: Nesterov momentum requires a momentum and zero dampening'],
    [{ name: 'sgd', lr: 0.1, dampening: NaN }, 'sgd: Expected finite number for dampening but received NaN'],
    [{ name: 'adam', betas: [1.5, 0.999] }, 'adam: Invalid beta parameter at index 0: 1.5'],
    [{ name: 'adam', betas: [0.9, 1] }, 'adam: Invalid beta parameter at index 1: 1'],
    [{ name: 'adamw', betas: [-0.1, 0.9] }, 'adamw: Invalid beta parameter at index 0: -0.1'],
    [{ name: 'adam', eps: -1e-8 }, 'adam: Invalid epsilon value: -1e-8'],
    [{ name: 'adam', lr: NaN }, 'adam: Invalid learning rate: NaN'],
    [{ name: 'adam', lr: Infinity }, 'adam: Expected finite number for lr but received Infinity'],
    [{ name: 'adam', lr: 1e39 }, 'adam: Expected finite number for lr but received 1e+39'],
    [{ name: 'adam', momentum: 0.9 }, 'adam: Unknown option "momentum"; expected lr, eps, betas'],
    [{ name: 'adamw', decoupledWeightDecay: true }, 'adamw: Unknown option "decoupledWeightDecay"'],
    [{ name: 'adagrad', lrDecay: -1 }, 'adagrad: Invalid lrDecay value: -1'],
    [{ name: 'adagrad', initialAccumulatorValue: -1 }, 'adagrad: Invalid initialAccumulatorValue value: -1'],
    [{ name: 'adagrad', eps: -1 }, 'adagrad: Invalid epsilon value: -1'],
    // Subnormal in float32: the native steps would read it as 0 (0 / 0 where a gradient is 0).
    [{ name: 'adam', eps: 1e-40 }, "adam: Invalid epsilon value: 1e-40 is below float32's smallest normal number"],
    [{ name: 'rmsprop', eps: 1e-46 }, 'rmsprop: Invalid epsilon value: 1e-46'],
    [{ name: 'rmsprop', alpha: -0.1 }, 'rmsprop: Invalid alpha value: -0.1'],
    [{ name: 'rmsprop', momentum: -1 }, 'rmsprop: Invalid momentum value: -1'],
    [{ name: 'adadelta', rho: 1.5 }, 'adadelta: Invalid rho value: 1.5'],
    [{ name: 'adadelta', weightDecay: -2 }, 'adadelta: Invalid weightDecay value: -2'],
    [{ name: 'adamax', betas: [0.9, 2] }, 'adamax: Invalid beta parameter at index 1: 2'],
    [{ name: 'nadam', momentumDecay: -1 }, 'nadam: Invalid momentumDecay value: -1'],
    [{ name: 'radam', weightDecay: -1 }, 'radam: Invalid weightDecay value: -1'],
  ];
  for (const [spec, message] of RANGE) {
    it(`${JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}: ${message}`, () => {
      throwsCode(() => make(spec), 'ERR_BLASNET_ARG_RANGE', RangeError, message);
    });
  }

  const TYPE: [unknown, string][] = [
    [{ name: 'sgd' }, 'sgd: Missing required option lr'],
    [{ name: 'adam', lr: '0.1' }, 'adam: Expected number for lr but received string'],
    [{ name: 'adam', amsgrad: 1 }, 'adam: Expected boolean for amsgrad but received number'],
    [{ name: 'adam', betas: [0.9] }, 'adam: Expected an array of two numbers for betas but received an Array of 1'],
    [{ name: 'adam', betas: 0.9 }, 'adam: Expected an array of two numbers for betas but received number'],
    [{ name: 'adam', betas: [0.9, '0.99'] }, 'adam: Expected number for betas[1] but received string'],
    [{ name: 3 }, 'createOptimizer: Expected string for name but received number'],
    [null, 'createOptimizer: Expected an optimizer spec { name, ...options } but received null'],
    ['adam', 'createOptimizer: Expected an optimizer spec { name, ...options } but received string'],
  ];
  for (const [spec, message] of TYPE) {
    it(`${JSON.stringify(spec)}: ${message}`, () => {
      throwsCode(() => make(spec), 'ERR_BLASNET_ARG_TYPE', TypeError, message);
    });
  }

  it('an unknown optimizer is ERR_BLASNET_UNKNOWN_NAME', () => {
    throwsCode(() => make({ name: 'lion' }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError,
      'createOptimizer: Unknown optimizer "lion"; expected one of sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax, nadam, radam');
    throwsCode(() => make({ name: 'toString' }), 'ERR_BLASNET_UNKNOWN_NAME', RangeError);
  });

  it('undefined options count as left out', () => {
    assert.equal(make({ name: 'adam', lr: undefined, foo: undefined }).lr, 1e-3);
  });

  it('bad models', () => {
    throwsCode(() => make({ name: 'adam' }, null), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'createOptimizer: Expected a Sequential or { params, grads, backend } for model but received null');
    throwsCode(() => make({ name: 'adam' }, { ...target(), params: [1, 2] }), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'createOptimizer: Expected Float32Array for model.params but received Array');
    throwsCode(() => make({ name: 'adam' }, { ...target(), grads: new Float64Array(4) }), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'Expected Float32Array for model.grads but received Float64Array');
    throwsCode(() => make({ name: 'adam' }, { ...target(), backend: 'js' }), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'Expected a Backend for model.backend but received string');
    throwsCode(() => make({ name: 'adam' }, { ...target(), grads: new Float32Array(3) }), 'ERR_BLASNET_SHAPE', RangeError,
      'createOptimizer: model.grads has 3 values but model.params has 4');
  });

  it('the lr setter checks as construction does, and a rejected lr changes nothing', () => {
    const opt = make({ name: 'adam', lr: 0.5 });
    throwsCode(() => { opt.lr = -1; }, 'ERR_BLASNET_ARG_RANGE', RangeError, 'adam: Invalid learning rate: -1');
    throwsCode(() => { opt.lr = NaN; }, 'ERR_BLASNET_ARG_RANGE', RangeError, 'adam: Invalid learning rate: NaN');
    throwsCode(() => { opt.lr = Infinity; }, 'ERR_BLASNET_ARG_RANGE', RangeError, 'Expected finite number for lr');
    throwsCode(() => { (opt as unknown as { lr: unknown }).lr = '1'; }, 'ERR_BLASNET_ARG_TYPE', TypeError, 'Expected number for lr but received string');
    assert.equal(opt.lr, 0.5);
    opt.lr = 0;
    assert.equal(opt.lr, 0);
  });

  it('load rejects another optimizer\'s, another size\'s or a damaged state, and changes nothing', () => {
    const opt = make({ name: 'adam', lr: 0.5 });
    const model = target();
    model.grads.fill(1);
    const donor = createOptimizer({ name: 'adam', lr: 0.25 }, model);
    donor.step();
    const good = donor.state();
    const before = opt.state();
    const STATE: [unknown, string][] = [
      [{ ...good, name: 'adamw' }, 'adam.load: the state is for optimizer "adamw", this optimizer is "adam"'],
      [make({ name: 'adamw' }).state(), 'the state is for optimizer "adamw"'],
      [createOptimizer({ name: 'adam' }, { params: new Float32Array(5), grads: new Float32Array(5), backend: jsBackend }).state(),
        'adam.load: the state holds 3 slots of 5 values, this optimizer 3 of 4'],
      [{ ...good, slots: 2 }, 'the state holds 2 slots of 4 values'],
      [{ ...good, arena: (good.arena as string).slice(0, -16) }, 'adam.load: Expected an arena of 12 floats but got 9'],
      [{ ...good, arena: '@@@@' }, 'adam.load: the arena is not valid base64'],
      [{ ...good, arena: new Float32Array(11) }, 'Expected an arena of 12 floats but got 11'],
      [{ ...good, arena: [1, 2] }, 'Expected a base64 string or Float32Array arena but got Array'],
      [{ ...good, stepCount: -1 }, 'adam.load: Expected a non-negative integer stepCount but got -1'],
      [{ ...good, stepCount: 1.5 }, 'Expected a non-negative integer stepCount but got 1.5'],
      [{ ...good, lr: -1 }, 'adam.load: Invalid learning rate: -1'],
      [{ ...good, options: { ...good.options, betas: [1, 0.9] } }, 'adam.load: options: Invalid beta parameter at index 0: 1'],
      [{ ...good, options: { ...good.options, foo: 1 } }, 'adam.load: options: Unknown option "foo"'],
      [{ ...good, options: null }, 'adam.load: Expected an options object but got null'],
      [{ ...good, scalars: { muProduct: 1 } }, 'adam.load: Unknown scalar "muProduct"; expected none'],
      [{ ...good, scalars: 3 }, 'Expected a scalars object but got number'],
    ];
    for (const [state, message] of STATE) {
      throwsCode(() => opt.load(state as OptimizerState), 'ERR_BLASNET_STATE', Error, message);
    }
    const nadam = make({ name: 'nadam' });
    const ns = nadam.state();
    throwsCode(() => nadam.load({ ...ns, scalars: {} }), 'ERR_BLASNET_STATE', Error, 'nadam.load: Expected a finite number for scalars.muProduct but got undefined');
    throwsCode(() => nadam.load({ ...ns, scalars: { muProduct: 'Infinity' } } as unknown as OptimizerState), 'ERR_BLASNET_STATE', Error, 'scalars.muProduct');
    throwsCode(() => opt.load(null as unknown as OptimizerState), 'ERR_BLASNET_ARG_TYPE', TypeError, 'adam.load: Expected an OptimizerState object but received null');
    assert.deepEqual(opt.state(), before);
    opt.load(good);
    assert.deepEqual(opt.state(), good);
  });
});

forEachBackend('gradient clipping', (b) => {
  const target = (g: number[]) => ({ params: new Float32Array(g.length), grads: Float32Array.from(g), backend: b });

  it('clipGradNorm: the total 2-norm, scaled by maxNorm / (total + 1e-6) when above maxNorm', () => {
    const t = target([3, 0, -4]);
    assert.equal(clipGradNorm(t, 1), 5);
    const coef = 1 / (5 + 1e-6);
    assert.deepEqual(Array.from(t.grads), [3, 0, -4].map((v) => Math.fround(Math.fround(v) * Math.fround(coef))));
  });

  it('clipGradNorm leaves gradients alone at or below maxNorm (clip_coef >= 1)', () => {
    for (const maxNorm of [10, 6, 5 + 1e-6]) {
      const t = target([3, 0, -4]);
      assert.equal(clipGradNorm(t, maxNorm), 5);
      assert.deepEqual(Array.from(t.grads), [3, 0, -4], `maxNorm ${maxNorm}`);
    }
    // Just above: 4.9999 / 5.000001 < 1 scales.
    const t = target([3, 0, -4]);
    clipGradNorm(t, 4.9999);
    assert.ok(Math.abs(t.grads[2] + 4 * 4.9999 / (5 + 1e-6)) < 1e-6);
  });

  it('clipGradNorm with normType Infinity: max |g|', () => {
    const t = target([3, -4, 1]);
    assert.equal(clipGradNorm(t, 2, Infinity), 4);
    const coef = 2 / (4 + 1e-6);
    assert.ok(Array.from(t.grads).every((v, i) => Math.abs(v - [3, -4, 1][i] * coef) < 1e-6));
    const nan = target([1, NaN, 5]);
    assert.ok(Number.isNaN(clipGradNorm(nan, 1, Infinity)));
    assert.deepEqual(Array.from(nan.grads).map(String), ['1', 'NaN', '5'], 'a NaN norm leaves the gradients alone');
  });

  it('clipGradNorm with any normType p > 0: (sum |g|^p)^(1/p) over all gradients, as a float64 reference; 2 and Infinity as before', () => {
    const rng = new Rng(9);
    // Magnitudes over six decades, some zeros, both signs.
    const g = Array.from({ length: 301 }, (_, i) => (i % 50 === 0 ? 0 : Math.fround(rng.normal() * 10 ** rng.range(-3, 3))));
    const reference = (p: number) => (p === Infinity ? Math.max(...g.map(Math.abs)) : g.reduce((a, v) => a + Math.abs(v) ** p, 0) ** (1 / p));
    for (const p of [1, 3, 0.5, 2, Infinity, 1.5, 7]) {
      const want = reference(p);
      for (const ratio of [0.5, 2]) {
        const t = target(g);
        const maxNorm = want * ratio;
        const total = clipGradNorm(t, maxNorm, p);
        if (p === 2) assert.equal(total, Math.sqrt(b.sumSquares(g.length, Float32Array.from(g))), 'p = 2: one sumSquares call, as before');
        else if (p === Infinity) assert.equal(total, want, 'Infinity: max |g|, exact');
        else assert.ok(Math.abs(total - want) <= 1e-12 * want, `p = ${p}: ${total} vs ${want}`);
        const coef = maxNorm / (total + 1e-6);
        const expected = coef < 1 ? g.map((v) => Math.fround(Math.fround(v) * Math.fround(coef))) : g;
        assert.deepEqual(Array.from(t.grads), expected, `p = ${p}, maxNorm = ${ratio} x total`);
      }
    }
    // Neither overflow (2e4^100 is past float64) nor underflow ((4e-30)^20 is below it) where the norm is a float64 number.
    assert.ok(Math.abs(clipGradNorm(target([1e4, -2e4, 0]), 1e9, 100) - 2e4 * (1 + 2 ** -100) ** 0.01) < 1e-9);
    const [a, c] = [Math.fround(3e-30), Math.fround(4e-30)];
    const tiny = clipGradNorm(target([a, -c]), 1, 20);
    assert.ok(Math.abs(tiny - c * (1 + (a / c) ** 20) ** (1 / 20)) <= 1e-12 * tiny, `${tiny}`);
    assert.equal(clipGradNorm(target([0, 0]), 1, 3), 0);
    // A NaN total leaves the gradients alone; an infinite one zeroes them, as for p = 2.
    const nan = target([1, NaN, 5]);
    assert.ok(Number.isNaN(clipGradNorm(nan, 1, 3)));
    assert.deepEqual(Array.from(nan.grads).map(String), ['1', 'NaN', '5']);
    const inf = target([1, -Infinity, 5]);
    assert.equal(clipGradNorm(inf, 1, 0.5), Infinity);
    assert.deepEqual(Array.from(inf.grads).map(String), ['0', 'NaN', '0']);
  });

  it('clipGradNorm over a model: the norm of all parameters as if concatenated', () => {
    const model = new Sequential({ inputSize: 3, layers: [dense(4, { activation: 'tanh' }), dense(2)], seed: 1, backend: b, loss: 'mse' });
    const rng = new Rng(4);
    model.lossAndGradient(rng.uniformArray(15, -1, 1), rng.uniformArray(10, -1, 1));
    let sq = 0;
    for (const v of model.parameters()) for (const g of v.grad) sq += g * g;
    const before = model.grads.slice();
    const maxNorm = Math.sqrt(sq) / 4;
    const total = clipGradNorm(model, maxNorm);
    assert.ok(Math.abs(total - Math.sqrt(sq)) <= 1e-12 * total);
    const coef = maxNorm / (total + 1e-6);
    const after = Math.sqrt(model.grads.reduce((s, g) => s + g * g, 0));
    assert.ok(Math.abs(after - total * coef) < 1e-6 * total, `clipped norm ${after}`);
    assert.ok(normError(model.grads, before.map((g) => g * coef)) < 1e-6);
  });

  it('clipGradValue clamps to [-clipValue, clipValue]; NaN stays NaN', () => {
    const t = target([-3, 0.5, 2, NaN, -0.25]);
    clipGradValue(t, 1);
    assert.deepEqual(Array.from(t.grads).map(String), ['-1', '0.5', '1', 'NaN', '-0.25']);
    const z = target([-3, 2]);
    clipGradValue(z, 0);
    assert.deepEqual(Array.from(z.grads).map(Math.abs), [0, 0]);
  });

  it('bad arguments', () => {
    const t = target([1]);
    throwsCode(() => clipGradNorm(t, 0), 'ERR_BLASNET_ARG_RANGE', RangeError, 'clipGradNorm: Expected positive finite number for maxNorm but received 0');
    throwsCode(() => clipGradNorm(t, Infinity), 'ERR_BLASNET_ARG_RANGE', RangeError, 'maxNorm');
    throwsCode(() => clipGradNorm(t, NaN), 'ERR_BLASNET_ARG_RANGE', RangeError, 'maxNorm');
    throwsCode(() => clipGradNorm(t, '1' as unknown as number), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Expected number for maxNorm');
    for (const p of [0, -1, -Infinity, NaN, -0]) {
      throwsCode(() => clipGradNorm(t, 1, p), 'ERR_BLASNET_ARG_RANGE', RangeError, `clipGradNorm: Expected normType > 0 (a number or Infinity) but received ${p}`);
    }
    throwsCode(() => clipGradNorm(t, 1, '2' as unknown as number), 'ERR_BLASNET_ARG_TYPE', TypeError, 'clipGradNorm: Expected number for normType but received string');
    throwsCode(() => clipGradValue(t, -1), 'ERR_BLASNET_ARG_RANGE', RangeError, 'clipGradValue: Expected non-negative finite number for clipValue but received -1');
    throwsCode(() => clipGradValue(t, NaN), 'ERR_BLASNET_ARG_RANGE', RangeError, 'clipValue');
    throwsCode(() => clipGradValue({ grads: [1], backend: b } as unknown as typeof t, 1), 'ERR_BLASNET_ARG_TYPE', TypeError,
      'clipGradValue: Expected Float32Array for model.grads but received Array');
    assert.deepEqual(Array.from(t.grads), [1]);
  });
});

(nativeAvailable() || requireNative ? describe : describe.skip)('optimiser steps and subnormal numbers', () => {
  it('native: moments that decay below float32\'s normal range become zero, the weights are those of the js backend, and JavaScript keeps its subnormals', () => {
    const native = getBackend('native');
    // Half the weights never get a gradient (as an image's border pixels): their moments decay
    // geometrically, through the subnormal range (below 2^-126) after a few hundred Adam steps.
    const n = 1 << 16;
    const run = (b: Backend): [Float32Array, Float32Array] => {
      const target = { params: new Float32Array(n).fill(0.5), grads: new Float32Array(n), backend: b };
      const opt = createOptimizer({ name: 'adam', lr: 1e-3 }, target);
      for (let t = 0; t < 1500; t++) {
        for (let i = 0; i < n; i += 2) target.grads[i] = t === 0 || i % 4 === 0 ? 1e-3 * Math.cos(t + i) : 0;
        opt.step();
      }
      return [target.params, arenaOf(opt.state())];
    };
    const [pn, sn] = run(native);
    const [pj, sj] = run(jsBackend);
    const subnormal = (a: Float32Array) => a.filter((v) => v !== 0 && Math.abs(v) < 2 ** -126).length;
    assert.ok(subnormal(sj) > 1000, `the js backend keeps IEEE subnormal moments (${subnormal(sj)})`);
    assert.equal(subnormal(sn), 0, 'native flushes them to zero');
    // A subnormal moment moves no float32 weight: the weights agree as closely as anywhere else.
    assert.ok(normError(pn, pj) < 1e-6, `normalised error ${normError(pn, pj)}`);
    // The flush is scoped to the step: this thread's arithmetic still produces subnormals.
    assert.notEqual(Math.fround(2 ** -140), 0);
    assert.notEqual(new Float32Array([2 ** -140])[0], 0);
  });
});
