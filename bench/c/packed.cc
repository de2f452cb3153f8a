// The packed dense kernel (native/packed.cc) alone against OpenBLAS, no Node in between: GFLOP/s of
// y = relu(x w^T + b) for x [M, K], w [N, K] through packedDenseForward over weights packed once
// (as a frozen inference function runs), through livePackedForward (w packed on every call, z
// kept: denseForward's path where packedForwardOn()), and through OpenBLAS (cblas_sgemm then the
// bias-and-activation pass: denseForward with BLASNET_PACKED_FORWARD=0, which this program sets),
// at 1 and 2 kernel threads, in alternating samples; then the normalised difference of the
// packed outputs from OpenBLAS's (||packed - OpenBLAS|| / ||OpenBLAS||).
//
//   g++ -O3 -std=c++17 -Inative bench/c/packed.cc native/packed.cc native/activations.cc \
//     native/dense.cc native/gemm.cc native/isa.cc native/pool.cc native/rowops.cc \
//     -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -lpthread -o build/bench-packed
//   build/bench-packed [M N K ...]      (default: 1000 256 784, then the other reference shapes)
#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "blasnet.h"
#include "isa.h"
#include "packed.h"

namespace {

// Seconds per call of each function, timed in alternating samples of at least 50 ms (so that a
// busy spell of the machine hits all alike): the median and the fastest sample of each.
struct Timing {
  double median, best;
};
std::vector<Timing> timeAlternating(const std::vector<std::function<void()>>& fs, int samples) {
  using clock = std::chrono::steady_clock;
  auto sample = [](const std::function<void()>& h) {
    int reps = 0;
    const auto t0 = clock::now();
    double dt = 0;
    do {
      h();
      ++reps;
      dt = std::chrono::duration<double>(clock::now() - t0).count();
    } while (dt < 0.05);
    return dt / reps;
  };
  for (const auto& f : fs) sample(f);
  std::vector<std::vector<double>> t(fs.size());
  for (int i = 0; i < samples; ++i)
    for (size_t j = 0; j < fs.size(); ++j) t[j].push_back(sample(fs[j]));
  std::vector<Timing> out;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    out.push_back({v[v.size() / 2], v[0]});
  }
  return out;
}

double normDiff(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (a[i] - ref[i]) * double(a[i] - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

}  // namespace

int main(int argc, char** argv) {
  setenv("BLASNET_PACKED_FORWARD", "0", 1);  // denseForward: OpenBLAS
  std::vector<size_t> shapes;
  for (int i = 1; i < argc; ++i) shapes.push_back(std::strtoul(argv[i], nullptr, 10));
  if (shapes.empty()) shapes = {1000, 256, 784, 1000, 128, 256, 16, 256, 784, 1, 256, 784, 512, 256, 784, 128, 256, 784,
                                32, 256, 784, 32, 32, 784, 512, 10, 128};
  const int relu = 3;
  std::printf("kernel level %s\n", blasnet::isaName(blasnet::isa()));
  std::printf("GFLOP/s of y = relu(x w^T + b): median and best of 9 alternating samples\n");
  std::printf("%6s %5s %5s %7s %9s %9s %9s %9s %9s %9s %9s %9s\n", "M", "N", "K", "threads", "packed", "(best)",
              "per call", "(best)", "OpenBLAS", "(best)", "err", "err call");
  for (size_t s = 0; s + 2 < shapes.size(); s += 3) {
    const size_t m = shapes[s], n = shapes[s + 1], k = shapes[s + 2];
    std::srand(1);
    auto fill = [](std::vector<float>& v) { for (float& e : v) e = float(std::rand()) / RAND_MAX * 2 - 1; };
    std::vector<float> x(m * k), w(n * k), b(n), z(m * n), y1(m * n), y2(m * n), y3(m * n), z3(m * n);
    std::vector<float> packed(blasnet::packedDenseLength(n, k));
    fill(x); fill(w); fill(b);
    blasnet::packDense(n, k, w.data(), b.data(), packed.data());
    for (int threads : {1, 2}) {
      blasnet::setNumThreads(threads);
      bool live = true;
      const auto t = timeAlternating(
          {[&] { blasnet::packedDenseForward(relu, 0, m, k, n, x.data(), packed.data(), y1.data()); },
           [&] { live = blasnet::livePackedForward(relu, 0, m, k, n, x.data(), w.data(), b.data(), z3.data(), y3.data()); },
           [&] { blasnet::denseForward(relu, 0, m, k, n, x.data(), w.data(), b.data(), z.data(), y2.data()); }},
          9);
      const double flop = 2.0 * m * n * k;
      auto gf = [&](double sec) { return flop / sec * 1e-9; };
      char call[2][16] = {"n/a", "n/a"};  // livePackedForward declines a batch under livePackMinRows()
      if (live) {
        std::snprintf(call[0], sizeof call[0], "%.1f", gf(t[1].median));
        std::snprintf(call[1], sizeof call[1], "%.1f", gf(t[1].best));
      }
      std::printf("%6zu %5zu %5zu %7d %9.1f %9.1f %9s %9s %9.1f %9.1f %9.1e %9.1e\n", m, n, k, threads, gf(t[0].median),
                  gf(t[0].best), call[0], call[1], gf(t[2].median), gf(t[2].best), normDiff(y1, y2),
                  live ? normDiff(y3, y2) : 0.0);
    }
  }
  return 0;
}
