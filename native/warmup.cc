// The first GEMMs a process runs pay for more than their arithmetic: the pool's workers start,
// OpenBLAS maps the packing buffer of each thread that calls it and the pages of it that a
// product uses are faulted in one by one, and the kernels' code is paged in. For the reference
// MLP that was about 150 page faults and 3 ms in its first training step on a VM where a fault
// costs 11-15 us (bench/RESULTS.md, run AB). startWarmUp pays it once per process on a thread of
// its own, while the process goes on loading its data, so that the first step finds it done.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "blasnet.h"

#ifdef __linux__
#include <pthread.h>
#endif

namespace blasnet {
namespace {

// Products of the shapes of a small MLP's training step at batch 128 (784 inputs, 256 units),
// each twice: the first call of a shape may run on one thread while a worker is still starting,
// the second runs on every thread. One of 32 rows too, which OpenBLAS's AVX-512 cores take with
// their small kernels.
struct Shape {
  bool transA, transB;
  size_t m, n, k;
};
constexpr Shape kShapes[] = {
    {false, true, 128, 256, 784},   // forward: X W^T
    {true, false, 256, 784, 128},   // weight gradient: dZ^T X
    {false, false, 128, 784, 256},  // input gradient: dZ W
    {false, true, 32, 256, 784},    // a small batch's forward pass
};

void warmUp() {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "blasnet-warmup");
#endif
  size_t most = 0;
  for (const Shape& s : kShapes) most = std::max(most, std::max(s.m * s.k, std::max(s.k * s.n, s.m * s.n)));
  // calloc: the operands stay zero pages, which reading does not copy; only C is written.
  float* a = static_cast<float*>(std::calloc(most, sizeof(float)));
  float* b = static_cast<float*>(std::calloc(most, sizeof(float)));
  float* c = static_cast<float*>(std::calloc(most, sizeof(float)));
  if (a && b && c) {
    for (const Shape& s : kShapes) {
      for (int i = 0; i < 2; ++i) gemm(s.transA, s.transB, s.m, s.n, s.k, 1.0f, a, b, 0.0f, c);
    }
  }
  std::free(a);
  std::free(b);
  std::free(c);
}

struct WarmUp {
  std::once_flag once;
  std::mutex mutex;
  std::thread thread;
  // At exit the thread is waited for: OpenBLAS frees its buffers in its own exit handler, which
  // runs after this one, so no product of the warm-up can still be using them then.
  ~WarmUp() {
    std::lock_guard<std::mutex> lock(mutex);
    if (thread.joinable()) thread.join();
  }
};

WarmUp& state() {
  static WarmUp w;
  return w;
}

}  // namespace

void startWarmUp() {
  const char* v = std::getenv("BLASNET_WARM_UP");
  if (v && v[0] == '0' && v[1] == '\0') return;
  WarmUp& w = state();
  std::call_once(w.once, [&w] {
    std::lock_guard<std::mutex> lock(w.mutex);
    try {
      w.thread = std::thread(warmUp);
    } catch (...) {
      // No thread to spare: the first step pays as it did before.
    }
  });
}

}  // namespace blasnet
