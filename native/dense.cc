#include "blasnet.h"
#include "table.h"

namespace blasnet {

void denseForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                  const float* w, const float* b, float* z, float* y) {
  if (batch == 0 || outDim == 0) return;
  gemm(false, true, batch, outDim, inDim, 1.0f, x, w, 0.0f, z);
  activationEntry(act).biasForward(batch, outDim, param, b, z, y);
}

void denseBackward(int act, float param, size_t batch, size_t inDim, size_t outDim, float beta,
                   const float* x, const float* w, const float* z, const float* y, const float* dy,
                   float* dz, float* dw, float* db, float* dx) {
  activationEntry(act).backward(batch * outDim, param, z, y, dy, dz);
  gemm(true, false, outDim, inDim, batch, 1.0f, dz, x, beta, dw);
  if (db) colSum(batch, outDim, beta, dz, db);
  if (dx) gemm(false, false, batch, inDim, outDim, 1.0f, dz, w, 0.0f, dx);
}

}  // namespace blasnet
