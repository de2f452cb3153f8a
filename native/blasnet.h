// blasnet kernel core: raw pointers and sizes in, Status out. No Node headers here.
//
// Conventions (see README): row-major, batch first; a dense layer's weight is [out, in] and its
// forward pass is Z = X * W^T + b. Every array is packed (leading dimension = row length).
// Callers (binding/) have already checked types, lengths, aliasing and ids; the core checks only
// what it must read from the data itself (label ranges, hinge targets, gather indices), and stays
// inside its arrays whatever those values become during the call (see readOnce).
#pragma once

#include <cstddef>
#include <cstdint>

namespace blasnet {

// Reads *p exactly once, whole. The index, label and target arrays a kernel checks may live on a
// SharedArrayBuffer that another thread writes during the call, so a kernel never reads such a
// value twice (once to check, once to use): it checks and uses one copy. A relaxed atomic load
// is a plain load on every target we build for, but the compiler may not split or repeat it.
template <class T>
inline T readOnce(const T* p) {
  T v;
  __atomic_load(p, &v, __ATOMIC_RELAXED);
  return v;
}

enum class Status : int {
  Ok = 0,
  BadLabel,   // an integer label outside [0, classes)
  BadTarget,  // a target value the loss does not accept (hinge targets must be -1 or +1)
  BadIndex,   // a gather index outside [0, srcRows)
  BadParam,   // a loss or activation parameter outside its domain
};

// ---- GEMM -------------------------------------------------------------------------------------
// C = alpha * op(A) * op(B) + beta * C, op(A) is [m, k], op(B) is [k, n], C is [m, n].
// beta == 0 overwrites C (NaN in C does not propagate), as in BLAS.
void gemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
          const float* b, float beta, float* c);
// `batch` independent GEMMs; matrix i starts at a + i*strideA (likewise b, c).
void gemmBatched(bool transA, bool transB, size_t m, size_t n, size_t k, size_t batch, float alpha,
                 const float* a, size_t strideA, const float* b, size_t strideB, float beta,
                 float* c, size_t strideC);
// Whether the core OpenBLAS picked has SGEMM kernels for small products that read the operands in
// place rather than packing them (its AVX-512 cores: SkylakeX, Cooperlake, SapphireRapids).
bool openblasHasSmallKernels();

// ---- warm-up ---------------------------------------------------------------------------------
// Starts, once per process, a thread that runs a few GEMMs of a small MLP's shapes on itself
// alone (native/warmup.cc): OpenBLAS's packing buffer and the kernels' code are mapped before the
// first training step needs them. Returns at once; later calls do nothing, and so does every
// call when the environment variable BLASNET_WARM_UP is 0.
void startWarmUp();

// ---- memory -----------------------------------------------------------------------------------
// Asks the OS to back the transparent huge pages wholly inside data[0..bytes) with huge pages on
// their first touch (madvise MADV_HUGEPAGE; Linux). Returns the bytes advised: 0 where the kernel
// has no transparent huge pages, the buffer holds no whole huge page, or the advice fails. A hint
// only: the contents and every later read and write are unchanged.
size_t adviseHugePages(void* data, size_t bytes);
// Maps the pages wholly inside data[0..bytes) now (madvise MADV_POPULATE_WRITE; Linux 5.14 and
// later), in one call rather than one page fault per page at their first write: where a fault
// is expensive it saves the trap (on one VM 10.5 us a page written fresh, 0.8 us to populate plus
// 5 us for the first write after; bench/c/page-faults.c).
// Returns the bytes populated: 0 where the kernel cannot, or the buffer holds no whole page. The
// contents are unchanged, and another thread may read or write the buffer meanwhile.
size_t populatePages(void* data, size_t bytes);

// ---- row operations ---------------------------------------------------------------------------
void addBias(size_t rows, size_t cols, const float* bias, float* y);                 // y[i,j] += bias[j]
void colSum(size_t rows, size_t cols, float beta, const float* x, float* out);       // out = beta*out + sum_i x[i,:]
Status gatherRows(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src,
                  float* dst);                                                       // dst[i,:] = src[index[i],:]
// gatherRows that also sets *firstBad to the position in dst of the first NaN or infinity among
// the gathered values, or -1: each row is checked a few rows after its copy, while it is in cache.
Status gatherRowsChecked(size_t rows, size_t cols, size_t srcRows, const int32_t* index, const float* src,
                         float* dst, int64_t* firstBad);
// out[0..n) = 0, 1, ..., n-1, then shuffled as Rng.shuffle shuffles (Fisher-Yates from the top,
// each swap index from two xoshiro128** outputs, as Rng.uniform draws), advancing state[0..4)
// (the generator's four words) past the draws; the same permutation and state as lib/rng.ts.
void shuffledRange(size_t n, uint32_t* state, int32_t* out);
// out[i] = the index of the first largest value of row i of x [rows, cols] (a value wins only if
// it is greater than every one before it, so a NaN never does; a row of no columns gives 0).
void argmaxRows(size_t rows, size_t cols, const float* x, int32_t* out);
void scale(size_t n, float alpha, float* x);                                         // x *= alpha
void axpy(size_t n, float alpha, const float* x, float* y);                          // y += alpha*x
double dot(size_t n, const float* x, const float* y);                                // double accumulation
double sumSquares(size_t n, const float* x);                                         // ||x||^2, double accumulation
// The index of the first NaN or infinity in x[0..n), or -1 when every value is finite.
int64_t firstNonFinite(size_t n, const float* x);
// The index of the first of labels[0..n) outside [0, classes), or -1 (a class-label check).
int64_t firstLabelOutside(size_t n, const int32_t* labels, size_t classes);
// out = x * y elementwise; out may be x or y itself.
void mul(size_t n, const float* x, const float* y, float* out);
// Weight penalty l1 * sum|w| + (l2/2) * sum w^2, accumulated in double; when grad is not null,
// grad += l1 * sign(w) + l2 * w with sign(0) = 0 (so l2 matches PyTorch's weight_decay).
double penalty(size_t n, float l1, float l2, const float* w, float* grad);

// ---- activations ------------------------------------------------------------------------------
int activationCount();
const char* activationName(int id);
// y = f(x); y may be x itself.
void activationForward(int id, float param, size_t n, const float* x, float* y);
// dx = dy * f'(x); y = f(x) as computed by the forward pass; dx may be dy itself.
void activationBackward(int id, float param, size_t n, const float* x, const float* y,
                        const float* dy, float* dx);

void softmax(size_t rows, size_t cols, const float* x, float* y);
void logSoftmax(size_t rows, size_t cols, const float* x, float* y);
// dx = y * (dy - sum_j dy_j y_j) for y = softmax(x)
void softmaxBackward(size_t rows, size_t cols, const float* y, const float* dy, float* dx);
// dx = dy - exp(y) * sum_j dy_j for y = logSoftmax(x)
void logSoftmaxBackward(size_t rows, size_t cols, const float* y, const float* dy, float* dx);

// PReLU: y = x > 0 ? x : a_j * x, with a [cols] when perUnit, else a [1] shared by every column.
// y may be x itself.
void prelu(bool perUnit, size_t rows, size_t cols, const float* x, const float* a, float* y);
// dx = dy * (x > 0 ? 1 : a_j); da = beta*da + sum over x <= 0 of dy * x (per column, or in total
// when not perUnit), accumulated in double. dx may be dy itself.
void preluBackward(bool perUnit, size_t rows, size_t cols, float beta, const float* x, const float* a,
                   const float* dy, float* da, float* dx);

// ---- batch normalisation (PyTorch BatchNorm1d over x [rows, cols], one channel per column) ----
// training: mean and biased variance over rows (rows >= 2), running estimates updated in place
// with the unbiased variance; eval: the running estimates are used and left alone. Either way
// mean and invStd = 1/sqrt(var + eps) are written for the backward pass, xhat = (x - mean)*invStd,
// y = gamma*xhat + beta. Sums are accumulated in double.
void batchNormForward(bool training, size_t rows, size_t cols, float eps, float momentum,
                      const float* x, const float* gamma, const float* beta, float* runningMean,
                      float* runningVar, float* mean, float* invStd, float* xhat, float* y);
// dbeta = beta*dbeta + sum_rows dy; dgamma = beta*dgamma + sum_rows dy*xhat; dx (if not null) =
// training ? gamma*invStd/rows * (rows*dy - sum dy - xhat * sum dy*xhat) : dy*gamma*invStd.
void batchNormBackward(bool training, size_t rows, size_t cols, float beta, const float* xhat,
                       const float* gamma, const float* invStd, const float* dy, float* dgamma,
                       float* dbeta, float* dx);

// ---- fused dense layer ------------------------------------------------------------------------
// z = x * w^T + b (b may be null), y = f(z). x [batch, in], w [out, in], z and y [batch, out].
void denseForward(int act, float param, size_t batch, size_t inDim, size_t outDim, const float* x,
                  const float* w, const float* b, float* z, float* y);
// dz = dy * f'(z); dw = beta*dw + dz^T x; db = beta*db + colsum(dz) (if db); dx = dz w (if dx).
void denseBackward(int act, float param, size_t batch, size_t inDim, size_t outDim, float beta,
                   const float* x, const float* w, const float* z, const float* y, const float* dy,
                   float* dz, float* dw, float* db, float* dx);

// ---- losses -----------------------------------------------------------------------------------
enum TargetKind : int {
  kTargetDense = 1,   // Float32Array [rows, cols]
  kTargetLabels = 2,  // Int32Array [rows] of class indices in [0, cols)
  kTargetHalf = 4,    // Float32Array [rows, cols/2] (pred holds mean and variance heads)
};
int lossCount();
const char* lossName(int id);
int lossTargets(int id);  // bit set of TargetKind
// Mean loss over the batch; writes d(loss)/d(pred) into grad when grad is not null.
// Exactly one of target/labels is non-null. An empty batch has loss 0.
double loss(int id, float param, size_t rows, size_t cols, const float* pred, const float* target,
            const int32_t* labels, float* grad, Status* status);
// loss with one factor per row in weight (rows finite non-negative values, or null for all
// ones): each row's term and gradient scaled by its weight, the normaliser unchanged.
double lossWeighted(int id, float param, size_t rows, size_t cols, const float* pred,
                    const float* target, const int32_t* labels, const float* weight, float* grad,
                    Status* status);

// ---- optimisers -------------------------------------------------------------------------------
// One update of an optimiser over a whole parameter arena of n values: param in place, state
// (optimiserSlots(id) slots of n floats, slot k at state + k*n) in place, grad read only. `hyper`
// holds the step's scalars, laid out per optimiser (native/optimizers.cc, lib/optim/kernels.ts):
// the caller computes learning rate, bias corrections and the like, so the kernel keeps no state.
// Arithmetic is float (centred RMSprop: double); a large arena is cut into pieces run on the
// kernel threads (pool.h).
int optimizerCount();
const char* optimizerName(int id);
int optimizerSlots(int id);
int optimizerHyperLength(int id);
void optimizerStep(int id, size_t n, const float* hyper, float* param, const float* grad, float* state);
// optimizerStep over an arena laid out as blocks of rows: blocks[2b] rows of blocks[2b + 1] values
// each, in order, covering [0, n) (checked by the caller). The update is the same; only the cut
// between threads differs (optimizers.cc).
void optimizerStepBlocks(int id, size_t n, const float* hyper, float* param, const float* grad, float* state,
                         const size_t* blocks, size_t nBlocks);
// x = min(max(x, lo), hi) in place, lo <= hi; NaN stays NaN.
void clamp(size_t n, float lo, float hi, float* x);
// Max-norm constraint on the rows of w [rows, cols] (a dense weight's incoming vector per unit):
// a row whose L2 norm (accumulated in double) exceeds maxNorm is scaled by maxNorm / (norm + 1e-7),
// as torch.renorm; other rows are left alone. maxNorm > 0.
void maxNormRows(size_t rows, size_t cols, float maxNorm, float* w);

// ---- BLAS runtime -----------------------------------------------------------------------------
void setNumThreads(int n);
int numThreads();
// Caps the threads of kernels called from the calling thread (0: no cap), leaving the process's
// count (setNumThreads) as it is for other threads; returns the previous cap.
int setThreadLimit(int n);
int numProcs();
const char* blasConfig();
const char* blasCoreName();

}  // namespace blasnet
