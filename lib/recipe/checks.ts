/**
 * The lecture notes' sanity checks before training: the initial loss against the value chance
 * predictions give, a finite-difference gradient check, overfitting a tiny subset, and dead or
 * saturated units at initialisation. Every check runs on the model's own arenas and restores
 * them (see onScratch): the model, its optimiser and its dropout stream are left as they were.
 */
import { optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag } from '../typed';
import { resolveLoss } from '../model/loss';
import type { LossSpec, TargetInput } from '../model/loss';
import type { Input, Sequential, Target } from '../model/sequential';
import type { OptimizerSpec } from '../optim';
import { Rng } from '../rng';
import { metricOn } from '../train/metrics';
import { scoreKind } from '../predict';
import type { Matrix } from '../tensor';
import { gather, intOption, modelArg, onScratch, optimizerSpecOf, readRows, requireFiniteRows, scratchOptimizer } from './scratch';
import type { Rows } from './scratch';
import { labelsOf } from '../data/input';
import type { Labels } from '../train/fit';

/** The initial loss next to the value chance-level outputs give. */
export interface InitialLossCheck {
  /** Mean loss of up to `rows` rows in inference mode, penalties excluded. */
  readonly loss: number;
  /** The value for chance-level outputs, or null when there is no such value for this loss. */
  readonly expected: number | null;
  /** How `expected` was derived, e.g. "ln 10 (softmax over 10 classes)". */
  readonly basis: string;
  readonly rows: number;
  /** |loss - expected| <= tolerance * expected (true when expected is null). */
  readonly ok: boolean;
}

/** Worst finite-difference disagreement in one parameter tensor. */
export interface GradientTensorCheck {
  readonly name: string;
  /** Coordinates compared (of a seeded sample of at most `samples`). */
  readonly coordinates: number;
  /** Sampled coordinates skipped because the loss has a kink within h of them (relu at 0). */
  readonly kinks: number;
  /**
   * max |analytic - numeric| / max(|analytic| + |numeric|, floor) over the coordinates, floor
   * being the float32 rounding noise of the loss over the step (16 ulp(max(|loss|, 1)) / h).
   */
  readonly worstRelativeError: number;
  readonly ok: boolean;
}

/** The gradient check: every parameter tensor's worst relative error. */
export interface GradientCheck {
  readonly rows: number;
  readonly tensors: readonly GradientTensorCheck[];
  /** The worst over all tensors. */
  readonly worst: number;
  readonly ok: boolean;
}

/** Whether a few rows can be fitted (near) perfectly, and how many steps it took. */
export interface OverfitCheck {
  readonly rows: number;
  /** Steps taken (full-batch optimiser steps on the subset). */
  readonly steps: number;
  readonly maxSteps: number;
  /** Loss of the subset in inference mode before and after. */
  readonly initialLoss: number;
  readonly finalLoss: number;
  /** Training accuracy on the subset for a classification loss, else null. */
  readonly accuracy: number | null;
  /** Whether the target was reached: accuracy 1 (classification) or loss <= 1% of the initial one. */
  readonly ok: boolean;
}

/** Dead (relu family) or saturated (sigmoid, tanh) fractions of one layer at initialisation. */
export interface UnitCheck {
  readonly layer: number;
  readonly name: string;
  readonly activation: string | null;
  readonly dead: number | null;
  readonly saturated: number | null;
  readonly ok: boolean;
}

/** What checkModel found. `findings` lists every failed check as a sentence; `text` prints it all. */
export interface ModelCheckReport {
  readonly initialLoss: InitialLossCheck;
  readonly gradient: GradientCheck | null;
  readonly overfit: OverfitCheck | null;
  readonly units: readonly UnitCheck[];
  readonly findings: readonly string[];
  readonly ok: boolean;
  readonly text: string;
}

/** Options of checkModel; every check but the initial loss and the units can be switched off. */
export interface CheckOptions {
  /** The loss to check. Default the model's (setLoss/compile). */
  loss?: LossSpec;
  /** Rows (the first ones) for the initial loss and the unit statistics. Default 256. */
  rows?: number;
  /** Relative tolerance of the initial loss against its expected value. Default 0.05. */
  tolerance?: number;
  /**
   * The gradient check, or false to skip it. rows: batch size (seeded sample), default 8;
   * samples: coordinates per tensor, default 12; step: the finite-difference step h, default
   * 1e-3; threshold: worst relative error that passes, default 1e-2 (float32 forward passes).
   */
  gradient?: false | { rows?: number; samples?: number; step?: number; threshold?: number };
  /**
   * The overfitting check, or false to skip it. rows: subset size, default 20; steps: at most
   * this many full-batch steps, default 300; optimizer: default the model's compiled optimiser's
   * spec (its current lr), else Adam lr 1e-3.
   */
  overfit?: false | { rows?: number; steps?: number; optimizer?: OptimizerSpec };
  /** Fraction of dead or saturated units at initialisation that is flagged. Default 0.2. */
  unitThreshold?: number;
  /** Seed of the samples. Default 0. */
  seed?: number;
}

function lossOf(model: Sequential, given: LossSpec | undefined, where: string): LossSpec {
  if (given !== undefined) return given;
  const l = model.lossSpec;
  if (!l) throw new BlasnetError(ErrorCode.STATE, `${where}: no loss given; pass { loss } or set one with setLoss() or compile()`);
  return l.custom ?? { name: l.name as never, param: l.param };
}

function numberOption(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected positive number for ${name} but received ${show(v)}`);
  }
  return v;
}

/** Mean of y^2 over every target value: the mse of outputs at 0. */
function meanSquare(y: Float32Array | Int32Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * y[i];
  return s / y.length;
}

/** The loss chance-level outputs give, and why. */
export function expectedInitialLoss(lossName: string, outputs: number, targets: Float32Array | Int32Array): { expected: number | null; basis: string } {
  const where = 'expectedInitialLoss';
  if (typeof lossName !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a loss name for lossName but received ${show(lossName)}`);
  if (!(Number.isInteger(outputs) && outputs > 0)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for outputs but received ${show(outputs)}`);
  const tag = typedArrayTag(targets);
  if (tag !== 'Float32Array' && tag !== 'Int32Array') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected Float32Array or Int32Array for targets but received ${typeName(targets)}`);
  }
  switch (lossName) {
    case 'crossEntropy':
      return { expected: Math.log(outputs), basis: `ln ${outputs} (uniform softmax over ${outputs} classes)` };
    case 'binaryCrossEntropy':
      return { expected: Math.LN2, basis: 'ln 2 per output (sigmoid at 0.5)' };
    case 'mse':
      return { expected: meanSquare(targets), basis: 'mean of y^2 (outputs near 0)' };
    default:
      return { expected: null, basis: `no chance-level value for ${lossName}` };
  }
}

function initialLossCheck(model: Sequential, loss: LossSpec, data: Rows, rows: number, tolerance: number): InitialLossCheck {
  const n = Math.min(rows, data.rows);
  const y = data.y.subarray(0, n * data.width);
  const value = model.lossValue(data.x.subarray(0, n * data.cols), y as Target, { loss });
  const { expected, basis } = expectedInitialLoss(resolveLoss(loss).name, model.outputSize, y);
  const ok = expected === null || Math.abs(value - expected) <= tolerance * expected;
  return { loss: value, expected, basis, rows: n, ok };
}

function unitChecks(model: Sequential, loss: LossSpec, data: Rows, rows: number, threshold: number): UnitCheck[] {
  const n = Math.min(rows, data.rows);
  model.lossAndGradient(data.x.subarray(0, n * data.cols), data.y.subarray(0, n * data.width) as Target, { loss });
  return model.diagnostics().filter((d) => d.dead !== null || d.saturated !== null).map((d) => ({
    layer: d.layer, name: d.name, activation: d.activation, dead: d.dead, saturated: d.saturated,
    ok: (d.dead ?? 0) <= threshold && (d.saturated ?? 0) <= threshold,
  }));
}

/** Seeded distinct row indices, k of n. */
function sample(n: number, k: number, rng: Rng): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < Math.min(k, n); i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, Math.min(k, n));
}

/**
 * Central differences of the model's own training loss (dropout masks replayed by reseeding,
 * penalties included) against lossAndGradient's gradient, for a seeded sample of coordinates of
 * every parameter tensor (the largest-gradient quarter of a seeded sample four times as big). The
 * forward passes run in float32 (they are the model's); the perturbation uses the float32 values
 * actually stored (h = step * max(1, |p|)), and differences and errors are float64.
 */
function gradientCheck(model: Sequential, loss: LossSpec, data: Rows, o: { rows: number; samples: number; step: number; threshold: number }, rng: Rng): GradientCheck {
  const index = sample(data.rows, o.rows, rng);
  const { x, y } = gather(data, index);
  // A weight matrix of zeros (the head of a table network starts so) passes no gradient to the
  // layers below it: their gradients would be 0 on both sides and a broken backward pass there
  // would pass. Such a matrix takes small seeded values (lecun normal) for the check, and its
  // zeros back after it.
  const zeroed = model.parameters().filter((p) => p.shape.length === 2 && p.data.length > 0 && p.data.every((v) => v === 0));
  for (const p of zeroed) {
    const scale = 1 / Math.sqrt(p.shape[1]);
    for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * scale;
  }
  try {
    return gradientCheckAt(model, loss, x, y, index.length, o, rng);
  } finally {
    for (const p of zeroed) p.data.fill(0);
  }
}

function gradientCheckAt(model: Sequential, loss: LossSpec, x: Float32Array, y: Int32Array | Float32Array, rows: number,
  o: { rows: number; samples: number; step: number; threshold: number }, rng: Rng): GradientCheck {
  const seed = rng.int(0x7fffffff);
  model.reseed(seed);
  model.lossAndGradient(x, y as Target, { loss });
  const analytic = model.grads.slice();
  const f = (): number => {
    model.reseed(seed);
    return model.lossValue(x, y as Target, { loss, training: true }) + model.penaltyValue();
  };
  let offset = 0;
  // Float32 forward passes leave the loss with rounding noise of a few ulps; divided by 2h it is
  // the smallest gradient the differences can resolve, used as the error's floor.
  const f0 = f();
  const floor = (16 * 2 ** -24 * Math.max(Math.abs(f0), 1)) / o.step;
  const tensors = model.parameters().map((p) => {
    const base = offset;
    // Of 4x the candidates, the coordinates with the largest gradients: a wrong backward pass
    // shows there, while tiny components drown in rounding noise.
    const coords = Array.from(sample(p.data.length, 4 * o.samples, rng))
      .sort((i, j) => Math.abs(analytic[base + j]) - Math.abs(analytic[base + i])).slice(0, o.samples);
    let worst = 0, kinks = 0;
    for (const i of coords) {
      const orig = p.data[i];
      const h = o.step * Math.max(1, Math.abs(orig));
      const plus = Math.fround(orig + h), minus = Math.fround(orig - h);
      p.data[i] = plus;
      const fp = f();
      p.data[i] = minus;
      const fm = f();
      p.data[i] = orig;
      // A kink (relu at 0) between p - h and p + h makes the one-sided slopes disagree: the
      // central difference means nothing there, so the coordinate is skipped. A wrong gradient
      // still shows, since both slopes agree with each other and not with it.
      const forward = (fp - f0) / (plus - orig), backward = (f0 - fm) / (orig - minus);
      if (Math.abs(forward - backward) > o.threshold * Math.max(Math.abs(forward) + Math.abs(backward), 2 * floor)) {
        kinks++;
        continue;
      }
      const numeric = (fp - fm) / (plus - minus);
      const a = analytic[offset + i];
      // A difference within the floor is rounding (a gradient that is 0, as a bias's before
      // BatchNorm, gives a numeric one of noise); beyond it the error is relative.
      const diff = Math.abs(a - numeric);
      const err = diff <= floor ? 0 : diff / Math.max(Math.abs(a) + Math.abs(numeric), floor);
      if (!(err <= worst)) worst = err;
    }
    offset += p.data.length;
    return { name: p.name, coordinates: coords.length - kinks, kinks, worstRelativeError: worst, ok: worst <= o.threshold };
  });
  const worst = tensors.reduce((w, t) => (t.worstRelativeError > w || Number.isNaN(t.worstRelativeError) ? t.worstRelativeError : w), 0);
  return { rows, tensors, worst, ok: tensors.every((t) => t.ok) };
}

function accuracy(out: Float32Array, rows: number, cols: number, y: Int32Array | Float32Array, width: number): number {
  let right = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (out[r * cols + j] > out[r * cols + best]) best = j;
    let label: number;
    if (width === 1) label = y[r];
    else {
      label = 0;
      for (let j = 1; j < width; j++) if (y[r * width + j] > y[r * width + label]) label = j;
    }
    if (best === label) right++;
  }
  return right / rows;
}

function overfitCheck(model: Sequential, loss: LossSpec, data: Rows, o: { rows: number; steps: number; optimizer: OptimizerSpec }, rng: Rng): OverfitCheck {
  const index = sample(data.rows, o.rows, rng);
  const { x, y } = gather(data, index);
  // Classes: crossEntropy's, and binaryCrossEntropy's per output (as its accuracy metric reads them).
  const lossName = resolveLoss(loss).name;
  const classify = lossName === 'crossEntropy' || lossName === 'binaryCrossEntropy';
  const optimizer = scratchOptimizer(model, o.optimizer);
  const initialLoss = model.lossValue(x, y as Target, { loss });
  let finalLoss = initialLoss;
  let acc: number | null = null;
  const reached = (): boolean => {
    finalLoss = model.lossValue(x, y as Target, { loss });
    if (classify) {
      if (lossName === 'binaryCrossEntropy') {
        // The binaryAccuracy metric's rule: a logit above 0 (a probability above 0.5) against a target above 0.5.
        const m = metricOn('binaryAccuracy', model.backend, scoreKind(model));
        m.update(model.lastOutput().data, index.length, model.outputSize, y);
        acc = m.value();
      } else {
        acc = accuracy(model.lastOutput().data, index.length, model.outputSize, y, data.width);
      }
      return acc === 1;
    }
    return finalLoss <= 0.01 * initialLoss;
  };
  let steps = 0;
  let ok = reached();
  while (!ok && steps < o.steps) {
    model.lossAndGradient(x, y as Target, { loss });
    optimizer.step();
    steps++;
    if (steps % 5 === 0 || steps === o.steps) ok = reached();
  }
  return { rows: index.length, steps, maxSteps: o.steps, initialLoss, finalLoss, accuracy: acc, ok };
}

const fmt = (v: number | null): string => (v === null ? '-' : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2));

function report(initial: InitialLossCheck, gradient: GradientCheck | null, overfit: OverfitCheck | null, units: UnitCheck[], threshold: number): ModelCheckReport {
  const findings: string[] = [];
  const lines: string[] = [];
  const e = initial.expected;
  lines.push(`initial loss ${fmt(initial.loss)} on ${initial.rows} rows; expected ${e === null ? '-' : fmt(e)}: ${initial.basis}${initial.ok ? '' : '  <- check'}`);
  if (!initial.ok && e !== null) {
    findings.push(`initial loss ${fmt(initial.loss)} is ${(initial.loss / e).toFixed(2)}x the chance-level ${fmt(e)} (${initial.basis}): ` +
      'the initial outputs are not near chance (initialisation scale, output layer, or labels)');
  }
  if (gradient) {
    lines.push(`gradient check on ${gradient.rows} rows: worst relative error ${fmt(gradient.worst)}`);
    for (const t of gradient.tensors) lines.push(`  ${t.name.padEnd(16)} ${fmt(t.worstRelativeError)} over ${t.coordinates} coordinates${t.kinks ? ` (${t.kinks} at kinks skipped)` : ''}${t.ok ? '' : '  <- check'}`);
    for (const t of gradient.tensors.filter((g) => !g.ok)) {
      findings.push(`gradient of ${t.name} disagrees with finite differences (relative error ${fmt(t.worstRelativeError)}): check the layer's or loss's backward`);
    }
  }
  if (overfit) {
    const what = overfit.accuracy === null ? `loss ${fmt(overfit.initialLoss)} -> ${fmt(overfit.finalLoss)}` : `accuracy ${(100 * overfit.accuracy).toFixed(0)}%, loss ${fmt(overfit.finalLoss)}`;
    lines.push(`overfit ${overfit.rows} rows: ${overfit.ok ? 'reached' : 'not reached'} in ${overfit.steps} steps (${what})`);
    if (!overfit.ok) findings.push(`could not overfit ${overfit.rows} rows in ${overfit.maxSteps} steps (${what}): check the learning rate, the loss and the labels`);
  }
  for (const u of units) {
    lines.push(`layer ${u.name} (${u.activation}): dead ${u.dead === null ? '-' : `${(100 * u.dead).toFixed(1)}%`}, saturated ${u.saturated === null ? '-' : `${(100 * u.saturated).toFixed(1)}%`}${u.ok ? '' : '  <- check'}`);
    if (!u.ok) {
      findings.push(`layer ${u.name} (${u.activation}) has ${u.dead !== null && u.dead > threshold ? `${(100 * u.dead).toFixed(0)}% dead` : `${(100 * (u.saturated ?? 0)).toFixed(0)}% saturated`} units at initialisation: check the input scaling and the initialiser`);
    }
  }
  const ok = findings.length === 0;
  lines.push(ok ? 'all checks passed' : `${findings.length} finding${findings.length > 1 ? 's' : ''}:`);
  for (const f of findings) lines.push(`  - ${f}`);
  return { initialLoss: initial, gradient, overfit, units, findings, ok, text: lines.join('\n') };
}

const CHECK_OPTIONS: OptionKeys<CheckOptions> = {
  loss: true, rows: true, tolerance: true, gradient: true, overfit: true, unitThreshold: true, seed: true,
};

/** The gradient or overfit option when not false: undefined gives {}, else an object of known keys. */
function part<T extends object>(where: string, name: string, v: T | undefined, known: OptionKeys<NoInfer<T>>): T {
  if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected false or an object for ${name} but received ${typeName(v)}`);
  }
  return optionsArg(where, v, known, name);
}

/**
 * The lecture notes' checks before training a model on (x, y):
 *
 * - initial loss (inference mode, first `rows` rows) against chance level: ln C for
 *   crossEntropy over C outputs, ln 2 for binaryCrossEntropy, mean(y^2) for mse (outputs near
 *   0), flagged beyond `tolerance` (relative); other and custom losses are reported without one;
 * - gradient check: central differences of the model's loss (any layers, CustomLoss included)
 *   against its backward pass, worst relative error per parameter tensor over a seeded sample of
 *   coordinates;
 * - overfit: full-batch steps with a fresh optimiser of the model's spec on a few rows until
 *   100% training accuracy (crossEntropy) or 1% of the initial loss, reporting the steps taken;
 * - units: dead (relu family) and saturated (sigmoid, tanh) fractions per layer at
 *   initialisation, from model.diagnostics().
 *
 * x is read as fit reads it: records by the model's input columns, then the model's own
 * preprocessing (setPreprocessing) applied, so pass the raw rows fit takes.
 *
 * Findings never throw: they are listed in `findings` (and `text`); errors are for bad
 * arguments (coded TypeError/RangeError), NaN or an infinity in x or in float targets
 * (ERR_BLASNET_DATA naming the row and column, as fit), a model with no loss (ERR_BLASNET_STATE)
 * or a busy model (ERR_BLASNET_BUSY). The model is left exactly as it was: parameters, gradients,
 * BatchNorm statistics, dropout stream and mode are restored, and its optimiser is not used.
 */
export function checkModel(model: Sequential, x: Input, y: Labels, options: CheckOptions = {}): ModelCheckReport {
  modelArg('checkModel', model);
  const labels = labelsOf(x, y, model.inputColumns, 'checkModel');
  return checkRows(model, model.inputMatrix(x, 'checkModel'), labels, options, true);
}

/**
 * checkModel on the model's own rows, its preprocessing already applied (as fit holds them);
 * `scan` checks them for NaN and infinities first (fit has scanned its rows already).
 */
function checkRows(model: Sequential, x: Matrix, y: TargetInput, options: CheckOptions, scan = false): ModelCheckReport {
  const where = 'checkModel';
  modelArg(where, model);
  options = optionsArg(where, options, CHECK_OPTIONS);
  const loss = lossOf(model, options.loss, where);
  const data = readRows(model, x, y, loss, where);
  if (data.rows < 2 && model.layers.some((l) => l.kind === 'batchNorm')) {
    throw rangeError(ErrorCode.SHAPE, `${where}: a model with batchNorm needs at least 2 rows (batch statistics) but received ${data.rows}`);
  }
  if (scan) requireFiniteRows(model, data, where);
  const rows = intOption(where, 'rows', options.rows, 256);
  const tolerance = numberOption(where, 'tolerance', options.tolerance, 0.05);
  const unitThreshold = numberOption(where, 'unitThreshold', options.unitThreshold, 0.2);
  const g = options.gradient === false ? null : part(where, 'gradient', options.gradient, { rows: true, samples: true, step: true, threshold: true });
  const gradOptions = g && {
    rows: intOption(where, 'gradient.rows', g.rows, 8),
    samples: intOption(where, 'gradient.samples', g.samples, 12),
    step: numberOption(where, 'gradient.step', g.step, 1e-3),
    threshold: numberOption(where, 'gradient.threshold', g.threshold, 1e-2),
  };
  const f = options.overfit === false ? null : part(where, 'overfit', options.overfit, { rows: true, steps: true, optimizer: true });
  const overfitOptions = f && {
    rows: intOption(where, 'overfit.rows', f.rows, 20),
    steps: intOption(where, 'overfit.steps', f.steps, 300),
    optimizer: optimizerSpecOf(model, f.optimizer),
  };
  const rng = new Rng(options.seed ?? 0);
  return onScratch(model, where, () => {
    const initial = initialLossCheck(model, loss, data, rows, tolerance);
    const units = unitChecks(model, loss, data, rows, unitThreshold);
    const gradient = gradOptions ? gradientCheck(model, loss, data, gradOptions, rng) : null;
    const overfit = overfitOptions ? overfitCheck(model, loss, data, overfitOptions, rng) : null;
    return report(initial, gradient, overfit, units, unitThreshold);
  });
}

/** The checks runStartChecks runs: the initial loss and the units, one forward and backward pass. */
const START_CHECKS: CheckOptions = { gradient: false, overfit: false };

function printChecks(run: () => ModelCheckReport, print: (line: string) => void): ModelCheckReport | null {
  try {
    const r = run();
    print(`checks: ${r.text.split('\n').join('\nchecks: ')}`);
    return r;
  } catch (e) {
    print(`checks: could not run: ${(e as Error).message}`);
    return null;
  }
}

/**
 * The cheap checks fit runs with `checks: true` (initial loss and units, one forward and
 * backward pass) on x as checkModel reads it: prints the report through `print`, and never throws
 * for a finding or a check that cannot run (it prints why instead).
 */
export function runStartChecks(model: Sequential, x: Input, y: Target | ArrayLike<number>, print: (line: string) => void = (s) => process.stdout.write(`${s}\n`)): ModelCheckReport | null {
  return printChecks(() => checkModel(model, x, y, START_CHECKS), print);
}

/**
 * runStartChecks on the model's own rows, its preprocessing already applied: fit's, which holds
 * its training rows that way and must not transform them a second time.
 */
export function runStartChecksOnRows(model: Sequential, x: Matrix, y: Target | ArrayLike<number>, print: (line: string) => void = (s) => process.stdout.write(`${s}\n`)): ModelCheckReport | null {
  return printChecks(() => checkRows(model, x, y, START_CHECKS), print);
}
