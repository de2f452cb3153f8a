/*
 * The "c" driver of the GEMM benchmark: cblas_sgemm called directly, with no Node or N-API in
 * between, so that the native backend's figures have a floor to be compared with.
 *
 *   bench-gemm [--threads N] [--warmup S] [--min-time S] [--runs R] [--beta 0|1|zero] ID:TA:TB:M:N:K ...
 *
 * --beta: 0 (the default) passes beta = 0; 1 passes beta = 1 (the product added to C, no scaling
 * pass); zero sets C to zeros with memset and then passes beta = 1, as native/gemm.cc does for a
 * beta-0 product on the cores without small-matrix kernels.
 *
 * Each trial is row-major C = op(A) op(B) with alpha = 1, beta = 0, TA/TB 0 or 1 as in the Backend
 * interface. The inputs come from the same seeded generator as lib/rng.ts (A from seed 1, B from
 * seed 2, uniform in [-1, 1)), so the checksum (sum of |C|) matches the in-process drivers'.
 * Timing follows bench/harness.ts: warmup, a sample sized to last at least --min-time, --runs
 * samples, median/min/max seconds per call. Output is one JSON object per line.
 */
#define _POSIX_C_SOURCE 199309L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* xoshiro128** seeded through splitmix32: lib/rng.ts, bit for bit. */
typedef struct {
  uint32_t s[4];
} Rng;

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static void rngSeed(Rng* r, uint32_t seed) {
  uint32_t x = seed;
  for (int i = 0; i < 4; ++i) {
    x += 0x9e3779b9u;
    uint32_t z = x;
    z = (z ^ (z >> 16)) * 0x85ebca6bu;
    z = (z ^ (z >> 13)) * 0xc2b2ae35u;
    r->s[i] = z ^ (z >> 16);
  }
}

static uint32_t rngNext(Rng* r) {
  uint32_t* s = r->s;
  const uint32_t result = rotl(s[1] * 5u, 7) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

static float* uniformArray(uint32_t seed, size_t n) {
  Rng r;
  rngSeed(&r, seed);
  float* a = malloc((n ? n : 1) * sizeof(float));
  if (!a) {
    fprintf(stderr, "bench-gemm: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; ++i) {
    const double hi = (double)(rngNext(&r) >> 5);
    const double lo = (double)(rngNext(&r) >> 6);
    const double u = (hi * 67108864.0 + lo) / 9007199254740992.0;
    a[i] = (float)(-1.0 + 2.0 * u);
  }
  return a;
}

#include "clock.h"

typedef struct {
  int ta, tb, m, n, k;
  const float *a, *b;
  float* c;
} Gemm;

/* --beta: 0, 1, or 2 for "zero" (memset, then beta 1). */
static int betaMode = 0;

static void run(const Gemm* g, long reps) {
  const int lda = g->ta ? g->m : g->k;
  const int ldb = g->tb ? g->k : g->n;
  for (long r = 0; r < reps; ++r) {
    if (betaMode == 2) memset(g->c, 0, (size_t)g->m * g->n * sizeof(float));
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                g->m, g->n, g->k, 1.0f, g->a, lda, g->b, ldb, betaMode == 0 ? 0.0f : 1.0f, g->c, g->n);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench-gemm [--threads N] [--warmup S] [--min-time S] [--runs R] [--beta 0|1|zero] ID:TA:TB:M:N:K ...\n");
  exit(2);
}

int main(int argc, char** argv) {
  int threads = 0, runs = 5;
  double warmup = 0.1, minTime = 0.2;
  int first = 1;
  for (; first < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
    if (first + 1 >= argc) usage();
    const char* v = argv[first + 1];
    if (strcmp(argv[first], "--threads") == 0) threads = atoi(v);
    else if (strcmp(argv[first], "--warmup") == 0) warmup = atof(v);
    else if (strcmp(argv[first], "--min-time") == 0) minTime = atof(v);
    else if (strcmp(argv[first], "--runs") == 0) runs = atoi(v);
    else if (strcmp(argv[first], "--beta") == 0) {
      if (strcmp(v, "0") == 0) betaMode = 0;
      else if (strcmp(v, "1") == 0) betaMode = 1;
      else if (strcmp(v, "zero") == 0) betaMode = 2;
      else usage();
    } else usage();
  }
  if (runs < 1 || first >= argc) usage();
  if (threads > 0) openblas_set_num_threads(threads);

  printf("{\"type\":\"info\",\"config\":\"%s\",\"coreName\":\"%s\",\"threads\":%d}\n", openblas_get_config(),
         openblas_get_corename(), openblas_get_num_threads());

  double* samples = malloc((size_t)runs * sizeof(double));
  for (int t = first; t < argc; ++t) {
    char id[128];
    Gemm g;
    if (sscanf(argv[t], "%127[^:]:%d:%d:%d:%d:%d", id, &g.ta, &g.tb, &g.m, &g.n, &g.k) != 6 || g.m < 1 ||
        g.n < 1 || g.k < 1) {
      fprintf(stderr, "bench-gemm: bad trial %s\n", argv[t]);
      return 2;
    }
    float* a = uniformArray(1, (size_t)g.m * g.k);
    float* b = uniformArray(2, (size_t)g.k * g.n);
    float* c = calloc((size_t)g.m * g.n, sizeof(float));
    g.a = a;
    g.b = b;
    g.c = c;

    /* As in bench/harness.ts: the sample size comes from the last warmup batch alone. */
    long batch = 1;
    double perOp;
    const double t0 = now();
    for (;;) {
      const double s = now();
      run(&g, batch);
      const double e = now();
      perOp = (e - s) / (double)batch;
      if (e - t0 >= warmup) break;
      batch *= 2;
    }
    if (perOp < 1e-10) perOp = 1e-10;
    long reps = (long)ceil(minTime / perOp);
    if (reps < 1) reps = 1;

    for (int r = 0; r < runs; ++r) {
      const double s = now();
      run(&g, reps);
      samples[r] = (now() - s) / (double)reps;
    }
    printf("{\"type\":\"trial\",\"id\":\"%s\",\"threads\":%d,\"reps\":%ld,\"samples\":[", id,
           openblas_get_num_threads(), reps);
    for (int r = 0; r < runs; ++r) printf("%s%.9e", r ? "," : "", samples[r]);
    qsort(samples, (size_t)runs, sizeof(double), cmpDouble);
    const double med = runs % 2 ? samples[runs / 2] : 0.5 * (samples[runs / 2 - 1] + samples[runs / 2]);
    double checksum = 0;
    for (size_t i = 0; i < (size_t)g.m * g.n; ++i) checksum += fabs((double)c[i]);
    printf("],\"median\":%.9e,\"min\":%.9e,\"max\":%.9e,\"checksum\":%.17g}\n", med, samples[0],
           samples[runs - 1], checksum);
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  free(samples);
  return 0;
}
