/**
 * Hand-checked cases for every kernel, run on every backend (test/cases/kernels.ts).
 */
import { strict as assert } from 'assert';
import { activationId, ACTIVATIONS, lossId, LOSSES } from '../lib';
import { ACTIVATION_CASES, GEMM_CASES, LOSS_CASES } from './cases/kernels';
import { forEachBackend } from './helpers';

const f32 = (v: number[]) => new Float32Array(v);

function close(actual: number, expected: number, what: string, rel = 1e-5, abs = 1e-6): void {
  if (Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${what}: expected NaN, got ${actual}`);
    return;
  }
  assert.ok(Number.isFinite(actual), `${what}: expected ${expected}, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: expected ${expected}, got ${actual}`);
}

function allClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5, abs = 1e-6): void {
  assert.equal(actual.length >= expected.length, true, `${what}: too short`);
  for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], `${what}[${i}]`, rel, abs);
}

forEachBackend('gemm', (b) => {
  for (const t of GEMM_CASES) {
    it(t.name, () => {
      const c = f32(t.c);
      b.gemm(t.transA, t.transB, t.m, t.n, t.k, t.alpha, f32(t.a), f32(t.b), t.beta, c);
      allClose(c, t.expect, 'c');
    });
  }

  it('gemmBatched runs independent products and honours strides', () => {
    // Two 2x3 * 3x2 products; the second A is the first times 2, B is shared (stride 0).
    const a = f32([1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12]);
    const bm = f32([7, 8, 9, 10, 11, 12]);
    const c = new Float32Array(2 * 5).fill(-1); // strideC 5 leaves a gap of one untouched element
    b.gemmBatched(false, false, 2, 2, 3, 2, 1, a, 6, bm, 0, 0, c, 5);
    allClose(c, [58, 64, 139, 154, -1, 116, 128, 278, 308, -1], 'c');
  });

  it('gemmBatched with batch 0 does nothing', () => {
    const c = f32([3]);
    b.gemmBatched(false, false, 1, 1, 1, 0, 1, new Float32Array(0), 1, new Float32Array(0), 1, 0, c, 1);
    assert.equal(c[0], 3);
  });
});

forEachBackend('row operations', (b) => {
  it('addBias adds per column', () => {
    const y = f32([1, 2, 3, 4, 5, 6]);
    b.addBias(2, 3, f32([10, 20, 30]), y);
    allClose(y, [11, 22, 33, 14, 25, 36], 'y');
  });

  it('addBias with 0 rows leaves y alone', () => {
    const y = f32([1]);
    b.addBias(0, 3, f32([10, 20, 30]), y);
    assert.equal(y[0], 1);
  });

  it('colSum sums columns, with beta', () => {
    const out = f32([100, 100, 100]);
    b.colSum(2, 3, 0, f32([1, 2, 3, 4, 5, 6]), out);
    allClose(out, [5, 7, 9], 'out (beta 0)');
    b.colSum(2, 3, 1, f32([1, 2, 3, 4, 5, 6]), out);
    allClose(out, [10, 14, 18], 'out (beta 1)');
    b.colSum(1, 3, 0.5, f32([1, 1, 1]), out);
    allClose(out, [6, 8, 10], 'out (beta 0.5)');
  });

  it('colSum of 0 rows gives beta * out', () => {
    const out = f32([NaN, 4]);
    b.colSum(0, 2, 0, new Float32Array(0), out);
    allClose(out, [0, 0], 'out');
  });

  it('gatherRows copies the indexed rows, repeats allowed', () => {
    const src = f32([0, 1, 10, 11, 20, 21]);
    const dst = new Float32Array(8);
    b.gatherRows(4, 2, 3, new Int32Array([2, 0, 2, 1]), src, dst);
    allClose(dst, [20, 21, 0, 1, 20, 21, 10, 11], 'dst');
  });

  it('scale, axpy, dot, sumSquares', () => {
    const x = f32([1, 2, 3]);
    b.scale(3, 2, x);
    allClose(x, [2, 4, 6], 'scale');
    const y = f32([1, 1, 1]);
    b.axpy(3, 0.5, x, y);
    allClose(y, [2, 3, 4], 'axpy');
    b.axpy(3, 1, y, y);
    allClose(y, [4, 6, 8], 'axpy in place');
    close(b.dot(3, x, y), 2 * 4 + 4 * 6 + 6 * 8, 'dot');
    close(b.sumSquares(3, x), 4 + 16 + 36, 'sumSquares');
    close(b.dot(0, x, y), 0, 'empty dot');
    close(b.sumSquares(2, x), 20, 'prefix');
  });

  it('dot accumulates in double precision', () => {
    // 2^24 + 1 + 1 + ... is exact in float64 but not in float32.
    const n = 1001;
    const x = new Float32Array(n).fill(1);
    x[0] = 16777216;
    assert.equal(b.dot(n, x, new Float32Array(n).fill(1)), 16777216 + 1000);
  });
});

forEachBackend('activations', (b) => {
  for (const t of ACTIVATION_CASES) {
    const p = t.param ?? ACTIVATIONS[t.act].param;
    it(`${t.act}(${t.x}${t.param !== undefined ? `; ${t.param}` : ''})`, () => {
      const id = activationId(t.act);
      const x = f32([t.x]);
      const y = new Float32Array(1);
      b.activation(id, p, 1, x, y);
      close(y[0], t.y, 'y');
      const dx = new Float32Array(1);
      b.activationBackward(id, p, 1, x, y, f32([2]), dx);
      close(dx[0], 2 * t.dy, "2 f'(x)");
    });
  }

  it('relu keeps NaN', () => {
    const y = new Float32Array(1);
    b.activation(activationId('relu'), 0, 1, f32([NaN]), y);
    assert.ok(Number.isNaN(y[0]));
  });

  it('works in place and on 0 elements', () => {
    const x = f32([-1, 2]);
    b.activation(activationId('relu'), 0, 2, x, x);
    allClose(x, [0, 2], 'x');
    b.activation(activationId('tanh'), 0, 0, new Float32Array(0), new Float32Array(0));
  });

  it('softmax and logSoftmax, stable at extreme logits', () => {
    const x = f32([1e4, -1e4, 88.7, 0, 0, 0, 1, 2, 3]);
    const y = new Float32Array(9);
    b.softmax(3, 3, x, y);
    const e = [1, Math.E, Math.E ** 2];
    const s = e[0] + e[1] + e[2];
    allClose(y, [1, 0, 0, 1 / 3, 1 / 3, 1 / 3, e[0] / s, e[1] / s, e[2] / s], 'softmax');
    b.logSoftmax(3, 3, x, y);
    const lse = 1 + Math.log(s); // log(e^1 + e^2 + e^3)
    allClose(y, [0, -2e4, 88.7 - 1e4, -Math.log(3), -Math.log(3), -Math.log(3), 1 - lse, 2 - lse, 3 - lse], 'logSoftmax');
  });

  it('softmaxBackward and logSoftmaxBackward', () => {
    const y = f32([0.25, 0.75]);
    const dx = new Float32Array(2);
    b.softmaxBackward(1, 2, y, f32([1, 0]), dx);
    // d/dx of softmax_0 = y0 (1 - y0), -y0 y1
    allClose(dx, [0.1875, -0.1875], 'softmax');
    b.logSoftmaxBackward(1, 2, f32([Math.log(0.25), Math.log(0.75)]), f32([1, 0]), dx);
    allClose(dx, [0.75, -0.75], 'logSoftmax');
  });
});

forEachBackend('dense layer', (b) => {
  // x [2, 3], w [2 out, 3 in], b [2]
  const x = f32([1, 2, 3, -1, -2, -3]);
  const w = f32([1, 0, 0, 0, 1, 1]);
  const bias = f32([0.5, -10]);

  it('denseForward: z = x w^T + b, y = f(z)', () => {
    const z = new Float32Array(4), y = new Float32Array(4);
    b.denseForward(activationId('relu'), 0, 2, 3, 2, x, w, bias, z, y);
    allClose(z, [1.5, -5, -0.5, -15], 'z');
    allClose(y, [1.5, 0, 0, 0], 'y');
    b.denseForward(activationId('identity'), 0, 2, 3, 2, x, w, null, z, z);
    allClose(z, [1, 5, -1, -5], 'z without bias, in place');
  });

  it('denseBackward: dz, dw, db, dx', () => {
    const z = f32([1.5, -5, -0.5, 15]);
    const y = f32([1.5, 0, 0, 15]);
    const dy = f32([1, 1, 1, 2]);
    const dz = new Float32Array(4), dw = new Float32Array(6).fill(1), db = new Float32Array(2), dx = new Float32Array(6);
    b.denseBackward(activationId('relu'), 0, 2, 3, 2, 0, x, w, z, y, dy, dz, dw, db, dx);
    allClose(dz, [1, 0, 0, 2], 'dz');
    allClose(dw, [1, 2, 3, -2, -4, -6], 'dw'); // dz^T x
    allClose(db, [1, 2], 'db');
    allClose(dx, [1, 0, 0, 0, 2, 2], 'dx'); // dz w
    b.denseBackward(activationId('relu'), 0, 2, 3, 2, 1, x, w, z, y, dy, dy, dw, null, null);
    allClose(dw, [2, 4, 6, -4, -8, -12], 'dw accumulated (beta 1), dz in place of dy');
  });

  it('handles a batch of 0 rows', () => {
    const dw = new Float32Array(6).fill(7);
    const e = new Float32Array(0);
    b.denseForward(activationId('tanh'), 0, 0, 3, 2, e, w, bias, e, e);
    b.denseBackward(activationId('tanh'), 0, 0, 3, 2, 0, e, w, e, e, e, e, dw, null, e);
    allClose(dw, [0, 0, 0, 0, 0, 0], 'dw');
  });
});

forEachBackend('losses', (b) => {
  for (const t of LOSS_CASES) {
    it(t.name, () => {
      const target = Array.isArray(t.target) ? f32(t.target) : new Int32Array(t.target.labels);
      const grad = new Float32Array(t.pred.length).fill(NaN);
      const param = t.param ?? LOSSES[t.loss].param;
      const value = b.loss(lossId(t.loss), param, t.rows, t.cols, f32(t.pred), target, grad);
      close(value, t.value, 'value', 1e-5, 1e-6);
      allClose(grad, t.grad, 'grad', 1e-5, 1e-6);
      // Without a gradient buffer the value is the same.
      close(b.loss(lossId(t.loss), param, t.rows, t.cols, f32(t.pred), target, null), t.value, 'value (no grad)', 1e-5, 1e-6);
    });
  }
});
