#include <algorithm>
#include <cblas.h>
#include <cstring>

#include "blasnet.h"
#include "pool.h"

namespace blasnet {

// The cores whose SGEMM has kernels for small products that read the operands in place (see
// kSmallKernelWork below).
bool openblasHasSmallKernels() {
  const char* core = openblas_get_corename();
  if (!core) return false;
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"}) {
    if (std::strcmp(core, name) == 0) return true;
  }
  return false;
}

namespace {

// OpenBLAS runs single-threaded inside blasnet: the pool (pool.h) supplies the threads.
const bool kBlasSingleThreaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

// A piece of a GEMM smaller than this many multiply-adds costs more to hand to another thread
// than it saves (measured on the reference MLP's shapes: 32x128x256 halves pay, 10x128x32 not).
constexpr double kMinPartWork = 1 << 18;
// Columns (or rows) per piece at least, in multiples of which pieces are cut: narrower blocks
// waste OpenBLAS's 16-wide micro-kernels.
constexpr size_t kMinPartWidth = 16;
constexpr size_t kAlign = 16;
// A product whose K is at most this (B not transposed) is cut by rows even when C is wider than
// tall. With little work per element of C, writing C is a large part of the product, and column
// blocks interleave the two threads' writes in every row of C; row blocks give each thread a
// range of memory of its own. Measured on two threads (SkylakeX kernels), column blocks against
// row blocks: a batch-128 weight gradient 256x784x128 228 against 185 us, 128x256x128 49 against
// 30 us, an input gradient 128x256x128 50 against 32 us, 256x784x64 174 against 107 us. From
// K = 256 on the columns do as well or better (128x256x512: 143 against 188 us); with B
// transposed neither cut wins clearly, nor with few rows: 32x784x128 (a batch-128 weight gradient
// of 32 units) took 36 us in row blocks against 31 in column blocks.
constexpr size_t kRowCutK = 128;
constexpr size_t kRowCutMinRows = 128;
// With A transposed and K at most kSmallRowCutK, rows from kSmallRowCutMinRows are cut by rows
// too: a weight gradient (dW = dZ^T X) of 32-127 units at batch 32 or less. A cut by columns
// gives each thread a column block of every row of dW, while the optimiser step that reads dW
// next gives each thread rows (native/optimizers.cc), so each core read lines the other had
// written and the next product rewrote lines the other had read. One-epoch fits, two threads (bench/RESULTS.md run AD):
// 784-32-10 at batch 32 93.2 -> 83.1 ms where the two vCPUs sit far apart and 53.8-56.5 ->
// 53.2 where they sit close; 784-64-64-10 at 32 156.1 -> 144.2 and 97.0-98.6 -> 92.4-94.4. At
// batch 64 and 128 rows cost 784-32-10 5-7% (far), so the cut there stays as above.
constexpr size_t kSmallRowCutK = 32;
constexpr size_t kSmallRowCutMinRows = 32;

// OpenBLAS's packed path scales C by beta in a pass of its own before the product, and on the
// cores without small-matrix kernels (Haswell, Zen) that pass ran far slower than a memset: one
// Zen 3 core took 222 us for a batch-32 weight gradient 256x784x32 with beta 0, 172 with C zeroed
// by memset first and beta 1, and 159 for the product alone (bench/c/gemm.c --beta; bench/
// RESULTS.md, run AF). There, beta 0 zeroes C here and passes beta 1: the same bits, the kernel
// adding each sum to a zero either way.
// (The small-matrix kernels of the AVX-512 cores have beta-0 variants that never read C.)
const bool kZeroBeforeProduct = !openblasHasSmallKernels();

void blasGemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
              size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (beta == 0.0f && kZeroBeforeProduct) {
    for (size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// OpenBLAS's AVX-512 cores have SGEMM kernels for small products that read the operands in
// place instead of packing them (its sgemm_small_kernel_permit decides; measured here, a product
// takes them up to M*N*K = 1e6, and the time of 5x256x784 is 6x that of 4x256x784). Above that, a product with few rows goes through the packed path,
// which repacks the whole weight matrix on every call: on SkylakeX one core took 114 us for
// 16x256x784 whole and 4 x 13 us cut into 8x128 pieces. A short inner dimension pays too: the
// packed path first scales C by beta in a pass of its own, then reads and writes C again, which
// for a weight gradient at a small batch (dW = dZ^T X, K = the batch) is most of the work; on
// SkylakeX one core took 58 us for 256x392x32 whole and 43 us in pieces under the limit, and two
// cores 151 us for 256x784x32 whole against 62 us. With a larger C or K the packed path holds its
// own or wins (1024x1024x64 on one core: 1.1 ms whole, 1.7 ms in pieces), and with B transposed
// the small kernel is the slower one (512x4096x32: 1.0 ms whole, 1.6 ms in pieces). So a product
// with a short M or N (a small batch's forward pass and input gradient), or a short K, B not
// transposed and C of at most kShortKOutput values (a small batch's weight gradient), is cut into
// pieces under the limit, about 8 rows by as many columns as fit (all N and as many rows as fit,
// when K is the short side); big batches keep the packed path, which is faster per multiply-add
// once its packing is spread over enough rows.
constexpr double kSmallKernelWork = 1e6;
constexpr size_t kShortSide = 64;
constexpr size_t kShortK = 32;
constexpr double kShortKOutput = 1 << 18;
constexpr size_t kPieceRows = 8;


// Read once: the core OpenBLAS picked does not change while the process runs.
const bool kSmallKernels = openblasHasSmallKernels();

// Without the small kernels, OpenBLAS packs the whole of B for a product of even one row, so a
// product of 1-3 rows costs more than one of 4 (Zen kernels, one thread: a batch-1 forward pass
// 1x256x784 72 us, 3 rows 56 us, 4 rows 33 us). Up to kGemvRows rows, each row of C is one
// matrix-vector product over B in place instead (cblas_sgemv packs nothing): 1, 2 and 3 rows
// 12.5, 23-28 and 19-30 us (bench/RESULTS.md, run AE).
constexpr size_t kGemvRows = 3;

// blasGemm for C [m, n] one row at a time: C[i, :] = alpha * op(A)[i, :] op(B) + beta * C[i, :].
void blasGemvRows(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
                  size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  // op(B) [k, n]: B stored [n, k] when transposed (C's row = B a), else [k, n] (C's row = B^T a).
  const CBLAS_TRANSPOSE t = transB ? CblasNoTrans : CblasTrans;
  const blasint rows = static_cast<blasint>(transB ? n : k), cols = static_cast<blasint>(transB ? k : n);
  // op(A)'s row i: A's row i (A is [m, k]), or A's column i (A is [k, m], a stride of lda).
  const blasint incA = static_cast<blasint>(transA ? lda : 1);
  for (size_t i = 0; i < m; ++i) {
    const float* ai = transA ? a + i : a + i * lda;
    // beta 0 overwrites C, NaN included, whatever the BLAS's scaling by 0 does with a NaN.
    if (beta == 0.0f) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    cblas_sgemv(CblasRowMajor, t, rows, cols, alpha, b, static_cast<blasint>(ldb), ai, incA, beta, c + i * ldc, 1);
  }
}

// blasGemm on C [m, n], cut into pieces the small kernels take when the product has a short side,
// m, n or k (see kSmallKernelWork); without them, 1-3 rows go row by row (blasGemvRows). The
// path depends only on the shape, so results repeat.
void blasGemmPieces(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
                    size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (!kSmallKernels && m <= kGemvRows) {
    blasGemvRows(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const double work = double(m) * double(n) * double(k);
  const bool shortK = k <= kShortK && !transB && double(m) * double(n) <= kShortKOutput;
  if (!kSmallKernels || work <= kSmallKernelWork || (std::min(m, n) > kShortSide && !shortK)) {
    blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  size_t rows = std::min(m, kPieceRows);
  size_t cols = static_cast<size_t>(kSmallKernelWork / (double(rows) * double(k)));
  if (cols >= n) {
    cols = n;
    rows = std::max<size_t>(1, static_cast<size_t>(kSmallKernelWork / (double(n) * double(k))));
  } else {
    cols = std::max(kMinPartWidth, cols / kMinPartWidth * kMinPartWidth);
  }
  for (size_t i = 0; i < m; i += rows) {
    const size_t mr = std::min(rows, m - i);
    // op(A)'s rows i..i+mr: A's rows (A is [m, k]) or A's columns (A is [k, m]).
    const float* ap = transA ? a + i : a + i * lda;
    for (size_t j = 0; j < n; j += cols) {
      const size_t nc = std::min(cols, n - j);
      // op(B)'s columns j..j+nc: B's columns (B is [k, n]) or B's rows (B is [n, k]).
      const float* bp = transB ? b + j * ldb : b + j;
      blasGemm(transA, transB, mr, nc, k, alpha, ap, lda, bp, ldb, beta, c + i * ldc + j, ldc);
    }
  }
}

}  // namespace

void gemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  (void)kBlasSingleThreaded;
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    // BLAS rejects a zero leading dimension; with no inner products, or alpha 0, C = beta * C and
    // A and B are not read. (OpenBLAS's SkylakeX small kernels multiply by alpha after the
    // product, so a NaN in A or B reached C.)
    const size_t len = m * n;
    if (beta == 0.0f) std::fill(c, c + len, 0.0f);
    else if (beta != 1.0f) for (size_t i = 0; i < len; ++i) c[i] *= beta;
    return;
  }
  const size_t lda = transA ? m : k, ldb = transB ? k : n;
  // Cut C into blocks of whole columns (or whole rows, when it has more rows than columns, or a
  // short K: see kRowCutK), one GEMM per block. A block may round differently from the whole
  // product in the last bit, but the cut depends only on the shape and threads(), so results
  // repeat at a given thread count.
  const bool shortKRows = !transB && ((k <= kRowCutK && m >= kRowCutMinRows) ||
                                       (transA && k <= kSmallRowCutK && m >= kSmallRowCutMinRows));
  const bool byColumns = n >= m && !shortKRows;
  const size_t width = byColumns ? n : m;
  size_t parts = partsFor(double(m) * double(n) * double(k), kMinPartWork);
  if (parts > width / kMinPartWidth) parts = width / kMinPartWidth;
  if (parts <= 1) {
    blasGemmPieces(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    return;
  }
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(width, kAlign, p, count, &lo, &hi);
    if (lo >= hi) return;
    if (byColumns) {
      // op(B)'s columns lo..hi: B's columns (B is [k, n]) or B's rows (B is [n, k]).
      const float* bp = transB ? b + lo * k : b + lo;
      blasGemmPieces(transA, transB, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, n);
    } else {
      // op(A)'s rows lo..hi: A's rows (A is [m, k]) or A's columns (A is [k, m]).
      const float* ap = transA ? a + lo : a + lo * k;
      blasGemmPieces(transA, transB, hi - lo, n, k, alpha, ap, lda, b, ldb, beta, c + lo * n, n);
    }
  });
}

void gemmBatched(bool transA, bool transB, size_t m, size_t n, size_t k, size_t batch, float alpha,
                 const float* a, size_t strideA, const float* b, size_t strideB, float beta,
                 float* c, size_t strideC) {
  if (m == 0 || n == 0) return;  // no work, however large the batch
  for (size_t i = 0; i < batch; ++i) {
    gemm(transA, transB, m, n, k, alpha, a + i * strideA, b + i * strideB, beta, c + i * strideC);
  }
}

void setNumThreads(int n) { setThreads(n); }
int numThreads() { return threads(); }
int setThreadLimit(int n) { return setCallerThreadLimit(n); }
int numProcs() { return availableCpus(); }
const char* blasConfig() { return openblas_get_config(); }
const char* blasCoreName() { return openblas_get_corename(); }

}  // namespace blasnet
