#!/usr/bin/env bash
# Where the durable store's latency goes: one mend-load run against mendd with the SQLite store,
# with the store's histograms (GET /metrics, mend_store_*_seconds) and every mendd thread's
# scheduler figures (/proc/PID/task/*/schedstat: CPU time, time runnable but waiting for a CPU,
# time slices) taken over the measured window only.
#   tools/bench-tail.sh [--b MENDD] [--load MEND_LOAD] [--rooms N] [--rate N] [--duration S]
#                       [--chunks-per-turn N] [--dir DIR] [--busy PERCENT] [-- MENDD_ARGS...]
# Defaults: the release build's binaries, 1,200 rooms at 2,000 commands/s for 10 s with 10 shares
# per turn (imago-dialogue's beats and pauses pace each room: 400 rooms reached 790/s, 1,100
# 1,970/s). --dir: where the data directory is made (default /tmp; /dev/shm for tmpfs).
# --busy: a process keeps one CPU busy PERCENT of every 10 ms during the run, the same contention
# for every binary compared (a shared machine's neighbours, reproducibly). Prints mend-load's
# figures, each histogram's p50/p99/p99.9 bucket bounds (ms) and count over the window, the
# store's counters' increments and one line per mendd thread. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

b=build/release/server/app/mendd load=build/release/tools/mend-load/mend-load
rooms=1200 rate=2000 duration=10 chunks=10 dir=/tmp busy=0 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --b) b="$2"; shift ;;
    --load) load="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --chunks-per-turn) chunks="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --busy) busy="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench-tail.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if ! [[ "$busy" =~ ^[0-9]+$ ]] || [ "$busy" -gt 100 ]; then
  echo "bench-tail.sh: --busy takes a percentage, 0 to 100" >&2; exit 2
fi
work=$(mktemp -d "$dir/mend-tail.XXXXXX")
server="" busy_pid=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source tools/bench-lib.sh

if [ "$busy" -gt 0 ]; then
  python3 -c '
import sys, time
share, period = int(sys.argv[1]) / 100, 0.010
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < share * period:
        pass
    time.sleep(period * (1 - share))' "$busy" &
  busy_pid=$!
fi

snapshot() {  # label: /metrics and the threads' schedstat into $work/label.*
  curl -s "http://127.0.0.1:$port/metrics" >"$work/$1.metrics"
  for t in /proc/"$server"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" "$(cat "$t/schedstat")"
  done >"$work/$1.sched"
}

port=$(free_port)
"$b" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn \
    --templates-dir server/templates --max-connections-per-ip 50000 --rooms-per-api-key 1000000 "${extra[@]}" >/dev/null 2>&1 &
server=$!
wait_port "$port"
warmup=3
"$load" --server "ws://127.0.0.1:$port" --server-pid "$server" --rooms "$rooms" --rate "$rate" \
    --chunks-per-turn "$chunks" --warmup "$warmup" --duration "$duration" --seed 1 --json --quiet \
    >"$work/load.json" &
loader=$!
# The measured window starts once every room is set up and the warm-up is over: mend-load
# prints nothing until the end, so wait for the commands to flow, then the warm-up.
until grep -q 'mend_store_appends_total [1-9]' <(curl -s "http://127.0.0.1:$port/metrics"); do
  sleep 0.2
done
sleep "$warmup"
snapshot start
sleep "$((duration - 1))"
snapshot end
wait "$loader"
uptime
python3 - "$work" <<'EOF'
import json, re, sys
work = sys.argv[1]
r = json.load(open(f"{work}/load.json"))
s = r["server_process"] or {}
print("mend-load: %.0f cmd/s  p50 %.2f  p99 %.2f  p99.9 %.2f ms  %.1f us CPU/cmd" % (
    r["commands_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
    r["latency_ms"].get("p99_9", float("nan")), s.get("cpu_ms_per_1000_commands", float("nan"))))

def parse(path):
    series = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        series[name] = float(value)
    return series

a, b = parse(f"{work}/start.metrics"), parse(f"{work}/end.metrics")
delta = {k: b[k] - a.get(k, 0.0) for k in b}
hists = sorted({k.split("_bucket")[0] for k in delta if k.startswith("mend_") and "_bucket{" in k})
for h in hists:
    buckets = sorted(((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), v)
                      for k, v in delta.items()
                      for m in [re.match(re.escape(h) + r'_bucket\{le="([^"]+)"\}', k)] if m))
    count = delta.get(h + "_count", 0)
    if count <= 0:
        print(f"{h:45s} (none)")
        continue
    def q(p):
        for le, c in buckets:
            if c >= p * count:
                return "%.3g" % (le * 1e3) if le != float("inf") else "inf"
    mean = delta.get(h + "_sum", 0) / count * 1e3
    print(f"{h:45s} n={count:7.0f} mean {mean:7.3f} ms  p50<={q(0.5)} p99<={q(0.99)} "
          f"p99.9<={q(0.999)} ms")
for k in sorted(delta):
    if k.startswith("mend_store_") and k.endswith("_total"):
        print(f"{k:45s} +{delta[k]:.0f}")

def sched(path):
    rows = {}
    for line in open(path):
        tid, comm, cpu, wait, slices = line.split()
        rows[tid] = (comm, int(cpu), int(wait), int(slices))
    return rows
s0, s1 = sched(f"{work}/start.sched"), sched(f"{work}/end.sched")
print("thread            cpu ms   runnable-wait ms   slices  wait/slice us")
for tid in s1:
    if tid not in s0:
        continue
    comm = s1[tid][0]
    cpu, wait, sl = (s1[tid][i] - s0[tid][i] for i in (1, 2, 3))
    if cpu == 0:
        continue
    per_slice = wait / 1e3 / max(sl, 1)
    print(f"{tid:>7} {comm:12s} {cpu/1e6:8.1f} {wait/1e6:12.1f} {sl:12d} {per_slice:10.1f}")
EOF
kill "$server"; wait "$server" 2>/dev/null || true; server=""
