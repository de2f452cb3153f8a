#include <cmath>
#include <vector>

#include "blasnet.h"

namespace blasnet {

// Column statistics are gathered row by row into per-column double accumulators, so x is read in
// memory order. The variance takes a second pass over x - mean: one pass of sum x^2 - n mean^2
// cancels badly when a column's mean is large next to its spread.
void batchNormForward(bool training, size_t rows, size_t cols, float eps, float momentum,
                      const float* x, const float* gamma, const float* beta, float* runningMean,
                      float* runningVar, float* mean, float* invStd, float* xhat, float* y) {
  if (cols == 0) return;
  std::vector<double> mu(cols, 0.0), scale(cols, 0.0);
  if (training) {
    for (size_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      for (size_t j = 0; j < cols; ++j) mu[j] += xr[j];
    }
    const double n = static_cast<double>(rows);
    for (size_t j = 0; j < cols; ++j) mu[j] /= n;
    std::vector<double>& sq = scale;  // holds the sums of squares until it becomes invStd
    for (size_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      for (size_t j = 0; j < cols; ++j) {
        const double d = xr[j] - mu[j];
        sq[j] += d * d;
      }
    }
    const double m = momentum;
    for (size_t j = 0; j < cols; ++j) {
      const double var = sq[j] / n;
      // The running variance is the unbiased estimate, as PyTorch keeps it (rows >= 2 here).
      runningMean[j] = static_cast<float>((1.0 - m) * runningMean[j] + m * mu[j]);
      runningVar[j] = static_cast<float>((1.0 - m) * runningVar[j] + m * (sq[j] / (n - 1.0)));
      scale[j] = 1.0 / std::sqrt(var + eps);
    }
  } else {
    for (size_t j = 0; j < cols; ++j) {
      mu[j] = runningMean[j];
      scale[j] = 1.0 / std::sqrt(static_cast<double>(runningVar[j]) + eps);
    }
  }
  for (size_t j = 0; j < cols; ++j) {
    mean[j] = static_cast<float>(mu[j]);
    invStd[j] = static_cast<float>(scale[j]);
  }
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* hr = xhat + r * cols;
    float* yr = y + r * cols;
    for (size_t j = 0; j < cols; ++j) {
      const double h = (xr[j] - mu[j]) * scale[j];
      hr[j] = static_cast<float>(h);
      yr[j] = static_cast<float>(gamma[j] * h + beta[j]);
    }
  }
}

// The batch's own sums of dy and dy*xhat feed dx; dgamma and dbeta may hold earlier batches too.
void batchNormBackward(bool training, size_t rows, size_t cols, float beta, const float* xhat,
                       const float* gamma, const float* invStd, const float* dy, float* dgamma,
                       float* dbeta, float* dx) {
  if (cols == 0) return;
  std::vector<double> sdy(cols, 0.0), sdyx(cols, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    const float* hr = xhat + r * cols;
    const float* gr = dy + r * cols;
    for (size_t j = 0; j < cols; ++j) {
      sdy[j] += gr[j];
      sdyx[j] += static_cast<double>(gr[j]) * hr[j];
    }
  }
  // beta == 0 overwrites, so NaN in an unset gradient does not propagate (as in BLAS).
  const double b = beta;
  for (size_t j = 0; j < cols; ++j) {
    dbeta[j] = static_cast<float>((beta == 0.0f ? 0.0 : b * dbeta[j]) + sdy[j]);
    dgamma[j] = static_cast<float>((beta == 0.0f ? 0.0 : b * dgamma[j]) + sdyx[j]);
  }
  if (!dx || rows == 0) return;
  const double n = static_cast<double>(rows);
  std::vector<double> k(cols);
  for (size_t j = 0; j < cols; ++j) {
    k[j] = static_cast<double>(gamma[j]) * invStd[j] / (training ? n : 1.0);
  }
  for (size_t r = 0; r < rows; ++r) {
    const float* hr = xhat + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    if (training) {
      for (size_t j = 0; j < cols; ++j) {
        dr[j] = static_cast<float>(k[j] * (n * gr[j] - sdy[j] - hr[j] * sdyx[j]));
      }
    } else {
      for (size_t j = 0; j < cols; ++j) dr[j] = static_cast<float>(k[j] * gr[j]);
    }
  }
}

}  // namespace blasnet
