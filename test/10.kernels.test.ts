/**
 * Hand-checked cases for every kernel, run on every backend (test/cases/kernels.ts).
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { activationId, ACTIVATIONS, lossId, LOSSES, OPTIMIZER_KERNEL_NAMES, OPTIMIZER_KERNELS, Matrix, Rng } from '../lib';
import { ACTIVATION_CASES, BATCH_NORM_CASES, GEMM_CASES, LOSS_CASES, OPTIMIZER_CASES, PRELU_CASES } from './cases/kernels';
import { forEachBackend, sameValues, throwsCode } from './helpers';

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

  it('beta 0 replaces every element of C, NaN included, at tile edges and across panels; beta 1 adds', () => {
    // 7 x 9 leaves partial tiles in both directions; k = 300 spans two of the js backend's panels.
    // 1-3 rows take the native backend's row-by-row path where OpenBLAS has no small kernels.
    const n = 9, k = 300, rng = new Rng(13);
    for (const m of [1, 3, 7]) for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = rng.uniformArray(m * k, -1, 1), bm = rng.uniformArray(k * n, -1, 1);
      const want = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? bm[j * k + p] : bm[p * n + j]);
          want[i * n + j] = 0.5 * s;
        }
      }
      const c = new Float32Array(m * n + 2).fill(NaN);
      c[m * n] = 7; c[m * n + 1] = -7;
      b.gemm(ta, tb, m, n, k, 0.5, a, bm, 0, c);
      const what = `${m} rows, ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`;
      allClose(c.subarray(0, m * n), want, `${what}, beta 0`, 1e-5, 1e-5);
      assert.deepEqual([c[m * n], c[m * n + 1]], [7, -7], `${what}: past C untouched`);
      b.gemm(ta, tb, m, n, k, 0.5, a, bm, 1, c);
      allClose(c.subarray(0, m * n), want.map((v) => 2 * v), `${what}, beta 1`, 1e-5, 1e-5);
    }
  });

  it('alpha 0 skips the product: NaN in A and B reach no element of C, which is only scaled by beta', () => {
    const n = 5, k = 40;
    for (const m of [1, 3, 7]) for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const what = `${m} rows, ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`;
      const a = new Float32Array(m * k).fill(NaN), bm = new Float32Array(k * n).fill(Infinity);
      const c = new Float32Array(m * n).fill(3);
      b.gemm(ta, tb, m, n, k, 0, a, bm, 0.5, c);
      assert.ok(c.every((v) => v === 1.5), `${what}, beta 0.5: ${c}`);
      c.fill(NaN);
      b.gemm(ta, tb, m, n, k, 0, a, bm, 0, c);
      assert.ok(c.every((v) => v === 0), `${what}, beta 0: ${c}`);
    }
  });

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

  it('gatherRows copies wide rows (a view copy) and narrow ones alike; a bad index leaves dst alone', () => {
    const rng = new Rng(17);
    for (const cols of [63, 64, 65, 784]) {
      const srcRows = 9, rows = 12;
      const src = rng.uniformArray(srcRows * cols, -1, 1);
      const index = Int32Array.from({ length: rows }, (_, r) => (r * 5) % srcRows);
      const dst = new Float32Array(rows * cols + 1).fill(3);
      b.gatherRows(rows, cols, srcRows, index, src, dst);
      for (let r = 0; r < rows; r++) {
        sameValues(dst.subarray(r * cols, (r + 1) * cols), src.subarray(index[r] * cols, (index[r] + 1) * cols), `cols ${cols}, row ${r}`);
      }
      assert.equal(dst[rows * cols], 3, `cols ${cols}: past dst untouched`);
      const before = dst.slice();
      index[rows - 1] = srcRows;
      throwsCode(() => b.gatherRows(rows, cols, srcRows, index, src, dst), 'ERR_BLASNET_INDEX', RangeError);
      sameValues(dst, before, `cols ${cols}: dst after a bad index`);
    }
  });

  it('shuffledRange gives the permutation and generator state of Rng.shuffle over the identity', () => {
    // Seeds whose words use the sign bit (int32 bits of uint32 words), n from empty to an epoch.
    for (const seed of [0, 7, 4294967295]) {
      for (const n of [0, 1, 2, 3, 31, 1000, 54000]) {
        const rng = new Rng(seed);
        const state = rng.getState();
        const words = Int32Array.from(state.slice(0, 4));
        const out = new Int32Array(n + 2).fill(-5);
        b.shuffledRange(n, words, out);
        const want = Int32Array.from({ length: n }, (_, i) => i);
        rng.shuffle(want);
        assert.deepStrictEqual(out.subarray(0, n), want, `seed ${seed}, n ${n}: permutation`);
        assert.deepStrictEqual([out[n], out[n + 1]], [-5, -5], `seed ${seed}, n ${n}: past n untouched`);
        assert.deepStrictEqual(Array.from(words, (w) => w >>> 0), rng.getState().slice(0, 4), `seed ${seed}, n ${n}: state`);
      }
    }
    // All-zero words (a state Rng.setState refuses) would give one order forever: refused alike.
    const out = new Int32Array(9).fill(-1);
    throwsCode(() => b.shuffledRange(9, new Int32Array(4), out), 'ERR_BLASNET_ARG_RANGE', RangeError, 'not all zero');
    assert.deepStrictEqual(Array.from(out), new Array(9).fill(-1));
  });

  it('argmaxRows gives each row\'s first largest value, past ties and NaNs', () => {
    const x = Float32Array.from([
      1, 3, 3, 2, // a tie: the first
      NaN, -1, -2, 5, // NaN never wins, and a NaN first leaves index 0
      -Infinity, -Infinity, -Infinity, -Infinity,
      0, NaN, 0.5, 0.25,
      -0, 0, 7, Infinity,
    ]);
    const out = new Int32Array(7).fill(-3);
    b.argmaxRows(5, 4, x, out);
    assert.deepStrictEqual(Array.from(out), [1, 0, 0, 2, 3, -3, -3]);
    b.argmaxRows(3, 0, new Float32Array(0), out);
    assert.deepStrictEqual(Array.from(out.subarray(0, 3)), [0, 0, 0], 'rows of no columns');
    // Random scores, rows of 1 to 37 classes, against the loop Matrix.argmax runs.
    const rng = new Rng(5);
    for (const cols of [1, 2, 10, 37]) {
      const rows = 113, s = rng.uniformArray(rows * cols, -1, 1);
      const got = new Int32Array(rows);
      b.argmaxRows(rows, cols, s, got);
      assert.deepStrictEqual(got, new Matrix(s, rows, cols).argmax(), `cols ${cols}`);
    }
  });

  it('gatherRowsChecked gathers as gatherRows and finds the first NaN or infinity among the gathered values', () => {
    const rng = new Rng(41);
    const rows = 37, cols = 29, srcRows = 50;
    const src = rng.uniformArray(srcRows * cols, -1, 1);
    const index = Int32Array.from({ length: rows }, () => rng.int(srcRows));
    const want = new Float32Array(rows * cols);
    b.gatherRows(rows, cols, srcRows, index, src, want);
    const dst = new Float32Array(rows * cols);
    assert.strictEqual(b.gatherRowsChecked(rows, cols, srcRows, index, src, dst), -1, 'all finite');
    sameValues(dst, want, 'dst');
    // A bad value in a source row no batch row uses is not reported.
    const unused = [...Array(srcRows).keys()].find((r) => !index.includes(r)) as number;
    src[unused * cols + 3] = NaN;
    assert.strictEqual(b.gatherRowsChecked(rows, cols, srcRows, index, src, dst), -1, 'unused row');
    for (const [v, at] of [[NaN, 5 * cols + 7], [Infinity, 30 * cols], [-Infinity, rows * cols - 1]] as const) {
      const d = new Float32Array(rows * cols);
      const s = Float32Array.from(src);
      s[index[Math.floor(at / cols)] * cols + (at % cols)] = v;
      const got = b.gatherRowsChecked(rows, cols, srcRows, index, s, d);
      const plain = new Float32Array(rows * cols);
      b.gatherRows(rows, cols, srcRows, index, s, plain);
      // The first position in the gathered batch: a repeated row may hold the value earlier.
      assert.strictEqual(got, b.firstNonFinite(rows * cols, plain), `${v}`);
      assert.ok(got >= 0 && got <= at, `${v} at ${got}, planted at ${at}`);
      sameValues(d, plain, `dst with ${v}`);
    }
    assert.strictEqual(b.gatherRowsChecked(0, cols, srcRows, new Int32Array(0), src, new Float32Array(0)), -1, 'no rows');
    assert.strictEqual(b.gatherRowsChecked(3, 0, srcRows, new Int32Array([1, 2, 3]), new Float32Array(0), new Float32Array(0)), -1, 'no columns');
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

  it('firstNonFinite finds the first NaN or infinity, in any position, and ignores values past n', () => {
    assert.strictEqual(b.firstNonFinite(0, f32([NaN])), -1, 'empty');
    assert.strictEqual(b.firstNonFinite(3, f32([0, -3.4e38, 3.4e38])), -1, 'finite extremes');
    assert.strictEqual(b.firstNonFinite(2, f32([1, 2, NaN])), -1, 'past n');
    // Long enough to span several of the native scan's blocks and pieces.
    const n = 300001;
    const x = new Float32Array(n).fill(1e-40);
    assert.strictEqual(b.firstNonFinite(n, x), -1, 'subnormals are finite');
    for (const [at, v] of [[0, NaN], [1023, Infinity], [1024, -Infinity], [150000, NaN], [n - 1, Infinity]] as const) {
      x[at] = v;
      assert.strictEqual(b.firstNonFinite(n, x), at, `${v} at ${at}`);
      x[n - 1] = NaN; // a later one must not win
      assert.strictEqual(b.firstNonFinite(n, x), at, `${v} at ${at}, NaN at the end`);
      x[at] = 1;
      x[n - 1] = 1;
    }
    x[200000] = NaN;
    x[100] = -Infinity;
    assert.strictEqual(b.firstNonFinite(n, x), 100, 'two: the first');
  });

  it('firstLabelOutside finds the first label outside [0, classes), negative or too large, and ignores labels past n', () => {
    const i32 = (v: number[]) => Int32Array.from(v);
    assert.strictEqual(b.firstLabelOutside(0, i32([-1]), 3), -1, 'empty');
    assert.strictEqual(b.firstLabelOutside(3, i32([0, 2, 1]), 3), -1, 'in range');
    assert.strictEqual(b.firstLabelOutside(2, i32([0, 1, 7]), 3), -1, 'past n');
    assert.strictEqual(b.firstLabelOutside(1, i32([0]), 0), 0, 'no classes: every label is outside');
    assert.strictEqual(b.firstLabelOutside(3, i32([2147483646, 5, -1]), 2147483647), 2, 'the largest class count: a negative label is still outside');
    // Long enough to span several of the native scan's blocks.
    const n = 300001, classes = 10;
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) y[i] = i % classes;
    assert.strictEqual(b.firstLabelOutside(n, y, classes), -1, 'all in range');
    for (const [at, v] of [[0, -1], [1023, 10], [1024, -2147483648], [150000, 2147483647], [n - 1, 11]] as const) {
      const keep = y[at];
      y[at] = v;
      assert.strictEqual(b.firstLabelOutside(n, y, classes), at, `${v} at ${at}`);
      const last = y[n - 1];
      if (at !== n - 1) y[n - 1] = -5; // a later one must not win
      assert.strictEqual(b.firstLabelOutside(n, y, classes), at, `${v} at ${at}, -5 at the end`);
      y[at] = keep;
      y[n - 1] = last;
    }
    assert.strictEqual(b.firstLabelOutside(n, y, 9), 9, 'fewer classes: the first 9');
  });

  it('mul: out = x * y, in place on x or y, and 0 elements', () => {
    const x = f32([1, 2, 3]), y = f32([4, -5, 0.5]), out = new Float32Array(3);
    b.mul(3, x, y, out);
    allClose(out, [4, -10, 1.5], 'out');
    b.mul(3, x, x, out);
    allClose(out, [1, 4, 9], 'x * x');
    b.mul(3, x, y, x);
    allClose(x, [4, -10, 1.5], 'out = x');
    b.mul(3, f32([0, 1, 2]), y, y);
    allClose(y, [0, -5, 1], 'out = y (a dropout mask)');
    b.mul(0, new Float32Array(0), new Float32Array(0), new Float32Array(0));
  });

  it('penalty: l1 sum|w| + l2/2 sum w^2, adding l1 sign(w) + l2 w to grad', () => {
    const w = f32([1, -2, 0, 3]);
    const grad = f32([1, 1, 1, 1]);
    close(b.penalty(4, 0.5, 0.2, w, grad), 0.5 * 6 + 0.1 * 14, 'value');
    allClose(grad, [1.7, 0.1, 1, 2.1], 'grad (sign(0) = 0)');
    close(b.penalty(4, 0.5, 0.2, w, null), 4.4, 'value without grad');
    const g2 = f32([0, 0]);
    close(b.penalty(2, 0, 2, f32([3, 4]), g2), 25, 'L2 alone: value');
    allClose(g2, [6, 8], 'L2 alone: grad = lambda w (PyTorch weight_decay)');
    const g1 = f32([0, 0, 0]);
    close(b.penalty(3, 2, 0, f32([-1.5, 0, 2.5]), g1), 8, 'L1 alone: value');
    allClose(g1, [-2, 0, 2], 'L1 alone: grad');
    const g0 = f32([5, 6, 7]);
    close(b.penalty(3, 0, 0, w, g0), 0, 'no penalty');
    allClose(g0, [5, 6, 7], 'no penalty leaves grad');
    close(b.penalty(0, 1, 1, new Float32Array(0), new Float32Array(0)), 0, 'empty');
  });

  it('penalty accumulates in double precision', () => {
    const n = 1001;
    const w = new Float32Array(n).fill(-1);
    w[0] = 16777216;
    assert.equal(b.penalty(n, 1, 0, w, null), 16777216 + 1000);
    assert.equal(b.penalty(n, 0, 2, w, null), 16777216 ** 2 + 1000);
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

  it('logSoftmax and crossEntropy keep float32 accuracy at logits of 1e3 and 1e4', () => {
    // Logits near +-1e4 are 1e-3 apart in float32: a kernel that forms m + log(s) in float32
    // before subtracting it from x loses up to half that; (x - m) - log(s) loses a few 1e-7.
    const rows = 64, cols = 8;
    const rng = new Rng(12);
    const errors: string[] = [];
    for (const scale of [1e3, 1e4]) {
      const x = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const base = (r % 2 === 0 ? 1 : -1) * scale;
        for (let j = 0; j < cols; j++) x[r * cols + j] = base + 16 * rng.uniform() - 8;
      }
      const y = new Float32Array(rows * cols);
      b.logSoftmax(rows, cols, x, y);
      const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
      let worst = 0, ce = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let m = -Infinity;
        for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]);
        let s = 0;
        for (let j = 0; j < cols; j++) s += Math.exp(x[o + j] - m);
        for (let j = 0; j < cols; j++) worst = Math.max(worst, Math.abs(y[o + j] - (x[o + j] - m - Math.log(s))));
        ce += m + Math.log(s) - x[o + labels[r]];
      }
      if (!(worst < 1e-5)) errors.push(`at |logit| ${scale}: worst error ${worst} against float64`);
      close(b.loss(lossId('crossEntropy'), 0, rows, cols, x, labels, null), ce / rows, `crossEntropy at |logit| ${scale}`, 1e-9, 1e-9);
    }
    assert.deepEqual(errors, [], 'logSoftmax');
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

forEachBackend('prelu', (b) => {
  for (const t of PRELU_CASES) {
    it(t.name, () => {
      const x = f32(t.x), a = f32(t.a);
      const y = new Float32Array(t.x.length).fill(NaN);
      b.prelu(t.perUnit, t.rows, t.cols, x, a, y);
      allClose(y, t.y, 'y');
      const da = f32(t.da0), dx = new Float32Array(t.x.length).fill(NaN);
      b.preluBackward(t.perUnit, t.rows, t.cols, t.beta, x, a, f32(t.dy), da, dx);
      allClose(dx, t.dx, 'dx');
      allClose(da, t.da, 'da');
      // In place: y over x, dx over dy.
      const xy = f32(t.x);
      b.prelu(t.perUnit, t.rows, t.cols, xy, a, xy);
      allClose(xy, t.y, 'y in place');
      const dyx = f32(t.dy), da2 = f32(t.da0);
      b.preluBackward(t.perUnit, t.rows, t.cols, t.beta, x, a, dyx, da2, dyx);
      allClose(dyx, t.dx, 'dx in place');
      allClose(da2, t.da, 'da (dx in place)');
    });
  }

  it('a shared slope reads only a[0]', () => {
    const y = new Float32Array(3);
    b.prelu(false, 1, 3, f32([-1, -2, 4]), f32([0.5, 100, 100]), y);
    allClose(y, [-0.5, -1, 4], 'y');
  });

  it('NaN takes the slope branch and reaches da', () => {
    const y = new Float32Array(2), da = f32([0, 0]), dx = new Float32Array(2);
    b.prelu(true, 1, 2, f32([NaN, -1]), f32([0.5, 0.5]), y);
    assert.ok(Number.isNaN(y[0]));
    b.preluBackward(true, 1, 2, 0, f32([NaN, -1]), f32([0.5, 0.5]), f32([1, 1]), da, dx);
    assert.ok(Number.isNaN(da[0]));
    allClose([dx[0], dx[1], da[1]], [0.5, 0.5, -1], 'dx and the other column');
  });

  it('no rows: da is beta * da, and nothing is allocated per column (a shared slope over 2^26 columns)', function () {
    this.timeout(60000);
    const da = f32([3]);
    b.preluBackward(false, 0, 5, 0.5, new Float32Array(0), f32([0.25]), new Float32Array(0), da, new Float32Array(0));
    assert.equal(da[0], 1.5);
    // In a process of its own: its peak memory (VmHWM) shows a per-column buffer (512 MB) if one is made.
    const lib = JSON.stringify(path.join(__dirname, '..', 'lib'));
    const script = `const bn = require(${lib}); const be = bn.getBackend(${JSON.stringify(b.name)});
      const da = new Float32Array([3]);
      be.preluBackward(false, 0, 2 ** 26, 0, new Float32Array(0), new Float32Array([0.25]), new Float32Array(0), da, new Float32Array(0));
      const hwm = Number(/VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      console.log(JSON.stringify({ da: da[0], hwm }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { da: number; hwm: number };
    assert.equal(out.da, 0);
    assert.ok(out.hwm < 300, `peak ${out.hwm} MB`);
  });
});

forEachBackend('batch normalisation', (b) => {
  for (const t of BATCH_NORM_CASES) {
    it(t.name, () => {
      const n = t.rows * t.cols;
      const rm = f32(t.runningMean0), rv = f32(t.runningVar0);
      const mean = new Float32Array(t.cols).fill(NaN), invStd = new Float32Array(t.cols).fill(NaN);
      const xhat = new Float32Array(n).fill(NaN), y = new Float32Array(n).fill(NaN);
      const gamma = f32(t.gamma);
      b.batchNormForward(t.training, t.rows, t.cols, t.eps, t.momentum, f32(t.x), gamma, f32(t.beta), rm, rv, mean, invStd, xhat, y);
      allClose(mean, t.mean, 'mean');
      allClose(invStd, t.invStd, 'invStd');
      allClose(xhat, t.xhat, 'xhat');
      allClose(y, t.y, 'y');
      allClose(rm, t.runningMean, 'runningMean');
      allClose(rv, t.runningVar, 'runningVar');
      if (!t.training) {
        assert.deepEqual(Array.from(rm), Array.from(f32(t.runningMean0)), 'eval leaves runningMean bit for bit');
        assert.deepEqual(Array.from(rv), Array.from(f32(t.runningVar0)), 'eval leaves runningVar bit for bit');
      }
      const dgamma = f32(t.dgamma0), dbeta = f32(t.dbeta0), dx = new Float32Array(n).fill(NaN);
      b.batchNormBackward(t.training, t.rows, t.cols, t.gradBeta, xhat, gamma, invStd, f32(t.dy), dgamma, dbeta, dx);
      allClose(dgamma, t.dgamma, 'dgamma');
      allClose(dbeta, t.dbeta, 'dbeta');
      allClose(dx, t.dx, 'dx');
      // Without dx the parameter gradients are the same.
      const dgamma2 = f32(t.dgamma0), dbeta2 = f32(t.dbeta0);
      b.batchNormBackward(t.training, t.rows, t.cols, t.gradBeta, xhat, gamma, invStd, f32(t.dy), dgamma2, dbeta2, null);
      allClose(dgamma2, t.dgamma, 'dgamma (dx null)');
      allClose(dbeta2, t.dbeta, 'dbeta (dx null)');
    });
  }

  it('dx uses this batch\'s sums, not the accumulated dgamma and dbeta', () => {
    const t = BATCH_NORM_CASES[0];
    const dx = new Float32Array(9);
    b.batchNormBackward(true, 3, 3, 1, f32(t.xhat), f32(t.gamma), f32(t.invStd), f32(t.dy), f32([50, -7, 3]), f32([9, 9, 9]), dx);
    allClose(dx, t.dx, 'dx');
  });

  it('training with fewer than 2 rows is a RangeError, as in PyTorch', () => {
    for (const rows of [0, 1]) {
      const e = new Float32Array(2);
      throwsCode(() => b.batchNormForward(true, rows, 2, 1e-5, 0.1, e, f32([1, 1]), f32([0, 0]), f32([0, 0]), f32([1, 1]),
        new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(2)),
      'ERR_BLASNET_ARG_RANGE', RangeError, 'Expected more than 1 value per channel when training');
    }
  });

  it('0 columns do nothing', () => {
    const e = new Float32Array(0);
    b.batchNormForward(true, 5, 0, 1e-5, 0.1, e, e, e, e, e, e, e, e, e);
    b.batchNormBackward(true, 5, 0, 0, e, e, e, e, e, e, e);
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

forEachBackend('optimizer kernels', (b) => {
  for (const t of OPTIMIZER_CASES) {
    it(t.name, () => {
      const layout = OPTIMIZER_KERNELS[t.opt].hyper as readonly string[];
      const unknown = Object.keys(t.hyper).filter((k) => !layout.includes(k));
      assert.deepEqual(unknown, [], 'hyper names not in the layout');
      const hyper = f32(layout.map((k) => t.hyper[k] ?? 0));
      const p = f32(t.param), s = f32(t.state);
      b.optimizerStep(OPTIMIZER_KERNEL_NAMES.indexOf(t.opt), t.param.length, hyper, p, f32(t.grad), s);
      allClose(p, t.expectParam, 'param', 1e-6, 0);
      allClose(s, t.expectState, 'state', 1e-6, 0);
    });
  }

  it('n = 0 touches nothing; only the first n values (and slots of n) are used', () => {
    const adam = OPTIMIZER_KERNEL_NAMES.indexOf('adam');
    const hyper = f32([0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0, 1, 1]);
    const e = new Float32Array(0);
    b.optimizerStep(adam, 0, hyper, e, e, e);
    // n = 1 over longer arrays: slot k starts at k * 1.
    const p = f32([1, 5]), s = f32([1, 1, 7, 7, 7, 7]);
    b.optimizerStep(adam, 1, hyper, p, f32([1, 1]), s);
    allClose(p, [0.5, 5], 'param', 0, 0);
    allClose(s, [1, 1, 7, 7, 7, 7], 'state', 0, 0);
  });

  it('amsgrad and adamax maxima propagate NaN, as torch.maximum', () => {
    const adam = OPTIMIZER_KERNEL_NAMES.indexOf('adam');
    const s = f32([0, 0, 0, 0, NaN, 1]);
    b.optimizerStep(adam, 2, f32([0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 1, 0, 1, 1]), f32([1, 1]), f32([1, 1]), s);
    assert.ok(Number.isNaN(s[4]), 'vMax NaN stays NaN');
    assert.equal(s[5], 1, 'vMax = max(1, 0.5)');
    const adamax = OPTIMIZER_KERNEL_NAMES.indexOf('adamax');
    const u = f32([0, 0, NaN, 0]);
    b.optimizerStep(adamax, 2, f32([0.5, 0.5, 0.5, 0.5, 0, 0, 1]), f32([1, 1]), f32([1, NaN]), u);
    assert.ok(Number.isNaN(u[2]) && Number.isNaN(u[3]), 'u NaN from either side');
  });
});

forEachBackend('clamp', (b) => {
  it('clamps to [lo, hi] in place; NaN stays NaN; infinities clamp', () => {
    const x = f32([-3, -1, 0, 0.5, 2, NaN, Infinity, -Infinity]);
    b.clamp(8, -1, 1, x);
    allClose(x, [-1, -1, 0, 0.5, 1, NaN, 1, -1], 'x', 0, 0);
  });

  it('lo = hi, only the first n, and 0 elements', () => {
    const x = f32([-3, 3, NaN, 9]);
    b.clamp(3, 0.25, 0.25, x);
    allClose(x, [0.25, 0.25, NaN, 9], 'x', 0, 0);
    b.clamp(0, 0, 1, new Float32Array(0));
  });

  it('lo > hi is a RangeError', () => {
    throwsCode(() => b.clamp(1, 1, -1, f32([0])), 'ERR_BLASNET_ARG_RANGE', RangeError, 'Expected lo <= hi');
  });
});
