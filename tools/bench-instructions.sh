#!/usr/bin/env bash
# User-space instructions per command of mendd (memory store, one shard), counted by callgrind:
# they vary far less than CPU time on a shared machine, so small cuts show (docs/performance.md).
#   tools/bench-instructions.sh [--build-dir DIR] [--rooms N] [--window S] [--preload LIB]
# mendd runs under valgrind --tool=callgrind with instrumentation off; mend-load plays the
# anchor's workload (speaker-listener, 20 shares per turn, closed loop) on N rooms (default 20);
# after a warm-up the window (default 12 s) is counted, and the commands answered in it are
# read from /metrics. Prints instructions per command and keeps the profile (callgrind_annotate
# --inclusive=yes FILE). --preload: e.g. another malloc, LD_PRELOADed into mendd. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/release rooms=20 window=12 preload=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) bin="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --window) window="$2"; shift ;;
    --preload) preload="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-instructions.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/mend-instructions.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
source tools/bench-lib.sh
port=$(free_port)
env ${preload:+LD_PRELOAD="$preload"} valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$work/callgrind.out" "$bin/server/app/mendd" --listen "127.0.0.1:$port" \
    --data-dir "$work/data" --log-level warn --templates-dir server/templates \
    --max-connections-per-ip 50000 \
    --rooms-per-api-key 1000000 --store memory --threads 1 >/dev/null 2>"$work/valgrind.log" &
mendd=$!; pids+=("$mendd")
wait_port "$port" 60  # valgrind starts slowly
"$bin/tools/mend-load/mend-load" --server "ws://127.0.0.1:$port" --rooms "$rooms" --think-ms 0 \
    --template speaker-listener --chunks-per-turn 20 --warmup 5 --duration $((window + 13)) \
    --seed 1 --json --quiet >/dev/null &
pids+=($!)
commands() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^mend_commands_total/ {s += $2} END {print s}'; }
sleep 10
before=$(commands); callgrind_control -i on "$mendd" >/dev/null
sleep "$window"
callgrind_control -i off "$mendd" >/dev/null; after=$(commands)
wait "${pids[-1]}" || true
kill "$mendd"; wait "$mendd" 2>/dev/null || true
total=$(callgrind_annotate "$work/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
awk -v t="$total" -v c=$((after - before)) -v f="$work/callgrind.out" 'BEGIN {
  printf "%d instructions in %d commands: %.1f k instructions per command (profile: %s)\n", t, c, t / c / 1000, f }'
