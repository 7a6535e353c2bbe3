# The installed tree holds the headers, the architecture-independent CMake package under
# share/cmake/sse, and a pkg-config file whose include directory exists.
foreach(_file IN ITEMS
    include/sse/sse.hpp include/sse/version.hpp
    ${DATADIR}/cmake/sse/sseConfig.cmake ${DATADIR}/cmake/sse/sseConfigVersion.cmake
    ${DATADIR}/cmake/sse/sseTargets.cmake ${DATADIR}/cmake/sse/sse_xsimd_workaround.cmake
    ${DATADIR}/pkgconfig/sse.pc)
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "not installed: ${_file}")
  endif()
endforeach()
# ARCH_INDEPENDENT: the version file must not reject a consumer for its pointer size.
file(READ "${PREFIX}/${DATADIR}/cmake/sse/sseConfigVersion.cmake" _version_file)
if(NOT _version_file MATCHES "if\\(\"TRUE\"\\)\n  return\\(\\)")
  message(FATAL_ERROR "sseConfigVersion.cmake checks the pointer size: not ARCH_INDEPENDENT")
endif()
file(STRINGS "${PREFIX}/${DATADIR}/pkgconfig/sse.pc" _pc)
if(NOT _pc MATCHES "Version: ${VERSION}")
  message(FATAL_ERROR "sse.pc has the wrong version: ${_pc}")
endif()
if(NOT _pc MATCHES "Requires: eigen3 >= 3.4, xsimd >= 8.1, nlohmann_json >= 3")
  message(FATAL_ERROR "sse.pc lacks its requirements: ${_pc}")
endif()
find_program(_pkg_config pkg-config)
if(_pkg_config)
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${DATADIR}/pkgconfig")
  execute_process(COMMAND ${_pkg_config} --cflags sse OUTPUT_VARIABLE _cflags RESULT_VARIABLE _rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags sse failed")
  endif()
  string(REGEX MATCH "-I[^ ]*/include" _inc "${_cflags}")
  string(SUBSTRING "${_inc}" 2 -1 _dir)
  if(NOT EXISTS "${_dir}/sse/sse.hpp")
    message(FATAL_ERROR "pkg-config include directory has no sse/sse.hpp: ${_cflags}")
  endif()
endif()
message(STATUS "install tree complete under ${PREFIX}")
