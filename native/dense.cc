#include "blasnet.h"
#include "pool.h"
#include "table.h"

namespace blasnet {

namespace {

// Elements per piece of the elementwise passes at least: below this a second thread costs more
// than the pass (a 512 x 256 ReLU pass takes about 13 us on one thread here).
constexpr double kMinElementwisePart = 1 << 15;

// out[lo..hi) = beta * out + the column sums of x [rows, cols] over those columns.
void colSumColumns(size_t rows, size_t cols, size_t lo, size_t hi, float beta, const float* x, float* out) {
  if (beta == 0.0f) for (size_t j = lo; j < hi; ++j) out[j] = 0.0f;
  else if (beta != 1.0f) for (size_t j = lo; j < hi; ++j) out[j] *= beta;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (size_t j = lo; j < hi; ++j) out[j] += xr[j];
  }
}

}  // namespace

// The GEMMs cut themselves over the kernel threads (gemm.cc); the elementwise passes around them
// are cut here, by rows (bias and activation), by ranges (the activation's derivative) and by
// columns (the bias gradient, so that no piece needs another's partial sums).
void denseForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                  const float* w, const float* b, float* z, float* y) {
  if (batch == 0 || outDim == 0) return;
  gemm(false, true, batch, outDim, inDim, 1.0f, x, w, 0.0f, z);
  const ActivationEntry& e = activationEntry(act);
  parallel(partsFor(double(batch) * double(outDim), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(batch, 1, p, count, &lo, &hi);
    if (lo < hi) e.biasForward(hi - lo, outDim, param, b, z + lo * outDim, y + lo * outDim);
  });
}

void denseBackward(int act, float param, size_t batch, size_t inDim, size_t outDim, float beta,
                   const float* x, const float* w, const float* z, const float* y, const float* dy,
                   float* dz, float* dw, float* db, float* dx) {
  const ActivationEntry& e = activationEntry(act);
  const size_t n = batch * outDim;
  parallel(partsFor(double(n), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(n, 16, p, count, &lo, &hi);
    if (lo < hi) e.backward(hi - lo, param, z + lo, y + lo, dy + lo, dz + lo);
  });
  gemm(true, false, outDim, inDim, batch, 1.0f, dz, x, beta, dw);
  if (db) {
    parallel(partsFor(double(n), kMinElementwisePart), [&](size_t p, size_t count) {
      size_t lo, hi;
      partRange(outDim, 16, p, count, &lo, &hi);
      if (lo < hi) colSumColumns(batch, outDim, lo, hi, beta, dz, db);
    });
  }
  if (dx) gemm(false, false, batch, inDim, outDim, 1.0f, dz, w, 0.0f, dx);
}

}  // namespace blasnet
