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

#if defined(__linux__)
namespace {

// madvise(advice) over the `unit`-aligned pages wholly inside data[0..bytes): advice on a range
// applies to whole pages, and memory outside the buffer is not ours to advise. Returns the bytes
// advised: 0 when no such page is inside, or when madvise fails (*error then holds its errno).
size_t adviseInside(void* data, size_t bytes, size_t unit, int advice, int* error) {
  *error = 0;
  const uintptr_t from = reinterpret_cast<uintptr_t>(data);
  if (data == nullptr || unit == 0 || bytes > UINTPTR_MAX - from - unit) return 0;
  const uintptr_t begin = (from + unit - 1) & ~(uintptr_t{unit} - 1);
  const uintptr_t end = (from + bytes) & ~(uintptr_t{unit} - 1);
  if (end <= begin) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, advice) != 0) {
    *error = errno;
    return 0;
  }
  return end - begin;
}

// Whether this kernel took MADV_POPULATE_WRITE so far: cleared on the first EINVAL (a kernel
// before 5.14), after which populatePages returns 0 without asking again.
std::atomic<bool> gPopulateWorks{true};

}  // namespace
#endif

size_t adviseHugePages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  int error = 0;
  return adviseInside(data, bytes, hugePageBytes(), MADV_HUGEPAGE, &error);
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

size_t populatePages(void* data, size_t bytes) {
#if defined(__linux__)
  if (!gPopulateWorks.load(std::memory_order_relaxed)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return 0;
  // Whole pages only, as for adviseHugePages: the pages the buffer shares at its ends are
  // faulted in by their first write, as before.
  int error = 0;
  const size_t done = adviseInside(data, bytes, static_cast<size_t>(page), MADV_POPULATE_WRITE, &error);
  if (error == EINVAL) gPopulateWorks.store(false, std::memory_order_relaxed);
  return done;
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

}  // namespace blasnet
