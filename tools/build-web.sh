#!/usr/bin/env bash
# Builds the browser app into web/dist (served by mendd at /): first the TypeScript SDK it
# talks through (client-lib/typescript, types generated from proto/), then the app. Installs
# each package's dependencies from its committed lockfile (npm ci) when they are missing or
# older than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

install_if_stale() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

install_if_stale client-lib/typescript
(cd client-lib/typescript && npm run --silent build)
install_if_stale web
(cd web && npm run --silent build)
echo "web: built into web/dist"
