#!/usr/bin/env bash
# Thread hand-offs per command: the server's context switches (voluntary and involuntary, summed
# over its threads from /proc) and its CPU per command over a measured mend-load run, for two
# mendd binaries A/B interleaved (e.g. main's and this branch's), memory and durable store.
#   tools/bench-hops.sh [--a MENDD] [--b MENDD] [--load MEND_LOAD] [--rounds N] [--rooms N]
#                       [--rate N] [--duration S] [--chunks-per-turn N] [--threads N]
#                       [--stores "memory sqlite"]
# --b alone measures one binary. Defaults: --b build/release/server/app/mendd (built when
# missing), --load build/release/tools/mend-load/mend-load, 3 rounds, 600 rooms at 500
# commands/s for 10 s with 10 shares per turn (imago-dialogue's beats and pauses pace each room:
# 400 rooms reached 470/s), mendd's default --threads. Prints one line per run: binary, store,
# context switches per command, us of server CPU per command, commands/s, p99 ms. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

a="" b="" load="" rounds=3 rooms=600 rate=500 duration=10 chunks=10 threads="" stores="memory sqlite"
while [ $# -gt 0 ]; do
  case "$1" in
    --a) a="$2"; shift ;;
    --b) b="$2"; shift ;;
    --load) load="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --chunks-per-turn) chunks="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --stores) stores="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-hops.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$b" ] || [ -z "$load" ]; then
  export CCACHE_BASEDIR="$PWD"
  cmake --preset release >/dev/null
  cmake --build --preset release -j 2 --target mendd mend-load >/dev/null
fi
b=${b:-build/release/server/app/mendd}
load=${load:-build/release/tools/mend-load/mend-load}

work=$(mktemp -d /tmp/mend-hops.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

source tools/bench-lib.sh
figures() {
  python3 -c 'import json,sys; r=json.load(sys.stdin); s=r["server_process"] or {}
print("%.2f ctx/cmd  %.1f us/cmd  %.0f cmd/s  p99 %.2f ms" % (s.get("context_switches_per_command", float("nan")), s.get("cpu_ms_per_1000_commands", float("nan")), r["commands_per_s"], r["latency_ms"]["p99"]))'
}

run() {  # binary label store
  local port; port=$(free_port)
  local data="$work/data-$RANDOM"
  local args=(--listen "127.0.0.1:$port" --data-dir "$data" --log-level warn
              --templates-dir server/templates --max-connections-per-ip 50000 --rooms-per-api-key 1000000)
  [ "$3" = memory ] && args+=(--store memory)
  [ -n "$threads" ] && args+=(--threads "$threads")
  "$1" "${args[@]}" >/dev/null 2>&1 & server=$!
  wait_port "$port"
  printf '%-8s %-7s ' "$2" "$3"
  "$load" --server "ws://127.0.0.1:$port" --server-pid "$server" --rooms "$rooms" --rate "$rate" \
      --chunks-per-turn "$chunks" --warmup 3 --duration "$duration" --seed 1 --json --quiet | figures
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  rm -rf "$data"
}

echo "# $rooms rooms, --rate $rate, $chunks shares per turn, ${duration} s windows, threads ${threads:-default}"
for r in $(seq "$rounds"); do
  for store in $stores; do
    [ -n "$a" ] && run "$a" A "$store"
    run "$b" B "$store"
  done
done
