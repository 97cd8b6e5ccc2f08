#!/usr/bin/env bash
# Throughput of `ferry standalone` file → embedded log → file, next to `cat in > out` on the
# same machine in the same run.
#
#   tests/bench/standalone_file.sh [SIZE_MB]      (default 1024: 1 GB of 100-byte lines)
#
# Prints lines/s and MB/s of both and the ratio ferry/cat. Needs a release build
# (`cargo build --release -p ferry-runtime`; the script builds it if missing; FERRY_BIN=path
# benchmarks that binary instead).
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-1024}
lines=$(( size_mb * 1024 * 1024 / 100 ))
ferry=${FERRY_BIN:-}
if [ -z "$ferry" ]; then
  cargo build --release -q -p ferry-runtime
  ferry="${CARGO_TARGET_DIR:-target}/release/ferry"
fi

work=$(mktemp -d /tmp/ferry-bench.XXXXXX)
trap 'kill -9 ${pid:-0} 2>/dev/null || true; rm -rf "$work"' EXIT
in="$work/in.txt"; out="$work/out.txt"; cat_out="$work/cat-out.txt"

echo "generating $lines lines of 100 bytes ($size_mb MiB) ..."
awk -v n="$lines" 'BEGIN { pad = sprintf("%88s", ""); gsub(/ /, "x", pad);
  for (i = 0; i < n; i++) printf "%010d %s\n", i, pad }' > "$in"
bytes=$(stat -c %s "$in")
cat "$in" > /dev/null   # page cache

now() { date +%s.%N; }
t0=$(now); cat "$in" > "$cat_out"; t1=$(now)
cat_s=$(echo "$t1 - $t0" | bc -l)
rm -f "$cat_out"

cat > "$work/worker.yaml" <<YAML
data.dir: $work/data
key.converter: org.apache.kafka.connect.storage.StringConverter
value.converter: org.apache.kafka.connect.storage.StringConverter
offset.flush.interval.ms: 1000
YAML
cat > "$work/source.yaml" <<YAML
name: bench-source
connector.class: FileStreamSource
file: $in
topic: bench
batch.size: 10000
YAML
cat > "$work/sink.yaml" <<YAML
name: bench-sink
connector.class: FileStreamSink
file: $out
topics: bench
YAML

t0=$(now)
FERRY_LOG=warn "$ferry" standalone "$work/worker.yaml" "$work/source.yaml" "$work/sink.yaml" &
pid=$!
while [ "$(stat -c %s "$out" 2>/dev/null || echo 0)" -lt "$bytes" ]; do
  kill -0 $pid 2>/dev/null || { echo "ferry exited early"; exit 1; }
  sleep 0.02
done
t1=$(now)
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM $pid; wait $pid || true; pid=
ferry_s=$(echo "$t1 - $t0" | bc -l)
cmp -s "$in" "$out" || { echo "output differs from input"; exit 1; }

mb=$(echo "$bytes / 1048576" | bc -l)
printf '%-28s %10s %12s %10s\n' "" "seconds" "lines/s" "MiB/s"
printf '%-28s %10.3f %12.0f %10.1f\n' "cat in > out" "$cat_s" "$(echo "$lines / $cat_s" | bc -l)" "$(echo "$mb / $cat_s" | bc -l)"
printf '%-28s %10.3f %12.0f %10.1f\n' "ferry file→log→file" "$ferry_s" "$(echo "$lines / $ferry_s" | bc -l)" "$(echo "$mb / $ferry_s" | bc -l)"
printf 'ratio ferry/cat: %.1f%%   ferry peak RSS: %d MiB\n' "$(echo "100 * $cat_s / $ferry_s" | bc -l)" $(( rss_kb / 1024 ))
