// Whether Adam's division could leave the divider for the FMA pipes with vdivps's bits, and
// what that saves. On an Intel AVX-512 core one divider serves vsqrtps (about 12 cycles per
// 512-bit vector) and vdivps (about 10), and Adam's step takes one of each per weight, so it runs
// at the divider's pace. This division gives vdivps's bits (the checks below) and, unguarded,
// takes the FMA pipes 2.0 ns per 16 quotients against vdivps's 2.8; the guards that keep it
// exact (ranges, the all-ones significand, signed zeros) bring it to 3.4 ns, or 4.5 with a
// vsqrtps beside it against 6.0. Written into Adam's AVX-512 loop, though, the step got slower
// than the compiled loop (235k weights: 151 against 137 us on one thread, 108 against 65 on
// two; bench/RESULTS.md, run AI), its other multiplies and adds sharing the same two pipes:
// the library does not use it. SHOW=1 prints the pairs that differ.
//
//   g++ -O2 -std=c++17 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma -ffp-contract=off bench/c/fma-division.cc -o build/bench-fma-division
//   build/bench-fma-division            # the checks below, then the timing
//
// The quotient q = a / b for b in [2^-30, 2^30] and a = 0 or |a| in [2^-70, 2^90]:
//   y0 = vrcp14ps(b)                     reciprocal, relative error < 2^-14
//   y1 = y0 + y0 (1 - b y0)              one Newton step: within an ulp of 1 / b
//   y2 = y1 + y1 (1 - b y1)              a second: 1 / b correctly rounded (checked below)
//   q0 = a y2                            within an ulp of a / b
//   q  = q0 + y2 (a - b q0)              the residual a - b q0 is exact in an FMA; q is a / b
//                                        correctly rounded (Markstein's theorem, given y2 is)
// Every step is one FMA-pipe instruction. Within those ranges nothing overflows, no result or
// residual is subnormal (|r| >= 2^-46 |a| >= 2^-116), and every value scales exactly with the
// exponents of a and b, so the bits of q depend only on the significands of a and b.
//
// Checks, with FTZ and DAZ on as the optimiser steps run:
// 1. Every one of the 2^23 significands of b, at 7 exponents across [2^-30, 2^30]: y2 equals
//    1.0f / b (vdivps). Where it does not, Markstein's theorem does not apply, so:
// 2. for each significand of b where y2 missed (if any), every significand of a (2^23) at two
//    exponents: q equals a / b.
// 3. 2^28 random (a, b) pairs over the whole ranges, signs included, and the edge values: q
//    equals a / b.
// Then the time per 16 quotients, in cache, against vdivps, and with a vsqrtps beside each
// division as Adam's loop has (the divider is shared).
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <vector>


namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The sequence without the library's guards, for the reciprocal check and the timing.
__attribute__((always_inline)) inline __m512 reciprocal(__m512 b) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 y = _mm512_rcp14_ps(b);
  y = _mm512_fmadd_ps(_mm512_fnmadd_ps(b, y, one), y, y);
  return _mm512_fmadd_ps(_mm512_fnmadd_ps(b, y, one), y, y);
}

// a / b with vdivps's bits: the sequence above where it is proven (Markstein's theorem, and the
// checks below), vdivps for a vector with any lane outside it:
//   - b outside [2^-30, 2^30], negative, NaN or infinite, or with an all-ones significand (the
//     one b for which the reciprocal can be an ulp off);
//   - a nonzero outside [2^-70, 2^90] in magnitude (the quotient and the residual then stay
//     normal), NaN or infinite.
// A zero or subnormal a (zero under DAZ) gives a's signed zero, as vdivps does.
__attribute__((always_inline)) inline __m512 divideOnFmaPipes(__m512 a, __m512 b) {
  const __m512i ai = _mm512_castps_si512(a), bi = _mm512_castps_si512(b);
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i absA = _mm512_and_si512(ai, magnitude);
  // 2^-70 <= |a| < 2^90 and 2^-30 <= b < 2^30 as unsigned ranges of the bit patterns.
  constexpr int kALo = (127 - 70) << 23, kAHi = (127 + 90) << 23;
  constexpr int kBLo = (127 - 30) << 23, kBHi = (127 + 30) << 23;
  const __mmask16 aZero = _mm512_cmplt_epu32_mask(absA, _mm512_set1_epi32(0x00800000));
  const __mmask16 aIn = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(absA, _mm512_set1_epi32(kALo)),
                                                _mm512_set1_epi32(kAHi - kALo));
  const __mmask16 bIn = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(bi, _mm512_set1_epi32(kBLo)),
                                                _mm512_set1_epi32(kBHi - kBLo));
  const __m512i significand = _mm512_set1_epi32(0x007FFFFF);
  const __mmask16 bAllOnes = _mm512_cmpeq_epi32_mask(_mm512_and_si512(bi, significand), significand);
  if (static_cast<__mmask16>(~bAllOnes & bIn & (aIn | aZero)) != 0xFFFF) {
    return _mm512_div_ps(a, b);
  }
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 y = _mm512_rcp14_ps(b);
  y = _mm512_fmadd_ps(_mm512_fnmadd_ps(b, y, one), y, y);
  y = _mm512_fmadd_ps(_mm512_fnmadd_ps(b, y, one), y, y);
  const __m512 q0 = _mm512_mul_ps(a, y);
  const __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(b, q0, a), y, q0);
  // a's signed zero where a is zero or subnormal.
  const __m512 signedZero = _mm512_castsi512_ps(_mm512_andnot_si512(magnitude, ai));
  return _mm512_mask_mov_ps(q, aZero, signedZero);
}

__attribute__((always_inline)) inline __m512 divide(__m512 a, __m512 b) { return divideOnFmaPipes(a, b); }

// The sequence alone.
__attribute__((always_inline)) inline __m512 unguarded(__m512 a, __m512 b) {
  const __m512 y = reciprocal(b), q0 = _mm512_mul_ps(a, y);
  return _mm512_fmadd_ps(_mm512_fnmadd_ps(b, q0, a), y, q0);
}

float bitsToFloat(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t floatToBits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// Counts lanes where divide(a, b) and a / b (vdivps) differ; n a multiple of 16.
size_t mismatches(const float* a, const float* b, size_t n, size_t* firstAt, bool guarded = true) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i += 16) {
    const __m512 va = _mm512_loadu_ps(a + i), vb = _mm512_loadu_ps(b + i);
    const __m512 q = guarded ? divide(va, vb) : unguarded(va, vb);
    const __m512i got = _mm512_castps_si512(q), want = _mm512_castps_si512(_mm512_div_ps(va, vb));
    // NaNs agree whatever their payload.
    const __mmask16 ne = _mm512_cmpneq_epi32_mask(got, want) &
                         ~(_mm512_cmp_ps_mask(_mm512_castsi512_ps(got), _mm512_castsi512_ps(got), _CMP_UNORD_Q) &
                           _mm512_cmp_ps_mask(_mm512_castsi512_ps(want), _mm512_castsi512_ps(want), _CMP_UNORD_Q));
    if (ne && getenv("SHOW")) for (int l = 0; l < 16; ++l) if (ne >> l & 1) std::printf("  a %a b %a\n", a[i + l], b[i + l]);
    if (ne) {
      if (!bad && firstAt) *firstAt = i + __builtin_ctz(ne);
      bad += __builtin_popcount(ne);
    }
  }
  return bad;
}

uint64_t rngState = 0x9E3779B97F4A7C15ull;
uint64_t next() {
  rngState ^= rngState << 13; rngState ^= rngState >> 7; rngState ^= rngState << 17;
  return rngState;
}
// A float with a uniformly random significand and an exponent uniform in [lo, hi].
float randomIn(int lo, int hi, bool sign) {
  const uint64_t r = next();
  const int e = lo + int(r % uint64_t(hi - lo + 1));
  const uint32_t bits = (uint32_t(e + 127) << 23) | uint32_t((r >> 20) & 0x7FFFFF) | (sign && (r >> 63) ? 0x80000000u : 0);
  return bitsToFloat(bits);
}

int checks() {
  const size_t m = size_t(1) << 23;
  std::vector<float> a(m), b(m), y(m);
  int failures = 0;
  // 1. The reciprocal, every significand at 7 exponents.
  std::vector<uint32_t> missed;
  for (int e : {-30, -17, -1, 0, 1, 17, 29}) {
    size_t bad = 0;
    for (size_t s = 0; s < m; s += 16) {
      alignas(64) float bs[16];
      for (int l = 0; l < 16; ++l) bs[l] = bitsToFloat((uint32_t(e + 127) << 23) | uint32_t(s + l));
      const __m512 vb = _mm512_load_ps(bs);
      alignas(64) float got[16], want[16];
      _mm512_store_ps(got, reciprocal(vb));
      _mm512_store_ps(want, _mm512_div_ps(_mm512_set1_ps(1.0f), vb));
      for (int l = 0; l < 16; ++l) {
        if (floatToBits(got[l]) != floatToBits(want[l])) {
          ++bad;
          if (e == 0) missed.push_back(uint32_t(s + l));
        }
      }
    }
    std::printf("1. reciprocal at 2^%d: %zu of %zu significands differ from 1 / b\n", e, bad, m);
  }
  // 2. Every significand of a against each significand of b whose reciprocal missed.
  for (uint32_t sb : missed) {
    for (int eb : {0, 20}) {
      for (int ea : {0, -40}) {
        for (size_t s = 0; s < m; ++s) {
          a[s] = bitsToFloat((uint32_t(ea + 127) << 23) | uint32_t(s));
          b[s] = bitsToFloat((uint32_t(eb + 127) << 23) | sb);
        }
        size_t at = 0;
        const size_t raw = mismatches(a.data(), b.data(), m, &at, false), bad = mismatches(a.data(), b.data(), m, &at);
        std::printf("2. b significand 0x%06x at 2^%d, every a at 2^%d: %zu differ unguarded, %zu with the guards\n", sb, eb, ea, raw, bad);
        if (bad) ++failures;
      }
    }
  }
  if (missed.empty()) std::printf("2. no reciprocal missed: Markstein's theorem covers every quotient\n");
  // 3. Random pairs over the whole ranges, and the edges.
  size_t total = 0, bad = 0, at = 0;
  for (int round = 0; round < 32; ++round) {
    for (size_t i = 0; i < m; ++i) {
      a[i] = randomIn(-70, 89, true);
      b[i] = randomIn(-30, 29, false);
    }
    bad += mismatches(a.data(), b.data(), m, &at);
    total += m;
  }
  // Edges of the ranges, and values outside them (which take vdivps): subnormal, NaN, infinity,
  // zero and negative divisors.
  const float inf = INFINITY, nan = NAN;
  const float edgesA[] = {0.0f, -0.0f, 0x1p-70f, -0x1p-70f, 0x1.fffffep-71f, 0x1.fffffep89f, -0x1.fffffep89f, 0x1p90f,
                          1.0f, -1.0f, 3.0f, 0x1.fffffep0f, 0x1p-140f, -0x1p-130f, 0x1p-127f, 0x1p120f, inf, -inf, nan, 0x1p127f};
  const float edgesB[] = {0x1p-30f, 0x1.fffffep-31f, 0x1.fffffep29f, 0x1p30f, 1.0f, 3.0f, 0x1.fffffep0f, 0x1.000002p0f,
                          1e-8f, 1.00000001e-8f, 0.0f, -0.0f, -1.0f, 0x1p-140f, inf, nan, 0x1p-100f, 0x1p100f};
  std::vector<float> ea, eb;
  for (float x : edgesA) for (float z : edgesB) { ea.push_back(x); eb.push_back(z); }
  while (ea.size() % 16) { ea.push_back(1.0f); eb.push_back(1.0f); }
  bad += mismatches(ea.data(), eb.data(), ea.size(), &at);
  total += ea.size();
  std::printf("3. %zu random and edge pairs: %zu differ\n", total, bad);
  if (bad) ++failures;
  return failures;
}

void timing() {
  const size_t n = 4096, reps = 20000;
  std::vector<float> a(n), b(n), out(n);
  for (size_t i = 0; i < n; ++i) { a[i] = randomIn(-20, 2, true); b[i] = randomIn(-26, 1, false); }
  for (int variant = 0; variant < 6; ++variant) {
    double best = 1e9;
    for (int trial = 0; trial < 5; ++trial) {
      const double t0 = seconds();
      for (size_t r = 0; r < reps; ++r) {
        for (size_t i = 0; i < n; i += 16) {
          const __m512 va = _mm512_loadu_ps(&a[i]), vb = _mm512_loadu_ps(&b[i]);
          __m512 q;
          switch (variant) {
            case 0: q = _mm512_div_ps(va, vb); break;
            case 1: q = unguarded(va, vb); break;
            case 4: q = divide(va, vb); break;
            case 2: q = _mm512_div_ps(va, _mm512_sqrt_ps(vb)); break;
            case 3: q = unguarded(va, _mm512_sqrt_ps(vb)); break;
            default: q = divide(va, _mm512_sqrt_ps(vb)); break;
          }
          _mm512_storeu_ps(&out[i], q);
        }
        __asm__ volatile("" : : "r"(out.data()) : "memory");
      }
      best = std::min(best, (seconds() - t0) / double(reps * n / 16) * 1e9);
    }
    static const char* names[] = {"vdivps", "fma, unguarded", "vsqrtps + vdivps", "vsqrtps + fma, unguarded",
                                  "fma, guarded", "vsqrtps + fma, guarded"};
    std::printf("%-26s %.3f ns per 16 quotients (best of 5, one thread, in cache)\n", names[variant], best);
  }
}

}  // namespace

int main() {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ and DAZ, as the library's optimiser steps run
  const int failures = checks();
  timing();
  std::printf(failures ? "FAIL: the FMA division differs from vdivps\n" : "every check: the same bits as vdivps\n");
  return failures ? 1 : 0;
}
