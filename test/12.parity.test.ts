/**
 * Native vs js: every kernel on seeded random data, compared by normalised error
 * ||native - js|| / ||js||. The js backend is the reference.
 */
import { strict as assert } from 'assert';
import { ACTIVATION_NAMES, ACTIVATIONS, activationId, getBackend, jsBackend, LOSS_NAMES, LOSSES, lossId, nativeAvailable, Rng } from '../lib';
import type { Backend } from '../lib';
import { normError, requireNative, sameValues } from './helpers';
import { validHyper } from './cases/errors';
import { OPTIMIZER_KERNEL_NAMES, OPTIMIZER_KERNELS } from '../lib';

const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 7, 3], [5, 1, 9], [7, 5, 3], [33, 17, 65], [128, 10, 128], [64, 256, 300]];
const TOL = 2e-6;

function both(setup: () => Float32Array[], run: (b: Backend, arrays: Float32Array[]) => void, outputs: number[], tol = TOL): void {
  const native = getBackend('native');
  const a = setup();
  const b = a.map((x) => x.slice());
  run(jsBackend, a);
  run(native, b);
  for (const i of outputs) {
    const e = normError(b[i], a[i]);
    assert.ok(e <= tol, `output ${i}: normalised error ${e.toExponential(2)} > ${tol}`);
    for (let j = 0; j < a[i].length; j++) {
      assert.equal(Number.isNaN(a[i][j]), Number.isNaN(b[i][j]), `output ${i}[${j}]: NaN on one backend only`);
    }
  }
}

/** How many special values the optimizer parity test plants at the start of each slot. */
const PLANTED = 6;
const OPTIMIZER_TOL = 1e-6;

/**
 * Native (float32 arithmetic) against js (float64) after optimizer steps: every non-finite value
 * the same on both sides, and finite values within OPTIMIZER_TOL normalised error, per slot of
 * `n` values, over the first `planted` elements of the slot and over the rest separately.
 */
function optimizerClose(a: Float32Array, b: Float32Array, n: number, planted: number, what: string): void {
  for (let i = 0; i < b.length; i++) {
    if ((!Number.isFinite(a[i]) || !Number.isFinite(b[i])) && !Object.is(a[i], b[i])) {
      assert.fail(`${what}[${i}]: native ${a[i]}, js ${b[i]}`);
    }
  }
  for (let slot = 0; slot * n < b.length; slot++) {
    for (const [lo, hi] of [[0, planted], [planted, n]]) {
      let num = 0, den = 0;
      for (let i = slot * n + lo; i < slot * n + hi; i++) {
        if (!Number.isFinite(b[i])) continue;
        num += (a[i] - b[i]) ** 2;
        den += b[i] ** 2;
      }
      const e = den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
      assert.ok(e <= OPTIMIZER_TOL, `${what}, slot ${slot} [${lo}, ${hi}): normalised error ${e.toExponential(2)} > ${OPTIMIZER_TOL}`);
    }
  }
}

(nativeAvailable() || requireNative ? describe : describe.skip)('native vs js parity', () => {
  const rng = new Rng(2024);

  for (const [m, n, k] of SHAPES) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`gemm ${m}x${n}x${k}${ta ? ' transA' : ''}${tb ? ' transB' : ''}`, () => {
        both(() => [rng.uniformArray(m * k), rng.uniformArray(k * n), rng.uniformArray(m * n)],
          (b, [a, bb, c]) => b.gemm(ta, tb, m, n, k, 0.7, a, bb, 0.3, c), [2]);
      });
    }
  }

  it('gemmBatched 6 x (9x11x13), transB', () => {
    both(() => [rng.uniformArray(6 * 9 * 13), rng.uniformArray(6 * 11 * 13), rng.uniformArray(6 * 9 * 11)],
      (b, [a, bb, c]) => b.gemmBatched(false, true, 9, 11, 13, 6, 1, a, 9 * 13, bb, 11 * 13, 0, c, 9 * 11), [2]);
  });

  it('row operations', () => {
    const rows = 37, cols = 19;
    both(() => [rng.uniformArray(cols), rng.uniformArray(rows * cols), rng.uniformArray(cols), rng.uniformArray(rows * cols)],
      (b, [bias, y, out, x]) => {
        b.addBias(rows, cols, bias, y);
        b.colSum(rows, cols, 0.5, x, out);
        b.scale(rows * cols, -1.5, x);
        b.axpy(cols, 0.25, bias, out);
      }, [1, 2, 3]);
    const x = rng.uniformArray(1001), y = rng.uniformArray(1001);
    const native = getBackend('native');
    assert.ok(Math.abs(native.dot(1001, x, y) - jsBackend.dot(1001, x, y)) < 1e-9);
    assert.ok(Math.abs(native.sumSquares(1001, x) - jsBackend.sumSquares(1001, x)) < 1e-9);
    const index = Int32Array.from({ length: 50 }, () => rng.int(rows));
    both(() => [rng.uniformArray(rows * cols), new Float32Array(50 * cols)],
      (b, [src, dst]) => b.gatherRows(50, cols, rows, index, src, dst), [1], 0);
  });

  it('mul and penalty', () => {
    const n = 1001;
    both(() => [rng.uniformArray(n, -3, 3), rng.uniformArray(n, -3, 3), new Float32Array(n)],
      (b, [x, y, out]) => {
        b.mul(n, x, y, out);
        b.mul(n, out, y, y);
      }, [1, 2], 0);
    const w = rng.uniformArray(n, -3, 3);
    w[0] = 0; w[1] = NaN;
    let vj = 0, vn = 0;
    for (const [l1, l2] of [[0.01, 0.001], [0.7, 0], [0, 2.5]]) {
      both(() => [w.subarray(2), rng.uniformArray(n - 2)], (b, [ww, g]) => {
        const v = b.penalty(n - 2, l1, l2, ww, g);
        if (b.name === 'js') vj = v; else vn = v;
      }, [1], 1e-6);
      assert.ok(Math.abs(vn - vj) <= 1e-12 * Math.abs(vj), `value ${vn} vs ${vj}`);
      both(() => [w.slice(), rng.uniformArray(n)], (b, [ww, g]) => {
        b.penalty(n, l1, l2, ww, g);
      }, [1], 1e-6);
    }
  });

  for (const [rows, cols] of [[2, 1], [37, 19], [129, 33]] as const) {
    for (const training of [true, false]) {
      it(`batch norm ${rows}x${cols} (${training ? 'training' : 'eval'}), forward and backward`, () => {
        const n = rows * cols;
        both(() => {
          const x = rng.uniformArray(n, -3, 3);
          // Column 0 has a large mean next to its spread; column 1 (if any) is constant.
          for (let r = 0; r < rows; r++) x[r * cols] = 100 + 0.01 * x[r * cols];
          if (cols > 1) for (let r = 0; r < rows; r++) x[r * cols + 1] = 2.5;
          return [x, rng.uniformArray(cols, 0.5, 2), rng.uniformArray(cols), rng.uniformArray(cols), rng.uniformArray(cols, 0.5, 2),
            new Float32Array(cols), new Float32Array(cols), new Float32Array(n), new Float32Array(n),
            rng.uniformArray(n), rng.uniformArray(cols), rng.uniformArray(cols), new Float32Array(n)];
        }, (b, [x, gamma, beta, rm, rv, mean, invStd, xhat, y, dy, dgamma, dbeta, dx]) => {
          b.batchNormForward(training, rows, cols, 1e-5, 0.1, x, gamma, beta, rm, rv, mean, invStd, xhat, y);
          b.batchNormBackward(training, rows, cols, 1, xhat, gamma, invStd, dy, dgamma, dbeta, dx);
        }, [3, 4, 5, 6, 7, 8, 10, 11, 12], 1e-5);
      });
    }
  }

  for (const perUnit of [true, false]) {
    it(`prelu ${perUnit ? 'per unit' : 'with a shared slope'} 37x19, forward and backward`, () => {
      const rows = 37, cols = 19, n = rows * cols, na = perUnit ? cols : 1;
      const x = rng.uniformArray(n, -4, 4);
      x[0] = 0; x[1] = -0; x[2] = 1e30; x[3] = -1e30;
      // NaN only per unit, where it spoils one column of da instead of all of it.
      if (perUnit) x[4] = NaN;
      both(() => [x, rng.uniformArray(na, -0.5, 0.5), new Float32Array(n), rng.uniformArray(n), rng.uniformArray(na), new Float32Array(n)],
        (b, [xx, a, y, dy, da, dx]) => {
          b.prelu(perUnit, rows, cols, xx, a, y);
          b.preluBackward(perUnit, rows, cols, 0.5, xx, a, dy, da, dx);
          b.preluBackward(perUnit, rows, cols, 1, xx, a, dy, da, dy);
        }, [2, 3, 4, 5], 1e-5);
    });
  }

  for (const name of ACTIVATION_NAMES) {
    it(`activation ${name}, forward and backward`, () => {
      const id = activationId(name);
      const p = ACTIVATIONS[name].param;
      const n = 4099;
      const x = rng.uniformArray(n, -8, 8);
      x[0] = 1e4; x[1] = -1e4; x[2] = 88.7; x[3] = -88.7; x[4] = 0; x[5] = NaN;
      both(() => [x, new Float32Array(n), rng.uniformArray(n), new Float32Array(n)],
        (b, [xx, y, dy, dx]) => {
          b.activation(id, p, n, xx, y);
          b.activationBackward(id, p, n, xx, y, dy, dx);
        }, [1, 3], 1e-5);
    });
  }

  it('softmax, logSoftmax and their backward passes', () => {
    const rows = 33, cols = 10, m = rows * cols;
    both(() => [rng.uniformArray(m, -30, 30), new Float32Array(m), new Float32Array(m), rng.uniformArray(m), new Float32Array(m), new Float32Array(m)],
      (b, [x, s, ls, dy, ds, dls]) => {
        b.softmax(rows, cols, x, s);
        b.logSoftmax(rows, cols, x, ls);
        b.softmaxBackward(rows, cols, s, dy, ds);
        b.logSoftmaxBackward(rows, cols, ls, dy, dls);
      }, [1, 2, 4, 5], 1e-5);
  });

  it('softmax, logSoftmax and the cross-entropy loss on rows wider than the native exponentials\' 1024-float buffer, in place', () => {
    const rows = 3, cols = 1500, m = rows * cols;
    const labels = Int32Array.from({ length: rows }, () => rng.int(cols)), dist = rng.uniformArray(m, 0, 1);
    const values: Record<string, number[]> = {};
    both(() => [rng.uniformArray(m, -30, 30), new Float32Array(m), new Float32Array(m), new Float32Array(m)],
      (b, [x, s, g, gd]) => {
        values[b.name] = [b.loss(lossId('crossEntropy'), 0, rows, cols, x, labels, g), b.loss(lossId('crossEntropy'), 0, rows, cols, x, dist, gd)];
        s.set(x);
        b.softmax(rows, cols, s, s);
        b.logSoftmax(rows, cols, x, x);
      }, [0, 1, 2, 3]);
    const [n, j] = [values.native, values.js];
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(n[i] - j[i]) <= 1e-6 * Math.abs(j[i]), `value ${n[i]} vs ${j[i]}`);
  });

  for (const name of ['relu', 'tanh', 'gelu'] as const) {
    it(`dense forward and backward (${name}), 67x129 -> 33`, () => {
      const batch = 67, inDim = 129, outDim = 33, id = activationId(name);
      both(() => [rng.uniformArray(batch * inDim), rng.uniformArray(outDim * inDim), rng.uniformArray(outDim),
        new Float32Array(batch * outDim), new Float32Array(batch * outDim), rng.uniformArray(batch * outDim),
        new Float32Array(batch * outDim), rng.uniformArray(outDim * inDim), new Float32Array(outDim), new Float32Array(batch * inDim)],
      (b, [x, w, bias, z, y, dy, dz, dw, db, dx]) => {
        b.denseForward(id, 0, batch, inDim, outDim, x, w, bias, z, y);
        b.denseBackward(id, 0, batch, inDim, outDim, 1, x, w, z, y, dy, dz, dw, db, dx);
      }, [3, 4, 6, 7, 8, 9], 1e-5);
    });
  }

  // The packed inference kernels (native/packed.cc) against js, on shapes that leave ragged tiles
  // and panels (width not a multiple of 16, odd depth, a depth of zero, single rows), every
  // activation, NaN and infinities in x; and against the native denseForward (OpenBLAS) itself.
  const PACKED_SHAPES: [number, number, number][] = [[1, 1, 1], [1, 784, 256], [7, 13, 17], [7, 1, 33], [13, 300, 47],
    [12, 256, 32], [1000, 129, 10], [25, 515, 64], [3, 0, 5], [2, 9, 100], [13, 1100, 37], [3, 2100, 20]];
  for (const name of ACTIVATION_NAMES) {
    it(`packed dense forward (${name}): packing, js and denseForward`, () => {
      const id = activationId(name), param = ACTIVATIONS[name].param;
      for (const [batch, inDim, outDim] of PACKED_SHAPES) {
        const len = Math.ceil(outDim / 16) * 16 * (inDim + 1);
        const x = rng.uniformArray(batch * inDim, -2, 2);
        const w = rng.uniformArray(outDim * inDim), bias = batch % 2 === 0 ? null : rng.uniformArray(outDim);
        both(() => [new Float32Array(len), new Float32Array(batch * outDim)], (b, [packed, y]) => {
          b.packDense(outDim, inDim, w, bias, packed);
          b.packedDenseForward(id, param, batch, inDim, outDim, x, packed, y);
        }, [0, 1], 1e-5);
        if (batch > 1 && inDim > 1) {
          // NaN in the first row, -Infinity in the second: NaN and infinities where js has them, the rest close.
          const bad = x.slice();
          [bad[0], bad[inDim + 1]] = [NaN, -Infinity];
          const outs = [jsBackend, getBackend('native')].map((b) => {
            const packed = new Float32Array(len), y = new Float32Array(batch * outDim);
            b.packDense(outDim, inDim, w, bias, packed);
            b.packedDenseForward(id, param, batch, inDim, outDim, bad, packed, y);
            return y;
          });
          const finite: [number[], number[]] = [[], []];
          for (let i = 0; i < outs[0].length; i++) {
            const [js, nat] = [outs[0][i], outs[1][i]];
            if (Number.isFinite(js) && Number.isFinite(nat)) {
              finite[0].push(js);
              finite[1].push(nat);
            } else {
              assert.ok(Object.is(nat, js), `with NaN and -Infinity, y[${i}]: native ${nat}, js ${js}`);
            }
          }
          assert.ok(normError(finite[1], finite[0]) <= 1e-5, 'with NaN and -Infinity, the finite outputs');
        }
        const native = getBackend('native');
        const packed = new Float32Array(len), y = new Float32Array(batch * outDim);
        const z = new Float32Array(batch * outDim), ref = new Float32Array(batch * outDim);
        native.packDense(outDim, inDim, w, bias, packed);
        native.packedDenseForward(id, param, batch, inDim, outDim, x, packed, y);
        native.denseForward(id, param, batch, inDim, outDim, x, w, bias, z, ref);
        const e = normError(y, ref);
        assert.ok(e <= 1e-5, `${batch}x${inDim}->${outDim}: normalised error ${e} from denseForward`);
      }
    });
  }

  // native/optimizers.cc does the js twin's operations in the same order, but in float32 where the
  // js backend (the reference) computes in float64, so the two agree to float32 rounding rather
  // than bit for bit (they did before native moved to float arithmetic for speed). The bit-for-bit
  // check therefore became: every non-finite value (NaN, ±Infinity) the same on both sides, and the
  // finite values within a normalised error of 1e-6 — per state slot, and separately over the six
  // planted special elements and over the rest, so that the 1e29-sized values the 1e30 gradient
  // leaves cannot hide an error elsewhere. Float32 rounding over 3 steps gives at most ~3e-7.
  OPTIMIZER_KERNEL_NAMES.forEach((name, id) => {
    it(`optimizerStep ${name}: 12 random layouts (flags included), 3 steps each, within float32 rounding`, () => {
      const n = 1001, slots = OPTIMIZER_KERNELS[name].slots.length;
      for (let trial = 0; trial < 12; trial++) {
        const hyper = validHyper(rng, id);
        // Every third layout without weight decay, which takes another path in the kernels.
        const wd = (OPTIMIZER_KERNELS[name].hyper as readonly string[]).indexOf('weightDecay');
        if (trial % 3 === 0) hyper[wd] = 0;
        if (name === 'sgd' && trial % 4 === 1) hyper[1] = 0;
        const p = rng.uniformArray(n, -3, 3), g = rng.uniformArray(3 * n, -2, 2), s = rng.uniformArray(slots * n, 0, 1);
        p[0] = 0; g[1] = 0; g[2] = 1e30; g[3] = -1e-30;
        if (trial === 11) { g[4] = NaN; g[5] = Infinity; }
        const [pj, sj, pn, sn] = [p.slice(), s.slice(), p.slice(), s.slice()];
        for (let k = 0; k < 3; k++) {
          const gk = g.subarray(k * n, (k + 1) * n);
          jsBackend.optimizerStep(id, n, hyper, pj, gk, sj);
          getBackend('native').optimizerStep(id, n, hyper, pn, gk, sn);
        }
        optimizerClose(pn, pj, n, PLANTED, `trial ${trial}: param`);
        optimizerClose(sn, sj, n, PLANTED, `trial ${trial}: state`);
      }
    });
  });

  it('clamp, bit for bit', () => {
    const n = 1001;
    const x = rng.uniformArray(n, -3, 3);
    x[0] = NaN; x[1] = Infinity; x[2] = -Infinity; x[3] = -0;
    const xj = x.slice(), xn = x.slice();
    jsBackend.clamp(n, -1.5, 0.75, xj);
    getBackend('native').clamp(n, -1.5, 0.75, xn);
    sameValues(xn, xj, 'x');
  });

  for (const name of LOSS_NAMES) {
    it(`loss ${name}`, () => {
      const def = LOSSES[name];
      const rows = 129, cols = name === 'gaussianNll' ? 12 : 11;
      const pred = rng.uniformArray(rows * cols, -5, 5);
      pred[0] = 1e4; pred[1] = -1e4; pred[2] = 88.7;
      let target: Float32Array | Int32Array;
      if (def.targets.labels) target = Int32Array.from({ length: rows }, () => rng.int(cols));
      else if (def.targets.half) {
        target = rng.uniformArray(rows * cols / 2);
        for (let r = 0; r < rows; r++) for (let j = cols / 2; j < cols; j++) pred[r * cols + j] = Math.abs(pred[r * cols + j]);
      } else if (name === 'hinge') target = Float32Array.from({ length: rows * cols }, () => (rng.uniform() < 0.5 ? -1 : 1));
      else if (name === 'binaryCrossEntropy') target = rng.uniformArray(rows * cols, 0, 1);
      else target = rng.uniformArray(rows * cols, -5, 5);
      const id = lossId(name);
      let vj = 0, vn = 0;
      both(() => [pred, new Float32Array(rows * cols)], (b, [p, g]) => {
        const v = b.loss(id, def.param, rows, cols, p, target, g);
        if (b.name === 'js') vj = v; else vn = v;
      }, [1], 1e-6);
      assert.ok(Number.isFinite(vj) && Math.abs(vn - vj) <= 1e-6 * Math.abs(vj), `value ${vn} vs ${vj}`);
    });
  }

  it('a NaN prediction makes the loss NaN on both backends, as in PyTorch: hinge at a NaN margin, gaussianNll at a NaN variance', () => {
    const hinge = Float32Array.of(0.5, NaN, -0.25, 2);
    const nll = Float32Array.of(0.3, 1, NaN, 2); // one row: means [0.3, 1], variances [NaN, 2]
    for (const n of ['js', 'native'] as const) {
      const b = getBackend(n);
      const g = new Float32Array(4);
      assert.ok(Number.isNaN(b.loss(lossId('hinge'), 0, 1, 4, hinge, Float32Array.of(1, 1, -1, 1), g)), `${n} hinge`);
      assert.deepEqual(Array.from(g), [-0.25, 0, 0.25, 0], `${n} hinge gradient (0 where the margin is NaN, as clamp's)`);
      const loss = b.loss(lossId('gaussianNll'), LOSSES.gaussianNll.param, 1, 4, nll, Float32Array.of(0, 0), g);
      assert.ok(Number.isNaN(loss), `${n} gaussianNll: ${loss}`);
      assert.ok(Number.isNaN(g[0]) && Number.isNaN(g[2]), `${n} gaussianNll gradient ${Array.from(g)}`);
    }
  });

  it('dense-target losses give one gradient at a NaN prediction and at p = t on both backends', () => {
    for (const name of LOSS_NAMES) {
      const def = LOSSES[name];
      if (def.targets.labels || def.targets.half || name === 'hinge' || name === 'binaryCrossEntropy') continue;
      const rows = 4, cols = 3;
      const pred = rng.uniformArray(rows * cols, -2, 2);
      const target = rng.uniformArray(rows * cols, -2, 2);
      pred[0] = NaN;
      pred[4] = target[4];
      const grads = ['js', 'native'].map((n) => {
        const g = new Float32Array(rows * cols);
        getBackend(n as 'js' | 'native').loss(lossId(name), def.param, rows, cols, pred, target, g);
        return g;
      });
      for (let i = 0; i < rows * cols; i++) {
        const [j, n] = [grads[0][i], grads[1][i]];
        assert.ok(Object.is(j, n) || (i !== 0 && i !== 4 && Math.abs(j - n) <= 1e-6 * Math.max(1, Math.abs(j))), `${name} gradient [${i}]: js ${j}, native ${n}`);
      }
    }
  });
});

/**
 * The native backend cuts large GEMMs, optimiser steps, gathers and scans into pieces over its
 * threads. Elementwise kernels give the same bits at any thread count. A GEMM block may round
 * differently from the whole product (OpenBLAS blocks by shape), so GEMMs are held to the js
 * reference at every thread count and to the same bits on a repeat at the same count.
 */
(nativeAvailable() || requireNative ? describe : describe.skip)('native kernels cut over threads', () => {
  const rng = new Rng(77);
  const native = (): Backend => getBackend('native');
  let threads = 1;
  before(() => { threads = native().getNumThreads(); });
  after(() => { native().setNumThreads(threads); });

  /** Runs `fn` on fresh copies of `inputs` at 1 thread and at each count in `counts`; returns the 1-thread result. */
  function sameAcrossThreads(inputs: Float32Array[], fn: (b: Backend, arrays: Float32Array[]) => void, outputs: number[]): Float32Array[] {
    const b = native();
    b.setNumThreads(1);
    const one = inputs.map((x) => x.slice());
    fn(b, one);
    for (const t of [2, 3, 4]) {
      b.setNumThreads(t);
      const many = inputs.map((x) => x.slice());
      fn(b, many);
      for (const i of outputs) sameValues(many[i], one[i], `${t} threads, output ${i}`);
    }
    return one;
  }

  // Shapes wider than tall (cut by columns), taller than wide (cut by rows), odd sizes; with a
  // short side and over 1e6 multiply-adds (a small batch: cut into pieces for OpenBLAS's small
  // kernels where it has them), in whole and ragged pieces; with a short K (a weight gradient at
  // a small batch: cut by rows up to K = 128, into small-kernel pieces up to K = 32 while C is
  // small, [600, 500, 32] just past that).
  for (const [m, n, k] of [[32, 256, 784], [256, 784, 32], [1000, 40, 300], [97, 1003, 129], [16, 256, 784], [13, 1003, 129], [1000, 7, 300],
    [256, 784, 128], [300, 700, 20], [600, 500, 32]] as const) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`gemm ${m}x${n}x${k}${ta ? ' transA' : ''}${tb ? ' transB' : ''}: close to js at 1-4 threads, repeatable`, () => {
        const a = rng.uniformArray(m * k), bm = rng.uniformArray(k * n), c0 = rng.uniformArray(m * n);
        const ref = c0.slice();
        jsBackend.gemm(ta, tb, m, n, k, 0.7, a, bm, 0.3, ref);
        const b = native();
        for (const t of [1, 2, 3, 4]) {
          b.setNumThreads(t);
          const c = c0.slice(), again = c0.slice();
          b.gemm(ta, tb, m, n, k, 0.7, a, bm, 0.3, c);
          b.gemm(ta, tb, m, n, k, 0.7, a, bm, 0.3, again);
          assert.ok(normError(c, ref) <= TOL, `${t} threads: normalised error ${normError(c, ref)}`);
          sameValues(again, c, `${t} threads, repeated`);
        }
        // beta = 0 overwrites C without reading it (the training step's form), NaN included.
        const ref0 = new Float32Array(m * n);
        jsBackend.gemm(ta, tb, m, n, k, 1, a, bm, 0, ref0);
        for (const t of [1, 2]) {
          b.setNumThreads(t);
          const c = new Float32Array(m * n).fill(NaN);
          b.gemm(ta, tb, m, n, k, 1, a, bm, 0, c);
          assert.ok(normError(c, ref0) <= TOL, `beta 0, ${t} threads: normalised error ${normError(c, ref0)}`);
        }
      });
    }
  }

  for (const name of OPTIMIZER_KERNEL_NAMES) {
    it(`optimizerStep ${name} over 200,003 elements: same bits at 1-4 threads`, () => {
      const id = OPTIMIZER_KERNEL_NAMES.indexOf(name);
      const n = 200003;
      const slots = OPTIMIZER_KERNELS[name].slots.length;
      const h = validHyper(rng, id);
      const state = rng.uniformArray(slots * n, 0, 1);
      sameAcrossThreads([rng.uniformArray(n, -1, 1), rng.uniformArray(n, -1, 1), state],
        (b, [p, g, s]) => { b.optimizerStep(id, n, h, p, g, s); b.optimizerStep(id, n, h, p, g, s); }, [0, 2]);
    });
  }

  // Layouts: the reference MLP's arena (784-256-128-10), one with many blocks too small to cut
  // (dealt whole to the least loaded thread), and one of rows not a multiple of 16 with empty blocks.
  const LAYOUTS: [string, number[]][] = [
    ['784-256-128-10', [256, 784, 1, 256, 128, 256, 1, 128, 10, 128, 1, 10]],
    ['forty 40x40 layers', Array.from({ length: 40 }, () => [40, 40, 1, 40]).flat()],
    ['ragged', [0, 5, 333, 97, 1, 3, 0, 1, 7, 1001, 2, 1]],
  ];
  for (const name of OPTIMIZER_KERNEL_NAMES) {
    it(`optimizerStepBlocks ${name}: the bits of optimizerStep at 1-4 threads, whatever the layout`, () => {
      const id = OPTIMIZER_KERNEL_NAMES.indexOf(name);
      const slots = OPTIMIZER_KERNELS[name].slots.length;
      const h = validHyper(rng, id);
      for (const [what, list] of LAYOUTS) {
        const blocks = Int32Array.from(list);
        let n = 0;
        for (let b = 0; b < list.length; b += 2) n += list[b] * list[b + 1];
        const inputs = [rng.uniformArray(n, -1, 1), rng.uniformArray(n, -1, 1), rng.uniformArray(slots * n, 0, 1)];
        const whole = inputs.map((x) => x.slice());
        native().setNumThreads(1);
        native().optimizerStep(id, n, h, whole[0], whole[1], whole[2]);
        const [p] = sameAcrossThreads(inputs, (b, [pp, g, st]) => b.optimizerStepBlocks(id, n, h, pp, g, st, list.length / 2, blocks), [0, 2]);
        sameValues(p, whole[0], `${what}: param against optimizerStep`);
        const js = inputs.map((x) => x.slice()), jsWhole = inputs.map((x) => x.slice());
        jsBackend.optimizerStepBlocks(id, n, h, js[0], js[1], js[2], list.length / 2, blocks);
        jsBackend.optimizerStep(id, n, h, jsWhole[0], jsWhole[1], jsWhole[2]);
        sameValues(js[0], jsWhole[0], `${what}: js param against js optimizerStep`);
        sameValues(js[2], jsWhole[2], `${what}: js state against js optimizerStep`);
      }
    });
  }

  // denseForward and denseBackward run the bias, the activation, its derivative and the bias
  // gradient inside the GEMM's pieces (and the weight gradient in the forward's unit blocks where
  // its cut matches): at each thread count the bits must be those of the same products with the
  // passes run separately. The forward product is OpenBLAS's GEMM, or where info().packedForward
  // is on (and the batch has info().packedForwardMinRows rows or more) the packed kernels over the
  // weights packed once.
  // Shapes: cut by columns with the weight gradient in blocks (batch 32 and 128), by columns with
  // the weight gradient cut its own way (a short layer), by rows (batch 512), ragged widths, too
  // small to cut, under 4 rows, and inputs deeper than one block of the packed kernels' k (1024),
  // cut by units and by rows.
  for (const [batch, inDim, outDim] of [[128, 784, 256], [32, 784, 256], [128, 256, 128], [40, 500, 100], [512, 784, 256],
    [77, 301, 130], [33, 129, 1003], [300, 200, 50], [7, 13, 5], [3, 40, 20], [20, 1500, 40], [100, 1100, 30]] as const) {
    for (const name of ['relu', 'gelu', 'identity'] as const) {
      it(`denseForward/denseBackward ${batch}x${inDim}->${outDim} (${name}): the bits of its products and separate passes at 1-3 threads`, () => {
        const act = activationId(name), b = native();
        const x = rng.uniformArray(batch * inDim), w = rng.uniformArray(outDim * inDim), bias = rng.uniformArray(outDim);
        const dy = rng.uniformArray(batch * outDim), dw0 = rng.uniformArray(outDim * inDim), db0 = rng.uniformArray(outDim);
        for (const t of [1, 2, 3]) {
          b.setNumThreads(t);
          for (const beta of [0, 1]) {
            const z = new Float32Array(batch * outDim), y = new Float32Array(batch * outDim), dz = new Float32Array(batch * outDim);
            const dw = dw0.slice(), db = db0.slice(), dx = new Float32Array(batch * inDim);
            b.denseForward(act, 0, batch, inDim, outDim, x, w, bias, z, y);
            b.denseBackward(act, 0, batch, inDim, outDim, beta, x, w, z, y, dy, dz, dw, db, dx);
            const z2 = new Float32Array(batch * outDim), y2 = new Float32Array(batch * outDim), dz2 = new Float32Array(batch * outDim);
            const dw2 = dw0.slice(), db2 = db0.slice(), dx2 = new Float32Array(batch * inDim);
            if (b.info().packedForward && batch >= (b.info().packedForwardMinRows as number)) {
              const packed = new Float32Array(Math.ceil(outDim / 16) * 16 * (inDim + 1));
              b.packDense(outDim, inDim, w, bias, packed);
              b.packedDenseForward(activationId('identity'), 0, batch, inDim, outDim, x, packed, z2);
            } else {
              b.gemm(false, true, batch, outDim, inDim, 1, x, w, 0, z2);
              b.addBias(batch, outDim, bias, z2);
            }
            b.activation(act, 0, batch * outDim, z2, y2);
            b.activationBackward(act, 0, batch * outDim, z2, y2, dy, dz2);
            b.gemm(true, false, outDim, inDim, batch, 1, dz2, x, beta, dw2);
            b.colSum(batch, outDim, beta, dz2, db2);
            b.gemm(false, false, batch, inDim, outDim, 1, dz2, w, 0, dx2);
            const where = `${t} threads, beta ${beta}`;
            sameValues(z, z2, `${where}: z`);
            sameValues(y, y2, `${where}: y`);
            sameValues(dz, dz2, `${where}: dz`);
            sameValues(dw, dw2, `${where}: dw`);
            sameValues(db, db2, `${where}: db`);
            sameValues(dx, dx2, `${where}: dx`);
            const ref = new Float32Array(batch * outDim);
            jsBackend.denseForward(act, 0, batch, inDim, outDim, x, w, bias, new Float32Array(batch * outDim), ref);
            assert.ok(normError(y, ref) <= 1e-5, `${where}: y against js, normalised error ${normError(y, ref)}`);
          }
        }
      });
    }
  }

  // A packed dense output is one chain of multiply-adds per value whatever the cut (by rows in
  // whole tiles, or by whole panels), so the bits are the same at every thread count.
  for (const [batch, inDim, outDim] of [[1000, 784, 256], [16, 784, 256], [1, 784, 256], [97, 129, 1003], [50, 33, 40], [40, 1500, 50]] as const) {
    it(`packedDenseForward ${batch}x${inDim}->${outDim}: same bits at 1-4 threads, close to js`, () => {
      const x = rng.uniformArray(batch * inDim), w = rng.uniformArray(outDim * inDim), bias = rng.uniformArray(outDim);
      const packed = new Float32Array(Math.ceil(outDim / 16) * 16 * (inDim + 1));
      native().packDense(outDim, inDim, w, bias, packed);
      const relu = activationId('relu');
      const [y] = sameAcrossThreads([new Float32Array(batch * outDim)], (b, [out]) => {
        b.packedDenseForward(relu, 0, batch, inDim, outDim, x, packed, out);
      }, [0]);
      const ref = new Float32Array(batch * outDim);
      jsBackend.packedDenseForward(relu, 0, batch, inDim, outDim, x, packed, ref);
      assert.ok(normError(y, ref) <= 1e-5);
    });
  }

  it('gatherRows of 4,000 rows: same at 1-4 threads and as js', () => {
    const rows = 4000, cols = 97, src = 10000;
    const x = rng.uniformArray(src * cols);
    const index = Int32Array.from({ length: rows }, () => rng.int(src));
    const [, out] = sameAcrossThreads([x, new Float32Array(rows * cols)], (b, [xs, o]) => b.gatherRows(rows, cols, src, index, xs, o), [1]);
    const ref = new Float32Array(rows * cols);
    jsBackend.gatherRows(rows, cols, src, index, x, ref);
    sameValues(out, ref, 'gathered');
  });

  it('gatherRowsChecked of 4,000 rows: same rows and first bad position at 1-4 threads and as js', () => {
    const rows = 4000, cols = 97, src = 10000;
    const x = rng.uniformArray(src * cols);
    const index = Int32Array.from({ length: rows }, () => rng.int(src));
    // Bad values in the rows at batch positions 3100 and 1700 (and wherever those rows repeat).
    x[index[3100] * cols + 5] = NaN;
    x[index[1700] * cols + 90] = -Infinity;
    const ref = new Float32Array(rows * cols);
    const want = jsBackend.gatherRowsChecked(rows, cols, src, index, x, ref);
    assert.ok(want >= 0 && want <= 1700 * cols + 90, `js found ${want}`);
    const b = native();
    for (const t of [1, 2, 3, 4]) {
      b.setNumThreads(t);
      const out = new Float32Array(rows * cols);
      assert.strictEqual(b.gatherRowsChecked(rows, cols, src, index, x, out), want, `${t} threads`);
      sameValues(out, ref, `gathered at ${t} threads`);
    }
  });

  // A thread tests the rows it copied some 12 KB earlier (native/rowops.cc kScanBehindBytes), and
  // its last rows after its loop: a bad value is planted in turn in the first row, in rows around
  // every piece's ends and around that distance, and in the last row, for rows narrower than it
  // (many rows behind), of 784 floats (4 rows behind) and wider than it (the row before).
  for (const cols of [97, 784, 4500]) {
    it(`gatherRowsChecked of ${cols}-wide rows finds a bad value planted in any row, at 1-4 threads`, () => {
      const rows = 300, src = 400;
      const x = rng.uniformArray(src * cols);
      // Distinct source rows, so the first bad position is the planted one.
      const perm = Int32Array.from({ length: src }, (_, i) => i);
      rng.shuffle(perm);
      const index = perm.slice(0, rows);
      const behind = Math.ceil((12 << 10) / (4 * cols));
      const ends = [1, 2, 3, 4].flatMap((t) => [...Array(t).keys()].flatMap((p) => [Math.floor(rows * p / t), Math.floor(rows * (p + 1) / t) - 1]));
      const planted = [...new Set([0, rows - 1, ...ends.flatMap((e) => [e - 1, e, e + 1, e + behind - 1, e + behind, e + behind + 1, e - behind])])]
        .filter((r) => r >= 0 && r < rows).sort((p, q) => p - q);
      const b = native();
      for (const r of planted) {
        const at = r * cols + (r % cols);
        const saved = x[index[r] * cols + (r % cols)];
        x[index[r] * cols + (r % cols)] = r % 2 ? NaN : -Infinity;
        for (const t of [1, 2, 3, 4]) {
          b.setNumThreads(t);
          const out = new Float32Array(rows * cols);
          assert.strictEqual(b.gatherRowsChecked(rows, cols, src, index, x, out), at, `row ${r}, ${t} threads`);
        }
        x[index[r] * cols + (r % cols)] = saved;
      }
      const out = new Float32Array(rows * cols);
      assert.strictEqual(b.gatherRowsChecked(rows, cols, src, index, x, out), -1, 'all finite');
    });
  }

  it('firstNonFinite over 1M elements finds the first bad value at every thread count', () => {
    const n = 1 << 20;
    const x = rng.uniformArray(n, -1, 1);
    const b = native();
    for (const t of [1, 2, 3, 4]) {
      b.setNumThreads(t);
      assert.strictEqual(b.firstNonFinite(n, x), -1);
      x[n - 5] = NaN; x[700001] = Infinity; x[300000] = -Infinity;
      assert.strictEqual(b.firstNonFinite(n, x), 300000, `${t} threads`);
      x[300000] = 0;
      assert.strictEqual(b.firstNonFinite(n, x), 700001, `${t} threads`);
      x[700001] = 0; x[n - 5] = 0;
    }
  });
});
