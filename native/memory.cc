// Huge-page advice for large buffers (lib/backend/memory.ts). A page fault costs the kernel a
// trap, a zeroed page and a page-table entry; on some virtual machines a fault takes 11-15 us,
// so the first write of a 188 MB training set took 0.6-0.8 s. Backed by transparent huge pages,
// the same write takes one fault per 2 MB (bench/RESULTS.md, run X).
#include <atomic>
#include <cerrno>
#include <cstdio>

#include "blasnet.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
// Linux 5.14's value, for C libraries whose headers predate it.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#endif

namespace blasnet {
namespace {

// The transparent huge page size (PMD size) this kernel reports, or 0 when it reports none.
size_t hugePageBytes() {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  static const size_t bytes = [] {
    unsigned long long v = 0;
    if (FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r")) {
      if (std::fscanf(f, "%llu", &v) != 1) v = 0;
      std::fclose(f);
    }
    // A power of two of at least a base page, else the file is not what we expect.
    return v >= 4096 && (v & (v - 1)) == 0 ? static_cast<size_t>(v) : size_t{0};
  }();
  return bytes;
#else
  return 0;
#endif
}

}  // namespace

size_t adviseHugePages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const size_t huge = hugePageBytes();
  if (huge == 0 || data == nullptr) return 0;
  const uintptr_t from = reinterpret_cast<uintptr_t>(data);
  if (bytes > UINTPTR_MAX - from) return 0;
  // Only the huge pages wholly inside the buffer: advice on a range applies to whole pages, and
  // memory outside the buffer is not ours to advise.
  const uintptr_t begin = (from + huge - 1) & ~(uintptr_t{huge} - 1);
  const uintptr_t end = (from + bytes) & ~(uintptr_t{huge} - 1);
  if (end <= begin) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) != 0) return 0;
  return end - begin;
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

// Whether this kernel took MADV_POPULATE_WRITE so far: cleared on the first EINVAL (a kernel
// before 5.14), after which populatePages returns 0 without asking again.
namespace {
std::atomic<bool> gPopulateWorks{true};
}  // namespace

size_t populatePages(void* data, size_t bytes) {
#if defined(__linux__)
  if (data == nullptr || !gPopulateWorks.load(std::memory_order_relaxed)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return 0;
  const uintptr_t p = static_cast<uintptr_t>(page), from = reinterpret_cast<uintptr_t>(data);
  if (bytes > UINTPTR_MAX - from - p) return 0;
  // Whole pages inside the buffer only, as adviseHugePages: the pages it shares at its ends are
  // faulted in by their first write, as before.
  const uintptr_t begin = (from + p - 1) & ~(p - 1);
  const uintptr_t end = (from + bytes) & ~(p - 1);
  if (end <= begin) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) != 0) {
    if (errno == EINVAL) gPopulateWorks.store(false, std::memory_order_relaxed);
    return 0;
  }
  return end - begin;
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

}  // namespace blasnet
