// Branch-free single-precision exp, expm1 and log1p for the elementwise kernels. libm's are
// calls the compiler cannot vectorise (about 1 GB/s for sigmoid or the cross-entropy loss); these
// are plain arithmetic, integer bit moves and selects, so a loop over them vectorises at every
// instruction-set level (isa.h).
//
// Every level must give the same bits, so the files that use this header are built with
// -ffp-contract=off (CMakeLists.txt): a fused multiply-add on one level and not another would
// round differently.
//
// Accuracy against libm in double (bench/c/vmath-ulp.cc, every float of the range): exp at most
// 0.98 ulp and expm1 1.54 ulp over [-104, 89], log1p 0.97 ulp over [0, 1].
// Special values as libm: exp(NaN) = NaN, exp(+inf) and overflow = +inf, exp(-inf) and underflow
// = +0 (results below the normal range are subnormal, rounded once); expm1(-inf) = -1.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "isa.h"

namespace blasnet {
namespace vm {

constexpr float kLog2e = 1.44269504088896340736f;
// ln 2 in two parts: kLn2Hi has 9 significant bits, so n * kLn2Hi is exact for |n| < 2^15.
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440054690582768e-4f;
// Adding 1.5 * 2^23 to |v| < 2^22 rounds v to an integer (ties to even) in the low mantissa bits.
constexpr float kRoundShift = 12582912.0f;
// exp(-104) is below half the smallest subnormal and exp(89) above FLT_MAX: clamping there keeps
// the exponent arithmetic in range without changing any result.
constexpr float kExpLo = -104.0f;
constexpr float kExpHi = 89.0f;

BLASNET_INLINE uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
BLASNET_INLINE float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
// 2^k for k in [-126, 127].
BLASNET_INLINE float pow2(int32_t k) { return floatOf(static_cast<uint32_t>(k + 127) << 23); }

// x = n ln2 + r with |r| <= ln2 / 2 (Cody and Waite's two-part reduction), p = expm1(r): a
// degree-6 polynomial r + r^2 q(r), q fitted (weighted least squares, Lawson iterations) for the
// relative error of 1 + p on [-0.3466, 0.3466], 3e-9 before rounding. Comparisons with NaN are
// false, so the clamp keeps NaN and it reaches p.
BLASNET_INLINE void expReduce(float x, float* p, int32_t* n) {
  float xc = x < kExpLo ? kExpLo : x;
  xc = xc > kExpHi ? kExpHi : xc;
  const float t = xc * kLog2e + kRoundShift;
  const float nf = t - kRoundShift;
  *n = static_cast<int32_t>(bitsOf(t) - bitsOf(kRoundShift));
  const float r = (xc - nf * kLn2Hi) - nf * kLn2Lo;
  const float q = 0.49999994f + r * (0.16666521f + r * (0.04166839f + r * (0.008368716f + r * 0.00138146f)));
  *p = r + (r * r) * q;
}

// e^x. 2^n is applied in two factors (each a normal float for n in [-150, 128]), so overflow
// gives +inf and a subnormal result is rounded once, by the second product.
BLASNET_INLINE float exp(float x) {
  float p;
  int32_t n;
  expReduce(x, &p, &n);
  const int32_t n1 = n >> 1;
  return ((1.0f + p) * pow2(n1)) * pow2(n - n1);
}

// e^x - 1, accurate near 0 (where 1 + p would lose p's low bits): 2^n p + (2^n - 1). From n = 25
// on, e^x - 1 rounds to e^x; below n = -60, to -1 (2^n is clamped there to stay normal).
BLASNET_INLINE float expm1(float x) {
  float p;
  int32_t n;
  expReduce(x, &p, &n);
  const int32_t nc = n < -60 ? -60 : (n > 25 ? 25 : n);
  const float s = pow2(nc);
  const float small = s * p + (s - 1.0f);
  const int32_t n1 = n >> 1;
  const float big = ((1.0f + p) * pow2(n1)) * pow2(n - n1);
  // p + 0 at n = 0 would turn -0 into +0.
  return x == 0.0f ? x : (n > 24 ? big : small);
}

// log(1 + x) for x in [0, 1] (the log1p(e^-|v|) of softplus): u = 1 + x rounded, c = x - (u - 1)
// its rounding error (exact), then log u = k ln2 + log(1 + d) with 1 + d = u / 2^k in
// [sqrt(1/2), sqrt(2)) and d exact, log(1 + d) = 2 atanh(s) = d - s (d - R), s = d / (2 + d),
// |s| < 0.172, R = 2 (s^2/3 + s^4/5 + ... + s^10/11) (truncation 4e-10): the exact d leads and
// only the correction rounds. log(1 + x) = that + c / u.
BLASNET_INLINE float log1pUnit(float x) {
  const float u = 1.0f + x;
  const float c = x - (u - 1.0f);
  const bool high = u > 1.41421356f;
  const float d = (high ? u * 0.5f : u) - 1.0f;
  const float k = high ? 0.69314718056f : 0.0f;
  const float s = d / (2.0f + d);
  const float s2 = s * s;
  const float r = s2 * (0.6666666667f + s2 * (0.4f + s2 * (0.2857142857f + s2 * (0.2222222222f + s2 * 0.1818181818f))));
  return k + (d - (s * (d - r) - c / u));
}

// The largest of x[0..n), -inf for n = 0; NaNs are skipped, as std::fmax does, but with a select
// the compiler inlines (std::fmax is a libm call without -ffinite-math-only). Which zero a
// maximum of -0 and +0 gives is unspecified; callers subtract it, where the two are alike.
BLASNET_INLINE float maxOf(size_t n, const float* x) {
  float m = -INFINITY;
  for (size_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

}  // namespace vm
}  // namespace blasnet
