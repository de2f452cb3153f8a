/** Scalar math the activation and loss tables share (float64), and the row argmax of scores. */

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * The error function, to about 1e-15 relative accuracy. For |x| < 6 it sums the series
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), whose terms are all
 * positive (no cancellation); beyond 6, erf(x) is +-1 to double precision.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return x > 0 ? 1 : -1;
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

/** The logistic function, computed so that exp never overflows. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * The index of the first largest value of a[off, off + cols): a value wins only if it is greater
 * than every one before it, so a NaN never does; no columns give 0. Matrix.argmax, the accuracy
 * metrics and the js backend's argmaxRows all take a row's class from here.
 */
export function argmaxRow(a: Float32Array, off: number, cols: number): number {
  let best = 0, top = a[off];
  for (let j = 1; j < cols; j++) {
    const v = a[off + j];
    if (v > top) {
      top = v;
      best = j;
    }
  }
  return best;
}

/**
 * The index of the first of labels[0..n) outside [0, classes), or -1. The js backend's
 * firstLabelOutside, and a training step's check of its batch's labels (a loop this short
 * costs less than a call into the addon once V8 has compiled it).
 */
export function firstLabelOutside(labels: Int32Array, n: number, classes: number): number {
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (c < 0 || c >= classes) return i;
  }
  return -1;
}

/**
 * The largest of `init` and `values` (NaN values are passed over): a loop, as spreading a large
 * array into Math.max overflows the call stack (a 400-class confusion matrix has 160,000 cells).
 */
export function largest(values: Iterable<number>, init = -Infinity): number {
  let m = init;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** The smallest of `init` and `values` (NaN values are passed over), as largest. */
export function smallest(values: Iterable<number>, init = Infinity): number {
  let m = init;
  for (const v of values) if (v < m) m = v;
  return m;
}
