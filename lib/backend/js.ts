/**
 * The js backend: the reference implementation of every kernel, in plain TypeScript. It checks
 * its arguments exactly as the native binding does, computes in float64 and stores float32.
 */
import * as os from 'os';
import { ACTIVATION_LIST } from '../activations';
import { LOSS_LIST, LOSS_NAMES } from '../losses';
import { argCount, dim, disjoint, f32, f32OrNull, flag, i32, id, sameOrDisjoint, scalar, Span } from './check';
import { gemmBlocked } from './gemm';
import type { Backend, BackendInfo } from './types';
import { ErrorCode, rangeError } from '../errors';
import { isInt32Array } from '../typed';

const span = (name: string, a: Float32Array | Int32Array | null, used: number): Span => ({ name, a, used });

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
      const lse = m + Math.log(s);
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j] - lse;
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

export const jsBackend: Backend = {
  name: 'js',

  gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
    const fn = 'gemm';
    argCount(fn, arguments.length, 10);
    flag(fn, 'transA', transA); flag(fn, 'transB', transB);
    dim(fn, 'm', m); dim(fn, 'n', n); dim(fn, 'k', k);
    alpha = scalar(fn, 'alpha', alpha);
    f32(fn, 'a', a, m * k, 'm*k');
    f32(fn, 'b', b, k * n, 'k*n');
    beta = scalar(fn, 'beta', beta);
    f32(fn, 'c', c, m * n, 'm*n');
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
    const extent = (stride: number, size: number) => (batch === 0 ? 0 : (batch - 1) * stride + size);
    const na = extent(strideA, m * k), nb = extent(strideB, k * n), nc = extent(strideC, m * n);
    f32(fn, 'a', a, na, '(batch-1)*strideA + m*k');
    f32(fn, 'b', b, nb, '(batch-1)*strideB + k*n');
    f32(fn, 'c', c, nc, '(batch-1)*strideC + m*n');
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
    f32(fn, 'y', y, rows * cols, 'rows*cols');
    disjoint(fn, span('y', y, rows * cols), span('bias', bias, cols));
    if (cols === 0) return;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) y[r * cols + j] += bias[j];
  },

  colSum(rows, cols, beta, x, out) {
    const fn = 'colSum';
    argCount(fn, arguments.length, 5);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    beta = scalar(fn, 'beta', beta);
    f32(fn, 'x', x, rows * cols, 'rows*cols');
    f32(fn, 'out', out, cols, 'cols');
    disjoint(fn, span('out', out, cols), span('x', x, rows * cols));
    colSumLoop(rows, cols, beta, x, out);
  },

  gatherRows(rows, cols, srcRows, index, src, dst) {
    const fn = 'gatherRows';
    argCount(fn, arguments.length, 6);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols); dim(fn, 'srcRows', srcRows);
    i32(fn, 'index', index, rows, 'rows');
    f32(fn, 'src', src, srcRows * cols, 'srcRows*cols');
    f32(fn, 'dst', dst, rows * cols, 'rows*cols');
    disjoint(fn, span('dst', dst, rows * cols), span('src', src, srcRows * cols));
    disjoint(fn, span('dst', dst, rows * cols), span('index', index, rows));
    for (let r = 0; r < rows; r++) {
      if (index[r] < 0 || index[r] >= srcRows) {
        throw rangeError(ErrorCode.INDEX, `${fn}: index[${r}] = ${index[r]} is outside [0, ${srcRows})`);
      }
    }
    for (let r = 0; r < rows; r++) {
      const s = index[r] * cols, d = r * cols;
      for (let j = 0; j < cols; j++) dst[d + j] = src[s + j];
    }
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

  denseForward(act, param, batch, inDim, outDim, x, w, b, z, y) {
    const fn = 'denseForward';
    argCount(fn, arguments.length, 10);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'batch', batch); dim(fn, 'inDim', inDim); dim(fn, 'outDim', outDim);
    const nx = batch * inDim, nw = outDim * inDim, nz = batch * outDim;
    f32(fn, 'x', x, nx, 'batch*inDim');
    f32(fn, 'w', w, nw, 'outDim*inDim');
    f32OrNull(fn, 'b', b, outDim, 'outDim');
    f32(fn, 'z', z, nz, 'batch*outDim');
    f32(fn, 'y', y, nz, 'batch*outDim');
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

  denseBackward(act, param, batch, inDim, outDim, beta, x, w, z, y, dy, dz, dw, db, dx) {
    const fn = 'denseBackward';
    argCount(fn, arguments.length, 15);
    id(fn, 'activation', act, ACTIVATION_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'batch', batch); dim(fn, 'inDim', inDim); dim(fn, 'outDim', outDim);
    beta = scalar(fn, 'beta', beta);
    const nx = batch * inDim, nw = outDim * inDim, nz = batch * outDim;
    f32(fn, 'x', x, nx, 'batch*inDim');
    f32(fn, 'w', w, nw, 'outDim*inDim');
    f32(fn, 'z', z, nz, 'batch*outDim');
    f32(fn, 'y', y, nz, 'batch*outDim');
    f32(fn, 'dy', dy, nz, 'batch*outDim');
    f32(fn, 'dz', dz, nz, 'batch*outDim');
    f32(fn, 'dw', dw, nw, 'outDim*inDim');
    f32OrNull(fn, 'db', db, outDim, 'outDim');
    f32OrNull(fn, 'dx', dx, nx, 'batch*inDim');
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
    const fn = 'loss';
    argCount(fn, arguments.length, 7);
    id(fn, 'loss', loss, LOSS_LIST.length);
    param = scalar(fn, 'param', param);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    const def = LOSS_LIST[loss];
    const np = rows * cols;
    f32(fn, 'pred', pred, np, 'rows*cols');
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
      f32(fn, 'target', target, nt, 'rows*cols/2');
    } else {
      nt = np;
      f32(fn, 'target', target, nt, 'rows*cols');
    }
    f32OrNull(fn, 'grad', grad, np, 'rows*cols');
    disjoint(fn, span('grad', grad, np), span('pred', pred, np));
    disjoint(fn, span('grad', grad, np), span('target', target, nt));
    return def.compute(param, rows, cols, pred, target, grad);
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

  info(): BackendInfo {
    return { backend: 'js', library: 'none', config: 'pure TypeScript', coreName: 'none', numThreads: 1, numProcs: os.availableParallelism() };
  },
};

function rowwiseArgs(fn: string, count: number, rows: number, cols: number, x: Float32Array, y: Float32Array): void {
  argCount(fn, count, 4);
  dim(fn, 'rows', rows); dim(fn, 'cols', cols);
  const n = rows * cols;
  f32(fn, 'x', x, n, 'rows*cols');
  f32(fn, 'y', y, n, 'rows*cols');
  sameOrDisjoint(fn, span('y', y, n), span('x', x, n));
}

function rowwiseBackwardArgs(fn: string, count: number, rows: number, cols: number, y: Float32Array,
  dy: Float32Array, dx: Float32Array): void {
  argCount(fn, count, 5);
  dim(fn, 'rows', rows); dim(fn, 'cols', cols);
  const n = rows * cols;
  f32(fn, 'y', y, n, 'rows*cols');
  f32(fn, 'dy', dy, n, 'rows*cols');
  f32(fn, 'dx', dx, n, 'rows*cols');
  sameOrDisjoint(fn, span('dx', dx, n), span('y', y, n));
  sameOrDisjoint(fn, span('dx', dx, n), span('dy', dy, n));
}
