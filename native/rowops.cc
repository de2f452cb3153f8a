#include <cmath>
#include <cstring>

#include "blasnet.h"

namespace blasnet {

// Row loops return at once when rows are empty, so a huge row count with no columns costs nothing.
void addBias(size_t rows, size_t cols, const float* bias, float* y) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    float* yr = y + r * cols;
    for (size_t j = 0; j < cols; ++j) yr[j] += bias[j];
  }
}

void colSum(size_t rows, size_t cols, float beta, const float* x, float* out) {
  if (cols == 0) return;
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

// OpenBLAS's dsdot does not accumulate every term in double on all cores, so the sum is done
// here: four double accumulators, which the compiler vectorises.
double dot(size_t n, const float* x, const float* y) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += double(x[i]) * y[i];
    s1 += double(x[i + 1]) * y[i + 1];
    s2 += double(x[i + 2]) * y[i + 2];
    s3 += double(x[i + 3]) * y[i + 3];
  }
  for (; i < n; ++i) s0 += double(x[i]) * y[i];
  return (s0 + s1) + (s2 + s3);
}

double sumSquares(size_t n, const float* x) { return dot(n, x, x); }

void mul(size_t n, const float* x, const float* y, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * y[i];
}

// Comparisons rather than fmin/fmax, which would replace a NaN by a bound.
void clamp(size_t n, float lo, float hi, float* x) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = v < lo ? lo : v > hi ? hi : v;
  }
}

double penalty(size_t n, float l1, float l2, const float* w, float* grad) {
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double v = w[i];
    s1 += std::fabs(v);
    s2 += v * v;
  }
  if (grad) {
    for (size_t i = 0; i < n; ++i) {
      const float v = w[i];
      // Branches rather than copysign: sign(0) = 0 (the subgradient PyTorch uses for |w| at 0).
      const float sign = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
      grad[i] += l1 * sign + l2 * v;
    }
  }
  return l1 * s1 + 0.5 * l2 * s2;
}

}  // namespace blasnet
