# Debian 12's libxsimd-dev 8.1.0 exports `INTERFACE_LINK_LIBRARIES "xtl"` without ever
# finding xtl (xtensor-stack/xsimd#869, fixed upstream by #875, not in Debian's 8.x).
# With no `xtl` target that item becomes `-lxtl` and every link fails. xtl is only
# needed for xtl complex numbers, which sse does not use: drop the dangling item.
# Included by CMakeLists.txt and, installed, by sseConfig.cmake.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_sse_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_sse_xsimd_links STREQUAL "xtl")
    set_property(TARGET xsimd PROPERTY INTERFACE_LINK_LIBRARIES "")
  endif()
  unset(_sse_xsimd_links)
endif()
