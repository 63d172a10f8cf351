#!/usr/bin/env bash
# Server CPU per command of mendd against a bare Node `ws` relay's CPU per relayed message
# (DESIGN.md section 10), measured by the same client (mend-load) in one run, interleaved.
#   tools/bench-anchor.sh [--rounds N] [--rooms N] [--pairs N] [--chunks-per-turn N] [--duration S]
#                         [--store memory|sqlite] [--build-dir DIR]
# Each round has four runs, two pairs of like with like:
# - mendd paced: --rooms rooms of speaker-listener as shipped; each room is paced by the
#   reflection beat (2 s), about 1.5 commands/s per room, so every command pays a wake-up;
# - the relay rate-matched: as many pairs as mendd had rooms, paced open loop to the commands/s
#   mendd reached in that run (a wake-up per message, like mendd);
# - mendd saturated: --pairs rooms, closed loop, with a bench-only copy of speaker-listener
#   whose reflection beat is 1 ms (`--templates-dir`), so nothing paces the rooms but the server:
#   epoll returns many ready sockets per wake-up;
# - the relay saturated: --pairs pairs, closed loop;
# - the relay rate-matched to mendd saturated: --pairs pairs, paced open loop to the commands/s
#   mendd saturated reached (the 1 ms beat and the round trips hold mendd's closed loop to a
#   fraction of the relay's rate, so each of its commands pays more wake-ups than a saturated
#   relay's message: this run compares them at one rate);
# - the acknowledging relay at that rate: the same, with each message also sent back to its
#   sender (relay.mjs --ack, mend-load --relay-acks): one frame in and two out, as mendd answers
#   a command with the sender's result and the partner's event.
# It prints the ratios of the medians: mendd saturated over the relay saturated, over the relay
# at its rate and over the acknowledging relay at that rate, and mendd paced over the relay
# rate-matched (each "mendd's CPU per command over the relay's CPU per message"). Builds the
# release mendd and mend-load (or takes DIR/server/app/mendd and DIR/tools/mend-load/mend-load
# as they are with --build-dir, e.g. a copy of an older build for an A/B run), installs the
# relay's package (tools/bench-relay) when missing, and prints one line per run. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 rooms=300 pairs=20 chunks=20 duration=10 store=memory bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --pairs) pairs="$2"; shift ;;
    --chunks-per-turn) chunks="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --store) store="$2"; shift ;;
    --build-dir) bin="$2"; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "bench-anchor.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$bin" ]; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target mendd mend-load >/dev/null
  bin=build/release
fi
(cd tools/bench-relay && { [ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund >/dev/null; })

work=$(mktemp -d /tmp/mend-anchor.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

source tools/bench-lib.sh
us_per_op() { node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8")); const s=r.server_process; console.log(s?(s.cpu_ms_per_1000_commands).toFixed(1):"nan", r.commands_per_s.toFixed(0), r.latency_ms.p99.toFixed(2))'; }

# The bench-only templates: speaker-listener with a reflection beat of 1 ms (0 means "the
# default"), for mendd's saturated runs.
mkdir -p "$work/unpaced"
cp server/templates/*.textpb "$work/unpaced/"
printf '\ntiming { reflection_beat_ms: 1 }\n' >> "$work/unpaced/speaker-listener.textpb"

# mendd_run NAME ROOMS [TEMPLATES_DIR]
mendd_run() {
  local port; port=$(free_port)
  local args=(--listen "127.0.0.1:$port" --data-dir "$work/data-$1" --log-level warn
              --templates-dir "${3:-server/templates}"
              --max-connections-per-ip 50000 --rooms-per-api-key 1000000)
  [ "$store" = memory ] && args+=(--store memory)
  # Unpaced rooms also lift the per-participant rate limit (20 commands/s by default).
  [ -n "${3:-}" ] && args+=(--commands-per-second 1000000 --command-burst 1000000)
  "$bin/server/app/mendd" "${args[@]}" >/dev/null 2>&1 & pids+=($!)
  wait_port "$port"
  "$bin/tools/mend-load/mend-load" --server "ws://127.0.0.1:$port" --rooms "$2" --think-ms 0 \
      --template speaker-listener --chunks-per-turn "$chunks" --warmup 2 --duration "$duration" \
      --seed 1 --json --quiet | us_per_op
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

# relay_run PAIRS [RATE [ack]]: closed loop, or paced to RATE messages/s; "ack": each message is
# also sent back to its sender.
relay_run() {
  local port; port=$(free_port)
  node tools/bench-relay/relay.mjs "$port" ${3:+--ack} >/dev/null & pids+=($!)
  wait_port "$port"
  "$bin/tools/mend-load/mend-load" --server "ws://127.0.0.1:$port" --relay ${3:+--relay-acks} \
      --rooms "$1" ${2:+--rate "$2"} --warmup 2 --duration "$duration" --json --quiet | us_per_op
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

echo "# us of server CPU per op, ops/s, p99 ms; --store $store, speaker-listener, $chunks shares per turn"
paced_all=() matched_all=() sat_all=() relay_all=() equal_all=() acked_all=()
for r in $(seq "$rounds"); do
  m=$(mendd_run "paced-$r" "$rooms"); echo "mendd paced, $rooms rooms     round $r: $m"
  paced_all+=("${m%% *}")
  rate=$(echo "$m" | awk '{print $2}')
  k=$(relay_run "$rooms" "$rate"); echo "relay at $rate/s, $rooms pairs round $r: $k"
  matched_all+=("${k%% *}")
  s=$(mendd_run "saturated-$r" "$pairs" "$work/unpaced")
  echo "mendd saturated, $pairs rooms  round $r: $s"; sat_all+=("${s%% *}")
  n=$(relay_run "$pairs"); echo "relay saturated, $pairs pairs  round $r: $n"; relay_all+=("${n%% *}")
  sat_rate=$(echo "$s" | awk '{print $2}')
  e=$(relay_run "$pairs" "$sat_rate"); echo "relay at $sat_rate/s, $pairs pairs  round $r: $e"
  equal_all+=("${e%% *}")
  a=$(relay_run "$pairs" "$sat_rate" ack)
  echo "relay acking at $sat_rate/s, $pairs pairs round $r: $a"; acked_all+=("${a%% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p=$(median "${paced_all[@]}") k=$(median "${matched_all[@]}")
s=$(median "${sat_all[@]}") n=$(median "${relay_all[@]}") e=$(median "${equal_all[@]}")
a=$(median "${acked_all[@]}")
awk -v p="$p" -v k="$k" -v s="$s" -v n="$n" -v e="$e" -v a="$a" 'BEGIN {
  printf "median, saturated: mendd %.1f us per command, relay %.1f us per message, ratio %.2fx\n", s, n, (n > 0 ? s / n : 0)
  printf "median, saturated, rate-matched: mendd %.1f us per command, relay at its rate %.1f us per message, ratio %.2fx\n", s, e, (e > 0 ? s / e : 0)
  printf "median, saturated, rate-matched: mendd %.1f us per command, acknowledging relay at its rate %.1f us per message, ratio %.2fx\n", s, a, (a > 0 ? s / a : 0)
  printf "median, paced: mendd %.1f us per command, relay rate-matched %.1f us per message, ratio %.2fx\n", p, k, (k > 0 ? p / k : 0) }'
