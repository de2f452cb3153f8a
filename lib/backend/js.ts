/**
 * The js backend: the reference implementation of every kernel, in plain TypeScript. It checks
 * its arguments exactly as the native binding does, computes in float64 and stores float32.
 */
import * as os from 'os';
import { ACTIVATION_LIST } from '../activations';
import { LOSS_LIST, LOSS_NAMES } from '../losses';
import { add, argCount, dim, disjoint, f32, f32OrNull, flag, i32, id, mul, refuseBadRowWeights, sameOrDisjoint, scalar, scalarIn, Span } from './check';
import type { Count } from './check';
import { gemmBlocked } from './gemm';
import { PACK_PANEL, packedDenseLength } from './packed';
import type { Backend, BackendInfo } from './types';
import { ErrorCode, rangeError } from '../errors';
import { argmaxRow, firstLabelOutside } from '../math';
import { isInt32Array } from '../typed';
import { shuffleWords } from '../rng';
import { OPTIMIZER_KERNEL_LIST, OPTIMIZER_KERNEL_NAMES } from '../optim/kernels';

const span = (name: string, a: Float32Array | Int32Array | null, used: number): Span => ({ name, a, used });

// packedDenseForward's sums of one 3x4 tile, reused.
const packedSums = new Float64Array(12);

// The checked copy of lossWeighted's weights, grown as needed and reused.
let checkedWeights = new Float32Array(0);
/** setThreadLimit's value (this backend runs on the calling thread whatever it is). */
let jsThreadLimit = 0;

/**
 * loss and lossWeighted after their argument counts, in the binding's order of checks. weight is
 * undefined for loss; for lossWeighted its values are read once, checked and copied, so the
 * kernel uses exactly the values that passed (as the binding does).
 */
function lossCall(fn: string, loss: number, param: number, rows: number, cols: number, pred: Float32Array,
  target: Float32Array | Int32Array, weight: Float32Array | null, grad: Float32Array | null): number {
  id(fn, 'loss', loss, LOSS_LIST.length);
  param = scalar(fn, 'param', param);
  dim(fn, 'rows', rows); dim(fn, 'cols', cols);
  const def = LOSS_LIST[loss];
  const np = rows * cols;
  f32(fn, 'pred', pred, mul(rows, cols), 'rows*cols');
  let nt: number;
  if (def.targets.labels && (!def.targets.dense || isInt32Array(target))) {
    i32(fn, 'target', target, rows, 'rows');
    nt = rows;
  } else if (def.targets.half) {
    if (cols % 2 !== 0) {
      throw rangeError(ErrorCode.ARG_RANGE,
        `${fn}: Expected even cols (mean and variance heads) for ${LOSS_NAMES[loss]} but received ${cols}`);
    }
    nt = rows * (cols / 2);
    f32(fn, 'target', target, mul(rows, cols / 2), 'rows*cols/2');
  } else {
    nt = np;
    f32(fn, 'target', target, mul(rows, cols), 'rows*cols');
  }
  const weighted = fn === 'lossWeighted';
  if (weighted) f32(fn, 'weight', weight, rows, 'rows');
  f32OrNull(fn, 'grad', grad, mul(rows, cols), 'rows*cols');
  disjoint(fn, span('grad', grad, np), span('pred', pred, np));
  disjoint(fn, span('grad', grad, np), span('target', target, nt));
  if (!weighted) return def.compute(param, rows, cols, pred, target, grad);
  disjoint(fn, span('grad', grad, np), span('weight', weight, rows));
  if (checkedWeights.length < rows) checkedWeights = new Float32Array(rows);
  // Read once, by index (a typed array may come without its prototype): the copy is what is
  // checked and used.
  const w = weight as Float32Array;
  for (let r = 0; r < rows; r++) checkedWeights[r] = w[r];
  refuseBadRowWeights(fn, checkedWeights, rows);
  try {
    return def.compute(param, rows, cols, pred, target, grad, checkedWeights);
  } catch (e) {
    // The table's checks name the unweighted kernel; the binding names the export called.
    const err = e as Error;
    if (err.message.startsWith('loss: ')) err.message = `${fn}: ${err.message.slice(6)}`;
    throw err;
  }
}

// Row loops return at once when rows are empty, so a huge row count with no columns costs nothing.
function softmaxRows(rows: number, cols: number, x: Float32Array, y: Float32Array, log: boolean): void {
  if (cols === 0) return;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j] - m);
    if (log) {
      // (x - m) - log(s), the order the native kernel needs to stay accurate at large logits.
      const logS = Math.log(s);
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j] - m - logS;
    } else {
      for (let j = 0; j < cols; j++) y[o + j] = Math.exp(x[o + j] - m) / s;
    }
  }
}

function activationBackwardLoop(act: number, p: number, n: number, x: Float32Array, y: Float32Array,
  dy: Float32Array, dx: Float32Array): void {
  const df = ACTIVATION_LIST[act].df;
  for (let i = 0; i < n; i++) dx[i] = dy[i] * df(x[i], y[i], p);
}

function colSumLoop(rows: number, cols: number, beta: number, x: Float32Array, out: Float32Array): void {
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * cols + j];
    out[j] = (beta === 0 ? 0 : beta * out[j]) + s;
  }
}

/**
 * The formulas of the elementwise, penalty, PReLU and batch-norm kernels, unguarded. They run in
 * float64 on Float32Array (the kernels) or Float64Array (the float64 gradient checks of test/11,
 * which is why they are exported).
 */
export type Vec = Float32Array | Float64Array;

export function mulLoop(n: number, x: Vec, y: Vec, out: Vec): void {
  for (let i = 0; i < n; i++) out[i] = x[i] * y[i];
}

export function penaltyLoop(n: number, l1: number, l2: number, w: Vec, grad: Vec | null): number {
  let s1 = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    s1 += Math.abs(w[i]);
    s2 += w[i] * w[i];
  }
  if (grad) {
    for (let i = 0; i < n; i++) {
      const v = w[i];
      // Not Math.sign: the binding's sign of NaN is 0 (the l2 term still carries the NaN).
      const sign = v > 0 ? 1 : v < 0 ? -1 : 0;
      grad[i] += l1 * sign + l2 * v;
    }
  }
  return l1 * s1 + 0.5 * l2 * s2;
}

// A shared slope runs as one flat loop: no per-row work, so a huge row count of empty rows is free.
export function preluLoop(perUnit: boolean, rows: number, cols: number, x: Vec, a: Vec, y: Vec): void {
  if (!perUnit) {
    const s = a[0];
    for (let i = 0, n = rows * cols; i < n; i++) y[i] = x[i] > 0 ? x[i] : s * x[i];
    return;
  }
  if (cols === 0) return;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) y[o + j] = x[o + j] > 0 ? x[o + j] : a[j] * x[o + j];
  }
}

// NaN takes the a-branch of x > 0, as in the forward pass, so a NaN input reaches da (PyTorch).
// da is summed per column in both modes, a shared slope adding the columns up at the end: the
// binding's order, which its vectorised loops need. Each row of dy is read before dx (which may
// be dy) overwrites it.
export function preluBackwardLoop(perUnit: boolean, rows: number, cols: number, beta: number, x: Vec, a: Vec,
  dy: Vec, da: Vec, dx: Vec): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows && cols > 0; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const v = x[o + j], g = dy[o + j];
      if (v > 0) {
        dx[o + j] = g;
      } else {
        acc[j] += g * v;
        dx[o + j] = g * (perUnit ? a[j] : a[0]);
      }
    }
  }
  if (perUnit) {
    for (let j = 0; j < cols; j++) da[j] = (beta === 0 ? 0 : beta * da[j]) + acc[j];
  } else {
    let total = 0;
    for (let j = 0; j < cols; j++) total += acc[j];
    da[0] = (beta === 0 ? 0 : beta * da[0]) + total;
  }
}

// The variance takes a second pass over x - mean: one pass of sum x^2 - n mean^2 cancels badly
// when a column's mean is large next to its spread.
export function batchNormForwardLoop(training: boolean, rows: number, cols: number, eps: number, momentum: number,
  x: Vec, gamma: Vec, beta: Vec, runningMean: Vec, runningVar: Vec, mean: Vec, invStd: Vec, xhat: Vec, y: Vec): void {
  if (cols === 0) return;
  const mu = new Float64Array(cols), scale = new Float64Array(cols);
  if (training) {
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) mu[j] += x[r * cols + j];
    for (let j = 0; j < cols; j++) mu[j] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        const d = x[r * cols + j] - mu[j];
        scale[j] += d * d;
      }
    }
    for (let j = 0; j < cols; j++) {
      const sq = scale[j];
      // The running variance is the unbiased estimate, as PyTorch keeps it (rows >= 2 here).
      runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mu[j];
      runningVar[j] = (1 - momentum) * runningVar[j] + momentum * (sq / (rows - 1));
      scale[j] = 1 / Math.sqrt(sq / rows + eps);
    }
  } else {
    for (let j = 0; j < cols; j++) {
      mu[j] = runningMean[j];
      scale[j] = 1 / Math.sqrt(runningVar[j] + eps);
    }
  }
  for (let j = 0; j < cols; j++) {
    mean[j] = mu[j];
    invStd[j] = scale[j];
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const h = (x[o + j] - mu[j]) * scale[j];
      xhat[o + j] = h;
      y[o + j] = gamma[j] * h + beta[j];
    }
  }
}

// The batch's own sums of dy and dy*xhat feed dx; dgamma and dbeta may hold earlier batches too.
export function batchNormBackwardLoop(training: boolean, rows: number, cols: number, beta: number, xhat: Vec,
  gamma: Vec, invStd: Vec, dy: Vec, dgamma: Vec, dbeta: Vec, dx: Vec | null): void {
  if (cols === 0) return;
  const sdy = new Float64Array(cols), sdyx = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      sdy[j] += dy[o + j];
      sdyx[j] += dy[o + j] * xhat[o + j];
    }
  }
  for (let j = 0; j < cols; j++) {
    dbeta[j] = (beta === 0 ? 0 : beta * dbeta[j]) + sdy[j];
    dgamma[j] = (beta === 0 ? 0 : beta * dgamma[j]) + sdyx[j];
  }
  if (!dx || rows === 0) return;
  const k = new Float64Array(cols);
  for (let j = 0; j < cols; j++) k[j] = (gamma[j] * invStd[j]) / (training ? rows : 1);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      dx[o + j] = training ? k[j] * (rows * dy[o + j] - sdy[j] - xhat[o + j] * sdyx[j]) : k[j] * dy[o + j];
    }
  }
}

const nonNegative = (v: number): boolean => v >= 0;
const positive = (v: number): boolean => v > 0;
const unitInterval = (v: number): boolean => v >= 0 && v <= 1;

/** gatherRows' checks and copy, its messages naming `fn`. */
function gather(fn: string, rows: number, cols: number, srcRows: number, index: Int32Array, src: Float32Array,
  dst: Float32Array): void {
  dim(fn, 'rows', rows); dim(fn, 'cols', cols); dim(fn, 'srcRows', srcRows);
  i32(fn, 'index', index, rows, 'rows');
  f32(fn, 'src', src, mul(srcRows, cols), 'srcRows*cols');
  f32(fn, 'dst', dst, mul(rows, cols), 'rows*cols');
  disjoint(fn, span('dst', dst, rows * cols), span('src', src, srcRows * cols));
  disjoint(fn, span('dst', dst, rows * cols), span('index', index, rows));
  // Each index is read once, checked and used as read: on a SharedArrayBuffer another thread
  // may change it between the pass that checks all (so a bad index leaves dst alone) and the copy.
  const at = (r: number): number => {
    const i = index[r];
    if (i < 0 || i >= srcRows) throw rangeError(ErrorCode.INDEX, `${fn}: index[${r}] = ${i} is outside [0, ${srcRows})`);
    return i;
  };
  for (let r = 0; r < rows; r++) at(r);
  if (cols >= GATHER_SET_MIN_COLS) {
    // Rows as wide as an image: TypedArray.set over a view is a memory copy, several times faster
    // than the element loop (which stays for narrow rows, where the view would cost more).
    for (let r = 0; r < rows; r++) {
      const s = at(r) * cols;
      dst.set(src.subarray(s, s + cols), r * cols);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = at(r) * cols, d = r * cols;
    for (let j = 0; j < cols; j++) dst[d + j] = src[s + j];
  }
}

/** Rows at least this wide are gathered with TypedArray.set. */
const GATHER_SET_MIN_COLS = 64;

/**
 * optimizerStepBlocks' blocks: rows >= 0 and columns >= 1 per block, and rows x columns summed
 * over the blocks equal to n. (Read once each: the native binding checks a copy.)
 */
export function checkBlocks(fn: string, n: number, nBlocks: number, blocks: Int32Array): void {
  let covered = 0;
  for (let b = 0; b < nBlocks; b++) {
    const rows = blocks[2 * b], cols = blocks[2 * b + 1];
    if (rows < 0 || cols < 1) {
      throw rangeError(ErrorCode.ARG_RANGE,
        `${fn}: Expected blocks[${2 * b}] >= 0 rows and blocks[${2 * b + 1}] >= 1 columns but received ${rows} and ${cols}`);
    }
    covered += rows * cols;
    if (covered > n) break;
  }
  if (covered !== n) {
    throw rangeError(ErrorCode.SHAPE, `${fn}: Expected blocks to cover n = ${n} values but they cover ${covered > n ? 'more' : covered}`);
  }
}

/** The first i < n with x[i] NaN or infinite, or -1. */
function scanNonFinite(n: number, x: Float32Array): number {
  // v - v is 0 for every finite v and NaN for NaN and both infinities.
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** The pure-TypeScript reference backend: every kernel with the native backend's semantics, checks and messages. */
export const jsBackend: Backend = {
  name: 'js',

  gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
    const fn = 'gemm';
    argCount(fn, arguments.length, 10);
    flag(fn, 'transA', transA); flag(fn, 'transB', transB);
    dim(fn, 'm', m); dim(fn, 'n', n); dim(fn, 'k', k);
    alpha = scalar(fn, 'alpha', alpha);
    f32(fn, 'a', a, mul(m, k), 'm*k');
    f32(fn, 'b', b, mul(k, n), 'k*n');
    beta = scalar(fn, 'beta', beta);
    f32(fn, 'c', c, mul(m, n), 'm*n');
    disjoint(fn, span('c', c, m * n), span('a', a, m * k));
    disjoint(fn, span('c', c, m * n), span('b', b, k * n));
    gemmBlocked(transA, transB, m, n, k, alpha, a, 0, b, 0, beta, c, 0);
  },

  gemmBatched(transA, transB, m, n, k, batch, alpha, a, strideA, b, strideB, beta, c, strideC) {
    const fn = 'gemmBatched';
    argCount(fn, arguments.length, 14);
    flag(fn, 'transA', transA); flag(fn, 'transB', transB);
    dim(fn, 'm', m); dim(fn, 'n', n); dim(fn, 'k', k); dim(fn, 'batch', batch);
    alpha = scalar(fn, 'alpha', alpha);
    dim(fn, 'strideA', strideA); dim(fn, 'strideB', strideB); dim(fn, 'strideC', strideC);
    beta = scalar(fn, 'beta', beta);
    // The last matrix ends at (batch-1)*stride + size, counted exactly for the messages; once the
    // checks pass, each is at most an array's length, a safe integer.
    const extent = (stride: number, size: Count): Count => (batch === 0 ? 0 : add(mul(batch - 1, stride), size));
    const ea = extent(strideA, mul(m, k)), eb = extent(strideB, mul(k, n)), ec = extent(strideC, mul(m, n));
    f32(fn, 'a', a, ea, '(batch-1)*strideA + m*k');
    f32(fn, 'b', b, eb, '(batch-1)*strideB + k*n');
    f32(fn, 'c', c, ec, '(batch-1)*strideC + m*n');
    const na = Number(ea), nb = Number(eb), nc = Number(ec);
    if (batch > 1 && strideC < m * n) {
      throw rangeError(ErrorCode.ALIAS, `${fn}: strideC must be at least m*n so that outputs do not overlap`);
    }
    disjoint(fn, span('c', c, nc), span('a', a, na));
    disjoint(fn, span('c', c, nc), span('b', b, nb));
    if (m === 0 || n === 0) return;
    for (let i = 0; i < batch; i++) {
      gemmBlocked(transA, transB, m, n, k, alpha, a, i * strideA, b, i * strideB, beta, c, i * strideC);
    }
  },

  addBias(rows, cols, bias, y) {
    const fn = 'addBias';
    argCount(fn, arguments.length, 4);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    f32(fn, 'bias', bias, cols, 'cols');
    f32(fn, 'y', y, mul(rows, cols), 'rows*cols');
    disjoint(fn, span('y', y, rows * cols), span('bias', bias, cols));
    if (cols === 0) return;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) y[r * cols + j] += bias[j];
  },

  colSum(rows, cols, beta, x, out) {
    const fn = 'colSum';
    argCount(fn, arguments.length, 5);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    beta = scalar(fn, 'beta', beta);
    f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
    f32(fn, 'out', out, cols, 'cols');
    disjoint(fn, span('out', out, cols), span('x', x, rows * cols));
    colSumLoop(rows, cols, beta, x, out);
  },

  gatherRows(rows, cols, srcRows, index, src, dst) {
    argCount('gatherRows', arguments.length, 6);
    gather('gatherRows', rows, cols, srcRows, index, src, dst);
  },

  gatherRowsChecked(rows, cols, srcRows, index, src, dst) {
    argCount('gatherRowsChecked', arguments.length, 6);
    gather('gatherRowsChecked', rows, cols, srcRows, index, src, dst);
    return scanNonFinite(rows * cols, dst);
  },

  shuffledRange(n, state, out) {
    const fn = 'shuffledRange';
    argCount(fn, arguments.length, 3);
    dim(fn, 'n', n);
    i32(fn, 'state', state, 4, '4');
    i32(fn, 'out', out, n, 'n');
    disjoint(fn, span('out', out, n), span('state', state, 4));
    if (state[0] === 0 && state[1] === 0 && state[2] === 0 && state[3] === 0) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected a generator state of four words, not all zero (the generator would return zeros forever), as Rng.getState() gives`);
    }
    for (let i = 0; i < n; i++) out[i] = i;
    shuffleWords(state, out, n);
  },

  argmaxRows(rows, cols, x, out) {
    const fn = 'argmaxRows';
    argCount(fn, arguments.length, 4);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    const n = rows * cols;
    f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
    i32(fn, 'out', out, rows, 'rows');
    disjoint(fn, span('out', out, rows), span('x', x, n));
    for (let i = 0; i < rows; i++) out[i] = argmaxRow(x, i * cols, cols);
  },

  scale(n, alpha, x) {
    const fn = 'scale';
    argCount(fn, arguments.length, 3);
    dim(fn, 'n', n);
    alpha = scalar(fn, 'alpha', alpha);
    f32(fn, 'x', x, n, 'n');
    for (let i = 0; i < n; i++) x[i] *= alpha;
  },

  axpy(n, alpha, x, y) {
    const fn = 'axpy';
    argCount(fn, arguments.length, 4);
    dim(fn, 'n', n);
    alpha = scalar(fn, 'alpha', alpha);
    f32(fn, 'x', x, n, 'n');
    f32(fn, 'y', y, n, 'n');
    sameOrDisjoint(fn, span('y', y, n), span('x', x, n));
    for (let i = 0; i < n; i++) y[i] += alpha * x[i];
  },

  dot(n, x, y) {
    const fn = 'dot';
    argCount(fn, arguments.length, 3);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n');
    f32(fn, 'y', y, n, 'n');
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * y[i];
    return s;
  },

  sumSquares(n, x) {
    const fn = 'sumSquares';
    argCount(fn, arguments.length, 2);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n');
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  },

  firstNonFinite(n, x) {
    const fn = 'firstNonFinite';
    argCount(fn, arguments.length, 2);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n');
    return scanNonFinite(n, x);
  },

  firstLabelOutside(n, labels, classes) {
    const fn = 'firstLabelOutside';
    argCount(fn, arguments.length, 3);
    dim(fn, 'n', n);
    i32(fn, 'labels', labels, n, 'n');
    dim(fn, 'classes', classes);
    return firstLabelOutside(labels, n, classes);
  },

  mul(n, x, y, out) {
    const fn = 'mul';
    argCount(fn, arguments.length, 4);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n'); f32(fn, 'y', y, n, 'n'); f32(fn, 'out', out, n, 'n');
    sameOrDisjoint(fn, span('out', out, n), span('x', x, n));
    sameOrDisjoint(fn, span('out', out, n), span('y', y, n));
    mulLoop(n, x, y, out);
  },

  penalty(n, l1, l2, w, grad) {
    const fn = 'penalty';
    argCount(fn, arguments.length, 5);
    dim(fn, 'n', n);
    l1 = scalarIn(fn, 'l1', l1, nonNegative, 'non-negative number');
    l2 = scalarIn(fn, 'l2', l2, nonNegative, 'non-negative number');
    f32(fn, 'w', w, n, 'n');
    f32OrNull(fn, 'grad', grad, n, 'n');
    disjoint(fn, span('grad', grad, n), span('w', w, n));
    return penaltyLoop(n, l1, l2, w, grad);
  },

  activation(act, param, n, x, y) {
    const fn = 'activation';
    argCount(fn, arguments.length, 5);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n');
    f32(fn, 'y', y, n, 'n');
    sameOrDisjoint(fn, span('y', y, n), span('x', x, n));
    const f = ACTIVATION_LIST[act].f;
    for (let i = 0; i < n; i++) y[i] = f(x[i], param);
  },

  activationBackward(act, param, n, x, y, dy, dx) {
    const fn = 'activationBackward';
    argCount(fn, arguments.length, 7);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'n', n);
    f32(fn, 'x', x, n, 'n'); f32(fn, 'y', y, n, 'n'); f32(fn, 'dy', dy, n, 'n'); f32(fn, 'dx', dx, n, 'n');
    const out = span('dx', dx, n);
    sameOrDisjoint(fn, out, span('x', x, n));
    sameOrDisjoint(fn, out, span('y', y, n));
    sameOrDisjoint(fn, out, span('dy', dy, n));
    activationBackwardLoop(act, param, n, x, y, dy, dx);
  },

  softmax(rows, cols, x, y) {
    rowwiseArgs('softmax', arguments.length, rows, cols, x, y);
    softmaxRows(rows, cols, x, y, false);
  },

  logSoftmax(rows, cols, x, y) {
    rowwiseArgs('logSoftmax', arguments.length, rows, cols, x, y);
    softmaxRows(rows, cols, x, y, true);
  },

  softmaxBackward(rows, cols, y, dy, dx) {
    rowwiseBackwardArgs('softmaxBackward', arguments.length, rows, cols, y, dy, dx);
    if (cols === 0) return;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += dy[o + j] * y[o + j];
      for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - s);
    }
  },

  logSoftmaxBackward(rows, cols, y, dy, dx) {
    rowwiseBackwardArgs('logSoftmaxBackward', arguments.length, rows, cols, y, dy, dx);
    if (cols === 0) return;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += dy[o + j];
      for (let j = 0; j < cols; j++) dx[o + j] = dy[o + j] - Math.exp(y[o + j]) * s;
    }
  },

  prelu(perUnit, rows, cols, x, a, y) {
    const fn = 'prelu';
    argCount(fn, arguments.length, 6);
    flag(fn, 'perUnit', perUnit);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    const n = rows * cols, na = perUnit ? cols : 1;
    f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
    f32(fn, 'a', a, na, perUnit ? 'cols' : '1');
    f32(fn, 'y', y, mul(rows, cols), 'rows*cols');
    sameOrDisjoint(fn, span('y', y, n), span('x', x, n));
    disjoint(fn, span('y', y, n), span('a', a, na));
    preluLoop(perUnit, rows, cols, x, a, y);
  },

  preluBackward(perUnit, rows, cols, beta, x, a, dy, da, dx) {
    const fn = 'preluBackward';
    argCount(fn, arguments.length, 9);
    flag(fn, 'perUnit', perUnit);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    beta = scalar(fn, 'beta', beta);
    const n = rows * cols, na = perUnit ? cols : 1, naFormula = perUnit ? 'cols' : '1';
    f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
    f32(fn, 'a', a, na, naFormula);
    f32(fn, 'dy', dy, mul(rows, cols), 'rows*cols');
    f32(fn, 'da', da, na, naFormula);
    f32(fn, 'dx', dx, mul(rows, cols), 'rows*cols');
    const sx = span('x', x, n), sa = span('a', a, na), sdy = span('dy', dy, n), sdx = span('dx', dx, n);
    sameOrDisjoint(fn, sdx, sdy);
    disjoint(fn, sdx, sx);
    disjoint(fn, sdx, sa);
    for (const i of [sx, sa, sdy, sdx]) disjoint(fn, span('da', da, na), i);
    preluBackwardLoop(perUnit, rows, cols, beta, x, a, dy, da, dx);
  },

  batchNormForward(training, rows, cols, eps, momentum, x, gamma, beta, runningMean, runningVar, mean, invStd, xhat, y) {
    const fn = 'batchNormForward';
    argCount(fn, arguments.length, 14);
    flag(fn, 'training', training);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    if (training && rows < 2) {
      throw rangeError(ErrorCode.ARG_RANGE,
        `${fn}: Expected more than 1 value per channel when training but received rows = ${rows}`);
    }
    eps = scalarIn(fn, 'eps', eps, positive, 'positive number');
    momentum = scalarIn(fn, 'momentum', momentum, unitInterval, 'number in [0, 1]');
    const n = rows * cols;
    f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
    f32(fn, 'gamma', gamma, cols, 'cols');
    f32(fn, 'beta', beta, cols, 'cols');
    f32(fn, 'runningMean', runningMean, cols, 'cols');
    f32(fn, 'runningVar', runningVar, cols, 'cols');
    f32(fn, 'mean', mean, cols, 'cols');
    f32(fn, 'invStd', invStd, cols, 'cols');
    f32(fn, 'xhat', xhat, mul(rows, cols), 'rows*cols');
    f32(fn, 'y', y, mul(rows, cols), 'rows*cols');
    // Every output (the running estimates included) is disjoint from every input and every other.
    const ins = [span('x', x, n), span('gamma', gamma, cols), span('beta', beta, cols)];
    const outs = [span('runningMean', runningMean, cols), span('runningVar', runningVar, cols), span('mean', mean, cols),
      span('invStd', invStd, cols), span('xhat', xhat, n), span('y', y, n)];
    outs.forEach((o, k) => {
      for (const i of ins) disjoint(fn, o, i);
      for (let j = 0; j < k; j++) disjoint(fn, o, outs[j]);
    });
    batchNormForwardLoop(training, rows, cols, eps, momentum, x, gamma, beta, runningMean, runningVar, mean, invStd, xhat, y);
  },

  batchNormBackward(training, rows, cols, beta, xhat, gamma, invStd, dy, dgamma, dbeta, dx) {
    const fn = 'batchNormBackward';
    argCount(fn, arguments.length, 11);
    flag(fn, 'training', training);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    beta = scalar(fn, 'beta', beta);
    const n = rows * cols;
    f32(fn, 'xhat', xhat, mul(rows, cols), 'rows*cols');
    f32(fn, 'gamma', gamma, cols, 'cols');
    f32(fn, 'invStd', invStd, cols, 'cols');
    f32(fn, 'dy', dy, mul(rows, cols), 'rows*cols');
    f32(fn, 'dgamma', dgamma, cols, 'cols');
    f32(fn, 'dbeta', dbeta, cols, 'cols');
    f32OrNull(fn, 'dx', dx, mul(rows, cols), 'rows*cols');
    const ins = [span('xhat', xhat, n), span('gamma', gamma, cols), span('invStd', invStd, cols), span('dy', dy, n)];
    const outs = [span('dgamma', dgamma, cols), span('dbeta', dbeta, cols), span('dx', dx, n)];
    outs.forEach((o, k) => {
      for (const i of ins) disjoint(fn, o, i);
      for (let j = 0; j < k; j++) disjoint(fn, o, outs[j]);
    });
    batchNormBackwardLoop(training, rows, cols, beta, xhat, gamma, invStd, dy, dgamma, dbeta, dx);
  },

  denseForward(act, param, batch, inDim, outDim, x, w, b, z, y) {
    const fn = 'denseForward';
    argCount(fn, arguments.length, 10);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'batch', batch); dim(fn, 'inDim', inDim); dim(fn, 'outDim', outDim);
    const nx = batch * inDim, nw = outDim * inDim, nz = batch * outDim;
    f32(fn, 'x', x, mul(batch, inDim), 'batch*inDim');
    f32(fn, 'w', w, mul(outDim, inDim), 'outDim*inDim');
    f32OrNull(fn, 'b', b, outDim, 'outDim');
    f32(fn, 'z', z, mul(batch, outDim), 'batch*outDim');
    f32(fn, 'y', y, mul(batch, outDim), 'batch*outDim');
    for (const o of [span('z', z, nz), span('y', y, nz)]) {
      disjoint(fn, o, span('x', x, nx));
      disjoint(fn, o, span('w', w, nw));
      disjoint(fn, o, span('b', b, outDim));
    }
    sameOrDisjoint(fn, span('y', y, nz), span('z', z, nz));
    if (batch === 0 || outDim === 0) return;
    gemmBlocked(false, true, batch, outDim, inDim, 1, x, 0, w, 0, 0, z, 0);
    const f = ACTIVATION_LIST[act].f;
    for (let r = 0; r < batch; r++) {
      const o = r * outDim;
      for (let j = 0; j < outDim; j++) {
        const v = b ? (z[o + j] += b[j]) : z[o + j];
        y[o + j] = f(v, param);
      }
    }
  },

  packDense(outDim, inDim, w, b, packed) {
    const fn = 'packDense';
    argCount(fn, arguments.length, 5);
    dim(fn, 'outDim', outDim); dim(fn, 'inDim', inDim);
    const nw = outDim * inDim, np = packedDenseLength(outDim, inDim);
    f32(fn, 'w', w, mul(outDim, inDim), 'outDim*inDim');
    f32OrNull(fn, 'b', b, outDim, 'outDim');
    f32(fn, 'packed', packed, mul(Math.ceil(outDim / PACK_PANEL) * PACK_PANEL, inDim + 1), 'ceil(outDim/16)*16*(inDim+1)');
    disjoint(fn, span('packed', packed, np), span('w', w, nw));
    disjoint(fn, span('packed', packed, np), span('b', b, outDim));
    const units = np / (inDim + 1);
    for (let u = 0; u < units; u++) {
      const base = Math.floor(u / PACK_PANEL) * PACK_PANEL * inDim + (u % PACK_PANEL);
      for (let k = 0; k < inDim; k++) packed[base + k * PACK_PANEL] = u < outDim ? w[u * inDim + k] : 0;
      packed[units * inDim + u] = b && u < outDim ? b[u] : 0;
    }
  },

  packedDenseForward(act, param, batch, inDim, outDim, x, packed, y) {
    const fn = 'packedDenseForward';
    argCount(fn, arguments.length, 8);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'batch', batch); dim(fn, 'inDim', inDim); dim(fn, 'outDim', outDim);
    const nx = batch * inDim, np = packedDenseLength(outDim, inDim), ny = batch * outDim;
    f32(fn, 'x', x, mul(batch, inDim), 'batch*inDim');
    f32(fn, 'packed', packed, mul(Math.ceil(outDim / PACK_PANEL) * PACK_PANEL, inDim + 1), 'ceil(outDim/16)*16*(inDim+1)');
    f32(fn, 'y', y, mul(batch, outDim), 'batch*outDim');
    disjoint(fn, span('y', y, ny), span('x', x, nx));
    disjoint(fn, span('y', y, ny), span('packed', packed, np));
    const f = ACTIVATION_LIST[act].f;
    const bias = np - np / (inDim + 1);
    // 3 rows by 4 units at a time in local accumulators (gemm.ts's kernel shape: V8 keeps them in
    // registers), each sum over k in order, as in the native kernels.
    const out = packedSums;
    for (let j = 0; j < outDim; j += 4) {
      const base = Math.floor(j / PACK_PANEL) * PACK_PANEL * inDim + (j % PACK_PANEL);
      const cols = Math.min(4, outDim - j);
      for (let r0 = 0; r0 < batch; r0 += 3) {
        const rows = Math.min(3, batch - r0);
        const x0 = r0 * inDim, x1 = rows > 1 ? x0 + inDim : x0, x2 = rows > 2 ? x1 + inDim : x0;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0, c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        for (let k = 0, o = base; k < inDim; k++, o += PACK_PANEL) {
          const w0 = packed[o], w1 = packed[o + 1], w2 = packed[o + 2], w3 = packed[o + 3];
          const a0 = x[x0 + k], a1 = x[x1 + k], a2 = x[x2 + k];
          c00 += a0 * w0; c01 += a0 * w1; c02 += a0 * w2; c03 += a0 * w3;
          c10 += a1 * w0; c11 += a1 * w1; c12 += a1 * w2; c13 += a1 * w3;
          c20 += a2 * w0; c21 += a2 * w1; c22 += a2 * w2; c23 += a2 * w3;
        }
        out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03;
        out[4] = c10; out[5] = c11; out[6] = c12; out[7] = c13;
        out[8] = c20; out[9] = c21; out[10] = c22; out[11] = c23;
        for (let i = 0; i < rows; i++) {
          const yr = (r0 + i) * outDim + j;
          for (let u = 0; u < cols; u++) {
            y[yr + u] = f(Math.fround(Math.fround(out[i * 4 + u]) + packed[bias + j + u]), param);
          }
        }
      }
    }
  },

  denseBackward(act, param, batch, inDim, outDim, beta, x, w, z, y, dy, dz, dw, db, dx) {
    const fn = 'denseBackward';
    argCount(fn, arguments.length, 15);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'batch', batch); dim(fn, 'inDim', inDim); dim(fn, 'outDim', outDim);
    beta = scalar(fn, 'beta', beta);
    const nx = batch * inDim, nw = outDim * inDim, nz = batch * outDim;
    f32(fn, 'x', x, mul(batch, inDim), 'batch*inDim');
    f32(fn, 'w', w, mul(outDim, inDim), 'outDim*inDim');
    f32(fn, 'z', z, mul(batch, outDim), 'batch*outDim');
    f32(fn, 'y', y, mul(batch, outDim), 'batch*outDim');
    f32(fn, 'dy', dy, mul(batch, outDim), 'batch*outDim');
    f32(fn, 'dz', dz, mul(batch, outDim), 'batch*outDim');
    f32(fn, 'dw', dw, mul(outDim, inDim), 'outDim*inDim');
    f32OrNull(fn, 'db', db, outDim, 'outDim');
    f32OrNull(fn, 'dx', dx, mul(batch, inDim), 'batch*inDim');
    const sx = span('x', x, nx), sw = span('w', w, nw), sz = span('z', z, nz), sy = span('y', y, nz);
    const sdy = span('dy', dy, nz), sdz = span('dz', dz, nz);
    const sdw = span('dw', dw, nw), sdb = span('db', db, outDim), sdx = span('dx', dx, nx);
    sameOrDisjoint(fn, sdz, sdy);
    for (const i of [sx, sw, sz, sy]) disjoint(fn, sdz, i);
    for (const o of [sdw, sdb, sdx]) for (const i of [sx, sw, sz, sy, sdy, sdz]) disjoint(fn, o, i);
    disjoint(fn, sdw, sdb);
    disjoint(fn, sdw, sdx);
    disjoint(fn, sdb, sdx);
    activationBackwardLoop(act, param, nz, z, y, dy, dz);
    gemmBlocked(true, false, outDim, inDim, batch, 1, dz, 0, x, 0, beta, dw, 0);
    if (db) colSumLoop(batch, outDim, beta, dz, db);
    if (dx) gemmBlocked(false, false, batch, inDim, outDim, 1, dz, 0, w, 0, 0, dx, 0);
  },

  loss(loss, param, rows, cols, pred, target, grad) {
    argCount('loss', arguments.length, 7);
    return lossCall('loss', loss, param, rows, cols, pred, target, null, grad);
  },

  lossWeighted(loss, param, rows, cols, pred, target, weight, grad) {
    argCount('lossWeighted', arguments.length, 8);
    return lossCall('lossWeighted', loss, param, rows, cols, pred, target, weight, grad);
  },

  optimizerStep(opt, n, hyper, param, grad, state) {
    const fn = 'optimizerStep';
    argCount(fn, arguments.length, 6);
    id(fn, 'opt', opt, OPTIMIZER_KERNEL_LIST.length);
    dim(fn, 'n', n);
    const kernel = OPTIMIZER_KERNEL_LIST[opt];
    const nh = kernel.hyper.length, ns = kernel.slots.length * n;
    f32(fn, 'hyper', hyper, nh, `hyper length of ${OPTIMIZER_KERNEL_NAMES[opt]}`);
    f32(fn, 'param', param, n, 'n');
    f32(fn, 'grad', grad, n, 'n');
    f32(fn, 'state', state, mul(kernel.slots.length, n), `${kernel.slots.length}*n`);
    // All four mutually disjoint: the loop reads hyper and grad while it writes param and state.
    const sh = span('hyper', hyper, nh), sp = span('param', param, n), sg = span('grad', grad, n), ss = span('state', state, ns);
    disjoint(fn, sp, sh);
    disjoint(fn, sp, sg);
    disjoint(fn, ss, sh);
    disjoint(fn, ss, sp);
    disjoint(fn, ss, sg);
    disjoint(fn, sg, sh);
    kernel.step(n, hyper, param, grad, state);
  },

  optimizerStepBlocks(opt, n, hyper, param, grad, state, nBlocks, blocks) {
    const fn = 'optimizerStepBlocks';
    argCount(fn, arguments.length, 8);
    id(fn, 'opt', opt, OPTIMIZER_KERNEL_LIST.length);
    dim(fn, 'n', n);
    const kernel = OPTIMIZER_KERNEL_LIST[opt];
    const nh = kernel.hyper.length, ns = kernel.slots.length * n;
    f32(fn, 'hyper', hyper, nh, `hyper length of ${OPTIMIZER_KERNEL_NAMES[opt]}`);
    f32(fn, 'param', param, n, 'n');
    f32(fn, 'grad', grad, n, 'n');
    f32(fn, 'state', state, mul(kernel.slots.length, n), `${kernel.slots.length}*n`);
    dim(fn, 'nBlocks', nBlocks);
    i32(fn, 'blocks', blocks, mul(2, nBlocks), '2*nBlocks');
    const sh = span('hyper', hyper, nh), sp = span('param', param, n), sg = span('grad', grad, n), ss = span('state', state, ns);
    disjoint(fn, sp, sh);
    disjoint(fn, sp, sg);
    disjoint(fn, ss, sh);
    disjoint(fn, ss, sp);
    disjoint(fn, ss, sg);
    disjoint(fn, sg, sh);
    checkBlocks(fn, n, nBlocks, blocks);
    // One thread: the blocks change nothing here.
    kernel.step(n, hyper, param, grad, state);
  },

  clamp(n, lo, hi, x) {
    const fn = 'clamp';
    argCount(fn, arguments.length, 4);
    dim(fn, 'n', n);
    lo = scalar(fn, 'lo', lo);
    hi = scalar(fn, 'hi', hi);
    if (!(lo <= hi)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected lo <= hi but received lo = ${lo} and hi = ${hi}`);
    }
    f32(fn, 'x', x, n, 'n');
    // Comparisons rather than Math.min/max, which would replace a NaN by a bound.
    for (let i = 0; i < n; i++) {
      const v = x[i];
      x[i] = v < lo ? lo : v > hi ? hi : v;
    }
  },

  maxNormRows(rows, cols, maxNorm, w) {
    const fn = 'maxNormRows';
    argCount(fn, arguments.length, 4);
    dim(fn, 'rows', rows);
    dim(fn, 'cols', cols);
    maxNorm = scalarIn(fn, 'maxNorm', maxNorm, (v) => v > 0, 'positive number');
    f32(fn, 'w', w, mul(rows, cols), 'rows*cols');
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += w[o + j] * w[o + j];
      const norm = Math.sqrt(s);
      if (norm > maxNorm) {
        const f = Math.fround(maxNorm / (norm + 1e-7));
        for (let j = 0; j < cols; j++) w[o + j] *= f;
      }
    }
  },

  setNumThreads(n) {
    argCount('setNumThreads', arguments.length, 1);
    dim('setNumThreads', 'n', n);
    if (n < 1 || n > 1024) {
      throw rangeError(ErrorCode.ARG_RANGE, `setNumThreads: Expected thread count in [1, 1024] but received ${n}`);
    }
  },

  getNumThreads() {
    return 1;
  },

  setThreadLimit(n) {
    argCount('setThreadLimit', arguments.length, 1);
    dim('setThreadLimit', 'n', n);
    if (n > 1024) {
      throw rangeError(ErrorCode.ARG_RANGE, `setThreadLimit: Expected thread limit in [0, 1024] but received ${n}`);
    }
    const previous = jsThreadLimit;
    jsThreadLimit = n;
    return previous;
  },

  info(): BackendInfo {
    return { backend: 'js', library: 'none', config: 'pure TypeScript', coreName: 'none', kernelIsa: 'none', kernelIsaSupported: 'none', writeAhead: false, packedForward: false, numThreads: 1, numProcs: os.availableParallelism() };
  },
};

function rowwiseArgs(fn: string, count: number, rows: number, cols: number, x: Float32Array, y: Float32Array): void {
  argCount(fn, count, 4);
  dim(fn, 'rows', rows); dim(fn, 'cols', cols);
  const n = rows * cols;
  f32(fn, 'x', x, mul(rows, cols), 'rows*cols');
  f32(fn, 'y', y, mul(rows, cols), 'rows*cols');
  sameOrDisjoint(fn, span('y', y, n), span('x', x, n));
}

function rowwiseBackwardArgs(fn: string, count: number, rows: number, cols: number, y: Float32Array,
  dy: Float32Array, dx: Float32Array): void {
  argCount(fn, count, 5);
  dim(fn, 'rows', rows); dim(fn, 'cols', cols);
  const n = rows * cols;
  f32(fn, 'y', y, mul(rows, cols), 'rows*cols');
  f32(fn, 'dy', dy, mul(rows, cols), 'rows*cols');
  f32(fn, 'dx', dx, mul(rows, cols), 'rows*cols');
  sameOrDisjoint(fn, span('dx', dx, n), span('y', y, n));
  sameOrDisjoint(fn, span('dx', dx, n), span('dy', dy, n));
}
