/*
 * What it costs one core to use data the other core has just written: the price a two-thread
 * training step pays wherever a kernel reads what a piece on the other thread wrote (a batch
 * gathered in row halves and read by a product cut by columns, gradients written by one thread's
 * GEMM piece and updated by the other's optimiser half).
 *
 * Two threads, pinned to CPUs 0 and 1:
 *   - a ping-pong over one cache line (round trip: the least a parallel region's open and close
 *     can cost between the two cores);
 *   - for each size, thread 1 writes a buffer, then thread 0 reads it all; and thread 0 writes
 *     it, then reads it again. The two reads are timed alike.
 *
 *   cc -O3 -march=native -pthread bench/c/core-link.c -o build/core-link
 *   build/core-link [--runs R] [--round-trip]
 *
 * --round-trip measures the round trip alone, over 20,000 exchanges (about 10 ms): bench/link.ts
 * tags benchmark samples with it, since on a VM it moves with where the two vCPUs run.
 *
 * Prints a JSON line per measurement.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    fprintf(stderr, "core-link: cannot pin to CPU %d\n", cpu);
    exit(1);
  }
}

/* The ping-pong line and the hand-over flag, each on its own cache line. */
static _Alignas(64) atomic_long ball;
static _Alignas(64) atomic_int phase;
static float* buf;
static size_t count;
static int pingPongs, rounds;

__attribute__((noinline)) static void fill(float v) {
  for (size_t i = 0; i < count; ++i) buf[i] = v + (float)(i & 7);
}

/*
 * Sixteen independent sums (one vector register's width at AVX-512, two at AVX2, vectorised at
 * -O3), so the read is bound by where the data is and not by one chain of adds.
 */
__attribute__((noinline)) static float sum(void) {
  float acc[16] = {0};
  for (size_t i = 0; i < count; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += buf[i + j];
  }
  float s = 0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

static void* partner(void* arg) {
  (void)arg;
  pin(1);
  for (long i = 0; i < pingPongs; ++i) {
    while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 1) {
    }
    atomic_store_explicit(&ball, 2 * i + 2, memory_order_release);
  }
  for (int r = 0; r < rounds; ++r) {
    while (atomic_load_explicit(&phase, memory_order_acquire) != 2 * r + 1) {
    }
    fill((float)r);
    atomic_store_explicit(&phase, 2 * r + 2, memory_order_release);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int runs = 31, roundTripOnly = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--round-trip") == 0) roundTripOnly = 1;
  }
  if (runs < 1) runs = 1;
  static const size_t kSizesKb[] = {16, 64, 256, 1024, 4096};
  const int allSizes = (int)(sizeof kSizesKb / sizeof kSizesKb[0]);
  const int nSizes = roundTripOnly ? 0 : allSizes;
  pingPongs = roundTripOnly ? 20000 : 200000;
  rounds = runs * nSizes;
  buf = aligned_alloc(64, kSizesKb[allSizes - 1] * 1024);
  if (!buf) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, partner, NULL) != 0) return 1;
  pin(0);

  double t0 = now();
  for (long i = 0; i < pingPongs; ++i) {
    atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
    while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2) {
    }
  }
  printf("{\"op\":\"round trip\",\"ns\":%.1f}\n", (now() - t0) / pingPongs * 1e9);

  double* other = malloc(sizeof(double) * runs);
  double* own = malloc(sizeof(double) * runs);
  volatile float sink = 0;
  int r = 0;
  for (int s = 0; s < nSizes; ++s) {
    count = kSizesKb[s] * 1024 / sizeof(float);
    for (int k = 0; k < runs; ++k, ++r) {
      atomic_store_explicit(&phase, 2 * r + 1, memory_order_release);
      while (atomic_load_explicit(&phase, memory_order_acquire) != 2 * r + 2) {
      }
      double a = now();
      sink += sum();
      other[k] = now() - a;
      fill((float)k);
      a = now();
      sink += sum();
      own[k] = now() - a;
    }
    qsort(other, runs, sizeof(double), cmpDouble);
    qsort(own, runs, sizeof(double), cmpDouble);
    const double bytes = (double)count * sizeof(float);
    printf("{\"op\":\"read\",\"kb\":%zu,\"otherCoreUs\":%.2f,\"otherCoreGBs\":%.1f,\"ownCoreUs\":%.2f,\"ownCoreGBs\":%.1f}\n",
           kSizesKb[s], other[runs / 2] * 1e6, bytes / other[runs / 2] / 1e9, own[runs / 2] * 1e6,
           bytes / own[runs / 2] / 1e9);
  }
  pthread_join(t, NULL);
  free(other);
  free(own);
  free(buf);
  return sink == 12345.f ? 1 : 0;
}
