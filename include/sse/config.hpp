#pragma once

/// \file
/// User-overridable configuration: debug assertions, exception detection, the default SIMD
/// architecture. Define a macro before including any sse header to override it.

#include <cstdio>
#include <cstdlib>

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
