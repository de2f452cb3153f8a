#include <algorithm>
#include <cmath>

#include "blasnet.h"
#include "isa.h"
#include "vmath.h"

namespace blasnet {
namespace {

// Elementwise losses: value(p, t, param) and its derivative in p. The mean runs over every element
// (PyTorch's reduction='mean'). kCheckedTargets: validTarget rejects some values.
struct Mse {
  static constexpr bool kCheckedTargets = false;
  static bool validParam(float) { return true; }
  static bool validTarget(float) { return true; }
  static double value(float p, float t, float) { const double d = double(p) - t; return d * d; }
  static double grad(float p, float t, float) { return 2.0 * (double(p) - t); }
};
struct L1 {
  static constexpr bool kCheckedTargets = false;
  static bool validParam(float) { return true; }
  static bool validTarget(float) { return true; }
  static double value(float p, float t, float) { return std::fabs(double(p) - t); }
  static double grad(float p, float t, float) {
    const double d = double(p) - t;
    return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
  }
};
struct Huber {
  static constexpr bool kCheckedTargets = false;
  static bool validParam(float delta) { return delta > 0.0f; }
  static bool validTarget(float) { return true; }
  static double value(float p, float t, float delta) {
    const double d = double(p) - t, ad = std::fabs(d);
    return ad < delta ? 0.5 * d * d : delta * (ad - 0.5 * delta);
  }
  static double grad(float p, float t, float delta) {
    const double d = double(p) - t;
    return std::fabs(d) < delta ? d : (d > 0 ? double(delta) : -double(delta));
  }
};
struct BinaryCrossEntropy {
  static constexpr bool kCheckedTargets = false;
  // On logits: max(p, 0) - p t + log(1 + e^-|p|), finite for any p.
  static bool validParam(float) { return true; }
  static bool validTarget(float) { return true; }
  static double value(float p, float t, float) {
    const double x = p;
    return std::fmax(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
  }
  static double grad(float p, float t, float) {
    const double x = p;
    const double s = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    return s - t;
  }
};
struct Hinge {
  static constexpr bool kCheckedTargets = true;
  static bool validParam(float) { return true; }
  static bool validTarget(float t) { return t == 1.0f || t == -1.0f; }
  // max(0, m) keeping a NaN margin NaN, as clamp(min=0) does (std::fmax would return 0).
  static double value(float p, float t, float) {
    const double m = 1.0 - double(t) * p;
    return m < 0.0 ? 0.0 : m;
  }
  static double grad(float p, float t, float) { return 1.0 - double(t) * p > 0 ? -double(t) : 0.0; }
};

// weight: one non-negative factor per row, or null for all ones. Weighted losses keep the
// unweighted normaliser (the count of rows or elements, as Keras's sample_weight), so all-ones
// weights give the unweighted loss bit for bit: w * x and w * inv are exact for w = 1. The
// binding passes its own checked copy of the caller's weights, so no other thread writes them.
using LossFn = double (*)(float param, size_t rows, size_t cols, const float* pred,
                          const float* target, const int32_t* labels, const float* weight,
                          float* grad, Status* st);

inline double rowWeight(const float* weight, size_t r) { return weight ? double(weight[r]) : 1.0; }

template <class Op>
double elementwise(float param, size_t rows, size_t cols, const float* pred, const float* target,
                   const int32_t*, const float* weight, float* grad, Status* st) {
  if (!Op::validParam(param)) { *st = Status::BadParam; return 0.0; }
  const size_t n = rows * cols;
  // Every target is checked before grad is written, so a bad target leaves grad alone.
  for (size_t i = 0; i < n; ++i) {
    if (!Op::validTarget(target[i])) { *st = Status::BadTarget; return 0.0; }
  }
  if (n == 0) return 0.0;
  const double inv = 1.0 / static_cast<double>(n);
  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const double w = rowWeight(weight, r);
    const double wi = w * inv;
    const size_t o = r * cols;
    if constexpr (Op::kCheckedTargets) {
      // One pass that checks the one copy of each target it uses: another thread may have
      // changed the targets since the check above.
      for (size_t j = 0; j < cols; ++j) {
        const float t = readOnce(target + o + j);
        if (!Op::validTarget(t)) { *st = Status::BadTarget; return 0.0; }
        sum += w * Op::value(pred[o + j], t, param);
        if (grad) grad[o + j] = static_cast<float>(Op::grad(pred[o + j], t, param) * wi);
      }
    } else {
      for (size_t j = 0; j < cols; ++j) sum += w * Op::value(pred[o + j], target[o + j], param);
      if (grad) {
        for (size_t j = 0; j < cols; ++j) grad[o + j] = static_cast<float>(Op::grad(pred[o + j], target[o + j], param) * wi);
      }
    }
  }
  return sum * inv;
}

// A label in [0, cols), read once; the kernels below read each label through this, both when they
// check every label before writing grad and when they use it: another thread may change a label
// between the two, and the label they use indexes pred and grad.
bool labelAt(size_t r, size_t cols, const int32_t* labels, size_t* y) {
  const int32_t v = readOnce(labels + r);
  if (v < 0 || static_cast<size_t>(v) >= cols) return false;
  *y = static_cast<size_t>(v);
  return true;
}

bool checkLabels(size_t rows, size_t cols, const int32_t* labels, Status* st) {
  size_t y;
  for (size_t r = 0; r < rows; ++r) {
    if (!labelAt(r, cols, labels, &y)) { *st = Status::BadLabel; return false; }
  }
  return true;
}

// Exponentials go through a buffer of this many floats: whole rows at a time where they fit (the
// 512 x 10 logits of a training batch are 5 runs of one long loop that vectorises, not 512 loops
// of 10), else one row in pieces, taken again for the gradient (the same bits).
constexpr size_t kExpBuffer = 1024;

// Softmax cross-entropy on logits; targets are class labels or a distribution per row. The mean
// runs over rows (PyTorch's CrossEntropyLoss). softmax_j = e_j / s with e_j = exp(x_j - m) in
// float (vmath.h), m the row's max and s = sum_j e_j in double, added in order on every level;
// lse = m + log(s) in double.
BLASNET_INLINE double crossEntropyRows(float, size_t rows, size_t cols, const float* pred, const float* target,
                                       const int32_t* labels, const float* weight, float* grad, Status* st) {
  if (labels && !checkLabels(rows, cols, labels, st)) return 0.0;
  if (rows == 0 || cols == 0) return 0.0;
  const double inv = 1.0 / static_cast<double>(rows);
  const bool fits = cols <= kExpBuffer;
  const size_t block = fits ? kExpBuffer / cols : 1;
  float e[kExpBuffer];
  float maxes[kExpBuffer];
  double sum = 0.0;
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t nb = std::min(block, rows - r0);
    for (size_t b = 0; b < nb; ++b) maxes[b] = vm::maxOf(cols, pred + (r0 + b) * cols);
    if (fits) {
      for (size_t b = 0; b < nb; ++b) {
        const float* p = pred + (r0 + b) * cols;
        float* eb = e + b * cols;
        const float m = maxes[b];
        for (size_t j = 0; j < cols; ++j) eb[j] = p[j] - m;
      }
      for (size_t i = 0, n = nb * cols; i < n; ++i) e[i] = vm::exp(e[i]);
    }
    for (size_t b = 0; b < nb; ++b) {
      const size_t r = r0 + b;
      const float* p = pred + r * cols;
      const float m = maxes[b];
      // Row r's exponentials from j0 on: in the block, or computed into e.
      auto exps = [&](size_t j0, size_t len) -> const float* {
        if (fits) return e + b * cols + j0;
        for (size_t j = 0; j < len; ++j) e[j] = vm::exp(p[j0 + j] - m);
        return e;
      };
      double s = 0.0;
      for (size_t j0 = 0; j0 < cols; j0 += kExpBuffer) {
        const size_t len = std::min(kExpBuffer, cols - j0);
        const float* ej = exps(j0, len);
        for (size_t j = 0; j < len; ++j) s += ej[j];
      }
      const double lse = m + std::log(s);
      const double w = rowWeight(weight, r);
      const double wi = w * inv;
      size_t y = 0;
      if (labels) {
        if (!labelAt(r, cols, labels, &y)) { *st = Status::BadLabel; return 0.0; }
        sum += w * (lse - p[y]);
      }
      const float* t = labels ? nullptr : target + r * cols;
      double tsum = 0.0;
      if (t) {
        for (size_t j = 0; j < cols; ++j) {
          if (t[j] != 0.0f) sum += w * (double(t[j]) * (lse - p[j]));
          tsum += t[j];
        }
      }
      if (!grad) continue;
      // softmax_j * wi = e_j * (wi / s).
      const double scale = wi / s;
      float* g = grad + r * cols;
      for (size_t j0 = 0; j0 < cols; j0 += kExpBuffer) {
        const size_t len = std::min(kExpBuffer, cols - j0);
        const float* ej = exps(j0, len);
        if (t) {
          for (size_t j = 0; j < len; ++j) g[j0 + j] = static_cast<float>(ej[j] * scale * tsum - t[j0 + j] * wi);
        } else {
          for (size_t j = 0; j < len; ++j) g[j0 + j] = static_cast<float>(ej[j] * scale);
        }
      }
      if (labels) g[y] -= static_cast<float>(wi);
    }
  }
  return sum * inv;
}

constexpr Levels<LossFn> kCrossEntropy = levels<LossFn, &crossEntropyRows>();

double crossEntropy(float param, size_t rows, size_t cols, const float* pred, const float* target,
                    const int32_t* labels, const float* weight, float* grad, Status* st) {
  return kCrossEntropy()(param, rows, cols, pred, target, labels, weight, grad, st);
}

// PyTorch's MultiMarginLoss (p = 1): sum_{j != y} max(0, margin - x_y + x_j) / cols, mean over rows.
double multiMargin(float margin, size_t rows, size_t cols, const float* pred, const float*,
                   const int32_t* labels, const float* weight, float* grad, Status* st) {
  if (!checkLabels(rows, cols, labels, st)) return 0.0;
  if (rows == 0 || cols == 0) return 0.0;
  const double invCols = 1.0 / static_cast<double>(cols);
  const double inv = invCols / static_cast<double>(rows);
  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const float* p = pred + r * cols;
    size_t y;
    if (!labelAt(r, cols, labels, &y)) { *st = Status::BadLabel; return 0.0; }
    float* g = grad ? grad + r * cols : nullptr;
    const double w = rowWeight(weight, r);
    const double wi = w * inv;
    size_t active = 0;
    for (size_t j = 0; j < cols; ++j) {
      if (j == y) continue;
      const double v = double(margin) - p[y] + p[j];
      const bool on = v > 0;
      if (on) { sum += w * v; ++active; }
      if (g) g[j] = on ? static_cast<float>(wi) : 0.0f;
    }
    if (g) g[y] = static_cast<float>(-double(active) * wi);
  }
  return sum * invCols / static_cast<double>(rows);
}

// PyTorch's GaussianNLLLoss (full = false): pred holds [mean | variance] per row, the variance
// clamped below at eps; 0.5 * (log v + (mu - t)^2 / v), mean over every target element.
double gaussianNll(float eps, size_t rows, size_t cols, const float* pred, const float* target,
                   const int32_t*, const float* weight, float* grad, Status* st) {
  if (!(eps > 0.0f)) { *st = Status::BadParam; return 0.0; }
  const size_t d = cols / 2;
  const size_t n = rows * d;
  if (n == 0) return 0.0;
  const double inv = 1.0 / static_cast<double>(n);
  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const float* mu = pred + r * cols;
    const float* var = mu + d;
    const float* t = target + r * d;
    const double w = rowWeight(weight, r);
    const double wi = w * inv;
    for (size_t j = 0; j < d; ++j) {
      // clamp(var, min=eps): a NaN variance stays NaN, as in PyTorch and the js backend.
      const double v = double(var[j]) < double(eps) ? double(eps) : double(var[j]);
      const double e = double(mu[j]) - t[j];
      sum += w * (0.5 * (std::log(v) + e * e / v));
      if (grad) {
        grad[r * cols + j] = static_cast<float>(e / v * wi);
        grad[r * cols + d + j] = static_cast<float>(0.5 * (1.0 / v - e * e / (v * v)) * wi);
      }
    }
  }
  return sum * inv;
}

struct LossEntry {
  const char* name;
  int targets;
  LossFn fn;
};

// Order is the loss id; lib/losses.ts holds the same names in the same order.
constexpr LossEntry kLosses[] = {
    {"mse", kTargetDense, &elementwise<Mse>},
    {"l1", kTargetDense, &elementwise<L1>},
    {"huber", kTargetDense, &elementwise<Huber>},
    {"binaryCrossEntropy", kTargetDense, &elementwise<BinaryCrossEntropy>},
    {"crossEntropy", kTargetDense | kTargetLabels, &crossEntropy},
    {"hinge", kTargetDense, &elementwise<Hinge>},
    {"multiMargin", kTargetLabels, &multiMargin},
    {"gaussianNll", kTargetHalf, &gaussianNll},
};

}  // namespace

int lossCount() { return static_cast<int>(sizeof(kLosses) / sizeof(kLosses[0])); }
const char* lossName(int id) { return kLosses[id].name; }
int lossTargets(int id) { return kLosses[id].targets; }

double loss(int id, float param, size_t rows, size_t cols, const float* pred, const float* target,
            const int32_t* labels, float* grad, Status* status) {
  return lossWeighted(id, param, rows, cols, pred, target, labels, nullptr, grad, status);
}

double lossWeighted(int id, float param, size_t rows, size_t cols, const float* pred,
                    const float* target, const int32_t* labels, const float* weight, float* grad,
                    Status* status) {
  *status = Status::Ok;
  return kLosses[id].fn(param, rows, cols, pred, target, labels, weight, grad, status);
}

}  // namespace blasnet
