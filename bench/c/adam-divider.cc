// What bounds Adam's step at the AVX-512 level: the throughput of the instructions its loop uses,
// and whether the square root could leave the divider for the FMA pipes.
//
//   g++ -O2 -std=c++17 -mavx512f -mavx512dq -mfma -ffp-contract=off bench/c/adam-divider.cc -o build/bench-adam-divider
//   build/bench-adam-divider              # instruction throughput, then both loops at three sizes
//   build/bench-adam-divider --exhaustive # the FMA square root against the hardware's, every float >= 0
//
// 1. Nanoseconds per 512-bit instruction (16 independent chains in registers, one thread):
//    vsqrtps, vdivps, vfmadd, vrsqrt14ps.
// 2. Adam's update (native/optimizers.cc, AdamKernel: the moments, v / bc2 as a product, sqrt,
//    + eps, the division, the weight) over n weights, in cache, one thread, median of 1000 calls
//    each, alternating: "hardware" takes vsqrtps and vdivps as the library does; "fma sqrt" takes
//    the root from vrsqrt14ps, one Newton-Goldschmidt step and one residual correction (8 FMA-pipe
//    instructions, plus the blends for 0, subnormals under DAZ and infinity), keeping vdivps.
// 3. --exhaustive: how many of the 2^31 non-negative floats (sign bit clear, NaNs included) the
//    FMA root gives other bits than vsqrtps for, with FTZ and DAZ on as the library's optimiser
//    steps run.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#define BN_CHAINS(OP)                                                                                   \
  a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5); a6 = OP(a6); a7 = OP(a7); \
  a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11); a12 = OP(a12); a13 = OP(a13); a14 = OP(a14);  \
  a15 = OP(a15);

void throughput() {
  const long iters = 20000000;
  const __m512 c = _mm512_set1_ps(1.0001f), x = _mm512_set1_ps(2.5f);
  __m512 a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x,
         a12 = x, a13 = x, a14 = x, a15 = x;
#define BN_SQRT(v) _mm512_sqrt_ps(v)
#define BN_DIV(v) _mm512_div_ps(x, v)
#define BN_FMA(v) _mm512_fmadd_ps(v, c, x)
#define BN_RSQRT(v) _mm512_rsqrt14_ps(v)
  double t[5];
  t[0] = seconds();
  for (long i = 0; i < iters; ++i) { BN_CHAINS(BN_SQRT) }
  t[1] = seconds();
  for (long i = 0; i < iters; ++i) { BN_CHAINS(BN_DIV) }
  t[2] = seconds();
  for (long i = 0; i < iters; ++i) { BN_CHAINS(BN_FMA) }
  t[3] = seconds();
  for (long i = 0; i < iters; ++i) { BN_CHAINS(BN_RSQRT) }
  t[4] = seconds();
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                     _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
  const double k = 1e9 / double(iters) / 16;
  std::printf("ns per 512-bit instruction, one thread: vsqrtps %.3f, vdivps %.3f, vfmadd %.3f, vrsqrt14ps %.3f (%g)\n",
              (t[1] - t[0]) * k, (t[2] - t[1]) * k, (t[3] - t[2]) * k, (t[4] - t[3]) * k, double(_mm512_reduce_add_ps(s)));
}

// The root from vrsqrt14ps (relative error at most 2^-14), one Goldschmidt step for the root and
// half its reciprocal together, then the residual x - s^2 (exact with an FMA) fed back once.
inline __m512 fmaSqrt(__m512 x) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 r = _mm512_rsqrt14_ps(x);
  __m512 s = _mm512_mul_ps(x, r), h = _mm512_mul_ps(half, r);
  const __m512 e = _mm512_fnmadd_ps(s, h, half);
  s = _mm512_fmadd_ps(s, e, s);
  h = _mm512_fmadd_ps(h, e, h);
  const __m512 d = _mm512_fnmadd_ps(s, s, x);
  s = _mm512_fmadd_ps(d, h, s);
  // Below the smallest normal (0, or a subnormal that DAZ reads as 0) the root is x's signed zero;
  // +inf is itself.
  const __mmask16 small = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  const __mmask16 inf = _mm512_cmp_ps_mask(x, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
  s = _mm512_mask_mov_ps(s, inf, x);
  return _mm512_mask_and_ps(s, small, x, _mm512_set1_ps(-0.0f));
}

struct Hyper {
  float b1, omb1, b2, omb2, eps, invBc2, stepSize;
};

template <bool kFmaSqrt>
__attribute__((noinline)) void adam(size_t n, const Hyper& k, float* __restrict p, const float* __restrict g,
                                    float* __restrict m, float* __restrict v) {
  const __m512 b1 = _mm512_set1_ps(k.b1), omb1 = _mm512_set1_ps(k.omb1), b2 = _mm512_set1_ps(k.b2),
               omb2 = _mm512_set1_ps(k.omb2), eps = _mm512_set1_ps(k.eps), ib = _mm512_set1_ps(k.invBc2),
               ss = _mm512_set1_ps(k.stepSize);
  for (size_t i = 0; i + 16 <= n; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(omb1, gi));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)), _mm512_mul_ps(_mm512_mul_ps(omb2, gi), gi));
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    const __m512 vb = _mm512_mul_ps(vi, ib);
    const __m512 root = kFmaSqrt ? fmaSqrt(vb) : _mm512_sqrt_ps(vb);
    const __m512 den = _mm512_add_ps(root, eps);
    _mm512_storeu_ps(p + i, _mm512_sub_ps(_mm512_loadu_ps(p + i), _mm512_mul_ps(ss, _mm512_div_ps(mi, den))));
  }
}

void loops(size_t n) {
  std::vector<float> p(n, 0.1f), g(n), m(n), v(n);
  for (size_t i = 0; i < n; ++i) g[i] = float((i * 2654435761u) % 1000) * 1e-5f - 5e-3f;
  const Hyper k{0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 1 / 0.05f, 1e-3f / 0.2f};
  std::vector<double> hw, fma;
  for (int rep = 0; rep < 2000; ++rep) {
    const double t0 = seconds();
    if (rep & 1) adam<true>(n, k, p.data(), g.data(), m.data(), v.data());
    else adam<false>(n, k, p.data(), g.data(), m.data(), v.data());
    (rep & 1 ? fma : hw).push_back((seconds() - t0) * 1e6);
  }
  std::sort(hw.begin(), hw.end());
  std::sort(fma.begin(), fma.end());
  const double h = hw[hw.size() / 2], f = fma[fma.size() / 2];
  std::printf("adam over %zu weights, one thread: hardware %.2f us (%.2f ns per 16), fma sqrt %.2f us (%.2f ns per 16)\n", n,
              h, h * 1e3 / double(n / 16), f, f * 1e3 / double(n / 16));
}

void exhaustive() {
  unsigned long differ = 0;
  unsigned first = 0;
  alignas(64) unsigned bits[16];
  for (unsigned long u = 0; u < 0x80000000ul; u += 16) {
    for (unsigned j = 0; j < 16; ++j) bits[j] = unsigned(u + j);
    const __m512 x = _mm512_castsi512_ps(_mm512_load_si512(bits));
    const __mmask16 ne = _mm512_cmpneq_epi32_mask(_mm512_castps_si512(fmaSqrt(x)), _mm512_castps_si512(_mm512_sqrt_ps(x)));
    if (ne) {
      if (differ == 0) first = unsigned(u) + unsigned(__builtin_ctz(ne));
      differ += unsigned(__builtin_popcount(ne));
    }
  }
  std::printf("fma sqrt against vsqrtps over the 2^31 non-negative floats: %lu differ (%.2f%%), the first 0x%08x\n", differ,
              100.0 * double(differ) / 2147483648.0, first);
}

}  // namespace

int main(int argc, char** argv) {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ and DAZ, as the library's optimiser steps run
  if (argc > 1 && std::strcmp(argv[1], "--exhaustive") == 0) {
    exhaustive();
    return 0;
  }
  throughput();
  for (size_t n : {12736ul, 117568ul, 1000000ul}) loops(n);
  return 0;
}
