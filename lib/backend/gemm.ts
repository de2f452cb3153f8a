/**
 * The js backend's GEMM: C = alpha * op(A) * op(B) + beta * C, blocked for the cache.
 *
 * op(B) is packed a KC-deep panel at a time into strips of 4 columns, op(A) an MC-row block at a
 * time into strips of 3 rows (alpha folded in), and a 3x4 register-blocked kernel runs over the
 * packed strips, accumulating in float64. (3x4 keeps its 12 accumulators and 7 operands closer to
 * the 16 registers V8 has for doubles: it measured 1.3-1.5x faster than a 4x4 kernel here.)
 * Packing also turns transposed operands into unit-stride reads, so all four transpose cases run
 * the same inner loop. Offsets let gemmBatched address matrices inside one array without creating
 * views. With beta = 0 the first KC panel stores its sums rather than adding them to C, so C is
 * not zeroed first (and a NaN in C does not survive, as BLAS specifies).
 */
const KC = 256;
const MC = 63; // a multiple of the kernel's 3 rows
const MR = 3;

let packA = new Float64Array(MC * KC);
let packB = new Float64Array(4 * KC);
const edge = new Float64Array(MR * 4);
/** Whether primeTypeFeedback has run (on the first call). */
let primed = false;

export function gemmBlocked(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, aOff: number, b: Float32Array, bOff: number, beta: number,
  c: Float32Array, cOff: number,
): void {
  if (!primed) {
    primed = true;
    primeTypeFeedback();
  }
  if (m === 0 || n === 0) return;
  const mn = m * n;
  if (k === 0 || alpha === 0) {
    if (beta === 0) c.fill(0, cOff, cOff + mn);
    else if (beta !== 1) for (let i = cOff; i < cOff + mn; i++) c[i] *= beta;
    return;
  }
  if (beta !== 0 && beta !== 1) for (let i = cOff; i < cOff + mn; i++) c[i] *= beta;

  const nStrips = (n + 3) >> 2;
  if (packB.length < nStrips * 4 * KC) packB = new Float64Array(nStrips * 4 * KC);
  const A = packA;
  const B = packB;

  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = Math.min(KC, k - p0);
    // Every element of C gets one kernel per panel: the first panel's store replaces C when beta is 0.
    const store = p0 === 0 && beta === 0;
    packPanelB(transB, n, k, b, bOff, p0, kc, nStrips, B);
    for (let i0 = 0; i0 < m; i0 += MC) {
      const mc = Math.min(MC, m - i0);
      const mStrips = Math.ceil(mc / MR);
      packBlockA(transA, m, k, alpha, a, aOff, i0, mStrips, p0, kc, A);
      for (let is = 0; is < mStrips; is++) {
        const i = i0 + is * MR;
        for (let js = 0; js < nStrips; js++) {
          kernel3x4(A, is * kc * MR, B, js * kc * 4, kc, c, cOff, i, js * 4, m, n, store);
        }
      }
    }
  }
}

/**
 * Packs op(B)[p0:p0+kc, :] into strips of 4 columns: B[(js*kc + pp)*4 + s] = op(B)(p0+pp, 4 js + s),
 * zero beyond column n. The transpose test and the edge test are hoisted out of the element loop
 * (packing the 784x256 weight of a batch-32 product element by element with both inside cost
 * about a tenth of the product).
 */
function packPanelB(transB: boolean, n: number, k: number, b: Float32Array, bOff: number, p0: number, kc: number,
  nStrips: number, B: Float64Array): void {
  const full = n >> 2;
  for (let js = 0; js < nStrips; js++) {
    let dst = js * kc * 4;
    const j = js * 4;
    if (js < full) {
      if (transB) {
        // op(B)(p, j + s) = b[(j + s) k + p]: four rows of b read side by side.
        let r0 = bOff + j * k + p0;
        const end = r0 + kc;
        for (; r0 < end; r0++) {
          B[dst] = b[r0]; B[dst + 1] = b[r0 + k]; B[dst + 2] = b[r0 + 2 * k]; B[dst + 3] = b[r0 + 3 * k];
          dst += 4;
        }
      } else {
        // op(B)(p, j + s) = b[p n + j + s]: four neighbours of one row of b.
        let r = bOff + p0 * n + j;
        for (let pp = 0; pp < kc; pp++) {
          B[dst] = b[r]; B[dst + 1] = b[r + 1]; B[dst + 2] = b[r + 2]; B[dst + 3] = b[r + 3];
          dst += 4;
          r += n;
        }
      }
    } else {
      for (let pp = 0; pp < kc; pp++) {
        const p = p0 + pp;
        for (let s = 0; s < 4; s++) {
          const jj = j + s;
          B[dst++] = jj < n ? (transB ? b[bOff + jj * k + p] : b[bOff + p * n + jj]) : 0;
        }
      }
    }
  }
}

/**
 * Packs alpha * op(A)[i0:i0+MR*mStrips, p0:p0+kc] into strips of MR rows:
 * A[(is*kc + pp)*MR + r] = alpha * op(A)(i0 + MR is + r, p0+pp), zero beyond row m.
 */
function packBlockA(transA: boolean, m: number, k: number, alpha: number, a: Float32Array, aOff: number, i0: number,
  mStrips: number, p0: number, kc: number, A: Float64Array): void {
  for (let is = 0; is < mStrips; is++) {
    let dst = is * kc * MR;
    const i = i0 + is * MR;
    if (i + MR <= m) {
      if (transA) {
        // op(A)(i + r, p) = a[p m + i + r]: three neighbours of one row of a.
        let r = aOff + p0 * m + i;
        for (let pp = 0; pp < kc; pp++) {
          A[dst] = alpha * a[r]; A[dst + 1] = alpha * a[r + 1]; A[dst + 2] = alpha * a[r + 2];
          dst += 3;
          r += m;
        }
      } else {
        // op(A)(i + r, p) = a[(i + r) k + p]: three rows of a read side by side.
        let r0 = aOff + i * k + p0;
        const end = r0 + kc;
        for (; r0 < end; r0++) {
          A[dst] = alpha * a[r0]; A[dst + 1] = alpha * a[r0 + k]; A[dst + 2] = alpha * a[r0 + 2 * k];
          dst += 3;
        }
      }
    } else {
      for (let pp = 0; pp < kc; pp++) {
        const p = p0 + pp;
        for (let r = 0; r < MR; r++) {
          const ii = i + r;
          A[dst++] = ii < m ? alpha * (transA ? a[aOff + p * m + ii] : a[aOff + ii * k + p]) : 0;
        }
      }
    }
  }
}

/**
 * C[i:i+3, j:j+4] (+)= the packed strips' product: stored when `store`, else added. Tiles that
 * cross C's edge go through `edgeTile`, kept out of this function so that its loop compiles alone.
 */
function kernel3x4(
  A: Float64Array, ap: number, B: Float64Array, bp: number, kc: number,
  c: Float32Array, cOff: number, i: number, j: number, m: number, n: number, store: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  for (let pp = 0; pp < kc; pp++) {
    const a0 = A[ap], a1 = A[ap + 1], a2 = A[ap + 2];
    const b0 = B[bp], b1 = B[bp + 1], b2 = B[bp + 2], b3 = B[bp + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    ap += 3;
    bp += 4;
  }
  if (i + 3 <= m && j + 4 <= n) {
    let o = cOff + i * n + j;
    if (store) {
      c[o] = c00; c[o + 1] = c01; c[o + 2] = c02; c[o + 3] = c03; o += n;
      c[o] = c10; c[o + 1] = c11; c[o + 2] = c12; c[o + 3] = c13; o += n;
      c[o] = c20; c[o + 1] = c21; c[o + 2] = c22; c[o + 3] = c23;
    } else {
      c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03; o += n;
      c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13; o += n;
      c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23;
    }
    return;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  edgeTile(c, cOff, i, j, m, n, store);
}

/** The part of `edge` (a 3x4 tile at row i, column j) that lies inside C, stored or added. */
function edgeTile(c: Float32Array, cOff: number, i: number, j: number, m: number, n: number, store: boolean): void {
  for (let r = 0; r < MR && i + r < m; r++) {
    for (let s = 0; s < 4 && j + s < n; s++) {
      const o = cOff + (i + r) * n + j + s;
      c[o] = store ? edge[r * 4 + s] : c[o] + edge[r * 4 + s];
    }
  }
}

/**
 * Runs every path of gemmBlocked once on tiny operands before its first real call (all four
 * transpose cases, the three kinds of beta, tiles inside and across C's edges, one panel and
 * two), so that V8 has type feedback for every branch before it optimises the loops. Without
 * it, a branch first taken after optimisation (an edge tile, a transposed pack) deoptimises the
 * function, and which code V8 settles on then depends on the timing of its background compiles:
 * the same product ran at 2.4 or at 4.8 GFLOP/s from one process to the next (bench/RESULTS.md,
 * run AA). It costs about 1.5 ms, once per process, on the first call.
 */
function primeTypeFeedback(): void {
  const k = KC + 1;
  const a = new Float32Array(4 * k), b = new Float32Array(4 * k), c = new Float32Array(12);
  for (let i = 0; i < a.length; i++) {
    a[i] = (i % 7) - 3;
    b[i] = (i % 5) - 2;
  }
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const beta of [0, 1, 0.5]) {
        gemmBlocked(transA, transB, 3, 4, 2, 1.5, a, 0, b, 0, beta, c, 0);
        gemmBlocked(transA, transB, 2, 3, 2, 1.5, a, 0, b, 0, beta, c, 0);
      }
    }
  }
  // Two panels: the second adds to what the first stored (the transposes only change packing).
  gemmBlocked(false, false, 3, 4, k, 1, a, 0, b, 0, 0, c, 0);
}
