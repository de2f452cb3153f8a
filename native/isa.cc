#include "isa.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace blasnet {

namespace {

Isa detect() {
#ifdef BLASNET_X86_LEVELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    return Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

// BLASNET_ISA lowers the level; an unknown value is left to the TypeScript layer, which refuses
// to load the addon with it (lib/backend/native.ts), so it means "the CPU's best" only here.
Isa choose() {
  const Isa best = isaSupported();
  const char* v = std::getenv("BLASNET_ISA");
  if (!v) return best;
  for (int l = 0; l < kIsaLevels; ++l) {
    if (std::strcmp(v, isaName(static_cast<Isa>(l))) == 0) {
      return static_cast<int>(best) < l ? best : static_cast<Isa>(l);
    }
  }
  return best;
}

}  // namespace

Isa isaSupported() {
  static const Isa best = detect();
  return best;
}

Isa isa() {
  static const Isa level = choose();
  return level;
}

bool prefetchWriteOn() {
  static const bool on = [] {
    if (isa() == Isa::kPortable) return false;
    const char* v = std::getenv("BLASNET_WRITE_AHEAD");
    if (v && std::strcmp(v, "0") == 0) return false;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) != 0 && (c & (1u << 8)) != 0;
#else
    return false;  // not reached: elsewhere every level is the portable build
#endif
  }();
  return on;
}

const char* isaName(Isa level) {
  switch (level) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace blasnet
