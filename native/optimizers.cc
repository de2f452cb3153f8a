// One optimiser update over a whole parameter arena. The TypeScript side (lib/optim) computes
// every per-step scalar (learning rate, bias corrections, NAdam's mu products, RAdam's
// rectification) and passes it in `hyper`, so nothing here keeps state between calls and both
// backends read the same float32 values. lib/optim/kernels.ts holds the same table (names,
// slots and hyper layout, in the same order) and the js twin of every loop below.
//
// Arithmetic is in double; every state and parameter value is rounded to float when stored, and
// a state value used after its update is the stored float (as PyTorch reads back its float32
// state). The js backend does the same operations in the same order, so the two agree bit for
// bit (this file is built with -ffp-contract=off so that no FMA changes a rounding).
#include <cmath>

#include "blasnet.h"

namespace blasnet {
namespace {

// NaN in either operand gives NaN, as torch.maximum does (std::max would drop a NaN in b).
inline float nanMax(float a, float b) { return (a != a || a > b) ? a : b; }
inline bool on(float flag) { return flag != 0.0f; }

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

// SGD: slot 0 is PyTorch's momentum buffer, or the velocity v in the lr-in-velocity form.
void sgdStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace sgd;
  const double lr = h[kLr], mom = h[kMomentum], damp = h[kDampening], wd = h[kWeightDecay];
  const bool nesterov = on(h[kNesterov]), first = on(h[kFirstStep]), inVelocity = on(h[kLrInVelocity]);
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) gi += wd * pd;
    if (mom != 0) {
      if (!inVelocity) {
        const float b = static_cast<float>(first ? gi : mom * s[i] + (1 - damp) * gi);
        s[i] = b;
        pd -= lr * (nesterov ? gi + mom * b : double(b));
      } else {
        const float v = static_cast<float>(first ? -lr * gi : mom * s[i] - lr * (1 - damp) * gi);
        s[i] = v;
        pd += nesterov ? mom * v - lr * gi : double(v);
      }
    } else {
      pd -= lr * gi;
    }
    p[i] = static_cast<float>(pd);
  }
}

// Adagrad: slot 0 is the sum of squared gradients.
void adagradStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace adagrad;
  const double clr = h[kClr], wd = h[kWeightDecay], eps = h[kEps];
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) gi += wd * pd;
    const float sum = static_cast<float>(s[i] + gi * gi);
    s[i] = sum;
    pd -= clr * (gi / (std::sqrt(double(sum)) + eps));
    p[i] = static_cast<float>(pd);
  }
}

// RMSprop: slots squareAvg, momentumBuf, gradAvg.
void rmspropStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace rmsprop;
  const double lr = h[kLr], alpha = h[kAlpha], oma = h[kOneMinusAlpha], eps = h[kEps], wd = h[kWeightDecay],
               mom = h[kMomentum];
  const bool centered = on(h[kCentered]), inside = on(h[kEpsInsideSqrt]);
  float* sq = s;
  float* buf = s + n;
  float* ga = s + 2 * n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) gi += wd * pd;
    const float sqi = static_cast<float>(alpha * sq[i] + oma * gi * gi);
    sq[i] = sqi;
    double var = sqi;
    if (centered) {
      const float gai = static_cast<float>(alpha * ga[i] + oma * gi);
      ga[i] = gai;
      var -= double(gai) * gai;
    }
    const double avg = inside ? std::sqrt(var + eps) : std::sqrt(var) + eps;
    if (mom > 0) {
      const float b = static_cast<float>(mom * buf[i] + gi / avg);
      buf[i] = b;
      pd -= lr * b;
    } else {
      pd -= lr * (gi / avg);
    }
    p[i] = static_cast<float>(pd);
  }
}

// Adadelta: slots squareAvg, accDelta.
void adadeltaStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace adadelta;
  const double lr = h[kLr], rho = h[kRho], omr = h[kOneMinusRho], eps = h[kEps], wd = h[kWeightDecay];
  float* sq = s;
  float* acc = s + n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) gi += wd * pd;
    const float sqi = static_cast<float>(rho * sq[i] + omr * gi * gi);
    sq[i] = sqi;
    const double delta = std::sqrt(acc[i] + eps) / std::sqrt(sqi + eps) * gi;
    acc[i] = static_cast<float>(rho * acc[i] + omr * delta * delta);
    pd -= lr * delta;
    p[i] = static_cast<float>(pd);
  }
}

// Adam and AdamW: slots m, v, vMax.
void adamStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace adam;
  const double lr = h[kLr], b1 = h[kBeta1], omb1 = h[kOneMinusBeta1], b2 = h[kBeta2], omb2 = h[kOneMinusBeta2],
               eps = h[kEps], wd = h[kWeightDecay], bc1 = h[kBc1], bc2 = h[kBc2];
  const bool decoupled = on(h[kDecoupled]), amsgrad = on(h[kAmsgrad]), inside = on(h[kEpsInsideSqrt]);
  const double decay = 1 - lr * wd, stepSize = lr / bc1, bc2Sqrt = std::sqrt(bc2);
  float* m = s;
  float* v = s + n;
  float* vMax = s + 2 * n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) {
      if (decoupled) pd *= decay;
      else gi += wd * pd;
    }
    const float mi = static_cast<float>(b1 * m[i] + omb1 * gi);
    const float vi = static_cast<float>(b2 * v[i] + omb2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    double vh = vi;
    if (amsgrad) {
      const float mx = nanMax(vMax[i], vi);
      vMax[i] = mx;
      vh = mx;
    }
    const double denom = inside ? std::sqrt(vh / bc2 + eps) : std::sqrt(vh) / bc2Sqrt + eps;
    pd -= stepSize * (mi / denom);
    p[i] = static_cast<float>(pd);
  }
}

// Adamax: slots m, u (the infinity norm).
void adamaxStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace adamax;
  const double lr = h[kLr], b1 = h[kBeta1], omb1 = h[kOneMinusBeta1], b2 = h[kBeta2], eps = h[kEps],
               wd = h[kWeightDecay], bc1 = h[kBc1];
  const double stepSize = lr / bc1;
  float* m = s;
  float* u = s + n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) gi += wd * pd;
    const float mi = static_cast<float>(b1 * m[i] + omb1 * gi);
    const float ui = nanMax(static_cast<float>(b2 * u[i]), static_cast<float>(std::fabs(gi) + eps));
    m[i] = mi;
    u[i] = ui;
    pd -= stepSize * (double(mi) / ui);
    p[i] = static_cast<float>(pd);
  }
}

// NAdam: slots m, v; the two step coefficients carry lr and the mu products.
void nadamStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace nadam;
  const double lr = h[kLr], b1 = h[kBeta1], omb1 = h[kOneMinusBeta1], b2 = h[kBeta2], omb2 = h[kOneMinusBeta2],
               eps = h[kEps], wd = h[kWeightDecay], bc2 = h[kBc2], cg = h[kGradCoef], cm = h[kAvgCoef];
  const bool decoupled = on(h[kDecoupled]);
  const double decay = 1 - lr * wd;
  float* m = s;
  float* v = s + n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) {
      if (decoupled) pd *= decay;
      else gi += wd * pd;
    }
    const float mi = static_cast<float>(b1 * m[i] + omb1 * gi);
    const float vi = static_cast<float>(b2 * v[i] + omb2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    const double denom = std::sqrt(vi / bc2) + eps;
    pd -= cg * (gi / denom);
    pd -= cm * (mi / denom);
    p[i] = static_cast<float>(pd);
  }
}

// RAdam: slots m, v.
void radamStep(size_t n, const float* h, float* p, const float* g, float* s) {
  using namespace radam;
  const double lr = h[kLr], b1 = h[kBeta1], omb1 = h[kOneMinusBeta1], b2 = h[kBeta2], omb2 = h[kOneMinusBeta2],
               eps = h[kEps], wd = h[kWeightDecay], bc1 = h[kBc1], bc2 = h[kBc2], rect = h[kRect];
  const bool decoupled = on(h[kDecoupled]), rectified = on(h[kRectified]);
  const double decay = 1 - lr * wd, bc2Sqrt = std::sqrt(bc2);
  float* m = s;
  float* v = s + n;
  for (size_t i = 0; i < n; ++i) {
    double pd = p[i], gi = g[i];
    if (wd != 0) {
      if (decoupled) pd *= decay;
      else gi += wd * pd;
    }
    const float mi = static_cast<float>(b1 * m[i] + omb1 * gi);
    const float vi = static_cast<float>(b2 * v[i] + omb2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    const double mhat = mi / bc1;
    if (rectified) pd -= mhat * lr * (bc2Sqrt / (std::sqrt(double(vi)) + eps)) * rect;
    else pd -= mhat * lr;
    p[i] = static_cast<float>(pd);
  }
}

struct OptimizerEntry {
  const char* name;
  int slots;
  int hyper;
  void (*step)(size_t n, const float* hyper, float* param, const float* grad, float* state);
};

// Order is the optimiser id; lib/optim/kernels.ts holds the same rows in the same order.
constexpr OptimizerEntry kOptimizers[] = {
    {"sgd", 1, sgd::kCount, &sgdStep},
    {"adagrad", 1, adagrad::kCount, &adagradStep},
    {"rmsprop", 3, rmsprop::kCount, &rmspropStep},
    {"adadelta", 2, adadelta::kCount, &adadeltaStep},
    {"adam", 3, adam::kCount, &adamStep},
    {"adamax", 2, adamax::kCount, &adamaxStep},
    {"nadam", 2, nadam::kCount, &nadamStep},
    {"radam", 2, radam::kCount, &radamStep},
};

}  // namespace

int optimizerCount() { return static_cast<int>(sizeof(kOptimizers) / sizeof(kOptimizers[0])); }
const char* optimizerName(int id) { return kOptimizers[id].name; }
int optimizerSlots(int id) { return kOptimizers[id].slots; }
int optimizerHyperLength(int id) { return kOptimizers[id].hyper; }

void optimizerStep(int id, size_t n, const float* hyper, float* param, const float* grad, float* state) {
  kOptimizers[id].step(n, hyper, param, grad, state);
}

}  // namespace blasnet
