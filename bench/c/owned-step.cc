// How much of a two-thread training step is the cost of cutting every kernel across the cores?
//
// A standalone MLP training step (784-256-128-10, ReLU, softmax cross-entropy, Adam), with no
// Node in between: OpenBLAS on one thread per worker (cblas_sgemm on each worker's own block),
// two persistent threads that meet at spinning barriers. Three ways to run the same step:
//
//   one     one thread does everything (the floor the two-thread ways are judged against).
//   split   every kernel cut in two as blasnet's pool cuts it today (native/gemm.cc's rules: a
//           product by columns of C when C is at least as wide as tall, by rows otherwise or
//           when K is short; elementwise passes by rows; the bias gradient by columns; the
//           optimiser over two halves of the arena), a barrier after each kernel.
//   owned   each thread owns half of every layer's units for the whole run: it computes its
//           block of z and y, its block of dz, its rows of dW and db, a partial dX from its
//           block (dX = dz W summed over its units), and updates its own rows of W, b and their
//           Adam moments. Threads exchange only activations (each reads the other's half of y,
//           and the two partial dX are summed by the thread that owns the lower layer's units).
//           The 10-unit output layer and the loss run on thread 0.
//
// The input rows are gathered from a synthetic 60,000 x 784 set (uniform values, random labels) in
// a shuffled order, half by each thread.
// Reports microseconds per step (median of --runs runs of --steps steps each, the three ways
// alternating), and checks first that split and owned give one's weights after 20 steps. In the
// same rounds it measures the GEMM-only bound as bench/step-gemms.ts does (each of the split
// step's GEMMs alone, repeated, on one thread and on two). --skip M,... leaves parts out of the
// three steps, each mask in every round (1: the gather; 2: the elementwise passes, column sums
// and loss; 4: the optimiser; 7: all three, so the GEMMs run alone in the step's order and on the
// data they pass each other): what each part costs inside a step, and the step's GEMMs against
// the same GEMMs repeated alone.
//
//   c++ -O3 -march=native -fno-math-errno -pthread bench/c/owned-step.cc -lopenblas -o build/owned-step
//   OPENBLAS_NUM_THREADS=1 build/owned-step [--batch 128] [--steps 200] [--runs 5] [--skip 0,4,7]
#include <cblas.h>
#include <xmmintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kLayers = 3;
constexpr int kSizes[kLayers + 1] = {784, 256, 128, 10};
constexpr int kRows = 60000;

struct Rng {
  uint64_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 11);
  }
  float uniform() { return (next() >> 8) * (1.0f / 16777216.0f); }
};

float* alloc(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(n, 16) * sizeof(float)) != 0) std::abort();
  std::memset(p, 0, n * sizeof(float));
  return static_cast<float*>(p);
}

// A barrier for two threads that spin: generation counter and arrival count.
struct Barrier {
  std::atomic<int> count{0};
  std::atomic<int> generation{0};
  int parties = 2;
  void wait() {
    if (parties == 1) return;
    const int g = generation.load(std::memory_order_acquire);
    if (count.fetch_add(1, std::memory_order_acq_rel) == parties - 1) {
      count.store(0, std::memory_order_relaxed);
      generation.store(g + 1, std::memory_order_release);
    } else {
      while (generation.load(std::memory_order_acquire) == g) __builtin_ia32_pause();
    }
  }
};

struct Layer {
  int in, out;
  float *w, *b, *gw, *gb;  // views into the arenas
  float *z, *y, *dz, *dx;  // [batch, out], [batch, out], [batch, out], [batch, in]
  float* dxPart[2];        // owned: each thread's partial dX
};

struct Net {
  int batch;
  size_t n;  // parameters
  float *params, *grads, *m, *v;
  Layer L[kLayers];
  float *xb, *delta;
  int* yb;
  float loss;
  int t = 0;
};

void initNet(Net& net, int batch, uint64_t seed) {
  net.batch = batch;
  size_t n = 0;
  for (int l = 0; l < kLayers; ++l) n += size_t(kSizes[l]) * kSizes[l + 1] + kSizes[l + 1];
  net.n = n;
  net.params = alloc(n);
  net.grads = alloc(n);
  net.m = alloc(n);
  net.v = alloc(n);
  Rng rng{seed};
  size_t off = 0;
  for (int l = 0; l < kLayers; ++l) {
    Layer& L = net.L[l];
    L.in = kSizes[l];
    L.out = kSizes[l + 1];
    L.w = net.params + off;
    L.gw = net.grads + off;
    const float bound = std::sqrt(6.0f / L.in);
    for (int i = 0; i < L.in * L.out; ++i) L.w[i] = (2 * rng.uniform() - 1) * bound;
    off += size_t(L.in) * L.out;
    L.b = net.params + off;
    L.gb = net.grads + off;
    off += L.out;
    L.z = alloc(size_t(batch) * L.out);
    L.y = alloc(size_t(batch) * L.out);
    L.dz = alloc(size_t(batch) * L.out);
    L.dx = alloc(size_t(batch) * L.in);
    L.dxPart[0] = alloc(size_t(batch) * L.in);
    L.dxPart[1] = alloc(size_t(batch) * L.in);
  }
  net.xb = alloc(size_t(batch) * 784);
  net.delta = alloc(size_t(batch) * 10);
  net.yb = static_cast<int*>(std::calloc(batch, sizeof(int)));
}

// [lo, hi) of part p of 2 over n, on multiples of 16 (the last part takes the rest).
void half(int n, int p, int parts, int* lo, int* hi) {
  const int units = (n + 15) / 16;
  *lo = std::min(n, units * p / parts * 16);
  *hi = std::min(n, units * (p + 1) / parts * 16);
}

void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
          int ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b,
              ldb, beta, c, ldc);
}

// C [m, n] = op(A) op(B), part p of `parts` cut as native/gemm.cc cuts it.
void gemmCut(int p, int parts, bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c) {
  const int lda = ta ? m : k, ldb = tb ? k : n;
  if (parts == 1) return gemm(ta, tb, m, n, k, a, lda, b, ldb, 0.0f, c, n);
  const bool shortKRows = k <= 128 && !tb && m >= 128;
  const bool byColumns = n >= m && !shortKRows;
  int lo, hi;
  half(byColumns ? n : m, p, parts, &lo, &hi);
  if (byColumns) {
    gemm(ta, tb, m, hi - lo, k, a, lda, tb ? b + size_t(lo) * k : b + lo, ldb, 0.0f, c + lo, n);
  } else {
    gemm(ta, tb, hi - lo, n, k, ta ? a + lo : a + size_t(lo) * k, lda, b, ldb, 0.0f, c + size_t(lo) * n, n);
  }
}

void biasRelu(bool relu, int rows, int cols, int ld, const float* b, float* z, float* y) {
  for (int r = 0; r < rows; ++r) {
    float* zr = z + size_t(r) * ld;
    float* yr = y + size_t(r) * ld;
    for (int j = 0; j < cols; ++j) {
      const float v = zr[j] + b[j];
      zr[j] = v;
      yr[j] = relu ? (v > 0 ? v : 0.0f) : v;
    }
  }
}

void reluBackward(int rows, int cols, int ld, const float* z, const float* dy, float* dz) {
  for (int r = 0; r < rows; ++r) {
    const size_t o = size_t(r) * ld;
    for (int j = 0; j < cols; ++j) dz[o + j] = z[o + j] > 0 ? dy[o + j] : 0.0f;
  }
}

void colSum(int rows, int ld, int lo, int hi, const float* x, float* out) {
  for (int j = lo; j < hi; ++j) out[j] = 0;
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * ld;
    for (int j = lo; j < hi; ++j) out[j] += xr[j];
  }
}

// Softmax cross-entropy on the logits: delta = (p - onehot) / rows; returns the mean loss.
float softmaxCe(int rows, const float* logits, const int* labels, float* delta) {
  double loss = 0;
  for (int r = 0; r < rows; ++r) {
    const float* x = logits + r * 10;
    float mx = x[0];
    for (int j = 1; j < 10; ++j) mx = std::max(mx, x[j]);
    double s = 0;
    for (int j = 0; j < 10; ++j) s += std::exp(double(x[j] - mx));
    for (int j = 0; j < 10; ++j) delta[r * 10 + j] = float(std::exp(double(x[j] - mx)) / s) / rows;
    delta[r * 10 + labels[r]] -= 1.0f / rows;
    loss += std::log(s) - double(x[labels[r]] - mx);
  }
  return float(loss / rows);
}

// The parts of the step left out (--skip): a mask of kSkipGather, kSkipPasses and kSkipOptimiser.
// All three leave the GEMMs (and barriers) alone, on the data the step's own GEMMs leave.
int gSkip = 0;
constexpr int kSkipGather = 1, kSkipPasses = 2, kSkipOptimiser = 4;

struct AdamScalars {
  float lr, b1, b2, eps, bc1, bc2;
};

void adam(size_t lo, size_t hi, const AdamScalars& s, float* __restrict p, const float* __restrict g, float* __restrict m,
          float* __restrict v) {
  const float a1 = 1 - s.b1, a2 = 1 - s.b2, step = s.lr / s.bc1, isb2 = 1.0f / std::sqrt(s.bc2);
  for (size_t i = lo; i < hi; ++i) {
    const float mi = s.b1 * m[i] + a1 * g[i];
    const float vi = s.b2 * v[i] + a2 * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] -= step * mi / (std::sqrt(vi) * isb2 + s.eps);
  }
}

AdamScalars scalars(int t) {
  AdamScalars s{1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0};
  s.bc1 = float(1 - std::pow(0.9, t));
  s.bc2 = float(1 - std::pow(0.999, t));
  return s;
}

struct Data {
  float* x;
  int* labels;
  std::vector<int> order;
};

// This thread's half of the step's batch rows, then a barrier: every thread reads all of them.
void gatherHalf(const Data& d, const Net& net, int step, int p, int parts, Barrier& bar) {
  int lo, hi;
  half(net.batch, p, parts, &lo, &hi);
  if (gSkip & kSkipGather) hi = lo;
  for (int r = lo; r < hi; ++r) {
    const int i = d.order[(size_t(step) * net.batch + r) % kRows];
    std::memcpy(net.xb + size_t(r) * 784, d.x + size_t(i) * 784, 784 * sizeof(float));
    net.yb[r] = d.labels[i];
  }
  bar.wait();
}

// The step as blasnet cuts it today: every kernel in `parts` pieces, a barrier after each.
void stepSplit(Net& net, const Data& d, int step, int p, int parts, Barrier& bar) {
  const int B = net.batch;
  int lo, hi;
  gatherHalf(d, net, step, p, parts, bar);
  const float* h = net.xb;
  for (int l = 0; l < kLayers; ++l) {
    Layer& L = net.L[l];
    const bool relu = l < kLayers - 1;
    const int gp = size_t(B) * L.out * L.in >= (2u << 18) ? parts : 1;
    if (p < gp) gemmCut(p, gp, false, true, B, L.out, L.in, h, L.w, L.z);
    bar.wait();
    const int ep = size_t(B) * L.out >= (2u << 15) ? parts : 1;
    if (p < ep && !(gSkip & kSkipPasses)) {
      half(B, p, ep, &lo, &hi);
      biasRelu(relu, hi - lo, L.out, L.out, L.b, L.z + size_t(lo) * L.out, L.y + size_t(lo) * L.out);
    }
    bar.wait();
    h = L.y;
  }
  if (p == 0 && !(gSkip & kSkipPasses)) net.loss = softmaxCe(B, net.L[kLayers - 1].y, net.yb, net.delta);
  bar.wait();
  const float* dy = net.delta;
  for (int l = kLayers - 1; l >= 0; --l) {
    Layer& L = net.L[l];
    const float* x = l ? net.L[l - 1].y : net.xb;
    const float* g = dy;
    if (l < kLayers - 1) {
      const int ep = size_t(B) * L.out >= (2u << 15) ? parts : 1;
      if (p < ep && !(gSkip & kSkipPasses)) {
        half(B, p, ep, &lo, &hi);
        reluBackward(hi - lo, L.out, L.out, L.z + size_t(lo) * L.out, dy + size_t(lo) * L.out, L.dz + size_t(lo) * L.out);
      }
      bar.wait();
      g = L.dz;
    }
    const int gp = size_t(B) * L.out * L.in >= (2u << 18) ? parts : 1;
    if (p < gp) gemmCut(p, gp, true, false, L.out, L.in, B, g, x, L.gw);
    bar.wait();
    const int cp = size_t(B) * L.out >= (2u << 15) ? parts : 1;
    if (p < cp && !(gSkip & kSkipPasses)) {
      half(L.out, p, cp, &lo, &hi);
      colSum(B, L.out, lo, hi, g, L.gb);
    }
    bar.wait();
    if (l > 0) {
      if (p < gp) gemmCut(p, gp, false, false, B, L.in, L.out, g, L.w, L.dx);
      bar.wait();
      dy = L.dx;
    }
  }
  const AdamScalars s = scalars(net.t + 1);
  const int op = net.n >= (2u << 12) ? parts : 1;
  if (p < op && !(gSkip & kSkipOptimiser)) {
    half(int(net.n), p, op, &lo, &hi);
    adam(lo, hi, s, net.params, net.grads, net.m, net.v);
  }
  bar.wait();
  if (p == 0) net.t++;
}

// The step with each thread owning half of every layer's units (the output layer: thread 0).
void stepOwned(Net& net, const Data& d, int step, int p, int parts, Barrier& bar) {
  const int B = net.batch;
  int lo, hi;
  gatherHalf(d, net, step, p, parts, bar);
  const float* h = net.xb;
  for (int l = 0; l < kLayers; ++l) {
    Layer& L = net.L[l];
    const bool relu = l < kLayers - 1;
    if (L.out >= 32) half(L.out, p, parts, &lo, &hi);
    else lo = 0, hi = p == 0 ? L.out : 0;
    if (lo < hi) {
      gemm(false, true, B, hi - lo, L.in, h, L.in, L.w + size_t(lo) * L.in, L.in, 0.0f, L.z + lo, L.out);
      if (!(gSkip & kSkipPasses)) biasRelu(relu, B, hi - lo, L.out, L.b + lo, L.z + lo, L.y + lo);
    }
    bar.wait();
    h = L.y;
  }
  if (p == 0 && !(gSkip & kSkipPasses)) net.loss = softmaxCe(B, net.L[kLayers - 1].y, net.yb, net.delta);
  const AdamScalars s = scalars(net.t + 1);
  // The output layer's gradients and partial dX wait for delta only on thread 0, which made it.
  const float* dy = net.delta;
  for (int l = kLayers - 1; l >= 0; --l) {
    Layer& L = net.L[l];
    const float* x = l ? net.L[l - 1].y : net.xb;
    if (L.out >= 32) half(L.out, p, parts, &lo, &hi);
    else lo = 0, hi = p == 0 ? L.out : 0;
    const float* g = dy;
    if (lo < hi) {
      if (l < kLayers - 1) {
        if (!(gSkip & kSkipPasses)) reluBackward(B, hi - lo, L.out, L.z + lo, dy + lo, L.dz + lo);
        g = L.dz;
      }
      const int n = hi - lo;
      gemm(true, false, n, L.in, B, g + lo, L.out, x, L.in, 0.0f, L.gw + size_t(lo) * L.in, L.in);
      if (!(gSkip & kSkipPasses)) colSum(B, L.out, lo, hi, g, L.gb);
      // This thread's share of dX = dz W: its units' columns of dz times its rows of W.
      if (l > 0) gemm(false, false, B, L.in, n, g + lo, L.out, L.w + size_t(lo) * L.in, L.in, 0.0f, L.dxPart[p], L.in);
      // Its rows of W and b, with their moments: nothing else reads them before the next step.
      const size_t wo = size_t(L.w - net.params) + size_t(lo) * L.in, bo = size_t(L.b - net.params);
      if (!(gSkip & kSkipOptimiser)) {
        adam(wo, wo + size_t(n) * L.in, s, net.params, net.grads, net.m, net.v);
        adam(bo + lo, bo + hi, s, net.params, net.grads, net.m, net.v);
      }
    }
    if (l == 0) break;
    bar.wait();
    // dX for the lower layer's units this thread owns: the sum of the partials that exist.
    Layer& D = net.L[l - 1];
    half(D.out, p, parts, &lo, &hi);
    const bool two = L.out >= 32 && parts == 2;
    for (int r = 0; r < (gSkip & kSkipPasses ? 0 : B); ++r) {
      float* o = L.dx + size_t(r) * L.in;
      const float* a = L.dxPart[0] + size_t(r) * L.in;
      const float* b = L.dxPart[1] + size_t(r) * L.in;
      if (two) for (int j = lo; j < hi; ++j) o[j] = a[j] + b[j];
      else for (int j = lo; j < hi; ++j) o[j] = a[j];
    }
    // The lower layer's f'(z) reads only this thread's columns of dX: no barrier needed.
    dy = L.dx;
  }
  bar.wait();
  if (p == 0) net.t++;
}

// The GEMM-only bound as bench/step-gemms.ts measures it: each GEMM of the split step alone, run
// `reps` times back to back (a barrier after each), on operands that stay where that GEMM left
// them. Returns (on thread 0) the sum over the GEMMs of their time per call, in seconds.
double splitBound(Net& net, int p, int parts, Barrier& bar, int reps) {
  const int B = net.batch;
  double total = 0;
  auto timed = [&](auto&& call) {
    call();
    bar.wait();
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) {
      call();
      bar.wait();
    }
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  };
  for (int l = 0; l < kLayers; ++l) {
    Layer& L = net.L[l];
    const float* h = l ? net.L[l - 1].y : net.xb;
    const int gp = size_t(B) * L.out * L.in >= (2u << 18) ? parts : 1;
    timed([&] {
      if (p < gp) gemmCut(p, gp, false, true, B, L.out, L.in, h, L.w, L.z);
    });
    const float* g = l < kLayers - 1 ? L.dz : net.delta;
    timed([&] {
      if (p < gp) gemmCut(p, gp, true, false, L.out, L.in, B, g, h, L.gw);
    });
    if (l > 0) {
      timed([&] {
        if (p < gp) gemmCut(p, gp, false, false, B, L.in, L.out, g, L.w, L.dx);
      });
    }
  }
  return total;
}

double arg(int argc, char** argv, const char* name, double dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return std::atof(argv[i + 1]);
  return dflt;
}

double normDiff(const float* a, const float* b, size_t n) {
  double d = 0, s = 0;
  for (size_t i = 0; i < n; ++i) {
    d += double(a[i] - b[i]) * (a[i] - b[i]);
    s += double(b[i]) * b[i];
  }
  return std::sqrt(d / s);
}

}  // namespace

// Runs body(0) on this thread and, when there are two parts, body(1) on a second one; returns
// when both have finished.
template <typename Body>
void onThreads(int parts, const Body& body) {
  std::thread other;
  if (parts == 2) other = std::thread(body, 1);
  body(0);
  if (other.joinable()) other.join();
}

int main(int argc, char** argv) {
  const int batch = int(arg(argc, argv, "--batch", 128));
  const int steps = int(arg(argc, argv, "--steps", 200));
  const int runs = int(arg(argc, argv, "--runs", 5));
  // --skip: a comma-separated list of masks, each measured in every round.
  std::vector<int> skips;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) != "--skip") continue;
    const std::string list = argv[i + 1];
    for (size_t at = 0; at <= list.size();) {
      const size_t comma = std::min(list.find(',', at), list.size());
      skips.push_back(std::atoi(list.substr(at, comma - at).c_str()) & 7);
      at = comma + 1;
    }
  }
  if (skips.empty()) skips.push_back(0);
  openblas_set_num_threads(1);
  Data d;
  d.x = alloc(size_t(kRows) * 784);
  d.labels = static_cast<int*>(std::calloc(kRows, sizeof(int)));
  Rng rng{12345};
  for (size_t i = 0; i < size_t(kRows) * 784; ++i) d.x[i] = rng.uniform();
  for (int i = 0; i < kRows; ++i) d.labels[i] = int(rng.next() % 10);
  d.order.resize(kRows);
  for (int i = 0; i < kRows; ++i) d.order[i] = i;
  for (int i = kRows - 1; i > 0; --i) std::swap(d.order[i], d.order[rng.next() % (i + 1)]);

  // The three ways must compute the same step: 20 steps from the same weights, then compare (a
  // longer run drifts apart: a different summation order of dX changes the last bits, and Adam
  // turns the sign of a near-zero gradient into a full step).
  double check[3] = {0, 0, 0};
  {
    Net c[3];
    for (int k = 0; k < 3; ++k) {
      initNet(c[k], batch, 7);
      const int parts = k == 0 ? 1 : 2;
      Barrier bar;
      bar.parties = parts;
      auto body = [&](int p) {
        _mm_setcsr(_mm_getcsr() | 0x8040);
        for (int s = 0; s < 20; ++s) {
          if (k == 2) stepOwned(c[k], d, s, p, parts, bar);
          else stepSplit(c[k], d, s, p, parts, bar);
        }
      };
      onThreads(parts, body);
      check[k] = normDiff(c[k].params, c[0].params, c[0].n);
    }
  }
  Net nets[3];
  std::vector<std::vector<double>> times(3 * skips.size());
  std::vector<double> bounds[2];
  for (int k = 0; k < 3; ++k) initNet(nets[k], batch, 7);
  // Rounds alternate the ways and the parts left out so that the machine's drift falls on all
  // alike.
  for (int run = 0; run < runs + 1; ++run) {
    for (size_t si = 0; si < skips.size(); ++si) {
      gSkip = skips[si];
      for (int k = 0; k < 3; ++k) {
        Net& net = nets[k];
        const int parts = k == 0 ? 1 : 2;
        Barrier bar;
        bar.parties = parts;
        std::atomic<int> ready{0};
        double seconds = 0;
        auto body = [&](int p) {
          // Subnormals flushed, as blasnet's optimiser step flushes them (moments of weights whose
          // gradient stays zero decay into the subnormal range).
          _mm_setcsr(_mm_getcsr() | 0x8040);
          ready.fetch_add(1);
          while (ready.load() < parts) {
          }
          const auto t0 = std::chrono::steady_clock::now();
          for (int s = 0; s < steps; ++s) {
            const int global = run * steps + s;
            if (k == 2) stepOwned(net, d, global, p, parts, bar);
            else stepSplit(net, d, global, p, parts, bar);
          }
          if (p == 0) seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        };
        onThreads(parts, body);
        if (run > 0) times[si * 3 + k].push_back(seconds / steps * 1e6);
      }
    }
    gSkip = 0;
    // The bound on one thread and on two, in the same rounds.
    for (int k = 0; k < 2; ++k) {
      const int parts = k + 1;
      Barrier bar;
      bar.parties = parts;
      double seconds = 0;
      auto body = [&](int p) {
        _mm_setcsr(_mm_getcsr() | 0x8040);
        const double t = splitBound(nets[parts - 1], p, parts, bar, 20);
        if (p == 0) seconds = t;
      };
      onThreads(parts, body);
      if (run > 0) bounds[k].push_back(seconds * 1e6);
    }
  }
  auto med = [](std::vector<double> t, double* lo, double* hi) {
    std::sort(t.begin(), t.end());
    *lo = t.front();
    *hi = t.back();
    return t[t.size() / 2];
  };
  std::printf("batch %d, %d steps per run, %d runs (after one warm-up run), OpenBLAS core %s\n", batch, steps, runs,
              openblas_get_corename());
  std::printf("weights after 20 steps against one's, normalised difference: split %.1e, owned %.1e\n", check[1], check[2]);
  double lo, hi;
  for (int k = 0; k < 2; ++k) {
    const double m = med(bounds[k], &lo, &hi);
    std::printf("GEMM-only bound (each GEMM alone, repeated), %d thread(s): %.1f us/step (%.1f-%.1f)\n", k + 1, m, lo, hi);
  }
  std::printf("| left out | one | split | owned |\n| --- | --- | --- | --- |\n");
  for (size_t si = 0; si < skips.size(); ++si) {
    const int m = skips[si];
    std::string what = m == 0 ? "nothing" : m == 7 ? "all but the GEMMs" : "";
    if (m != 0 && m != 7) {
      if (m & kSkipGather) what += "gather ";
      if (m & kSkipPasses) what += "passes+loss ";
      if (m & kSkipOptimiser) what += "optimiser ";
      what.pop_back();
    }
    std::printf("| %s |", what.c_str());
    for (int k = 0; k < 3; ++k) {
      const double t = med(times[si * 3 + k], &lo, &hi);
      std::printf(" %.1f (%.1f-%.1f) |", t, lo, hi);
    }
    std::printf("\n");
  }
  return 0;
}
