// The first GEMMs a process runs pay for more than their arithmetic: OpenBLAS maps a packing
// buffer (from a process-wide table: a buffer warmed on one thread serves the next caller) and
// the pages of it that a product uses are faulted in one by one, and the kernels' code is paged
// in. For the reference MLP's first layer that made the process's first forward pass about
// 1.9 ms against 1.0 (bench/RESULTS.md, run AB), on a VM where a fault costs about 10 us.
// startWarmUp pays it once per process on a thread of its own, while the process goes on
// loading its data.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <sys/mman.h>

#include "blasnet.h"

#ifdef __linux__
#include <pthread.h>
#endif

namespace blasnet {
namespace {

// Products of the shapes of a small MLP's training step at batch 128 (784 inputs, 256 units),
// and one of 32 rows, which OpenBLAS's AVX-512 cores take with their small kernels.
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
  size_t most = 0;
  for (const Shape& s : kShapes) most = std::max(most, std::max(s.m * s.k, std::max(s.k * s.n, s.m * s.n)));
  // Mapped here rather than taken from malloc, which keeps its state as the process left it
  // (freeing a large block raises glibc's mmap threshold for every thread). The operands stay
  // zero pages, which reading does not copy; only C is written.
  const size_t bytes = 3 * most * sizeof(float);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  float* a = static_cast<float*>(mem);
  float* b = a + most;
  float* c = b + most;
  // On this thread alone: the pool's worker is left for the first kernel that wants it, started
  // by the thread that trains. Started here instead, training steps at batch 32 ran slower in
  // five paired runs (medians 3-17%; bench/RESULTS.md, run AB).
  const int previous = setThreadLimit(1);
  for (const Shape& s : kShapes) gemm(s.transA, s.transB, s.m, s.n, s.k, 1.0f, a, b, 0.0f, c);
  setThreadLimit(previous);
  munmap(mem, bytes);
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
#ifdef __linux__
      // Named by the thread that starts it rather than by itself, so that the name is there when
      // the addon has loaded: a caller that waits for the warm-up by looking for it (test/31)
      // could otherwise look in the moment before the new thread had named itself, find nothing
      // and run its first product alongside the warm-up, on a packing buffer of its own.
      pthread_setname_np(w.thread.native_handle(), "blasnet-warmup");
#endif
    } catch (...) {
      // No thread to spare: the first step pays as it did before.
    }
  });
}

}  // namespace blasnet
