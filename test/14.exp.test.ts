/**
 * The kernels built on exponentials (native/vmath.h on the native backend, Math.exp & co. rounded
 * once on js) against float64, in units in the last place of the float32 result, over the whole
 * range where the result is a finite non-zero float, and at the special values. The kernels expose
 * the primitives exactly: logSoftmaxBackward on a row [x, 0] with dy = [0, 1] gives -exp(x), elu
 * at alpha 1 gives expm1(x) for x <= 0.
 */
import { strict as assert } from 'assert';
import { activationId, Backend, Rng } from '../lib';
import { forEachBackend } from './helpers';

/** The spacing of float32 values at |v| (the subnormal spacing below the normal range). */
function ulpAt(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 23);
}

/** The largest error of got against ref(x) in ulps, and where; both must be NaN or infinite alike. */
function maxUlp(xs: Float32Array, got: (i: number) => number, ref: (x: number) => number): { ulp: number; at: number } {
  let worst = { ulp: 0, at: NaN };
  for (let i = 0; i < xs.length; i++) {
    const want = ref(xs[i]), g = got(i);
    if (!Number.isFinite(want) || Math.abs(want) > 3.4028234663852886e38) {
      assert.ok(Object.is(g, Math.fround(want)), `at x = ${xs[i]}: got ${g}, expected ${Math.fround(want)}`);
      continue;
    }
    const e = Math.abs(g - want) / ulpAt(want);
    if (!(e <= worst.ulp)) worst = { ulp: e, at: xs[i] };
  }
  return worst;
}

/** n seeded floats spread over [lo, hi], and the edges of the ranges that matter. */
function sweep(n: number, lo: number, hi: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const edges = [lo, hi, 0, -0, 1e-30, -1e-30, 1e-8, -1e-8, 0.34657359, -0.34657359, 88.72283, 88.72284, 89, -87.33654, -87.33655, -103.97, -104, -200, 200];
  const xs = new Float32Array(n + edges.length);
  for (let i = 0; i < n; i++) xs[i] = lo + (hi - lo) * rng.uniform();
  xs.set(edges, n);
  return xs.filter((x) => x >= lo && x <= hi);
}

/** -exp(x) for each x, from logSoftmaxBackward on rows [x, 0] with dy = [0, 1]. */
function negExp(b: Backend, xs: Float32Array): Float32Array {
  const rows = xs.length, y = new Float32Array(2 * rows), dy = new Float32Array(2 * rows), dx = new Float32Array(2 * rows);
  for (let i = 0; i < rows; i++) { y[2 * i] = xs[i]; dy[2 * i + 1] = 1; }
  b.logSoftmaxBackward(rows, 2, y, dy, dx);
  return dx.filter((_, i) => i % 2 === 0);
}

function act(b: Backend, name: 'sigmoid' | 'tanh' | 'elu' | 'softplus', p: number, xs: Float32Array): Float32Array {
  const y = new Float32Array(xs.length);
  b.activation(activationId(name), p, xs.length, xs, y);
  return y;
}

forEachBackend('exponentials against float64', (b) => {
  it('exp within 1 ulp over [-110, 95], overflow to +inf and underflow to 0 exact', () => {
    const xs = sweep(200000, -110, 95, 1), y = negExp(b, xs);
    const w = maxUlp(xs, (i) => -y[i], Math.exp);
    assert.ok(w.ulp <= 1, `${w.ulp.toFixed(3)} ulp at x = ${w.at}`);
  });

  it('expm1 (elu at alpha 1, x <= 0) within 2 ulp over [-110, 0]', () => {
    const xs = sweep(200000, -110, 0, 2), y = act(b, 'elu', 1, xs);
    const w = maxUlp(xs, (i) => y[i], Math.expm1);
    assert.ok(w.ulp <= 2, `${w.ulp.toFixed(3)} ulp at x = ${w.at}`);
  });

  it('sigmoid, tanh and softplus within 3 ulp over [-110, 110]', () => {
    const xs = sweep(200000, -110, 110, 3);
    const cases: ['sigmoid' | 'tanh' | 'softplus', (x: number) => number][] = [
      ['sigmoid', (x) => 1 / (1 + Math.exp(-x))],
      ['tanh', Math.tanh],
      ['softplus', (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))],
    ];
    for (const [name, ref] of cases) {
      const y = act(b, name, 0, xs);
      const w = maxUlp(xs, (i) => y[i], ref);
      assert.ok(w.ulp <= 3, `${name}: ${w.ulp.toFixed(3)} ulp at x = ${w.at}`);
    }
  });

  it('special values: NaN stays NaN, infinities and signed zeros as libm', () => {
    const xs = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 89, -104]);
    assert.deepEqual([...negExp(b, xs)].map((v) => 0 - v), [NaN, Infinity, 0, 1, 1, Infinity, 0]);
    assert.deepEqual([...act(b, 'sigmoid', 0, xs)], [NaN, 1, 0, 0.5, 0.5, 1, 0]);
    const t = act(b, 'tanh', 0, xs);
    assert.deepEqual([...t], [NaN, 1, -1, 0, -0, 1, -1]);
    assert.ok(Object.is(t[4], -0) && Object.is(t[3], 0), 'tanh keeps the sign of zero');
    assert.deepEqual([...act(b, 'softplus', 0, xs)], [NaN, Infinity, 0, Math.fround(Math.LN2), Math.fround(Math.LN2), 89, 0]);
    assert.deepEqual([...act(b, 'elu', 1, xs)], [NaN, Infinity, -1, 0, -0, 89, -1]);
  });
});
