# Runs examples/tiny_model (which writes a model folder and prints its greedy tokens), then
# `sse-run generate` on that folder: both must print the same ids.
execute_process(COMMAND ${TINY_MODEL} ${DIR} OUTPUT_VARIABLE example RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tiny_model failed (${rc}): ${example}")
endif()
string(REGEX MATCH "generated:([ 0-9]+)" _ "${example}")
string(STRIP "${CMAKE_MATCH_1}" ids)
string(REPLACE " " "," ids "${ids}")
execute_process(COMMAND ${SSE_RUN} generate --model ${DIR} --tokens 72,101,108,108,111 --max-new 8
                OUTPUT_VARIABLE tool RESULT_VARIABLE rc ERROR_VARIABLE err)
string(STRIP "${tool}" tool)
if(NOT rc EQUAL 0 OR NOT tool STREQUAL ids)
  message(FATAL_ERROR "sse-run generate printed '${tool}' (${rc}: ${err}), the example '${ids}'")
endif()
message(STATUS "tiny_model and sse-run generate agree: ${ids}")
