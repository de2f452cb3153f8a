// Accuracy of native/vmath.h against double-precision libm, over every float of a range: the
// largest error in units in the last place of the float result, and where it occurs, then the
// special values. Build and run (about 4 minutes of CPU; an argument exp, expm1 or log1p runs one):
//   g++ -O2 -std=c++17 -ffp-contract=off -fno-trapping-math -Inative bench/c/vmath-ulp.cc -o build/vmath-ulp && build/vmath-ulp
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>

#include "vmath.h"

namespace {

// The spacing of floats at |v| (the subnormal spacing below the normal range).
double ulpAt(double v) {
  const double a = std::fabs(v);
  if (a < 0x1p-126) return 0x1p-149;
  int e;
  std::frexp(a, &e);
  return std::ldexp(1.0, e - 24);
}

template <class F, class R>
void sweep(const char* name, float lo, float hi, F f, R ref) {
  double worst = 0.0;
  float at = 0.0f;
  uint64_t count = 0;
  // Negative floats are walked from -0 down to lo, positive ones from +0 up to hi.
  for (int sign = 0; sign < 2; ++sign) {
    const float end = sign ? lo : hi;
    if ((sign && !std::signbit(end)) || (!sign && std::signbit(end))) continue;
    uint32_t last;
    std::memcpy(&last, &end, 4);
    for (uint32_t b = sign ? 0x80000000u : 0u;; ++b) {
      float x;
      std::memcpy(&x, &b, 4);
      const double want = ref(double(x));
      const float got = f(x);
      if (std::isfinite(want) && std::fabs(want) <= 3.4028234663852886e38) {
        const double e = std::fabs(double(got) - want) / ulpAt(want);
        if (e > worst || !(e == e)) { worst = e; at = x; }
      }
      ++count;
      if (b == last) break;
    }
  }
  std::printf("%-8s [%g, %g]: %llu floats, max error %.3f ulp at x = %.9g\n", name, lo, hi,
              static_cast<unsigned long long>(count), worst, at);
}

}  // namespace

// With an argument (exp, expm1 or log1p), only that function's sweep.
int main(int argc, char** argv) {
  using namespace blasnet;
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "exp") sweep("exp", -104.0f, 89.0f, [](float x) { return vm::exp(x); }, [](double x) { return std::exp(x); });
  if (only.empty() || only == "expm1") sweep("expm1", -104.0f, 89.0f, [](float x) { return vm::expm1(x); }, [](double x) { return std::expm1(x); });
  if (only.empty() || only == "log1p") sweep("log1p", 0.0f, 1.0f, [](float x) { return vm::log1pUnit(x); }, [](double x) { return std::log1p(x); });
  const float inf = INFINITY, nan = NAN;
  std::printf("exp(NaN) = %g, exp(+inf) = %g, exp(-inf) = %g, exp(88.73) = %g, exp(-103.98) = %g, exp(-0) = %g\n",
              vm::exp(nan), vm::exp(inf), vm::exp(-inf), vm::exp(88.73f), vm::exp(-103.98f), vm::exp(-0.0f));
  std::printf("expm1(NaN) = %g, expm1(+inf) = %g, expm1(-inf) = %g, expm1(-0) = %g, expm1(1e-30) = %g\n",
              vm::expm1(nan), vm::expm1(inf), vm::expm1(-inf), vm::expm1(-0.0f), vm::expm1(1e-30f));
  std::printf("log1p(NaN) = %g, log1p(0) = %g, log1p(1e-30) = %g, log1p(1) = %.9g\n", vm::log1pUnit(nan),
              vm::log1pUnit(0.0f), vm::log1pUnit(1e-30f), vm::log1pUnit(1.0f));
  return 0;
}
