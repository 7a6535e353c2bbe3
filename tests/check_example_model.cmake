# Runs a model example (EXAMPLE: examples/tiny_model or examples/spikingbrain_model, which
# write a model folder and print their greedy tokens for the prompt 72,101,108,108,111), then
# `sse-run generate` on that folder: both must print the same ids.
execute_process(COMMAND ${EXAMPLE} ${DIR} OUTPUT_VARIABLE example RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXAMPLE} failed (${rc}): ${example}")
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
message(STATUS "${EXAMPLE} and sse-run generate agree: ${ids}")
