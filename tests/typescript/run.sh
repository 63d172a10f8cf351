#!/usr/bin/env bash
# Runs the TypeScript SDK's (client-lib/typescript) steps for CTest:
#   run.sh setup            npm ci (when node_modules is missing or older than the lockfile), generate
#   run.sh typecheck        tsc --noEmit over the sources, tests and benchmark (strict)
#   run.sh vitest FILE...   vitest on the given test files
# Exits 77 (CTest: skipped) with a clear message when node or npm is missing (tools/deps.sh
# installs them).
set -euo pipefail
cd "$(dirname "$0")/../../client-lib/typescript"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "typescript SDK tests SKIPPED: node/npm not found (run tools/deps.sh)"
  exit 77
fi

step="${1:?usage: run.sh setup | vitest FILE...}"
shift
case "$step" in
  setup)
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund
    fi
    npm run --silent generate
    ;;
  typecheck)
    exec node_modules/.bin/tsc -p tsconfig.json --noEmit --incremental --tsBuildInfoFile node_modules/.cache/typecheck.tsbuildinfo
    ;;
  vitest)
    exec node_modules/.bin/vitest run "$@"
    ;;
  *)
    echo "run.sh: unknown step $step" >&2
    exit 2
    ;;
esac
