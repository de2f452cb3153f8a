#include "blasnet.h"
#include "packed.h"
#include "pool.h"
#include "table.h"

namespace blasnet {

// The GEMMs, the activation's derivative and the bias gradient's column sum cut themselves over
// the kernel threads (gemm.cc, activations.cc, rowops.cc); the fused bias-and-activation pass is
// cut here, by rows. The forward pass runs on blasnet's packed micro-kernels instead where
// livePackedForward takes it (packed.h).
void denseForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                  const float* w, const float* b, float* z, float* y) {
  if (batch == 0 || outDim == 0) return;
  if (packedForwardOn() && livePackedForward(act, param, batch, inDim, outDim, x, w, b, z, y)) return;
  gemm(false, true, batch, outDim, inDim, 1.0f, x, w, 0.0f, z);
  const BiasForwardFn biasForward = activationEntry(act).biasForward();
  parallel(partsFor(double(batch) * double(outDim), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(batch, 1, p, count, &lo, &hi);
    if (lo < hi) biasForward(hi - lo, outDim, param, b, z + lo * outDim, y + lo * outDim);
  });
}

void denseBackward(int act, float param, size_t batch, size_t inDim, size_t outDim, float beta,
                   const float* x, const float* w, const float* z, const float* y, const float* dy,
                   float* dz, float* dw, float* db, float* dx) {
  activationBackward(act, param, batch * outDim, z, y, dy, dz);
  gemm(true, false, outDim, inDim, batch, 1.0f, dz, x, beta, dw);
  if (db) colSum(batch, outDim, beta, dz, db);
  if (dx) gemm(false, false, batch, inDim, outDim, 1.0f, dz, w, 0.0f, dx);
}

}  // namespace blasnet
