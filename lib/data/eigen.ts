/**
 * Symmetric eigendecomposition in float64: Householder reduction to tridiagonal form, then the
 * implicit QL algorithm with Wilkinson-style shifts (the EISPACK tred2 / tql2 pair, as in
 * Wilkinson and Reinsch's Handbook for Automatic Computation, vol. II).
 */
import { show } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag, typedLength } from '../typed';

/** Eigenvalues in descending order and their unit eigenvectors. */
export interface SymmetricEigen {
  /** The n eigenvalues, largest first. */
  values: Float64Array;
  /**
   * [n, n] row-major: row i is the unit eigenvector of values[i], its sign chosen so that its
   * largest-magnitude entry is positive (the first such entry on ties), for reproducible output.
   */
  vectors: Float64Array;
}

/** sqrt(a^2 + b^2) without overflow or underflow in the squares. */
function hypot(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  if (a < b) {
    const t = a;
    a = b;
    b = t;
  }
  if (a === 0) return 0;
  const r = b / a;
  return a * Math.sqrt(1 + r * r);
}

/**
 * Eigenvalues and eigenvectors of the symmetric n x n matrix `a` (row-major; only its lower
 * triangle is read; `a` is not modified): A = V^T diag(values) V with V's rows the eigenvectors.
 * Cost: about (4/3) n^3 flops to tridiagonalise, (4/3) n^3 to accumulate the transformations and
 * roughly 3 n^3 in the QL sweeps (two or so per eigenvalue), all on one thread in float64: 1.5 to 2 s
 * for n = 784 on a current x86 core (the covariance of Fashion-MNIST), so it suits the few hundred to a thousand dimensions
 * of PCA on features, not tens of thousands. Every inner loop walks memory contiguously (the
 * transformation is kept transposed), which is what makes it fast in JavaScript.
 * Non-finite input is ERR_BLASNET_DATA; no convergence after 60 iterations for an eigenvalue (which
 * finite input does not reach in practice) is ERR_BLASNET_INTERNAL.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const fn = 'symmetricEigen';
  if (!(Number.isInteger(n) && n >= 0)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected non-negative integer for n but received ${show(n)}`);
  if (typedArrayTag(a) !== 'Float64Array') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Float64Array for a`);
  if (typedLength(a) < n * n) throw rangeError(ErrorCode.ARG_LENGTH, `${fn}: Expected a to hold at least ${n * n} elements (n*n) but it has ${typedLength(a)}`);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = a[i * n + j];
      if (v - v !== 0) throw new BlasnetError(ErrorCode.DATA, `${fn}: a[${i}, ${j}] is ${v}; expected finite values`);
    }
  }
  // w holds V transposed: w[j * n + k] is V[k][j] of the classic formulation. Starting from the
  // lower triangle of A, the classic V[k][j] (k >= j) is A[k][j] = A[j][k] by symmetry, so w is
  // filled from the lower triangle read by columns.
  const w = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let k = j; k < n; k++) w[j * n + k] = a[k * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tred2(n, w, d, e);
    tql2(n, w, d, e);
  }
  // Sort descending (tql2 leaves them in no particular order), moving the vectors along.
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => d[q] - d[p] || p - q);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const src = order[r];
    values[r] = d[src];
    // Column src of V is row src of w.
    let big = 0, sign = 1;
    for (let k = 0; k < n; k++) {
      const v = w[src * n + k];
      if (Math.abs(v) > big) {
        big = Math.abs(v);
        sign = v < 0 ? -1 : 1;
      }
    }
    for (let k = 0; k < n; k++) vectors[r * n + k] = sign * w[src * n + k];
  }
  return { values, vectors };
}

/** Householder tridiagonalisation: d the diagonal, e the subdiagonal (in e[1..n-1]), w the transform. */
function tred2(n: number, w: Float64Array, d: Float64Array, e: Float64Array): void {
  // V[k][j] is w[j * n + k] throughout.
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      // The Householder vector, scaled against overflow and underflow.
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // The similarity transformation on the remaining columns.
      for (let j = 0; j < i; j++) {
        const col = j * n;
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[col + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const v = w[col + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const col = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) w[col + k] -= f * e[k] + g * d[k];
        d[j] = w[col + i - 1];
        w[col + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    w[i * n + n - 1] = w[i * n + i];
    w[i * n + i] = 1;
    const h = d[i + 1];
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[next + k] * w[col + k];
        for (let k = 0; k <= i; k++) w[col + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), accumulating the rotations into w. */
function tql2(n: number, w: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    // Find a negligible subdiagonal element.
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) {
          throw new BlasnetError(ErrorCode.INTERNAL, `symmetricEigen: no convergence for eigenvalue ${l} after 60 iterations`);
        }
        // The implicit shift.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // The QL sweep, from m - 1 up to l.
        p = d[m];
        let c = 1, c2 = 1, c3 = 1;
        const el1 = e[l + 1];
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate columns i and i + 1 of V: rows i and i + 1 of w.
          const ci = i * n, cj = ci + n;
          for (let k = 0; k < n; k++) {
            const t = w[cj + k];
            const u = w[ci + k];
            w[cj + k] = s * u + c * t;
            w[ci + k] = c * u - s * t;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
