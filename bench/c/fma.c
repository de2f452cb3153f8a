/*
 * Single-precision FMA peak of this machine: a loop of independent fused multiply-adds on
 * registers (no memory traffic), with AVX2 (8 floats per instruction) and AVX-512 (16 floats),
 * where the CPU has them, on 1 and 2 threads. A training step's useful GFLOP/s over this peak is
 * the "fraction of FMA peak" of the mlp suite.
 *
 *   bench-fma [--min-time S] [--runs R] [--threads T ...]
 *
 * Prints one JSON line per (instruction set, threads): {"isa":"avx512","threads":2,"median":...,
 * "min":...,"max":...} in GFLOP/s (2 FLOPs per lane per FMA), median over --runs samples of at
 * least --min-time seconds each. Every thread runs the same number of iterations; a sample's
 * time is the slowest thread's.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/*
 * Twelve independent accumulator chains: enough to cover an FMA latency of 4 cycles on two FMA
 * ports. The multiplier is just below 1 and the addend tiny, so values stay finite forever. The
 * sum of the chains is returned so the compiler must compute them; the loops are unrolled so
 * that the chains live in registers.
 */
#define CHAINS 12

__attribute__((target("avx2,fma"), noinline)) static float fmaAvx2(long iters) {
  __m256 acc[CHAINS];
#pragma GCC unroll 16
  for (int c = 0; c < CHAINS; ++c) acc[c] = _mm256_set1_ps((float)c);
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < CHAINS; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  }
  __m256 s = acc[0];
#pragma GCC unroll 16
  for (int c = 1; c < CHAINS; ++c) s = _mm256_add_ps(s, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f"), noinline)) static float fmaAvx512(long iters) {
  __m512 acc[CHAINS];
#pragma GCC unroll 16
  for (int c = 0; c < CHAINS; ++c) acc[c] = _mm512_set1_ps((float)c);
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < CHAINS; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  }
  __m512 s = acc[0];
#pragma GCC unroll 16
  for (int c = 1; c < CHAINS; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
}

typedef float (*Kernel)(long);

typedef struct {
  Kernel kernel;
  long iters;
  double seconds;
  float sink;
  pthread_barrier_t* start;
} Job;

static void* worker(void* p) {
  Job* j = (Job*)p;
  pthread_barrier_wait(j->start);
  const double t0 = now();
  j->sink = j->kernel(j->iters);
  j->seconds = now() - t0;
  return NULL;
}

/* Seconds for `threads` threads to each run `iters` iterations (the slowest thread's time). */
static double timed(Kernel k, int threads, long iters, float* sink) {
  pthread_t tid[64];
  Job jobs[64];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  for (int t = 0; t < threads; ++t) {
    jobs[t] = (Job){k, iters, 0, 0, &start};
    if (t > 0) pthread_create(&tid[t], NULL, worker, &jobs[t]);
  }
  worker(&jobs[0]);
  double worst = jobs[0].seconds;
  for (int t = 1; t < threads; ++t) {
    pthread_join(tid[t], NULL);
    if (jobs[t].seconds > worst) worst = jobs[t].seconds;
  }
  for (int t = 0; t < threads; ++t) *sink += jobs[t].sink;
  pthread_barrier_destroy(&start);
  return worst;
}

int main(int argc, char** argv) {
  double minTime = 0.2;
  int runs = 5;
  int threadList[16], nThreads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--min-time")) minTime = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads") && nThreads < 16) threadList[nThreads++] = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: bench-fma [--min-time S] [--runs R] [--threads T ...]\n");
      return 2;
    }
  }
  if (nThreads == 0) {
    threadList[0] = 1;
    threadList[1] = 2;
    nThreads = 2;
  }
  if (runs < 1 || runs > 100 || !(minTime > 0)) return 2;
  __builtin_cpu_init();
  const struct {
    const char* name;
    int lanes;
    Kernel kernel;
    int available;
  } isas[] = {
      {"avx2", 8, fmaAvx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
      {"avx512", 16, fmaAvx512, __builtin_cpu_supports("avx512f")},
  };
  float sink = 0;
  for (size_t v = 0; v < sizeof isas / sizeof isas[0]; ++v) {
    if (!isas[v].available) continue;
    for (int ti = 0; ti < nThreads; ++ti) {
      const int threads = threadList[ti];
      if (threads < 1 || threads > 64) return 2;
      long iters = 1 << 16;
      while (timed(isas[v].kernel, threads, iters, &sink) < minTime) iters *= 2;
      double samples[100];
      const double flops = 2.0 * isas[v].lanes * CHAINS * (double)iters * threads;
      for (int r = 0; r < runs; ++r) samples[r] = flops / timed(isas[v].kernel, threads, iters, &sink) / 1e9;
      qsort(samples, (size_t)runs, sizeof(double), cmpDouble);
      printf("{\"isa\":\"%s\",\"threads\":%d,\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"sink\":%g}\n", isas[v].name, threads,
             runs % 2 ? samples[runs / 2] : 0.5 * (samples[runs / 2 - 1] + samples[runs / 2]), samples[0], samples[runs - 1],
             (double)sink);
      fflush(stdout);
    }
  }
  return 0;
}
