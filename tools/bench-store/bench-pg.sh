#!/bin/bash
# One mend-load run against one mendd (docs/performance.md, "PostgreSQL"), on SQLite or on the
# throwaway PostgreSQL at 127.0.0.1:55432 (user mend, trust; started with pg_stat_statements):
# a fresh database per run; prints the store's counters, the old writer's statement count
# (pg_stat_statements) and mend-load's result. Leaves its files in /tmp/bench-store-LABEL.
# usage: bench-pg.sh LABEL MENDD postgres|sqlite PORT ROOMS RATE
#        (MEND_LOAD: the mend-load binary, default build/dev/tools/mend-load/mend-load)
set -u
LABEL=$1 MENDD=$2 STORE=$3 PORT=$4 ROOMS=$5 RATE=$6
PSQL="$(ls -d /usr/lib/postgresql/*/bin | tail -1)/psql -h 127.0.0.1 -p 55432 -U mend -tA"
LOAD=${MEND_LOAD:-build/dev/tools/mend-load/mend-load}
DIR=/tmp/bench-store-$LABEL; rm -rf $DIR; mkdir -p $DIR
DB=b_$LABEL
ARGS=(--listen 127.0.0.1:$PORT --data-dir $DIR --log-level warn --max-connections-per-ip 50000 --rooms-per-api-key 1000000)
if [ $STORE = postgres ]; then
  $PSQL postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
  $PSQL postgres -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
  ARGS+=(--store postgres --postgres-url "postgresql://mend@127.0.0.1:55432/$DB")
fi
$MENDD "${ARGS[@]}" > $DIR/mendd.log 2>&1 &
PID=$!
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/metrics && break; sleep 0.2; done
$LOAD --server ws://127.0.0.1:$PORT --quiet --warmup 3 --duration 15 --seed 1 --rooms $ROOMS --rate $RATE --server-pid $PID --json > $DIR/load.json 2>$DIR/load.err
curl -s http://127.0.0.1:$PORT/metrics | grep -E "^mend_store_(commits_total|appends_total|round_trips_total|largest_batch)" > $DIR/metrics.txt
kill $PID; wait $PID 2>/dev/null
if [ $STORE = postgres ]; then
  $PSQL postgres -c "SELECT sum(s.calls) FILTER (WHERE query NOT LIKE 'SELECT txid_current%'), sum(s.calls) FILTER (WHERE query ~* '^(BEGIN|COMMIT)') FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$DB' AND s.toplevel AND query ~* '^(BEGIN|COMMIT|SELECT txid_current|SELECT last_seq, destroyed FROM rooms WHERE room_id = \\\$1 FOR UPDATE|SELECT wrapped_key|INSERT|UPDATE|DELETE|WITH inserted|SELECT mend_|SELECT r.room_id, r.destroyed)'" > $DIR/pgss.txt
fi
echo "== $LABEL"; cat $DIR/metrics.txt; cat $DIR/pgss.txt 2>/dev/null
python3 -c "
import json,sys; d=json.load(open('$DIR/load.json')); print({k:d[k] for k in d if not isinstance(d[k],(dict,list))}); [print(k, d[k]) for k in d if isinstance(d[k],dict)]"
