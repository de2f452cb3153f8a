#include <algorithm>
#include <cblas.h>

#include "blasnet.h"

namespace blasnet {

void gemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // BLAS rejects a zero leading dimension; with no inner products C = beta * C.
    const size_t len = m * n;
    if (beta == 0.0f) std::fill(c, c + len, 0.0f);
    else if (beta != 1.0f) for (size_t i = 0; i < len; ++i) c[i] *= beta;
    return;
  }
  const blasint lda = static_cast<blasint>(transA ? m : k);
  const blasint ldb = static_cast<blasint>(transB ? k : n);
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              lda, b, ldb, beta, c, static_cast<blasint>(n));
}

void gemmBatched(bool transA, bool transB, size_t m, size_t n, size_t k, size_t batch, float alpha,
                 const float* a, size_t strideA, const float* b, size_t strideB, float beta,
                 float* c, size_t strideC) {
  if (m == 0 || n == 0) return;  // no work, however large the batch
  for (size_t i = 0; i < batch; ++i) {
    gemm(transA, transB, m, n, k, alpha, a + i * strideA, b + i * strideB, beta, c + i * strideC);
  }
}

void setNumThreads(int n) { openblas_set_num_threads(n); }
int numThreads() { return openblas_get_num_threads(); }
int numProcs() { return openblas_get_num_procs(); }
const char* blasConfig() { return openblas_get_config(); }
const char* blasCoreName() { return openblas_get_corename(); }

}  // namespace blasnet
