// Scalar activation functions, inlined into loops that vectorise (the exponentials are
// vmath.h's). Each is a struct with f(x, p) and df(x, y, p) where y = f(x) and p
// is the activation's parameter (leakyRelu slope, elu alpha; ignored by the others). One template
// turns each into the loops of the table in activations.cc.
#pragma once

#include <cmath>

#include "isa.h"
#include "vmath.h"

namespace blasnet {
namespace act {

constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// 1 / (1 + e^-x) from e = e^-|x|, which never overflows: 1 / (1 + e) for x >= 0, e / (1 + e)
// below (one select, so the loops over it vectorise; NaN gives NaN).
BLASNET_INLINE float sigmoid(float x) {
  const float e = vm::exp(-std::fabs(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

struct Identity {
  BLASNET_INLINE static float f(float x, float) { return x; }
  BLASNET_INLINE static float df(float, float, float) { return 1.0f; }
};
struct Sigmoid {
  BLASNET_INLINE static float f(float x, float) { return sigmoid(x); }
  BLASNET_INLINE static float df(float, float y, float) { return y * (1.0f - y); }
};
struct Tanh {
  // tanh|x| = -m / (2 + m), m = e^(-2|x|) - 1: no cancellation near 0, 1 once m rounds to -1.
  BLASNET_INLINE static float f(float x, float) {
    const float m = vm::expm1(-2.0f * std::fabs(x));
    return std::copysign(-m / (2.0f + m), x);
  }
  BLASNET_INLINE static float df(float, float y, float) { return 1.0f - y * y; }
};
struct Relu {
  // `x < 0 ? 0 : x` keeps NaN as NaN, as PyTorch does.
  BLASNET_INLINE static float f(float x, float) { return x < 0.0f ? 0.0f : x; }
  BLASNET_INLINE static float df(float x, float, float) { return x > 0.0f ? 1.0f : 0.0f; }
};
struct LeakyRelu {
  BLASNET_INLINE static float f(float x, float p) { return x > 0.0f ? x : x * p; }
  BLASNET_INLINE static float df(float x, float, float p) { return x > 0.0f ? 1.0f : p; }
};
struct Elu {
  BLASNET_INLINE static float f(float x, float p) { return x > 0.0f ? x : p * vm::expm1(x); }
  BLASNET_INLINE static float df(float x, float, float p) { return x > 0.0f ? 1.0f : p * vm::exp(x); }
};
struct Selu {
  BLASNET_INLINE static float f(float x, float) { return kSeluScale * (x > 0.0f ? x : kSeluAlpha * vm::expm1(x)); }
  BLASNET_INLINE static float df(float x, float, float) { return kSeluScale * (x > 0.0f ? 1.0f : kSeluAlpha * vm::exp(x)); }
};
struct Silu {
  BLASNET_INLINE static float f(float x, float) { return x * sigmoid(x); }
  BLASNET_INLINE static float df(float x, float, float) {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  }
};
struct Softplus {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for any x. NaN takes the 0 of the
  // select and comes back through the exponential.
  BLASNET_INLINE static float f(float x, float) { return (x > 0.0f ? x : 0.0f) + vm::log1pUnit(vm::exp(-std::fabs(x))); }
  BLASNET_INLINE static float df(float x, float, float) { return sigmoid(x); }
};
struct Gelu {
  // Exact (erf) form, PyTorch's default approximate='none'.
  BLASNET_INLINE static float f(float x, float) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); }
  BLASNET_INLINE static float df(float x, float, float) {
    return 0.5f * (1.0f + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * vm::exp(-0.5f * x * x);
  }
};

}  // namespace act
}  // namespace blasnet
