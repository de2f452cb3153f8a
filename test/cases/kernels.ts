/**
 * Hand-checked kernel cases shared by every backend. Each expected value was worked out by hand
 * (or from PyTorch's documented examples) and is independent of both implementations.
 */
import type { ActivationName } from '../../lib/activations';
import type { LossName } from '../../lib/losses';

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
