import { erf, sigmoid } from './math';
import { tableId } from './describe';

/** One activation: its scalar function, derivative and the meaning of its parameter. */
export interface ActivationDef {
  /** What it computes, with its formula. */
  readonly doc: string;
  /** Default value of the activation's parameter (0 where it takes none). */
  readonly param: number;
  /** What the parameter means, if it takes one. */
  readonly paramName?: string;
  /** f(x). */
  f(x: number, p: number): number;
  /** f'(x), given x and y = f(x). */
  df(x: number, y: number, p: number): number;
}

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * The activation table. Key order is the activation id shared with the native addon
 * (native/activations.cc); the addon's names are checked against it when it loads.
 * Derivatives at kinks follow PyTorch: relu'(0) = 0, leakyRelu'(0) = slope.
 */
export const ACTIVATIONS = {
  identity: {
    doc: 'f(x) = x',
    param: 0,
    f: (x: number) => x,
    df: () => 1,
  },
  sigmoid: {
    doc: 'f(x) = 1 / (1 + e^-x)',
    param: 0,
    f: (x: number) => sigmoid(x),
    df: (_x: number, y: number) => y * (1 - y),
  },
  tanh: {
    doc: 'f(x) = tanh(x)',
    param: 0,
    f: (x: number) => Math.tanh(x),
    df: (_x: number, y: number) => 1 - y * y,
  },
  relu: {
    doc: 'f(x) = max(0, x); NaN stays NaN',
    param: 0,
    f: (x: number) => (x < 0 ? 0 : x),
    df: (x: number) => (x > 0 ? 1 : 0),
  },
  leakyRelu: {
    doc: 'f(x) = x if x > 0 else slope * x (PyTorch negative_slope, default 0.01)',
    param: 0.01,
    paramName: 'slope',
    f: (x: number, p: number) => (x > 0 ? x : x * p),
    df: (x: number, _y: number, p: number) => (x > 0 ? 1 : p),
  },
  elu: {
    doc: 'f(x) = x if x > 0 else alpha * (e^x - 1) (default alpha 1)',
    param: 1,
    paramName: 'alpha',
    f: (x: number, p: number) => (x > 0 ? x : p * Math.expm1(x)),
    df: (x: number, _y: number, p: number) => (x > 0 ? 1 : p * Math.exp(x)),
  },
  selu: {
    doc: 'f(x) = scale * (x if x > 0 else alpha * (e^x - 1)), alpha = 1.6732632, scale = 1.0507010',
    param: 0,
    f: (x: number) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
    df: (x: number) => SELU_SCALE * (x > 0 ? 1 : SELU_ALPHA * Math.exp(x)),
  },
  silu: {
    doc: 'f(x) = x * sigmoid(x) (swish)',
    param: 0,
    f: (x: number) => x * sigmoid(x),
    df: (x: number) => {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    },
  },
  softplus: {
    doc: 'f(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|)',
    param: 0,
    f: (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
    df: (x: number) => sigmoid(x),
  },
  gelu: {
    doc: 'f(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (exact form, PyTorch approximate="none")',
    param: 0,
    f: (x: number) => 0.5 * x * (1 + erf(x * INV_SQRT2)),
    df: (x: number) => 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  },
} as const satisfies Record<string, ActivationDef>;

/** Name of an activation in the table. */
export type ActivationName = keyof typeof ACTIVATIONS;

/** Activation names in id order. */
export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as ActivationName[];

/** Table rows in id order, for the kernels' dispatch. */
export const ACTIVATION_LIST: readonly ActivationDef[] = ACTIVATION_NAMES.map((n) => ACTIVATIONS[n]);

/** The numeric id the kernels take for an activation name. */
export function activationId(name: ActivationName): number {
  return tableId('activation', ACTIVATION_NAMES, name);
}
