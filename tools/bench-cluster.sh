#!/usr/bin/env bash
# mend-load through HAProxy (docs/haproxy.cfg) against 1, 2 and 3 mendd nodes on one throwaway
# PostgreSQL, and the same rate on one mendd with SQLite (also behind HAProxy, so that only the
# store differs); one table row per setup (docs/performance.md, "Several nodes").
#   tools/bench-cluster.sh [--build-dir DIR] [--rate CMDS_PER_S] [--rooms N] [--duration S]
#                          [--warmup S] [--nodes "1 2 3"] [--template NAME] [--no-sqlite]
# --build-dir (default build/release) holds server/app/mendd and tools/mend-load/mend-load; build
# them first (cmake --build --preset release --target mendd mend-load). Each setup gets a fresh
# database; PostgreSQL keeps its defaults (fsync and synchronous_commit on) and runs as nobody
# when this runs as root. Loopback only. Files are removed at the end (--keep keeps them).
# Columns: commands/s and p50/p99 command-to-event latency (mend-load's measured window),
# server CPU per command (user + system of every mendd over the window, summed, divided by the
# window's commands), PostgreSQL commits per second (pg_stat_database.xact_commit delta of the
# database: group commits, lease renewals, reads), appends per commit (the nodes'
# mend_store_appends_total / mend_store_commits_total deltas).
#
# Failover mode (--failover ROUNDS; [--lease-ms MS] passes mendd's --lease-ms, default its own):
# each round starts 3 nodes on a fresh database behind HAProxy, runs mend-load through it, and
# after the warm-up plus 2 s sends SIGKILL to the node holding the most room leases. From
# PostgreSQL afterwards: per room that node held, the first event stored after the kill (its
# at_ms, the deciding node's clock: the same machine's) is the first command accepted on the
# new owner (or a timer's event). One row per round: that time for the first room and for the
# last room back (which also waits for that room's next command: mend-load paces each room),
# mend-load's errors and integrity; then the median and max over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release rate=200 rooms=200 duration=15 warmup=3 node_counts="1 2 3" template=""
sqlite=1 keep=0 failover=0 lease_ms=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --rooms) rooms="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --nodes) node_counts="$2"; shift ;;
    --template) template="$2"; shift ;;
    --no-sqlite) sqlite=0 ;;
    --keep) keep=1 ;;
    --failover) failover="$2"; shift ;;
    --lease-ms) lease_ms="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench-cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

mendd="$build/server/app/mendd"
load="$build/tools/mend-load/mend-load"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
for f in "$mendd" "$load" "$pgbin/initdb" "$pgbin/postgres" "$pgbin/psql" /usr/sbin/haproxy; do
  [ -x "$f" ] || { echo "bench-cluster.sh: $f is missing (build it, or tools/deps.sh)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "bench-cluster.sh: node is missing (tools/deps.sh)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # HAProxy sizes its connection limit by it

work=$(mktemp -d /tmp/mend-bench-cluster.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

source tools/bench-lib.sh
# GET $2 on 127.0.0.1:$1; prints the body, fails unless 200.
http_get() (  # a subshell: a refused connection fails the function, not the script
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'GET %s HTTP/1.0\r\nHost: mend\r\n\r\n' "$2" >&3
  response=$(cat <&3)
  case "$response" in "HTTP/1."?" 200"*) printf '%s\n' "${response#*$'\r\n\r\n'}" ;; *) exit 1 ;; esac
)
wait_http() { for _ in $(seq 300); do http_get "$1" "$2" >/dev/null 2>&1 && return 0; sleep 0.1; done
              echo "bench-cluster.sh: 127.0.0.1:$1$2 did not answer" >&2; return 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; else "$@"; fi; }

# PostgreSQL, once for every setup.
pgport=$(free_port)
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$work/pg"
as_owner "$pgbin/initdb" -D "$work/pg/data" -U mend --auth=trust -E UTF8 --locale=C >/dev/null
as_owner "$pgbin/postgres" -D "$work/pg/data" -p "$pgport" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c max_connections=100 >"$work/pg/log" 2>&1 & pids+=($!)
psql() { PGOPTIONS="-c client_min_messages=warning" "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U mend -tAq "$@"; }
for _ in $(seq 300); do psql postgres -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done

# CPU seconds (user + system) of the given processes, summed.
cpu_seconds() {
  local ticks=0 pid fields
  for pid in "$@"; do
    read -ra fields < <(sed 's/.*) //' "/proc/$pid/stat")
    ticks=$((ticks + fields[11] + fields[12]))  # utime, stime (fields 14 and 15 of stat)
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}
# A counter summed over the nodes' /metrics (ports given).
metric_sum() {
  local name=$1 sum=0 port value; shift
  for port in "$@"; do
    value=$(http_get "$port" /metrics | awk -v n="$name" '$1 == n { print $2 }')
    sum=$((sum + ${value:-0}))
  done
  echo "$sum"
}

# docs/haproxy.cfg for the nodes on the given ports: loopback addresses, servers beyond them
# removed, no syslog, user switch, daemon or fixed connection limit.
haproxy_config() {
  local hport=$1; shift
  local ports=("$@") sed_args=(-e "s/bind [^ ]*:[0-9]*/bind 127.0.0.1:$hport/"
                                -E -e '/^\s*(log|user|group|chroot|daemon|maxconn)\b/d')
  for k in 1 2 3; do
    if [ "$k" -le "${#ports[@]}" ]; then
      sed_args+=(-e "s/server node$k [^ ]*:[0-9]*/server node$k 127.0.0.1:${ports[$((k - 1))]} source 127.0.0.2/")
    else
      sed_args+=(-e "/server node$k /d")
    fi
  done
  sed "${sed_args[@]}" docs/haproxy.cfg
}

# Starts $2 nodes on store $1 (postgres|sqlite; a fresh database $3) in directory $4 and HAProxy
# before them. Sets db, dir, ports, node_pids, hport and haproxy_pid for the caller.
start_cluster() {
  local store=$1 count=$2
  db=$3 dir=$4 ports=() node_pids=()
  mkdir -p "$dir"
  # HAProxy reaches the nodes from 127.0.0.2 with PROXY headers (send-proxy-v2); this script's
  # own readiness and metrics requests come from 127.0.0.1 without one.
  local common=(--templates-dir server/templates --log-level warn --proxy-protocol-from 127.0.0.2
                --max-connections-per-ip 1000000
                --rooms-per-api-key 1000000 --token-secret-file "$dir/token-secret.bin"
                --master-key-file "$dir/master.key")
  if [ "$store" = postgres ]; then
    psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    common+=(--store postgres --postgres-url "host=127.0.0.1 port=$pgport user=mend dbname=$db")
    [ -n "$lease_ms" ] && common+=(--lease-ms "$lease_ms")
  fi
  local i
  for i in $(seq "$count"); do
    ports+=("$(free_port)")
    mkdir -p "$dir/node$i"
    local args=(--listen "127.0.0.1:${ports[-1]}" --data-dir "$dir/node$i" "${common[@]}")
    [ "$store" = postgres ] && args+=(--node-id "node-$i")
    "$mendd" "${args[@]}" >"$dir/node$i.log" 2>&1 & pids+=($!) node_pids+=($!)
    wait_http "${ports[-1]}" /readyz  # the first creates the shared key files
  done
  hport=$(free_port)
  haproxy_config "$hport" "${ports[@]}" >"$dir/haproxy.cfg"
  /usr/sbin/haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 & pids+=($!)
  haproxy_pid=$!
  wait_http "$hport" /v1/templates
}

stop_cluster() {
  kill "$haproxy_pid" "${node_pids[@]}" 2>/dev/null || true
  for i in "$haproxy_pid" "${node_pids[@]}"; do wait "$i" 2>/dev/null || true; done
}

# mend-load through HAProxy in the background, its JSON into $dir/load.json; sets load_pid.
start_load() {
  local load_args=(--server "ws://127.0.0.1:$hport" --rate "$rate" --rooms "$rooms"
                   --warmup "$warmup" --duration "$duration" --seed 1 --json --quiet)
  [ -n "$template" ] && load_args+=(--template "$template")
  "$load" "${load_args[@]}" >"$dir/load.json" 2>"$dir/load.err" &
  load_pid=$!
}

# One setup: $1 = label, $2 = store (postgres|sqlite), $3 = nodes.
run_setup() {
  local label=$1 store=$2 count=$3 db dir ports node_pids hport haproxy_pid load_pid
  start_cluster "$store" "$count" "bench_${2}_$3" "$work/$2-$3"
  start_load
  # The window: from the end of mend-load's warm-up to the end of its measured seconds.
  sleep "$warmup"
  # "cpu xact_commit commits appends" now (xact_commit 0 on SQLite).
  sample() {
    local xact=0
    [ "$store" = postgres ] && xact=$(psql postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
    echo "$(cpu_seconds "${node_pids[@]}") $xact $(metric_sum mend_store_commits_total "${ports[@]}") $(metric_sum mend_store_appends_total "${ports[@]}")"
  }
  local cpu0 xact0 commits0 appends0 cpu1 xact1 commits1 appends1
  read -r cpu0 xact0 commits0 appends0 < <(sample)
  sleep "$duration"
  read -r cpu1 xact1 commits1 appends1 < <(sample)
  wait "$load_pid" || true

  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const [label, cpu, xact, commits, appends, seconds] = process.argv.slice(2);
    const us = r.commands > 0 ? (Number(cpu) * 1e6 / r.commands).toFixed(0) + " us" : "-";
    const pg = xact === "" ? "-" : (Number(xact) / Number(seconds)).toFixed(1);
    const per = Number(commits) > 0 ? (Number(appends) / Number(commits)).toFixed(2) : "-";
    console.log(`| ${label} | ${r.commands_per_s.toFixed(1)} | ${r.latency_ms.p50.toFixed(2)} | ` +
                `${r.latency_ms.p99.toFixed(2)} | ${us} | ${pg} | ${per} | ${r.errors} |`);
  ' "$dir/load.json" "$label" "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" \
    "$([ "$store" = postgres ] && echo $((xact1 - xact0)) || true)" $((commits1 - commits0)) \
    $((appends1 - appends0)) "$duration" || { echo "| $label | mend-load failed: see $dir/load.err |"; keep=1; }
  stop_cluster
}

# One failover round ($1): prints its row, and its two times to $work/failover.times.
run_failover() {
  local round=$1 db dir ports node_pids hport haproxy_pid load_pid
  start_cluster postgres 3 "bench_failover_$1" "$work/failover-$1"
  start_load
  sleep "$((warmup + 2))"
  # The node holding the most live leases, and its rooms.
  local victim
  victim=$(psql "$db" -c "SELECT node FROM leases WHERE expires_at > clock_timestamp()
                           GROUP BY node ORDER BY count(*) DESC, node LIMIT 1")
  [ -n "$victim" ] || { echo "| $round | no node held a lease: see $dir |"; keep=1; stop_cluster; return; }
  psql "$db" -c "CREATE TABLE victim_rooms AS SELECT room_id FROM leases
                 WHERE node = '$victim' AND expires_at > clock_timestamp()"
  local killed_at
  killed_at=$(date +%s%3N)
  local victim_pid=${node_pids[$((${victim#node-} - 1))]}
  kill -KILL "$victim_pid"
  wait "$victim_pid" 2>/dev/null || true  # reaped here, without the shell's "Killed" line
  wait "$load_pid" || true
  # Per room of the victim: ms from the kill to its first event stored after it.
  local times
  times=$(psql "$db" -F ' ' -c "SELECT count(*), min(back), max(back) FROM (
            SELECT min(e.at_ms) - $killed_at AS back FROM events e JOIN victim_rooms v USING (room_id)
            WHERE e.at_ms > $killed_at GROUP BY e.room_id) t")
  local rooms_back first last
  read -r rooms_back first last <<<"$times"
  local held; held=$(psql "$db" -c "SELECT count(*) FROM victim_rooms")
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const [round, victim, held, back, first, last] = process.argv.slice(2);
    const i = r.integrity || {};
    console.log(`| ${round} | ${victim} | ${back} of ${held} | ${first} | ${last} | ${r.errors} | ` +
                `${i.missing ?? "-"} / ${i.duplicates ?? "-"} / ${i.gaps ?? "-"} |`);
  ' "$dir/load.json" "$round" "$victim" "$held" "$rooms_back" "${first:--}" "${last:--}" \
    || { echo "| $round | mend-load failed: see $dir/load.err |"; keep=1; }
  [ -n "$first" ] && echo "$first $last" >>"$work/failover.times"
  stop_cluster
}

if [ "$failover" -gt 0 ]; then
  echo "# failover: $failover rounds; 3 nodes, lease ${lease_ms:-5000} ms; mend-load --rate $rate --rooms $rooms${template:+ --template $template}, SIGKILL at $((warmup + 2)) s of $((warmup + duration)) s; $(nproc) cores; $build"
  echo "| round | killed | its rooms back | first accepted after SIGKILL, ms | last room back, ms | errors | missing / duplicates / gaps |"
  echo "|---|---|---|---|---|---|---|"
  for r in $(seq "$failover"); do run_failover "$r"; done
  [ -s "$work/failover.times" ] && node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")
      .map((line) => line.split(" ").map(Number));
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1;
                             return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
    const first = rows.map((r) => r[0]), last = rows.map((r) => r[1]);
    console.log(`first accepted after SIGKILL: median ${median(first)} ms, max ${Math.max(...first)} ms; ` +
                `last room back: median ${median(last)} ms, max ${Math.max(...last)} ms (${rows.length} rounds)`);
  ' "$work/failover.times"
  exit 0
fi

echo "# mend-load --rate $rate --rooms $rooms${template:+ --template $template}, warm-up $warmup s, measured $duration s; $(nproc) cores; $build"
echo "| setup | commands/s | p50 ms | p99 ms | server CPU per command | PostgreSQL commits/s | appends per commit | errors |"
echo "|---|---|---|---|---|---|---|---|"
for n in $node_counts; do
  run_setup "$n node$([ "$n" -gt 1 ] && echo s), PostgreSQL" postgres "$n"
done
[ "$sqlite" = 1 ] && run_setup "1 node, SQLite" sqlite 1
exit 0
