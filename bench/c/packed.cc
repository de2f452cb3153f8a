// The packed dense kernel (native/packed.cc) alone against OpenBLAS, no Node in between: GFLOP/s of
// y = relu(x w^T + b) for x [M, K], w [N, K] through packedDenseForward over weights packed once,
// and through blasnet's denseForward (cblas_sgemm then the bias-and-activation pass), at 1 and 2
// kernel threads, with the normalised difference between the two (||packed - OpenBLAS|| / ||OpenBLAS||).
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

// Seconds per call of f and of g, timed in alternating samples of at least 50 ms (so that a busy
// spell of the machine hits both alike): the median and the fastest sample of each.
struct Timing {
  double median, best;
};
std::pair<Timing, Timing> timePair(const std::function<void()>& f, const std::function<void()>& g, int samples) {
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
  sample(f);
  sample(g);
  std::vector<double> a, b;
  for (int i = 0; i < samples; ++i) {
    a.push_back(sample(f));
    b.push_back(sample(g));
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return {{a[a.size() / 2], a[0]}, {b[b.size() / 2], b[0]}};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> shapes;
  for (int i = 1; i < argc; ++i) shapes.push_back(std::strtoul(argv[i], nullptr, 10));
  if (shapes.empty()) shapes = {1000, 256, 784, 1000, 128, 256, 16, 256, 784, 1, 256, 784, 512, 256, 784, 128, 256, 784};
  const int relu = 3;
  std::printf("kernel level %s\n", blasnet::isaName(blasnet::isa()));
  std::printf("GFLOP/s of y = relu(x w^T + b): median and best of 9 alternating samples\n");
  std::printf("%6s %5s %5s %7s %9s %9s %9s %9s %10s\n", "M", "N", "K", "threads", "packed", "(best)", "OpenBLAS", "(best)", "norm err");
  for (size_t s = 0; s + 2 < shapes.size(); s += 3) {
    const size_t m = shapes[s], n = shapes[s + 1], k = shapes[s + 2];
    std::srand(1);
    auto fill = [](std::vector<float>& v) { for (float& e : v) e = float(std::rand()) / RAND_MAX * 2 - 1; };
    std::vector<float> x(m * k), w(n * k), b(n), z(m * n), y1(m * n), y2(m * n);
    std::vector<float> packed(blasnet::packedDenseLength(n, k));
    fill(x); fill(w); fill(b);
    blasnet::packDense(n, k, w.data(), b.data(), packed.data());
    for (int threads : {1, 2}) {
      blasnet::setNumThreads(threads);
      const auto [tp, tb] = timePair(
          [&] { blasnet::packedDenseForward(relu, 0, m, k, n, x.data(), packed.data(), y1.data()); },
          [&] { blasnet::denseForward(relu, 0, m, k, n, x.data(), w.data(), b.data(), z.data(), y2.data()); }, 9);
      double num = 0, den = 0;
      for (size_t i = 0; i < m * n; ++i) {
        num += (y1[i] - y2[i]) * double(y1[i] - y2[i]);
        den += double(y2[i]) * y2[i];
      }
      const double flop = 2.0 * m * n * k;
      std::printf("%6zu %5zu %5zu %7d %9.1f %9.1f %9.1f %9.1f %10.1e\n", m, n, k, threads, flop / tp.median * 1e-9,
                  flop / tp.best * 1e-9, flop / tb.median * 1e-9, flop / tb.best * 1e-9, std::sqrt(num / (den > 0 ? den : 1)));
    }
  }
  return 0;
}
