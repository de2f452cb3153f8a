// The N-API binding: the only C++ that sees Node. Each export validates every argument through
// Args (args.h), then calls the kernel core in native/. Arguments follow one order: ids and flags,
// dims, scalars, inputs, outputs (BLAS order where BLAS has one).
#include <napi.h>

#include <limits>
#include <new>
#include <string>
#include <vector>

#include "args.h"
#include "blasnet.h"
#include "isa.h"
#include "packed.h"

namespace blasnet {
namespace binding {
namespace {

napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

uint64_t mul(uint64_t a, uint64_t b) { return a * b; }  // dims < 2^31: exact, no overflow

// A label or index check that failed in the core: find the first bad entry for the message. On
// shared memory another thread may have changed it since, so each entry is read once and the
// message falls back to a general one when no bad entry is left.
[[noreturn]] void badIndex(Args& a, const char* code, const char* what, const int32_t* v, size_t n,
                           size_t limit) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t vi = readOnce(v + i);
    if (vi < 0 || static_cast<size_t>(vi) >= limit) {
      a.fail(false, code, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(vi) +
                              " is outside [0, " + std::to_string(limit) + ")");
    }
  }
  a.fail(false, code, std::string(what) + " held a value outside [0, " + std::to_string(limit) + ")");
}

napi_value Gemm(Args& a) {
  a.expect(10);
  const bool ta = a.flag(0, "transA"), tb = a.flag(1, "transB");
  const size_t m = a.dim(2, "m"), n = a.dim(3, "n"), k = a.dim(4, "k");
  const float alpha = a.scalar(5, "alpha");
  F32 A = a.f32(6, "a", mul(m, k), "m*k");
  F32 B = a.f32(7, "b", mul(k, n), "k*n");
  const float beta = a.scalar(8, "beta");
  F32 C = a.f32(9, "c", mul(m, n), "m*n");
  a.disjoint(C, A);
  a.disjoint(C, B);
  gemm(ta, tb, m, n, k, alpha, A.data, B.data, beta, C.data);
  return nullptr;
}

napi_value GemmBatched(Args& a) {
  a.expect(14);
  const bool ta = a.flag(0, "transA"), tb = a.flag(1, "transB");
  const size_t m = a.dim(2, "m"), n = a.dim(3, "n"), k = a.dim(4, "k"), batch = a.dim(5, "batch");
  const float alpha = a.scalar(6, "alpha");
  const size_t sa = a.dim(8, "strideA"), sb = a.dim(10, "strideB"), sc = a.dim(13, "strideC");
  const float beta = a.scalar(11, "beta");
  // The last matrix ends at (batch-1)*stride + size: below 2^63, exact in uint64 (the js backend
  // counts in BigInt past 2^53, so both messages quote the same integer).
  auto span = [&](size_t stride, uint64_t size) { return batch == 0 ? 0 : mul(batch - 1, stride) + size; };
  F32 A = a.f32(7, "a", span(sa, mul(m, k)), "(batch-1)*strideA + m*k");
  F32 B = a.f32(9, "b", span(sb, mul(k, n)), "(batch-1)*strideB + k*n");
  F32 C = a.f32(12, "c", span(sc, mul(m, n)), "(batch-1)*strideC + m*n");
  if (batch > 1 && sc < mul(m, n)) {
    a.fail(false, "ERR_BLASNET_ALIAS", "strideC must be at least m*n so that outputs do not overlap");
  }
  a.disjoint(C, A);
  a.disjoint(C, B);
  gemmBatched(ta, tb, m, n, k, batch, alpha, A.data, sa, B.data, sb, beta, C.data, sc);
  return nullptr;
}

napi_value AddBias(Args& a) {
  a.expect(4);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  F32 bias = a.f32(2, "bias", cols, "cols");
  F32 y = a.f32(3, "y", mul(rows, cols), "rows*cols");
  a.disjoint(y, bias);
  addBias(rows, cols, bias.data, y.data);
  return nullptr;
}

napi_value ColSum(Args& a) {
  a.expect(5);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  const float beta = a.scalar(2, "beta");
  F32 x = a.f32(3, "x", mul(rows, cols), "rows*cols");
  F32 out = a.f32(4, "out", cols, "cols");
  a.disjoint(out, x);
  colSum(rows, cols, beta, x.data, out.data);
  return nullptr;
}

// gatherRows and gatherRowsChecked take (rows, cols, srcRows, index, src, dst); with `firstBad`
// the gather also finds the first non-finite value it copies.
void gatherCall(Args& a, int64_t* firstBad) {
  a.expect(6);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols"), srcRows = a.dim(2, "srcRows");
  I32 index = a.i32(3, "index", rows, "rows");
  F32 src = a.f32(4, "src", mul(srcRows, cols), "srcRows*cols");
  F32 dst = a.f32(5, "dst", mul(rows, cols), "rows*cols");
  a.disjoint(dst, src);
  a.disjoint(dst, index);
  const Status s = firstBad ? gatherRowsChecked(rows, cols, srcRows, index.data, src.data, dst.data, firstBad)
                            : gatherRows(rows, cols, srcRows, index.data, src.data, dst.data);
  if (s != Status::Ok) badIndex(a, "ERR_BLASNET_INDEX", "index", index.data, rows, srcRows);
}

napi_value GatherRows(Args& a) {
  gatherCall(a, nullptr);
  return nullptr;
}

napi_value GatherRowsChecked(Args& a) {
  int64_t firstBad = -1;
  gatherCall(a, &firstBad);
  return number(a.env(), static_cast<double>(firstBad));
}

// shuffledRange(n, state, out): state an Int32Array of the generator's four words (their bits),
// not all zero, updated in place; out [n] receives the permutation.
constexpr const char* kZeroStateMessage =
    "Expected a generator state of four words, not all zero (the generator would return zeros forever), as Rng.getState() gives";
napi_value ShuffledRange(Args& a) {
  a.expect(3);
  const size_t n = a.dim(0, "n");
  I32 state = a.i32(1, "state", 4, "4");
  I32 out = a.i32(2, "out", n, "n");
  a.disjoint(out, state);
  if (state.data[0] == 0 && state.data[1] == 0 && state.data[2] == 0 && state.data[3] == 0) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE", kZeroStateMessage);
  }
  shuffledRange(n, reinterpret_cast<uint32_t*>(state.data), out.data);
  return nullptr;
}

// argmaxRows(rows, cols, x, out): out [rows] receives each row's argmax.
napi_value ArgmaxRows(Args& a) {
  a.expect(4);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  F32 x = a.f32(2, "x", mul(rows, cols), "rows*cols");
  I32 out = a.i32(3, "out", rows, "rows");
  a.disjoint(out, x);
  argmaxRows(rows, cols, x.data, out.data);
  return nullptr;
}

napi_value Scale(Args& a) {
  a.expect(3);
  const size_t n = a.dim(0, "n");
  const float alpha = a.scalar(1, "alpha");
  F32 x = a.f32(2, "x", n, "n");
  scale(n, alpha, x.data);
  return nullptr;
}

napi_value Axpy(Args& a) {
  a.expect(4);
  const size_t n = a.dim(0, "n");
  const float alpha = a.scalar(1, "alpha");
  F32 x = a.f32(2, "x", n, "n");
  F32 y = a.f32(3, "y", n, "n");
  a.sameOrDisjoint(y, x);
  axpy(n, alpha, x.data, y.data);
  return nullptr;
}

napi_value Dot(Args& a) {
  a.expect(3);
  const size_t n = a.dim(0, "n");
  F32 x = a.f32(1, "x", n, "n");
  F32 y = a.f32(2, "y", n, "n");
  return number(a.env(), dot(n, x.data, y.data));
}

napi_value SumSquares(Args& a) {
  a.expect(2);
  const size_t n = a.dim(0, "n");
  F32 x = a.f32(1, "x", n, "n");
  return number(a.env(), sumSquares(n, x.data));
}

// Where x's first element lies past a 64-byte boundary, in bytes (0 for an empty array): the
// library allocates its hot arrays so that this is 0 (lib/backend/memory.ts).
napi_value AddressOffset(Args& a) {
  a.expect(1);
  F32 x = a.f32(0, "x", 0, "0");
  return number(a.env(), static_cast<double>(reinterpret_cast<uintptr_t>(x.data) % 64));
}

// adviseHugePages(x): advises the OS to back x's memory with huge pages; the bytes advised.
napi_value AdviseHugePages(Args& a) {
  a.expect(1);
  View<uint8_t> x = a.bytes(0, "x");
  return number(a.env(), static_cast<double>(adviseHugePages(x.data, x.length)));
}

napi_value PopulatePages(Args& a) {
  a.expect(1);
  View<uint8_t> x = a.bytes(0, "x");
  return number(a.env(), static_cast<double>(populatePages(x.data, x.length)));
}

napi_value FirstNonFinite(Args& a) {
  a.expect(2);
  const size_t n = a.dim(0, "n");
  F32 x = a.f32(1, "x", n, "n");
  return number(a.env(), static_cast<double>(firstNonFinite(n, x.data)));
}

// firstLabelOutside(n, labels, classes): the first of labels[0..n) outside [0, classes), or -1.
napi_value FirstLabelOutside(Args& a) {
  a.expect(3);
  const size_t n = a.dim(0, "n");
  I32 labels = a.i32(1, "labels", n, "n");
  const size_t classes = a.dim(2, "classes");
  return number(a.env(), static_cast<double>(firstLabelOutside(n, labels.data, classes)));
}

napi_value Mul(Args& a) {
  a.expect(4);
  const size_t n = a.dim(0, "n");
  F32 x = a.f32(1, "x", n, "n");
  F32 y = a.f32(2, "y", n, "n");
  F32 out = a.f32(3, "out", n, "n");
  a.sameOrDisjoint(out, x);
  a.sameOrDisjoint(out, y);
  blasnet::mul(n, x.data, y.data, out.data);  // qualified: the local mul() multiplies dims
  return nullptr;
}

bool nonNegative(float v) { return v >= 0; }
bool positive(float v) { return v > 0; }
bool unitInterval(float v) { return v >= 0 && v <= 1; }

napi_value Penalty(Args& a) {
  a.expect(5);
  const size_t n = a.dim(0, "n");
  const float l1 = a.scalarIn(1, "l1", nonNegative, "non-negative number");
  const float l2 = a.scalarIn(2, "l2", nonNegative, "non-negative number");
  F32 w = a.f32(3, "w", n, "n");
  F32 grad = a.f32OrNull(4, "grad", n, "n");
  a.disjoint(grad, w);
  return number(a.env(), penalty(n, l1, l2, w.data, grad.data));
}

napi_value Activation(Args& a) {
  a.expect(5);
  const int id = a.id(0, "activation", activationCount());
  const float param = a.scalar(1, "param");
  const size_t n = a.dim(2, "n");
  F32 x = a.f32(3, "x", n, "n");
  F32 y = a.f32(4, "y", n, "n");
  a.sameOrDisjoint(y, x);
  activationForward(id, param, n, x.data, y.data);
  return nullptr;
}

napi_value ActivationBackward(Args& a) {
  a.expect(7);
  const int id = a.id(0, "activation", activationCount());
  const float param = a.scalar(1, "param");
  const size_t n = a.dim(2, "n");
  F32 x = a.f32(3, "x", n, "n");
  F32 y = a.f32(4, "y", n, "n");
  F32 dy = a.f32(5, "dy", n, "n");
  F32 dx = a.f32(6, "dx", n, "n");
  a.sameOrDisjoint(dx, x);
  a.sameOrDisjoint(dx, y);
  a.sameOrDisjoint(dx, dy);
  activationBackward(id, param, n, x.data, y.data, dy.data, dx.data);
  return nullptr;
}

template <void (*F)(size_t, size_t, const float*, float*)>
napi_value RowwiseForward(Args& a) {
  a.expect(4);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  F32 x = a.f32(2, "x", mul(rows, cols), "rows*cols");
  F32 y = a.f32(3, "y", mul(rows, cols), "rows*cols");
  a.sameOrDisjoint(y, x);
  F(rows, cols, x.data, y.data);
  return nullptr;
}

template <void (*F)(size_t, size_t, const float*, const float*, float*)>
napi_value RowwiseBackward(Args& a) {
  a.expect(5);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  F32 y = a.f32(2, "y", mul(rows, cols), "rows*cols");
  F32 dy = a.f32(3, "dy", mul(rows, cols), "rows*cols");
  F32 dx = a.f32(4, "dx", mul(rows, cols), "rows*cols");
  a.sameOrDisjoint(dx, y);
  a.sameOrDisjoint(dx, dy);
  F(rows, cols, y.data, dy.data, dx.data);
  return nullptr;
}

napi_value Prelu(Args& a) {
  a.expect(6);
  const bool perUnit = a.flag(0, "perUnit");
  const size_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  F32 x = a.f32(3, "x", mul(rows, cols), "rows*cols");
  F32 slope = a.f32(4, "a", perUnit ? cols : 1, perUnit ? "cols" : "1");
  F32 y = a.f32(5, "y", mul(rows, cols), "rows*cols");
  a.sameOrDisjoint(y, x);
  a.disjoint(y, slope);
  prelu(perUnit, rows, cols, x.data, slope.data, y.data);
  return nullptr;
}

napi_value PreluBackward(Args& a) {
  a.expect(9);
  const bool perUnit = a.flag(0, "perUnit");
  const size_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  const float beta = a.scalar(3, "beta");
  const size_t na = perUnit ? cols : 1;
  const char* naFormula = perUnit ? "cols" : "1";
  F32 x = a.f32(4, "x", mul(rows, cols), "rows*cols");
  F32 slope = a.f32(5, "a", na, naFormula);
  F32 dy = a.f32(6, "dy", mul(rows, cols), "rows*cols");
  F32 da = a.f32(7, "da", na, naFormula);
  F32 dx = a.f32(8, "dx", mul(rows, cols), "rows*cols");
  a.sameOrDisjoint(dx, dy);
  a.disjoint(dx, x);
  a.disjoint(dx, slope);
  for (const F32* i : {&x, &slope, &dy, &dx}) a.disjoint(da, *i);
  preluBackward(perUnit, rows, cols, beta, x.data, slope.data, dy.data, da.data, dx.data);
  return nullptr;
}

napi_value BatchNormForward(Args& a) {
  a.expect(14);
  const bool training = a.flag(0, "training");
  const size_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  if (training && rows < 2) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE",
           "Expected more than 1 value per channel when training but received rows = " + std::to_string(rows));
  }
  const float eps = a.scalarIn(3, "eps", positive, "positive number");
  const float momentum = a.scalarIn(4, "momentum", unitInterval, "number in [0, 1]");
  const uint64_t n = mul(rows, cols);
  F32 x = a.f32(5, "x", n, "rows*cols");
  F32 gamma = a.f32(6, "gamma", cols, "cols");
  F32 beta = a.f32(7, "beta", cols, "cols");
  F32 runningMean = a.f32(8, "runningMean", cols, "cols");
  F32 runningVar = a.f32(9, "runningVar", cols, "cols");
  F32 mean = a.f32(10, "mean", cols, "cols");
  F32 invStd = a.f32(11, "invStd", cols, "cols");
  F32 xhat = a.f32(12, "xhat", n, "rows*cols");
  F32 y = a.f32(13, "y", n, "rows*cols");
  // Every output (the running estimates included) is disjoint from every input and every other.
  const F32* outs[] = {&runningMean, &runningVar, &mean, &invStd, &xhat, &y};
  for (size_t k = 0; k < 6; ++k) {
    for (const F32* i : {&x, &gamma, &beta}) a.disjoint(*outs[k], *i);
    for (size_t j = 0; j < k; ++j) a.disjoint(*outs[k], *outs[j]);
  }
  batchNormForward(training, rows, cols, eps, momentum, x.data, gamma.data, beta.data,
                   runningMean.data, runningVar.data, mean.data, invStd.data, xhat.data, y.data);
  return nullptr;
}

napi_value BatchNormBackward(Args& a) {
  a.expect(11);
  const bool training = a.flag(0, "training");
  const size_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  const float beta = a.scalar(3, "beta");
  const uint64_t n = mul(rows, cols);
  F32 xhat = a.f32(4, "xhat", n, "rows*cols");
  F32 gamma = a.f32(5, "gamma", cols, "cols");
  F32 invStd = a.f32(6, "invStd", cols, "cols");
  F32 dy = a.f32(7, "dy", n, "rows*cols");
  F32 dgamma = a.f32(8, "dgamma", cols, "cols");
  F32 dbeta = a.f32(9, "dbeta", cols, "cols");
  F32 dx = a.f32OrNull(10, "dx", n, "rows*cols");
  const F32* outs[] = {&dgamma, &dbeta, &dx};
  for (size_t k = 0; k < 3; ++k) {
    for (const F32* i : {&xhat, &gamma, &invStd, &dy}) a.disjoint(*outs[k], *i);
    for (size_t j = 0; j < k; ++j) a.disjoint(*outs[k], *outs[j]);
  }
  batchNormBackward(training, rows, cols, beta, xhat.data, gamma.data, invStd.data, dy.data,
                    dgamma.data, dbeta.data, dx.data);
  return nullptr;
}

napi_value DenseForward(Args& a) {
  a.expect(10);
  const int act = a.id(0, "activation", activationCount());
  const float param = a.scalar(1, "param");
  const size_t batch = a.dim(2, "batch"), in = a.dim(3, "inDim"), out = a.dim(4, "outDim");
  F32 x = a.f32(5, "x", mul(batch, in), "batch*inDim");
  F32 w = a.f32(6, "w", mul(out, in), "outDim*inDim");
  F32 b = a.f32OrNull(7, "b", out, "outDim");
  F32 z = a.f32(8, "z", mul(batch, out), "batch*outDim");
  F32 y = a.f32(9, "y", mul(batch, out), "batch*outDim");
  for (const F32* o : {&z, &y}) {
    a.disjoint(*o, x);
    a.disjoint(*o, w);
    a.disjoint(*o, b);
  }
  a.sameOrDisjoint(y, z);
  denseForward(act, param, batch, in, out, x.data, w.data, b.data, z.data, y.data);
  return nullptr;
}

napi_value DenseBackward(Args& a) {
  a.expect(15);
  const int act = a.id(0, "activation", activationCount());
  const float param = a.scalar(1, "param");
  const size_t batch = a.dim(2, "batch"), in = a.dim(3, "inDim"), out = a.dim(4, "outDim");
  const float beta = a.scalar(5, "beta");
  F32 x = a.f32(6, "x", mul(batch, in), "batch*inDim");
  F32 w = a.f32(7, "w", mul(out, in), "outDim*inDim");
  F32 z = a.f32(8, "z", mul(batch, out), "batch*outDim");
  F32 y = a.f32(9, "y", mul(batch, out), "batch*outDim");
  F32 dy = a.f32(10, "dy", mul(batch, out), "batch*outDim");
  F32 dz = a.f32(11, "dz", mul(batch, out), "batch*outDim");
  F32 dw = a.f32(12, "dw", mul(out, in), "outDim*inDim");
  F32 db = a.f32OrNull(13, "db", out, "outDim");
  F32 dx = a.f32OrNull(14, "dx", mul(batch, in), "batch*inDim");
  // dz is elementwise in dy, so it may be dy itself; every other output is disjoint from all.
  a.sameOrDisjoint(dz, dy);
  for (const F32* i : {&x, &w, &z, &y}) a.disjoint(dz, *i);
  for (const F32* o : {&dw, &db, &dx}) {
    for (const F32* i : {&x, &w, &z, &y, &dy, &dz}) a.disjoint(*o, *i);
  }
  a.disjoint(dw, db);
  a.disjoint(dw, dx);
  a.disjoint(db, dx);
  denseBackward(act, param, batch, in, out, beta, x.data, w.data, z.data, y.data, dy.data, dz.data,
                dw.data, db.data, dx.data);
  return nullptr;
}

// The packed length as the kernels compute it, in 64 bits (dims < 2^31: no overflow).
uint64_t packedLength(size_t outDim, size_t inDim) {
  return mul(mul((outDim + kPackPanel - 1) / kPackPanel, kPackPanel), inDim + 1);
}

napi_value PackDense(Args& a) {
  a.expect(5);
  const size_t out = a.dim(0, "outDim"), in = a.dim(1, "inDim");
  F32 w = a.f32(2, "w", mul(out, in), "outDim*inDim");
  F32 b = a.f32OrNull(3, "b", out, "outDim");
  F32 packed = a.f32(4, "packed", packedLength(out, in), "ceil(outDim/16)*16*(inDim+1)");
  a.disjoint(packed, w);
  a.disjoint(packed, b);
  packDense(out, in, w.data, b.data, packed.data);
  return nullptr;
}

napi_value PackedDenseForward(Args& a) {
  a.expect(8);
  const int act = a.id(0, "activation", activationCount());
  const float param = a.scalar(1, "param");
  const size_t batch = a.dim(2, "batch"), in = a.dim(3, "inDim"), out = a.dim(4, "outDim");
  F32 x = a.f32(5, "x", mul(batch, in), "batch*inDim");
  F32 packed = a.f32(6, "packed", packedLength(out, in), "ceil(outDim/16)*16*(inDim+1)");
  F32 y = a.f32(7, "y", mul(batch, out), "batch*outDim");
  a.disjoint(y, x);
  a.disjoint(y, packed);
  packedDenseForward(act, param, batch, in, out, x.data, packed.data, y.data);
  return nullptr;
}

// loss takes (id, param, rows, cols, pred, target, grad); lossWeighted takes weight before grad.
napi_value lossCall(Args& a, bool weighted) {
  a.expect(weighted ? 8 : 7);
  const int id = a.id(0, "loss", lossCount());
  const float param = a.scalar(1, "param");
  const size_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  const int targets = lossTargets(id);
  F32 pred = a.f32(4, "pred", mul(rows, cols), "rows*cols");
  F32 target{nullptr, 0, nullptr, 0};
  I32 labels{nullptr, 0, nullptr, 0};
  if (targets & kTargetLabels && (!(targets & kTargetDense) || a.isInt32Array(5))) {
    labels = a.i32(5, "target", rows, "rows");
  } else if (targets & kTargetHalf) {
    if (cols % 2 != 0) {
      a.fail(false, "ERR_BLASNET_ARG_RANGE",
             std::string("Expected even cols (mean and variance heads) for ") + lossName(id) +
                 " but received " + std::to_string(cols));
    }
    target = a.f32(5, "target", mul(rows, cols / 2), "rows*cols/2");
  } else {
    target = a.f32(5, "target", mul(rows, cols), "rows*cols");
  }
  F32 weight{nullptr, 0, nullptr, 0};
  if (weighted) weight = a.f32(6, "weight", rows, "rows");
  F32 grad = a.f32OrNull(weighted ? 7 : 6, "grad", mul(rows, cols), "rows*cols");
  a.disjoint(grad, pred);
  a.disjoint(grad, target);
  a.disjoint(grad, labels);
  a.disjoint(grad, weight);
  // The weights are read once, checked and copied: another thread writing the caller's array
  // during the call cannot slip a negative or NaN factor past the check. The copy grows once
  // per thread and is reused, so a training step allocates nothing.
  thread_local std::vector<float> checked;
  const float* w = nullptr;
  if (weighted) {
    if (checked.size() < rows) checked.resize(rows);
    for (size_t r = 0; r < rows; ++r) {
      const float v = readOnce(weight.data + r);
      if (!(v >= 0.0f && v <= std::numeric_limits<float>::max())) {
        a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected finite non-negative values in weight but weight[" +
                                                   std::to_string(r) + "] is " + Args::show(v));
      }
      checked[r] = v;
    }
    w = checked.data();
  }
  Status st = Status::Ok;
  const double value = lossWeighted(id, param, rows, cols, pred.data, target.data, labels.data, w, grad.data, &st);
  switch (st) {
    case Status::Ok: break;
    case Status::BadLabel: badIndex(a, "ERR_BLASNET_LABEL", "target", labels.data, rows, cols);
    case Status::BadTarget:
      a.fail(false, "ERR_BLASNET_TARGET", std::string(lossName(id)) + " targets must be -1 or +1");
    case Status::BadParam:
      a.fail(false, "ERR_BLASNET_ARG_RANGE", std::string("Expected param > 0 for ") + lossName(id) +
                                                 " but received " + Args::show(param));
    default: a.fail(false, "ERR_BLASNET_INTERNAL", "unexpected kernel status");
  }
  return number(a.env(), value);
}

napi_value Loss(Args& a) { return lossCall(a, false); }
napi_value LossWeighted(Args& a) { return lossCall(a, true); }

napi_value OptimizerStep(Args& a) {
  a.expect(6);
  const int id = a.id(0, "opt", optimizerCount());
  const size_t n = a.dim(1, "n");
  const std::string hyperFormula = std::string("hyper length of ") + optimizerName(id);
  const std::string stateFormula = std::to_string(optimizerSlots(id)) + "*n";
  F32 hyper = a.f32(2, "hyper", static_cast<uint64_t>(optimizerHyperLength(id)), hyperFormula.c_str());
  F32 param = a.f32(3, "param", n, "n");
  F32 grad = a.f32(4, "grad", n, "n");
  F32 state = a.f32(5, "state", mul(static_cast<uint64_t>(optimizerSlots(id)), n), stateFormula.c_str());
  // All four mutually disjoint: the loop reads hyper and grad while it writes param and state.
  a.disjoint(param, hyper);
  a.disjoint(param, grad);
  a.disjoint(state, hyper);
  a.disjoint(state, param);
  a.disjoint(state, grad);
  a.disjoint(grad, hyper);
  optimizerStep(id, n, hyper.data, param.data, grad.data, state.data);
  return nullptr;
}

// The blocks are copied before they are checked, and the copy is what the step uses: on a
// SharedArrayBuffer another thread may change them at any time.
napi_value OptimizerStepBlocks(Args& a) {
  a.expect(8);
  const int id = a.id(0, "opt", optimizerCount());
  const size_t n = a.dim(1, "n");
  const std::string hyperFormula = std::string("hyper length of ") + optimizerName(id);
  const std::string stateFormula = std::to_string(optimizerSlots(id)) + "*n";
  F32 hyper = a.f32(2, "hyper", static_cast<uint64_t>(optimizerHyperLength(id)), hyperFormula.c_str());
  F32 param = a.f32(3, "param", n, "n");
  F32 grad = a.f32(4, "grad", n, "n");
  F32 state = a.f32(5, "state", mul(static_cast<uint64_t>(optimizerSlots(id)), n), stateFormula.c_str());
  const size_t nBlocks = a.dim(6, "nBlocks");
  I32 blocks = a.i32(7, "blocks", mul(2, nBlocks), "2*nBlocks");
  a.disjoint(param, hyper);
  a.disjoint(param, grad);
  a.disjoint(state, hyper);
  a.disjoint(state, param);
  a.disjoint(state, grad);
  a.disjoint(grad, hyper);
  std::vector<size_t> copy(2 * nBlocks);
  uint64_t covered = 0;
  for (size_t b = 0; b < nBlocks; ++b) {
    const int32_t rows = blocks.data[2 * b], cols = blocks.data[2 * b + 1];
    if (rows < 0 || cols < 1) {
      a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected blocks[" + std::to_string(2 * b) + "] >= 0 rows and blocks[" +
                                                std::to_string(2 * b + 1) + "] >= 1 columns but received " +
                                                std::to_string(rows) + " and " + std::to_string(cols));
    }
    copy[2 * b] = size_t(rows);
    copy[2 * b + 1] = size_t(cols);
    // Both factors are below 2^31: the product and a sum of at most 2^31 of them fit 64 bits.
    covered += uint64_t(rows) * uint64_t(cols);
    if (covered > n) break;
  }
  if (covered != n) {
    a.fail(false, "ERR_BLASNET_SHAPE", "Expected blocks to cover n = " + std::to_string(n) + " values but they cover " +
                                           (covered > n ? "more" : std::to_string(covered)));
  }
  optimizerStepBlocks(id, n, hyper.data, param.data, grad.data, state.data, copy.data(), nBlocks);
  return nullptr;
}

napi_value Clamp(Args& a) {
  a.expect(4);
  const size_t n = a.dim(0, "n");
  const float lo = a.scalar(1, "lo"), hi = a.scalar(2, "hi");
  if (!(lo <= hi)) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected lo <= hi but received lo = " + Args::show(lo) + " and hi = " + Args::show(hi));
  }
  F32 x = a.f32(3, "x", n, "n");
  clamp(n, lo, hi, x.data);
  return nullptr;
}

napi_value MaxNormRows(Args& a) {
  a.expect(4);
  const size_t rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  const float maxNorm = a.scalarIn(2, "maxNorm", positive, "positive number");
  F32 w = a.f32(3, "w", mul(rows, cols), "rows*cols");
  maxNormRows(rows, cols, maxNorm, w.data);
  return nullptr;
}

napi_value SetNumThreads(Args& a) {
  a.expect(1);
  const size_t n = a.dim(0, "n");
  if (n < 1 || n > 1024) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected thread count in [1, 1024] but received " + std::to_string(n));
  }
  setNumThreads(static_cast<int>(n));
  return nullptr;
}

napi_value SetThreadLimit(Args& a) {
  a.expect(1);
  const size_t n = a.dim(0, "n");
  if (n > 1024) {
    a.fail(false, "ERR_BLASNET_ARG_RANGE", "Expected thread limit in [0, 1024] but received " + std::to_string(n));
  }
  return number(a.env(), setThreadLimit(static_cast<int>(n)));
}

napi_value GetNumThreads(Args& a) {
  a.expect(0);
  return number(a.env(), numThreads());
}

napi_value BlasInfo(Args& a) {
  a.expect(0);
  Napi::Env env(a.env());
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", "OpenBLAS");
  o.Set("config", blasConfig());
  o.Set("coreName", blasCoreName());
  o.Set("kernelIsa", isaName(isa()));
  o.Set("kernelIsaSupported", isaName(isaSupported()));
  o.Set("writeAhead", prefetchWriteOn());
  o.Set("packedForward", packedForwardOn());
  o.Set("packedForwardMinRows", static_cast<double>(livePackMinRows()));
  o.Set("numThreads", numThreads());
  o.Set("numProcs", numProcs());
  return o;
}

Napi::Array names(Napi::Env env, int count, const char* (*name)(int)) {
  Napi::Array arr = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) arr.Set(i, name(i));
  return arr;
}

Napi::Array ints(Napi::Env env, int count, int (*value)(int)) {
  Napi::Array arr = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) arr.Set(i, value(i));
  return arr;
}

// Throws the error `make` builds into JavaScript, and lets nothing out. While a worker_thread is
// being terminated its environment takes no exception: napi_throw fails, and node-addon-api
// then throws a C++ exception of its own, which out of an N-API callback is std::terminate for
// the whole process (a worker terminated while it called the addon took the process down with
// it). Then nothing is thrown and the call returns to a thread that runs no more JavaScript.
template <class Make>
void throwQuietly(const Make& make) noexcept {
  try {
    make().ThrowAsJavaScriptException();
  } catch (...) {
  }
}

// Runs body, and converts argument errors (and anything unexpected) into JS exceptions with a
// code: every function the addon defines, and its entry point, run inside it.
template <class Body>
napi_value guarded(napi_env env, const Body& body) noexcept {
  try {
    return body();
  } catch (const ArgError& e) {
    throwQuietly([&] {
      Napi::Error err = e.typeError ? static_cast<Napi::Error>(Napi::TypeError::New(env, e.message))
                                    : static_cast<Napi::Error>(Napi::RangeError::New(env, e.message));
      err.Set("code", e.code);
      return err;
    });
  } catch (const Napi::Error& e) {
    throwQuietly([&] { return e; });
  } catch (const std::bad_alloc&) {
    // A buffer of the kernel's own (a per-column sum, a packing buffer) the process cannot have.
    throwQuietly([&] {
      Napi::Error err = Napi::RangeError::New(env, "blasnet: a kernel's working buffer could not be allocated (out of memory)");
      err.Set("code", "ERR_BLASNET_MEMORY");
      return err;
    });
  } catch (const std::exception& e) {
    throwQuietly([&] {
      Napi::Error err = Napi::Error::New(env, std::string("blasnet: ") + e.what());
      err.Set("code", "ERR_BLASNET_INTERNAL");
      return err;
    });
  } catch (...) {
  }
  return nullptr;
}

template <napi_value (*F)(Args&)>
napi_value wrap(napi_env env, napi_callback_info cb) {
  return guarded(env, [&]() -> napi_value {
    Args args(env, cb);
    napi_value result = F(args);
    return result ? result : undefined(env);
  });
}

template <napi_value (*F)(Args&)>
void define(Napi::Env env, Napi::Object exports, const char* name) {
  napi_value fn;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, wrap<F>,
                                                      const_cast<char*>(name), &fn));
  exports.Set(name, Napi::Value(env, fn));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  define<Gemm>(env, exports, "gemm");
  define<GemmBatched>(env, exports, "gemmBatched");
  define<AddBias>(env, exports, "addBias");
  define<ColSum>(env, exports, "colSum");
  define<GatherRows>(env, exports, "gatherRows");
  define<GatherRowsChecked>(env, exports, "gatherRowsChecked");
  define<ShuffledRange>(env, exports, "shuffledRange");
  define<ArgmaxRows>(env, exports, "argmaxRows");
  define<Scale>(env, exports, "scale");
  define<Axpy>(env, exports, "axpy");
  define<Dot>(env, exports, "dot");
  define<SumSquares>(env, exports, "sumSquares");
  define<FirstNonFinite>(env, exports, "firstNonFinite");
  define<FirstLabelOutside>(env, exports, "firstLabelOutside");
  define<AddressOffset>(env, exports, "addressOffset");
  define<AdviseHugePages>(env, exports, "adviseHugePages");
  define<PopulatePages>(env, exports, "populatePages");
  define<Mul>(env, exports, "mul");
  define<Penalty>(env, exports, "penalty");
  define<Activation>(env, exports, "activation");
  define<ActivationBackward>(env, exports, "activationBackward");
  define<RowwiseForward<softmax>>(env, exports, "softmax");
  define<RowwiseForward<logSoftmax>>(env, exports, "logSoftmax");
  define<RowwiseBackward<softmaxBackward>>(env, exports, "softmaxBackward");
  define<RowwiseBackward<logSoftmaxBackward>>(env, exports, "logSoftmaxBackward");
  define<Prelu>(env, exports, "prelu");
  define<PreluBackward>(env, exports, "preluBackward");
  define<BatchNormForward>(env, exports, "batchNormForward");
  define<BatchNormBackward>(env, exports, "batchNormBackward");
  define<DenseForward>(env, exports, "denseForward");
  define<DenseBackward>(env, exports, "denseBackward");
  define<PackDense>(env, exports, "packDense");
  define<PackedDenseForward>(env, exports, "packedDenseForward");
  define<Loss>(env, exports, "loss");
  define<LossWeighted>(env, exports, "lossWeighted");
  define<OptimizerStep>(env, exports, "optimizerStep");
  define<OptimizerStepBlocks>(env, exports, "optimizerStepBlocks");
  define<Clamp>(env, exports, "clamp");
  define<MaxNormRows>(env, exports, "maxNormRows");
  define<SetNumThreads>(env, exports, "setNumThreads");
  define<GetNumThreads>(env, exports, "getNumThreads");
  define<SetThreadLimit>(env, exports, "setThreadLimit");
  define<BlasInfo>(env, exports, "blasInfo");
  exports.Set("activationNames", names(env, activationCount(), activationName));
  exports.Set("lossNames", names(env, lossCount(), lossName));
  exports.Set("optimizerNames", names(env, optimizerCount(), optimizerName));
  exports.Set("optimizerSlots", ints(env, optimizerCount(), optimizerSlots));
  exports.Set("optimizerHyperLengths", ints(env, optimizerCount(), optimizerHyperLength));
  exports.Set("napiVersion", NAPI_VERSION);
  // The first GEMM's one-time costs (OpenBLAS's packing buffer, the kernels' code), paid meanwhile.
  startWarmUp();
  return exports;
}

// The module's entry point, registered without node-addon-api's wrapper: that wrapper rethrows
// a failed napi_throw as a C++ exception, and a worker terminated while it loads the addon (each
// napi call in Init then fails) took the whole process down with std::terminate. Here the error
// goes to JavaScript if the environment still takes one, and nowhere otherwise (guarded).
napi_value InitModule(napi_env env, napi_value exports) noexcept {
  return guarded(env, [&]() -> napi_value { return Init(Napi::Env(env), Napi::Object(env, exports)); });
}

}  // namespace
}  // namespace binding
}  // namespace blasnet

NAPI_MODULE_INIT() { return blasnet::binding::InitModule(env, exports); }
