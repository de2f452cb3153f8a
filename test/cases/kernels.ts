/**
 * Hand-checked kernel cases shared by every backend. Each expected value was worked out by hand
 * (or from PyTorch's documented examples) and is independent of both implementations.
 */
import type { ActivationName } from '../../lib/activations';
import type { LossName } from '../../lib/losses';
import type { OptimizerKernelName } from '../../lib/optim/kernels';

export interface GemmCase {
  name: string;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  a: number[];
  b: number[];
  beta: number;
  c: number[];
  expect: number[];
}

const A23 = [1, 2, 3, 4, 5, 6]; // [[1,2,3],[4,5,6]]
const A23T = [1, 4, 2, 5, 3, 6]; // its transpose, stored [3, 2]
const B32 = [7, 8, 9, 10, 11, 12]; // [[7,8],[9,10],[11,12]]
const B32T = [7, 9, 11, 8, 10, 12]; // its transpose, stored [2, 3]

export const GEMM_CASES: GemmCase[] = [
  { name: '2x3 * 3x2', transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 1, a: A23, b: B32, beta: 0, c: [9, 9, 9, 9], expect: [58, 64, 139, 154] },
  { name: 'transA', transA: true, transB: false, m: 2, n: 2, k: 3, alpha: 1, a: A23T, b: B32, beta: 0, c: [0, 0, 0, 0], expect: [58, 64, 139, 154] },
  { name: 'transB', transA: false, transB: true, m: 2, n: 2, k: 3, alpha: 1, a: A23, b: B32T, beta: 0, c: [0, 0, 0, 0], expect: [58, 64, 139, 154] },
  { name: 'transA transB', transA: true, transB: true, m: 2, n: 2, k: 3, alpha: 1, a: A23T, b: B32T, beta: 0, c: [0, 0, 0, 0], expect: [58, 64, 139, 154] },
  { name: 'alpha 2, beta 0.5', transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 2, a: A23, b: B32, beta: 0.5, c: [1, 1, 1, 1], expect: [116.5, 128.5, 278.5, 308.5] },
  { name: 'beta 0 overwrites NaN', transA: false, transB: false, m: 1, n: 1, k: 1, alpha: 1, a: [3], b: [4], beta: 0, c: [NaN], expect: [12] },
  { name: '1 row (a dot product)', transA: false, transB: false, m: 1, n: 1, k: 3, alpha: 1, a: [1, 2, 3], b: [4, 5, 6], beta: 0, c: [0], expect: [32] },
  { name: 'outer product (k = 1)', transA: false, transB: false, m: 3, n: 2, k: 1, alpha: 1, a: [1, 2, 3], b: [10, 20], beta: 0, c: [0, 0, 0, 0, 0, 0], expect: [10, 20, 20, 40, 30, 60] },
  { name: '0 rows', transA: false, transB: false, m: 0, n: 2, k: 3, alpha: 1, a: [], b: B32, beta: 0, c: [5, 5], expect: [5, 5] },
  { name: 'k = 0, beta 0', transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: [], b: [], beta: 0, c: [1, 2, 3, 4], expect: [0, 0, 0, 0] },
  { name: 'k = 0, beta 2', transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: [], b: [], beta: 2, c: [1, 2, 3, 4], expect: [2, 4, 6, 8] },
  { name: 'odd 3x1x5', transA: false, transB: true, m: 3, n: 1, k: 5, alpha: -1, a: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], b: [1, 2, 3, 4, 5], beta: 1, c: [1, 1, 1], expect: [0, -1, -4] },
];

export interface ActivationCase {
  act: ActivationName;
  param?: number;
  x: number;
  y: number;
  /** f'(x) */
  dy: number;
}

const ln2 = Math.LN2;
export const ACTIVATION_CASES: ActivationCase[] = [
  { act: 'identity', x: -3.5, y: -3.5, dy: 1 },
  { act: 'sigmoid', x: 0, y: 0.5, dy: 0.25 },
  { act: 'sigmoid', x: 1e4, y: 1, dy: 0 },
  { act: 'sigmoid', x: -1e4, y: 0, dy: 0 },
  { act: 'sigmoid', x: 2, y: 0.8807970779778823, dy: 0.1049935854035065 },
  { act: 'tanh', x: 0, y: 0, dy: 1 },
  { act: 'tanh', x: 1, y: 0.7615941559557649, dy: 0.41997434161402614 },
  { act: 'relu', x: -1, y: 0, dy: 0 },
  { act: 'relu', x: 0, y: 0, dy: 0 },
  { act: 'relu', x: 2.5, y: 2.5, dy: 1 },
  { act: 'leakyRelu', x: -2, y: -0.02, dy: 0.01 },
  { act: 'leakyRelu', param: 0.2, x: -2, y: -0.4, dy: 0.2 },
  { act: 'leakyRelu', param: 0.2, x: 0, y: 0, dy: 0.2 },
  { act: 'leakyRelu', x: 3, y: 3, dy: 1 },
  { act: 'elu', x: -1, y: Math.exp(-1) - 1, dy: Math.exp(-1) },
  { act: 'elu', param: 2, x: -1, y: 2 * (Math.exp(-1) - 1), dy: 2 * Math.exp(-1) },
  { act: 'elu', x: 1.5, y: 1.5, dy: 1 },
  { act: 'selu', x: 1, y: 1.0507009873554805, dy: 1.0507009873554805 },
  { act: 'selu', x: -1, y: 1.0507009873554805 * 1.6732632423543772 * (Math.exp(-1) - 1), dy: 1.0507009873554805 * 1.6732632423543772 * Math.exp(-1) },
  { act: 'silu', x: 0, y: 0, dy: 0.5 },
  { act: 'silu', x: 1, y: 0.7310585786300049, dy: 0.7310585786300049 * (1 + 0.2689414213699951) },
  { act: 'silu', x: -1e4, y: 0, dy: 0 },
  { act: 'softplus', x: 0, y: ln2, dy: 0.5 },
  { act: 'softplus', x: 1e4, y: 1e4, dy: 1 },
  { act: 'softplus', x: -1e4, y: 0, dy: 0 },
  { act: 'softplus', x: 88.7, y: 88.7, dy: 1 },
  { act: 'gelu', x: 0, y: 0, dy: 0.5 },
  { act: 'gelu', x: 1, y: 0.8413447460685429, dy: 0.8413447460685429 + 0.24197072451914337 },
  { act: 'gelu', x: -1, y: -0.15865525393145707, dy: 0.15865525393145707 - 0.24197072451914337 },
  { act: 'gelu', x: 1e4, y: 1e4, dy: 1 },
  { act: 'gelu', x: -1e4, y: 0, dy: 0 },
];

export interface LossCase {
  name: string;
  loss: LossName;
  param?: number;
  rows: number;
  cols: number;
  pred: number[];
  /** A number[] of floats, or { labels } for Int32Array class labels. */
  target: number[] | { labels: number[] };
  value: number;
  grad: number[];
}

export const LOSS_CASES: LossCase[] = [
  { name: 'mse 2x2', loss: 'mse', rows: 2, cols: 2, pred: [1, 2, 3, 4], target: [1, 1, 1, 1], value: 3.5, grad: [0, 0.5, 1, 1.5] },
  { name: 'mse 0 rows', loss: 'mse', rows: 0, cols: 2, pred: [], target: [], value: 0, grad: [] },
  { name: 'mse at 1e4', loss: 'mse', rows: 1, cols: 1, pred: [1e4], target: [-1e4], value: 4e8, grad: [4e4] },
  { name: 'l1 2x2', loss: 'l1', rows: 2, cols: 2, pred: [1, 2, 3, 4], target: [1, 1, 1, 1], value: 1.5, grad: [0, 0.25, 0.25, 0.25] },
  { name: 'huber delta 1', loss: 'huber', rows: 2, cols: 2, pred: [1, 2, 3, 4], target: [1, 1, 1, 1], value: 1.125, grad: [0, 0.25, 0.25, 0.25] },
  { name: 'huber delta 2', loss: 'huber', param: 2, rows: 1, cols: 3, pred: [0.5, -1, 5], target: [0, 0, 0], value: (0.125 + 0.5 + 8) / 3, grad: [0.5 / 3, -1 / 3, 2 / 3] },
  { name: 'bce at 0', loss: 'binaryCrossEntropy', rows: 1, cols: 1, pred: [0], target: [1], value: ln2, grad: [-0.5] },
  { name: 'bce extreme logits', loss: 'binaryCrossEntropy', rows: 1, cols: 3, pred: [1e4, -1e4, 88.7], target: [1, 0, 1], value: 0, grad: [0, 0, 0] },
  { name: 'bce confident and wrong', loss: 'binaryCrossEntropy', rows: 1, cols: 2, pred: [1e4, -1e4], target: [0, 1], value: 1e4, grad: [0.5, -0.5] },
  { name: 'bce soft target', loss: 'binaryCrossEntropy', rows: 1, cols: 1, pred: [2], target: [0.25], value: 2 - 0.5 + Math.log1p(Math.exp(-2)), grad: [0.8807970779778823 - 0.25] },
  { name: 'crossEntropy uniform', loss: 'crossEntropy', rows: 1, cols: 3, pred: [0, 0, 0], target: { labels: [1] }, value: Math.log(3), grad: [1 / 3, -2 / 3, 1 / 3] },
  { name: 'crossEntropy 2 rows', loss: 'crossEntropy', rows: 2, cols: 2, pred: [0, 0, 1, 1], target: { labels: [0, 1] }, value: ln2, grad: [-0.25, 0.25, 0.25, -0.25] },
  { name: 'crossEntropy extreme logits, right', loss: 'crossEntropy', rows: 1, cols: 3, pred: [1e4, -1e4, 88.7], target: { labels: [0] }, value: 0, grad: [0, 0, 0] },
  { name: 'crossEntropy extreme logits, wrong', loss: 'crossEntropy', rows: 1, cols: 3, pred: [1e4, -1e4, 88.7], target: { labels: [1] }, value: 2e4, grad: [1, -1, 0] },
  { name: 'crossEntropy probabilities', loss: 'crossEntropy', rows: 1, cols: 2, pred: [0, 0], target: [0.5, 0.5], value: ln2, grad: [0, 0] },
  { name: 'crossEntropy one-hot', loss: 'crossEntropy', rows: 1, cols: 3, pred: [0, 0, 0], target: [0, 1, 0], value: Math.log(3), grad: [1 / 3, -2 / 3, 1 / 3] },
  { name: 'crossEntropy 0 rows', loss: 'crossEntropy', rows: 0, cols: 3, pred: [], target: { labels: [] }, value: 0, grad: [] },
  { name: 'hinge', loss: 'hinge', rows: 1, cols: 3, pred: [0.5, -2, 2], target: [1, 1, -1], value: 6.5 / 3, grad: [-1 / 3, -1 / 3, 1 / 3] },
  { name: 'hinge satisfied', loss: 'hinge', rows: 1, cols: 2, pred: [1e4, -1e4], target: [1, -1], value: 0, grad: [0, 0] },
  // PyTorch's MultiMarginLoss documentation example.
  { name: 'multiMargin', loss: 'multiMargin', rows: 1, cols: 4, pred: [0.1, 0.2, 0.4, 0.8], target: { labels: [3] }, value: 0.325, grad: [0.25, 0.25, 0.25, -0.75] },
  { name: 'multiMargin margin 0.1', loss: 'multiMargin', param: 0.1, rows: 1, cols: 2, pred: [1, 0.95], target: { labels: [0] }, value: 0.05 / 2, grad: [-0.5, 0.5] },
  { name: 'gaussianNll', loss: 'gaussianNll', rows: 1, cols: 2, pred: [1, 2], target: [0], value: 0.5 * (ln2 + 0.5), grad: [0.5, 0.5 * (0.5 - 0.25)] },
  { name: 'gaussianNll 2 rows', loss: 'gaussianNll', rows: 2, cols: 2, pred: [0, 1, 3, 1], target: [0, 1], value: (0 + 0.5 * 4) / 2, grad: [0, 0.25, 1, 0.25 * (1 - 4)] },
];

export interface PreluCase {
  name: string;
  rows: number;
  cols: number;
  perUnit: boolean;
  x: number[];
  a: number[];
  y: number[];
  dy: number[];
  dx: number[];
  beta: number;
  /** da before the backward pass, and after. */
  da0: number[];
  da: number[];
}

export const PRELU_CASES: PreluCase[] = [
  // x = 0 takes the slope branch: dx = a * dy, and it adds dy * 0 to da (PyTorch).
  { name: 'per unit 2x3, x = 0 in column 0, beta 0 overwrites NaN', rows: 2, cols: 3, perUnit: true,
    x: [-2, 3, -4, 0, -1, 5], a: [0.5, 0.25, -1], y: [-1, 3, 4, 0, -0.25, 5],
    dy: [1, 2, 3, 4, 5, 6], dx: [0.5, 2, -3, 2, 1.25, 6], beta: 0, da0: [NaN, NaN, NaN], da: [-2, -5, -12] },
  { name: 'shared slope 2x3, beta 1 accumulates', rows: 2, cols: 3, perUnit: false,
    x: [-2, 3, -4, 0, -1, 5], a: [0.25], y: [-0.5, 3, -1, 0, -0.25, 5],
    dy: [1, 2, 3, 4, 5, 6], dx: [0.25, 2, 0.75, 1, 1.25, 6], beta: 1, da0: [1], da: [-18] },
  { name: 'per unit 3x1, negative slope', rows: 3, cols: 1, perUnit: true,
    x: [1, -1, 0], a: [-0.5], y: [1, 0.5, 0], dy: [2, 2, 2], dx: [2, -1, -1], beta: 0, da0: [7], da: [-2] },
  { name: '1x1, beta 0.5', rows: 1, cols: 1, perUnit: false,
    x: [-3], a: [2], y: [-6], dy: [0.5], dx: [1], beta: 0.5, da0: [4], da: [0.5] },
  { name: '0 rows per unit: da = beta * da', rows: 0, cols: 3, perUnit: true,
    x: [], a: [1, 2, 3], y: [], dy: [], dx: [], beta: 0.5, da0: [2, 4, 6], da: [1, 2, 3] },
  { name: '0 rows shared, beta 0', rows: 0, cols: 2, perUnit: false,
    x: [], a: [0.5], y: [], dy: [], dx: [], beta: 0, da0: [NaN], da: [0] },
];

export interface BatchNormCase {
  name: string;
  training: boolean;
  rows: number;
  cols: number;
  eps: number;
  momentum: number;
  x: number[];
  gamma: number[];
  beta: number[];
  /** Running estimates before the forward pass, and after. */
  runningMean0: number[];
  runningVar0: number[];
  runningMean: number[];
  runningVar: number[];
  mean: number[];
  invStd: number[];
  xhat: number[];
  y: number[];
  /** Backward from this case's xhat and invStd. */
  dy: number[];
  gradBeta: number;
  dgamma0: number[];
  dbeta0: number[];
  dgamma: number[];
  dbeta: number[];
  dx: number[];
}

export const BATCH_NORM_CASES: BatchNormCase[] = [
  // Columns [0, 0, 3], [4, -2, 1], [7, 7, 7]: means 1, 1, 7; biased variances 2, 6, 0 (var + eps
  // = 2.25, 6.25, 0.25); unbiased 3, 9, 0. A constant column normalises to 0.
  // dx column 0: 2 * (2/3) / 3 * (3 dy - 3 - 2 xhat) with sum dy = 3, sum dy xhat = 2.
  { name: 'training 3x3, momentum 0.25, a constant column', training: true, rows: 3, cols: 3, eps: 0.25, momentum: 0.25,
    x: [0, 4, 7, 0, -2, 7, 3, 1, 7], gamma: [2, -1, 0.5], beta: [0.5, 0, -1],
    runningMean0: [1, 2, 3], runningVar0: [1, 1, 1], runningMean: [1, 1.75, 4], runningVar: [1.5, 3, 0.75],
    mean: [1, 1, 7], invStd: [2 / 3, 0.4, 2],
    xhat: [-2 / 3, 1.2, 0, -2 / 3, -1.2, 0, 4 / 3, 0, 0],
    y: [-5 / 6, -1.2, -1, -5 / 6, 1.2, -1, 19 / 6, 0, -1],
    dy: [1, 0, 1, 0, 1, 2, 2, 1, 3], gradBeta: 0, dgamma0: [NaN, NaN, NaN], dbeta0: [NaN, NaN, NaN],
    dgamma: [2, -1.2, 0], dbeta: [3, 2, 6],
    dx: [16 / 27, 1.12 / 15, -1, -20 / 27, 0.88 / 15, 0, 4 / 27, -2 / 15, 1] },
  // Two rows: y_0 = gamma * u / sqrt(u^2 + eps) + beta with u = (x_0 - x_1)/2, so
  // dy_0/dx_0 = gamma * eps / (u^2 + eps)^(3/2) / 2 = 4 * 3 / 8 / 2 = 0.75.
  { name: 'training 2x1, momentum 1 takes the batch statistics', training: true, rows: 2, cols: 1, eps: 3, momentum: 1,
    x: [1, 3], gamma: [4], beta: [1], runningMean0: [-5], runningVar0: [9], runningMean: [2], runningVar: [2],
    mean: [2], invStd: [0.5], xhat: [-0.5, 0.5], y: [-1, 3],
    dy: [1, 0], gradBeta: 1, dgamma0: [1], dbeta0: [-1], dgamma: [0.5], dbeta: [0], dx: [0.75, -0.75] },
  { name: 'training 3x2, momentum 0 keeps the running estimates', training: true, rows: 3, cols: 2, eps: 0.25, momentum: 0,
    x: [0, 4, 0, -2, 3, 1], gamma: [1, 1], beta: [0, 0], runningMean0: [3, -3], runningVar0: [5, 6], runningMean: [3, -3], runningVar: [5, 6],
    mean: [1, 1], invStd: [2 / 3, 0.4], xhat: [-2 / 3, 1.2, -2 / 3, -1.2, 4 / 3, 0], y: [-2 / 3, 1.2, -2 / 3, -1.2, 4 / 3, 0],
    dy: [0, 0, 0, 0, 0, 0], gradBeta: 0, dgamma0: [1, 1], dbeta0: [1, 1], dgamma: [0, 0], dbeta: [0, 0], dx: [0, 0, 0, 0, 0, 0] },
  // Eval: invStd = 1/sqrt([0.75, 3.75, 0] + 0.25) = [1, 0.5, 2]; dx = dy * gamma * invStd = dy * [2, -0.5, 1].
  { name: 'eval 3x3 uses the running estimates, beta 0.5', training: false, rows: 3, cols: 3, eps: 0.25, momentum: 0.25,
    x: [0, 4, 7, 0, -2, 7, 3, 1, 7], gamma: [2, -1, 0.5], beta: [0.5, 0, -1],
    runningMean0: [1, -1, 0], runningVar0: [0.75, 3.75, 0], runningMean: [1, -1, 0], runningVar: [0.75, 3.75, 0],
    mean: [1, -1, 0], invStd: [1, 0.5, 2],
    xhat: [-1, 2.5, 14, -1, -0.5, 14, 2, 1, 14], y: [-1.5, -2.5, 6, -1.5, 0.5, 6, 4.5, -1, 6],
    dy: [1, 0, 1, 0, 1, 2, 2, 1, 3], gradBeta: 0.5, dgamma0: [2, 2, 2], dbeta0: [2, 2, 2],
    dgamma: [4, 1.5, 85], dbeta: [4, 3, 7], dx: [2, 0, 1, 0, -0.5, 2, 4, -0.5, 3] },
  { name: 'eval with 1 row', training: false, rows: 1, cols: 2, eps: 1, momentum: 0.1,
    x: [3, -1], gamma: [1, 2], beta: [0, 1], runningMean0: [1, 1], runningVar0: [3, 0], runningMean: [1, 1], runningVar: [3, 0],
    mean: [1, 1], invStd: [0.5, 1], xhat: [1, -2], y: [1, -3],
    dy: [1, 1], gradBeta: 0, dgamma0: [0, 0], dbeta0: [0, 0], dgamma: [1, -2], dbeta: [1, 1], dx: [0.5, 2] },
  { name: 'eval with 0 rows still writes mean and invStd', training: false, rows: 0, cols: 2, eps: 1, momentum: 0.1,
    x: [], gamma: [1, 2], beta: [0, 1], runningMean0: [1, 2], runningVar0: [3, 15], runningMean: [1, 2], runningVar: [3, 15],
    mean: [1, 2], invStd: [0.5, 0.25], xhat: [], y: [],
    dy: [], gradBeta: 0.5, dgamma0: [2, 4], dbeta0: [6, 8], dgamma: [1, 2], dbeta: [3, 4], dx: [] },
];

export interface OptimizerCase {
  name: string;
  opt: OptimizerKernelName;
  /** Hyper scalars by layout name; names left out are 0. */
  hyper: Record<string, number>;
  param: number[];
  grad: number[];
  /** The whole state arena (slots * n) before the step, and after. */
  state: number[];
  expectParam: number[];
  expectState: number[];
}

// Every value is a small dyadic fraction or chosen so that square roots come out whole, so each
// expected value below is exact and worked out by hand from the rule in lib/optim/kernels.ts.
export const OPTIMIZER_CASES: OptimizerCase[] = [
  { name: 'sgd without momentum leaves its slot alone', opt: 'sgd', hyper: { lr: 0.5 },
    param: [1, -2], grad: [2, 4], state: [7, 7], expectParam: [0, -4], expectState: [7, 7] },
  // g = [1, 1] + 0.5 [2, -2] = [2, 0]
  { name: 'sgd L2 weight decay', opt: 'sgd', hyper: { lr: 0.5, weightDecay: 0.5 },
    param: [2, -2], grad: [1, 1], state: [0, 0], expectParam: [1, -2], expectState: [0, 0] },
  // First step: buf = g, dampening not applied.
  { name: 'sgd momentum, first step', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, dampening: 0.5, firstStep: 1 },
    param: [1, 1], grad: [2, -2], state: [9, 9], expectParam: [0, 2], expectState: [2, -2] },
  // buf = 0.5 [2, -2] + 0.5 [2, 4] = [2, 1]
  { name: 'sgd momentum with dampening', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, dampening: 0.5 },
    param: [1, 1], grad: [2, 4], state: [2, -2], expectParam: [0, 0.5], expectState: [2, 1] },
  // buf = 0.5 [2, -2] + [2, 4] = [3, 3]; d = g + 0.5 buf = [3.5, 5.5]
  { name: 'sgd nesterov', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, nesterov: 1 },
    param: [1, 1], grad: [2, 4], state: [2, -2], expectParam: [-0.75, -1.75], expectState: [3, 3] },
  { name: 'sgd lr in velocity, first step: v = -lr g', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, dampening: 0.5, firstStep: 1, lrInVelocity: 1 },
    param: [1, 1], grad: [2, -2], state: [9, 9], expectParam: [0, 2], expectState: [-1, 1] },
  // v = 0.5 [-1, 1] - 0.5 * 0.5 [2, 4] = [-1, -0.5]: the PyTorch case above with v = -lr buf.
  { name: 'sgd lr in velocity with dampening', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, dampening: 0.5, lrInVelocity: 1 },
    param: [1, 1], grad: [2, 4], state: [-1, 1], expectParam: [0, 0.5], expectState: [-1, -0.5] },
  // v = 0.5 [-1, 1] - 0.5 [2, 4] = [-1.5, -1.5]; p += 0.5 v - 0.5 g
  { name: 'sgd lr in velocity, nesterov', opt: 'sgd', hyper: { lr: 0.5, momentum: 0.5, nesterov: 1, lrInVelocity: 1 },
    param: [1, 1], grad: [2, 4], state: [-1, 1], expectParam: [-0.75, -1.75], expectState: [-1.5, -1.5] },
  // sum = [7 + 9, 0 + 4] = [16, 4]; p -= 0.5 [3/4, 2/2]
  { name: 'adagrad', opt: 'adagrad', hyper: { clr: 0.5 },
    param: [1, 1], grad: [3, 2], state: [7, 0], expectParam: [0.625, 0.5], expectState: [16, 4] },
  // g = [0, 1] + 0.5 [2, -2] = [1, 0]; sum = [4, 5]
  { name: 'adagrad L2 weight decay', opt: 'adagrad', hyper: { clr: 0.5, weightDecay: 0.5 },
    param: [2, -2], grad: [0, 1], state: [3, 5], expectParam: [1.75, -2], expectState: [4, 5] },
  // sq = 0.5 [4, 16] + 0.5 [4, 16] = [4, 16]; avg = [2, 4]
  { name: 'rmsprop', opt: 'rmsprop', hyper: { lr: 0.5, alpha: 0.5, oneMinusAlpha: 0.5 },
    param: [1, 1], grad: [2, 4], state: [4, 16, 9, 9, 9, 9], expectParam: [0.5, 0.5], expectState: [4, 16, 9, 9, 9, 9] },
  // sq = [4, 25]; gAvg = 0.5 [-2, 4] + 0.5 [2, 4] = [0, 4]; avg = sqrt([4, 9]) = [2, 3];
  // buf = 0.5 [1, 2] + [1, 4/3] = [1.5, 7/3]
  { name: 'rmsprop centered with momentum', opt: 'rmsprop', hyper: { lr: 0.5, alpha: 0.5, oneMinusAlpha: 0.5, momentum: 0.5, centered: 1 },
    param: [1, 1], grad: [2, 4], state: [4, 34, 1, 2, -2, 4], expectParam: [0.25, -1 / 6], expectState: [4, 25, 1.5, 7 / 3, 0, 4] },
  // sq = [4, 11]; avg = sqrt(sq + 5) = [3, 4]
  { name: 'rmsprop eps inside the root', opt: 'rmsprop', hyper: { lr: 0.5, alpha: 0.5, oneMinusAlpha: 0.5, eps: 5, epsInsideSqrt: 1 },
    param: [1, 1], grad: [2, 4], state: [4, 6, 0, 0, 0, 0], expectParam: [2 / 3, 0.5], expectState: [4, 11, 0, 0, 0, 0] },
  // sq = [4, 16]; delta = sqrt([1, 9]) / sqrt([4, 16]) g = [1, 3]; acc = 0.5 [1, 9] + 0.5 [1, 9]
  { name: 'adadelta', opt: 'adadelta', hyper: { lr: 0.5, rho: 0.5, oneMinusRho: 0.5 },
    param: [1, 1], grad: [2, 4], state: [4, 16, 1, 9], expectParam: [0.5, -0.5], expectState: [4, 16, 1, 9] },
  // m = [1, 1]; v = [1, 4]; denom = sqrt(v) / sqrt(0.25) = [2, 4]; step size 0.5 / 0.5 = 1
  { name: 'adam with bias corrections', opt: 'adam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, bc1: 0.5, bc2: 0.25 },
    param: [1, 1], grad: [1, 2], state: [1, 0, 1, 4, 9, 9], expectParam: [0.5, 0.75], expectState: [1, 1, 1, 4, 9, 9] },
  // p *= 1 - 0.25 first; vMax = max([4, 1], [1, 4]) = [4, 4]; denom = [2, 2]
  { name: 'adam amsgrad, decoupled weight decay', opt: 'adam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, weightDecay: 0.5, decoupled: 1, amsgrad: 1, bc1: 1, bc2: 1 },
    param: [2, 4], grad: [1, 2], state: [1, 0, 1, 4, 4, 1], expectParam: [1.25, 2.75], expectState: [1, 1, 1, 4, 4, 4] },
  // g = [0, 3] + [1, -1] = [1, 2]; v = 0.5 [7, 18] + 0.5 [1, 4] = [4, 11]; denom = sqrt(v + 5) = [3, 4]
  { name: 'adam L2 weight decay, eps inside the root', opt: 'adam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, eps: 5, weightDecay: 1, epsInsideSqrt: 1, bc1: 1, bc2: 1 },
    param: [1, -1], grad: [0, 3], state: [1, 0, 7, 18, 0, 0], expectParam: [5 / 6, -9 / 8], expectState: [1, 1, 4, 11, 0, 0] },
  // u = max(0.5 [4, 2], [1, 2]) = [2, 2]; step size 0.5 / 0.5 = 1
  { name: 'adamax', opt: 'adamax', hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, bc1: 0.5 },
    param: [1, 1], grad: [1, -2], state: [1, 0, 4, 2], expectParam: [0.5, 1.5], expectState: [1, -1, 2, 2] },
  // denom = sqrt([1, 4] / 0.25) = [2, 4]; p -= 0.5 g / denom + 0.25 m / denom
  { name: 'nadam', opt: 'nadam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, bc2: 0.25, gradCoef: 0.5, avgCoef: 0.25 },
    param: [1, 1], grad: [1, 2], state: [1, 0, 1, 4], expectParam: [0.625, 0.6875], expectState: [1, 1, 1, 4] },
  { name: 'nadam decoupled weight decay', opt: 'nadam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, weightDecay: 0.5, decoupled: 1, bc2: 0.25, gradCoef: 0.5, avgCoef: 0.25 },
    param: [2, 4], grad: [1, 2], state: [1, 0, 1, 4], expectParam: [1.125, 2.6875], expectState: [1, 1, 1, 4] },
  // mhat = [2, 2]; p -= mhat * 0.5 * (0.5 / sqrt(v)) * 0.5
  { name: 'radam rectified', opt: 'radam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, bc1: 0.5, bc2: 0.25, rectified: 1, rect: 0.5 },
    param: [1, 1], grad: [1, 2], state: [1, 0, 1, 4], expectParam: [0.75, 0.875], expectState: [1, 1, 1, 4] },
  { name: 'radam un-adapted step, decoupled weight decay', opt: 'radam',
    hyper: { lr: 0.5, beta1: 0.5, oneMinusBeta1: 0.5, beta2: 0.5, oneMinusBeta2: 0.5, weightDecay: 0.5, decoupled: 1, bc1: 0.5, bc2: 0.25, rect: 0.5 },
    param: [2, 4], grad: [1, 2], state: [1, 0, 1, 4], expectParam: [0.5, 2], expectState: [1, 1, 1, 4] },
];
