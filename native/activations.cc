#include <algorithm>
#include <cmath>
#include <vector>

#include "activations.h"
#include "blasnet.h"
#include "isa.h"
#include "pool.h"
#include "table.h"
#include "vmath.h"

namespace blasnet {
namespace {

// The loops are compiled once per instruction-set level (isa.h); the table holds every copy.
template <class Op>
BLASNET_INLINE void forwardLoop(size_t n, float p, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = Op::f(x[i], p);
}

template <class Op>
BLASNET_INLINE void backwardLoop(size_t n, float p, const float* x, const float* y, const float* dy, float* dx) {
  for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * Op::df(x[i], y[i], p);
}

// z += bias (per row) then y = f(z), in one pass over the GEMM's output.
template <class Op>
BLASNET_INLINE void biasForwardLoop(size_t rows, size_t cols, float p, const float* bias, float* z, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    float* zr = z + r * cols;
    float* yr = y + r * cols;
    if (bias) {
      for (size_t j = 0; j < cols; ++j) {
        const float v = zr[j] + bias[j];
        zr[j] = v;
        yr[j] = Op::f(v, p);
      }
    } else {
      for (size_t j = 0; j < cols; ++j) yr[j] = Op::f(zr[j], p);
    }
  }
}

template <class Op>
constexpr ActivationEntry entry(const char* name) {
  return {name, levels<ForwardFn, &forwardLoop<Op>>(), levels<BackwardFn, &backwardLoop<Op>>(),
          levels<BiasForwardFn, &biasForwardLoop<Op>>()};
}

// Order is the activation id; lib/activations.ts holds the same names in the same order and checks
// it when the addon loads.
constexpr ActivationEntry kActivations[] = {
    entry<act::Identity>("identity"), entry<act::Sigmoid>("sigmoid"),
    entry<act::Tanh>("tanh"),         entry<act::Relu>("relu"),
    entry<act::LeakyRelu>("leakyRelu"), entry<act::Elu>("elu"),
    entry<act::Selu>("selu"),         entry<act::Silu>("silu"),
    entry<act::Softplus>("softplus"), entry<act::Gelu>("gelu"),
};

}  // namespace

const ActivationEntry& activationEntry(int id) { return kActivations[id]; }

int activationCount() { return static_cast<int>(sizeof(kActivations) / sizeof(kActivations[0])); }
const char* activationName(int id) { return kActivations[id].name; }

// Elementwise, so a large pass is cut into ranges over the kernel threads (pool.h); in-place use
// stays safe, each element being read and written by one piece.
void activationForward(int id, float param, size_t n, const float* x, float* y) {
  const ForwardFn forward = kActivations[id].forward();
  parallel(partsFor(double(n), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(n, 16, p, count, &lo, &hi);
    if (lo < hi) forward(hi - lo, param, x + lo, y + lo);
  });
}

void activationBackward(int id, float param, size_t n, const float* x, const float* y,
                        const float* dy, float* dx) {
  const BackwardFn backward = kActivations[id].backward();
  parallel(partsFor(double(n), kMinElementwisePart), [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(n, 16, p, count, &lo, &hi);
    if (lo < hi) backward(hi - lo, param, x + lo, y + lo, dy + lo, dx + lo);
  });
}

namespace {

using RowsFn = void (*)(size_t rows, size_t cols, const float* x, float* y);

// Each row less its max goes into y first; the exponentials then run as one long loop over whole
// rows (a batch of 10-wide rows would otherwise be many loops too short to vectorise), and each
// row's sum stays a sequential double sum, added in the same order on every level.
BLASNET_INLINE void shiftRows(size_t rows, size_t cols, const float* x, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float m = vm::maxOf(cols, xr);
    for (size_t j = 0; j < cols; ++j) yr[j] = xr[j] - m;
  }
}

BLASNET_INLINE void softmaxRows(size_t rows, size_t cols, const float* x, float* y) {
  shiftRows(rows, cols, x, y);
  for (size_t i = 0, n = rows * cols; i < n; ++i) y[i] = vm::exp(y[i]);
  for (size_t r = 0; r < rows; ++r) {
    float* yr = y + r * cols;
    double s = 0.0;
    for (size_t j = 0; j < cols; ++j) s += yr[j];
    const float inv = static_cast<float>(1.0 / s);
    for (size_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// logSoftmax keeps x - m in y until each row's last pass, so the exponentials go through a buffer
// of their own: whole rows at a time where they fit, else one row in pieces.
constexpr size_t kExpBuffer = 1024;

BLASNET_INLINE void logSoftmaxRows(size_t rows, size_t cols, const float* x, float* y) {
  shiftRows(rows, cols, x, y);
  float e[kExpBuffer];
  const bool fits = cols <= kExpBuffer;
  const size_t block = fits ? kExpBuffer / cols : 1;
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t nb = std::min(block, rows - r0);
    const float* yb = y + r0 * cols;
    if (fits) {
      for (size_t i = 0, n = nb * cols; i < n; ++i) e[i] = vm::exp(yb[i]);
    }
    for (size_t b = 0; b < nb; ++b) {
      float* yr = y + (r0 + b) * cols;
      double s = 0.0;
      for (size_t j0 = 0; j0 < cols; j0 += kExpBuffer) {
        const size_t len = std::min(kExpBuffer, cols - j0);
        const float* ej = e + b * cols;
        if (!fits) {
          for (size_t j = 0; j < len; ++j) e[j] = vm::exp(yr[j0 + j]);
          ej = e;
        }
        for (size_t j = 0; j < len; ++j) s += ej[j];
      }
      // (x - m) - log(s), not x - (m + log(s)): m + log(s) rounded to float32 loses half an ulp
      // of m (5e-4 at logits of 1e4), while x - m is exact wherever the result is small.
      const float logS = static_cast<float>(std::log(s));
      for (size_t j = 0; j < cols; ++j) yr[j] -= logS;
    }
  }
}

constexpr Levels<RowsFn> kSoftmax = levels<RowsFn, &softmaxRows>();
constexpr Levels<RowsFn> kLogSoftmax = levels<RowsFn, &logSoftmaxRows>();

}  // namespace

// x may be y: each row's max is read before the row is overwritten, and x[j] is read only to
// write y[j].
void softmax(size_t rows, size_t cols, const float* x, float* y) {
  if (cols == 0) return;
  kSoftmax()(rows, cols, x, y);
}

void logSoftmax(size_t rows, size_t cols, const float* x, float* y) {
  if (cols == 0) return;
  kLogSoftmax()(rows, cols, x, y);
}

void softmaxBackward(size_t rows, size_t cols, const float* y, const float* dy, float* dx) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double s = 0.0;
    for (size_t j = 0; j < cols; ++j) s += static_cast<double>(dyr[j]) * yr[j];
    const float sf = static_cast<float>(s);
    for (size_t j = 0; j < cols; ++j) dxr[j] = yr[j] * (dyr[j] - sf);
  }
}

namespace {

using RowsBackwardFn = void (*)(size_t rows, size_t cols, const float* y, const float* dy, float* dx);

BLASNET_INLINE void logSoftmaxBackwardRows(size_t rows, size_t cols, const float* y, const float* dy, float* dx) {
  for (size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    double s = 0.0;
    for (size_t j = 0; j < cols; ++j) s += dyr[j];
    const float sf = static_cast<float>(s);
    for (size_t j = 0; j < cols; ++j) dxr[j] = dyr[j] - vm::exp(yr[j]) * sf;
  }
}

constexpr Levels<RowsBackwardFn> kLogSoftmaxBackward = levels<RowsBackwardFn, &logSoftmaxBackwardRows>();

}  // namespace

void logSoftmaxBackward(size_t rows, size_t cols, const float* y, const float* dy, float* dx) {
  if (cols == 0) return;
  kLogSoftmaxBackward()(rows, cols, y, dy, dx);
}

// A shared slope runs as one flat loop: no per-row work, so a huge row count of empty rows is free.
// The slope a[j] is loaded outside the select: a load inside one branch of ?: is conditional, and
// GCC will not vectorise it into a blend (per-unit PReLU ran about 25x slower that way).
void prelu(bool perUnit, size_t rows, size_t cols, const float* x, const float* a, float* y) {
  if (!perUnit) {
    const float s = a[0];
    for (size_t i = 0, n = rows * cols; i < n; ++i) y[i] = x[i] > 0 ? x[i] : s * x[i];
    return;
  }
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    for (size_t j = 0; j < cols; ++j) {
      const float v = xr[j], s = a[j];
      yr[j] = v > 0 ? v : s * v;
    }
  }
}

// NaN takes the a-branch of x > 0, as in the forward pass, so a NaN input reaches da (PyTorch).
// Both modes sum da per column in double, a shared slope adding the columns up at the end: the
// column loop vectorises where one running double sum would not. Loads sit outside the selects
// and the selects pick floats, or GCC will not vectorise them (the product at x > 0 is 0 * 0,
// whatever dy holds). da's loop reads a row of dy before dx's loop overwrites it, so dx may be dy.
void preluBackward(bool perUnit, size_t rows, size_t cols, float beta, const float* x, const float* a,
                   const float* dy, float* da, float* dx) {
  // No rows: nothing to sum (a vector of cols doubles would be all the call allocates).
  std::vector<double> acc(rows > 0 ? cols : 0, 0.0);
  const float a0 = perUnit ? 0.0f : a[0];  // per unit, a may be empty (cols = 0)
  for (size_t r = 0; r < rows && cols > 0; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    for (size_t j = 0; j < cols; ++j) {
      const float v = xr[j], g = dyr[j];
      const float vn = v > 0 ? 0.0f : v, gn = v > 0 ? 0.0f : g;
      acc[j] += static_cast<double>(gn) * vn;
    }
    if (perUnit) {
      for (size_t j = 0; j < cols; ++j) {
        const float v = xr[j], g = dyr[j], s = a[j];
        dxr[j] = v > 0 ? g : g * s;
      }
    } else {
      for (size_t j = 0; j < cols; ++j) {
        const float v = xr[j], g = dyr[j];
        dxr[j] = v > 0 ? g : g * a0;
      }
    }
  }
  const double b = beta;
  if (perUnit) {
    for (size_t j = 0; j < cols; ++j) da[j] = static_cast<float>((beta == 0.0f ? 0.0 : b * da[j]) + (rows > 0 ? acc[j] : 0.0));
  } else {
    double total = 0;
    for (size_t j = 0; j < acc.size(); ++j) total += acc[j];
    da[0] = static_cast<float>((beta == 0.0f ? 0.0 : b * da[0]) + total);
  }
}

}  // namespace blasnet
