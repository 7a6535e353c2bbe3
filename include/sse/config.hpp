#pragma once

/// \file
/// User-overridable configuration: debug assertions, exception detection, the default SIMD
/// architecture. Define a macro before including any sse header to override it.

#include <cstdio>
#include <cstdlib>

// GCC 12's AVX-512 intrinsics build "undefined" vectors as `__m512i __Y = __Y;`
// (avx512fintrin.h), which -Wmaybe-uninitialized reports wherever xsimd or Eigen inline one
// (exp, nearbyint, transposes): over a thousand false positives per native build, GCC bug
// 105593, fixed in GCC 13. The warning is silenced for the intrinsic headers' own lines only:
// GCC applies the pragma by the location of the warned statement, which is inside them, so
// sse's own code and the user's keep the warning. (A TU that includes <immintrin.h> before any
// sse header is outside this region.)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && \
    (defined(__x86_64__) || defined(__i386__))
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#  include <immintrin.h>
#  pragma GCC diagnostic pop
#endif
#include <xsimd/xsimd.hpp>

/// Whether sse reports errors by exception. Defaults to whether the compiler has them enabled
/// (g++ and clang define __cpp_exceptions; -fno-exceptions undefines it).
#ifndef SSE_HAS_EXCEPTIONS
#  if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#    define SSE_HAS_EXCEPTIONS 1
#  else
#    define SSE_HAS_EXCEPTIONS 0
#  endif
#endif

/// Internal invariant check, compiled out with NDEBUG (never used for input validation, which
/// is always on). Expression-shaped so that it composes like a function call.
#ifndef SSE_DASSERT
#  ifdef NDEBUG
#    define SSE_DASSERT(cond) static_cast<void>(0)
#  else
#    define SSE_DASSERT(cond) \
      ((cond) ? static_cast<void>(0) : ::sse::detail::assertion_failed(#cond, __FILE__, __LINE__))
#  endif
#endif

/// Restrict qualifier for non-aliasing pointers in innermost loops.
#ifndef SSE_RESTRICT
#  define SSE_RESTRICT __restrict__
#endif

/// Inlining a kernel's inner step into its caller, or keeping it a call, where the compiler's
/// own choice was measured to cost (the dot products of layers/linear.hpp).
#ifndef SSE_ALWAYS_INLINE
#  define SSE_ALWAYS_INLINE __attribute__((always_inline))
#endif
#ifndef SSE_NOINLINE
#  define SSE_NOINLINE __attribute__((noinline))
#endif

namespace sse {

/// The SIMD architecture the kernels are instantiated for: xsimd's best for the flags this
/// translation unit is compiled with (sse2 without -march on x86-64; avx512bw with
/// -march=native on the machines we develop on). Chosen once at each public entry point.
using default_arch = xsimd::default_arch;

namespace detail {

[[noreturn]] inline void assertion_failed(const char* cond, const char* file, int line) noexcept {
  std::fprintf(stderr, "sse: internal assertion failed: %s (%s:%d)\n", cond, file, line);
  std::abort();
}

}  // namespace detail
}  // namespace sse
