#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with the `fuzz` preset (clang 14, ASan + UBSan,
# only the code the targets drive) and runs each for a bounded time from its committed corpus.
#   tools/fuzz.sh                          every target, MEND_FUZZ_SECONDS (default 30) each
#   tools/fuzz.sh fuzz_engine [FLAGS...]   one target; FLAGS go to libFuzzer, e.g.
#                                          -max_total_time=3600 -jobs=1
# New inputs go to build/fuzz/corpus/<target> (the committed corpus is only read); a crash is
# written to build/fuzz/crashes/<target>-crash-<sha1>. Prints executions per target and exits
# non-zero when any target failed. The fuzzers run with `nice -n 10`.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(fuzz_engine fuzz_template fuzz_create_room fuzz_token fuzz_http_request fuzz_tls fuzz_proxy_header)
seconds="${MEND_FUZZ_SECONDS:-30}"
flags=()
if [ $# -gt 0 ]; then
  targets=("$1")
  shift
  flags=("$@")
fi

export CCACHE_BASEDIR="$PWD"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"

mkdir -p build/fuzz/crashes
status=0
total=0
for target in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$target"
  log="build/fuzz/$target.log"
  run_flags=("-max_total_time=$seconds" "${flags[@]}")
  if nice -n 10 "build/fuzz/tests/fuzz/$target" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="build/fuzz/crashes/$target-" "${run_flags[@]}" \
       "build/fuzz/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -n 40 "$log" >&2
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz: $target: ${runs:-0} executions, $result (log: $log)"
  total=$((total + ${runs:-0}))
done
echo "fuzz: $total executions in total"
exit "$status"
