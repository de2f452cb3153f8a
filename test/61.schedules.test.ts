/**
 * Learning-rate schedules (lib/schedules.ts): for every schedule the lr over 40 steps against
 * values written here from the documented formula (torch.optim.lr_scheduler's closed forms and,
 * for the chainable classes, also PyTorch's step-by-step recursion), reduceOnPlateau against
 * hand-traced sequences and a hand loop of PyTorch's rule, exact state round trips through JSON,
 * and every error with its code. Closed forms are compared at 1e-12 relative; round trips with
 * strictEqual.
 */
import { strict as assert } from 'assert';
import { BlasnetError, createOptimizer, createSchedule, ErrorCode, followSchedule, jsBackend, SCHEDULE_NAMES, SCHEDULES } from '../lib';
import type { Schedule, ScheduleName, ScheduleSpec, ScheduleState } from '../lib';
import { throwsCode } from './helpers';

const STEPS = 40;
const TOL = 1e-12;

/** The lr for t = 0 (before any step) and after each of `steps` steps. */
function run(spec: ScheduleSpec, base: number, steps = STEPS, metrics?: readonly number[]): number[] {
  const s = createSchedule(spec, base);
  const out = [s.lr];
  for (let i = 0; i < steps; i++) {
    out.push(metrics ? s.step(metrics[i]) : s.step());
    assert.equal(s.count, i + 1);
    assert.equal(s.lr, out[out.length - 1]);
  }
  return out;
}

/**
 * Every value within 1e-12 relative of the expected one. `scale` (default 0) is a floor for the
 * denominator, for sequences that pass through zero, where relative error means nothing.
 */
function assertClose(actual: readonly number[], expected: readonly number[], what: string, scale = 0): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let t = 0; t < expected.length; t++) {
    const a = actual[t], e = expected[t];
    assert.ok(Number.isFinite(e), `${what}: expected[${t}] = ${e}`);
    if (a === e) continue;
    const err = Math.abs(a - e) / Math.max(Math.abs(e), scale);
    assert.ok(err <= TOL, `${what}: t = ${t}: got ${a}, expected ${e} (relative error ${err})`);
  }
}

const seq = (f: (t: number) => number, steps = STEPS) => Array.from({ length: steps + 1 }, (_, t) => f(t));

/** PyTorch's chainable recursion: lr_0, then lr_t = next(lr_{t-1}, t). */
function recursion(lr0: number, next: (lr: number, t: number) => number, steps = STEPS): number[] {
  const out = [lr0];
  for (let t = 1; t <= steps; t++) out.push(next(out[t - 1], t));
  return out;
}

/** A scripted metric sequence for reduceOnPlateau: improvements, plateaus, a spike, noise. */
const METRICS: readonly number[] = [
  10, 9, 8.5, 8.5, 8.5, 8.49999, 8.5, 8.6, 8.4, 8.4,
  8.4, 8.4, 7, 7, 7.5, 7, 7, 7, 7, 6.9999,
  6.9, 6.9, 6.9, 6.9, 6.9, 6.9, 100, 6.8, 6.8, 6.8,
  6.8, 6.8, 6.8, 6.8, 6.8, 6.8, 6.8, 6.8, 6.8, 6.8,
];

interface Case {
  title: string;
  spec: ScheduleSpec;
  base: number;
  expected: (t: number) => number;
  /** PyTorch's step() recursion for the chainable classes, when it is written below. */
  chain?: number[];
  scale?: number;
}

// ---------------------------------------------------------------------------------------------
// Expected values, one small formula per schedule

const cosine = (base: number, etaMin: number, tMax: number) => (t: number) =>
  // cos^2 form of (1 + cos x) / 2, so the expectation is not the implementation's expression
  etaMin + (base - etaMin) * Math.cos((Math.PI * t) / (2 * tMax)) ** 2;

/** SGDR position for tMult = 2 from the closed form n = floor(log2(t / t0 + 1)). */
function sgdr2(base: number, etaMin: number, t0: number) {
  return (t: number) => {
    const n = Math.floor(Math.log2(t / t0 + 1));
    const tCur = t - t0 * (2 ** n - 1);
    const tI = t0 * 2 ** n;
    return etaMin + (base - etaMin) * Math.cos((Math.PI * tCur) / (2 * tI)) ** 2;
  };
}

/** CLR from integer positions: p steps into a cycle of up + down, cycle number c (from 1). */
function clr(lo: number, hi: number, up: number, down: number, scale: (c: number, t: number) => number) {
  return (t: number) => {
    const p = t % (up + down);
    const c = Math.floor(t / (up + down)) + 1;
    const rise = p <= up ? p / up : (up + down - p) / down;
    return lo + (hi - lo) * rise * scale(c, t);
  };
}

/**
 * 1cycle from the documented phase points: the phases run (s, e] with the given end steps, from
 * a to b; cos: b + (a - b)(1 + cos(pi p)) / 2, linear: a + (b - a) p, p = (t - s) / (e - s); the
 * last phase takes every later t.
 */
function oneCycle(points: readonly [number, number, number][], strategy: 'cos' | 'linear') {
  return (t: number) => {
    let s = 0;
    for (let i = 0; i < points.length; i++) {
      const [e, a, b] = points[i];
      if (t <= e || i === points.length - 1) {
        const p = (t - s) / (e - s);
        return strategy === 'cos' ? b + ((a - b) * (1 + Math.cos(Math.PI * p))) / 2 : a + (b - a) * p;
      }
      s = e;
    }
    throw new Error('unreachable');
  };
}

const CASES: Case[] = [
  {
    title: 'constant: PyTorch defaults factor 1/3 for 5 steps',
    spec: { name: 'constant' }, base: 0.05,
    expected: (t) => (t < 5 ? 0.05 / 3 : 0.05),
    chain: recursion(0.05 / 3, (lr, t) => (t === 5 ? lr * 3 : lr)),
  },
  {
    title: 'constant: factor 0.5 for 40 steps (PyTorch\'s example: 0.025, then 0.05 at 40)',
    spec: { name: 'constant', factor: 0.5, totalIters: 40 }, base: 0.05,
    expected: (t) => (t < 40 ? 0.025 : 0.05),
  },
  { title: 'constant: factor 1 is a plain constant', spec: { name: 'constant', factor: 1 }, base: 0.3, expected: () => 0.3 },
  { title: 'constant: totalIters 0 is a plain constant', spec: { name: 'constant', totalIters: 0 }, base: 0.3, expected: () => 0.3 },
  {
    title: 'step: stepSize 7, gamma 0.5',
    spec: { name: 'step', stepSize: 7, gamma: 0.5 }, base: 0.1,
    expected: (t) => 0.1 / 2 ** Math.floor(t / 7),
    chain: recursion(0.1, (lr, t) => (t % 7 === 0 ? lr * 0.5 : lr)),
  },
  {
    title: 'step: default gamma 0.1',
    spec: { name: 'step', stepSize: 15 }, base: 0.05,
    expected: (t) => (t < 15 ? 0.05 : t < 30 ? 0.005 : 0.0005),
    chain: recursion(0.05, (lr, t) => (t % 15 === 0 ? lr * 0.1 : lr)),
  },
  {
    title: 'multiStep: unsorted milestones with a repeat decay once per listing',
    spec: { name: 'multiStep', milestones: [30, 12, 5, 12], gamma: 0.5 }, base: 0.2,
    expected: (t) => 0.2 * (t >= 5 ? 0.5 : 1) * (t >= 12 ? 0.25 : 1) * (t >= 30 ? 0.5 : 1),
    chain: recursion(0.2, (lr, t) => (t === 5 || t === 30 ? lr * 0.5 : t === 12 ? lr * 0.5 ** 2 : lr)),
  },
  {
    title: 'multiStep: milestone 0 applies at step 0, default gamma 0.1',
    spec: { name: 'multiStep', milestones: [0, 20] }, base: 1,
    expected: (t) => (t < 20 ? 0.1 : 0.01),
  },
  { title: 'multiStep: no milestones is a constant', spec: { name: 'multiStep', milestones: [] }, base: 0.7, expected: () => 0.7 },
  {
    title: 'exponential: gamma 0.9',
    spec: { name: 'exponential', gamma: 0.9 }, base: 0.05,
    expected: (t) => 0.05 * Math.exp(t * Math.log(0.9)),
    chain: recursion(0.05, (lr) => lr * 0.9),
  },
  {
    title: 'cosineAnnealing: tMax 15, etaMin 0.001, continuing past tMax',
    spec: { name: 'cosineAnnealing', tMax: 15, etaMin: 0.001 }, base: 0.1,
    expected: cosine(0.1, 0.001, 15),
    chain: recursion(0.1, (lr, t) => ((t - 1 - 15) % 30 === 0
      ? lr + ((0.1 - 0.001) * (1 - Math.cos(Math.PI / 15))) / 2
      : ((1 + Math.cos((Math.PI * t) / 15)) / (1 + Math.cos((Math.PI * (t - 1)) / 15))) * (lr - 0.001) + 0.001)),
  },
  {
    title: 'cosineAnnealing: tMax 40, default etaMin 0 (reaches 0 at step 40)',
    spec: { name: 'cosineAnnealing', tMax: 40 }, base: 0.1,
    expected: cosine(0.1, 0, 40), scale: 0.1,
  },
  {
    title: 'cosineWarmRestarts: t0 3, tMult 2, etaMin 0.01 (restarts at 3, 9, 21)',
    spec: { name: 'cosineWarmRestarts', t0: 3, tMult: 2, etaMin: 0.01 }, base: 0.1,
    expected: sgdr2(0.1, 0.01, 3),
  },
  {
    title: 'cosineWarmRestarts: t0 7, default tMult 1 and etaMin 0',
    spec: { name: 'cosineWarmRestarts', t0: 7 }, base: 0.1,
    expected: (t) => 0.1 * Math.cos((Math.PI * (t % 7)) / 14) ** 2,
  },
  {
    title: 'cyclic: triangular, baseLr option 0.01, up 4, down 6',
    spec: { name: 'cyclic', baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4, stepSizeDown: 6 }, base: 0.05,
    expected: clr(0.01, 0.1, 4, 6, () => 1),
  },
  {
    title: 'cyclic: triangular2 from the schedule\'s base lr, down defaulting to up = 3',
    spec: { name: 'cyclic', maxLr: 0.1, stepSizeUp: 3, mode: 'triangular2' }, base: 0.01,
    expected: clr(0.01, 0.1, 3, 3, (c) => 0.5 ** (c - 1)),
  },
  {
    title: 'cyclic: triangular2 ignores scaleMode without scaleFn (as PyTorch)',
    spec: { name: 'cyclic', maxLr: 0.1, stepSizeUp: 3, mode: 'triangular2', scaleMode: 'iterations' }, base: 0.01,
    expected: clr(0.01, 0.1, 3, 3, (c) => 0.5 ** (c - 1)),
  },
  {
    title: 'cyclic: expRange, gamma 0.97 per iteration, up 5, down 5',
    spec: { name: 'cyclic', baseLr: 0.001, maxLr: 0.006, stepSizeUp: 5, stepSizeDown: 5, mode: 'expRange', gamma: 0.97 }, base: 0.5,
    expected: clr(0.001, 0.006, 5, 5, (_c, t) => Math.exp(t * Math.log(0.97))),
  },
  {
    title: 'cyclic: custom scaleFn by iterations (mode ignored)',
    spec: { name: 'cyclic', maxLr: 1, stepSizeUp: 2, stepSizeDown: 4, mode: 'triangular2', scaleFn: (x) => 1 / (1 + x / 10), scaleMode: 'iterations' },
    base: 0.1,
    expected: clr(0.1, 1, 2, 4, (_c, t) => 10 / (10 + t)),
  },
  {
    title: 'cyclic: custom scaleFn by cycle',
    spec: { name: 'cyclic', maxLr: 1, stepSizeUp: 2, stepSizeDown: 4, scaleFn: (x) => 1 / x }, base: 0.1,
    expected: clr(0.1, 1, 2, 4, (c) => 1 / c),
  },
  {
    title: 'cyclic: stepSizeDown 0 is a sawtooth',
    spec: { name: 'cyclic', maxLr: 1, stepSizeUp: 8, stepSizeDown: 0 }, base: 0,
    expected: (t) => (t % 8) / 8,
  },
  {
    title: 'oneCycle: cos, totalSteps 40 (up to step 11, down to step 39, step 40 as PyTorch)',
    spec: { name: 'oneCycle', maxLr: 0.1, totalSteps: 40 }, base: 123,
    expected: oneCycle([[11, 0.004, 0.1], [39, 0.1, 0.004 / 1e4]], 'cos'),
  },
  {
    title: 'oneCycle: linear, pctStart 0.25, divFactor 10, finalDivFactor 100',
    spec: { name: 'oneCycle', maxLr: 1, totalSteps: 40, pctStart: 0.25, annealStrategy: 'linear', divFactor: 10, finalDivFactor: 100 },
    base: 0.5,
    expected: oneCycle([[9, 0.1, 1], [39, 1, 0.001]], 'linear'),
  },
  {
    title: 'oneCycle: threePhase, cos (up to 11, down to 22, to the minimum at 39)',
    spec: { name: 'oneCycle', maxLr: 0.1, totalSteps: 40, threePhase: true }, base: 0.5,
    expected: oneCycle([[11, 0.004, 0.1], [22, 0.1, 0.004], [39, 0.004, 0.004 / 1e4]], 'cos'),
  },
  {
    title: 'oneCycle: threePhase, linear, totalSteps 50 (up to 14, down to 28, to the minimum at 49)',
    spec: { name: 'oneCycle', maxLr: 2, totalSteps: 50, threePhase: true, annealStrategy: 'linear' }, base: 0.5,
    expected: oneCycle([[14, 0.08, 2], [28, 2, 0.08], [49, 0.08, 0.08 / 1e4]], 'linear'),
  },
  {
    title: 'linear: startFactor 0.25 to endFactor 0.75 over 20 steps',
    spec: { name: 'linear', startFactor: 0.25, endFactor: 0.75, totalIters: 20 }, base: 0.4,
    expected: (t) => 0.4 * ((1 - Math.min(t, 20) / 20) * 0.25 + (Math.min(t, 20) / 20) * 0.75),
    chain: recursion(0.4 * 0.25, (lr, t) => (t > 20 ? lr : lr * (1 + 0.5 / (20 * 0.25 + (t - 1) * 0.5)))),
  },
  {
    title: 'linear: PyTorch defaults 1/3 to 1 over 5 steps',
    spec: { name: 'linear' }, base: 0.05,
    expected: (t) => (t >= 5 ? 0.05 : 0.05 * (1 + 2 * t / 5) / 3),
    chain: recursion(0.05 / 3, (lr, t) => (t > 5 ? lr : lr * (1 + (2 / 3) / (5 / 3 + (t - 1) * (2 / 3))))),
  },
  {
    title: 'polynomial: totalIters 30, power 2',
    spec: { name: 'polynomial', totalIters: 30, power: 2 }, base: 0.1,
    expected: (t) => (t >= 30 ? 0 : (0.1 * (30 - t) * (30 - t)) / 900),
    chain: recursion(0.1, (lr, t) => (t > 30 ? lr : lr * ((1 - t / 30) / (1 - (t - 1) / 30)) ** 2)),
  },
  {
    title: 'polynomial: PyTorch defaults totalIters 5, power 1',
    spec: { name: 'polynomial' }, base: 0.05,
    expected: (t) => (t >= 5 ? 0 : (0.05 * (5 - t)) / 5),
  },
  {
    title: 'polynomial: power 0.9 over 50 steps (PyTorch\'s example)',
    spec: { name: 'polynomial', totalIters: 50, power: 0.9 }, base: 0.05,
    expected: (t) => 0.05 * Math.exp(0.9 * Math.log((50 - t) / 50)),
  },
  {
    title: 'inverseSqrt: warmupSteps 8',
    spec: { name: 'inverseSqrt', warmupSteps: 8 }, base: 0.01,
    expected: (t) => (t <= 8 ? 0.01 : 0.01 / Math.sqrt(t / 8)),
  },
  {
    title: 'inverseScaling: default powerT 0.5',
    spec: { name: 'inverseScaling' }, base: 0.1,
    expected: (t) => 0.1 / Math.sqrt(t + 1),
  },
  {
    title: 'inverseScaling: powerT 0.25 (SGDRegressor\'s default)',
    spec: { name: 'inverseScaling', powerT: 0.25 }, base: 0.01,
    expected: (t) => 0.01 / Math.sqrt(Math.sqrt(t + 1)),
  },
  {
    title: 'stepDecay: d 0.5 every ed = 10 epochs',
    spec: { name: 'stepDecay', d: 0.5, ed: 10 }, base: 0.08,
    expected: (t) => [0.08, 0.04, 0.02, 0.01, 0.005][Math.floor(t / 10)],
  },
  {
    title: 'linearDecay: tau 25, default alpha 0.01',
    spec: { name: 'linearDecay', tau: 25 }, base: 0.5,
    expected: (t) => (t >= 25 ? 0.005 : 0.5 - (0.495 * t) / 25),
  },
  {
    title: 'linearDecay: tau 30 to finalLr 0.002',
    spec: { name: 'linearDecay', tau: 30, finalLr: 0.002 }, base: 0.1,
    expected: (t) => (t >= 30 ? 0.002 : 0.1 - (0.098 * t) / 30),
  },
  {
    title: 'linearDecay: tau 10, alpha 0.1',
    spec: { name: 'linearDecay', tau: 10, alpha: 0.1 }, base: 1,
    expected: (t) => (t >= 10 ? 0.1 : 1 - 0.09 * t),
  },
  {
    title: 'warmup: 5 steps from 0.1 into cosine annealing (tMax 30)',
    spec: { name: 'warmup', warmupSteps: 5, startFactor: 0.1, then: { name: 'cosineAnnealing', tMax: 30 } }, base: 0.2,
    expected: (t) => (t < 5 ? 0.2 * (0.1 + 0.18 * t) : cosine(0.2, 0, 30)(t - 5)), scale: 0.2,
  },
  {
    title: 'warmup: from zero over 10 steps, then constant',
    spec: { name: 'warmup', warmupSteps: 10, startFactor: 0 }, base: 0.3,
    expected: (t) => (t < 10 ? (0.3 * t) / 10 : 0.3), scale: 0.3,
  },
  {
    title: 'warmup: default startFactor 1/3 into inverseSqrt',
    spec: { name: 'warmup', warmupSteps: 4, then: { name: 'inverseSqrt', warmupSteps: 2 } }, base: 0.03,
    expected: (t) => (t < 4 ? (0.03 * (1 + t / 2)) / 3 : t - 4 <= 2 ? 0.03 : 0.03 * Math.sqrt(2 / (t - 4))),
  },
  {
    title: 'sequential: PyTorch\'s example, constant 0.1 for 20 steps then exponential 0.9 from milestone 20',
    spec: { name: 'sequential', schedules: [{ name: 'constant', factor: 0.1, totalIters: 20 }, { name: 'exponential', gamma: 0.9 }], milestones: [20] },
    base: 0.05,
    expected: (t) => (t < 20 ? 0.005 : 0.05 * 0.9 ** (t - 20)),
  },
  {
    title: 'sequential: linear, then step decay from 10, then cosine from 25; each from its own step 0',
    spec: {
      name: 'sequential',
      schedules: [
        { name: 'linear', startFactor: 0.5, totalIters: 10 },
        { name: 'step', stepSize: 5, gamma: 0.5 },
        { name: 'cosineAnnealing', tMax: 15, etaMin: 0.01 },
      ],
      milestones: [10, 25],
    },
    base: 0.1,
    expected: (t) => (t < 10 ? 0.1 * (0.5 + (0.5 * t) / 10) : t < 25 ? 0.1 * 0.5 ** Math.floor((t - 10) / 5) : cosine(0.1, 0.01, 15)(t - 25)),
  },
  {
    title: 'sequential: one schedule and no milestones is that schedule',
    spec: { name: 'sequential', schedules: [{ name: 'exponential', gamma: 0.95 }], milestones: [] }, base: 1,
    expected: (t) => 0.95 ** t,
  },
  {
    title: 'sequential inside warmup, warmup inside sequential',
    spec: {
      name: 'warmup', warmupSteps: 3, startFactor: 0.4,
      then: {
        name: 'sequential',
        schedules: [{ name: 'constant', factor: 1 }, { name: 'warmup', warmupSteps: 2, startFactor: 0.5 }],
        milestones: [7],
      },
    },
    base: 0.1,
    expected: (t) => (t < 3 ? 0.1 * (0.4 + 0.2 * t) : t - 3 < 7 ? 0.1 : t - 10 < 2 ? 0.1 * (0.5 + 0.25 * (t - 10)) : 0.1),
  },
];

// ---------------------------------------------------------------------------------------------
// reduceOnPlateau: PyTorch's rule as a hand loop

interface PlateauOptions {
  mode: 'min' | 'max'; factor: number; patience: number; threshold: number; thresholdMode: 'rel' | 'abs';
  cooldown: number; minLr: number; eps: number;
}
const PLATEAU_DEFAULTS: PlateauOptions = {
  mode: 'min', factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: 'rel', cooldown: 0, minLr: 0, eps: 1e-8,
};

function plateauByHand(base: number, given: Partial<PlateauOptions>, metrics: readonly number[]): number[] {
  const o = { ...PLATEAU_DEFAULTS, ...given };
  let lr = base, best = o.mode === 'min' ? Infinity : -Infinity, bad = 0, cool = 0;
  const out = [lr];
  for (const m of metrics) {
    // PyTorch's _is_better: a relative threshold scales best itself (so it loosens for negative best)
    const better = o.mode === 'min'
      ? (o.thresholdMode === 'rel' ? m < best * (1 - o.threshold) : m < best - o.threshold)
      : (o.thresholdMode === 'rel' ? m > best * (1 + o.threshold) : m > best + o.threshold);
    if (better) {
      best = m;
      bad = 0;
    } else {
      bad++;
    }
    if (cool > 0) {
      cool--;
      bad = 0;
    }
    if (bad > o.patience) {
      const cut = Math.max(lr * o.factor, o.minLr);
      if (lr - cut > o.eps) lr = cut;
      cool = o.cooldown;
      bad = 0;
    }
    out.push(lr);
  }
  return out;
}

const PLATEAU_CASES: { title: string; options: Partial<PlateauOptions>; base: number; metrics: readonly number[] }[] = [
  { title: 'defaults (patience 10)', options: {}, base: 0.1, metrics: METRICS },
  { title: 'patience 2, factor 0.5, cooldown 3', options: { patience: 2, factor: 0.5, cooldown: 3 }, base: 1, metrics: METRICS },
  { title: 'patience 0, minLr 0.002 clamps', options: { patience: 0, factor: 0.3, minLr: 0.002 }, base: 0.1, metrics: METRICS },
  { title: 'thresholdMode abs 0.05', options: { patience: 1, thresholdMode: 'abs', threshold: 0.05 }, base: 0.1, metrics: METRICS },
  {
    title: 'mode max (accuracy), rel threshold 0.01',
    options: { mode: 'max', patience: 2, threshold: 0.01, factor: 0.5 }, base: 0.1,
    metrics: METRICS.map((m) => 1 / m),
  },
  {
    title: 'mode max, abs, eps 0.02 stops small cuts',
    options: { mode: 'max', thresholdMode: 'abs', threshold: 0.001, patience: 0, factor: 0.5, eps: 0.02 }, base: 0.1,
    metrics: METRICS.map((m) => -m),
  },
];

// ---------------------------------------------------------------------------------------------

describe('schedules: the table', () => {
  it('has the documented schedules, each with a doc naming its formula', () => {
    assert.deepEqual(SCHEDULE_NAMES, [
      'constant', 'step', 'multiStep', 'exponential', 'cosineAnnealing', 'cosineWarmRestarts', 'cyclic', 'oneCycle',
      'linear', 'polynomial', 'inverseSqrt', 'inverseScaling', 'stepDecay', 'linearDecay', 'warmup', 'sequential',
      'reduceOnPlateau',
    ]);
    for (const name of SCHEDULE_NAMES) {
      const doc = SCHEDULES[name].doc;
      assert.ok(doc.length > 80, `${name}: doc too short`);
      assert.ok(/lr|eta/.test(doc), `${name}: doc gives no formula`);
    }
  });

  it('every schedule is covered by a sequence test below', () => {
    const covered = new Set<ScheduleName>([...CASES.map((c) => c.spec.name), 'reduceOnPlateau']);
    assert.deepEqual(SCHEDULE_NAMES.filter((n) => !covered.has(n)), []);
  });
});

describe('schedules: 40 steps against the documented formulas', () => {
  for (const c of CASES) {
    it(c.title, () => {
      const got = run(c.spec, c.base);
      assertClose(got, seq(c.expected), 'closed form', c.scale);
      if (c.chain) assertClose(got, c.chain, 'PyTorch\'s chainable recursion', c.scale);
    });
  }

  it('lr before any step is the step-0 value; count starts at 0', () => {
    const s = createSchedule({ name: 'linear', startFactor: 0.5, totalIters: 4 }, 0.2);
    assert.equal(s.count, 0);
    assert.equal(s.lr, 0.1);
    assert.equal(s.name, 'linear');
  });

  it('curve schedules ignore a metric passed to step()', () => {
    const a = createSchedule({ name: 'step', stepSize: 2 }, 1);
    const b = createSchedule({ name: 'step', stepSize: 2 }, 1);
    for (let i = 0; i < 6; i++) assert.equal(a.step(i * 3.5), b.step());
  });

  it('warmup equals SequentialLR([LinearLR(startFactor, 1, warmupSteps), then], [warmupSteps])', () => {
    const then: ScheduleSpec = { name: 'cosineWarmRestarts', t0: 6, tMult: 2 };
    const w = run({ name: 'warmup', warmupSteps: 7, startFactor: 0.2, then }, 0.1);
    const s = run({ name: 'sequential', schedules: [{ name: 'linear', startFactor: 0.2, totalIters: 7 }, then], milestones: [7] }, 0.1);
    assertClose(w, s, 'warmup vs sequential');
  });

  it("a oneCycle in warmup or sequential sets the base the others run from (its maxLr / divFactor), and so does a leading cyclic's baseLr, as SequentialLR's initial_lr does", () => {
    // PyTorch 1.13: OneCycleLR's constructor overwrites the param group's initial_lr, which
    // SequentialLR resets the lr to before its first scheduler runs (chained), and which the
    // schedulers built after it take as their base_lrs; CyclicLR sets the lr to its base_lr first.
    const oneCycle = (totalSteps: number): ScheduleSpec => ({ name: 'oneCycle', maxLr: 0.02, totalSteps });
    const oc = (totalSteps: number) => run(oneCycle(totalSteps), 0.01, totalSteps - 1);
    const oc18 = oc(18), oc15 = oc(15), oc10 = oc(10);
    const start = 0.02 / 25;
    assertClose(run({ name: 'warmup', warmupSteps: 3, startFactor: 0.2, then: oneCycle(18) }, 0.01, 20),
      seq((t) => (t < 3 ? start * (0.2 + (0.8 * t) / 3) : oc18[t - 3]), 20), 'warmup into oneCycle');
    assertClose(run({ name: 'sequential', schedules: [{ name: 'constant', factor: 0.5, totalIters: 3 }, oneCycle(15)], milestones: [6] }, 0.01, 20),
      seq((t) => (t < 3 ? 0.5 * start : t < 6 ? start : oc15[t - 6]), 20), 'constant, then oneCycle');
    assertClose(run({ name: 'sequential', schedules: [oneCycle(10), { name: 'exponential', gamma: 0.9 }], milestones: [10] }, 0.01, 20),
      seq((t) => (t < 10 ? oc10[t] : start * 0.9 ** (t - 10)), 20), 'oneCycle, then exponential', start);
    const cyclic: ScheduleSpec = { name: 'cyclic', baseLr: 0.002, maxLr: 0.02, stepSizeUp: 3 };
    const cyc = run(cyclic, 0.01, 5);
    assertClose(run({ name: 'sequential', schedules: [cyclic, { name: 'exponential', gamma: 0.9 }], milestones: [5] }, 0.01, 20),
      seq((t) => (t < 5 ? cyc[t] : 0.002 * 0.9 ** (t - 5)), 20), 'cyclic, then exponential');
    // A cyclic after the first schedule leaves the others' base alone (its own base_lr is its own).
    assertClose(run({ name: 'sequential', schedules: [{ name: 'exponential', gamma: 0.9 }, cyclic], milestones: [4] }, 0.01, 10),
      seq((t) => (t < 4 ? 0.01 * 0.9 ** t : run(cyclic, 0.01, 10)[t - 4]), 10), 'exponential, then cyclic');
  });

  it('stepDecay is step with gamma = d, stepSize = ed', () => {
    assert.deepEqual(run({ name: 'stepDecay', d: 0.3, ed: 4 }, 0.7), run({ name: 'step', gamma: 0.3, stepSize: 4 }, 0.7));
  });

  it('oneCycle ignores the base lr, starts at maxLr / divFactor and peaks at maxLr', () => {
    const a = run({ name: 'oneCycle', maxLr: 0.5, totalSteps: 40 }, 0.001);
    assert.deepEqual(run({ name: 'oneCycle', maxLr: 0.5, totalSteps: 40 }, 7), a);
    assertClose([a[0]], [0.5 / 25], 'initial lr');
    assert.equal(Math.max(...a), 0.5);
    assert.equal(a.indexOf(0.5), 11);
    assert.ok(Math.abs(a[39] - 0.5 / 25 / 1e4) <= 1e-18, `minimum at step 39: ${a[39]}`);
  });

  it('oneCycle: a step past totalSteps throws ERR_BLASNET_STATE and changes nothing', () => {
    const s = createSchedule({ name: 'oneCycle', maxLr: 1, totalSteps: 10 }, 0.1);
    for (let i = 0; i < 10; i++) s.step();
    const lr = s.lr;
    throwsCode(() => s.step(), ErrorCode.STATE, undefined, 'Tried to step 11 times. The specified number of total steps is 10');
    assert.equal(s.count, 10);
    assert.equal(s.lr, lr);
    throwsCode(() => s.step(), ErrorCode.STATE);
  });

  it('oneCycle nested in sequential throws past its totalSteps, naming its path', () => {
    const s = createSchedule({
      name: 'sequential', schedules: [{ name: 'oneCycle', maxLr: 1, totalSteps: 5 }, { name: 'constant', factor: 1 }], milestones: [8],
    }, 0.1);
    for (let i = 0; i < 5; i++) s.step();
    throwsCode(() => s.step(), ErrorCode.STATE, undefined, 'sequential.schedules[0].oneCycle: Tried to step 6 times');
    assert.equal(s.count, 5);
  });

  it('stepLimit: a oneCycle\'s totalSteps, where one nested in warmup or sequential ends, none for the others', () => {
    const oneCycle = { name: 'oneCycle' as const, maxLr: 1, totalSteps: 5 };
    const limit = (spec: ScheduleSpec) => createSchedule(spec, 0.1).stepLimit;
    assert.equal(limit(oneCycle), 5);
    assert.equal(limit({ name: 'warmup', warmupSteps: 3, then: oneCycle }), 8);
    assert.equal(limit({ name: 'sequential', schedules: [{ name: 'constant' }, oneCycle], milestones: [4] }), 9);
    // A oneCycle before a milestone ends the sequence where it runs out; one that reaches the
    // milestone (its last value used by one step, as in PyTorch) does not.
    assert.equal(limit({ name: 'sequential', schedules: [oneCycle, { name: 'constant' }], milestones: [8] }), 5);
    assert.equal(limit({ name: 'sequential', schedules: [oneCycle, { name: 'constant' }], milestones: [6] }), undefined);
    for (const spec of [{ name: 'cosineAnnealing', tMax: 10 }, { name: 'linear' }, { name: 'polynomial', power: 2 }, { name: 'reduceOnPlateau' },
      { name: 'warmup', warmupSteps: 3 }] as ScheduleSpec[]) {
      assert.equal(limit(spec), undefined, spec.name);
    }
  });

  it('followSchedule at a oneCycle\'s end keeps the last lr and momentum an update used (PyTorch\'s extrapolation there is negative with "linear")', () => {
    const s = createSchedule({ name: 'oneCycle', maxLr: 0.1, totalSteps: 4, annealStrategy: 'linear' }, 0.1);
    const opt = createOptimizer({ name: 'sgd', lr: 0.1, momentum: 0.9 }, { params: new Float32Array(3), grads: new Float32Array(3), backend: jsBackend });
    followSchedule(opt, s);
    for (let i = 0; i < 3; i++) {
      s.step();
      followSchedule(opt, s);
    }
    const used = { lr: opt.lr, momentum: opt.momentum };
    assert.equal(used.lr, s.lr);
    s.step();
    // The schedule itself holds PyTorch's value for t = totalSteps.
    assert.ok(Math.abs(s.lr - -0.03571374285714288) <= 1e-12 * 0.0358, `lr at totalSteps: ${s.lr}`);
    followSchedule(opt, s);
    assert.deepEqual({ lr: opt.lr, momentum: opt.momentum }, used);
  });

  it('changing the spec after construction changes nothing', () => {
    const milestones = [3, 6];
    const spec = { name: 'multiStep' as const, milestones, gamma: 0.5 };
    const s = createSchedule(spec, 1);
    milestones.push(1);
    spec.gamma = 0.9;
    const got = [s.lr];
    for (let i = 0; i < 8; i++) got.push(s.step());
    assert.deepEqual(got, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
  });
});

describe('schedules: reduceOnPlateau', () => {
  it('a hand-traced run: patience 2, factor 0.5, cooldown 1', () => {
    // 10 best; 9 better; 9, 9 bad (1, 2); 9 bad 3 > 2: cut to 0.5, cooldown 1;
    // 8 better, cooldown ends; 8, 8 bad (1, 2); 8 bad 3: cut to 0.25, cooldown 1; 8 bad but cooling: 0.
    const got = run({ name: 'reduceOnPlateau', patience: 2, factor: 0.5, cooldown: 1 }, 1, 10, [10, 9, 9, 9, 9, 8, 8, 8, 8, 8]);
    assert.deepEqual(got, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]);
  });

  it('PyTorch\'s patience = 0 example: every step worse than the best cuts the lr', () => {
    const got = run({ name: 'reduceOnPlateau', patience: 0, factor: 0.5 }, 1, 5, [3, 4, 5, 2, 2]);
    assert.deepEqual(got, [1, 1, 0.5, 0.25, 0.25, 0.125]);
  });

  it('minLr clamps and eps skips cuts smaller than eps', () => {
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0, minLr: 0.05 }, 1, 4, [1, 1, 1, 1]), [1, 1, 0.1, 0.05, 0.05]);
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0, eps: 0.5 }, 1, 4, [1, 1, 1, 1]), [1, 1, 0.1, 0.1, 0.1]);
    // a cut of exactly eps is not more than eps: PyTorch keeps the lr
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0, factor: 0.5, eps: 0.5 }, 1, 3, [1, 1, 1]), [1, 1, 1, 1]);
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0, factor: 0.5, eps: 0.25 }, 1, 3, [1, 1, 1]), [1, 1, 0.5, 0.5]);
  });

  it('infinite metrics count like PyTorch\'s: +Infinity is never better in min mode, -Infinity is final', () => {
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0 }, 1, 3, [Infinity, Infinity, 5]), [1, 0.1, 0.010000000000000002, 0.010000000000000002]);
    assert.deepEqual(run({ name: 'reduceOnPlateau', patience: 0 }, 1, 3, [-Infinity, -1e300, -Infinity]), [1, 1, 0.1, 0.010000000000000002]);
  });

  for (const c of PLATEAU_CASES) {
    it(`40 steps against the hand loop: ${c.title}`, () => {
      const got = run({ name: 'reduceOnPlateau', ...c.options }, c.base, STEPS, c.metrics);
      assert.deepEqual(got, plateauByHand(c.base, c.options, c.metrics));
      assert.ok(new Set(got).size > 1, 'the script should cut the lr at least once');
    });
  }

  it('a missing, non-number or NaN metric is a coded error and changes nothing', () => {
    const s = createSchedule({ name: 'reduceOnPlateau', patience: 0 }, 1);
    s.step(1);
    throwsCode(() => s.step(), ErrorCode.ARG_TYPE, TypeError, 'metric');
    throwsCode(() => s.step('1' as unknown as number), ErrorCode.ARG_TYPE, TypeError);
    throwsCode(() => s.step(NaN), ErrorCode.ARG_RANGE, RangeError, 'NaN');
    assert.equal(s.count, 1);
    assert.deepEqual(s.state(), { name: 'reduceOnPlateau', count: 1, lr: 1, best: 1, numBadEpochs: 0, cooldownCounter: 0 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('schedules: state round trip', () => {
  const specs: { spec: ScheduleSpec; base: number; metrics?: readonly number[] }[] = [
    ...CASES.map((c) => ({ spec: c.spec, base: c.base })),
    ...PLATEAU_CASES.map((c) => ({ spec: { name: 'reduceOnPlateau' as const, ...c.options }, base: c.base, metrics: c.metrics })),
    { spec: { name: 'reduceOnPlateau', patience: 0 }, base: 1, metrics: [-Infinity, ...METRICS] },
  ];

  for (const { spec, base, metrics } of specs) {
    it(`${JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'function' ? 'fn' : v))}: 10 steps, JSON, load, 30 more`, () => {
      const whole = run(spec, base, STEPS, metrics);
      const first = createSchedule(spec, base);
      for (let i = 0; i < 10; i++) first.step(metrics?.[i]);
      const saved = JSON.parse(JSON.stringify(first.state())) as ScheduleState;
      assert.equal(saved.count, 10);
      const resumed = createSchedule(spec, base);
      resumed.load(saved);
      assert.equal(resumed.count, 10);
      assert.strictEqual(resumed.lr, whole[10]);
      for (let t = 11; t <= STEPS; t++) assert.strictEqual(resumed.step(metrics?.[t - 1]), whole[t], `step ${t}`);
      assert.strictEqual(first.step(metrics?.[10]), whole[11], 'the saved schedule is unchanged by state()');
    });
  }

  it('state() is plain data; reduceOnPlateau writes an infinite best as a string', () => {
    const s = createSchedule({ name: 'reduceOnPlateau', mode: 'max' }, 0.1);
    assert.deepEqual(s.state(), { name: 'reduceOnPlateau', count: 0, lr: 0.1, best: '-Infinity', numBadEpochs: 0, cooldownCounter: 0 });
    assert.deepEqual(createSchedule({ name: 'exponential', gamma: 0.5 }, 1).state(), { name: 'exponential', count: 0, lr: 1 });
  });

  it('loading a state from another schedule, spec or base lr is ERR_BLASNET_STATE and changes nothing', () => {
    const a = createSchedule({ name: 'exponential', gamma: 0.5 }, 1);
    for (let i = 0; i < 3; i++) a.step();
    const state = a.state();
    const check = (s: Schedule, st: unknown, mentions?: string) => {
      const before = s.state();
      throwsCode(() => s.load(st as ScheduleState), ErrorCode.STATE, undefined, mentions);
      assert.deepEqual(s.state(), before);
    };
    check(createSchedule({ name: 'step', stepSize: 1, gamma: 0.5 }, 1), state, 'for schedule "exponential"');
    check(createSchedule({ name: 'exponential', gamma: 0.6 }, 1), state, 'another spec or base lr');
    check(createSchedule({ name: 'exponential', gamma: 0.5 }, 2), state, 'another spec or base lr');
    const e = createSchedule({ name: 'exponential', gamma: 0.5 }, 1);
    check(e, { ...state, count: -1 }, 'count');
    check(e, { ...state, count: 2.5 }, 'count');
    check(e, { ...state, count: '3' }, 'count');
    check(e, { ...state, lr: null }, 'lr');
    check(e, { name: 'exponential', count: 3 }, 'lr');
    const o = createSchedule({ name: 'oneCycle', maxLr: 1, totalSteps: 5 }, 1);
    check(o, { name: 'oneCycle', count: 6, lr: 0.04 }, 'Tried to step 6 times');
    const p = createSchedule({ name: 'reduceOnPlateau' }, 1);
    const good = p.state();
    check(p, { ...good, best: null }, 'best');
    check(p, { ...good, best: 'inf' }, 'best');
    check(p, { ...good, numBadEpochs: -1 }, 'numBadEpochs');
    check(p, { ...good, cooldownCounter: 1.5 }, 'cooldownCounter');
    check(p, { ...good, lr: -1 }, 'lr');
    throwsCode(() => p.load(null as unknown as ScheduleState), ErrorCode.ARG_TYPE, TypeError);
    throwsCode(() => p.load([] as unknown as ScheduleState), ErrorCode.ARG_TYPE, TypeError);
  });
});

// ---------------------------------------------------------------------------------------------

describe('schedules: errors', () => {
  const make = (spec: unknown, base = 0.1) => () => createSchedule(spec as ScheduleSpec, base);
  const range = (spec: unknown, mentions: string, base = 0.1) =>
    throwsCode(make(spec, base), ErrorCode.ARG_RANGE, RangeError, mentions);
  const type = (spec: unknown, mentions: string, base = 0.1) =>
    throwsCode(make(spec, base), ErrorCode.ARG_TYPE, TypeError, mentions);

  it('unknown schedule names, top-level and nested: ERR_BLASNET_UNKNOWN_NAME', () => {
    throwsCode(make({ name: 'cosine' }), ErrorCode.UNKNOWN_NAME, RangeError, 'Unknown schedule "cosine"');
    throwsCode(make({ name: 'toString' }), ErrorCode.UNKNOWN_NAME, RangeError);
    throwsCode(make({ name: 'warmup', warmupSteps: 2, then: { name: 'StepLR' } }), ErrorCode.UNKNOWN_NAME, RangeError, 'warmup.then');
    throwsCode(make({ name: 'sequential', schedules: [{ name: 'x' }], milestones: [] }), ErrorCode.UNKNOWN_NAME, RangeError, 'sequential.schedules[0]');
  });

  it('a spec that is not { name, ...options }: ERR_BLASNET_ARG_TYPE', () => {
    type('step', 'schedule spec');
    type(null, 'schedule spec');
    type([{ name: 'step' }], 'schedule spec');
    type({ stepSize: 3 }, 'name');
    type({ name: 3 }, 'name');
  });

  it('baseLr: non-number ERR_BLASNET_ARG_TYPE; negative or non-finite ERR_BLASNET_ARG_RANGE', () => {
    type({ name: 'exponential', gamma: 0.9 }, 'baseLr', '0.1' as unknown as number);
    for (const bad of [-1, -1e-300, NaN, Infinity, -Infinity]) range({ name: 'exponential', gamma: 0.9 }, `Invalid learning rate: ${bad}`, bad);
    assert.equal(createSchedule({ name: 'exponential', gamma: 0.9 }, 0).step(), 0);
  });

  it('unknown options, missing required ones, wrong types', () => {
    range({ name: 'step', stepSize: 3, step_size: 3 }, 'Unknown option "step_size"');
    range({ name: 'cosineAnnealing', T_max: 3 }, 'Unknown option "T_max"');
    type({ name: 'step' }, 'Missing required option stepSize');
    type({ name: 'exponential' }, 'Missing required option gamma');
    type({ name: 'cyclic' }, 'Missing required option maxLr');
    type({ name: 'oneCycle', maxLr: 1 }, 'Missing required option totalSteps');
    type({ name: 'sequential', schedules: [] }, 'Missing required option milestones');
    type({ name: 'stepDecay', d: 0.5 }, 'Missing required option ed');
    type({ name: 'step', stepSize: 3, gamma: '0.1' }, 'Expected number for gamma but received string');
    type({ name: 'multiStep', milestones: 5 }, 'Expected Array for milestones');
    type({ name: 'multiStep', milestones: [1, '2'] }, 'milestones[1]');
    type({ name: 'oneCycle', maxLr: 1, totalSteps: 9, threePhase: 1 }, 'Expected boolean for threePhase');
    type({ name: 'cyclic', maxLr: 1, mode: 2 }, 'Expected string for mode');
    type({ name: 'cyclic', maxLr: 1, scaleFn: 'x => 1' }, 'Expected function for scaleFn');
    type({ name: 'warmup', warmupSteps: 2, then: 'step' }, 'then');
    type({ name: 'sequential', schedules: [{ name: 'step', stepSize: 1 }, 'step'], milestones: [2] }, 'schedules[1]');
    type({ name: 'warmup', warmupSteps: 2, then: { name: 'step' } }, 'warmup.then.step: Missing required option stepSize');
  });

  it('non-finite options: ERR_BLASNET_ARG_RANGE', () => {
    range({ name: 'exponential', gamma: NaN }, 'Expected finite number for gamma');
    range({ name: 'cosineAnnealing', tMax: Infinity }, 'Expected finite number for tMax');
    range({ name: 'multiStep', milestones: [3, Infinity] }, 'milestones[1]');
  });

  it('PyTorch\'s range checks, with PyTorch\'s messages (options camel-cased)', () => {
    range({ name: 'constant', factor: 1.5 }, 'constant: Constant multiplicative factor expected to be between 0 and 1.');
    range({ name: 'constant', factor: -0.1 }, 'between 0 and 1');
    range({ name: 'constant', totalIters: -1 }, 'Expected non-negative integer totalIters, but got -1');
    range({ name: 'step', stepSize: 0 }, 'step: Expected positive integer stepSize, but got 0');
    range({ name: 'step', stepSize: 2.5 }, 'Expected positive integer stepSize, but got 2.5');
    range({ name: 'step', stepSize: 3, gamma: -1 }, 'step: Invalid gamma: -1');
    range({ name: 'multiStep', milestones: [2, -1] }, 'Expected non-negative integer milestones[1], but got -1');
    range({ name: 'multiStep', milestones: [1.5] }, 'milestones[0]');
    range({ name: 'exponential', gamma: -0.5 }, 'Invalid gamma: -0.5');
    range({ name: 'cosineAnnealing', tMax: 0 }, 'Expected positive integer tMax, but got 0');
    range({ name: 'cosineAnnealing', tMax: 10, etaMin: -1 }, 'Invalid etaMin: -1');
    range({ name: 'cosineWarmRestarts', t0: 0 }, 'Expected positive integer t0, but got 0');
    range({ name: 'cosineWarmRestarts', t0: 5, tMult: 0 }, 'Expected integer tMult >= 1, but got 0');
    range({ name: 'cosineWarmRestarts', t0: 5, tMult: 1.5 }, 'Expected integer tMult >= 1, but got 1.5');
    range({ name: 'cyclic', maxLr: -1 }, 'Invalid maxLr: -1');
    range({ name: 'cyclic', maxLr: 1, baseLr: -0.1 }, 'Invalid baseLr: -0.1');
    range({ name: 'cyclic', maxLr: 1, stepSizeUp: 0 }, 'Expected positive integer stepSizeUp, but got 0');
    range({ name: 'cyclic', maxLr: 1, stepSizeDown: -1 }, 'Expected non-negative integer stepSizeDown, but got -1');
    range({ name: 'cyclic', maxLr: 1, mode: 'exp_range' }, 'mode must be one of \'triangular\', \'triangular2\', \'expRange\', instead got "exp_range"');
    range({ name: 'cyclic', maxLr: 1, scaleMode: 'epochs' }, 'scaleMode must be one of');
    range({ name: 'cyclic', maxLr: 1, gamma: -1 }, 'Invalid gamma: -1');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 0 }, 'Expected positive integer totalSteps, but got 0');
    range({ name: 'oneCycle', maxLr: -1, totalSteps: 10 }, 'Invalid maxLr: -1');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, pctStart: 1.5 }, 'Expected float between 0 and 1 pctStart, but got 1.5');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, annealStrategy: 'cosine' }, 'annealStrategy must be one of \'cos\', \'linear\', instead got "cosine"');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, divFactor: 0 }, 'Invalid divFactor: 0');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, finalDivFactor: -2 }, 'Invalid finalDivFactor: -2');
    range({ name: 'linear', startFactor: 0 }, 'Starting multiplicative factor expected to be greater than 0 and less or equal to 1.');
    range({ name: 'linear', startFactor: 1.01 }, 'Starting multiplicative factor');
    range({ name: 'linear', endFactor: 2 }, 'Ending multiplicative factor expected to be between 0 and 1.');
    range({ name: 'linear', totalIters: 0 }, 'Expected positive integer totalIters, but got 0');
    range({ name: 'polynomial', totalIters: 0 }, 'Expected positive integer totalIters, but got 0');
    range({ name: 'polynomial', power: -1 }, 'Invalid power: -1');
    range({ name: 'inverseSqrt', warmupSteps: 0 }, 'Expected positive integer warmupSteps, but got 0');
    range({ name: 'inverseScaling', powerT: -0.5 }, 'Invalid powerT: -0.5');
    range({ name: 'stepDecay', d: -0.5, ed: 3 }, 'Invalid d: -0.5');
    range({ name: 'stepDecay', d: 0.5, ed: 0 }, 'Expected positive integer ed, but got 0');
    range({ name: 'linearDecay', tau: 0 }, 'Expected positive integer tau, but got 0');
    range({ name: 'linearDecay', tau: 10, finalLr: -1 }, 'Invalid finalLr: -1');
    range({ name: 'linearDecay', tau: 10, alpha: -1 }, 'Invalid alpha: -1');
    range({ name: 'linearDecay', tau: 10, alpha: 0.1, finalLr: 0.01 }, 'Give finalLr or alpha, not both');
    range({ name: 'warmup', warmupSteps: -1 }, 'Expected non-negative integer warmupSteps, but got -1');
    range({ name: 'warmup', warmupSteps: 3, startFactor: 1.5 }, 'Starting multiplicative factor expected to be between 0 and 1.');
    range({ name: 'reduceOnPlateau', factor: 1 }, 'reduceOnPlateau: Factor should be < 1.0.');
    range({ name: 'reduceOnPlateau', factor: -0.5 }, 'Factor should be >= 0.');
    range({ name: 'reduceOnPlateau', mode: 'minimum' }, 'mode must be one of \'min\', \'max\', instead got "minimum"');
    range({ name: 'reduceOnPlateau', thresholdMode: 'relative' }, 'thresholdMode must be one of \'rel\', \'abs\'');
    range({ name: 'reduceOnPlateau', patience: -1 }, 'Expected non-negative integer patience, but got -1');
    range({ name: 'reduceOnPlateau', cooldown: 0.5 }, 'Expected non-negative integer cooldown, but got 0.5');
    range({ name: 'reduceOnPlateau', threshold: -1e-4 }, 'Invalid threshold: -0.0001');
    range({ name: 'reduceOnPlateau', minLr: -1 }, 'Invalid minLr: -1');
    range({ name: 'reduceOnPlateau', eps: -1 }, 'Invalid eps: -1');
  });

  it('oneCycle settings that leave a phase empty (PyTorch divides by zero there)', () => {
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, pctStart: 0.1 }, 'phase 1 of 2 has no steps');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, pctStart: 1 }, 'phase 2 of 2 has no steps');
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 10, pctStart: 0.1, threePhase: true }, 'phase 1 of 3 has no steps');
    // ends at 0.625 * 4 - 1 = 1.5, 2 * 0.625 * 4 - 2 = 3 and 4 - 1 = 3
    range({ name: 'oneCycle', maxLr: 1, totalSteps: 4, pctStart: 0.625, threePhase: true }, 'phase 3 of 3 has no steps');
  });

  it('sequential: PyTorch\'s checks, strictly increasing milestones, no reduceOnPlateau inside', () => {
    range({ name: 'sequential', schedules: [], milestones: [] }, 'expects at least one scheduler, but got no scheduler.');
    range({ name: 'sequential', schedules: [{ name: 'constant' }, { name: 'constant' }], milestones: [] },
      'Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, ' +
      'but got number of schedulers 2 and the number of milestones to be equal to 0');
    const three = [{ name: 'constant' }, { name: 'constant' }, { name: 'constant' }];
    range({ name: 'sequential', schedules: three, milestones: [5, 5] }, 'Expected strictly increasing milestones, but got [5, 5]');
    range({ name: 'sequential', schedules: three, milestones: [6, 5] }, 'strictly increasing');
    range({ name: 'sequential', schedules: three.slice(1), milestones: [0] }, 'Expected positive integer milestones[0], but got 0');
    range({ name: 'sequential', schedules: [{ name: 'constant' }, { name: 'reduceOnPlateau' }], milestones: [3] },
      'sequential.schedules[1].reduceOnPlateau: cannot be nested');
    range({ name: 'warmup', warmupSteps: 3, then: { name: 'reduceOnPlateau' } }, 'warmup.then.reduceOnPlateau: cannot be nested');
    range({ name: 'sequential', schedules: [{ name: 'step', stepSize: 0 }], milestones: [] },
      'sequential.schedules[0].step: Expected positive integer stepSize, but got 0');
  });

  it('a schedule whose lr leaves the finite numbers throws ERR_BLASNET_ARG_RANGE and stops there', () => {
    const s = createSchedule({ name: 'exponential', gamma: 1e10 }, 1);
    for (let i = 0; i < 30; i++) s.step();
    throwsCode(() => s.step(), ErrorCode.ARG_RANGE, RangeError, 'the learning rate at step 31 is Infinity');
    assert.equal(s.count, 30);
    assert.ok(Number.isFinite(s.lr) && s.lr > 1e299, `lr ${s.lr}`);
    range({ name: 'cyclic', maxLr: 1, scaleFn: () => NaN }, 'scaleFn(1) returned NaN');
  });

  it('every error is a BlasnetError', () => {
    for (const f of [make({ name: 'nope' }), make({ name: 'step' }), make({ name: 'step', stepSize: -1 })]) {
      assert.throws(f, (e: unknown) => e instanceof BlasnetError);
    }
  });
});
