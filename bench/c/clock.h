/*
 * What the C benches share: a monotonic clock in seconds and a comparison for qsort over the
 * samples (their median is taken from the sorted array). Include after the feature-test macros.
 */
#ifndef BLASNET_BENCH_CLOCK_H
#define BLASNET_BENCH_CLOCK_H

#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmpDouble(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

#endif
