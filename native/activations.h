// Scalar activation functions. Each is a struct with f(x, p) and df(x, y, p) where y = f(x) and p
// is the activation's parameter (leakyRelu slope, elu alpha; ignored by the others). One template
// turns each into the loops of the table in activations.cc.
#pragma once

#include <cmath>

namespace blasnet {
namespace act {

constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

inline float sigmoid(float x) {
  // Two branches so that exp never overflows.
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

struct Identity {
  static float f(float x, float) { return x; }
  static float df(float, float, float) { return 1.0f; }
};
struct Sigmoid {
  static float f(float x, float) { return sigmoid(x); }
  static float df(float, float y, float) { return y * (1.0f - y); }
};
struct Tanh {
  static float f(float x, float) { return std::tanh(x); }
  static float df(float, float y, float) { return 1.0f - y * y; }
};
struct Relu {
  // `x < 0 ? 0 : x` keeps NaN as NaN, as PyTorch does.
  static float f(float x, float) { return x < 0.0f ? 0.0f : x; }
  static float df(float x, float, float) { return x > 0.0f ? 1.0f : 0.0f; }
};
struct LeakyRelu {
  static float f(float x, float p) { return x > 0.0f ? x : x * p; }
  static float df(float x, float, float p) { return x > 0.0f ? 1.0f : p; }
};
struct Elu {
  static float f(float x, float p) { return x > 0.0f ? x : p * std::expm1(x); }
  static float df(float x, float, float p) { return x > 0.0f ? 1.0f : p * std::exp(x); }
};
struct Selu {
  static float f(float x, float) { return kSeluScale * (x > 0.0f ? x : kSeluAlpha * std::expm1(x)); }
  static float df(float x, float, float) { return kSeluScale * (x > 0.0f ? 1.0f : kSeluAlpha * std::exp(x)); }
};
struct Silu {
  static float f(float x, float) { return x * sigmoid(x); }
  static float df(float x, float, float) {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  }
};
struct Softplus {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for any x.
  static float f(float x, float) { return std::fmax(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
  static float df(float x, float, float) { return sigmoid(x); }
};
struct Gelu {
  // Exact (erf) form, PyTorch's default approximate='none'.
  static float f(float x, float) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); }
  static float df(float x, float, float) {
    return 0.5f * (1.0f + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
  }
};

}  // namespace act
}  // namespace blasnet
