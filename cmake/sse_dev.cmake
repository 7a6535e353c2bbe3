# Helpers for the library's own tests, benchmarks and tools. Never installed, never applied to
# the sse target: warnings, -march and the language mode live on our own targets only.

include(CheckCXXCompilerFlag)
# An empty SSE_NATIVE_FLAGS (the sanitizer presets) builds no *_native variants.
if(SSE_NATIVE_FLAGS STREQUAL "")
  set(SSE_HAVE_NATIVE_FLAGS OFF)
else()
  check_cxx_compiler_flag("${SSE_NATIVE_FLAGS}" SSE_HAVE_NATIVE_FLAGS)
  if(NOT SSE_HAVE_NATIVE_FLAGS)
    # Say so: a silently missing native build would test and time the sse2 path only.
    message(WARNING "SSE_NATIVE_FLAGS '${SSE_NATIVE_FLAGS}' is not accepted by "
      "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}: no *_native test variants, and "
      "sse-run, the examples and the benchmarks build without it (GCC 12.2 has no "
      "-march=znver4, for one)")
  endif()
endif()
separate_arguments(SSE_NATIVE_FLAG_LIST NATIVE_COMMAND "${SSE_NATIVE_FLAGS}")

add_library(sse_warnings INTERFACE)
target_compile_options(sse_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  # GoogleTest's TYPED_TEST_SUITE(Suite, Types) leaves its variadic argument empty.
  $<$<CXX_COMPILER_ID:Clang>:-Wno-gnu-zero-variadic-macro-arguments>)

# Our own targets compile as strict C++17 (g++ 12 defaults to gnu++17 and would emit no -std
# flag, which leaves clang-tidy on C++14).
function(sse_dev_target target)
  set_target_properties(${target} PROPERTIES
    CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  target_link_libraries(${target} PRIVATE sse::sse sse_warnings)
endfunction()

# sse_use_native_flags(<target>): SSE_NATIVE_FLAGS (default -march=native) on one target.
function(sse_use_native_flags target)
  if(SSE_HAVE_NATIVE_FLAGS)
    target_compile_options(${target} PRIVATE ${SSE_NATIVE_FLAG_LIST})
  endif()
endfunction()

# sse_add_test(<area> [NATIVE] <sources...>): one GoogleTest executable per area, <area>_test;
# with NATIVE also <area>_test_native, built with SSE_NATIVE_FLAGS, so that the kernels' wide
# SIMD path (avx512 here) and the baseline one (sse2) are both tested.
function(sse_add_test area)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NATIVE" "" "")
  set(_variants ${area}_test)
  if(ARG_NATIVE AND SSE_HAVE_NATIVE_FLAGS)
    list(APPEND _variants ${area}_test_native)
  endif()
  foreach(_t IN LISTS _variants)
    add_executable(${_t} ${ARG_UNPARSED_ARGUMENTS})
    sse_dev_target(${_t})
    target_link_libraries(${_t} PRIVATE sse_test_support GTest::gtest_main)
    if(_t MATCHES "_native$")
      sse_use_native_flags(${_t})
    endif()
    gtest_discover_tests(${_t} TEST_PREFIX "${_t}." DISCOVERY_TIMEOUT 60)
  endforeach()
endfunction()

# sse_add_benchmark(<source>): a Google Benchmark program named after the file, built with
# SSE_NATIVE_FLAGS. Benchmarks are not ctest cases.
function(sse_add_benchmark source)
  get_filename_component(_name ${source} NAME_WE)
  add_executable(${_name} ${source})
  sse_dev_target(${_name})
  sse_use_native_flags(${_name})
  target_link_libraries(${_name} PRIVATE benchmark::benchmark)
endfunction()
