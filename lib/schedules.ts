/**
 * Learning-rate schedules with torch.optim.lr_scheduler's meaning: a table of entries (formula,
 * defaults and the torch class each matches in `doc`), options camel-cased from PyTorch's
 * (`step_size` -> `stepSize`, `T_max` -> `tMax`), and `createSchedule` to make one.
 *
 * A schedule counts calls to `step()` (epochs or optimisation steps: the caller decides) and maps
 * the count t to a learning rate. `lr` before any `step()` is the rate for t = 0, what PyTorch's
 * optimizer holds right after the scheduler is constructed; the k-th `step()` returns the rate
 * for t = k, what PyTorch's k-th `scheduler.step()` sets.
 *
 * Every schedule but reduceOnPlateau is a pure function of t, computed from the base lr in closed
 * form (PyTorch's `_get_closed_form_lr` where it has one, its own formula where the class is not
 * chainable), so there is no drift and `state()` / `load()` are exact. PyTorch's default
 * `step()` path for the chainable classes multiplies the previous lr instead; the two agree to
 * within a few ulps (the tests allow 1e-12 relative). reduceOnPlateau reproduces PyTorch's
 * recursion operation for operation.
 */
import { BlasnetError, ErrorCode, rangeError, typeError } from './errors';
import { hasOwn, isPlainObject, parseOptions, show, typeName } from './describe';


// ---------------------------------------------------------------------------------------------
// Options

/**
 * Whether an option must be given (`required`), falls back to its default (`default`) or may be
 * left out with no default (`optional`, the entry decides what absence means).
 */
export type OptionPresence = 'required' | 'default' | 'optional';

/**
 * Placeholder type of a table option that holds a nested schedule spec (warmup's `then`,
 * sequential's `schedules`); `ScheduleSpec` replaces it in the option types users see.
 */
export interface NestedScheduleSpec {
  readonly __nestedScheduleSpec: true;
}

/** One option of a schedule: its presence, default, and the check that reads a given value. */
export interface OptionDef<T = unknown, P extends OptionPresence = OptionPresence> {
  readonly presence: P;
  /** The value used when the option is left out (undefined for required and optional ones). */
  readonly default: T | undefined;
  /**
   * Checks a given (not undefined) value and returns it: TypeError ERR_BLASNET_ARG_TYPE for a
   * wrong type, RangeError ERR_BLASNET_ARG_RANGE for a value out of range. `label` prefixes the
   * message (the schedule's name, with its path when nested).
   */
  parse(value: unknown, key: string, label: string): T;
}

type AnyOptionDef = OptionDef<unknown, OptionPresence>;
type OptionDefs = { readonly [key: string]: AnyOptionDef };

/** A range rule: a PyTorch-style message if `v` is invalid for option `key`. */
type Rule = (v: number, key: string) => string | undefined;

const positiveInt: Rule = (v, k) =>
  (Number.isSafeInteger(v) && v > 0 ? undefined : `Expected positive integer ${k}, but got ${v}`);
const nonNegativeInt: Rule = (v, k) =>
  (Number.isSafeInteger(v) && v >= 0 ? undefined : `Expected non-negative integer ${k}, but got ${v}`);
const nonNegative: Rule = (v, k) => (v >= 0 ? undefined : `Invalid ${k}: ${v}`);
const positive: Rule = (v, k) => (v > 0 ? undefined : `Invalid ${k}: ${v}`);
const unitInterval = (message: string): Rule => (v) => (v >= 0 && v <= 1 ? undefined : message);

function finiteNumber(label: string, key: string, v: unknown): number {
  if (typeof v !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected number for ${key} but received ${typeName(v)}`);
  }
  if (!Number.isFinite(v)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${label}: Expected finite number for ${key} but received ${v}`);
  }
  return v;
}

function applyRule(label: string, key: string, v: number, rule: Rule | undefined): number {
  const problem = rule?.(v, key);
  if (problem !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${label}: ${problem}`);
  return v;
}

function numberOption<P extends OptionPresence>(presence: P, dflt: number | undefined, rule?: Rule): OptionDef<number, P> {
  return { presence, default: dflt, parse: (v, key, label) => applyRule(label, key, finiteNumber(label, key, v), rule) };
}

/** A number with a default. */
const num = (dflt: number, rule?: Rule) => numberOption('default', dflt, rule);
/** A number the spec must give. */
const req = (rule?: Rule) => numberOption('required', undefined, rule);
/** A number that may be left out (no default). */
const maybe = (rule?: Rule) => numberOption('optional', undefined, rule);

/** One of a few strings. */
function oneOf<const V extends readonly string[]>(values: V, dflt: V[number]): OptionDef<V[number], 'default'> {
  return {
    presence: 'default',
    default: dflt,
    parse: (v, key, label) => {
      if (typeof v !== 'string') {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected string for ${key} but received ${typeName(v)}`);
      }
      if (!values.includes(v)) {
        throw rangeError(
          ErrorCode.ARG_RANGE,
          `${label}: ${key} must be one of ${values.map((s) => `'${s}'`).join(', ')}, instead got ${show(v)}`,
        );
      }
      return v as V[number];
    },
  };
}

/** A boolean with a default. */
function flag(dflt: boolean): OptionDef<boolean, 'default'> {
  return {
    presence: 'default',
    default: dflt,
    parse: (v, key, label) => {
      if (typeof v !== 'boolean') {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected boolean for ${key} but received ${typeName(v)}`);
      }
      return v;
    },
  };
}

/** A required array of numbers, each checked by `rule`; returned as a frozen copy. */
function numberList(rule: Rule): OptionDef<readonly number[], 'required'> {
  return {
    presence: 'required',
    default: undefined,
    parse: (v, key, label) => {
      if (!Array.isArray(v)) {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected Array for ${key} but received ${typeName(v)}`);
      }
      return Object.freeze(v.map((x: unknown, i) => applyRule(label, `${key}[${i}]`, finiteNumber(label, `${key}[${i}]`, x), rule)));
    },
  };
}

function specObject(label: string, key: string, v: unknown): NestedScheduleSpec {
  if (!isPlainObject(v)) {
    throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected a schedule spec { name, ...options } for ${key} but received ${typeName(v)}`);
  }
  return v as unknown as NestedScheduleSpec;
}

/** A nested schedule spec that may be left out; checked in full when the entry builds it. */
function nested(): OptionDef<NestedScheduleSpec, 'optional'> {
  return { presence: 'optional', default: undefined, parse: (v, key, label) => specObject(label, key, v) };
}

/** A required array of nested schedule specs. */
function nestedList(): OptionDef<readonly NestedScheduleSpec[], 'required'> {
  return {
    presence: 'required',
    default: undefined,
    parse: (v, key, label) => {
      if (!Array.isArray(v)) {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected Array for ${key} but received ${typeName(v)}`);
      }
      return Object.freeze(v.map((s: unknown, i) => specObject(label, `${key}[${i}]`, s)));
    },
  };
}

/** A function of one number that may be left out. */
function callback(): OptionDef<(x: number) => number, 'optional'> {
  return {
    presence: 'optional',
    default: undefined,
    parse: (v, key, label) => {
      if (typeof v !== 'function') {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected function for ${key} but received ${typeName(v)}`);
      }
      return v as (x: number) => number;
    },
  };
}

type ValueOf<O> = O extends OptionDef<infer T, infer P> ? (P extends 'optional' ? T | undefined : T) : never;

/** An entry's options after checking: every option present, defaults filled in. */
export type ParsedOptions<D> = { readonly [K in keyof D]: ValueOf<D[K]> };

// ---------------------------------------------------------------------------------------------
// Engines

/** The settings of a reduceOnPlateau schedule, after checking. */
export interface PlateauSettings {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
}

/**
 * What an entry builds: a curve, the lr as a pure function of the step count t (throwing a coded
 * error for a t the schedule does not reach), or the settings of the metric-driven plateau rule.
 */
export type ScheduleEngine =
  | {
    readonly kind: 'curve';
    /** The rate after t steps. */
    lrAt(t: number): number;
    /** The momentum after t steps, if the schedule cycles it. */
    momentumAt?(t: number): number;
    /** The largest t the curve reaches, if it ends (see Schedule.stepLimit). */
    readonly stepLimit?: number;
  }
  | { readonly kind: 'plateau'; readonly settings: PlateauSettings };

/** One schedule: its formula, options with their defaults, checks, and the engine it builds. */
export interface ScheduleDef<D extends OptionDefs = OptionDefs> {
  /** The formula with its defaults, the torch class it matches, and any difference. */
  readonly doc: string;
  /** Every option; an option not listed here is an error. */
  readonly options: D;
  /** Why the options (each already valid alone) are invalid together, if they are. */
  check?(o: ParsedOptions<D>): string | undefined;
  /**
   * The engine for these options and base lr. Unchecked: call `createSchedule`, which validates
   * first. `label` prefixes error messages.
   */
  build(o: ParsedOptions<D>, baseLr: number, label: string): ScheduleEngine;
}

// Infers each entry's option types from its `options`, so `check` and `build` are typed by them.
function entry<D extends OptionDefs>(def: ScheduleDef<D>): ScheduleDef<D> {
  return def;
}

function curve(lrAt: (t: number) => number, momentumAt?: (t: number) => number, stepLimit?: number): ScheduleEngine {
  return {
    kind: 'curve', lrAt, ...(momentumAt ? { momentumAt } : {}), ...(stepLimit !== undefined ? { stepLimit } : {}),
  };
}

/** A nested schedule as a curve: its rate after t steps, and the largest t it reaches if it ends. */
interface NestedCurve {
  readonly lrAt: (t: number) => number;
  readonly stepLimit: number | undefined;
}

/** Number of sorted values <= t (Python's bisect_right). */
function countAtOrBelow(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position in SGDR's cycles after t steps: steps into the current cycle and its length. */
function warmRestartPosition(t: number, t0: number, tMult: number): { tCur: number; tI: number } {
  if (tMult === 1) return { tCur: t % t0, tI: t0 };
  let tCur = t;
  let tI = t0;
  while (tCur >= tI) {
    tCur -= tI;
    tI *= tMult;
  }
  return { tCur, tI };
}

interface OneCyclePhase {
  readonly endStep: number;
  readonly startLr: number;
  readonly endLr: number;
  readonly startMomentum: number;
  readonly endMomentum: number;
}

interface OneCycleSettings {
  maxLr: number; totalSteps: number; pctStart: number; divFactor: number; finalDivFactor: number; threePhase: boolean;
  baseMomentum: number; maxMomentum: number;
}

// Momentum moves against the lr: down while the lr rises, back up while it falls.
function oneCyclePhases(o: OneCycleSettings): OneCyclePhase[] {
  const initialLr = o.maxLr / o.divFactor;
  const minLr = initialLr / o.finalDivFactor;
  const up = o.pctStart * o.totalSteps - 1;
  const lo = o.baseMomentum, hi = o.maxMomentum;
  return o.threePhase
    ? [
      { endStep: up, startLr: initialLr, endLr: o.maxLr, startMomentum: hi, endMomentum: lo },
      { endStep: 2 * o.pctStart * o.totalSteps - 2, startLr: o.maxLr, endLr: initialLr, startMomentum: lo, endMomentum: hi },
      { endStep: o.totalSteps - 1, startLr: initialLr, endLr: minLr, startMomentum: hi, endMomentum: hi },
    ]
    : [
      { endStep: up, startLr: initialLr, endLr: o.maxLr, startMomentum: hi, endMomentum: lo },
      { endStep: o.totalSteps - 1, startLr: o.maxLr, endLr: minLr, startMomentum: lo, endMomentum: hi },
    ];
}

const PLATEAU_NOTE = 'reduceOnPlateau needs a metric at every step';

// ---------------------------------------------------------------------------------------------
// The table

/** Schedules that set the lr from their own formula at every step, whatever the optimiser had. */
const OVERWRITING: ReadonlySet<string> = new Set(['oneCycle', 'cyclic', 'cosineWarmRestarts']);

/**
 * Whether the schedule `spec` carries on from an lr changed by others (a callback, such as
 * reduceLrOnPlateau) instead of setting its own: PyTorch's chainable schedulers (StepLR,
 * ExponentialLR, CosineAnnealingLR, LinearLR, ...) compute each step's lr from the param
 * group's, so a reduction made elsewhere persists, while OneCycleLR, CyclicLR and
 * CosineAnnealingWarmRestarts set theirs from the base lr. A warmup or sequential chains when
 * every schedule in it does.
 * @internal
 */
export function scheduleChains(spec: unknown): boolean {
  if (!isPlainObject(spec)) return false;
  if (OVERWRITING.has(spec.name as string)) return false;
  if (spec.name === 'warmup') return spec.then === undefined || scheduleChains(spec.then);
  if (spec.name === 'sequential') return Array.isArray(spec.schedules) && spec.schedules.every(scheduleChains);
  return true;
}

/**
 * The lr a chaining schedule's carry-on keeps its excess over (see fit's advance): a top-level
 * cosineAnnealing's etaMin, as PyTorch's CosineAnnealingLR.get_lr chains
 * `etaMin + (lr - etaMin) * ratio` (and adds the curve's rise out of its minimum); null for the
 * others, whose chained forms are plain factors.
 * (Nested in warmup or sequential, a cosine chains on 0: PyTorch's SequentialLR restarts each
 * scheduler from its closed form at its milestone, which no carry-on reproduces.)
 * @internal
 */
export function scheduleChainFloor(spec: unknown): number | null {
  if (!isPlainObject(spec) || spec.name !== 'cosineAnnealing') return null;
  return typeof spec.etaMin === 'number' ? spec.etaMin : 0;
}

/** Nonzero while a schedule already warned about is made again (see madeAgain). */
let quiet = 0;

/**
 * Runs `make` without the schedules' process warnings: for a schedule made again from a spec
 * whose schedule was already made (and warned about) in the same call.
 * @internal
 */
export function madeAgain<T>(make: () => T): T {
  quiet++;
  try {
    return make();
  } finally {
    quiet--;
  }
}

/**
 * The schedules. Each `doc` gives the formula in terms of the step count t (the number of
 * `step()` calls so far) and the base lr, the defaults, the torch.optim.lr_scheduler class it
 * reproduces and any difference. Options without a default are required unless the doc says
 * otherwise. The order is the order of the README's table.
 */
export const SCHEDULES = {
  constant: entry({
    doc: 'lr_t = base * factor for t < totalIters, base afterwards; defaults factor = 1/3, ' +
      'totalIters = 5, as torch.optim.lr_scheduler.ConstantLR (its closed form, whose ' +
      'base * (factor + (1 - factor)) is exactly base). factor = 1 or totalIters = 0 gives a plain ' +
      'constant base. factor must be in [0, 1]; totalIters a non-negative integer.',
    options: {
      factor: num(1 / 3, unitInterval('Constant multiplicative factor expected to be between 0 and 1.')),
      totalIters: num(5, nonNegativeInt),
    },
    build: (o, base) => curve((t) => (t < o.totalIters ? base * o.factor : base)),
  }),
  step: entry({
    doc: 'lr_t = base * gamma^floor(t / stepSize); stepSize required (a positive integer), ' +
      'default gamma = 0.1, as torch.optim.lr_scheduler.StepLR (its closed form).',
    options: { stepSize: req(positiveInt), gamma: num(0.1, nonNegative) },
    build: (o, base) => curve((t) => base * o.gamma ** Math.floor(t / o.stepSize)),
  }),
  multiStep: entry({
    doc: 'lr_t = base * gamma^(number of milestones <= t); milestones required (non-negative ' +
      'integers; like PyTorch\'s Counter, a milestone listed twice decays twice and the order does ' +
      'not matter), default gamma = 0.1, as torch.optim.lr_scheduler.MultiStepLR (its closed form).',
    options: { milestones: numberList(nonNegativeInt), gamma: num(0.1, nonNegative) },
    build: (o, base) => {
      const sorted = [...o.milestones].sort((a, b) => a - b);
      return curve((t) => base * o.gamma ** countAtOrBelow(sorted, t));
    },
  }),
  exponential: entry({
    doc: 'lr_t = base * gamma^t; gamma required (>= 0), as torch.optim.lr_scheduler.ExponentialLR ' +
      '(its closed form; PyTorch\'s step() multiplies by gamma each time, equal within rounding). ' +
      'gamma > 1 is allowed but emits a process warning (code BLASNET_EXPONENTIAL_GROWTH) once per schedule made.',
    options: { gamma: req(nonNegative) },
    build: (o, base, label) => {
      // The lecture notes: a decay factor above 1 makes the rate grow without bound.
      if (o.gamma > 1 && quiet === 0) {
        process.emitWarning(`${label}: gamma = ${o.gamma} > 1 makes the learning rate grow exponentially`,
          { code: 'BLASNET_EXPONENTIAL_GROWTH' });
      }
      return curve((t) => base * o.gamma ** t);
    },
  }),
  cosineAnnealing: entry({
    doc: 'lr_t = etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2; tMax required (a positive ' +
      'integer), default etaMin = 0, as torch.optim.lr_scheduler.CosineAnnealingLR. This is ' +
      'PyTorch\'s closed form (_get_closed_form_lr, SGDR without restarts); its step() uses a ' +
      'recursive form that equals it within rounding. Past tMax the cosine continues (the lr rises ' +
      'again toward base at 2 tMax), as both of PyTorch\'s forms do; it does not hold at etaMin.',
    options: { tMax: req(positiveInt), etaMin: num(0, nonNegative) },
    build: (o, base) => curve((t) => o.etaMin + ((base - o.etaMin) * (1 + Math.cos((Math.PI * t) / o.tMax))) / 2),
  }),
  cosineWarmRestarts: entry({
    doc: 'SGDR: lr_t = etaMin + (base - etaMin) (1 + cos(pi tCur / tI)) / 2, where tCur counts the ' +
      'steps since the last restart and the cycle length tI starts at t0 and is multiplied by tMult ' +
      'at each restart (restarts at t = t0, t0 + t0 tMult, ...); t0 required (a positive integer), ' +
      'defaults tMult = 1 (an integer >= 1), etaMin = 0, as ' +
      'torch.optim.lr_scheduler.CosineAnnealingWarmRestarts stepped without an epoch argument. ' +
      'Fractional epochs (PyTorch\'s step(epoch + i / iters)) are not supported: count batches instead.',
    options: {
      t0: req(positiveInt),
      tMult: num(1, (v, k) => (Number.isSafeInteger(v) && v >= 1 ? undefined : `Expected integer ${k} >= 1, but got ${v}`)),
      etaMin: num(0, nonNegative),
    },
    build: (o, base) => curve((t) => {
      const { tCur, tI } = warmRestartPosition(t, o.t0, o.tMult);
      return o.etaMin + ((base - o.etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
    }),
  }),
  cyclic: entry({
    doc: 'CLR (Smith 2017), as torch.optim.lr_scheduler.CyclicLR: with total = stepSizeUp + ' +
      'stepSizeDown, cycle = floor(1 + t / total), x = 1 + t / total - cycle, rise = x / r if ' +
      'x <= r else (x - 1) / (r - 1) with r = stepSizeUp / total, lr_t = lo + (maxLr - lo) rise ' +
      'scale. lo is the option baseLr, defaulting to the schedule\'s base lr (PyTorch\'s required ' +
      'base_lr); maxLr required. scale: triangular 1, triangular2 1 / 2^(cycle - 1), expRange ' +
      'gamma^t (PyTorch\'s exp_range). Defaults stepSizeUp = 2000, stepSizeDown = stepSizeUp, ' +
      'mode triangular, gamma = 1. A custom scaleFn(x) replaces mode and is called with cycle ' +
      '(scaleMode "cycle", the default) or t ("iterations"); as in PyTorch, scaleMode is ignored ' +
      'without scaleFn (triangular modes use the cycle, expRange the iteration). Momentum cycling ' +
      '(cycle_momentum) is not part of a learning-rate schedule.',
    options: {
      maxLr: req(nonNegative),
      baseLr: maybe(nonNegative),
      stepSizeUp: num(2000, positiveInt),
      stepSizeDown: maybe(nonNegativeInt),
      mode: oneOf(['triangular', 'triangular2', 'expRange'] as const, 'triangular'),
      gamma: num(1, nonNegative),
      scaleFn: callback(),
      scaleMode: oneOf(['cycle', 'iterations'] as const, 'cycle'),
    },
    build: (o, base, label) => {
      const lo = o.baseLr ?? base;
      const up = o.stepSizeUp;
      const total = up + (o.stepSizeDown ?? up);
      const ratio = up / total;
      const custom = o.scaleFn;
      let scale: (x: number) => number;
      let byCycle: boolean;
      if (custom !== undefined) {
        byCycle = o.scaleMode === 'cycle';
        scale = (x) => {
          const s: unknown = custom(x);
          if (typeof s !== 'number' || !Number.isFinite(s)) {
            throw rangeError(ErrorCode.ARG_RANGE, `${label}: scaleFn(${x}) returned ${show(s)}, not a finite number`);
          }
          return s;
        };
      } else if (o.mode === 'triangular') {
        byCycle = true;
        scale = () => 1;
      } else if (o.mode === 'triangular2') {
        byCycle = true;
        scale = (x) => 1 / 2 ** (x - 1);
      } else {
        byCycle = false;
        scale = (x) => o.gamma ** x;
      }
      return curve((t) => {
        const cycle = Math.floor(1 + t / total);
        const x = 1 + t / total - cycle;
        const rise = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
        return lo + (o.maxLr - lo) * rise * scale(byCycle ? cycle : t);
      });
    },
  }),
  oneCycle: entry({
    doc: '1cycle (Smith & Topin 2017, "Super-Convergence"), as torch.optim.lr_scheduler.OneCycleLR: the lr goes from ' +
      'initial = maxLr / divFactor up to maxLr by step pctStart * totalSteps - 1, then down to ' +
      'initial / finalDivFactor at step totalSteps - 1; with threePhase it goes back down to initial ' +
      'by step 2 pctStart * totalSteps - 2 (symmetric) and then to the minimum at totalSteps - 1. ' +
      'Within a phase from a to b over steps (s, e], p = (t - s) / (e - s) and lr = b + (a - b) ' +
      '(1 + cos(pi p)) / 2 (annealStrategy "cos") or a + (b - a) p ("linear"). maxLr and totalSteps ' +
      'required; defaults pctStart = 0.3, annealStrategy "cos", divFactor = 25, finalDivFactor = ' +
      '1e4, threePhase false. The base lr is ignored (as in PyTorch). t may reach totalSteps ' +
      '(stepLimit), like PyTorch, whose value there extrapolates the last phase (with "linear" below ' +
      'the minimum, even negative, and the momentum past maxMomentum); no update uses it when step() ' +
      'follows each of the totalSteps updates, and followSchedule leaves the optimiser with the last ' +
      'lr and momentum (those of t = totalSteps - 1) rather than write it. One more step() throws ' +
      'ERR_BLASNET_STATE and, unlike PyTorch, leaves the schedule unchanged; fit refuses, before its ' +
      'first step, a run that would step it past totalSteps (PyTorch raises at that step). ' +
      'Settings that make a phase empty (pctStart * totalSteps = 1, pctStart = 1, or with ' +
      'threePhase 2 pctStart * totalSteps = totalSteps + 1) are rejected at construction, where ' +
      'PyTorch divides by zero when it reaches them. Momentum cycles inversely to the lr (cycleMomentum, ' +
      'default true, as PyTorch\'s cycle_momentum): from maxMomentum (default 0.95) down to baseMomentum ' +
      '(default 0.85) while the lr rises, back to maxMomentum while it falls (threePhase: up in phase 2, ' +
      'held at maxMomentum in phase 3), same anneal and steps as the lr; the schedule\'s `momentum` is then ' +
      'the value for step t, and fit writes it into the optimiser\'s momentum (sgd, rmsprop) or beta1 ' +
      '(Adam family) with the lr, setting maxMomentum before the first step as PyTorch does at ' +
      'construction, even for sgd made without momentum. fit rejects cycleMomentum with an optimiser ' +
      'that has neither (adagrad, adadelta): ERR_BLASNET_ARG_RANGE "optimizer must support momentum or ' +
      'beta1 with `cycleMomentum` option enabled". baseMomentum and maxMomentum must be >= 0 (the ' +
      'optimiser checks its own range, e.g. betas below 1). Only a top-level oneCycle cycles momentum; ' +
      'nested in warmup or sequential it schedules the lr alone.',
    options: {
      maxLr: req(nonNegative),
      totalSteps: req(positiveInt),
      pctStart: num(0.3, (v, k) => (v >= 0 && v <= 1 ? undefined : `Expected float between 0 and 1 ${k}, but got ${v}`)),
      annealStrategy: oneOf(['cos', 'linear'] as const, 'cos'),
      divFactor: num(25, positive),
      finalDivFactor: num(1e4, positive),
      threePhase: flag(false),
      cycleMomentum: flag(true),
      baseMomentum: num(0.85, nonNegative),
      maxMomentum: num(0.95, nonNegative),
    },
    check: (o) => {
      const phases = oneCyclePhases(o);
      let start = 0;
      for (let i = 0; i < phases.length; i++) {
        if (phases[i].endStep - start === 0) {
          return `phase ${i + 1} of ${phases.length} has no steps (it would end at step ${phases[i].endStep}, where it starts); ` +
            `change pctStart or totalSteps`;
        }
        start = phases[i].endStep;
      }
      return undefined;
    },
    build: (o, _base, label) => {
      const phases = oneCyclePhases(o);
      const anneal = o.annealStrategy === 'cos'
        ? (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1)
        : (a: number, b: number, p: number) => (b - a) * p + a;
      const at = (t: number, pick: (phase: OneCyclePhase, p: number) => number): number => {
        if (t > o.totalSteps) {
          throw new BlasnetError(
            ErrorCode.STATE,
            `${label}: Tried to step ${t} times. The specified number of total steps is ${o.totalSteps}`,
          );
        }
        let start = 0;
        for (let i = 0; i < phases.length; i++) {
          const phase = phases[i];
          if (t <= phase.endStep || i === phases.length - 1) return pick(phase, (t - start) / (phase.endStep - start));
          start = phase.endStep;
        }
        throw new BlasnetError(ErrorCode.INTERNAL, `${label}: no phase for step ${t}`);
      };
      return curve(
        (t) => at(t, (ph, p) => anneal(ph.startLr, ph.endLr, p)),
        o.cycleMomentum ? (t) => at(t, (ph, p) => anneal(ph.startMomentum, ph.endMomentum, p)) : undefined,
        o.totalSteps,
      );
    },
  }),
  linear: entry({
    doc: 'lr_t = base * (startFactor + (endFactor - startFactor) min(t, totalIters) / totalIters); ' +
      'defaults startFactor = 1/3 (in (0, 1]), endFactor = 1 (in [0, 1]), totalIters = 5, as ' +
      'torch.optim.lr_scheduler.LinearLR (its closed form).',
    options: {
      startFactor: num(1 / 3, (v) => (v > 0 && v <= 1 ? undefined
        : 'Starting multiplicative factor expected to be greater than 0 and less or equal to 1.')),
      endFactor: num(1, unitInterval('Ending multiplicative factor expected to be between 0 and 1.')),
      totalIters: num(5, positiveInt),
    },
    build: (o, base) => curve((t) =>
      base * (o.startFactor + ((o.endFactor - o.startFactor) * Math.min(o.totalIters, t)) / o.totalIters)),
  }),
  polynomial: entry({
    doc: 'lr_t = base * (1 - min(t, totalIters) / totalIters)^power, 0 from totalIters on (for ' +
      'power > 0); defaults totalIters = 5, power = 1 (>= 0), as ' +
      'torch.optim.lr_scheduler.PolynomialLR (its closed form).',
    options: { totalIters: num(5, positiveInt), power: num(1, nonNegative) },
    build: (o, base) => curve((t) => base * (1 - Math.min(o.totalIters, t) / o.totalIters) ** o.power),
  }),
  inverseSqrt: entry({
    doc: 'lr_t = base * sqrt(warmupSteps / max(t, warmupSteps)) = base * min(1, sqrt(warmupSteps / t)): ' +
      'the base lr up to step warmupSteps, then decaying as 1 / sqrt(t) (the decay half of the ' +
      'Transformer\'s and fairseq\'s inverse_sqrt, continuous at warmupSteps); warmupSteps required ' +
      '(a positive integer). No torch class. For the usual linear warmup in front, use warmup with ' +
      '`then`; note the inner schedule then counts from 0 at the end of the warmup.',
    options: { warmupSteps: req(positiveInt) },
    build: (o, base) => curve((t) => base * Math.sqrt(o.warmupSteps / Math.max(t, o.warmupSteps))),
  }),
  inverseScaling: entry({
    doc: 'lr_t = base / (t + 1)^powerT, default powerT = 0.5 (>= 0): scikit-learn\'s "invscaling" ' +
      '(eta = eta0 / pow(t, power_t) in SGDClassifier, whose t starts at 1; MLPClassifier\'s ' +
      'learning_rate_init / pow(time_step + 1, power_t)), with t = the number of step() calls so ' +
      'far. scikit-learn counts samples, not batches or epochs; here the caller decides what a step ' +
      'is. No torch class.',
    options: { powerT: num(0.5, nonNegative) },
    build: (o, base) => curve((t) => base / (t + 1) ** o.powerT),
  }),
  stepDecay: entry({
    doc: 'The lecture notes\' step decay: eta_e = eta0 * d^floor(e / ed), eta0 the base lr, e the ' +
      'step (epoch) count; d (the decay factor, >= 0) and ed (epochs per drop, a positive integer) ' +
      'required. The same curve as step with gamma = d, stepSize = ed.',
    options: { d: req(nonNegative), ed: req(positiveInt) },
    build: (o, base) => curve((t) => base * o.d ** Math.floor(t / o.ed)),
  }),
  linearDecay: entry({
    doc: 'Linear decay to a floor (Goodfellow, Bengio & Courville, Deep Learning, sec. 8.3.1): ' +
      'eta_k = (1 - k / tau) eta0 + (k / tau) eta_tau for k <= tau and eta_tau afterwards, eta0 the ' +
      'base lr; tau required (a positive integer). The floor is finalLr (an lr) or alpha * eta0 ' +
      '(alpha = eta_tau / eta0; the book\'s own alpha is k / tau); give at most one of them, default ' +
      'alpha = 0.01 (the book: "roughly 1 percent of eta0"). No torch class (LinearLR with ' +
      'endFactor = alpha gives the same curve up to rounding).',
    options: { tau: req(positiveInt), finalLr: maybe(nonNegative), alpha: maybe(nonNegative) },
    check: (o) => (o.finalLr !== undefined && o.alpha !== undefined
      ? `Give finalLr or alpha, not both (got finalLr = ${o.finalLr}, alpha = ${o.alpha})`
      : undefined),
    build: (o, base) => {
      const floor = o.finalLr ?? (o.alpha ?? 0.01) * base;
      return curve((k) => (k <= o.tau ? (1 - k / o.tau) * base + (k / o.tau) * floor : floor));
    },
  }),
  warmup: entry({
    doc: 'Linear warmup, then another schedule: lr_t = base * (startFactor + (1 - startFactor) t / ' +
      'warmupSteps) for t < warmupSteps, then the schedule `then` at step t - warmupSteps (from its ' +
      'own step 0, with the same base lr; a oneCycle `then` makes that base its maxLr / divFactor ' +
      'for both, as its OneCycleLR overwrites the initial_lr SequentialLR starts from), or the ' +
      'constant base lr without `then`. warmupSteps ' +
      'required (a non-negative integer); default startFactor = 1/3 (LinearLR\'s), in [0, 1]: 0 is ' +
      'allowed here (LinearLR requires > 0), for a warmup from zero. The same numbers as ' +
      'torch.optim.lr_scheduler.SequentialLR([LinearLR(startFactor, 1, warmupSteps), then], ' +
      '[warmupSteps]). `then` cannot be reduceOnPlateau. A `then` that ends (a oneCycle) ends the ' +
      'warmup warmupSteps later (stepLimit).',
    options: {
      warmupSteps: req(nonNegativeInt),
      startFactor: num(1 / 3, unitInterval('Starting multiplicative factor expected to be between 0 and 1.')),
      then: nested(),
    },
    build: (o, base, label) => {
      // As SequentialLR([LinearLR, then]): a oneCycle `then` sets the base both run from.
      const [warm, after] = o.then === undefined ? [base, base] : phaseBases([{ name: 'linear' }, o.then], base);
      const inner: NestedCurve = o.then === undefined ? { lrAt: () => base, stepLimit: undefined } : buildCurve(o.then, after, `${label}.then`);
      const w = o.warmupSteps;
      return curve((t) => (t < w ? warm * (o.startFactor + ((1 - o.startFactor) * t) / w) : inner.lrAt(t - w)), undefined,
        inner.stepLimit === undefined ? undefined : w + inner.stepLimit);
    },
  }),
  sequential: entry({
    doc: 'Schedules one after another, as torch.optim.lr_scheduler.SequentialLR: schedules[i] runs ' +
      'from step milestones[i - 1] (0 for the first), starting from its own step 0 with the base lr, ' +
      'so lr_t = schedules[i].lr at step t - milestones[i - 1]. As in PyTorch, where each scheduler ' +
      'takes the initial_lr the ones built before it left: a oneCycle makes the base of the ' +
      'schedules after it, and of a first one that chains (not cyclic or cosineWarmRestarts), its ' +
      'maxLr / divFactor, and a first cyclic with a baseLr makes that the base of the others. ' +
      'schedules and milestones required; ' +
      'milestones has one entry fewer than schedules and must be strictly increasing positive ' +
      'integers (PyTorch does not check; a milestone at 0 or out of order gives it odd results). ' +
      'reduceOnPlateau cannot be one of the schedules (as in PyTorch). The sequence ends (stepLimit) ' +
      'where the first of its schedules that ends (a oneCycle) runs out before the next milestone, ' +
      'or where the last one ends.',
    options: { schedules: nestedList(), milestones: numberList(positiveInt) },
    check: (o) => {
      if (o.schedules.length < 1) return 'sequential expects at least one scheduler, but got no scheduler.';
      if (o.milestones.length !== o.schedules.length - 1) {
        return 'Sequential Schedulers expects number of schedulers provided to be one more than the number of ' +
          `milestone points, but got number of schedulers ${o.schedules.length} and the number of milestones ` +
          `to be equal to ${o.milestones.length}`;
      }
      for (let i = 1; i < o.milestones.length; i++) {
        if (!(o.milestones[i] > o.milestones[i - 1])) {
          return `Expected strictly increasing milestones, but got ${show(o.milestones)}`;
        }
      }
      return undefined;
    },
    build: (o, base, label) => {
      const bases = phaseBases(o.schedules, base);
      const phases = o.schedules.map((s, i) => buildCurve(s, bases[i], `${label}.schedules[${i}]`));
      const starts = [0, ...o.milestones];
      // A schedule whose steps run out before the next milestone ends the sequence there.
      let stepLimit: number | undefined;
      for (let i = 0; i < phases.length && stepLimit === undefined; i++) {
        const end = phases[i].stepLimit;
        if (end !== undefined && (i === phases.length - 1 || starts[i] + end + 1 < starts[i + 1])) stepLimit = starts[i] + end;
      }
      return curve((t) => {
        const i = countAtOrBelow(o.milestones, t);
        return phases[i].lrAt(t - starts[i]);
      }, undefined, stepLimit);
    },
  }),
  reduceOnPlateau: entry({
    doc: 'Cuts the lr when a metric stops improving, as torch.optim.lr_scheduler.ReduceLROnPlateau: ' +
      'step(metric) counts a bad step unless metric improves on the best so far (mode "min", ' +
      'thresholdMode "rel": metric < best (1 - threshold); "abs": metric < best - threshold; mode ' +
      '"max": metric > best (1 + threshold) or best + threshold); during a cooldown bad steps are ' +
      'not counted; after more than patience bad steps lr = max(lr * factor, minLr), applied only ' +
      'if that lowers it by more than eps, then the cooldown starts. Defaults mode "min", factor = ' +
      '0.1 (in [0, 1)), patience = 10, threshold = 1e-4, thresholdMode "rel", cooldown = 0, ' +
      'minLr = 0, eps = 1e-8. The lr starts at the base lr. step() requires a finite or infinite ' +
      'metric (a missing metric is ERR_BLASNET_ARG_TYPE, NaN ERR_BLASNET_ARG_RANGE, where PyTorch ' +
      'counts NaN as a bad step). minLr is one number (PyTorch also takes one per param group).',
    options: {
      mode: oneOf(['min', 'max'] as const, 'min'),
      factor: num(0.1, (v) => (v >= 1 ? 'Factor should be < 1.0.' : v < 0 ? 'Factor should be >= 0.' : undefined)),
      patience: num(10, nonNegativeInt),
      threshold: num(1e-4, nonNegative),
      thresholdMode: oneOf(['rel', 'abs'] as const, 'rel'),
      cooldown: num(0, nonNegativeInt),
      minLr: num(0, nonNegative),
      eps: num(1e-8, nonNegative),
    },
    build: (o) => ({ kind: 'plateau', settings: { ...o } }),
  }),
};

/**
 * The base lr each schedule of a sequence runs from, as PyTorch's SequentialLR gives it: every
 * scheduler takes the param group's initial_lr as it stands when it is built (in list order), and
 * the schedulers set it as they are built: the first from the group's lr (a CyclicLR first sets
 * that lr to its base_lr), and any OneCycleLR overwrites it with max_lr / div_factor. Each
 * schedule after the first starts at its milestone from its closed form over that base; the first
 * runs on (chained) from the lr SequentialLR resets to the initial_lr all of them left, except a
 * cyclic, oneCycle or cosineWarmRestarts, which set their lr from their own base. Without a
 * oneCycle or a leading cyclic with its own baseLr, every base is `base`.
 */
function phaseBases(specs: readonly unknown[], base: number): number[] {
  let initial = base;
  const built = specs.map((spec, i) => {
    const o = isPlainObject(spec) ? spec : {};
    if (i === 0 && o.name === 'cyclic' && typeof o.baseLr === 'number') initial = o.baseLr;
    if (o.name === 'oneCycle' && typeof o.maxLr === 'number') initial = o.maxLr / (typeof o.divFactor === 'number' ? o.divFactor : 25);
    return initial;
  });
  const first = isPlainObject(specs[0]) ? specs[0].name : undefined;
  if (built.length > 0 && !OVERWRITING.has(first as string)) built[0] = initial;
  return built;
}

/** Name of a schedule in the table. */
export type ScheduleName = keyof typeof SCHEDULES;

/** Schedule names in table order. */
export const SCHEDULE_NAMES = Object.keys(SCHEDULES) as ScheduleName[];

type Resolve<T> = [T] extends [NestedScheduleSpec]
  ? ScheduleSpec
  : [T] extends [readonly NestedScheduleSpec[]] ? readonly ScheduleSpec[] : T;
type OptionType<O> = O extends OptionDef<infer T, OptionPresence> ? Resolve<T> : never;
type RequiredKeys<D> = { [K in keyof D]-?: D[K] extends { readonly presence: 'required' } ? K : never }[keyof D];
type SpecOptions<D> = { readonly [K in RequiredKeys<D>]: OptionType<D[K]> } & {
  readonly [K in Exclude<keyof D, RequiredKeys<D>>]?: OptionType<D[K]>;
};

/** The options a schedule takes: required ones as such, the others optional. */
export type ScheduleOptions<K extends ScheduleName> = SpecOptions<(typeof SCHEDULES)[K]['options']>;

/**
 * A schedule: `{ name, ...options }`, e.g. `{ name: 'step', stepSize: 30, gamma: 0.1 }` or
 * `{ name: 'warmup', warmupSteps: 5, then: { name: 'cosineAnnealing', tMax: 95 } }`.
 */
export type ScheduleSpec = { [K in ScheduleName]: { readonly name: K } & ScheduleOptions<K> }[ScheduleName];

// ---------------------------------------------------------------------------------------------
// Validation

function resolveSpec(spec: unknown, context: string): { name: ScheduleName; label: string; options: Record<string, unknown> } {
  if (!isPlainObject(spec)) {
    throw typeError(ErrorCode.ARG_TYPE, `${context}: Expected a schedule spec { name, ...options } but received ${typeName(spec)}`);
  }
  const name = spec.name;
  if (typeof name !== 'string') {
    throw typeError(ErrorCode.ARG_TYPE, `${context}: Expected string for name but received ${typeName(name)}`);
  }
  if (!hasOwn(SCHEDULES, name)) {
    throw rangeError(ErrorCode.UNKNOWN_NAME, `${context}: Unknown schedule ${show(name)}; expected one of ${SCHEDULE_NAMES.join(', ')}`);
  }
  const label = context === 'createSchedule' ? name : `${context}.${name}`;
  const def = SCHEDULES[name as ScheduleName] as unknown as ScheduleDef;
  const options = parseOptions(label, spec, def.options, (o) => o.presence === 'required', def.check?.bind(def) as ((o: Record<string, unknown>) => string | undefined) | undefined);
  return { name: name as ScheduleName, label, options };
}

function buildEngine(spec: unknown, baseLr: number, context: string): { name: ScheduleName; label: string; engine: ScheduleEngine } {
  const { name, label, options } = resolveSpec(spec, context);
  const def = SCHEDULES[name] as unknown as ScheduleDef;
  return { name, label, engine: def.build(options, baseLr, label) };
}

/** A nested spec as a curve; reduceOnPlateau is rejected (it needs a metric). */
function buildCurve(spec: unknown, baseLr: number, context: string): NestedCurve {
  const { label, engine } = buildEngine(spec, baseLr, context);
  if (engine.kind !== 'curve') {
    throw rangeError(ErrorCode.ARG_RANGE, `${label}: cannot be nested in another schedule: ${PLATEAU_NOTE}`);
  }
  return { lrAt: engine.lrAt, stepLimit: engine.stepLimit };
}

function checkBaseLr(baseLr: unknown): number {
  if (typeof baseLr !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `createSchedule: Expected number for baseLr but received ${typeName(baseLr)}`);
  }
  if (!Number.isFinite(baseLr) || baseLr < 0) {
    throw rangeError(ErrorCode.ARG_RANGE, `createSchedule: Invalid learning rate: ${baseLr}`);
  }
  return baseLr;
}

// ---------------------------------------------------------------------------------------------
// Schedules

/**
 * A schedule's state as plain JSON-able data: its name, the step count and the current lr, and
 * for reduceOnPlateau the metric bookkeeping (`best` is a number, or the string "Infinity" /
 * "-Infinity", which JSON cannot hold as numbers).
 */
export interface ScheduleState {
  readonly name: ScheduleName;
  readonly count: number;
  readonly lr: number;
  readonly best?: number | 'Infinity' | '-Infinity';
  readonly numBadEpochs?: number;
  readonly cooldownCounter?: number;
}

/**
 * A learning-rate schedule made by `createSchedule`. `lr` is the rate for the current step count
 * (`count`, the number of `step()` calls), starting with the rate for step 0. `step()` advances
 * one step and returns the new rate; only reduceOnPlateau reads `metric` (the others ignore it,
 * so one training loop can pass it to any schedule). `state()` returns plain data; `load(state)`
 * into a schedule made from the same spec and base lr continues with bit-identical numbers.
 * A `step()` or `load()` that throws leaves the schedule unchanged.
 */
export interface Schedule {
  /** The schedule's table name. */
  readonly name: ScheduleName;
  /** The rate for the current step count. */
  readonly lr: number;
  /**
   * The momentum (or Adam's beta1) for the current step count when the schedule cycles it
   * (oneCycle with cycleMomentum), undefined otherwise.
   */
  readonly momentum?: number;
  /** `step()` calls so far. */
  readonly count: number;
  /**
   * The most `step()` calls the schedule takes, when it ends: a oneCycle's totalSteps, or the
   * step where a oneCycle nested in warmup or sequential ends it; undefined for the others. The
   * rate at this count is one no update uses when step() follows each update (followSchedule
   * leaves the optimiser as it is there); one more step() throws ERR_BLASNET_STATE, and fit
   * refuses a run that would make it.
   */
  readonly stepLimit?: number;
  /** Advances one step (or epoch, the caller's choice) and returns the new rate; `metric` feeds reduceOnPlateau. */
  step(metric?: number): number;
  /** The schedule's state as plain data. */
  state(): ScheduleState;
  /** Restores a state() of a schedule made from the same spec and base lr. */
  load(state: ScheduleState): void;
}

function stateError(message: string): BlasnetError {
  return new BlasnetError(ErrorCode.STATE, `load: ${message}`);
}

function readState(state: unknown, name: ScheduleName): { count: number; lr: number; raw: Record<string, unknown> } {
  if (!isPlainObject(state)) {
    throw typeError(ErrorCode.ARG_TYPE, `load: Expected a ScheduleState object but received ${typeName(state)}`);
  }
  if (state.name !== name) throw stateError(`the state is for schedule ${show(state.name)}, this schedule is ${show(name)}`);
  const { count, lr } = state;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw stateError(`Expected a non-negative integer count but got ${show(count)}`);
  }
  if (typeof lr !== 'number' || !Number.isFinite(lr)) throw stateError(`Expected a finite number lr but got ${show(lr)}`);
  return { count, lr, raw: state };
}

class CurveSchedule implements Schedule {
  #count = 0;
  #lr: number;

  constructor(readonly name: ScheduleName, private readonly label: string, private readonly lrAt: (t: number) => number,
    private readonly momentumAt?: (t: number) => number, readonly stepLimit?: number, private readonly chainChanged = false) {
    this.#lr = this.at(0);
  }

  get lr(): number {
    return this.#lr;
  }

  get momentum(): number | undefined {
    return this.momentumAt?.(this.#count);
  }

  get count(): number {
    return this.#count;
  }

  private at(t: number): number {
    const lr = this.lrAt(t);
    if (!Number.isFinite(lr)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${this.label}: the learning rate at step ${t} is ${lr}, not a finite number`);
    }
    return lr;
  }

  step(): number {
    const lr = this.at(this.#count + 1);
    this.#count += 1;
    this.#lr = lr;
    return lr;
  }

  state(): ScheduleState {
    return { name: this.name, count: this.#count, lr: this.#lr };
  }

  load(state: ScheduleState): void {
    const { count, lr } = readState(state, this.name);
    let mine: number;
    try {
      mine = this.at(count);
    } catch (e) {
      throw stateError(`step ${count} is out of this schedule's range: ${(e as Error).message}`);
    }
    if (mine !== lr) {
      // Chains changed once: a phase after a oneCycle or a cyclic now starts from the rate
      // torch's SequentialLR gives it, so a chain's state saved before can differ with the same spec.
      const chain = this.chainChanged
        ? `, or by an earlier release of blasnet, whose ${this.name} chains gave other rates after a oneCycle or cyclic phase (train such a run afresh)`
        : '';
      throw stateError(`the state's lr at step ${count} is ${lr} but this schedule's is ${mine}: it was made from another spec or base lr${chain}`);
    }
    this.#count = count;
    this.#lr = lr;
  }
}

function encodeBest(v: number): number | 'Infinity' | '-Infinity' {
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

function decodeBest(v: unknown): number | undefined {
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

class PlateauSchedule implements Schedule {
  readonly name = 'reduceOnPlateau' as const;
  #count = 0;
  #lr: number;
  #best: number;
  #numBadEpochs = 0;
  #cooldownCounter = 0;

  constructor(private readonly label: string, private readonly o: PlateauSettings, baseLr: number) {
    this.#lr = baseLr;
    this.#best = o.mode === 'min' ? Infinity : -Infinity;
  }

  get lr(): number {
    return this.#lr;
  }

  get count(): number {
    return this.#count;
  }

  private isBetter(a: number, best: number): boolean {
    const { mode, thresholdMode, threshold } = this.o;
    if (mode === 'min') return thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  }

  step(metric?: number): number {
    if (typeof metric !== 'number') {
      throw typeError(ErrorCode.ARG_TYPE, `${this.label}.step: Expected number for metric but received ${typeName(metric)}`);
    }
    if (Number.isNaN(metric)) throw rangeError(ErrorCode.ARG_RANGE, `${this.label}.step: metric is NaN`);
    this.#count += 1;
    if (this.isBetter(metric, this.#best)) {
      this.#best = metric;
      this.#numBadEpochs = 0;
    } else {
      this.#numBadEpochs += 1;
    }
    if (this.#cooldownCounter > 0) {
      this.#cooldownCounter -= 1;
      this.#numBadEpochs = 0;
    }
    if (this.#numBadEpochs > this.o.patience) {
      const old = this.#lr;
      const lowered = Math.max(old * this.o.factor, this.o.minLr);
      if (old - lowered > this.o.eps) this.#lr = lowered;
      this.#cooldownCounter = this.o.cooldown;
      this.#numBadEpochs = 0;
    }
    return this.#lr;
  }

  state(): ScheduleState {
    return {
      name: this.name,
      count: this.#count,
      lr: this.#lr,
      best: encodeBest(this.#best),
      numBadEpochs: this.#numBadEpochs,
      cooldownCounter: this.#cooldownCounter,
    };
  }

  load(state: ScheduleState): void {
    const { count, lr, raw } = readState(state, this.name);
    if (lr < 0) throw stateError(`Expected lr >= 0 but got ${lr}`);
    const best = decodeBest(raw.best);
    if (best === undefined) throw stateError(`Expected best to be a finite number, "Infinity" or "-Infinity" but got ${show(raw.best)}`);
    const counters = ['numBadEpochs', 'cooldownCounter'].map((key) => {
      const v = raw[key];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw stateError(`Expected a non-negative integer ${key} but got ${show(v)}`);
      }
      return v;
    });
    this.#count = count;
    this.#lr = lr;
    this.#best = best;
    [this.#numBadEpochs, this.#cooldownCounter] = counters;
  }
}

/**
 * Makes the schedule `spec` (`{ name, ...options }`, see SCHEDULES for each formula, its options
 * and defaults and the torch class it matches) starting from `baseLr` (the optimizer's lr in
 * PyTorch, the schedule's initial_lr). Validates everything first: TypeError ERR_BLASNET_ARG_TYPE
 * for a spec, option or baseLr of the wrong type or a missing required option; RangeError
 * ERR_BLASNET_UNKNOWN_NAME for an unknown schedule name; RangeError ERR_BLASNET_ARG_RANGE for an
 * unknown option, a non-finite number, a negative or non-finite baseLr or lr option, or a value
 * PyTorch rejects (with PyTorch's message, e.g. "reduceOnPlateau: Factor should be < 1.0.", option
 * names camel-cased as given). Nested specs are checked in full; their messages name their path
 * (`warmup.then.cosineAnnealing: ...`).
 */
export function createSchedule(spec: ScheduleSpec, baseLr: number): Schedule {
  const base = checkBaseLr(baseLr);
  const { name, label, engine } = buildEngine(spec, base, 'createSchedule');
  if (engine.kind === 'plateau') return new PlateauSchedule(label, engine.settings, base);
  const chainChanged = (name === 'warmup' || name === 'sequential') && mentions(spec, ['oneCycle', 'cyclic']);
  return new CurveSchedule(name, label, engine.lrAt, engine.momentumAt, engine.stepLimit, chainChanged);
}

/** Whether a spec names one of `names` at any depth. */
function mentions(spec: unknown, names: readonly string[]): boolean {
  if (Array.isArray(spec)) return spec.some((s) => mentions(s, names));
  if (!isPlainObject(spec)) return false;
  return names.includes(spec.name as string) || Object.values(spec).some((v) => mentions(v, names));
}
