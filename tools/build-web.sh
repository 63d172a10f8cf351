#!/usr/bin/env bash
# Builds the browser app into web/dist (served by mendd at /): first the TypeScript SDK it
# talks through (client-lib/typescript, types generated from proto/), then the app. Installs
# each package's dependencies from its committed lockfile (npm ci) when they are missing or
# older than the lockfile. Skips the build when web/dist is newer than every input (the dev and
# asan test runs both need the app; the second one finds it built).
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=web/dist/.built
inputs=(proto client-lib/typescript/src client-lib/typescript/scripts client-lib/typescript/package-lock.json
        client-lib/typescript/package.json client-lib/typescript/tsconfig.json
        client-lib/typescript/tsconfig.build.json web/src web/index.html web/package.json
        web/package-lock.json web/tsconfig.json web/vite.config.ts tools/build-web.sh)
if [ -f "$stamp" ] && [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "web: web/dist is up to date"
  exit 0
fi

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
touch "$stamp"
echo "web: built into web/dist"
