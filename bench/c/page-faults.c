/*
 * What fresh memory costs per 4 KB page, three ways, on a fresh anonymous mapping each round:
 *   - touch: the first write of each page, one page fault each (how a buffer is mapped when
 *     nothing is done about it);
 *   - populate: madvise(MADV_POPULATE_WRITE) over the mapping (Linux 5.14+), then the first write
 *     of each page (blasnet's prefault: lib/backend/memory.ts, native/memory.cc);
 *   - rewrite: writing the same pages again after an idle pause (whether a page costs anything
 *     beyond its first write).
 *
 *   cc -O2 bench/c/page-faults.c -o build/page-faults
 *   build/page-faults [--kb 4096] [--runs 5]
 *
 * Prints a JSON line per round: microseconds per page for each phase and the minor faults the
 * process took in it (getrusage).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static long faults(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

static char* fresh(size_t bytes) {
  void* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

int main(int argc, char** argv) {
  size_t kb = 4096;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--kb") == 0) kb = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
  }
  const size_t bytes = kb << 10, pages = bytes / 4096;
  for (int r = 0; r < runs; r++) {
    char* a = fresh(bytes);
    long f = faults();
    double t = now();
    memset(a, 1, bytes);
    const double touch = (now() - t) * 1e6 / pages;
    const long touchFaults = faults() - f;

    char* b = fresh(bytes);
    f = faults();
    t = now();
    const int ok = madvise(b, bytes, MADV_POPULATE_WRITE) == 0;
    const double populate = (now() - t) * 1e6 / pages;
    const long populateFaults = faults() - f;
    f = faults();
    t = now();
    memset(b, 1, bytes);
    const double afterPopulate = (now() - t) * 1e6 / pages;
    const long afterFaults = faults() - f;

    usleep(500 * 1000);
    f = faults();
    t = now();
    memset(a, 2, bytes);
    const double rewrite = (now() - t) * 1e6 / pages;
    const long rewriteFaults = faults() - f;
    printf("{\"kb\":%zu,\"touchUsPerPage\":%.3f,\"touchFaults\":%ld,\"populateWorks\":%s,\"populateUsPerPage\":%.3f,"
           "\"populateFaults\":%ld,\"writeAfterPopulateUsPerPage\":%.3f,\"writeAfterPopulateFaults\":%ld,"
           "\"rewriteAfter500msUsPerPage\":%.3f,\"rewriteFaults\":%ld}\n",
           kb, touch, touchFaults, ok ? "true" : "false", populate, populateFaults, afterPopulate, afterFaults,
           rewrite, rewriteFaults);
    munmap(a, bytes);
    munmap(b, bytes);
  }
  return 0;
}
