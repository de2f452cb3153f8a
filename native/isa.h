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
// The same for a lambda (after its parameter list), whose body must also be compiled into each
// level's copy of the function that calls it.
#define BLASNET_LAMBDA_INLINE __attribute__((always_inline))

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

// Whether kernels ask for lines ahead of their writes (prefetchForWrite): the CPU has an
// instruction that fetches a line for writing (x86: PREFETCHW, CPUID 0x80000001 ECX bit 8; most
// x86-64 CPUs since 2014), the level in use is above the portable one (BLASNET_ISA=portable runs
// without it, as the baseline CPU would) and BLASNET_WRITE_AHEAD is not 0. Read once.
bool prefetchWriteOn();

// Asks for the cache line holding p in a state this core may write (x86 PREFETCHW), without
// waiting for it. A hint: memory is unchanged and no fault is raised. When another core holds the
// line, its copy must be invalidated before this core can write, and on some machines that trip
// costs as much as a trip to memory (bench/RESULTS.md, runs Z and AD); asked for ahead, the trips
// of many lines overlap with the work on earlier ones.
BLASNET_INLINE void prefetchForWrite(const void* p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // Inline assembly: __builtin_prefetch(p, 1) emits PREFETCHW only in code built for a CPU that
  // has it, and these kernels are also built for the x86-64 baseline.
  asm volatile("prefetchw (%0)" : : "r"(p));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1, 3);
#else
  (void)p;
#endif
}

// prefetchForWrite over every 64-byte line of [p, p + bytes). Callers check prefetchWriteOn()
// once, outside their loop.
BLASNET_INLINE void prefetchLinesForWrite(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) prefetchForWrite(c + off);
}

}  // namespace blasnet
