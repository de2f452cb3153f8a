/*
 * What the C benches share: a monotonic clock in seconds, a comparison for qsort over the
 * samples (their median is taken from the sorted array), and a seeded shuffle of row indices.
 * Include after the feature-test macros.
 */
#ifndef BLASNET_BENCH_CLOCK_H
#define BLASNET_BENCH_CLOCK_H

#include <stdlib.h>
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

/* order[0..n) = 0..n-1 in a random order, the same on every run (srand(1), Fisher-Yates). */
static inline void seededOrder(int* order, int n) {
  for (int i = 0; i < n; ++i) order[i] = i;
  srand(1);
  for (int i = n - 1; i > 0; --i) {
    const int j = rand() % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

#endif
