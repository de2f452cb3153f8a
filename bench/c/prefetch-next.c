/*
 * Whether the next mini-batch's rows can be fetched while the current step computes: batches of
 * random rows of 784 floats out of a 60,000-row set (Fashion-MNIST's shape, 188 MB) are gathered
 * as native/rowops.cc gathers them (memcpy, the rows 4 ahead prefetched), then a stand-in for the
 * step runs: COMPUTE_US microseconds of register-only FMAs, between whose chunks the next batch's
 * cache lines are prefetched BURST at a time under HINT (-1: none; 0 nta, 1 t2, 2 t1, 3 t0), then
 * a read-modify-write stream over 2 x JUNK_MB MB (the optimiser step and the weight traffic of the
 * backward pass, which push lines out of L2). One thread.
 *
 *   cc -O2 -mavx2 -mfma bench/c/prefetch-next.c -o build/bench-prefetch-next
 *   build/bench-prefetch-next BATCH HINT COMPUTE_US JUNK_MB [BURST]
 *
 * Prints the median gather and the median whole step in microseconds. The compute here touches no
 * memory; in a training step the forward kernels keep L1 and L2 busy with their own tiles, which
 * the prefetches then compete with (bench/RESULTS.md, run AL).
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

enum { kRows = 60000, kCols = 784, kRowBytes = kCols * 4, kLinesPerRow = (kRowBytes + 63) / 64, kMaxBatch = 4096 };

static float* src;
static float* dst;
static int* order;
static const char* pending[kMaxBatch];
static size_t pendingLines, issued;
static int burst = 16;
static volatile float sink;

static void prefetchSome(int hint) {
  for (int k = 0; k < burst && issued < pendingLines; ++k, ++issued) {
    const char* p = pending[issued / kLinesPerRow] + (issued % kLinesPerRow) * 64;
    switch (hint) {
      case 0: __builtin_prefetch(p, 0, 0); break;
      case 1: __builtin_prefetch(p, 0, 1); break;
      case 2: __builtin_prefetch(p, 0, 2); break;
      default: __builtin_prefetch(p, 0, 3); break;
    }
  }
}

/* us microseconds of FMAs on registers, prefetching between chunks of 1600. */
static void compute(double us, int hint) {
  const __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f);
  __m256 c[8];
  for (int i = 0; i < 8; ++i) c[i] = _mm256_setzero_ps();
  const double t0 = now();
  while ((now() - t0) * 1e6 < us) {
    for (int i = 0; i < 200; ++i)
      for (int j = 0; j < 8; ++j) c[j] = _mm256_fmadd_ps(a, b, c[j]);
    if (hint >= 0) prefetchSome(hint);
  }
  for (int j = 1; j < 8; ++j) c[0] = _mm256_add_ps(c[0], c[j]);
  float out[8];
  _mm256_storeu_ps(out, c[0]);
  sink = out[0];
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    fprintf(stderr, "usage: bench-prefetch-next BATCH HINT COMPUTE_US JUNK_MB [BURST]\n");
    return 2;
  }
  const int batch = atoi(argv[1]), hint = atoi(argv[2]);
  const double us = atof(argv[3]);
  const size_t junkFloats = (size_t)atoi(argv[4]) << 18;
  if (argc == 6) burst = atoi(argv[5]);
  if (batch < 1 || batch > kMaxBatch || hint < -1 || hint > 3 || us < 0 || burst < 1) {
    fprintf(stderr, "bench-prefetch-next: BATCH in 1..%d, HINT in -1..3, COMPUTE_US >= 0, BURST >= 1\n", kMaxBatch);
    return 2;
  }
  src = malloc((size_t)kRows * kRowBytes);
  dst = malloc((size_t)batch * kRowBytes);
  order = malloc(kRows * sizeof(int));
  float* junk = malloc(junkFloats * sizeof(float) + 4);
  float* junk2 = malloc(junkFloats * sizeof(float) + 4);
  if (!src || !dst || !order || !junk || !junk2) return 1;
  for (size_t i = 0; i < (size_t)kRows * kCols; ++i) src[i] = (float)(i % 255);
  for (size_t i = 0; i < junkFloats; ++i) junk[i] = 1.0f, junk2[i] = 2.0f;
  seededOrder(order, kRows);
  const int batches = kRows / batch;
  double* gather = malloc(batches * sizeof(double));
  double* step = malloc(batches * sizeof(double));
  for (int k = 0; k < batches; ++k) {
    const double t0 = now();
    for (int r = 0; r < batch; ++r) {
      if (r + 4 < batch) {
        const char* next = (const char*)(src + (size_t)order[k * batch + r + 4] * kCols);
        for (int off = 0; off < kRowBytes; off += 64) __builtin_prefetch(next + off, 0, 3);
      }
      memcpy(dst + (size_t)r * kCols, src + (size_t)order[k * batch + r] * kCols, kRowBytes);
    }
    const double t1 = now();
    issued = pendingLines = 0;
    if (k + 1 < batches) {
      for (int r = 0; r < batch; ++r) pending[r] = (const char*)(src + (size_t)order[(k + 1) * batch + r] * kCols);
      pendingLines = (size_t)batch * kLinesPerRow;
    }
    compute(us, hint);
    for (size_t i = 0; i < junkFloats; ++i) junk[i] += 0.5f * junk2[i];
    gather[k] = (t1 - t0) * 1e6;
    step[k] = (now() - t0) * 1e6;
  }
  qsort(gather, batches, sizeof(double), cmpDouble);
  qsort(step, batches, sizeof(double), cmpDouble);
  printf("batch %d, hint %d, burst %d, compute %.0f us, junk %zu MB: gather %.1f us, step %.1f us (medians)\n", batch, hint,
         burst, us, junkFloats >> 18, gather[batches / 2], step[batches / 2]);
  return 0;
}
