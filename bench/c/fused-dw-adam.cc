// Whether a layer's weight gradient and its Adam step gain from being one pass: dW = dZ^T X
// computed tile by tile in registers, each finished tile stepped by Adam while it is still in
// registers and L1, so that Adam's divider work (vsqrtps, vdivps) can overlap the product's FMAs,
// and the gradient is never read back from memory. (bench/RESULTS.md, run AK: not on Zen 4.)
//
//   g++ -O3 -std=c++17 -mavx512f -mavx512dq -mfma -ffp-contract=off -fno-math-errno -fno-trapping-math bench/c/fused-dw-adam.cc -lopenblas -o build/bench-fused-dw-adam
//   OPENBLAS_NUM_THREADS=1 build/bench-fused-dw-adam [outDim inDim batch]   # default 128 784 32
//
// First, whether the divider runs beside the FMA pipes at all (dividerBesideFma). Then one thread,
// FTZ and DAZ on as the library's steps run, median of 400 calls of each version, the versions
// alternating:
//   blas+adam    cblas_sgemm(dZ^T X) into g, then Adam over g (native/optimizers.cc's loop)
//   gemm only    the sgemm alone; adam only: the Adam loop alone
//   tiles        blasnet-style register tiles of 6 units x 64 inputs, summed over b in order with
//                one FMA per b (so every instruction-set level would give the same bits), g
//                stored, nothing else
//   tiles+adam   the same tile kernel, Adam applied to each finished tile
//   interleave   the same, the previous tile's Adam spread over the next tile's b loop, one 16-wide
//                vector per b step
//   ... 4        the three tile versions with tiles of 4 units x 64 inputs (fewer registers)
// Each tile version's gradient, weights and first moment are checked against blas+adam's first
// (largest normalised error). The four arrays sit in one buffer, as far apart as in the reference
// MLP's arenas.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Hyper {
  float b1, omb1, b2, omb2, eps, invBc2, stepSize;
};

// AdamKernel's loop (no weight decay, no amsgrad), as the library compiles it.
__attribute__((noinline)) void adamLoop(size_t n, const Hyper& h, float* __restrict p, const float* __restrict g,
                                        float* __restrict m, float* __restrict v) {
  const Hyper k = h;
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = k.b1 * m[i] + k.omb1 * gi;
    const float vi = k.b2 * v[i] + k.omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float vb = vi * k.invBc2;
    p[i] -= k.stepSize * (mi / (__builtin_sqrtf(vb) + k.eps));
  }
}

struct Vec {
  __m512 b1, omb1, b2, omb2, eps, ib, ss;
  explicit Vec(const Hyper& k)
      : b1(_mm512_set1_ps(k.b1)), omb1(_mm512_set1_ps(k.omb1)), b2(_mm512_set1_ps(k.b2)), omb2(_mm512_set1_ps(k.omb2)),
        eps(_mm512_set1_ps(k.eps)), ib(_mm512_set1_ps(k.invBc2)), ss(_mm512_set1_ps(k.stepSize)) {}
};

inline __m512 load(__mmask16 mask, const float* a) {
  return mask == 0xffff ? _mm512_loadu_ps(a) : _mm512_maskz_loadu_ps(mask, a);
}
inline void store(float* a, __mmask16 mask, __m512 x) {
  if (mask == 0xffff) _mm512_storeu_ps(a, x);
  else _mm512_mask_storeu_ps(a, mask, x);
}

// One 16-wide Adam update of the weights at p (their moments at m, v), the gradient gi.
inline void adam16(const Vec& k, __m512 gi, float* p, float* m, float* v, __mmask16 mask) {
  const __m512 mi = _mm512_add_ps(_mm512_mul_ps(k.b1, load(mask, m)), _mm512_mul_ps(k.omb1, gi));
  const __m512 vi =
      _mm512_add_ps(_mm512_mul_ps(k.b2, load(mask, v)), _mm512_mul_ps(_mm512_mul_ps(k.omb2, gi), gi));
  store(m, mask, mi);
  store(v, mask, vi);
  const __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, k.ib)), k.eps);
  store(p, mask, _mm512_sub_ps(load(mask, p), _mm512_mul_ps(k.ss, _mm512_div_ps(mi, den))));
}

struct Problem {
  size_t outDim, inDim, batch;
  const float* dz;  // [batch, outDim]
  const float* x;   // [batch, inDim]
  float* g;         // [outDim, inDim]
  float* p;
  float* m;
  float* v;
};

// A pending Adam job: the rows x vectors of a finished tile, handed to the next tile's b loop.
struct Pending {
  size_t count = 0;  // vectors left
  size_t rows = 0, vecs = 0, done = 0;
  size_t base = 0;  // offset of the tile's first element
  __mmask16 lastMask = 0xffff;
};

// Adam over the next vector of the pending tile.
inline void adamPending(const Problem& pr, const Vec& k, Pending& pend) {
  const size_t r = pend.done / pend.vecs, c = pend.done % pend.vecs;
  const size_t off = pend.base + r * pr.inDim + 16 * c;
  const __mmask16 mk = c == pend.vecs - 1 ? pend.lastMask : __mmask16(0xffff);
  adam16(k, load(mk, pr.g + off), pr.p + off, pr.m + off, pr.v + off, mk);
  ++pend.done;
  --pend.count;
}

// acc[r][c] = sum over b of dz[b][i0 + r] * x[b][j0 + 16c ...], rows R, vectors C (the last one
// masked), stored to g; then (kAdam) Adam over the tile or (kInterleave) the previous tile's
// Adam one vector per b step.
template <int R, int C, bool kAdam, bool kInterleave>
inline void tile(const Problem& pr, const Vec& k, size_t i0, size_t j0, __mmask16 lastMask, Pending& pend) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const float* xb = pr.x + j0;
  const float* dzb = pr.dz + i0;
  for (size_t b = 0; b < pr.batch; ++b, xb += pr.inDim, dzb += pr.outDim) {
    __m512 xv[C];
    for (int c = 0; c < C; ++c) xv[c] = load(c == C - 1 ? lastMask : __mmask16(0xffff), xb + 16 * c);
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_set1_ps(dzb[r]);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(d, xv[c], acc[r][c]);
    }
    if (kInterleave && pend.count) adamPending(pr, k, pend);
  }
  while (kInterleave && pend.count) adamPending(pr, k, pend);
  for (int r = 0; r < R; ++r) {
    const size_t row = (i0 + r) * pr.inDim + j0;
    for (int c = 0; c < C; ++c) {
      const __mmask16 mk = c == C - 1 ? lastMask : __mmask16(0xffff);
      store(pr.g + row + 16 * c, mk, acc[r][c]);
      if (kAdam && !kInterleave) adam16(k, acc[r][c], pr.p + row + 16 * c, pr.m + row + 16 * c, pr.v + row + 16 * c, mk);
    }
  }
  if (kInterleave) pend = Pending{size_t(R * C), size_t(R), size_t(C), 0, i0 * pr.inDim + j0, lastMask};
}

template <int R, bool kAdam, bool kInterleave>
inline void rowBlock(const Problem& pr, const Vec& k, size_t i0, Pending& pend) {
  size_t j = 0;
  for (; j + 64 <= pr.inDim; j += 64) tile<R, 4, kAdam, kInterleave>(pr, k, i0, j, 0xffff, pend);
  const size_t left = pr.inDim - j;
  if (left == 0) return;
  const size_t vecs = (left + 15) / 16;
  const size_t rem = left - 16 * (vecs - 1);  // 1..16
  const __mmask16 mk = rem == 16 ? __mmask16(0xffff) : __mmask16((1u << rem) - 1);
  switch (vecs) {
    case 1: tile<R, 1, kAdam, kInterleave>(pr, k, i0, j, mk, pend); break;
    case 2: tile<R, 2, kAdam, kInterleave>(pr, k, i0, j, mk, pend); break;
    case 3: tile<R, 3, kAdam, kInterleave>(pr, k, i0, j, mk, pend); break;
    default: tile<R, 4, kAdam, kInterleave>(pr, k, i0, j, mk, pend); break;
  }
}

template <bool kAdam, bool kInterleave, int RB = 6>
__attribute__((noinline)) void tiles(const Problem& pr, const Hyper& h) {
  const Vec k(h);
  Pending pend;
  size_t i = 0;
  for (; i + RB <= pr.outDim; i += RB) rowBlock<RB, kAdam, kInterleave>(pr, k, i, pend);
  switch (pr.outDim - i) {
    case 1: rowBlock<1, kAdam, kInterleave>(pr, k, i, pend); break;
    case 2: rowBlock<2, kAdam, kInterleave>(pr, k, i, pend); break;
    case 3: rowBlock<3, kAdam, kInterleave>(pr, k, i, pend); break;
    case 4: rowBlock<4, kAdam, kInterleave>(pr, k, i, pend); break;
    case 5: rowBlock<5, kAdam, kInterleave>(pr, k, i, pend); break;
    default: break;
  }
  while (kInterleave && pend.count) adamPending(pr, k, pend);
}

void blasGemm(const Problem& pr) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(pr.outDim), int(pr.inDim), int(pr.batch), 1.0f, pr.dz,
              int(pr.outDim), pr.x, int(pr.inDim), 0.0f, pr.g, int(pr.inDim));
}

double maxNormErr(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - double(b[i])));
    den = std::max(den, std::fabs(double(b[i])));
  }
  return den > 0 ? num / den : num;
}

// Whether the divider runs beside the FMA pipes: nanoseconds per loop iteration of 16 independent
// FMA chains, of one vsqrtps and one vdivps (independent from one iteration to the next), and of
// both together. Side by side, the mix takes the longer of the two; sharing a pipe, their sum.
__attribute__((noinline)) void dividerBesideFma() {
  const long iters = 20000000;
  const __m512 c = _mm512_set1_ps(0.5f), x = _mm512_set1_ps(2.5f), y = _mm512_set1_ps(0.75f);
  __m512 a[16];
  double t[4];
  __m512 r0 = x, r1 = y, sink = _mm512_setzero_ps();
  for (int kind = 0; kind < 3; ++kind) {
    for (int j = 0; j < 16; ++j) a[j] = _mm512_set1_ps(1.0f + 0.01f * float(j));
    const double t0 = seconds();
    for (long i = 0; i < iters; ++i) {
      if (kind != 1) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) {
          a[j] = _mm512_fmadd_ps(a[j], c, x);
          __asm__ volatile("" : "+v"(a[j]));  // sixteen chains kept apart
        }
      }
      if (kind != 0) {
        // Each iteration's root and quotient depend on nothing computed in the loop.
        r0 = _mm512_sqrt_ps(_mm512_add_ps(x, _mm512_castsi512_ps(_mm512_set1_epi32(int(i & 7)))));
        r1 = _mm512_div_ps(y, r0);
        sink = _mm512_add_ps(sink, r1);
      }
    }
    t[kind] = (seconds() - t0) * 1e9 / double(iters);
    for (auto& v : a) sink = _mm512_add_ps(sink, v);
  }
  std::printf("ns per iteration, one thread: 16 vfmadd %.2f, vsqrtps + vdivps %.2f, both %.2f (side by side %.2f, sharing %.2f) (%g)\n",
              t[0], t[1], t[2], std::max(t[0], t[1]), t[0] + t[1], double(_mm512_reduce_add_ps(sink)));
}

}  // namespace

int main(int argc, char** argv) {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ, DAZ
  dividerBesideFma();
  const size_t outDim = argc > 3 ? size_t(atol(argv[1])) : 128, inDim = argc > 3 ? size_t(atol(argv[2])) : 784,
               batch = argc > 3 ? size_t(atol(argv[3])) : 32;
  const size_t n = outDim * inDim;
  std::vector<float> dz(batch * outDim), x(batch * inDim);
  unsigned s = 12345;
  auto rnd = [&] { s = s * 1664525u + 1013904223u; return float(s >> 8) / float(1u << 24) - 0.5f; };
  for (auto& e : dz) e = rnd() * 0.01f;
  for (auto& e : x) e = rnd() > 0 ? rnd() + 0.5f : 0.0f;
  const Hyper h{0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 1 / 0.05f, 1e-3f / 0.2f};

  // Correctness: one step from the same state by each version.
  auto fresh = [&](std::vector<float>& p, std::vector<float>& m, std::vector<float>& v, std::vector<float>& g) {
    p.assign(n, 0.0f);
    m.assign(n, 0.0f);
    v.assign(n, 0.0f);
    g.assign(n, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      p[i] = rnd() * 0.1f;
      m[i] = rnd() * 1e-3f;
      v[i] = (rnd() + 0.5f) * 1e-6f;
    }
  };
  std::vector<float> p0, m0, v0, g0;
  s = 7;
  fresh(p0, m0, v0, g0);
  {
    Problem pr{outDim, inDim, batch, dz.data(), x.data(), g0.data(), p0.data(), m0.data(), v0.data()};
    blasGemm(pr);
    adamLoop(n, h, pr.p, pr.g, pr.m, pr.v);
  }
  const char* names[3] = {"tiles+adam", "interleave", "tiles"};
  for (int which = 0; which < 3; ++which) {
    std::vector<float> p1, m1, v1, g1;
    s = 7;
    fresh(p1, m1, v1, g1);
    Problem pr{outDim, inDim, batch, dz.data(), x.data(), g1.data(), p1.data(), m1.data(), v1.data()};
    if (which == 0) tiles<true, false>(pr, h);
    else if (which == 1) tiles<true, true>(pr, h);
    else { tiles<false, false>(pr, h); adamLoop(n, h, pr.p, pr.g, pr.m, pr.v); }
    std::printf("%-11s gradient err %.2e, weights err %.2e, m err %.2e\n", names[which], maxNormErr(g1, g0),
                maxNormErr(p1, p0), maxNormErr(m1, m0));
  }

  // Timing: the state keeps evolving (the weights stay finite: the steps are small).
  // The four arrays in one buffer, 2600 bytes apart beyond their size as in the reference MLP's
  // arenas (235146 floats), rather than wherever the allocator puts them.
  std::vector<float> p, m, v, g;
  s = 9;
  fresh(p, m, v, g);
  const size_t stride = n + 650;
  std::vector<float> arena(4 * stride);
  std::copy(p.begin(), p.end(), arena.begin());
  std::copy(m.begin(), m.end(), arena.begin() + stride);
  std::copy(v.begin(), v.end(), arena.begin() + 2 * stride);
  Problem pr{outDim, inDim, batch, dz.data(), x.data(), arena.data() + 3 * stride, arena.data(), arena.data() + stride,
             arena.data() + 2 * stride};
  const int kinds = 9, reps = 400;
  std::vector<double> t[kinds];
  for (int rep = 0; rep < reps * kinds + 60; ++rep) {
    const int kind = rep % kinds;
    const double t0 = seconds();
    switch (kind) {
      case 0: blasGemm(pr); adamLoop(n, h, pr.p, pr.g, pr.m, pr.v); break;
      case 1: blasGemm(pr); break;
      case 2: adamLoop(n, h, pr.p, pr.g, pr.m, pr.v); break;
      case 3: tiles<false, false>(pr, h); break;
      case 4: tiles<true, false>(pr, h); break;
      case 5: tiles<true, true>(pr, h); break;
      case 6: tiles<false, false, 4>(pr, h); break;
      case 7: tiles<true, false, 4>(pr, h); break;
      case 8: tiles<true, true, 4>(pr, h); break;
    }
    if (rep >= 60) t[kind].push_back((seconds() - t0) * 1e6);
  }
  const char* label[kinds] = {"blas+adam", "gemm only", "adam only", "tiles", "tiles+adam", "interleave",
                                "tiles 4", "tiles+adam 4", "interleave 4"};
  const double flops = 2.0 * double(n) * double(batch);
  std::printf("dW [%zu x %zu] over batch %zu + Adam, one thread, median of %d (min-max):\n", outDim, inDim, batch, reps);
  for (int kind = 0; kind < kinds; ++kind) {
    std::sort(t[kind].begin(), t[kind].end());
    const double med = t[kind][t[kind].size() / 2];
    std::printf("  %-11s %8.2f us (%.2f-%.2f)  %6.1f GFLOP/s of the product\n", label[kind], med, t[kind].front(),
                t[kind].back(), kind == 2 ? 0.0 : flops / med * 1e-3);
  }
  return 0;
}
