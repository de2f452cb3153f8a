// Internal tables shared between the core's translation units.
#pragma once

#include <cstddef>

#include "isa.h"

namespace blasnet {

using ForwardFn = void (*)(size_t n, float p, const float* x, float* y);
using BackwardFn = void (*)(size_t n, float p, const float* x, const float* y, const float* dy, float* dx);
using BiasForwardFn = void (*)(size_t rows, size_t cols, float p, const float* bias, float* z, float* y);

// An activation's loops, one copy per instruction-set level: entry.forward() is the copy in use.
struct ActivationEntry {
  const char* name;
  Levels<ForwardFn> forward;
  Levels<BackwardFn> backward;
  Levels<BiasForwardFn> biasForward;
};

const ActivationEntry& activationEntry(int id);

}  // namespace blasnet
