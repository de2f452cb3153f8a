/**
 * First-order optimisers with torch.optim's semantics: a table of entries (update rule, the torch
 * class each matches, defaults and every deviation in `doc`), options camel-cased from PyTorch's
 * (`weight_decay` -> `weightDecay`), `createOptimizer` to make one over a model's parameter arena,
 * and gradient clipping as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
 *
 * Each `step()` is one kernel call over the whole arena: Backend.optimizerStepBlocks with the
 * arena's layout when the model gives it (a Sequential), else Backend.optimizerStep. The per-step
 * scalars (learning rate, bias corrections, NAdam's mu products, RAdam's rectification) are
 * computed here in float64 and handed to the kernel as float32, so the kernels keep no state and
 * both backends read the same values.
 *
 * What holds for every entry, against PyTorch on float32 parameters: one parameter group (one set
 * of options for the whole arena); no maximize, foreach, fused, capturable or differentiable;
 * every number option must be finite (PyTorch accepts lr = inf); the js kernels do each element's
 * arithmetic in float64 and the native ones in float32 as PyTorch does (centred RMSprop in float64),
 * both storing float32, so results agree to float32 rounding; a kernel's state slots are allocated
 * up front whatever the options (Adam keeps its maxExpAvgSq slot without amsgrad, SGD its buffer
 * without momentum).
 */
import type { Backend } from '../backend/types';
import { alignedFloat32Array, prefault, releaseFloat32Array, takenCopy } from '../backend/memory';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Sequential } from '../model/sequential';
import type { Schedule } from '../schedules';
import { FLOAT32_MAX, fitsFloat32, hasOwn, isPlainObject, parseOptions, show, typeName } from '../describe';
import { typedArrayTag, typedLength } from '../typed';
import { hyperIndex, OPTIMIZER_KERNELS, optimizerKernelId } from './kernels';
import type { OptimizerKernelName } from './kernels';

// ---------------------------------------------------------------------------------------------
// Options

/** One option of an optimiser: required or defaulted, and the check that reads a given value. */
export interface OptimizerOptionDef<T = unknown, R extends boolean = boolean> {
  /** Whether the spec must give it (it then has no default). */
  readonly required: R;
  /** The value used when the option is left out. */
  readonly default: T | undefined;
  /**
   * Checks a given (not undefined) value and returns it: TypeError ERR_BLASNET_ARG_TYPE for a
   * wrong type, RangeError ERR_BLASNET_ARG_RANGE for a value out of range (PyTorch's message,
   * option names camel-cased). `label` prefixes the message.
   */
  parse(value: unknown, key: string, label: string): T;
}

type AnyOptionDef = OptimizerOptionDef<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type OptionDefs = { readonly [key: string]: AnyOptionDef };

/** An entry's options after checking: every option present, defaults filled in. */
export type ParsedOptimizerOptions<D> = { readonly [K in keyof D]: D[K] extends OptimizerOptionDef<infer T> ? T : never };

/** A PyTorch-style message if `v` is out of range for option `key`. */
type Rule = (v: number) => string | undefined;

const invalid = (what: string): Rule => (v) => (v >= 0 ? undefined : `Invalid ${what}: ${v}`);
const lrRule = invalid('learning rate');

function numberOption<R extends boolean>(required: R, dflt: number | undefined, rule?: Rule): OptimizerOptionDef<number, R> {
  return {
    required,
    default: dflt,
    parse(v, key, label) {
      if (typeof v !== 'number') {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected number for ${key} but received ${typeName(v)}`);
      }
      // The rule first, so that NaN gets PyTorch's message (NaN fails every comparison).
      const problem = rule?.(v);
      if (problem !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${label}: ${problem}`);
      if (!fitsFloat32(v)) {
        throw rangeError(ErrorCode.ARG_RANGE, `${label}: Expected finite number for ${key} but received ${v}`);
      }
      return v;
    },
  };
}

/** A number with a default. */
const num = (dflt: number, rule?: Rule) => numberOption(false, dflt, rule);
/** A number the spec must give. */
const req = (rule?: Rule) => numberOption(true, undefined, rule);

/** A boolean with a default. */
function flag(dflt: boolean): OptimizerOptionDef<boolean, false> {
  return {
    required: false,
    default: dflt,
    parse(v, key, label) {
      if (typeof v !== 'boolean') {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected boolean for ${key} but received ${typeName(v)}`);
      }
      return v;
    },
  };
}

/** Adam's (beta1, beta2), each in [0, 1). */
function betas(dflt: readonly [number, number]): OptimizerOptionDef<readonly [number, number], false> {
  return {
    required: false,
    default: dflt,
    parse(v, key, label) {
      if (!Array.isArray(v) || v.length !== 2) {
        throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected an array of two numbers for ${key} but received ${Array.isArray(v) ? `an Array of ${v.length}` : typeName(v)}`);
      }
      v.forEach((b: unknown, i) => {
        if (typeof b !== 'number') {
          throw typeError(ErrorCode.ARG_TYPE, `${label}: Expected number for ${key}[${i}] but received ${typeName(b)}`);
        }
        if (!(b >= 0 && b < 1)) throw rangeError(ErrorCode.ARG_RANGE, `${label}: Invalid beta parameter at index ${i}: ${b}`);
      });
      return Object.freeze([v[0], v[1]] as [number, number]);
    },
  };
}

/** float32's smallest normal number: the native steps read anything below it as 0. */
const FLT_MIN = 2 ** -126;
// An eps above 0 but below FLT_MIN is a subnormal float32, which the native steps flush to 0,
// making 0 / 0 of a weight whose gradient is 0 (PyTorch keeps it, and the weight).
const eps = (dflt: number) => num(dflt, (v) => invalid('epsilon value')(v) ??
  (v > 0 && Math.fround(v) < FLT_MIN ? `Invalid epsilon value: ${v} is below float32's smallest normal number (1.18e-38), ` +
    'which the native optimiser steps read as 0; use 0 or at least 1.2e-38' : undefined));
const weightDecay = (dflt: number) => num(dflt, invalid('weightDecay value'));

// ---------------------------------------------------------------------------------------------
// The table

/** One optimiser: its rule, options, the kernel it drives and how it fills the kernel's hyper. */
export interface OptimizerDef<D extends OptionDefs = OptionDefs> {
  /** The update rule, the torch.optim class it matches, its defaults and every deviation. */
  readonly doc: string;
  /** The kernel (lib/optim/kernels.ts) each step calls. */
  readonly kernel: OptimizerKernelName;
  /** Every option, in the order PyTorch checks them; an option not listed here is an error. */
  readonly options: D;
  /** Why the options (each valid alone) are invalid together, if they are. */
  check?(o: ParsedOptimizerOptions<D>): string | undefined;
  /** Float64 scalars carried from step to step (saved by state()), with their initial values. */
  readonly scalars?: Readonly<Record<string, number>>;
  /** Writes the initial state into a zeroed arena of `slots * n` floats, if it is not all zeros. */
  initState?(o: ParsedOptimizerOptions<D>, state: Float32Array, n: number): void;
  /**
   * Writes the hyper array for step t (1 on the first step) at learning rate lr. `scalars` holds
   * the carried scalars before the step (in `scalars` order); the entry writes their values after
   * it into `next`, which are kept only if the kernel call succeeds.
   */
  fill(o: ParsedOptimizerOptions<D>, t: number, lr: number, h: Float32Array, scalars: Float64Array, next: Float64Array): void;
}

// Infers each entry's option types from its `options`, so `check` and `fill` are typed by them.
function entry<D extends OptionDefs>(def: OptimizerDef<D>): OptimizerDef<D> {
  return def;
}

const SGD = hyperIndex('sgd');
const ADAGRAD = hyperIndex('adagrad');
const RMSPROP = hyperIndex('rmsprop');
const ADADELTA = hyperIndex('adadelta');
const ADAM = hyperIndex('adam');
const ADAMAX = hyperIndex('adamax');
const NADAM = hyperIndex('nadam');
const RADAM = hyperIndex('radam');

const bit = (b: boolean): number => (b ? 1 : 0);

/** The options Adam and AdamW share. */
const adamOptions = (wd: number) => ({
  lr: num(1e-3, lrRule),
  eps: eps(1e-8),
  betas: betas([0.9, 0.999]),
  weightDecay: weightDecay(wd),
  amsgrad: flag(false),
  epsInsideSqrt: flag(false),
  biasCorrection: flag(true),
});

function fillAdam(o: ParsedOptimizerOptions<ReturnType<typeof adamOptions>>, decoupled: boolean, t: number, lr: number,
  h: Float32Array): void {
  const [b1, b2] = o.betas;
  h[ADAM.lr] = lr;
  h[ADAM.beta1] = b1;
  h[ADAM.oneMinusBeta1] = 1 - b1;
  h[ADAM.beta2] = b2;
  h[ADAM.oneMinusBeta2] = 1 - b2;
  h[ADAM.eps] = o.eps;
  h[ADAM.weightDecay] = o.weightDecay;
  h[ADAM.decoupled] = bit(decoupled);
  h[ADAM.amsgrad] = bit(o.amsgrad);
  h[ADAM.epsInsideSqrt] = bit(o.epsInsideSqrt);
  h[ADAM.bc1] = o.biasCorrection ? 1 - b1 ** t : 1;
  h[ADAM.bc2] = o.biasCorrection ? 1 - b2 ** t : 1;
}

const ADAM_DOC = 'm = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2; vhat = amsgrad ? max(vhat, v) : v; ' +
  'p -= lr / (1 - beta1^t) * m / (sqrt(vhat) / sqrt(1 - beta2^t) + eps). ';
const ADAM_VARIANTS = 'Variants not in PyTorch: epsInsideSqrt (denominator sqrt(vhat / (1 - beta2^t) + eps), eps ' +
  'inside the root as in the lecture notes) and biasCorrection false (both corrections 1: the uncorrected ' +
  'moving averages). vhat (the maxExpAvgSq slot) is kept only with amsgrad.';

/**
 * The optimisers. Each `doc` gives the rule per parameter element, with g the gradient, t the
 * step number (1 on the first step) and p the parameter; the defaults; the torch.optim class it
 * reproduces; and any difference. "L2 weight decay" is g += weightDecay p before the rule
 * (PyTorch's weight_decay); "decoupled" is p *= 1 - lr weightDecay before it (AdamW).
 */
export const OPTIMIZERS = {
  sgd: entry({
    doc: 'g += weightDecay p (L2); without momentum p -= lr g; with momentum buf = g on the first step, then ' +
      'buf = momentum buf + (1 - dampening) g, and p -= lr (nesterov ? g + momentum buf : buf), as torch.optim.SGD. ' +
      'lr required (PyTorch 2.x defaults it to 1e-3); momentum 0, dampening 0, nesterov false (it needs momentum > 0 ' +
      'and dampening 0), weightDecay 0. lrInVelocity (not in PyTorch) is the lecture notes\' form v = momentum v - ' +
      'lr g, p += v (nesterov: p += momentum v - lr g), v starting at 0 (so the first step is -lr g) with dampening ' +
      'scaling g after it, as in PyTorch\'s form. With a constant lr both forms give the same iterates; when lr ' +
      'changes mid-run PyTorch\'s buffer (past gradients) is rescaled at once by the new lr, while the velocity ' +
      'keeps each past step at the lr it was taken with.',
    kernel: 'sgd',
    options: {
      lr: req(lrRule),
      momentum: num(0, invalid('momentum value')),
      dampening: num(0),
      weightDecay: weightDecay(0),
      nesterov: flag(false),
      lrInVelocity: flag(false),
    },
    check: (o) => (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)
      ? 'Nesterov momentum requires a momentum and zero dampening' : undefined),
    fill(o, t, lr, h) {
      h[SGD.lr] = lr;
      h[SGD.momentum] = o.momentum;
      h[SGD.dampening] = o.dampening;
      h[SGD.weightDecay] = o.weightDecay;
      h[SGD.nesterov] = bit(o.nesterov);
      h[SGD.firstStep] = bit(t === 1);
      h[SGD.lrInVelocity] = bit(o.lrInVelocity);
    },
  }),
  adagrad: entry({
    doc: 'clr = lr / (1 + (t - 1) lrDecay); g += weightDecay p (L2); sum += g^2; p -= clr g / (sqrt(sum) + eps); ' +
      'sum starts at initialAccumulatorValue; as torch.optim.Adagrad. Defaults lr 1e-2, lrDecay 0, weightDecay 0, ' +
      'initialAccumulatorValue 0, eps 1e-10.',
    kernel: 'adagrad',
    options: {
      lr: num(1e-2, lrRule),
      lrDecay: num(0, invalid('lrDecay value')),
      weightDecay: weightDecay(0),
      initialAccumulatorValue: num(0, invalid('initialAccumulatorValue value')),
      eps: eps(1e-10),
    },
    initState: (o, state, n) => void state.fill(o.initialAccumulatorValue, 0, n),
    fill(o, t, lr, h) {
      h[ADAGRAD.clr] = lr / (1 + (t - 1) * o.lrDecay);
      h[ADAGRAD.weightDecay] = o.weightDecay;
      h[ADAGRAD.eps] = o.eps;
    },
  }),
  rmsprop: entry({
    doc: 'g += weightDecay p (L2); sq = alpha sq + (1 - alpha) g^2; centered: gAvg = alpha gAvg + (1 - alpha) g and ' +
      'avg = sqrt(sq - gAvg^2) + eps, else avg = sqrt(sq) + eps; momentum > 0: buf = momentum buf + g / avg, ' +
      'p -= lr buf; else p -= lr g / avg; as torch.optim.RMSprop. Defaults lr 1e-2, alpha 0.99, eps 1e-8, ' +
      'weightDecay 0, momentum 0, centered false. epsInsideSqrt (not in PyTorch) takes avg = sqrt(var + eps), ' +
      'the lecture notes\' (and Keras\') form.',
    kernel: 'rmsprop',
    options: {
      lr: num(1e-2, lrRule),
      eps: eps(1e-8),
      momentum: num(0, invalid('momentum value')),
      weightDecay: weightDecay(0),
      alpha: num(0.99, invalid('alpha value')),
      centered: flag(false),
      epsInsideSqrt: flag(false),
    },
    fill(o, _t, lr, h) {
      h[RMSPROP.lr] = lr;
      h[RMSPROP.alpha] = o.alpha;
      h[RMSPROP.oneMinusAlpha] = 1 - o.alpha;
      h[RMSPROP.eps] = o.eps;
      h[RMSPROP.weightDecay] = o.weightDecay;
      h[RMSPROP.momentum] = o.momentum;
      h[RMSPROP.centered] = bit(o.centered);
      h[RMSPROP.epsInsideSqrt] = bit(o.epsInsideSqrt);
    },
  }),
  adadelta: entry({
    doc: 'g += weightDecay p (L2); sq = rho sq + (1 - rho) g^2; delta = sqrt(acc + eps) / sqrt(sq + eps) g; ' +
      'acc = rho acc + (1 - rho) delta^2; p -= lr delta; as torch.optim.Adadelta. Defaults lr 1, rho 0.9 ' +
      '(in [0, 1]), eps 1e-6, weightDecay 0.',
    kernel: 'adadelta',
    options: {
      lr: num(1, lrRule),
      rho: num(0.9, (v) => (v >= 0 && v <= 1 ? undefined : `Invalid rho value: ${v}`)),
      eps: eps(1e-6),
      weightDecay: weightDecay(0),
    },
    fill(o, _t, lr, h) {
      h[ADADELTA.lr] = lr;
      h[ADADELTA.rho] = o.rho;
      h[ADADELTA.oneMinusRho] = 1 - o.rho;
      h[ADADELTA.eps] = o.eps;
      h[ADADELTA.weightDecay] = o.weightDecay;
    },
  }),
  adam: entry({
    doc: ADAM_DOC + 'weightDecay is L2, or decoupled (p *= 1 - lr weightDecay first) with decoupledWeightDecay, ' +
      'as torch.optim.Adam (PyTorch 2.x has the same flag). Defaults lr 1e-3, betas [0.9, 0.999] (each in [0, 1)), ' +
      'eps 1e-8, weightDecay 0, amsgrad false, decoupledWeightDecay false. ' + ADAM_VARIANTS,
    kernel: 'adam',
    options: { ...adamOptions(0), decoupledWeightDecay: flag(false) },
    fill: (o, t, lr, h) => fillAdam(o, o.decoupledWeightDecay, t, lr, h),
  }),
  adamw: entry({
    doc: 'p *= 1 - lr weightDecay (decoupled weight decay, Loshchilov & Hutter); then ' + ADAM_DOC +
      'As torch.optim.AdamW: Adam with decoupled weight decay. Defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, ' +
      'weightDecay 1e-2, amsgrad false. ' + ADAM_VARIANTS,
    kernel: 'adam',
    options: adamOptions(1e-2),
    fill: (o, t, lr, h) => fillAdam(o, true, t, lr, h),
  }),
  adamax: entry({
    doc: 'g += weightDecay p (L2); m = beta1 m + (1 - beta1) g; u = max(beta2 u, |g| + eps); ' +
      'p -= lr / (1 - beta1^t) * m / u; as torch.optim.Adamax. Defaults lr 2e-3, betas [0.9, 0.999], eps 1e-8, ' +
      'weightDecay 0.',
    kernel: 'adamax',
    options: { lr: num(2e-3, lrRule), eps: eps(1e-8), betas: betas([0.9, 0.999]), weightDecay: weightDecay(0) },
    fill(o, t, lr, h) {
      const [b1, b2] = o.betas;
      h[ADAMAX.lr] = lr;
      h[ADAMAX.beta1] = b1;
      h[ADAMAX.oneMinusBeta1] = 1 - b1;
      h[ADAMAX.beta2] = b2;
      h[ADAMAX.eps] = o.eps;
      h[ADAMAX.weightDecay] = o.weightDecay;
      h[ADAMAX.bc1] = 1 - b1 ** t;
    },
  }),
  nadam: entry({
    doc: 'mu_t = beta1 (1 - 0.5 * 0.96^(t momentumDecay)); m = beta1 m + (1 - beta1) g; v = beta2 v + ' +
      '(1 - beta2) g^2; denom = sqrt(v / (1 - beta2^t)) + eps; p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) ' +
      'g / denom, then p -= lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) m / denom; as torch.optim.NAdam (its ' +
      'current form). weightDecay is L2, or decoupled (p *= 1 - lr weightDecay first) with ' +
      'decoupledWeightDecay, as PyTorch 2.x. Defaults lr 2e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, ' +
      'momentumDecay 4e-3, decoupledWeightDecay false. The product of the mu_i (scalar muProduct, saved by ' +
      'state()) is kept in float64, where PyTorch keeps a float32 tensor. blasnet follows PyTorch 2.x, ' +
      'whose second term divides by 1 - prod_{i<=t} mu_i mu_{t+1}; PyTorch before 2.0 (its default, ' +
      'single-tensor step) counts mu_t twice there, 1 - prod_{i<=t} mu_i mu_t mu_{t+1}, so its updates ' +
      'differ by about 1e-3 relative.',
    kernel: 'nadam',
    options: {
      lr: num(2e-3, lrRule),
      eps: eps(1e-8),
      betas: betas([0.9, 0.999]),
      weightDecay: weightDecay(0),
      momentumDecay: num(4e-3, invalid('momentumDecay value')),
      decoupledWeightDecay: flag(false),
    },
    scalars: { muProduct: 1 },
    fill(o, t, lr, h, scalars, next) {
      const [b1, b2] = o.betas;
      const mu = b1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));
      const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * o.momentumDecay));
      const muProduct = scalars[0] * mu;
      next[0] = muProduct;
      h[NADAM.lr] = lr;
      h[NADAM.beta1] = b1;
      h[NADAM.oneMinusBeta1] = 1 - b1;
      h[NADAM.beta2] = b2;
      h[NADAM.oneMinusBeta2] = 1 - b2;
      h[NADAM.eps] = o.eps;
      h[NADAM.weightDecay] = o.weightDecay;
      h[NADAM.decoupled] = bit(o.decoupledWeightDecay);
      h[NADAM.bc2] = 1 - b2 ** t;
      h[NADAM.gradCoef] = (lr * (1 - mu)) / (1 - muProduct);
      h[NADAM.avgCoef] = (lr * muNext) / (1 - muProduct * muNext);
    },
  }),
  radam: entry({
    doc: 'rhoInf = 2 / (1 - beta2) - 1; rho_t = rhoInf - 2 t beta2^t / (1 - beta2^t); m = beta1 m + (1 - beta1) g; ' +
      'v = beta2 v + (1 - beta2) g^2; mhat = m / (1 - beta1^t); if rho_t > 5, with r_t = sqrt((rho_t - 4) ' +
      '(rho_t - 2) rhoInf / ((rhoInf - 4) (rhoInf - 2) rho_t)), p -= lr mhat sqrt(1 - beta2^t) / (sqrt(v) + eps) ' +
      'r_t, else p -= lr mhat (the un-adapted step); as torch.optim.RAdam. weightDecay is L2, or decoupled ' +
      '(p *= 1 - lr weightDecay first) with decoupledWeightDecay. Defaults lr 1e-3, betas [0.9, 0.999], ' +
      'eps 1e-8, weightDecay 0, decoupledWeightDecay false.',
    kernel: 'radam',
    options: {
      lr: num(1e-3, lrRule),
      eps: eps(1e-8),
      betas: betas([0.9, 0.999]),
      weightDecay: weightDecay(0),
      decoupledWeightDecay: flag(false),
    },
    fill(o, t, lr, h) {
      const [b1, b2] = o.betas;
      const bc2 = 1 - b2 ** t;
      const rhoInf = 2 / (1 - b2) - 1;
      const rhoT = rhoInf - (2 * t * b2 ** t) / bc2;
      const rectified = rhoT > 5;
      h[RADAM.lr] = lr;
      h[RADAM.beta1] = b1;
      h[RADAM.oneMinusBeta1] = 1 - b1;
      h[RADAM.beta2] = b2;
      h[RADAM.oneMinusBeta2] = 1 - b2;
      h[RADAM.eps] = o.eps;
      h[RADAM.weightDecay] = o.weightDecay;
      h[RADAM.decoupled] = bit(o.decoupledWeightDecay);
      h[RADAM.bc1] = 1 - b1 ** t;
      h[RADAM.bc2] = bc2;
      h[RADAM.rectified] = bit(rectified);
      h[RADAM.rect] = rectified ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
    },
  }),
};

/** Name of an optimiser in the table. */
export type OptimizerName = keyof typeof OPTIMIZERS;

/** Optimiser names in table order. */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/**
 * The lr the command line uses for `name` when --lr is not given: the optimiser's own default
 * (torch.optim's: adagrad 1e-2, adadelta 1, ...), and 1e-3 for sgd, which has none.
 * @internal
 */
export function commandLineLr(name: OptimizerName): number {
  const def = (OPTIMIZERS[name].options as Record<string, OptimizerOptionDef<unknown>>).lr;
  return typeof def?.default === 'number' ? def.default : 1e-3;
}

/** The command line's --lr help: each optimiser's lr when the flag is left out. @internal */
export const LR_HELP = `learning rate (default: the optimiser's own, ${OPTIMIZER_NAMES.map((n) => `${n} ${commandLineLr(n)}`).join(', ')})`;

type OptionType<O> = O extends OptimizerOptionDef<infer T> ? T : never;
type RequiredKeys<D> = { [K in keyof D]-?: D[K] extends { readonly required: true } ? K : never }[keyof D];
type SpecOptions<D> = { readonly [K in RequiredKeys<D>]: OptionType<D[K]> } & {
  readonly [K in Exclude<keyof D, RequiredKeys<D>>]?: OptionType<D[K]>;
};

/** The options an optimiser takes: required ones as such, the others optional. */
export type OptimizerOptions<K extends OptimizerName> = SpecOptions<(typeof OPTIMIZERS)[K]['options']>;

/**
 * An optimiser: `{ name, ...options }`, e.g. `{ name: 'sgd', lr: 0.1, momentum: 0.9 }` or
 * `{ name: 'adamw', lr: 3e-4 }`.
 */
export type OptimizerSpec = { [K in OptimizerName]: { readonly name: K } & OptimizerOptions<K> }[OptimizerName];

function resolveOptions(name: OptimizerName, spec: Record<string, unknown>, label: string): Record<string, unknown> {
  const def = OPTIMIZERS[name] as unknown as OptimizerDef;
  const options = parseOptions(label, spec, def.options, (o) => o.required, def.check?.bind(def) as ((o: Record<string, unknown>) => string | undefined) | undefined);
  return Object.freeze(options);
}

function resolveName(spec: unknown, where: string): OptimizerName {
  if (!isPlainObject(spec)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an optimizer spec { name, ...options } but received ${typeName(spec)}`);
  }
  const name = spec.name;
  if (typeof name !== 'string') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected string for name but received ${typeName(name)}`);
  }
  if (!hasOwn(OPTIMIZERS, name)) {
    throw rangeError(ErrorCode.UNKNOWN_NAME, `${where}: Unknown optimizer ${show(name)}; expected one of ${OPTIMIZER_NAMES.join(', ')}`);
  }
  return name as OptimizerName;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** What an optimiser updates: a parameter arena, its gradient arena and the backend to use. */
export interface OptimizerTarget {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly backend: Backend;
  /**
   * Throws (ERR_BLASNET_BUSY) when the arenas may not be updated now; with `whilePaused`, not
   * from a training loop's callbacks (where lr and momentum are set).
   */
  readonly guard?: (where: string, whilePaused?: boolean) => void;
  /**
   * The arena's layout as Backend.optimizerStepBlocks takes it (rows and columns of each tensor,
   * in order), when the model says: the step is then cut between threads the way the forward
   * products read the weights.
   */
  readonly blocks?: Int32Array;
}

/**
 * The blocks of a model whose parameters() tile its params arena in order (a Sequential's):
 * [rows, cols] of each 2-d tensor, one row of each other one. null when they do not tile it.
 */
function arenaBlocks(model: Record<string, unknown>, params: Float32Array): Int32Array | null {
  if (typeof model.parameters !== 'function') return null;
  const views = (model.parameters as () => unknown).call(model);
  if (!Array.isArray(views)) return null;
  const blocks = new Int32Array(2 * views.length);
  let at = params.byteOffset;
  for (let i = 0; i < views.length; i++) {
    const v = views[i] as { shape?: unknown; data?: unknown };
    const data = v.data;
    if (!(data instanceof Float32Array) || data.buffer !== params.buffer || data.byteOffset !== at || !Array.isArray(v.shape)) return null;
    const shape = v.shape as number[];
    const [rows, cols] = shape.length === 2 ? shape : [1, data.length];
    if (!(rows * cols === data.length && cols >= 1)) return null;
    blocks[2 * i] = rows;
    blocks[2 * i + 1] = cols;
    at += data.byteLength;
  }
  return at === params.byteOffset + params.byteLength ? blocks : null;
}

/** What gradient clipping touches: the gradient arena and the backend. */
export interface GradientTarget {
  readonly grads: Float32Array;
  readonly backend: Backend;
}

function readTarget(model: unknown, where: string, needParams: boolean): OptimizerTarget {
  const what = needParams ? 'a Sequential or { params, grads, backend }' : 'a Sequential or { grads, backend }';
  if (typeof model !== 'object' || model === null) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected ${what} for model but received ${typeName(model)}`);
  }
  const m = model as Record<string, unknown>;
  const keys = needParams ? ['params', 'grads'] : ['grads'];
  for (const key of keys) {
    if (typedArrayTag(m[key]) !== 'Float32Array') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected Float32Array for model.${key} but received ${typeName(m[key])}`);
    }
  }
  const backend = m.backend as Backend | undefined;
  if (typeof backend !== 'object' || backend === null || typeof backend.optimizerStep !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Backend for model.backend but received ${typeName(backend)}`);
  }
  const grads = m.grads as Float32Array;
  const params = (needParams ? m.params : grads) as Float32Array;
  if (needParams && typedLength(params) !== typedLength(grads)) {
    throw rangeError(ErrorCode.SHAPE,
      `${where}: model.grads has ${typedLength(grads)} values but model.params has ${typedLength(params)}`);
  }
  // A Sequential refuses a step while a fitAsync worker trains the same memory.
  const guard = typeof m.notBusy === 'function' ? (m.notBusy as (where: string, whilePaused?: boolean) => void).bind(model) : undefined;
  const blocks = needParams ? arenaBlocks(m, params) : null;
  return { params, grads, backend, ...(guard ? { guard } : {}), ...(blocks ? { blocks } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Optimisers

/**
 * An optimiser's state as plain JSON-able data: its name and options, the current lr, the
 * number of steps taken, the carried float64 scalars (NAdam's muProduct), the arena's shape
 * (`slots` slots of `size` floats) and the arena itself, as base64 of its little-endian float32
 * bytes (state() always gives a string; load() also takes a Float32Array).
 */
export interface OptimizerState {
  readonly name: OptimizerName;
  readonly options: Readonly<Record<string, number | boolean | readonly number[]>>;
  readonly lr: number;
  readonly stepCount: number;
  readonly scalars: Readonly<Record<string, number>>;
  readonly slots: number;
  readonly size: number;
  readonly arena: string | Float32Array;
}

/**
 * An optimiser made by `createOptimizer`. `step()` updates the parameters from the gradients
 * (one kernel call). `lr` is the learning rate the next step uses, settable (by a schedule) at
 * any time. `state()` returns plain data; `load(state)` restores it (options included, as
 * PyTorch's load_state_dict restores param_groups), after which both continue bit for bit alike.
 * A `step()`, `load()` or `lr` assignment that throws leaves the optimiser unchanged.
 */
export interface Optimizer {
  readonly name: OptimizerName;
  /** The options after checking, defaults filled in (lr is the initial lr). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly backend: Backend;
  /** The learning rate of the next step. */
  lr: number;
  /**
   * The momentum of the next step, as torch.optim.lr_scheduler.OneCycleLR reads and sets it: the
   * `momentum` option of sgd and rmsprop, `betas[0]` of the Adam family (adam, adamw, adamax,
   * nadam, radam); undefined for adagrad and adadelta, which have none. Setting it re-checks the
   * options as the constructor does (RangeError ERR_BLASNET_ARG_RANGE: a beta outside [0, 1), a
   * negative momentum, nesterov without momentum; ERR_BLASNET_STATE for an optimiser without
   * momentum) and leaves the optimiser unchanged if they fail. The next step uses the new value
   * everywhere the rule reads beta1, bias correction 1 - beta1^t included, as PyTorch does.
   */
  get momentum(): number | undefined;
  /** Sets the momentum of the next step (see the getter). */
  set momentum(v: number);
  /** Steps taken (PyTorch's state['step']). */
  readonly stepCount: number;
  /** Updates the parameters from the gradients: one kernel call over the whole arena. */
  step(): void;
  /** The optimiser's state (options, step count, moments) as plain data. */
  state(): OptimizerState;
  /** Restores a state() of an optimiser of the same kind over a model of the same layout. */
  load(state: OptimizerState): void;
  /** Back to a fresh optimiser's state: moments and buffers reset, stepCount 0; lr is kept. */
  zeroState(): void;
  /**
   * Whether `params` is the parameter arena this optimiser updates (the model it was made over):
   * compile refuses an optimiser over another model's parameters, whose steps would leave this
   * model's weights as they are.
   */
  updates?(params: Float32Array): boolean;
}

/** Nonzero while the library itself moves an optimiser's lr, momentum or state (asLibraryWrite). */
let libraryWrites = 0;

/**
 * Runs f with the optimisers' busy guard lifted for the library's own writes: fitAsync's copy of
 * the worker's lr, momentum and state on this thread while the worker trains. @internal
 */
export function asLibraryWrite<T>(f: () => T): T {
  libraryWrites++;
  try {
    return f();
  } finally {
    libraryWrites--;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function encodeArena(a: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const bytes = Buffer.alloc(a.byteLength);
  for (let i = 0; i < a.length; i++) bytes.writeFloatLE(a[i], 4 * i);
  return bytes.toString('base64');
}

/** The arena's bytes as little-endian float32 values, or a reason it is not one. */
function decodeArena(v: unknown, length: number): Float32Array | string {
  if (typedArrayTag(v) === 'Float32Array') {
    const a = v as Float32Array;
    return typedLength(a) === length ? a : `Expected an arena of ${length} floats but got ${typedLength(a)}`;
  }
  if (typeof v !== 'string') return `Expected a base64 string or Float32Array arena but got ${typeName(v)}`;
  if (v.length % 4 !== 0 || !BASE64.test(v)) return 'the arena is not valid base64';
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length !== 4 * length) return `Expected an arena of ${length} floats but got ${bytes.length / 4}`;
  const out = new Float32Array(length);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else for (let i = 0; i < length; i++) out[i] = bytes.readFloatLE(4 * i);
  return out;
}

const LR_OPTION = numberOption(true, undefined, lrRule);

function checkLr(label: string, v: unknown): number {
  return LR_OPTION.parse(v, 'lr', label);
}

function stateError(label: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.STATE, `${label}.load: ${message}`);
}

/** Options as JSON-able data (betas as a plain array). */
function plainOptions(o: Readonly<Record<string, unknown>>): Record<string, number | boolean | number[]> {
  const out: Record<string, number | boolean | number[]> = {};
  for (const [k, v] of Object.entries(o)) out[k] = Array.isArray(v) ? [...(v as number[])] : (v as number | boolean);
  return out;
}

/** An ArenaOptimizer's state as it is in memory (copyState), for snapshots taken and restored in one process. */
interface ArenaStateCopy {
  owner: ArenaOptimizer;
  options: Readonly<Record<string, unknown>>;
  lr: number;
  stepCount: number;
  scalars: Float64Array;
  /** The arena as copied; not copied (and null until a copy needs it) when `initial`. */
  arena: Float32Array | null;
  /** The optimiser was as zeroState left it: a restore zeroes it again instead of copying. */
  initial: boolean;
}

/** An optimiser's state kept for restoreStateCopy: a plain copy for arena optimisers, else its state(). */
export type StateCopy = ArenaStateCopy | OptimizerState;

/**
 * A copy of `opt`'s state, reusing `into` (an earlier copy of the same optimiser) where it can:
 * what fit's divergence snapshot keeps each epoch. An arena optimiser's state is copied as it is
 * in memory, not encoded as state() encodes it for files (a base64 string of the whole arena:
 * milliseconds and a large garbage string for Adam on the reference MLP, every epoch).
 */
export function copyStateOf(opt: Optimizer, into: StateCopy | null = null): StateCopy {
  if (opt instanceof ArenaOptimizer) return ArenaOptimizer.copyState(opt, into !== null && 'owner' in into && into.owner === opt ? into : null);
  return opt.state();
}

/** Puts back a state copyStateOf took from `opt`. */
export function restoreStateCopy(opt: Optimizer, copy: StateCopy): void {
  // The library's own restore (a failed fit's or fitAsync's), whatever the model's state.
  asLibraryWrite(() => {
    if ('owner' in copy) {
      if (copy.owner !== opt) throw new BlasnetError(ErrorCode.STATE, `${opt.name}: the state copy belongs to another optimizer`);
      ArenaOptimizer.restoreState(copy.owner, copy);
    } else {
      opt.load(copy);
    }
  });
}

/**
 * Gives a copy's memory back for reuse (see takeFloat32Array): for a copy copyStateOf made that its
 * owner will not use again. @internal
 */
export function releaseStateCopy(copy: StateCopy): void {
  if ('owner' in copy && copy.arena !== null) {
    releaseFloat32Array(copy.arena);
    copy.arena = null;
  }
}

class ArenaOptimizer implements Optimizer {
  readonly name: OptimizerName;
  readonly backend: Backend;
  #options: Readonly<Record<string, unknown>>;
  #lr: number;
  #stepCount = 0;
  /**
   * The options zeroState last set the state up with, while nothing has changed the state since
   * (no step, load or restore, no other options); null otherwise. A copy of such a state need
   * not hold the arena: zeroState with these options makes it again.
   */
  #initialFor: Readonly<Record<string, unknown>> | null = null;
  private readonly def: OptimizerDef;
  private readonly kernel: number;
  private readonly slots: number;
  private readonly n: number;
  private readonly params: Float32Array;
  private readonly grads: Float32Array;
  private readonly arena: Float32Array;
  private readonly hyper: Float32Array;
  private readonly scalarNames: readonly string[];
  private readonly scalars: Float64Array;
  private readonly next: Float64Array;
  private readonly guard: ((where: string, whilePaused?: boolean) => void) | undefined;
  private readonly blocks: Int32Array | null;

  constructor(name: OptimizerName, options: Readonly<Record<string, unknown>>, target: OptimizerTarget) {
    this.name = name;
    this.guard = target.guard;
    // A Backend written before optimizerStepBlocks existed steps the arena whole.
    this.blocks = target.blocks && typeof target.backend.optimizerStepBlocks === 'function' ? target.blocks : null;
    this.def = OPTIMIZERS[name] as unknown as OptimizerDef;
    this.#options = options;
    this.#lr = options.lr as number;
    this.backend = target.backend;
    this.params = target.params;
    this.grads = target.grads;
    this.n = typedLength(target.params);
    const kernel = OPTIMIZER_KERNELS[this.def.kernel];
    this.kernel = optimizerKernelId(this.def.kernel);
    this.slots = kernel.slots.length;
    this.arena = alignedFloat32Array(this.slots * this.n);
    // zeroState writes it whole, and every step after: mapped in one call first.
    prefault(this.arena);
    this.hyper = new Float32Array(kernel.hyper.length);
    this.scalarNames = Object.keys(this.def.scalars ?? {});
    this.scalars = new Float64Array(this.scalarNames.length);
    this.next = new Float64Array(this.scalarNames.length);
    this.zeroState();
  }

  get options(): Readonly<Record<string, unknown>> {
    return this.#options;
  }

  get lr(): number {
    return this.#lr;
  }

  set lr(v: number) {
    this.#settable('lr');
    this.#lr = checkLr(this.name, v);
  }

  /**
   * While a fitAsync worker trains the model between callbacks, its lr, momentum and state are
   * the worker's: a value set here would never reach it and be replaced at the next callback, so
   * it is ERR_BLASNET_BUSY (from a callback, where the worker waits, it is taken).
   */
  #settable(what: string): void {
    if (libraryWrites === 0) this.guard?.(`${this.name}.${what}`, true);
  }

  get momentum(): number | undefined {
    const o = this.#options;
    if (typeof o.momentum === 'number') return o.momentum;
    return Array.isArray(o.betas) ? (o.betas as readonly number[])[0] : undefined;
  }

  set momentum(v: number) {
    this.#settable('momentum');
    const o = this.#options;
    let change: Record<string, unknown>;
    if (typeof o.momentum === 'number') change = { momentum: v };
    else if (Array.isArray(o.betas)) change = { betas: [v, (o.betas as readonly number[])[1]] };
    else throw new BlasnetError(ErrorCode.STATE, `${this.name}: this optimizer has no momentum or beta1 to set`);
    if (typeof v !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${this.name}: Expected number for momentum but received ${typeName(v)}`);
    this.#options = resolveOptions(this.name, { ...plainOptions(o), ...change }, this.name);
  }

  get stepCount(): number {
    return this.#stepCount;
  }

  step(): void {
    this.guard?.(`${this.name}.step`);
    const t = this.#stepCount + 1;
    this.#initialFor = null;
    this.def.fill(this.#options, t, this.#lr, this.hyper, this.scalars, this.next);
    if (this.blocks) {
      this.backend.optimizerStepBlocks(this.kernel, this.n, this.hyper, this.params, this.grads, this.arena,
        this.blocks.length / 2, this.blocks);
    } else {
      this.backend.optimizerStep(this.kernel, this.n, this.hyper, this.params, this.grads, this.arena);
    }
    this.#stepCount = t;
    this.scalars.set(this.next);
  }

  updates(params: Float32Array): boolean {
    const p = this.params;
    return typedArrayTag(params) === 'Float32Array' && params.buffer === p.buffer && params.byteOffset === p.byteOffset && params.length === p.length;
  }

  zeroState(): void {
    this.#settable('zeroState');
    this.arena.fill(0);
    this.def.initState?.(this.#options, this.arena, this.n);
    this.#stepCount = 0;
    this.scalarNames.forEach((k, i) => {
      this.scalars[i] = (this.def.scalars as Record<string, number>)[k];
    });
    this.#initialFor = this.#options;
  }

  state(): OptimizerState {
    const scalars: Record<string, number> = {};
    this.scalarNames.forEach((k, i) => {
      scalars[k] = this.scalars[i];
    });
    return {
      name: this.name,
      options: plainOptions(this.#options),
      lr: this.#lr,
      stepCount: this.#stepCount,
      scalars,
      slots: this.slots,
      size: this.n,
      arena: encodeArena(this.arena),
    };
  }

  /**
   * Copies o's whole state into `into` (made when null) without encoding it. Static, so that it is
   * no method of the optimisers users hold (copyStateOf is the way in).
   */
  static copyState(o: ArenaOptimizer, into: ArenaStateCopy | null): ArenaStateCopy {
    const c = into ?? { owner: o, options: o.#options, lr: o.#lr, stepCount: 0, scalars: new Float64Array(o.scalars.length), arena: null, initial: false };
    c.options = o.#options;
    c.lr = o.#lr;
    c.stepCount = o.#stepCount;
    c.scalars.set(o.scalars);
    // A fresh optimiser's state (fit's snapshot of a new model) is not copied: zeroState makes it
    // again, and fit's first epoch is spared allocating and filling a copy of the whole arena.
    c.initial = o.#initialFor !== null && o.#initialFor === o.#options;
    if (!c.initial) {
      if (c.arena === null) c.arena = takenCopy(o.arena);
      else c.arena.set(o.arena);
    }
    return c;
  }

  /** Puts back a state copyState took from o. */
  static restoreState(o: ArenaOptimizer, c: ArenaStateCopy): void {
    o.#options = c.options;
    o.#lr = c.lr;
    if (c.initial) {
      o.zeroState();
      return;
    }
    o.#initialFor = null;
    o.#stepCount = c.stepCount;
    o.scalars.set(c.scalars);
    o.arena.set(c.arena as Float32Array);
  }

  load(state: OptimizerState): void {
    this.#settable('load');
    const label = this.name;
    if (!isPlainObject(state)) {
      throw typeError(ErrorCode.ARG_TYPE, `${label}.load: Expected an OptimizerState object but received ${typeName(state)}`);
    }
    const s = state as unknown as Record<string, unknown>;
    if (s.name !== this.name) throw stateError(label, `the state is for optimizer ${show(s.name)}, this optimizer is ${show(this.name)}`);
    if (s.slots !== this.slots || s.size !== this.n) {
      throw stateError(label, `the state holds ${show(s.slots)} slots of ${show(s.size)} values, this optimizer ${this.slots} of ${this.n}`);
    }
    if (!isPlainObject(s.options)) throw stateError(label, `Expected an options object but got ${typeName(s.options)}`);
    let options: Readonly<Record<string, unknown>>;
    let lr: number;
    try {
      options = resolveOptions(this.name, s.options, `${label}.load: options`);
      lr = checkLr(`${label}.load`, s.lr);
    } catch (e) {
      throw new BlasnetError(ErrorCode.STATE, (e as Error).message);
    }
    const stepCount = s.stepCount;
    if (typeof stepCount !== 'number' || !Number.isSafeInteger(stepCount) || stepCount < 0) {
      throw stateError(label, `Expected a non-negative integer stepCount but got ${show(stepCount)}`);
    }
    const given = s.scalars;
    if (!isPlainObject(given)) throw stateError(label, `Expected a scalars object but got ${typeName(given)}`);
    const extra = Object.keys(given).filter((k) => !this.scalarNames.includes(k));
    if (extra.length > 0) throw stateError(label, `Unknown scalar ${show(extra[0])}; expected ${this.scalarNames.join(', ') || 'none'}`);
    const scalars = this.scalarNames.map((k) => {
      const v = given[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw stateError(label, `Expected a finite number for scalars.${k} but got ${show(v)}`);
      return v;
    });
    const arena = decodeArena(s.arena, this.arena.length);
    if (typeof arena === 'string') throw stateError(label, arena);
    this.#options = options;
    this.#lr = lr;
    this.#stepCount = stepCount;
    this.#initialFor = null;
    this.scalars.set(scalars);
    this.arena.set(arena);
  }
}

/**
 * Makes the optimiser `spec` (`{ name, ...options }`; see OPTIMIZERS for each rule, its options
 * and defaults and the torch class it matches) over `model`'s parameters: a Sequential, or any
 * `{ params, grads, backend }` with Float32Array arenas of equal length. Validates everything
 * first: TypeError ERR_BLASNET_ARG_TYPE for a spec, option or model of the wrong type or a missing
 * required option; RangeError ERR_BLASNET_UNKNOWN_NAME for an unknown optimiser; RangeError
 * ERR_BLASNET_ARG_RANGE for an unknown option, a non-finite number or a value PyTorch rejects,
 * with PyTorch's message, option names camel-cased ("sgd: Invalid learning rate: -1",
 * "adam: Invalid beta parameter at index 0: 1.5", "sgd: Invalid weightDecay value: -1");
 * RangeError ERR_BLASNET_SHAPE for arenas of different lengths. Emits a process warning (code
 * BLASNET_ADADELTA_LR, once per optimiser made) for adadelta with an lr other than 1.
 */
export function createOptimizer(spec: OptimizerSpec, model: Sequential | OptimizerTarget): Optimizer {
  return makeOptimizer(spec, model, true);
}

/**
 * createOptimizer, with its warning or without: fitAsync's worker makes again the optimiser the
 * calling thread made (and warned about), and a worker's warning would go to stderr, past the
 * application's 'warning' listeners.
 * @internal
 */
export function makeOptimizer(spec: OptimizerSpec, model: Sequential | OptimizerTarget, warn: boolean): Optimizer {
  const name = resolveName(spec, 'createOptimizer');
  const options = resolveOptions(name, spec as unknown as Record<string, unknown>, name);
  const target = readTarget(model, 'createOptimizer', true);
  // The lecture notes: AdaDelta's update already carries its units, so it needs no learning rate.
  if (warn && name === 'adadelta' && options.lr !== 1) {
    process.emitWarning(`adadelta: lr = ${String(options.lr)}; AdaDelta's update has the parameters' units and needs no ` +
      'learning rate (lr = 1, the default, is the rule as published)', { code: 'BLASNET_ADADELTA_LR' });
  }
  return new ArenaOptimizer(name, options, target);
}

// ---------------------------------------------------------------------------------------------
// Schedules

/**
 * Throws RangeError ERR_BLASNET_ARG_RANGE if `schedule` cycles momentum (oneCycle with
 * cycleMomentum) and `optimizer` has no momentum or beta1 to cycle (PyTorch's OneCycleLR
 * raises the same at construction).
 */
export function checkScheduleMomentum(optimizer: Optimizer, schedule: Schedule): void {
  if (typeof optimizer !== 'object' || optimizer === null || typeof optimizer.lr !== 'number' || typeof optimizer.step !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `followSchedule: Expected an Optimizer (from createOptimizer) for optimizer but received ${typeName(optimizer)}`);
  }
  if (typeof schedule !== 'object' || schedule === null || typeof schedule.lr !== 'number' || typeof schedule.step !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `followSchedule: Expected a Schedule (from createSchedule) for schedule but received ${typeName(schedule)}`);
  }
  if (schedule.momentum !== undefined && optimizer.momentum === undefined) {
    throw rangeError(ErrorCode.ARG_RANGE, `${schedule.name}: optimizer must support momentum or beta1 with \`cycleMomentum\` ` +
      `option enabled (${optimizer.name} has neither; pass cycleMomentum: false)`);
  }
}

/**
 * Sets the optimiser's lr from the schedule's current value, and its momentum (or beta1) when
 * the schedule cycles it: what PyTorch's scheduler.step() writes into the param group.
 * At the end of a schedule that has one (count = stepLimit: a oneCycle after its totalSteps
 * steps) it changes nothing, and the optimiser keeps the lr and momentum of the last update: the
 * value there, which PyTorch writes, is used by no update (OneCycleLR extrapolates its last phase
 * to it, with annealStrategy 'linear' to a negative lr), and the next step() throws.
 * Throws as checkScheduleMomentum does, before changing anything.
 */
export function followSchedule(optimizer: Optimizer, schedule: Schedule): void {
  checkScheduleMomentum(optimizer, schedule);
  if (schedule.stepLimit !== undefined && schedule.count >= schedule.stepLimit) return;
  const momentum = schedule.momentum;
  if (momentum !== undefined) optimizer.momentum = momentum;
  optimizer.lr = schedule.lr;
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping

/**
 * Scales the gradients so that their total norm is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_: the normType-norm over all gradients as if concatenated,
 * total = (sum |g|^p)^(1/p) for a finite p > 0 (one sumSquares kernel call for the default 2;
 * other p in float64 over the gradients) and max |g| for Infinity; clipCoef = maxNorm /
 * (total + 1e-6), and the gradients are scaled by clipCoef (one scale call) only if it is below 1.
 * Returns the total norm before clipping. maxNorm must be finite and > 0; normType a number > 0
 * or Infinity (RangeError ERR_BLASNET_ARG_RANGE otherwise; PyTorch also takes 0 and negative p,
 * which are not norms). Unlike PyTorch, which sums |g|^p directly, a p other than 2 factors out
 * the largest |g| first, so the total does not overflow to infinity (2e4 at p = 100) or
 * underflow to 0 where the norm itself is a float64 number. A NaN total leaves the gradients
 * alone (PyTorch multiplies them by NaN); an infinite one zeroes them, infinities becoming NaN
 * (as in PyTorch).
 */
export function clipGradNorm(model: Sequential | GradientTarget, maxNorm: number, normType = 2): number {
  const where = 'clipGradNorm';
  const { grads, backend, guard } = readTarget(model, where, false);
  guard?.(where);
  if (typeof maxNorm !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for maxNorm but received ${typeName(maxNorm)}`);
  if (!(maxNorm > 0 && maxNorm <= Number.MAX_VALUE)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive finite number for maxNorm but received ${maxNorm}`);
  }
  if (typeof normType !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for normType but received ${typeName(normType)}`);
  if (!(normType > 0)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected normType > 0 (a number or Infinity) but received ${show(normType)}`);
  const n = typedLength(grads);
  const total = normType === 2 ? Math.sqrt(backend.sumSquares(n, grads)) : pNorm(grads, n, normType);
  const clipCoef = maxNorm / (total + 1e-6);
  if (clipCoef < 1) backend.scale(n, clipCoef, grads);
  return total;
}

/**
 * The p-norm of the first n values of g in float64: max |g| for Infinity (NaN if any is NaN),
 * else m (sum (|g| / m)^p)^(1/p) with m = max |g|, which is (sum |g|^p)^(1/p) without
 * overflowing or underflowing in the sum.
 */
function pNorm(g: Float32Array, n: number, p: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(g[i]);
    if (a > m || a !== a) m = a; // eslint-disable-line no-self-compare
    if (m !== m) return m; // eslint-disable-line no-self-compare
  }
  if (p === Infinity || m === 0 || m === Infinity) return m;
  let sum = 0;
  if (p === 1) for (let i = 0; i < n; i++) sum += Math.abs(g[i]) / m;
  else for (let i = 0; i < n; i++) sum += (Math.abs(g[i]) / m) ** p;
  return m * sum ** (1 / p);
}

/**
 * Clamps every gradient to [-clipValue, clipValue] (one clamp kernel call), as
 * torch.nn.utils.clip_grad_value_; NaN stays NaN. clipValue must be finite and >= 0.
 */
export function clipGradValue(model: Sequential | GradientTarget, clipValue: number): void {
  const where = 'clipGradValue';
  const { grads, backend, guard } = readTarget(model, where, false);
  guard?.(where);
  if (typeof clipValue !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for clipValue but received ${typeName(clipValue)}`);
  if (!(clipValue >= 0 && clipValue <= FLOAT32_MAX)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected non-negative finite number for clipValue but received ${clipValue}`);
  }
  backend.clamp(typedLength(grads), -clipValue, clipValue, grads);
}
