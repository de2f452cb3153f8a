/**
 * OneCycle's momentum cycling (lib/schedules.ts, lib/optim/optimizers.ts followSchedule): the
 * momentum sequence against the closed forms of torch.optim.lr_scheduler.OneCycleLR at chosen
 * steps (cos and linear, two and three phases), the optimiser's momentum/beta1 setter and its
 * errors, the update with a changing beta1 or momentum against a float64 reference on every
 * backend, fit's use of it, and the process warnings the lecture notes call for.
 */
import { strict as assert } from 'assert';
import {
  createOptimizer, createSchedule, dense, ErrorCode, followSchedule, Matrix, Rng, Sequential, Standardizer,
} from '../lib';
import type { Backend, ScheduleSpec } from '../lib';
import { forEachBackend, normError, throwsCode, warningsDuring } from './helpers';

const cosAnneal = (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1);
const linAnneal = (a: number, b: number, p: number) => a + (b - a) * p;

function momenta(spec: ScheduleSpec, steps: number): number[] {
  const s = createSchedule(spec, 0.1);
  const out = [s.momentum as number];
  for (let i = 0; i < steps; i++) {
    s.step();
    out.push(s.momentum as number);
  }
  return out;
}

function close(a: number, e: number, what: string): void {
  assert.ok(Math.abs(a - e) <= 1e-12 * Math.abs(e), `${what}: got ${a}, expected ${e}`);
}

describe('oneCycle momentum', () => {
  it('cos, two phases: 0.95 down to 0.85 by step 11, back to 0.95 at step 39 (totalSteps 40, pctStart 0.3)', () => {
    const m = momenta({ name: 'oneCycle', maxLr: 0.1, totalSteps: 40 }, 40);
    assert.equal(m[0], 0.95);
    for (const t of [0, 1, 5, 11]) close(m[t], cosAnneal(0.95, 0.85, t / 11), `t = ${t}`);
    for (const t of [12, 20, 30, 39, 40]) close(m[t], cosAnneal(0.85, 0.95, (t - 11) / 28), `t = ${t}`);
    close(m[11], 0.85, 'the lowest momentum at the lr peak');
    close(m[39], 0.95, 'back to maxMomentum at the end');
  });

  it('linear, three phases, custom bounds: down, up, then held at maxMomentum', () => {
    const spec: ScheduleSpec = {
      name: 'oneCycle', maxLr: 1, totalSteps: 40, pctStart: 0.25, annealStrategy: 'linear', threePhase: true,
      baseMomentum: 0.8, maxMomentum: 0.9,
    };
    const m = momenta(spec, 40);
    // Phase ends: 0.25 * 40 - 1 = 9, 2 * 0.25 * 40 - 2 = 18, 39.
    for (const t of [0, 3, 9]) close(m[t], linAnneal(0.9, 0.8, t / 9), `t = ${t}`);
    for (const t of [10, 14, 18]) close(m[t], linAnneal(0.8, 0.9, (t - 9) / 9), `t = ${t}`);
    for (const t of [19, 30, 39]) close(m[t], 0.9, `t = ${t}`);
    const lr = createSchedule(spec, 0);
    for (let t = 0; t < 14; t++) lr.step();
    close(lr.lr, linAnneal(1, 1 / 25, 5 / 9), 'the lr is unchanged by momentum cycling');
  });

  it('cos, three phases: the same steps as the lr', () => {
    const m = momenta({ name: 'oneCycle', maxLr: 0.1, totalSteps: 40, threePhase: true }, 40);
    for (const t of [0, 7, 11]) close(m[t], cosAnneal(0.95, 0.85, t / 11), `t = ${t}`);
    for (const t of [15, 22]) close(m[t], cosAnneal(0.85, 0.95, (t - 11) / 11), `t = ${t}`);
    for (const t of [23, 39]) close(m[t], 0.95, `t = ${t}`);
  });

  it('cycleMomentum false and other schedules leave momentum undefined', () => {
    assert.equal(createSchedule({ name: 'oneCycle', maxLr: 0.1, totalSteps: 10, cycleMomentum: false }, 0.1).momentum, undefined);
    assert.equal(createSchedule({ name: 'cosineAnnealing', tMax: 10 }, 0.1).momentum, undefined);
  });

  it('rejects bad momentum options with coded errors', () => {
    throwsCode(() => createSchedule({ name: 'oneCycle', maxLr: 0.1, totalSteps: 10, baseMomentum: -0.1 }, 0.1), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => createSchedule({ name: 'oneCycle', maxLr: 0.1, totalSteps: 10, cycleMomentum: 1 as never }, 0.1), ErrorCode.ARG_TYPE, TypeError);
  });
});

function target(b: Backend, n: number, seed: number) {
  const rng = new Rng(seed);
  return { params: rng.uniformArray(n), grads: new Float32Array(n), backend: b };
}

describe('Optimizer.momentum', () => {
  it('reads and sets sgd and rmsprop momentum and the Adam family\'s beta1; adagrad and adadelta have none', () => {
    const tgt = () => ({ params: new Float32Array(3), grads: new Float32Array(3), backend: new Sequential({ inputSize: 1, layers: [dense(1)] }).backend });
    const sgd = createOptimizer({ name: 'sgd', lr: 0.1, momentum: 0.5 }, tgt());
    assert.equal(sgd.momentum, 0.5);
    sgd.momentum = 0.9;
    assert.equal(sgd.momentum, 0.9);
    assert.equal(sgd.options.momentum, 0.9);
    const adam = createOptimizer({ name: 'adam', betas: [0.9, 0.99] }, tgt());
    assert.equal(adam.momentum, 0.9);
    adam.momentum = 0.85;
    assert.deepEqual(adam.options.betas, [0.85, 0.99]);
    assert.deepEqual(adam.state().options.betas, [0.85, 0.99]);
    throwsCode(() => { adam.momentum = 1; }, ErrorCode.ARG_RANGE, RangeError, 'Invalid beta parameter at index 0: 1');
    assert.deepEqual(adam.options.betas, [0.85, 0.99], 'a rejected value changes nothing');
    const nesterov = createOptimizer({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, tgt());
    throwsCode(() => { nesterov.momentum = 0; }, ErrorCode.ARG_RANGE, RangeError, 'Nesterov');
    assert.equal(nesterov.momentum, 0.9);
    assert.equal(createOptimizer({ name: 'rmsprop' }, tgt()).momentum, 0);
    for (const name of ['adagrad', 'adadelta'] as const) {
      const o = createOptimizer({ name }, tgt());
      assert.equal(o.momentum, undefined);
      throwsCode(() => { o.momentum = 0.9; }, ErrorCode.STATE);
    }
    throwsCode(() => { sgd.momentum = '0.9' as never; }, ErrorCode.ARG_TYPE, TypeError);
  });
});

forEachBackend('oneCycle momentum in the update', (b) => {
  const n = 37;
  const steps = 8;
  const spec: ScheduleSpec = { name: 'oneCycle', maxLr: 0.05, totalSteps: steps, pctStart: 0.4 };

  /** Gradients of step k, the same for the optimiser and the reference. */
  const gradsAt = (k: number) => new Rng(100 + k).uniformArray(n);

  it('adam with a cycled beta1 matches a float64 reference using the current beta1 in the bias correction', () => {
    const tg = target(b, n, 7);
    const p = Float64Array.from(tg.params);
    const m = new Float64Array(n), v = new Float64Array(n);
    const opt = createOptimizer({ name: 'adam', lr: 1 }, tg);
    const sched = createSchedule(spec, opt.lr);
    followSchedule(opt, sched);
    assert.equal(opt.momentum, 0.95, 'maxMomentum before the first step, as OneCycleLR sets it at construction');
    for (let k = 1; k <= steps; k++) {
      const g = gradsAt(k);
      tg.grads.set(g);
      const lr = sched.lr, b1 = sched.momentum as number, b2 = 0.999;
      opt.step();
      for (let i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** k) + 1e-8;
        p[i] -= (lr / (1 - b1 ** k)) * (m[i] / denom);
      }
      sched.step();
      followSchedule(opt, sched);
      const err = normError(tg.params, p);
      assert.ok(err < 2e-6, `step ${k}: normalised error ${err}`);
    }
    // Back at maxMomentum by t = 7; at the end (t = 8, totalSteps) followSchedule leaves the
    // last update's beta1: the schedule's value there is used by no update.
    assert.equal(opt.momentum, 0.95);
    assert.notEqual(sched.momentum, 0.95);
  });

  it('sgd (made without momentum) gets maxMomentum and follows the cycle, as PyTorch', () => {
    const tg = target(b, n, 8);
    const p = Float64Array.from(tg.params);
    const buf = new Float64Array(n);
    const opt = createOptimizer({ name: 'sgd', lr: 0.1 }, tg);
    const sched = createSchedule(spec, opt.lr);
    followSchedule(opt, sched);
    assert.equal(opt.momentum, 0.95);
    for (let k = 1; k <= steps; k++) {
      const g = gradsAt(k);
      tg.grads.set(g);
      const lr = sched.lr, mu = sched.momentum as number;
      opt.step();
      for (let i = 0; i < n; i++) {
        buf[i] = k === 1 ? g[i] : mu * buf[i] + g[i];
        p[i] -= lr * buf[i];
      }
      sched.step();
      followSchedule(opt, sched);
      const err = normError(tg.params, p);
      assert.ok(err < 2e-6, `step ${k}: normalised error ${err}`);
    }
  });

  it('fit cycles beta1 with a per-step oneCycle and rejects an optimiser without momentum', () => {
    const rng = new Rng(3);
    const x = rng.uniformArray(64 * 4), y = new Int32Array(64).map((_, i) => i % 3);
    const model = new Sequential({ inputSize: 4, layers: [dense(8, { activation: 'relu' }), dense(3)], backend: b });
    model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam' } });
    const total = 8;
    model.fit(x, y, { epochs: 2, batchSize: 16, schedule: { name: 'oneCycle', maxLr: 0.01, totalSteps: total }, scheduleEvery: 'step' });
    // After its 8 steps (totalSteps) the optimiser keeps the beta1 of the 8th, maxMomentum at
    // t = 7, not the schedule's extrapolation for t = 8, which no update uses.
    assert.equal(model.optimizer?.momentum, 0.95, 'beta1 after fit');
    const other = new Sequential({ inputSize: 4, layers: [dense(3)], backend: b });
    other.compile({ loss: 'crossEntropy', optimizer: { name: 'adagrad' } });
    const before = other.params.slice();
    throwsCode(() => other.fit(x, y, { schedule: { name: 'oneCycle', maxLr: 0.01, totalSteps: 4 }, scheduleEvery: 'step' }),
      ErrorCode.ARG_RANGE, RangeError, 'optimizer must support momentum or beta1');
    assert.deepEqual(other.params, before);
    other.fit(x, y, { schedule: { name: 'oneCycle', maxLr: 0.01, totalSteps: 4, cycleMomentum: false }, scheduleEvery: 'step' });
  });
});


describe('the lecture notes\' warnings', () => {
  const tgt = () => ({ params: new Float32Array(2), grads: new Float32Array(2), backend: new Sequential({ inputSize: 1, layers: [dense(1)] }).backend });

  it('exponential with gamma > 1 warns once per schedule made (BLASNET_EXPONENTIAL_GROWTH); gamma <= 1 does not', async () => {
    const w = await warningsDuring(() => {
      const s = createSchedule({ name: 'exponential', gamma: 1.1 }, 0.1);
      for (let i = 0; i < 5; i++) s.step();
      createSchedule({ name: 'exponential', gamma: 0.9 }, 0.1);
    });
    assert.deepEqual(w.map((e) => e.code), ['BLASNET_EXPONENTIAL_GROWTH']);
    assert.match(w[0].message, /gamma = 1\.1/);
  });

  it('adadelta with lr != 1 warns once per optimiser made (BLASNET_ADADELTA_LR); the default does not', async () => {
    const w = await warningsDuring(() => {
      const o = createOptimizer({ name: 'adadelta', lr: 0.5 }, tgt());
      o.step();
      o.step();
      createOptimizer({ name: 'adadelta' }, tgt());
    });
    assert.deepEqual(w.map((e) => e.code), ['BLASNET_ADADELTA_LR']);
  });
});

describe('Standardizer ddof', () => {
  const rows = [[1, 10], [2, 10], [4, 10], [7, 10]];
  it('ddof 1 divides by n - 1 (the notes\' sample standard deviation), ddof 0 by n (scikit-learn)', () => {
    const m = Matrix.from(rows);
    const mean = 3.5, ss = (1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2 + (7 - mean) ** 2;
    const s0 = new Standardizer().fit(m), s1 = new Standardizer({ ddof: 1 }).fit(m);
    close((s0.std as Float64Array)[0], Math.sqrt(ss / 4), 'ddof 0');
    close((s1.std as Float64Array)[0], Math.sqrt(ss / 3), 'ddof 1');
    assert.equal((s1.std as Float64Array)[1], 0);
    close(s1.transform(m).data[3 * 2], Math.fround((7 - mean) / Math.sqrt(ss / 3)), 'transform');
  });

  it('round-trips ddof through JSON; JSON without ddof (older files) loads as ddof 0', () => {
    const s1 = new Standardizer({ ddof: 1 }).fit(Matrix.from(rows));
    const json = JSON.parse(JSON.stringify(s1.toJSON()));
    assert.equal(json.ddof, 1);
    const back = Standardizer.fromJSON(json);
    assert.equal(back.ddof, 1);
    assert.deepEqual(back.std, s1.std);
    const { ddof, ...old } = json;
    void ddof;
    assert.equal(Standardizer.fromJSON(old).ddof, 0);
    throwsCode(() => Standardizer.fromJSON({ ...json, ddof: 2 }), ErrorCode.FORMAT);
  });

  it('rejects a bad ddof and too few rows for ddof 1', () => {
    throwsCode(() => new Standardizer({ ddof: 2 as never }), ErrorCode.ARG_RANGE, RangeError, 'ddof');
    throwsCode(() => new Standardizer({ ddof: 1 }).fit(Matrix.from([[1, 2]])), ErrorCode.SHAPE, RangeError, 'at least 2 rows');
  });
});
