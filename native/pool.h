// The kernels' threads. blasnet runs OpenBLAS on one thread and does its own parallel work: a
// GEMM is cut into column (or row) blocks, an optimiser step into ranges of the arena, a gather
// into row ranges, and each piece runs on a thread of one persistent pool. The pool's threads are
// the only ones that compute, so nothing oversubscribes the cores; OpenBLAS's own workers never
// start, and with them goes their habit of spinning for a tenth of a second after every call.
//
// A parallel region hands out its pieces by an atomic counter; the calling thread works on them
// too, so a region always finishes even if no worker wakes. While a region runs, another thread
// asking for the pool (a second worker_thread training another model, or a piece that itself
// asks for parallel work) runs its pieces one after another on its own thread instead of
// waiting. Idle workers spin briefly (the gap between two kernels of a training step is a few
// microseconds), then sleep on a condition variable; workers beyond a lowered thread count park
// until it rises again.
#pragma once

#include <atomic>
#include <cstddef>

namespace blasnet {

// The largest thread count setThreads accepts.
constexpr int kMaxThreads = 64;

// Threads the kernels may use, the caller included (1 = the calling thread only). The default is
// the number of physical cores among the CPUs this process may run on (sched_getaffinity; SMT
// siblings count once, as the GEMMs that dominate training share a core's FMA units), or
// BLASNET_NUM_THREADS when that environment variable holds a number >= 1 (at most kMaxThreads).
int threads();
// Clamps n to [1, kMaxThreads]. Takes effect at the next parallel region.
void setThreads(int n);
// A cap on the threads of parallel regions started by the calling thread (0: none), for one
// training loop that runs faster on fewer threads than the process's count without changing that
// count for other threads (a worker_thread training another model). Returns the previous cap.
int setCallerThreadLimit(int n);
namespace detail {
// Threads holding a cap (setCallerThreadLimit); while none does, effectiveThreads skips the
// thread-local read, which in a shared library is a call of its own.
extern std::atomic<int> capsInUse;
int cappedThreads();
}  // namespace detail
// The threads a region started by the calling thread may use: threads(), under its cap.
inline int effectiveThreads() {
  return detail::capsInUse.load(std::memory_order_relaxed) == 0 ? threads() : detail::cappedThreads();
}
// The default thread count as the process started (see threads()).
int defaultThreads();
// CPUs this process may run on.
int availableCpus();

// A piece of a parallel region: task(context, part, parts).
using Task = void (*)(void* context, size_t part, size_t parts);

// Runs task(context, p, parts) for every p in [0, parts) and returns when all have finished.
void parallelFor(size_t parts, Task task, void* context);

// parallelFor over a callable f(part, parts).
template <class F>
void parallel(size_t parts, const F& f) {
  if (parts <= 1) {
    if (parts == 1) f(size_t(0), size_t(1));
    return;
  }
  parallelFor(parts, [](void* c, size_t p, size_t n) { (*static_cast<const F*>(c))(p, n); },
              const_cast<void*>(static_cast<const void*>(&f)));
}

// The [begin, end) of part p of n equal ranges of [0, total), with boundaries on multiples of
// `align` (except the last).
inline void partRange(size_t total, size_t align, size_t p, size_t n, size_t* begin, size_t* end) {
  const size_t units = (total + align - 1) / align;
  const size_t b = units * p / n * align, e = units * (p + 1) / n * align;
  *begin = b < total ? b : total;
  *end = e < total ? e : total;
}

// Elements per piece of an elementwise pass at least: below this a second thread costs more than
// the pass (a 512 x 256 ReLU pass takes about 13 us on one thread here).
constexpr double kMinElementwisePart = 1 << 15;

// How many parts `work` units of work should be cut into: at most effectiveThreads(), and none
// smaller than `minPerPart` units.
inline size_t partsFor(double work, double minPerPart) {
  const int t = effectiveThreads();
  if (t <= 1 || work < 2 * minPerPart) return 1;
  const double byWork = work / minPerPart;
  return byWork < t ? static_cast<size_t>(byWork) : static_cast<size_t>(t);
}

}  // namespace blasnet
