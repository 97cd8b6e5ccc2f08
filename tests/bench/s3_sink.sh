#!/usr/bin/env bash
# Benchmark of the S3 sink (issue 9): topic → S3, JSON and Parquet, against `aws s3 cp` of
# the same bytes to the same server, in the same run.
#
#   tests/bench/s3_sink.sh [RECORDS]        (default 10000000 records of ~200 bytes)
#
# 1. A file of RECORDS JSON-envelope lines (schema + a ~200-byte payload) is moved into the
#    embedded log of a `ferry standalone` data directory by the file source (not timed).
# 2. For each format, a fresh S3 sink connector reads the whole topic and writes it to moto
#    (files of 250000 records, the rest of each partition closed by a 1 s scheduled
#    rotation); timed from the worker's start until its committed offsets cover every record
#    (an offset is committed only once its object is complete in S3). Peak RSS of the worker
#    is read from /proc, and so are the CPU seconds it and moto used (which tell whether the
#    sink waited for the store or for the CPU: the machine has 2 cores).
# 3. Baseline: `aws s3 cp` (awscli) of a file of the same size as what the sink wrote, to
#    the same server.
#
# Figures: MB/s (output bytes / seconds) for each, and the ratio sink / aws s3 cp.
# PROFILE=1 also records each sink run with perf and prints the top of the profile.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000000}
PARTITIONS=${PARTITIONS:-4}
PART_SIZE=${PART_SIZE:-26214400}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/ferry-ci-target}
FERRY=${FERRY_BIN:-${FERRY:-}}
if [ -z "$FERRY" ]; then
  cargo build --release -q -p ferry-runtime --bin ferry
  FERRY=$CARGO_TARGET_DIR/release/ferry
fi
WORK=$(mktemp -d /var/tmp/ferry-s3-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
free_port() { python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }

S3_PORT=$(free_port)
python3 tests/s3/s3tool.py server "$S3_PORT" 2>"$WORK/moto.log" &
MOTO=$!
URL=http://127.0.0.1:$S3_PORT
for _ in $(seq 100); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$S3_PORT))" 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
python3 tests/s3/s3tool.py mkbucket "$URL" bench

echo "== generating $N records"
python3 - "$WORK/in.txt" "$N" <<'EOF'
import json, sys
schema = {"type": "struct", "name": "bench.Event", "version": 1, "optional": False, "fields": [
    {"field": "id", "type": "int64", "optional": False},
    {"field": "ts", "type": "int64", "optional": False},
    {"field": "user", "type": "string", "optional": False},
    {"field": "region", "type": "string", "optional": False},
    {"field": "amount", "type": "double", "optional": False},
    {"field": "text", "type": "string", "optional": True}]}
head = '{"schema":' + json.dumps(schema, separators=(",", ":")) + ',"payload":'
filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut"
regions = ["eu-west-1", "us-east-1", "ap-south-1"]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        p = {"id": i, "ts": 1700000000000 + i, "user": "user-%08d" % (i % 1000003),
             "region": regions[i % 3], "amount": i * 0.25, "text": filler + " %d" % i}
        f.write(head + json.dumps(p, separators=(",", ":")) + "}\n")
EOF
PAYLOAD=$(python3 -c "import json;l=open('$WORK/in.txt').readline();print(len(json.dumps(json.loads(l)['payload'],separators=(',',':'))))")
echo "payload ~${PAYLOAD} bytes per record (the envelope with its schema: $(head -1 "$WORK/in.txt" | wc -c) bytes)"

REST=$(free_port)
cat > "$WORK/worker.yaml" <<EOF
data.dir: $WORK/data
num.partitions: $PARTITIONS
key.converter: org.apache.kafka.connect.storage.StringConverter
value.converter: org.apache.kafka.connect.storage.StringConverter
offset.flush.interval.ms: 1000
listeners: http://127.0.0.1:$REST
EOF
cat > "$WORK/source.yaml" <<EOF
name: seed
connector.class: FileStreamSource
file: $WORK/in.txt
topic: events
batch.size: 20000
EOF
echo "== seeding the topic (file source, not timed)"
FERRY_LOG=warn "$FERRY" standalone "$WORK/worker.yaml" "$WORK/source.yaml" 2>"$WORK/seed.log" &
SEED=$!
SIZE=$(stat -c %s "$WORK/in.txt")
while true; do
  POS=$( (curl -s "http://127.0.0.1:$REST/connectors/seed/offsets" || true) | python3 -c "import json,sys
try:
    print(json.load(sys.stdin)['offsets'][0]['offset']['position'])
except Exception:
    print(0)")
  [ "$POS" -ge "$SIZE" ] && break
  sleep 1
done
sleep 2
kill -TERM $SEED; wait $SEED || true

peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)
# CPU seconds (user + system) a process used so far.
cpu_secs() { awk -v t="$TICKS" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }

run_sink() { # name format extra
  local name=$1 format=$2 extra=$3
  cat > "$WORK/$name.yaml" <<EOF
name: $name
connector.class: S3Sink
topics: events
s3.bucket.name: bench
s3.region: us-east-1
store.url: $URL
aws.access.key.id: test
aws.secret.access.key: test
topics.dir: $name
format.class: $format
flush.size: 250000
rotate.schedule.interval.ms: 1000
timezone: UTC
s3.part.size: $PART_SIZE
value.converter: org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable: true
$extra
EOF
  local start end pid bytes rss=0 moto_before
  moto_before=$(cpu_secs "$MOTO")
  start=$(date +%s.%N)
  FERRY_LOG=warn "$FERRY" standalone "$WORK/worker.yaml" "$WORK/$name.yaml" 2>"$WORK/$name.log" &
  pid=$!
  local perf_pid=""
  if [ -n "${PROFILE:-}" ]; then
    perf record -F 499 -g -p $pid -o "$WORK/$name.perf" 2>/dev/null &
    perf_pid=$!
  fi
  while true; do
    # Done when the committed offsets (only objects complete in S3 are committed) cover
    # every record of the topic.
    local done
    done=$( (curl -s "http://127.0.0.1:$REST/connectors/$name/offsets" || true) | python3 -c "import json,sys
try:
    print(sum(o['offset']['kafka_offset'] for o in json.load(sys.stdin)['offsets']))
except Exception:
    print(0)")
    local r; r=$(peak_rss $pid); [ "$r" -gt "$rss" ] && rss=$r
    [ "$done" -ge "$N" ] && break
    kill -0 $pid 2>/dev/null || { echo "worker died"; tail -20 "$WORK/$name.log"; exit 1; }
    sleep 0.2
  done
  end=$(date +%s.%N)
  if [ -n "$perf_pid" ]; then
    kill -INT $perf_pid; wait $perf_pid || true
    echo "-- profile of the $name sink (perf, self time, top entries)"
    perf report -i "$WORK/$name.perf" --no-children --stdio --percent-limit 1.5 2>/dev/null \
      | grep -E '^ +[0-9]' | head -25
  fi
  FERRY_CPU=$(cpu_secs $pid)
  MOTO_CPU=$(echo "$(cpu_secs "$MOTO") - $moto_before" | bc -l)
  kill -TERM $pid; wait $pid || true
  bytes=$(aws --endpoint-url "$URL" s3 ls "s3://bench/$name/" --recursive | awk '{s+=$3} END {print s}')
  SECS=$(echo "$end - $start" | bc -l)
  BYTES=$bytes
  RSS_MB=$((rss / 1024))
}

baseline() { # bytes
  head -c "$1" /dev/urandom > "$WORK/blob"
  local start end moto_before
  moto_before=$(cpu_secs "$MOTO")
  start=$(date +%s.%N)
  aws --endpoint-url "$URL" s3 cp --quiet "$WORK/blob" "s3://bench/baseline/blob-$RANDOM"
  end=$(date +%s.%N)
  BASE_SECS=$(echo "$end - $start" | bc -l)
  BASE_MOTO_CPU=$(echo "$(cpu_secs "$MOTO") - $moto_before" | bc -l)
  rm -f "$WORK/blob"
}

report() { # label
  local mbs base ratio
  mbs=$(echo "$BYTES / 1000000 / $SECS" | bc -l)
  base=$(echo "$BYTES / 1000000 / $BASE_SECS" | bc -l)
  ratio=$(echo "100 * $mbs / $base" | bc -l)
  printf "%-8s %8d records  %7.1f MB out  sink %6.2f s %7.1f MB/s out, %6.1f MB/s of payload (%5.2f M rec/s)  aws s3 cp %6.2f s %7.1f MB/s  ratio %5.1f%%  peak RSS %d MiB\n" \
    "$1" "$N" "$(echo "$BYTES/1000000" | bc -l)" "$SECS" "$mbs" "$(echo "$N*$PAYLOAD/1000000/$SECS" | bc -l)" "$(echo "$N/$SECS/1000000" | bc -l)" "$BASE_SECS" "$base" "$ratio" "$RSS_MB"
  printf "         CPU: ferry %.1f s (%.0f%% of a core), moto %.1f s during the sink, %.1f s during aws s3 cp\n" \
    "$FERRY_CPU" "$(echo "100 * $FERRY_CPU / $SECS" | bc -l)" "$MOTO_CPU" "$BASE_MOTO_CPU"
  echo "         load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== JSON"
run_sink json io.confluent.connect.s3.format.json.JsonFormat ""
baseline "$BYTES"
report JSON
echo "== Parquet (snappy)"
run_sink parquet io.confluent.connect.s3.format.parquet.ParquetFormat ""
baseline "$BYTES"
report Parquet
echo "memory bound: 2 x $PARTITIONS partitions x $((PART_SIZE >> 20)) MiB parts = $((2 * PARTITIONS * PART_SIZE >> 20)) MiB (+ Parquet row groups, about a part per partition, + fetched records)"
