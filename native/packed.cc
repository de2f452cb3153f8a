#include "packed.h"

#include <algorithm>
#include <array>
#include <cblas.h>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "blasnet.h"
#include "isa.h"
#include "pool.h"
#include "table.h"

#ifdef BLASNET_X86_LEVELS
#include <immintrin.h>
#endif

namespace blasnet {
namespace {

// What the tile after the last block of k does beyond adding the bias: nothing (identity), ReLU in
// registers, or the activation table's forward loop over the stored tile (still in L1).
enum Epilogue : int { kEpilogueNone = 0, kEpilogueRelu = 1, kEpilogueTable = 2 };

struct PackedJob {
  size_t inDim, outDim;
  size_t depth;  // k per block: inDim cut into equal blocks of at most kDepth
  const float* x;
  const float* packed;
  const float* bias;  // packed + panels * kPackPanel * inDim
  float* y;
  float* z;  // null, or where the sums with their bias go before the activation (training)
  int epilogue;
  ForwardFn forward;
  float param;
};

// Depth of a block of k at most. Measured on 1000x784x256 (one thread): on a SkylakeX-class core
// with tiles of 12 rows, k whole (784) ran at 155 GFLOP/s, 2 blocks of 392 at 150 and 4 of 196 at
// 146; on Zen 4 with the same tiles k whole ran 3-4% ahead of blocks of 392 and 5-8% ahead of 196
// (run AP). Today's tile's 6 rows of x at that depth (18.8 KB) stay in a 32 KB L1. Deeper layers
// are cut into equal blocks so that those rows do not outgrow it.
constexpr size_t kDepth = 1024;

size_t panelsOf(size_t outDim) { return (outDim + kPackPanel - 1) / kPackPanel; }

// The portable level: OpenBLAS's own kernels (whatever instruction set it picked), one product
// per panel, each panel being a row-major [inDim, 16] matrix; then the bias and the activation in
// a pass over the rows just written.
void runTilesBlas(const PackedJob& j, size_t r0, size_t r1, size_t p0, size_t p1) {
  const size_t panelStride = j.inDim * kPackPanel;
  const size_t c0 = p0 * kPackPanel, c1 = p1 * kPackPanel < j.outDim ? p1 * kPackPanel : j.outDim;
  for (size_t p = p0; p < p1; ++p) {
    const size_t left = j.outDim - p * kPackPanel;
    const size_t cols = left < kPackPanel ? left : kPackPanel;
    float* c = j.y + r0 * j.outDim + p * kPackPanel;
    if (j.inDim == 0) {
      // BLAS rejects a zero leading dimension; with no inner products the sums are zero.
      for (size_t i = r0; i < r1; ++i, c += j.outDim) std::fill(c, c + cols, 0.0f);
      continue;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(r1 - r0),
                static_cast<blasint>(cols), static_cast<blasint>(j.inDim), 1.0f, j.x + r0 * j.inDim,
                static_cast<blasint>(j.inDim), j.packed + p * panelStride, static_cast<blasint>(kPackPanel),
                0.0f, c, static_cast<blasint>(j.outDim));
  }
  const bool keepZ = j.z != nullptr && j.z != j.y;
  for (size_t i = r0; i < r1; ++i) {
    float* yr = j.y + i * j.outDim;
    float* zr = keepZ ? j.z + i * j.outDim : yr;
    for (size_t u = c0; u < c1; ++u) {
      const float v = yr[u] + j.bias[u];
      zr[u] = v;
      yr[u] = j.epilogue == kEpilogueRelu && v < 0.0f ? 0.0f : v;
    }
    if (j.epilogue == kEpilogueTable) j.forward(c1 - c0, j.param, zr + c0, yr + c0);
  }
}

// The portable level's packing: panel rows written in order, each from 16 rows of w read side by
// side (a few cache lines each, reused over 16 inputs).
void packPanelsPortable(size_t outDim, size_t inDim, const float* w, float* packed, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    float* dst = packed + p * kPackPanel * inDim;
    const size_t first = p * kPackPanel;
    const size_t real = outDim - first < kPackPanel ? outDim - first : kPackPanel;
    for (size_t k = 0; k < inDim; ++k, dst += kPackPanel)
      for (size_t u = 0; u < kPackPanel; ++u) dst[u] = u < real ? w[(first + u) * inDim + k] : 0.0f;
  }
}

}  // namespace

#ifdef BLASNET_X86_LEVELS
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")
#endif
namespace {
namespace packed512 {
#define BLASNET_PACKED_BITS 512
#include "packed_kernel.inc"
#undef BLASNET_PACKED_BITS
}  // namespace packed512
}  // namespace
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace {
namespace packed256 {
#define BLASNET_PACKED_BITS 256
#include "packed_kernel.inc"
#undef BLASNET_PACKED_BITS
}  // namespace packed256
}  // namespace
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace {

using RunFn = void (*)(const PackedJob&, size_t, size_t, size_t, size_t);

using PackFn = void (*)(size_t, size_t, const float*, float*, size_t, size_t);

struct Runner {
  RunFn run;
  size_t rowAlign;  // rows per full tile: a row cut on multiples of it leaves no short tiles inside
  PackFn pack;
  bool own;  // blasnet's micro-kernels (not the portable level's OpenBLAS per panel)
  // Whether a product with more batch rows than units is cut by units too (see cutByUnits).
  bool unitsAtAnyBatch;
};

// The level's kernels, chosen once. AVX2 without FMA (no such CPU is known, but the level only
// promises AVX2) takes the portable path.
Runner chooseRunner() {
#ifdef BLASNET_X86_LEVELS
  switch (isa()) {
    case Isa::kAvx512: return {&packed512::runTiles, packed512::kRowAlign, &packed512::packPanels, true, true};
    case Isa::kAvx2:
      if (__builtin_cpu_supports("fma")) return {&packed256::runTiles, packed256::kRowAlign, &packed256::packPanels, true, false};
      break;
    default: break;
  }
#endif
  return {&runTilesBlas, 1, &packPanelsPortable, false, false};
}

const Runner& runner() {
  static const Runner r = chooseRunner();
  return r;
}

// Multiply-adds per piece at least before a second thread pays (as gemm.cc's kMinPartWork).
constexpr double kMinPartWork = 1 << 18;
constexpr size_t kPiecesPerThread = 4;

// Whether a product over `parts` threads is cut by units (panels; each thread reads only its share
// of the packed weights and runs every row over it) rather than by batch rows (each thread reads
// all of them). Never with fewer panels than threads. Otherwise where the layer has at least as
// many units as the batch has rows; and at the AVX-512 level at any batch. Measured on two threads
// (bench/RESULTS.md, runs AF and AG):
// - 784->256 at batch 128 by rows went in 5 pieces, 3 on one thread and 2 on the other: 374-392
//   GFLOP/s, against 480-489 by units (AVX-512).
// - On an AVX-512 core with a 1 MB L2, by rows each core holds all 800 KB of 784->256's packed
//   weights while x and y stream past: 1000 rows 461-470 GFLOP/s by rows, 488-497 by units; the
//   reference MLP's frozen chain at batch 1000 1012-1027 us against 967-985, and the next layer,
//   reading rows the two cores wrote in column halves, lost nothing of that.
// - On Zen 3 (AVX2, 512 KB L2) the same chain cut by units at batch 512-1000 fell behind
//   OpenBLAS's row cut (batch 1000: 3223 against 2832 us).
// At any batch only with two panels or more per thread: a 32-unit layer (2 panels) cut by units
// would run tiles of one panel, a quarter of the AVX-512 tile's width.
bool cutByUnits(size_t batch, size_t outDim, size_t panels, size_t parts) {
  if (panels < parts) return false;
  return batch <= outDim || (runner().unitsAtAnyBatch && panels >= 2 * parts);
}

}  // namespace

size_t packedDenseLength(size_t outDim, size_t inDim) { return panelsOf(outDim) * kPackPanel * (inDim + 1); }

namespace {

// Panels [p0, p1) of packDense's layout: their weights (the level's transpose) and their share of
// the padded bias.
void packPanelRange(size_t outDim, size_t inDim, const float* w, const float* b, float* packed, size_t p0, size_t p1) {
  runner().pack(outDim, inDim, w, packed, p0, p1);
  float* bias = packed + panelsOf(outDim) * kPackPanel * inDim;
  for (size_t u = p0 * kPackPanel; u < p1 * kPackPanel; ++u) bias[u] = b && u < outDim ? b[u] : 0.0f;
}

}  // namespace

void packDense(size_t outDim, size_t inDim, const float* w, const float* b, float* packed) {
  const size_t panels = panelsOf(outDim);
  // A transpose streams w once and the packed copy once; cut by panels like an elementwise pass.
  const size_t parts = std::min(panels, partsFor(double(panels) * kPackPanel * double(inDim), kMinElementwisePart));
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(panels, 1, p, count, &lo, &hi);
    if (lo < hi) packPanelRange(outDim, inDim, w, b, packed, lo, hi);
  });
}

namespace {

PackedJob makeJob(int act, float param, size_t inDim, size_t outDim, const float* x, const float* packed,
                  float* z, float* y) {
  const ActivationEntry& entry = activationEntry(act);
  const size_t blocks = inDim == 0 ? 1 : (inDim + kDepth - 1) / kDepth;
  return PackedJob{inDim, outDim, (inDim + blocks - 1) / blocks, x, packed,
                   packed + panelsOf(outDim) * kPackPanel * inDim, y, z,
                   std::strcmp(entry.name, "identity") == 0 ? kEpilogueNone
                   : std::strcmp(entry.name, "relu") == 0   ? kEpilogueRelu
                                                            : kEpilogueTable,
                   entry.forward(), param};
}

void runPacked(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
               const float* packed, float* z, float* y) {
  if (batch == 0 || outDim == 0) return;
  const Runner& run = runner();
  const size_t panels = panelsOf(outDim);
  const PackedJob job = makeJob(act, param, inDim, outDim, x, packed, z, y);
  const double work = double(batch) * double(outDim) * double(inDim == 0 ? 1 : inDim);
  const size_t parts = partsFor(work, kMinPartWork);
  if (parts <= 1) {
    run.run(job, 0, batch, 0, panels);
    return;
  }
  // By units where cutByUnits says so, as livePackedForward cuts. Else rows when there are
  // enough for whole tiles on every thread; else panels, so that a short batch still uses every
  // thread. Rows go in up to kPiecesPerThread pieces per thread, handed out as threads come free,
  // so that a thread the OS holds back (a busy machine) does not keep the others waiting with half
  // the batch.
  if (!cutByUnits(batch, outDim, panels, parts) && batch >= 2 * parts * run.rowAlign) {
    const size_t most = batch / (2 * run.rowAlign);
    const size_t pieces = parts * kPiecesPerThread < most ? parts * kPiecesPerThread : most;
    parallel(pieces, [&](size_t p, size_t count) {
      size_t lo, hi;
      partRange(batch, run.rowAlign, p, count, &lo, &hi);
      if (lo < hi) run.run(job, lo, hi, 0, panels);
    });
    return;
  }
  const size_t byPanels = parts < panels ? parts : panels;
  if (byPanels <= 1) {
    run.run(job, 0, batch, 0, panels);
    return;
  }
  parallel(byPanels, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(panels, 1, p, count, &lo, &hi);
    if (lo < hi) run.run(job, 0, batch, lo, hi);
  });
}

// The calling thread's buffer for denseForward's packed weights, kept from call to call (a fresh
// one would be faulted in on every call) and grown as layers need, up to kLivePackMaxFloats.
struct PackScratch {
  float* data = nullptr;
  size_t floats = 0;
  PackScratch() = default;
  PackScratch(const PackScratch&) = delete;
  PackScratch& operator=(const PackScratch&) = delete;
  ~PackScratch() { std::free(data); }
  float* get(size_t n) {
    if (n <= floats) return data;
    const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float* grown = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (grown == nullptr) return nullptr;
    std::free(data);
    data = grown;
    floats = bytes / sizeof(float);
    return data;
  }
};

}  // namespace

bool packedForwardOn() {
  static const bool on = [] {
    if (!runner().own) return false;
    const char* v = std::getenv("BLASNET_PACKED_FORWARD");
    // On by default wherever the level has kernels of its own (AVX2, AVX-512): measured ahead of
    // OpenBLAS at both, AVX2 on Zen 3 (run AF), AVX-512 against OpenBLAS's Cooperlake and Haswell
    // kernels (run AG).
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

void packedDenseForward(int act, float param, size_t batch, size_t inDim, size_t outDim,
                        const float* x, const float* packed, float* y) {
  runPacked(act, param, batch, inDim, outDim, x, packed, nullptr, y);
}

size_t livePackMinRows() {
  static const size_t rows = openblasHasSmallKernels() ? kLivePackMinRowsSmallKernels : kLivePackMinRows;
  return rows;
}

bool livePackedForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                       const float* w, const float* b, float* z, float* y) {
  if (!runner().own || batch < livePackMinRows() || inDim == 0 || outDim == 0) return false;
  const size_t n = packedDenseLength(outDim, inDim);
  if (n > kLivePackMaxFloats) return false;
  static thread_local PackScratch scratch;
  float* packed = scratch.get(n);
  if (packed == nullptr) return false;
  // Cut by units or by rows as cutByUnits says. By units, each piece packs its own panels and
  // then runs every row over them, so the packed weights stay in the cache of the core that wrote
  // them (packing all of them first had each core read the half the other had just written:
  // 70-100 us more per 784->256 call on Zen 3). By rows, or with fewer panels than threads (a
  // narrow output layer, little to pack), all panels are packed first and every core reads them
  // all.
  const Runner& run = runner();
  const size_t panels = panelsOf(outDim);
  const size_t parts = partsFor(double(batch) * double(outDim) * double(inDim), kMinPartWork);
  if (!cutByUnits(batch, outDim, panels, parts)) {
    packDense(outDim, inDim, w, b, packed);
    runPacked(act, param, batch, inDim, outDim, x, packed, z, y);
    return true;
  }
  const PackedJob job = makeJob(act, param, inDim, outDim, x, packed, z, y);
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(panels, 1, p, count, &lo, &hi);
    if (lo >= hi) return;
    packPanelRange(outDim, inDim, w, b, packed, lo, hi);
    run.run(job, 0, batch, lo, hi);
  });
  return true;
}

}  // namespace blasnet
