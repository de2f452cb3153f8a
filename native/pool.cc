#include "pool.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BLASNET_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define BLASNET_PAUSE() __asm__ __volatile__("yield")
#else
#define BLASNET_PAUSE() ((void)0)
#endif

namespace blasnet {
namespace {

// How long an idle worker spins before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(200);

// The region being handed out, in one word so that a piece is claimed with one compare-exchange:
// bits 32-63 the region's generation, 16-31 its number of parts, 0-15 the next unclaimed part.
constexpr uint64_t kPartBits = 16;
constexpr uint64_t kPartMask = (uint64_t(1) << kPartBits) - 1;
inline uint64_t generationOf(uint64_t s) { return s >> 32; }
inline uint64_t partsOf(uint64_t s) { return (s >> kPartBits) & kPartMask; }
inline uint64_t nextOf(uint64_t s) { return s & kPartMask; }

struct Pool {
  std::atomic<uint64_t> state{0};
  // The region's task; written before state publishes it, read only after a worker has seen it.
  std::atomic<Task> task{nullptr};
  std::atomic<void*> context{nullptr};
  // Pieces claimed but not finished, plus pieces not yet claimed.
  std::atomic<size_t> pending{0};
  // Set while a thread runs a region.
  std::atomic<bool> inUse{false};
  std::atomic<int> sleepers{0};
  std::mutex mutex;  // guards generation changes against a worker going to sleep
  std::condition_variable wake;  // sleeping workers wait here for the next region
  std::condition_variable park;  // workers beyond threads() - 1 wait here
  int workers = 0;  // started so far; only the thread holding inUse starts more
};

// Never destroyed: detached workers may still be reading it while the process exits.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

// Claims and runs pieces of the current region until none is left; returns the generation seen.
uint64_t work(Pool& P, uint64_t s) {
  for (;;) {
    const uint64_t parts = partsOf(s), next = nextOf(s);
    if (next >= parts) return generationOf(s);
    // The task is read before the claim: a successful claim proves the region was still open,
    // so these are its task and context.
    const Task task = P.task.load(std::memory_order_relaxed);
    void* const context = P.context.load(std::memory_order_relaxed);
    if (P.state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      task(context, static_cast<size_t>(next), static_cast<size_t>(parts));
      P.pending.fetch_sub(1, std::memory_order_acq_rel);
      s = P.state.load(std::memory_order_acquire);
    }
  }
}

// Worker `index` (0-based) takes part while index < threads() - 1; above that it is parked, off
// the wake-ups of every region, until setThreads raises the count again.
bool parked(int index) { return index >= threads() - 1; }

void workerLoop(int index) {
#ifdef __linux__
  // Named, so that top -H, perf and /proc/<pid>/task/*/comm tell the kernel threads from Node's.
  pthread_setname_np(pthread_self(), "blasnet-pool");
#endif
  Pool& P = pool();
  uint64_t seen = generationOf(P.state.load(std::memory_order_acquire));
  for (;;) {
    if (parked(index)) {
      std::unique_lock<std::mutex> lock(P.mutex);
      P.park.wait(lock, [&] { return !parked(index); });
      // Regions that ran meanwhile are finished; start from the current one.
      seen = generationOf(P.state.load(std::memory_order_acquire)) - 1;
      continue;
    }
    uint64_t s = P.state.load(std::memory_order_acquire);
    if (generationOf(s) == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      unsigned spins = 0;
      bool park = false;
      while (generationOf(s = P.state.load(std::memory_order_acquire)) == seen) {
        BLASNET_PAUSE();
        if ((++spins & 255) == 0) {
          if (parked(index)) {
            park = true;
            break;
          }
          if (std::chrono::steady_clock::now() > until) {
            std::unique_lock<std::mutex> lock(P.mutex);
            P.sleepers.fetch_add(1, std::memory_order_relaxed);
            P.wake.wait(lock, [&] {
              return parked(index) || generationOf(P.state.load(std::memory_order_acquire)) != seen;
            });
            P.sleepers.fetch_sub(1, std::memory_order_relaxed);
            spins = 0;
          }
        }
      }
      if (park) continue;
    }
    seen = work(P, s);
  }
}

int envThreads() {
  const char* v = std::getenv("BLASNET_NUM_THREADS");
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  // Refused with a message by the TypeScript layer before the addon loads; more threads than the
  // pool has are its size, as setNumThreads takes them.
  if (*end != '\0' || n < 1) return 0;
  return static_cast<int>(n > kMaxThreads ? kMaxThreads : n);
}

int cpusOfThisProcess() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned h = std::thread::hardware_concurrency();
  return h > 0 ? static_cast<int>(h) : 1;
}

// A number read from a sysfs file, or -1.
long readNumber(const std::string& path) {
  std::ifstream in(path);
  long v = -1;
  if (!(in >> v)) return -1;
  return v;
}

// Physical cores among the CPUs this process may run on: SMT siblings (two hardware threads of
// one core, sharing its FMA units) count once. Falls back to the CPU count where the topology is
// not readable (no sysfs, containers that hide it).
int coresOfThisProcess() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpusOfThisProcess();
  std::set<std::pair<long, long>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const long package = readNumber(dir + "physical_package_id"), core = readNumber(dir + "core_id");
    if (package < 0 || core < 0) return cpusOfThisProcess();
    cores.emplace(package, core);
  }
  return cores.empty() ? cpusOfThisProcess() : static_cast<int>(cores.size());
}

int clampThreads(int n) { return n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : n; }

const int kAvailable = cpusOfThisProcess();
const int kDefault = clampThreads(envThreads() > 0 ? envThreads() : coresOfThisProcess());
std::atomic<int> gThreads{kDefault};
// The calling thread's cap (setCallerThreadLimit); 0: none.
thread_local int tCallerLimit = 0;

}  // namespace

int threads() { return gThreads.load(std::memory_order_relaxed); }
namespace detail {
std::atomic<int> capsInUse{0};
int cappedThreads() {
  const int t = threads();
  return tCallerLimit > 0 && tCallerLimit < t ? tCallerLimit : t;
}
}  // namespace detail

int setCallerThreadLimit(int n) {
  const int previous = tCallerLimit;
  tCallerLimit = n < 0 ? 0 : n;
  if (previous == 0 && tCallerLimit > 0) detail::capsInUse.fetch_add(1, std::memory_order_relaxed);
  if (previous > 0 && tCallerLimit == 0) detail::capsInUse.fetch_sub(1, std::memory_order_relaxed);
  return previous;
}

void setThreads(int n) {
  Pool& P = pool();
  {
    std::lock_guard<std::mutex> lock(P.mutex);
    gThreads.store(clampThreads(n), std::memory_order_relaxed);
  }
  // Sleeping workers re-check whether they are still wanted; parked ones whether they are again.
  P.wake.notify_all();
  P.park.notify_all();
}
int defaultThreads() { return kDefault; }
int availableCpus() { return kAvailable; }

void parallelFor(size_t parts, Task task, void* context) {
  Pool& P = pool();
  const int t = effectiveThreads();
  if (parts <= 1 || t <= 1 || parts > kPartMask || P.inUse.exchange(true, std::memory_order_acquire)) {
    // One thread, or the pool is busy with another region: every piece on this thread, in order.
    for (size_t p = 0; p < parts; ++p) task(context, p, parts);
    return;
  }
  // Workers are started on first need and kept: one fewer than the pieces (the caller takes
  // pieces too), and never more than threads() - 1.
  const int want = static_cast<int>(parts < size_t(t) ? parts : size_t(t)) - 1;
  while (P.workers < want) {
    std::thread(workerLoop, P.workers).detach();
    ++P.workers;
  }
  P.task.store(task, std::memory_order_relaxed);
  P.context.store(context, std::memory_order_relaxed);
  P.pending.store(parts, std::memory_order_relaxed);
  uint64_t s;
  {
    std::lock_guard<std::mutex> lock(P.mutex);
    const uint64_t generation = generationOf(P.state.load(std::memory_order_relaxed)) + 1;
    s = (generation << 32) | (uint64_t(parts) << kPartBits);
    P.state.store(s, std::memory_order_release);
  }
  if (P.sleepers.load(std::memory_order_relaxed) > 0) P.wake.notify_all();
  work(P, s);
  while (P.pending.load(std::memory_order_acquire) != 0) BLASNET_PAUSE();
  P.inUse.store(false, std::memory_order_release);
}

}  // namespace blasnet
