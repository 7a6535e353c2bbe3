# The library's layering, checked: every header under include/sse/ includes sse headers only
# from its own folder or from folders of a lower rank, and the float64 oracles in reference/
# see only the public input, option and config types (not the kernels' helpers), so that they
# stay independent of the code they check. Prints the folder-level include graph.
#
#   cmake -DSSE_INCLUDE_DIR=include -P cmake/check_layering.cmake
#
# Ranks (DESIGN.md section 7, STYLE.md section 3): the top-level config.hpp, error.hpp and
# version.hpp < core < io, state < simd < router < rules < kernels < attention < layers <
# reference < sse.hpp (the umbrella). io and state share a rank: neither includes the other.
cmake_minimum_required(VERSION 3.21)
if(NOT SSE_INCLUDE_DIR)
  get_filename_component(SSE_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
endif()

set(_rank_base 0)
set(_rank_core 1)
set(_rank_io 2)
set(_rank_state 2)
set(_rank_simd 3)
set(_rank_router 4)
set(_rank_rules 5)
set(_rank_kernels 6)
set(_rank_attention 7)
set(_rank_layers 8)
set(_rank_reference 9)
set(_rank_umbrella 10)

# What reference/ may include besides core/ and the top-level headers: the router (routing is
# part of the operator's definition, float32 softmax and top-k with its tie rule, and the
# oracle must route exactly as the library does), the rule policies as types, and these.
set(_reference_may_include
  sse/kernels/scan_inputs.hpp sse/kernels/scan_options.hpp sse/kernels/mode.hpp
  sse/attention/inputs.hpp sse/attention/options.hpp sse/attention/outputs.hpp
  sse/attention/softmax_attention_inputs.hpp
  sse/layers/sse_layer_config.hpp sse/layers/softmax_attention_config.hpp
  sse/layers/sse_swa_layer_config.hpp sse/layers/hybrid_config.hpp
  sse/layers/weights.hpp)

# _sse_folder(<header relative to include/> <out>): the folder naming its rank.
function(_sse_folder header out)
  if(header STREQUAL "sse/sse.hpp")
    set(${out} umbrella PARENT_SCOPE)
  elseif(header MATCHES "^sse/([a-z_]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  else()
    set(${out} base PARENT_SCOPE)
  endif()
endfunction()

file(GLOB_RECURSE _headers RELATIVE "${SSE_INCLUDE_DIR}" "${SSE_INCLUDE_DIR}/sse/*.hpp")
list(SORT _headers)
set(_violations "")
set(_edges "")
foreach(_header IN LISTS _headers)
  _sse_folder("${_header}" _from)
  if(NOT DEFINED _rank_${_from})
    list(APPEND _violations "${_header}: folder '${_from}' has no rank in this check")
    continue()
  endif()
  file(STRINGS "${SSE_INCLUDE_DIR}/${_header}" _lines REGEX "^#[ ]*include[ ]+\"sse/")
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^#[ ]*include[ ]+\"([^\"]+)\".*" "\\1" _target "${_line}")
    _sse_folder("${_target}" _to)
    if(_from STREQUAL _to)
      continue()
    endif()
    list(APPEND _edges "${_from} -> ${_to}")
    if(NOT DEFINED _rank_${_to})
      list(APPEND _violations "${_header} includes ${_target}: folder '${_to}' has no rank")
    elseif(NOT _rank_${_to} LESS _rank_${_from})
      list(APPEND _violations
           "${_header} includes ${_target}: ${_to} (rank ${_rank_${_to}}) is not below ${_from} (rank ${_rank_${_from}})")
    elseif(_from STREQUAL "reference" AND NOT _to MATCHES "^(base|core|router|rules)$")
      list(FIND _reference_may_include "${_target}" _allowed)
      if(_allowed EQUAL -1)
        list(APPEND _violations
             "${_header} includes ${_target}: the oracles may use public input, option and config types only")
      endif()
    endif()
  endforeach()
endforeach()

# The graph: each folder's edges with the number of include lines behind them.
list(SORT _edges)
set(_graph "")
set(_previous "")
set(_count 0)
foreach(_edge IN LISTS _edges ITEMS "<end>")
  if(_edge STREQUAL _previous)
    math(EXPR _count "${_count} + 1")
  else()
    if(_count GREATER 0)
      string(APPEND _graph "  ${_previous} (${_count})\n")
    endif()
    set(_previous "${_edge}")
    set(_count 1)
  endif()
endforeach()
list(LENGTH _headers _header_count)
message("sse include graph between folders (include lines), ${_header_count} headers:\n${_graph}")

if(_violations)
  list(LENGTH _violations _n)
  string(REPLACE ";" "\n  " _text "${_violations}")
  message(FATAL_ERROR "${_n} layering violation(s):\n  ${_text}")
endif()
message("layering: every include goes to a lower rank")
