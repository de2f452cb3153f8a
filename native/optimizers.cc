// One optimiser update over a whole parameter arena. The TypeScript side (lib/optim) computes
// every per-step scalar (learning rate, bias corrections, NAdam's mu products, RAdam's
// rectification) and passes it in `hyper`, so nothing here keeps state between calls and both
// backends read the same float32 values. lib/optim/kernels.ts holds the same table (names,
// slots and hyper layout, in the same order) and the js twin of every loop below.
//
// Precision. The loops do the js twin's operations in the same order (one exception: Adam
// multiplies by 1 / bc2 where the twin divides by sqrt(bc2), see AdamKernel), but in float32 (as
// PyTorch's CPU kernels do), where the js backend, the reference, computes in float64: sqrt and
// division are several times faster on float lanes, and an 8-wide float loop needs no
// conversions. The two backends therefore agree to float32 rounding (normalised error well
// under 1e-6), not bit for bit. Scalars derived from hyper (1 - lr * weightDecay, lr / bc1,
// sqrt(bc2), ...) are computed in double and rounded once. One variant keeps double: centred
// RMSprop, whose variance sq - gAvg^2 cancels (see RmspropKernel). This file is built with
// -ffp-contract=off, so every instruction-set level rounds alike and results do not depend on
// the CPU.
//
// Speed. Each kernel is a loop template specialised on its flags (weight decay on or off, L2 or
// decoupled, momentum, nesterov, first step, amsgrad, eps inside the root, centered, ...), so
// every inner loop is branch-free and vectorises; the flags are read once per call and select
// the instantiation. The functions that hold the loops are compiled for AVX-512, AVX2 and the
// portable baseline, and the level is chosen at load time (isa.h; BLASNET_ISA lowers it).
//
// Threads. A step over a large arena is cut into contiguous pieces run on the pool's threads
// (pool.h); each element's update depends on that element alone, so the result does not depend on
// how it is cut. (While OpenBLAS ran its own threads, a second thread here gained nothing inside
// training: OpenBLAS's idle workers spin for about 0.1 s after each GEMM and held the other core.
// The pool now runs the GEMMs too, and its workers are free when the step starts.)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "blasnet.h"
#include "isa.h"
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace blasnet {
namespace {

// Builtins rather than std::sqrt, whose float overload is an ordinary inline function that could
// be emitted out of line for one instruction set only.
BLASNET_INLINE float sqrtOf(float x) { return __builtin_sqrtf(x); }
BLASNET_INLINE double sqrtOf(double x) { return __builtin_sqrt(x); }

// NaN in either operand gives NaN, as torch.maximum does (std::max would drop a NaN in b).
BLASNET_INLINE float nanMax(float a, float b) { return (a != a || a > b) ? a : b; }
inline bool on(float flag) { return flag != 0.0f; }

// Calls k.run<b1, b2, ...>() with the runtime flags as template arguments.
template <bool... Done, class K>
BLASNET_INLINE void dispatch(const K& k) {
  k.template run<Done...>();
}
template <bool... Done, class K, class... Rest>
BLASNET_INLINE void dispatch(const K& k, bool b, Rest... rest) {
  if (b) dispatch<Done..., true>(k, rest...);
  else dispatch<Done..., false>(k, rest...);
}

// Hyper layouts: the index of each scalar, as lib/optim/kernels.ts names them.
namespace sgd { enum { kLr, kMomentum, kDampening, kWeightDecay, kNesterov, kFirstStep, kLrInVelocity, kCount }; }
namespace adagrad { enum { kClr, kWeightDecay, kEps, kCount }; }
namespace rmsprop {
enum { kLr, kAlpha, kOneMinusAlpha, kEps, kWeightDecay, kMomentum, kCentered, kEpsInsideSqrt, kCount };
}
namespace adadelta { enum { kLr, kRho, kOneMinusRho, kEps, kWeightDecay, kCount }; }
namespace adam {
enum { kLr, kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kEps, kWeightDecay, kDecoupled, kAmsgrad,
       kEpsInsideSqrt, kBc1, kBc2, kCount };
}
namespace adamax { enum { kLr, kBeta1, kOneMinusBeta1, kBeta2, kEps, kWeightDecay, kBc1, kCount }; }
namespace nadam {
enum { kLr, kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kEps, kWeightDecay, kDecoupled, kBc2,
       kGradCoef, kAvgCoef, kCount };
}
namespace radam {
enum { kLr, kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kEps, kWeightDecay, kDecoupled, kBc1, kBc2,
       kRectified, kRect, kCount };
}

// Elements per stretch of a step that asks for its weights ahead. Before each stretch the lines
// of the next one's weights are fetched for writing (prefetchForWrite, isa.h). A weight the other
// core read in the forward product (every weight of a layer whose product is cut by batch rows,
// some of the others) must be taken back from it before it can be written; one at a time, as the
// stores reach them, those trips made the step 1.5-2x slower on a VM whose two vCPUs sit far
// apart, and asked for a stretch ahead they overlap (bench/shared-step.ts, bench/RESULTS.md run
// AD). The state slots stay the thread's own from step to step and are left to the hardware.
constexpr size_t kWriteAhead = 256;

// body(lo, hi) over [0, n) in stretches of kWriteAhead, the weights p of each next stretch asked
// for first, when prefetchWriteOn() and the kernels may run on more than one thread; else
// body(0, n). (On one thread no other core reads the weights, and the stretches cost Adam about
// 5-10% in cache. A call of the level's step function per stretch, instead of the stretches
// inside its loop, cost about 25 ns each: a fifth of Adam's time.)
template <class Body>
BLASNET_INLINE void inStretches(size_t n, float* p, const Body& body) {
  if (!prefetchWriteOn() || effectiveThreads() <= 1) {
    body(0, n);
    return;
  }
  prefetchLinesForWrite(p, std::min(kWriteAhead, n) * sizeof(float));
  for (size_t lo = 0; lo < n; lo += kWriteAhead) {
    const size_t hi = std::min(n, lo + kWriteAhead), next = std::min(n, hi + kWriteAhead);
    prefetchLinesForWrite(p + hi, (next - hi) * sizeof(float));
    body(lo, hi);
  }
}

// Every kernel updates n elements; state slot k starts at s + k*stride (stride >= n: a piece of a
// larger arena).
using StepFn = void (*)(size_t n, size_t stride, const float* hyper, float* p, const float* g, float* s);

// ---- SGD: slot 0 is PyTorch's momentum buffer, or the velocity v in the lr-in-velocity form ----

struct SgdKernel {
  size_t n;
  // lrOneMinusDamp is lr * (1 - dampening): the js twin's lr * (1 - damp) * g groups it so.
  float lr, mom, oneMinusDamp, lrOneMinusDamp, wd;
  float* p;
  const float* g;
  float* s;
  template <bool kWd, bool kMom, bool kVelocity, bool kNesterov, bool kFirst>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kWd, kMom, kVelocity, kNesterov, kFirst>(lo, hi, p, g, s); });
  }
  template <bool kWd, bool kMom, bool kVelocity, bool kNesterov, bool kFirst>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict s) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kWd) gi += wd * pd;
      if (kMom) {
        if (!kVelocity) {
          const float b = kFirst ? gi : mom * s[i] + oneMinusDamp * gi;
          s[i] = b;
          pd -= lr * (kNesterov ? gi + mom * b : b);
        } else {
          const float v = kFirst ? -lr * gi : mom * s[i] - lrOneMinusDamp * gi;
          s[i] = v;
          pd += kNesterov ? mom * v - lr * gi : v;
        }
      } else {
        pd -= lr * gi;
      }
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void sgdStep(size_t n, size_t /*stride: one slot*/, const float* h, float* p, const float* g, float* s) {
  using namespace sgd;
  const double oneMinusDamp = 1 - double(h[kDampening]);
  const SgdKernel k{n, h[kLr], h[kMomentum], float(oneMinusDamp), float(h[kLr] * oneMinusDamp), h[kWeightDecay],
                    p, g, s};
  const bool mom = on(h[kMomentum]);
  // Without momentum the other flags do not matter: one instantiation serves.
  dispatch(k, on(h[kWeightDecay]), mom, mom && on(h[kLrInVelocity]), mom && on(h[kNesterov]),
           mom && on(h[kFirstStep]));
}

// ---- Adagrad: slot 0 is the sum of squared gradients --------------------------------------------

struct AdagradKernel {
  size_t n;
  float clr, wd, eps;
  float* p;
  const float* g;
  float* s;
  template <bool kWd>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kWd>(lo, hi, p, g, s); });
  }
  template <bool kWd>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict sum) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kWd) gi += wd * pd;
      const float si = sum[i] + gi * gi;
      sum[i] = si;
      pd -= clr * (gi / (sqrtOf(si) + eps));
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void adagradStep(size_t n, size_t /*stride: one slot*/, const float* h, float* p, const float* g, float* s) {
  using namespace adagrad;
  dispatch(AdagradKernel{n, h[kClr], h[kWeightDecay], h[kEps], p, g, s}, on(h[kWeightDecay]));
}

// ---- RMSprop: slots squareAvg, momentumBuf, gradAvg ---------------------------------------------

struct RmspropKernel {
  size_t n;
  double lr, alpha, oma, eps, wd, mom;
  float* p;
  const float* g;
  float* sq;
  float* buf;
  float* ga;
  template <bool kWd, bool kCentered, bool kInside, bool kMom>
  BLASNET_INLINE void run() const {
    // Centred, the variance sq - gAvg^2 is a difference of two stored averages that nearly cancel
    // when the gradient varies little, so that a one-ulp change in either moves the step far more
    // than float rounding would. That variant computes in double, as the js twin does (and so
    // agrees with it bit for bit); the others in float.
    using T = typename std::conditional<kCentered, double, float>::type;
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<T, kWd, kCentered, kInside, kMom>(lo, hi, p, g, sq, buf, ga); });
  }
  template <class T, bool kWd, bool kCentered, bool kInside, bool kMom>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict sq,
                           float* __restrict buf, float* __restrict ga) const {
    const T lr = T(this->lr), alpha = T(this->alpha), oma = T(this->oma), eps = T(this->eps), wd = T(this->wd),
            mom = T(this->mom);
    for (size_t i = lo; i < hi; ++i) {
      T pd = p[i], gi = g[i];
      if (kWd) gi += wd * pd;
      const float sqi = static_cast<float>(alpha * sq[i] + oma * gi * gi);
      sq[i] = sqi;
      T var = sqi;
      if (kCentered) {
        const float gai = static_cast<float>(alpha * ga[i] + oma * gi);
        ga[i] = gai;
        var -= T(gai) * gai;
      }
      const T avg = kInside ? sqrtOf(var + eps) : sqrtOf(var) + eps;
      if (kMom) {
        const float b = static_cast<float>(mom * buf[i] + gi / avg);
        buf[i] = b;
        pd -= lr * b;
      } else {
        pd -= lr * (gi / avg);
      }
      p[i] = static_cast<float>(pd);
    }
  }
};

BLASNET_INLINE void rmspropStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace rmsprop;
  const RmspropKernel k{n, h[kLr], h[kAlpha], h[kOneMinusAlpha], h[kEps], h[kWeightDecay], h[kMomentum],
                        p, g, s, s + stride, s + 2 * stride};
  dispatch(k, on(h[kWeightDecay]), on(h[kCentered]), on(h[kEpsInsideSqrt]), h[kMomentum] > 0);
}

// ---- Adadelta: slots squareAvg, accDelta ---------------------------------------------------------

struct AdadeltaKernel {
  size_t n;
  float lr, rho, omr, eps, wd;
  float* p;
  const float* g;
  float* sq;
  float* acc;
  template <bool kWd>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kWd>(lo, hi, p, g, sq, acc); });
  }
  template <bool kWd>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict sq,
                           float* __restrict acc) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kWd) gi += wd * pd;
      const float sqi = rho * sq[i] + omr * gi * gi;
      sq[i] = sqi;
      const float ai = acc[i];
      const float delta = sqrtOf(ai + eps) / sqrtOf(sqi + eps) * gi;
      acc[i] = rho * ai + omr * delta * delta;
      pd -= lr * delta;
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void adadeltaStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace adadelta;
  const AdadeltaKernel k{n, h[kLr], h[kRho], h[kOneMinusRho], h[kEps], h[kWeightDecay], p, g, s, s + stride};
  dispatch(k, on(h[kWeightDecay]));
}

// ---- Adam and AdamW: slots m, v, vMax -----------------------------------------------------------

struct AdamKernel {
  size_t n;
  float b1, omb1, b2, omb2, eps, wd, invBc2, decay, stepSize;
  float* p;
  const float* g;
  float* m;
  float* v;
  float* vMax;
  // kL2: g += wd p; kDecoupled: p *= 1 - lr wd (never both).
  template <bool kL2, bool kDecoupled, bool kAmsgrad, bool kInside>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kL2, kDecoupled, kAmsgrad, kInside>(lo, hi, p, g, m, v, vMax); });
  }
  template <bool kL2, bool kDecoupled, bool kAmsgrad, bool kInside>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict m,
                           float* __restrict v, float* __restrict vMax) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kDecoupled) pd *= decay;
      if (kL2) gi += wd * pd;
      const float mi = b1 * m[i] + omb1 * gi;
      const float vi = b2 * v[i] + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float vh = vi;
      if (kAmsgrad) {
        vh = nanMax(vMax[i], vi);
        vMax[i] = vh;
      }
      // vh / bc2 as a product with 1 / bc2 (computed in double, rounded once): the js twin's
      // sqrt(vh) / sqrt(bc2) and vh / bc2 to within float rounding, with one division per element
      // instead of two. The loop is bound by the divider (sqrt and division share it), so this
      // is a third of Adam's step time, the largest non-GEMM kernel of a small-batch epoch.
      const float vb = vh * invBc2;
      const float denom = kInside ? sqrtOf(vb + eps) : sqrtOf(vb) + eps;
      pd -= stepSize * (mi / denom);
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void adamStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace adam;
  const double lr = h[kLr], wd = h[kWeightDecay];
  const AdamKernel k{n, h[kBeta1], h[kOneMinusBeta1], h[kBeta2], h[kOneMinusBeta2], h[kEps], h[kWeightDecay],
                     float(1 / double(h[kBc2])), float(1 - lr * wd), float(lr / h[kBc1]), p, g, s, s + stride,
                     s + 2 * stride};
  const bool decay = on(h[kWeightDecay]), decoupled = on(h[kDecoupled]);
  dispatch(k, decay && !decoupled, decay && decoupled, on(h[kAmsgrad]), on(h[kEpsInsideSqrt]));
}

// ---- Adamax: slots m, u (the infinity norm) ------------------------------------------------------

struct AdamaxKernel {
  size_t n;
  float b1, omb1, b2, eps, wd, stepSize;
  float* p;
  const float* g;
  float* m;
  float* u;
  template <bool kWd>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kWd>(lo, hi, p, g, m, u); });
  }
  template <bool kWd>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict m,
                           float* __restrict u) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kWd) gi += wd * pd;
      const float mi = b1 * m[i] + omb1 * gi;
      const float ui = nanMax(b2 * u[i], __builtin_fabsf(gi) + eps);
      m[i] = mi;
      u[i] = ui;
      pd -= stepSize * (mi / ui);
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void adamaxStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace adamax;
  const double lr = h[kLr];
  const AdamaxKernel k{n, h[kBeta1], h[kOneMinusBeta1], h[kBeta2], h[kEps], h[kWeightDecay], float(lr / h[kBc1]),
                       p, g, s, s + stride};
  dispatch(k, on(h[kWeightDecay]));
}

// ---- NAdam: slots m, v; the two step coefficients carry lr and the mu products --------------------

struct NadamKernel {
  size_t n;
  float b1, omb1, b2, omb2, eps, wd, bc2, cg, cm, decay;
  float* p;
  const float* g;
  float* m;
  float* v;
  template <bool kL2, bool kDecoupled>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kL2, kDecoupled>(lo, hi, p, g, m, v); });
  }
  template <bool kL2, bool kDecoupled>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict m,
                           float* __restrict v) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kDecoupled) pd *= decay;
      if (kL2) gi += wd * pd;
      const float mi = b1 * m[i] + omb1 * gi;
      const float vi = b2 * v[i] + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float denom = sqrtOf(vi / bc2) + eps;
      pd -= cg * (gi / denom);
      pd -= cm * (mi / denom);
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void nadamStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace nadam;
  const double lr = h[kLr], wd = h[kWeightDecay];
  const NadamKernel k{n, h[kBeta1], h[kOneMinusBeta1], h[kBeta2], h[kOneMinusBeta2], h[kEps], h[kWeightDecay],
                      h[kBc2], h[kGradCoef], h[kAvgCoef], float(1 - lr * wd), p, g, s, s + stride};
  const bool decay = on(h[kWeightDecay]), decoupled = on(h[kDecoupled]);
  dispatch(k, decay && !decoupled, decay && decoupled);
}

// ---- RAdam: slots m, v --------------------------------------------------------------------------

struct RadamKernel {
  size_t n;
  float lr, b1, omb1, b2, omb2, eps, wd, bc1, rect, decay, bc2Sqrt;
  float* p;
  const float* g;
  float* m;
  float* v;
  template <bool kL2, bool kDecoupled, bool kRectified>
  BLASNET_INLINE void run() const {
    inStretches(n, p, [&](size_t lo, size_t hi) BLASNET_LAMBDA_INLINE { loop<kL2, kDecoupled, kRectified>(lo, hi, p, g, m, v); });
  }
  template <bool kL2, bool kDecoupled, bool kRectified>
  BLASNET_INLINE void loop(size_t lo, size_t hi, float* __restrict p, const float* __restrict g, float* __restrict m,
                           float* __restrict v) const {
    for (size_t i = lo; i < hi; ++i) {
      float pd = p[i], gi = g[i];
      if (kDecoupled) pd *= decay;
      if (kL2) gi += wd * pd;
      const float mi = b1 * m[i] + omb1 * gi;
      const float vi = b2 * v[i] + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float mhat = mi / bc1;
      if (kRectified) pd -= mhat * lr * (bc2Sqrt / (sqrtOf(vi) + eps)) * rect;
      else pd -= mhat * lr;
      p[i] = pd;
    }
  }
};

BLASNET_INLINE void radamStep(size_t n, size_t stride, const float* h, float* p, const float* g, float* s) {
  using namespace radam;
  const double lr = h[kLr], wd = h[kWeightDecay];
  const RadamKernel k{n, h[kLr], h[kBeta1], h[kOneMinusBeta1], h[kBeta2], h[kOneMinusBeta2], h[kEps], h[kWeightDecay],
                      h[kBc1], h[kRect], float(1 - lr * wd), float(std::sqrt(double(h[kBc2]))), p, g, s, s + stride};
  const bool decay = on(h[kWeightDecay]), decoupled = on(h[kDecoupled]);
  dispatch(k, decay && !decoupled, decay && decoupled, on(h[kRectified]));
}

// Pieces of a step at least this many elements (below it a second thread costs more than it
// saves), starting on 64-byte boundaries of the arena. SGD's step is a few multiply-adds per
// element and bound by memory: a piece is worth a thread from 32k elements. Every other step
// takes a square root or a division per element, and the divider they share runs at about 1.4
// cycles per element (Adam: 10.7 us for the 25k weights of a 784-32-10 net on one thread here,
// against the ~1 us a region costs), so they pay from 4k.
constexpr double kMinMemoryBoundPart = 1 << 15;
constexpr double kMinDividerBoundPart = 1 << 12;
constexpr size_t kPartAlign = 16;

struct OptimizerEntry {
  const char* name;
  int slots;
  int hyper;
  double minPart;
  Levels<StepFn> step;
};

// Order is the optimiser id; lib/optim/kernels.ts holds the same rows in the same order.
constexpr OptimizerEntry kOptimizers[] = {
    {"sgd", 1, sgd::kCount, kMinMemoryBoundPart, levels<StepFn, &sgdStep>()},
    {"adagrad", 1, adagrad::kCount, kMinDividerBoundPart, levels<StepFn, &adagradStep>()},
    {"rmsprop", 3, rmsprop::kCount, kMinDividerBoundPart, levels<StepFn, &rmspropStep>()},
    {"adadelta", 2, adadelta::kCount, kMinDividerBoundPart, levels<StepFn, &adadeltaStep>()},
    {"adam", 3, adam::kCount, kMinDividerBoundPart, levels<StepFn, &adamStep>()},
    {"adamax", 2, adamax::kCount, kMinDividerBoundPart, levels<StepFn, &adamaxStep>()},
    {"nadam", 2, nadam::kCount, kMinDividerBoundPart, levels<StepFn, &nadamStep>()},
    {"radam", 2, radam::kCount, kMinDividerBoundPart, levels<StepFn, &radamStep>()},
};

}  // namespace

int optimizerCount() { return static_cast<int>(sizeof(kOptimizers) / sizeof(kOptimizers[0])); }
const char* optimizerName(int id) { return kOptimizers[id].name; }
int optimizerSlots(int id) { return kOptimizers[id].slots; }
int optimizerHyperLength(int id) { return kOptimizers[id].hyper; }

// Subnormal state is flushed to zero while a step runs (x86: MXCSR's flush-to-zero and
// denormals-are-zero bits, set and restored around each piece on the thread that runs it, so
// the caller's JavaScript keeps IEEE arithmetic). Weights whose gradient is always zero (the
// border pixels of an image set) have moment estimates that decay geometrically into the
// subnormal range, and every operation on a subnormal takes a microcode assist: on the
// reference MLP that made later Adam epochs 1.9x slower than they are with the flush. A
// subnormal moment (below 1.2e-38) changes no float32 weight it could be applied to.
class FlushSubnormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFtzDaz = 0x8040;
  unsigned saved_;
#endif
};

void optimizerStep(int id, size_t n, const float* hyper, float* param, const float* grad, float* state) {
  const StepFn levelStep = kOptimizers[id].step();
  const auto step = [levelStep](size_t count, size_t stride, const float* h, float* p, const float* g, float* st) {
    FlushSubnormals flush;
    levelStep(count, stride, h, p, g, st);
  };
  const size_t parts = partsFor(double(n), kOptimizers[id].minPart);
  if (parts <= 1) {
    step(n, n, hyper, param, grad, state);
    return;
  }
  // Every element's update reads only that element, so pieces of the arena are independent.
  parallel(parts, [&](size_t p, size_t count) {
    size_t lo, hi;
    partRange(n, kPartAlign, p, count, &lo, &hi);
    if (lo < hi) step(hi - lo, n, hyper, param + lo, grad + lo, state + lo);
  });
}

// Rows of a weight block, and whole blocks, are handed to the parts so that each thread updates
// the weights it read in the forward product. A dense layer's forward GEMM (gemm.cc) cuts
// Z = X W^T by columns when it has at least as many units as rows, on multiples of 16 units:
// thread p then reads rows [lo, hi) of W, the range partRange(rows, 16, p, parts) gives here.
// A step that writes lines the other core has just read pays for taking them back (on the
// two-vCPU VM of bench/RESULTS.md, run Z, about five times the cost of writing its own), and the
// flat halves of optimizerStep cut the first layer's weights elsewhere than its forward product.
// Blocks too small to be worth a cut go whole to the part with the least work so far.
constexpr size_t kRowAlign = 16;

void optimizerStepBlocks(int id, size_t n, const float* hyper, float* param, const float* grad, float* state,
                         const size_t* blocks, size_t nBlocks) {
  const StepFn levelStep = kOptimizers[id].step();
  const auto step = [levelStep, n, hyper, param, grad, state](size_t lo, size_t hi) {
    if (lo >= hi) return;
    FlushSubnormals flush;
    levelStep(hi - lo, n, hyper, param + lo, grad + lo, state + lo);
  };
  const double minPart = kOptimizers[id].minPart;
  const size_t parts = partsFor(double(n), minPart);
  if (parts <= 1) {
    step(0, n);
    return;
  }
  parallel(parts, [&](size_t p, size_t count) {
    // Every part walks the same blocks and makes the same choices, so the pieces tile [0, n).
    size_t load[kMaxThreads] = {};
    size_t at = 0;
    for (size_t b = 0; b < nBlocks; ++b) {
      const size_t rows = blocks[2 * b], cols = blocks[2 * b + 1], len = rows * cols;
      if (rows >= 2 && double(len) >= 2 * minPart) {
        size_t lo, hi;
        for (size_t q = 0; q < count; ++q) {
          partRange(rows, kRowAlign, q, count, &lo, &hi);
          load[q] += (hi - lo) * cols;
        }
        partRange(rows, kRowAlign, p, count, &lo, &hi);
        step(at + lo * cols, at + hi * cols);
      } else {
        size_t least = 0;
        for (size_t q = 1; q < count; ++q) {
          if (load[q] < load[least]) least = q;
        }
        load[least] += len;
        if (least == p) step(at, at + len);
      }
      at += len;
    }
  });
}

}  // namespace blasnet
