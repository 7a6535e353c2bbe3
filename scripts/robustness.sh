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
  echo "==> $1 ... took $((SECONDS - start)) s"
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
for target in npy_fuzzer safetensors_fuzzer sse_attention_fuzzer; do
  corpus="build-fuzz/corpus/${target%_fuzzer}"  # new inputs go here; the seeds stay untouched
  mkdir -p "$corpus"
  step "build-fuzz/fuzz/$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/$target-" "$corpus" "fuzz/corpus/${target%_fuzzer}"
done
