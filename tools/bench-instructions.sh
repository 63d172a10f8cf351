#!/usr/bin/env bash
# User-space instructions per command of mendd (memory store, one shard), counted by callgrind:
# they vary far less than CPU time on a shared machine, so small cuts show (docs/performance.md).
#   tools/bench-instructions.sh [--build-dir DIR] [--rooms N] [--window S] [--preload LIB]
# mendd runs under valgrind --tool=callgrind with instrumentation off; mend-load plays the
# anchor's workload (speaker-listener, 20 shares per turn, closed loop) on N rooms (default 20);
# after a warm-up the window (default 12 s) is counted. The commands are the profile's own
# calls of RoomCore::on_command (the commands /metrics counted between two reads around the
# window are printed too: they do not line up with it exactly). Prints instructions per command
# and keeps the profile (callgrind_annotate --inclusive=yes FILE). --preload: e.g. another
# malloc, LD_PRELOADed into mendd. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/release rooms=20 window=12 preload=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) bin="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --window) window="$2"; shift ;;
    --preload) preload="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
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
# Names are compressed in the profile: "fn=(id) name" defines an id, "cfn=(id)" names a callee
# again, and its "calls=N ..." line follows.
calls=$(awk 'function id_of(line) { sub(/^c?fn=\(/, "", line); sub(/\).*/, "", line); return line }
  /^c?fn=\(/ { id = id_of($0); if (index($0, "RoomCore::on_command(")) target[id] = 1 }
  /^cfn=/ { callee = id_of($0); next }
  /^calls=/ { if (callee in target) n += substr($1, 7); callee = ""; next }
  END { print n + 0 }' "$work/callgrind.out")
awk -v t="$total" -v c="$calls" -v m=$((after - before)) -v f="$work/callgrind.out" 'BEGIN {
  printf "%d instructions in %d commands (/metrics: %d): %.1f k instructions per command (profile: %s)\n",
         t, c, m, t / c / 1000, f }'
