// Instruction-set levels of the non-GEMM kernels. Each hot loop (optimiser steps, activations and
// their derivatives, column sums, elementwise helpers) is compiled three times from one body:
// portable (the compiler's x86-64 baseline, SSE2), AVX2 and AVX-512, and the level is chosen once,
// at load, from the CPU, or lowered by BLASNET_ISA=portable|avx2|avx512 (a level the CPU lacks is
// never used). GEMMs are OpenBLAS's and follow its own choice (OPENBLAS_CORETYPE).
//
// The three copies do the same operations in the same order, and every file that holds them is
// built with -ffp-contract=off, so no copy fuses a multiply-add the others round twice: results
// are the same bits on every level.
#pragma once

#include <cstddef>

namespace blasnet {

enum class Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kIsaLevels = 3;

// The level the kernels run at (fixed at first use: the CPU's best, or BLASNET_ISA if lower).
Isa isa();
// The best level this CPU supports.
Isa isaSupported();
// "portable", "avx2" or "avx512".
const char* isaName(Isa level);

// Function attributes that compile one copy of an inlined loop body for a level. Function
// multi-versioning needs GCC or Clang on x86-64; elsewhere every level is the portable build.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(BLASNET_NO_CLONES)
#define BLASNET_X86_LEVELS 1
#define BLASNET_AVX2 __attribute__((target("avx2")))
// 512-bit vectors: GCC tunes some AVX-512 CPUs to 256-bit ones unless told otherwise (Clang's
// target attribute has no such option).
#if defined(__clang__)
#define BLASNET_AVX512 __attribute__((target("avx2,avx512f,avx512vl,avx512bw,avx512dq")))
#else
#define BLASNET_AVX512 \
  __attribute__((target("avx2,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")))
#endif
#else
#define BLASNET_AVX2
#define BLASNET_AVX512
#endif
// Loop bodies are forced inline into each level's copy, so each copy compiles them for its own
// instruction set.
#define BLASNET_INLINE inline __attribute__((always_inline))

// The three copies of a function F of signature Sig, as a table indexed by Isa: F must be an
// always-inline function (or a constant pointer to one).
template <class Sig>
struct Leveled;
template <class R, class... A>
struct Leveled<R (*)(A...)> {
  using Fn = R (*)(A...);
  template <Fn F>
  static R portable(A... a) { return F(a...); }
  template <Fn F>
  BLASNET_AVX2 static R avx2(A... a) { return F(a...); }
  template <Fn F>
  BLASNET_AVX512 static R avx512(A... a) { return F(a...); }
};

// Levels of one function: levels<decltype(&f), &f>() == {portable, AVX2, AVX-512 copies of f}.
template <class Fn>
struct Levels {
  Fn fn[kIsaLevels];
  // The copy for the level in use.
  Fn operator()() const { return fn[static_cast<int>(isa())]; }
};
template <class Fn, Fn F>
constexpr Levels<Fn> levels() {
  return {{&Leveled<Fn>::template portable<F>, &Leveled<Fn>::template avx2<F>,
           &Leveled<Fn>::template avx512<F>}};
}

}  // namespace blasnet
