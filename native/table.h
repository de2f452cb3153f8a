// Internal tables shared between the core's translation units.
#pragma once

#include <cstddef>

namespace blasnet {

struct ActivationEntry {
  const char* name;
  void (*forward)(size_t n, float p, const float* x, float* y);
  void (*backward)(size_t n, float p, const float* x, const float* y, const float* dy, float* dx);
  void (*biasForward)(size_t rows, size_t cols, float p, const float* bias, float* z, float* y);
};

const ActivationEntry& activationEntry(int id);

}  // namespace blasnet
