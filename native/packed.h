// Dense inference over pre-packed weights. OpenBLAS repacks the weight matrix on every SGEMM call
// and adds the bias and activation in a second pass over the output; an inference function calls
// the same layers with the same weights thousands of times, so here the weights are packed once
// (packDense, when the function is compiled) into the layout blasnet's own micro-kernels read,
// the input rows are read in place, and the bias and activation are applied to each tile of the
// output while it is still in registers (ReLU and identity) or in L1 (the other activations, by
// the activation table's own loops). The micro-kernels are compiled per instruction-set level
// (AVX-512, AVX2 with FMA) and chosen by isa() like the other kernels; the portable level runs
// OpenBLAS on each panel, then the bias and activation. Unlike the other kernels, the levels round
// differently (fused multiply-adds, another order of the sums over k), as any two GEMMs do.
#pragma once

#include <cstddef>

namespace blasnet {

// Output columns per panel of the packed layout.
constexpr size_t kPackPanel = 16;

// Floats a packed dense layer of outDim units over inDim inputs occupies:
// panels(outDim) * kPackPanel * (inDim + 1).
size_t packedDenseLength(size_t outDim, size_t inDim);

// Packs w [outDim, inDim] and b [outDim] (null: zeros) into packed[packedDenseLength(outDim, inDim)]:
// for each panel of kPackPanel units, inDim rows of kPackPanel weights (W^T's rows, units past
// outDim zero), then the bias padded with zeros to whole panels.
void packDense(size_t outDim, size_t inDim, const float* w, const float* b, float* packed);

// y = f(x * w^T + b) for x [batch, inDim], over the weights and bias packDense packed; y [batch,
// outDim] is written and z is not kept. Rows (or, for a short batch, panels) are cut over the
// kernel threads.
void packedDenseForward(int act, float param, size_t batch, size_t inDim, size_t outDim,
                        const float* x, const float* packed, float* y);

// Whether denseForward runs on blasnet's own micro-kernels (livePackedForward): by default at both
// x86 levels (AVX2, AVX-512), where they were measured ahead of OpenBLAS's; BLASNET_PACKED_FORWARD=0
// (read once) turns it off, and 1 leaves it on. Never at the portable level.
bool packedForwardOn();

// denseForward's product on blasnet's own micro-kernels (bench/RESULTS.md, run AF): w and b are
// packed on every call into the calling thread's buffer, then z = x * w^T + b and y = f(z) are
// written tile by tile as packedDenseForward writes y (z may be y). Returns false, having written
// nothing, at the portable level, when the batch is under livePackMinRows() (OpenBLAS is quicker
// than packing), when the packed weights would exceed kLivePackMaxFloats, or when the buffer
// cannot be had; denseForward then runs OpenBLAS. denseForward calls it only when
// packedForwardOn().
//
// Under 4 rows OpenBLAS's matrix-vector path wins everywhere. Where OpenBLAS has small-product
// kernels that read the weights in place (openblasHasSmallKernels), packing them on every call
// costs more than those kernels' whole product up to about 32 rows: on an Intel Xeon's SkylakeX
// kernels, the reference MLP's live inference at 4 / 8 / 16 / 32 rows took 35-45 / 46-53 / 62-66 /
// 94 us packed and 12-13 / 21-23 / 49-52 / 96 us on OpenBLAS (bench/RESULTS.md, run AI).
constexpr size_t kLivePackMinRows = 4;
constexpr size_t kLivePackMinRowsSmallKernels = 32;
size_t livePackMinRows();
constexpr size_t kLivePackMaxFloats = size_t{1} << 21;  // 8 MB per thread at most
bool livePackedForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                       const float* w, const float* b, float* z, float* y);

}  // namespace blasnet
