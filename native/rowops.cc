#include <atomic>
#include <cmath>
#include <cstring>

#include "blasnet.h"
#include "isa.h"
#include "pool.h"

namespace blasnet {

namespace {
// Gathered elements per piece at least, and how many rows ahead a piece prefetches.
constexpr double kMinGatherPart = 1 << 13;
constexpr size_t kGatherAhead = 4;
// A checked gather tests the rows it copied at least this many bytes earlier.
constexpr size_t kScanBehindBytes = 12 << 10;
// Elements per piece of a finite scan at least.
constexpr double kMinScanPart = 1 << 16;

// The elementwise loops below, compiled once per instruction-set level (isa.h).

// out[lo..hi) = beta*out + sum over rows of x[r, lo..hi), each column summed in row order from
// beta*out (0 when beta is 0). The sums of a block of kColBlock columns stay in registers through
// the rows, stored once: accumulating into out itself would reload and store every column at every
// row (out may not be kept in registers when the compiler cannot rule out its aliasing x).
constexpr size_t kColBlock = 64;

BLASNET_INLINE float colStart(float beta, float o) { return beta == 0.0f ? 0.0f : beta == 1.0f ? o : o * beta; }

template <size_t kWidth>
BLASNET_INLINE void colSumBlock(size_t rows, size_t cols, size_t width, float beta, const float* __restrict x,
                                float* __restrict out) {
  const size_t w = kWidth ? kWidth : width;
  float acc[kColBlock];
  for (size_t j = 0; j < w; ++j) acc[j] = colStart(beta, out[j]);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (size_t j = 0; j < w; ++j) acc[j] += xr[j];
  }
  for (size_t j = 0; j < w; ++j) out[j] = acc[j];
}

BLASNET_INLINE void colSumColumns(size_t rows, size_t cols, size_t lo, size_t hi, float beta, const float* x,
                                  float* out) {
  size_t j = lo;
  for (; j + kColBlock <= hi; j += kColBlock) colSumBlock<kColBlock>(rows, cols, kColBlock, beta, x + j, out + j);
  if (j < hi) colSumBlock<0>(rows, cols, hi - j, beta, x + j, out + j);
}
constexpr auto kColSum = levels<decltype(&colSumColumns), &colSumColumns>();

// Whether x[0..n) holds a NaN or infinity (exponent bits all ones): a branch-free OR that vectorises,
// into 32 separate flags (two AVX-512 vectors, four AVX2 or eight SSE2 ones) so that consecutive
// vectors do not wait on one another's OR: 1.3-1.4x the rate of a single flag at the portable and
// AVX2 levels on an L2-resident array, the same rate at AVX-512 (bench/RESULTS.md, run AC).
BLASNET_INLINE bool anyNonFinite(size_t n, const float* x) {
  constexpr uint32_t kExponent = 0x7f800000u;
  constexpr size_t kFlags = 32;
  uint32_t flags[kFlags] = {};
  size_t i = 0;
  for (; i + kFlags <= n; i += kFlags) {
    for (size_t j = 0; j < kFlags; ++j) {
      uint32_t bits;
      std::memcpy(&bits, x + i + j, sizeof bits);
      flags[j] |= (bits & kExponent) == kExponent;
    }
  }
  uint32_t bad = 0;
  for (; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bad |= (bits & kExponent) == kExponent;
  }
  for (size_t j = 0; j < kFlags; ++j) bad |= flags[j];
  return bad != 0;
}
constexpr auto kAnyNonFinite = levels<decltype(&anyNonFinite), &anyNonFinite>();

// Whether any of labels[0..n) is k or more as an unsigned 32-bit value (a negative label is).
BLASNET_INLINE bool anyLabelOutside(size_t n, const int32_t* labels, uint32_t k) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(labels[i]) >= k;
  return bad != 0;
}
constexpr auto kAnyLabelOutside = levels<decltype(&anyLabelOutside), &anyLabelOutside>();

BLASNET_INLINE void scaleLoop(size_t n, float alpha, float* x) {
  for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}
constexpr auto kScale = levels<decltype(&scaleLoop), &scaleLoop>();

BLASNET_INLINE void axpyLoop(size_t n, float alpha, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
constexpr auto kAxpy = levels<decltype(&axpyLoop), &axpyLoop>();

// out may be x or y: no restrict.
BLASNET_INLINE void mulLoop(size_t n, const float* x, const float* y, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * y[i];
}
constexpr auto kMul = levels<decltype(&mulLoop), &mulLoop>();

// Comparisons rather than fmin/fmax, which would replace a NaN by a bound.
BLASNET_INLINE void clampLoop(size_t n, float lo, float hi, float* x) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = v < lo ? lo : v > hi ? hi : v;
  }
}
constexpr auto kClamp = levels<decltype(&clampLoop), &clampLoop>();
}  // namespace

// Row loops return at once when rows are empty, so a huge row count with no columns costs nothing.
void addBias(size_t rows, size_t cols, const float* bias, float* y) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    float* yr = y + r * cols;
    for (size_t j = 0; j < cols; ++j) yr[j] += bias[j];
  }
}

// A large sum is cut by columns over the kernel threads: each piece sums its columns over every
// row, in row order, so no piece needs another's partial sums and the result does not depend on
// the cut.
void colSum(size_t rows, size_t cols, float beta, const float* x, float* out) {
  if (cols == 0) return;
  const auto sum = kColSum();
  parallel(partsFor(double(rows) * double(cols), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(cols, 16, p, count, &lo, &hi);
    sum(rows, cols, lo, hi, beta, x, out);
  });
}

namespace {

// The first position in x[from..n) whose exponent bits are all ones (NaN or infinity), or -1.
// Values are read once: x may be shared with another thread that changes them meanwhile.
int64_t scanFrom(size_t from, size_t n, const float* x) {
  constexpr uint32_t kExponent = 0x7f800000u;
  for (size_t i = from; i < n; ++i) {
    const float v = readOnce(x + i);
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if ((bits & kExponent) == kExponent) return static_cast<int64_t>(i);
  }
  return -1;
}

// gatherRows, and with `firstBad` the first non-finite position among the gathered values.
Status gather(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src, float* dst,
              int64_t* firstBad) {
  // Every index is checked before any row is copied, so a bad index leaves dst alone. The copy
  // checks again the copy of each index it uses: another thread may change index meanwhile.
  auto inRange = [srcRows](int32_t i) { return i >= 0 && static_cast<size_t>(i) < srcRows; };
  for (size_t r = 0; r < rows; ++r) {
    if (!inRange(readOnce(index + r))) return Status::BadIndex;
  }
  // Rows of no columns: nothing to copy (and dst may be an empty array with no memory at all).
  if (cols == 0) return Status::Ok;
  // The source rows are scattered over a set far larger than the caches, so a row costs memory
  // latency rather than bandwidth: each piece prefetches the rows a few ahead of the one it
  // copies, into every cache level (with a non-temporal hint the gather ran slower than with no
  // prefetch at all: bench/c/gather.c; bench/step-phases.js measured the gather of a batch-512
  // step at 185-190 us with it and 125-144 with this one, bench/RESULTS.md run T), and pieces
  // run on the kernel threads.
  //
  // A checked gather copies each row with memcpy, as the plain one does, and tests the rows of dst
  // it copied some 12 KB earlier: still in L1 or L2, and no longer waiting in the store buffer
  // for their lines. A copy loop that tested each value between its load and its store, or a
  // test of the row just copied, made a training step's gather take 1.32-1.51x the plain one's
  // time when a GEMM had just read dst from both cores (1.07-1.14x this way: bench/gather-step.ts,
  // bench/RESULTS.md run AC); testing the source instead would miss a value another thread changes
  // between the copy and the test.
  const auto anyBad = kAnyNonFinite();
  std::atomic<bool> changed{false};
  std::atomic<size_t> badRow{rows};
  const size_t parts = partsFor(double(rows) * double(cols), kMinGatherPart);
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(rows, 1, p, count, &lo, &hi);
    const size_t bytes = cols * sizeof(float);
    const size_t behind = (kScanBehindBytes + bytes - 1) / bytes;
    bool found = false;
    // Tests row t of dst; the first failing row of this piece is offered as badRow.
    const auto test = [&](size_t t) {
      if (found || !anyBad(cols, dst + t * cols)) return;
      found = true;
      size_t cur = badRow.load(std::memory_order_relaxed);
      while (t < cur && !badRow.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
      }
    };
    for (size_t r = lo; r < hi; ++r) {
      if (r + kGatherAhead < hi) {
        const int32_t ahead = readOnce(index + r + kGatherAhead);
        if (inRange(ahead)) {
          const char* next = reinterpret_cast<const char*>(src + static_cast<size_t>(ahead) * cols);
          for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(next + off, 0, 3);
        }
      }
      const int32_t i = readOnce(index + r);
      if (!inRange(i)) {
        changed.store(true, std::memory_order_relaxed);
        return;
      }
      std::memcpy(dst + r * cols, src + static_cast<size_t>(i) * cols, bytes);
      if (firstBad && r >= lo + behind) test(r - behind);
    }
    if (firstBad) {
      for (size_t t = hi - lo > behind ? hi - behind : lo; t < hi; ++t) test(t);
    }
  });
  if (changed.load(std::memory_order_relaxed)) return Status::BadIndex;
  if (firstBad) {
    const size_t r = badRow.load(std::memory_order_relaxed);
    // From the failing row to the end of dst, as firstNonFinite searches on from its block.
    *firstBad = r == rows ? -1 : scanFrom(r * cols, rows * cols, dst);
  }
  return Status::Ok;
}

}  // namespace

Status gatherRows(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src,
                  float* dst) {
  return gather(rows, cols, srcRows, index, src, dst, nullptr);
}

Status gatherRowsChecked(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src,
                         float* dst, int64_t* firstBad) {
  *firstBad = -1;
  return gather(rows, cols, srcRows, index, src, dst, firstBad);
}

void argmaxRows(size_t rows, size_t cols, const float* x, int32_t* out) {
  // One pass over a few floats a row (a metric over a batch of class scores): a second thread
  // would cost more than the pass, so it runs on the caller's thread alone. Each value is read
  // once: x may be shared with another thread that changes it meanwhile.
  for (size_t i = 0; i < rows; ++i) {
    const float* r = x + i * cols;
    size_t best = 0;
    float top = cols ? readOnce(r) : 0.0f;
    for (size_t j = 1; j < cols; ++j) {
      const float v = readOnce(r + j);
      if (v > top) {
        top = v;
        best = j;
      }
    }
    out[i] = static_cast<int32_t>(best);
  }
}

void shuffledRange(size_t n, uint32_t* state, int32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(i);
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  const auto rotl = [](uint32_t v, int k) { return (v << k) | (v >> (32 - k)); };
  const auto next = [&]() {
    const uint32_t r = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r;
  };
  for (size_t i = n; i-- > 1;) {
    const uint32_t hi = next() >> 5, lo = next() >> 6;
    // A double in [0, 1) from 53 random bits, scaled to [0, i] and floored: the same IEEE
    // operations (exact but for the one multiply) as the JavaScript.
    const double u = (double(hi) * 67108864.0 + double(lo)) / 9007199254740992.0;
    size_t j = static_cast<size_t>(std::floor(u * double(i + 1)));
    // u < 1, so the product rounds below i + 1 for every i < 2^31; kept in range regardless.
    if (j > i) j = i;
    const int32_t v = out[i];
    out[i] = out[j];
    out[j] = v;
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

int64_t firstNonFinite(size_t n, const float* x) {
  // A value is NaN or infinite when its exponent bits are all ones. Blocks are tested whole (a
  // branch-free OR that vectorises) and the first failing block is searched again; blocks run
  // on the kernel threads, and a piece stops early once a failure is known in an earlier piece.
  constexpr size_t kBlock = 1024;
  const auto anyBad = kAnyNonFinite();
  const size_t blocks = (n + kBlock - 1) / kBlock;
  std::atomic<size_t> firstBad{blocks};
  const size_t parts = partsFor(double(n), kMinScanPart);
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(blocks, 1, p, count, &lo, &hi);
    for (size_t blk = lo; blk < hi; ++blk) {
      if (firstBad.load(std::memory_order_relaxed) < blk) return;
      const size_t b = blk * kBlock, e = b + kBlock < n ? b + kBlock : n;
      if (anyBad(e - b, x + b)) {
        size_t cur = firstBad.load(std::memory_order_relaxed);
        while (blk < cur && !firstBad.compare_exchange_weak(cur, blk, std::memory_order_relaxed)) {
        }
        return;
      }
    }
  });
  const size_t blk = firstBad.load(std::memory_order_relaxed);
  if (blk == blocks) return -1;
  // Another thread may have made the failing value finite since: the search goes on to the end
  // of x rather than trusting the block's verdict, and then finds nothing.
  return scanFrom(blk * kBlock, n, x);
}

int64_t firstLabelOutside(size_t n, const int32_t* labels, size_t classes) {
  // Blocks are tested whole (a branch-free OR, compiled per instruction-set level), then the
  // first failing block is searched. A label is read once per pass: labels may be shared with
  // another thread that changes them meanwhile, so the search goes on to the end rather than
  // trusting the block's verdict. One thread: a data set's labels are a few hundred KB.
  constexpr size_t kBlock = 1024;
  // An unsigned 32-bit compare takes a negative label as 2^31 or more: above any class count the
  // binding accepts (at most 2^31 - 1), so one compare tests both ends.
  const uint32_t k = static_cast<uint32_t>(classes < 0x7fffffffu ? classes : 0x7fffffffu);
  const auto anyOutside = kAnyLabelOutside();
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t e = b + kBlock < n ? b + kBlock : n;
    if (!anyOutside(e - b, labels + b, k)) continue;
    for (size_t i = b; i < n; ++i) {
      if (static_cast<uint32_t>(readOnce(labels + i)) >= k) return static_cast<int64_t>(i);
    }
    return -1;
  }
  return -1;
}

void scale(size_t n, float alpha, float* x) { kScale()(n, alpha, x); }

void axpy(size_t n, float alpha, const float* x, float* y) { kAxpy()(n, alpha, x, y); }

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

void mul(size_t n, const float* x, const float* y, float* out) { kMul()(n, x, y, out); }

void maxNormRows(size_t rows, size_t cols, float maxNorm, float* w) {
  for (size_t r = 0; r < rows; ++r) {
    float* wr = w + r * cols;
    double s = 0;
    for (size_t j = 0; j < cols; ++j) s += double(wr[j]) * wr[j];
    const double norm = std::sqrt(s);
    if (norm > maxNorm) {
      const float f = static_cast<float>(double(maxNorm) / (norm + 1e-7));
      for (size_t j = 0; j < cols; ++j) wr[j] *= f;
    }
  }
}

void clamp(size_t n, float lo, float hi, float* x) { kClamp()(n, lo, hi, x); }

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
