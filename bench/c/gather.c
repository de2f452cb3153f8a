/*
 * The minibatch gather's memory pattern alone: batches of random rows of 784 floats out of a
 * 60,000-row set (Fashion-MNIST's shape, 188 MB), each thread copying its share of a batch, with
 * the rows `ahead` ahead of the one being copied prefetched under one hint (nta, t0 or t2; ahead 0:
 * no prefetch). native/rowops.cc's gather made the choice from this.
 *
 *   cc -O2 -pthread bench/c/gather.c -o build/bench-gather
 *   build/bench-gather THREADS AHEAD nta|t0|t2 BATCH
 *
 * Prints the median of five epochs in microseconds per batch and GB/s copied.
 */
#define _POSIX_C_SOURCE 199309L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

enum { kRows = 60000, kCols = 784, kMaxThreads = 8 };

static float* src;
static int* order;
static float* dst;
static int ahead;
static int hint;  /* 0 nta, 1 t0, 2 t2 */

struct piece {
  size_t lo, hi, base;
};

static void* copyRows(void* arg) {
  const struct piece* p = arg;
  const size_t bytes = kCols * sizeof(float);
  for (size_t r = p->lo; r < p->hi; ++r) {
    if (ahead > 0 && r + (size_t)ahead < p->hi) {
      const char* next = (const char*)(src + (size_t)order[p->base + r + ahead] * kCols);
      for (size_t off = 0; off < bytes; off += 64) {
        if (hint == 0) __builtin_prefetch(next + off, 0, 0);
        else if (hint == 1) __builtin_prefetch(next + off, 0, 3);
        else __builtin_prefetch(next + off, 0, 1);
      }
    }
    memcpy(dst + r * kCols, src + (size_t)order[p->base + r] * kCols, bytes);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: bench-gather THREADS AHEAD nta|t0|t2 BATCH\n");
    return 2;
  }
  const int threads = atoi(argv[1]);
  ahead = atoi(argv[2]);
  hint = strcmp(argv[3], "nta") == 0 ? 0 : strcmp(argv[3], "t0") == 0 ? 1 : strcmp(argv[3], "t2") == 0 ? 2 : -1;
  const size_t batch = (size_t)atol(argv[4]);
  if (threads < 1 || threads > kMaxThreads || ahead < 0 || hint < 0 || batch < 1 || batch > kRows) {
    fprintf(stderr, "bench-gather: THREADS in 1..%d, AHEAD >= 0, a hint of nta, t0 or t2, BATCH in 1..%d\n", kMaxThreads, kRows);
    return 2;
  }
  src = malloc((size_t)kRows * kCols * sizeof(float));
  order = malloc(kRows * sizeof(int));
  dst = malloc(batch * kCols * sizeof(float));
  if (!src || !order || !dst) return 1;
  for (size_t i = 0; i < (size_t)kRows * kCols; ++i) src[i] = (float)(i % 255) / 255.0f;
  seededOrder(order, kRows);
  enum { kEpochs = 5 };
  double perBatch[kEpochs];
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    const double t0 = now();
    for (size_t base = 0; base + batch <= kRows; base += batch) {
      pthread_t tid[kMaxThreads];
      struct piece pieces[kMaxThreads];
      for (int t = 0; t < threads; ++t) {
        pieces[t].lo = batch * (size_t)t / (size_t)threads;
        pieces[t].hi = batch * (size_t)(t + 1) / (size_t)threads;
        pieces[t].base = base;
        if (t > 0) pthread_create(&tid[t], NULL, copyRows, &pieces[t]);
      }
      copyRows(&pieces[0]);
      for (int t = 1; t < threads; ++t) pthread_join(tid[t], NULL);
    }
    perBatch[epoch] = (now() - t0) / (double)(kRows / batch) * 1e6;
  }
  qsort(perBatch, kEpochs, sizeof(double), cmpDouble);
  const double med = perBatch[kEpochs / 2];
  printf("threads %d, ahead %d, hint %s, batch %zu: %.1f us per batch (%.2f GB/s)\n", threads, ahead, argv[3], batch, med,
         (double)batch * kCols * sizeof(float) / med / 1e3);
  free(src);
  free(order);
  free(dst);
  return 0;
}
