#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test through CTest.
#   tools/test.sh          dev preset (Debug, warnings as errors)
#   tools/test.sh --asan   asan preset (AddressSanitizer + UndefinedBehaviorSanitizer), then
#                          every libFuzzer target of tests/fuzz for MEND_FUZZ_SECONDS (default
#                          10) each (tools/fuzz.sh; MEND_FUZZ_SECONDS=0 skips it)
#   tools/test.sh --release
# Extra arguments after `--` go to ctest (e.g. `tools/test.sh -- -R engine`).
# Exits non-zero on any failure, and when any test reported itself skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=dev
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --asan) preset=asan ;;
    --release) preset=release ;;
    --dev) preset=dev ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

tools/deps.sh
# ccache (installed by deps.sh) keys on paths relative to the checkout, so rebuilds in another
# clone of the same code hit the cache.
export CCACHE_BASEDIR="$PWD"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
# A test whose tools are missing reports itself skipped (exit 77); deps.sh installed them all, so
# here a skip is a missing install step, and fails the run rather than pass unseen.
ctest_log=$(mktemp)
trap 'rm -f "$ctest_log"' EXIT
ctest --preset "$preset" "${ctest_args[@]}" | tee "$ctest_log"
if grep -q "The following tests did not run" "$ctest_log"; then
  echo "test.sh: some tests were skipped (listed above): tools/deps.sh should have installed" \
       "what they need" >&2
  exit 1
fi
# The dev and asan builds run each fuzz target's committed corpus as a CTest test (label
# `fuzz`); the asan run also fuzzes for a bounded time with libFuzzer (a small clang build).
if [ "$preset" = asan ] && [ "${MEND_FUZZ_SECONDS:-10}" != 0 ]; then
  MEND_FUZZ_SECONDS="${MEND_FUZZ_SECONDS:-10}" tools/fuzz.sh
fi
