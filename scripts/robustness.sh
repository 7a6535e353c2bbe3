#!/usr/bin/env bash
# The robustness checks, as CI runs them after the README's test command (needs clang and
# libclang-rt-14-dev): the unit tests under ASan + UBSan, the concurrency tests under TSan, and
# every libFuzzer target for FUZZ_SECONDS (default 60) from its seed corpus in fuzz/corpus/.
# Each step prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

step() {
  local start=$SECONDS
  echo "==> $*"
  "$@"
  echo "==> took $((SECONDS - start)) s: $*"
}

# halt_on_error: the first report fails the test; UBSan prints the stack of each report.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

step cmake --preset asan
step cmake --build --preset asan
step ctest --preset asan

step cmake --preset tsan
step cmake --build --preset tsan
step ctest --preset tsan

step cmake --preset fuzz
step cmake --build --preset fuzz
# fuzz NAME: build-fuzz/fuzz/NAME_fuzzer for FUZZ_SECONDS from fuzz/corpus/NAME (new inputs go to
# build-fuzz/corpus/NAME, so the seeds stay as they are); the log's tail, all of it on a failure.
fuzz() {
  local name=$1 log="build-fuzz/$1.log" dict=()
  mkdir -p "build-fuzz/corpus/$name"
  if [[ -f "fuzz/$name.dict" ]]; then dict=(-dict="fuzz/$name.dict"); fi
  if ! "build-fuzz/fuzz/${name}_fuzzer" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/$name-" \
      "build-fuzz/corpus/$name" "fuzz/corpus/$name" > "$log" 2>&1; then
    tail -n 60 "$log"
    return 1
  fi
  tail -n 12 "$log"
}
# side_by_side A B: fuzz A and B at once (one core each); fails if either fails.
side_by_side() {
  local status=0
  fuzz "$1" &
  local first=$!
  fuzz "$2" &
  local second=$!
  wait "$first" || status=1
  wait "$second" || status=1
  return "$status"
}
step side_by_side npy safetensors
step side_by_side sse_attention config
