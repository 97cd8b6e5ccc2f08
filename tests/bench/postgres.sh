#!/usr/bin/env bash
# Benchmarks of the Postgres connectors (issue 8), each next to its baseline in the same run
# on the same machine:
#
#   source: PostgresSource (incrementing, binary COPY) reading ROWS rows of
#           (bigint, text(50), numeric(12,2), timestamptz) into the embedded log, until the
#           committed offset covers the last row  vs  psql \copy (SELECT ...) TO file
#   sink:   PostgresSink (insert, binary COPY) writing those ROWS records from the log into an
#           empty table of the same columns, until all are in  vs  psql \copy t FROM file
#   cdc:    PostgresCdcSource catching up on CDC_CHANGES inserts made while it was stopped
#           (changes/s until the committed offset reaches the last one), then the lag from
#           commit (source.ts_ms) to the record's timestamp in the log (set as it is appended)
#           at RATE changes/s (pgbench, 20 rows per transaction), p50/p99/max.
#
#   tests/bench/postgres.sh [ROWS] [CDC_CHANGES] [RATE] [SECONDS]   (defaults 1000000 500000 10000 20)
#
# With PERF=DIR, the source and sink runs are profiled (perf record -g, attached to the
# worker) into DIR/source.perf.data and DIR/sink.perf.data.
#
# Needs PostgreSQL with wal_level=logical (tests/setup.sh), kcat, python3, and a release
# build (built if missing; FERRY_BIN=path benchmarks that binary). DATABASE_URL as for the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000000}
cdc_changes=${2:-500000}
rate=${3:-10000}
seconds=${4:-20}
db=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
ferry=${FERRY_BIN:-}
if [ -z "$ferry" ]; then
  cargo build --release -q -p ferry-runtime
  ferry="${CARGO_TARGET_DIR:-target}/release/ferry"
fi
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)

work=$(mktemp -d /tmp/ferry-pg-bench.XXXXXX)
chmod 777 "$work"
schema=ferry_bench_$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  psql "$db" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${schema}_slot'" >/dev/null 2>&1 || true
  psql "$db" -qAtc "DROP PUBLICATION IF EXISTS ${schema}_pub; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
q() { psql "$db" -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }
# profile PID NAME: perf record attached to PID while it runs (PERF=DIR).
profile() { [ -n "${PERF:-}" ] || return 0; mkdir -p "$PERF"; perf record -F 499 -g -p "$1" -o "$PERF/$2.perf.data" 2>/dev/null & perf_pid=$!; pids+=("$perf_pid"); }
unprofile() { [ -n "${PERF:-}" ] || return 0; kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
jdbc="jdbc:postgresql://$(echo "$db" | sed -E 's#^postgres(ql)?://([^@]+@)?##')"
user=$(echo "$db" | sed -nE 's#^postgres(ql)?://([^@:]+).*@.*#\2#p'); user=${user:-postgres}
jdbc="$jdbc?user=$user"

echo "== setup: $rows rows of (bigint, text(50), numeric(12,2), timestamptz)"
q "CREATE SCHEMA $schema"
q "CREATE TABLE $schema.src (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2) NOT NULL, at timestamptz NOT NULL)"
q "INSERT INTO $schema.src SELECT i, rpad('name-' || i, 50, 'x'), (i % 100000) / 100.0, timestamptz '2024-01-01' + i * interval '1 millisecond' FROM generate_series(1, $rows) i"
q "VACUUM ANALYZE $schema.src"
q "CREATE TABLE $schema.copy_in (LIKE $schema.src)"
q "CREATE TABLE $schema.sink (LIKE $schema.src)"

echo "== source: psql \\copy (SELECT ...) TO file"
t0=$(now); psql "$db" -qc "\\copy (SELECT id, name, amount, at FROM $schema.src ORDER BY id) TO '$work/rows.txt'"; t1=$(now)
copy_out=$(echo "$t1 - $t0" | bc -l)

port=$(free_port)
cat > "$work/worker.yaml" <<YAML
data.dir: $work/data
key.converter: org.apache.kafka.connect.storage.StringConverter
value.converter: org.apache.kafka.connect.json.JsonConverter
offset.flush.interval.ms: 200
listeners: http://127.0.0.1:$port
YAML
cat > "$work/source.yaml" <<YAML
name: bench-src
connector.class: PostgresSource
connection.url: $jdbc
mode: incrementing
incrementing.column.name: id
table.whitelist: $schema.src
topic.prefix: bench-
poll.interval.ms: 1000
batch.max.rows: 5000
YAML
echo "== source: ferry PostgresSource → embedded log (JsonConverter with schemas)"
t0=$(now)
FERRY_LOG=warn "$ferry" standalone "$work/worker.yaml" "$work/source.yaml" 2> "$work/source.log" & pid=$!; pids+=("$pid")
profile "$pid" source
until curl -sf "http://127.0.0.1:$port/connectors/bench-src/offsets" | grep -q "\"incrementing\":$rows"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/source.log"; exit 1; }
  sleep 0.05
done
t1=$(now)
ferry_src=$(echo "$t1 - $t0" | bc -l)
unprofile
kill -TERM "$pid"; wait "$pid" || true

echo "== source: ferry PostgresSource → embedded log (JsonConverter without schemas)"
sed -e 's/^name: bench-src/name: bench-src-plain/' -e 's/^topic.prefix: bench-/topic.prefix: plain-/' "$work/source.yaml" > "$work/source-plain.yaml"
printf 'value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: false\n' >> "$work/source-plain.yaml"
t0=$(now)
FERRY_LOG=warn "$ferry" standalone "$work/worker.yaml" "$work/source-plain.yaml" 2> "$work/source-plain.log" & pid=$!; pids+=("$pid")
until curl -sf "http://127.0.0.1:$port/connectors/bench-src-plain/offsets" | grep -q "\"incrementing\":$rows"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/source-plain.log"; exit 1; }
  sleep 0.05
done
t1=$(now)
ferry_src_plain=$(echo "$t1 - $t0" | bc -l)
kill -TERM "$pid"; wait "$pid" || true

echo "== sink: psql \\copy t FROM file"
t0=$(now); psql "$db" -qc "\\copy $schema.copy_in FROM '$work/rows.txt'"; t1=$(now)
copy_in=$(echo "$t1 - $t0" | bc -l)

cat > "$work/sink.yaml" <<YAML
name: bench-sink
connector.class: PostgresSink
connection.url: $jdbc
topics: bench-src
table.name.format: $schema.sink
insert.mode: insert
batch.size: 20000
YAML
# The sink runs with Kafka's default offset commit interval (60 s): each commit writes out
# the rows gathered so far and waits for them, which the sources' 200 ms would make a stall
# every 200 ms. The sink is timed by the rows in its table, not by its offsets.
grep -v '^offset.flush.interval.ms' "$work/worker.yaml" > "$work/sink-worker.yaml"
echo "== sink: ferry PostgresSink from the embedded log"
t0=$(now)
# Done when the committed batches the task logs add up to every row: counting the table
# every 100 ms would scan it (and start psql) while it grows, and take a core from both.
FERRY_LOG=warn,ferry_postgres::sink=debug "$ferry" standalone "$work/sink-worker.yaml" "$work/sink.yaml" 2> "$work/sink.log" & pid=$!; pids+=("$pid")
profile "$pid" sink
until [ "$(awk '/batch written/ { for (i = 1; i <= NF; i++) if ($i ~ /^rows=/) n += substr($i, 6) } END { print n + 0 }' "$work/sink.log")" -ge "$rows" ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/sink.log"; exit 1; }
  sleep 0.02
done
t1=$(now)
ferry_sink=$(echo "$t1 - $t0" | bc -l)
unprofile
kill -TERM "$pid"; wait "$pid" || true
[ "$(q "SELECT count(*) FROM $schema.sink")" = "$rows" ] && [ "$(q "SELECT count(*) FROM (SELECT * FROM $schema.src EXCEPT SELECT * FROM $schema.sink) x")" = 0 ] || { echo "sink table differs"; exit 1; }

echo "== cdc: catching up on $cdc_changes changes"
q "CREATE TABLE $schema.events (id bigserial PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
# One row for the snapshot, so that the first run commits an offset (without one, a restart
# takes a new snapshot instead of streaming).
q "INSERT INTO $schema.events (payload) VALUES ('seed')"
broker_port=$(free_port)
"$ferry" broker --listen "127.0.0.1:$broker_port" --data-dir "$work/broker" 2> "$work/broker.log" & bpid=$!; pids+=("$bpid")
until (echo > "/dev/tcp/127.0.0.1/$broker_port") 2>/dev/null; do sleep 0.1; done
cport=$(free_port)
cat > "$work/cdc-worker.yaml" <<YAML
bootstrap.servers: 127.0.0.1:$broker_port
key.converter: org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable: false
value.converter: org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable: false
offset.flush.interval.ms: 200
listeners: http://127.0.0.1:$cport
YAML
dbhostport=$(echo "$db" | sed -E 's#^postgres(ql)?://([^@]+@)?([^/]+)/.*#\3#')
cat > "$work/cdc.yaml" <<YAML
name: bench-cdc
connector.class: PostgresCdcSource
database.hostname: ${dbhostport%%:*}
database.port: ${dbhostport##*:}
database.user: $user
database.dbname: ${db##*/}
topic.prefix: bench
slot.name: ${schema}_slot
publication.name: ${schema}_pub
publication.autocreate.mode: filtered
table.include.list: $schema\\.events
status.update.interval.ms: 1000
YAML
# First start: slot, publication and (empty) snapshot; then stop and make changes.
FERRY_LOG=info "$ferry" standalone "$work/cdc-worker.yaml" "$work/cdc.yaml" 2> "$work/cdc1.log" & pid=$!; pids+=("$pid")
until grep -q "streaming changes" "$work/cdc1.log" && curl -sf "http://127.0.0.1:$cport/connectors/bench-cdc/offsets" | grep -q last_snapshot_record; do sleep 0.1; done
kill -TERM "$pid"; wait "$pid" || true
q "INSERT INTO $schema.events (payload) SELECT rpad('p' || i, 40, 'x') FROM generate_series(1, $cdc_changes) i"
t0=$(now)
FERRY_LOG=warn "$ferry" standalone "$work/cdc-worker.yaml" "$work/cdc.yaml" 2> "$work/cdc2.log" & pid=$!; pids+=("$pid")
expected_events=$(( cdc_changes - 1 ))
until curl -sf "http://127.0.0.1:$cport/connectors/bench-cdc/offsets" | grep -q "\"event\":$expected_events[,}]"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/cdc2.log"; exit 1; }
  sleep 0.05
done
t1=$(now)
ferry_cdc=$(echo "$t1 - $t0" | bc -l)

per_tx=20
echo "== cdc: lag at $rate changes/s for ${seconds}s (pgbench, $per_tx inserts per transaction)"
cat > "$work/load.sql" <<SQL
INSERT INTO $schema.events (payload) SELECT 'load' FROM generate_series(1, $per_tx);
SQL
before=$(q "SELECT max(id) FROM $schema.events")
"$pgbench" "$db" -n -f "$work/load.sql" -c 4 -j 2 -R $(( rate / per_tx )) -T "$seconds" > "$work/pgbench.log" 2>&1 \
  || { cat "$work/pgbench.log"; exit 1; }
after=$(q "SELECT max(id) FROM $schema.events")
made=$(( after - before ))
sleep 3
kill -TERM "$pid"; wait "$pid" || true
kcat -b "127.0.0.1:$broker_port" -C -t "bench.$schema.events" -o beginning -e -q -f '%T %s\n' > "$work/events.txt"
python3 - "$work/events.txt" "$before" <<'PY'
import json, sys
path, before = sys.argv[1], int(sys.argv[2])
lags = []
for line in open(path):
    ts, _, value = line.partition(" ")
    if value.strip() in ("", "null"):
        continue
    v = json.loads(value)
    if v.get("op") != "c" or v["after"]["id"] <= before:
        continue
    lags.append(int(ts) - v["source"]["ts_ms"])
lags.sort()
def pct(p):
    return lags[min(len(lags) - 1, int(len(lags) * p))]
print(f"lag_records={len(lags)} lag_p50_ms={pct(0.5)} lag_p99_ms={pct(0.99)} lag_max_ms={lags[-1]}")
PY
achieved=$(grep -o 'tps = [0-9.]*' "$work/pgbench.log" | head -1 | awk -v n="$per_tx" '{printf "%.0f", $3 * n}')

echo
echo "== results ($rows rows; CDC $cdc_changes changes, then ${seconds}s at $rate changes/s)"
awk -v r="$rows" -v a="$copy_out" -v b="$ferry_src" 'BEGIN { printf "source: psql \\copy TO %.2fs (%.0f rows/s), ferry %.2fs (%.0f rows/s), ratio %.0f%%\n", a, r/a, b, r/b, 100*a/b }'
awk -v r="$rows" -v a="$copy_out" -v b="$ferry_src_plain" 'BEGIN { printf "source (JSON without schemas): ferry %.2fs (%.0f rows/s), ratio %.0f%%\n", b, r/b, 100*a/b }'
awk -v r="$rows" -v a="$copy_in" -v b="$ferry_sink" 'BEGIN { printf "sink:   psql \\copy FROM %.2fs (%.0f rows/s), ferry %.2fs (%.0f rows/s), ratio %.0f%%\n", a, r/a, b, r/b, 100*a/b }'
awk -v r="$cdc_changes" -v b="$ferry_cdc" 'BEGIN { printf "cdc:    caught up on %d changes in %.2fs: %.0f changes/s\n", r, b, r/b }'
echo "cdc:    load made $made changes in ${seconds}s (pgbench: ${achieved:-?} changes/s)"
