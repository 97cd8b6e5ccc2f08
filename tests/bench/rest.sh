#!/usr/bin/env bash
# REST API benchmark (issue 6): idle RSS of a standalone worker with the REST server up, then
# `GET /connectors?expand=status` with $N connectors under wrk on loopback (goal: p99 < 10 ms,
# idle RSS < 30 MB).
#
#   tests/bench/rest.sh                 # N=500 running file sources, 10 s, 8 connections
#   N=100 DURATION=5s CONNS=4 tests/bench/rest.sh
#   STATE=STOPPED tests/bench/rest.sh   # connectors without running tasks
#
# Needs wrk (`apt-get install wrk`) and curl. Builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-500}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
STATE=${STATE:-RUNNING}

command -v wrk >/dev/null || { echo "rest.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "rest.sh: needs curl" >&2; exit 1; }

# FERRY_BIN=path skips the build and benchmarks that binary.
BIN=${FERRY_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release -p ferry-runtime --bin ferry >&2
    BIN="${CARGO_TARGET_DIR:-target}/release/ferry"
fi

dir=$(mktemp -d /tmp/ferry-rest-bench.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/worker.yaml" <<YAML
data.dir: $dir/data
listeners: http://127.0.0.1:0
key.converter: org.apache.kafka.connect.storage.StringConverter
value.converter: org.apache.kafka.connect.storage.StringConverter
YAML
: > "$dir/in.txt"

FERRY_LOG=info "$BIN" standalone "$dir/worker.yaml" 2> "$dir/worker.log" &
pid=$!
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/.*REST API listening on \(http[^ ]*\).*/\1/p' "$dir/worker.log" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "rest.sh: the worker did not start:" >&2; cat "$dir/worker.log" >&2; exit 1; }

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
sleep 2
echo "idle RSS (REST up, no connectors): $(rss_mb) MB"

echo "creating $N connectors ($STATE)..." >&2
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
    curl -sf -o /dev/null -X POST "$url/connectors" -H 'content-type: application/json' \
        -d "{\"name\":\"bench-$i\",\"initial_state\":\"$STATE\",\"config\":{\"connector.class\":\"FileStreamSource\",\"file\":\"$dir/in.txt\",\"topic\":\"bench\"}}" \
        || { echo "rest.sh: creating bench-$i failed" >&2; exit 1; }
done
end=$(date +%s.%N)
echo "created $N connectors in $(echo "$end - $start" | bc) s"
count=$(curl -sf "$url/connectors" | tr ',' '\n' | grep -c bench || true)
[ "$count" -eq "$N" ] || { echo "rest.sh: expected $N connectors, found $count" >&2; exit 1; }
sleep 2
echo "RSS with $N connectors: $(rss_mb) MB"

echo "wrk -t$THREADS -c$CONNS -d$DURATION GET /connectors?expand=status"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url/connectors?expand=status"
echo "RSS after the run: $(rss_mb) MB"
