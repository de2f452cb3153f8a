/*
 * A STREAM-like triad, a[i] = b[i] + s * c[i], on one thread: the memory bandwidth an
 * elementwise kernel (an optimiser step) can reach on this machine. Counts 12 bytes per element
 * (two reads, one write), as STREAM does.
 *
 *   bench-triad N [--min-time S] [--runs R]
 *
 * Prints one JSON line: {"n":N,"median":s,"min":s,"max":s,"gbps":...} (seconds per triad).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/*
 * Kept out of line, and each call followed by a compiler barrier (run below): inlined into the
 * repetition loop, GCC 12 at -O3 interchanges the two loops and computes only the last
 * repetition, so that the timed loop counted repetitions instead of moving memory (it reported
 * 37-44 GB/s from 256K to 4M elements, in cache or not: one loop iteration per element).
 */
__attribute__((noinline)) static void triad(size_t n, float* restrict a, const float* restrict b,
                                            const float* restrict c, float s) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

/* reps triads back to back, each one forced to happen in full. */
static void run(size_t reps, size_t n, float* a, const float* b, const float* c) {
  for (size_t r = 0; r < reps; ++r) {
    triad(n, a, b, c, 0.5f + (float)r * 1e-9f);
    __asm__ __volatile__("" : : "r"(a) : "memory");
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench-triad N [--min-time S] [--runs R]\n");
    return 2;
  }
  const size_t n = strtoull(argv[1], NULL, 10);
  double minTime = 0.2;
  int runs = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--min-time")) minTime = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
  }
  float* a = malloc(n * sizeof(float));
  float* b = malloc(n * sizeof(float));
  float* c = malloc(n * sizeof(float));
  if (!a || !b || !c || runs < 1 || runs > 100) return 1;
  for (size_t i = 0; i < n; ++i) {
    a[i] = 0;
    b[i] = (float)(i % 7);
    c[i] = (float)(i % 5);
  }
  /* Warm up and size a sample to last at least minTime. */
  size_t reps = 1;
  for (;;) {
    const double t0 = now();
    run(reps, n, a, b, c);
    if (now() - t0 >= minTime) break;
    reps *= 2;
  }
  double samples[100];
  for (int k = 0; k < runs; ++k) {
    const double t0 = now();
    run(reps, n, a, b, c);
    samples[k] = (now() - t0) / (double)reps;
  }
  qsort(samples, runs, sizeof(double), cmpDouble);
  double check = 0;
  for (size_t i = 0; i < n; i += 4096) check += a[i];
  const double median = runs % 2 ? samples[runs / 2] : 0.5 * (samples[runs / 2 - 1] + samples[runs / 2]);
  printf("{\"n\":%zu,\"median\":%.9g,\"min\":%.9g,\"max\":%.9g,\"gbps\":%.6g,\"check\":%.6g}\n", n, median, samples[0],
         samples[runs - 1], 12.0 * (double)n / median / 1e9, check);
  free(a);
  free(b);
  free(c);
  return 0;
}
