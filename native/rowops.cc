#include <cblas.h>
#include <cstring>

#include "blasnet.h"

namespace blasnet {

void addBias(size_t rows, size_t cols, const float* bias, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    float* yr = y + r * cols;
    for (size_t j = 0; j < cols; ++j) yr[j] += bias[j];
  }
}

void colSum(size_t rows, size_t cols, float beta, const float* x, float* out) {
  if (beta == 0.0f) std::memset(out, 0, cols * sizeof(float));
  else if (beta != 1.0f) for (size_t j = 0; j < cols; ++j) out[j] *= beta;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (size_t j = 0; j < cols; ++j) out[j] += xr[j];
  }
}

Status gatherRows(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src,
                  float* dst) {
  for (size_t r = 0; r < rows; ++r) {
    if (index[r] < 0 || static_cast<size_t>(index[r]) >= srcRows) return Status::BadIndex;
  }
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * cols, src + static_cast<size_t>(index[r]) * cols, cols * sizeof(float));
  }
  return Status::Ok;
}

void scale(size_t n, float alpha, float* x) {
  for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}

void axpy(size_t n, float alpha, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

double dot(size_t n, const float* x, const float* y) {
  if (n == 0) return 0.0;
  return cblas_dsdot(static_cast<blasint>(n), x, 1, y, 1);
}

double sumSquares(size_t n, const float* x) { return dot(n, x, x); }

}  // namespace blasnet
