#!/usr/bin/env bash
# The log engine benchmark of issue 4, every figure next to its baseline, all in one run on
# the same disk:
#   (a) append of 100-byte records in 16 KiB batches to one partition: default flush policy
#       vs. `dd bs=1M` into the page cache (no conv=fdatasync); fsync per batch
#       (flush.messages=1) vs. `dd bs=1M conv=fdatasync` and vs. `dd bs=16k oflag=dsync` (a
#       sync per 16 KiB write, the like-for-like one); these two on FSYNC_MB (default 128)
#   (b) sequential read of the partition from offset 0 (1 MiB and 8 MiB fetches) vs.
#       `cat F > /dev/null` from the page cache
#   (c) records/s appended and read, 1 partition and 8 partitions (8 threads)
#   (d) recovery (open after kill -9) with an unflushed tail of SIZE/2: one active segment of
#       that size, then the same bytes in 8 segments (only the last one is scanned)
#
#   tests/bench/log_engine.sh [SIZE_MB]    (default 256 for a quick run; 2048 = the issue's)
#
# This machine's page cache and disk are noisy (shared VM, other builds running): every
# figure but recovery is measured REPS times (default 3), the log and its baseline
# alternating, and the best of each is shown.
#
# Needs a release build of ferry-log-tool (built here). Uses $TMPDIR (default /tmp) and
# about 2.5 x SIZE_MB of free disk at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-256}
reps=${REPS:-3}
# fsync per 16 KiB batch runs at disk-latency speed (a few MiB/s here): a smaller size.
fsync_mb=${FSYNC_MB:-$(( size_mb < 128 ? size_mb : 128 ))}
fsync_bytes=$(( fsync_mb * 1024 * 1024 ))
bytes=$(( size_mb * 1024 * 1024 ))
tail_bytes=$(( bytes / 2 ))
tool=${FERRY_LOG_TOOL:-}
if [ -z "$tool" ]; then
  cargo build --release -q -p ferry-log --bin ferry-log-tool
  tool="${CARGO_TARGET_DIR:-target}/release/ferry-log-tool"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-log-bench.XXXXXX")
trap '[ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
export RUST_LOG=warn

now() { date +%s.%N; }
# Seconds taken by a command (its output discarded).
timed() { local t0 t1; t0=$(now); "$@" > /dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc -l; }
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
settle() { sync; sleep 1; }   # writeback of the previous step must not slow the next one
mbs() { echo "$1 / $2 / 1048576" | bc -l; }
min() { if [ "$(echo "$1 < $2" | bc -l)" = 1 ]; then echo "$1"; else echo "$2"; fi; }

rows=()
row() { rows+=("$(printf '%-58s %10.1f MiB/s %12s %s' "$1" "$2" "$3" "$4")"); }
recs() { printf '%.2fM rec/s' "$(echo "$1 / $2 / 1000000" | bc -l)"; }
pct() { printf '%.0f%% of %s' "$(echo "100 * $1 / $2" | bc -l)" "$3"; }

echo "log engine benchmark: $size_mb MiB, $(nproc) cores, $(uname -r), $(df -T "$work" | awk 'NR==2 {print $2}') on $(df "$work" | awk 'NR==2 {print $1}')"

# (a) page cache; best of $reps (dd and the log alternate, so both see the same noise)
dd_s=999999; dd16_s=999999; a1_s=999999
for rep in $(seq "$reps"); do
  rm -rf "$work/log1"
  settle; t=$(timed dd if=/dev/zero of="$work/dd" bs=1M count="$size_mb"); rm -f "$work/dd"
  dd_s=$(min "$dd_s" "$t")
  settle; t=$(timed dd if=/dev/zero of="$work/dd" bs=16k count=$(( bytes / 16384 ))); rm -f "$work/dd"
  dd16_s=$(min "$dd16_s" "$t")
  settle; out=$("$tool" append "$work/log1" "$bytes" 1 default)
  t=$(field secs <<< "$out"); a1_b=$(field bytes <<< "$out"); a1_r=$(field records <<< "$out")
  a1_s=$(min "$a1_s" "$t")
done
dd_mbs=$(mbs "$bytes" "$dd_s")
dd16_mbs=$(mbs "$bytes" "$dd16_s")
a1_mbs=$(mbs "$a1_b" "$a1_s")
row "dd bs=1M (page cache)" "$dd_mbs" "" ""
row "dd bs=16k (page cache; the log's write size)" "$dd16_mbs" "" ""
row "append, 1 partition, default flush policy" "$a1_mbs" "$(recs "$a1_r" "$a1_s")" "$(pct "$a1_mbs" "$dd_mbs" "dd 1M"), $(pct "$a1_mbs" "$dd16_mbs" "dd 16k")"

# (b) read: the log just written is in the page cache; so is the file cat reads.
dd if=/dev/zero of="$work/cat" bs=1M count="$size_mb" status=none; cat "$work/cat" > /dev/null
# Variants: `read` (a new Bytes per fetch) and `read_into` a reused buffer ("reuse"), which
# skips zeroing fresh memory; fetch sizes 1 MiB (Kafka's max.partition.fetch.bytes), 8 MiB
# and 128 KiB (cat's buffer size).
variants=("1048576" "1048576 reuse" "8388608 reuse" "131072 reuse")
cat_s=999999; best=(999999 999999 999999 999999)
for rep in $(seq "$reps"); do
  cat_s=$(min "$cat_s" "$(timed sh -c "cat '$work/cat' > /dev/null")")
  for i in "${!variants[@]}"; do
    # shellcheck disable=SC2086
    out=$("$tool" read "$work/log1" ${variants[$i]})
    best[$i]=$(min "${best[$i]}" "$(field secs <<< "$out")")
    r_b=$(field bytes <<< "$out"); r_r=$(field records <<< "$out")
  done
done
rm -f "$work/cat"
cat_mbs=$(mbs "$bytes" "$cat_s")
row "cat F > /dev/null (page cache)" "$cat_mbs" "" ""
for i in "${!variants[@]}"; do
  set -- ${variants[$i]}
  r_mbs=$(mbs "$r_b" "${best[$i]}")
  row "read, 1 partition, $(( $1 >> 10 )) KiB fetches${2:+, reused buffer}" "$r_mbs" "$(recs "$r_r" "${best[$i]}")" "$(pct "$r_mbs" "$cat_mbs" "cat")"
done
rm -rf "$work/log1"

# (c) 8 partitions, 8 writer threads, then 8 reader threads
a8_s=999999; r8_s=999999
for rep in $(seq "$reps"); do
  rm -rf "$work/log8"
  settle; out=$("$tool" append "$work/log8" "$bytes" 8 default)
  a8_s=$(min "$a8_s" "$(field secs <<< "$out")"); a8_b=$(field bytes <<< "$out"); a8_r=$(field records <<< "$out")
  out=$("$tool" read "$work/log8" 1048576 reuse)
  r8_s=$(min "$r8_s" "$(field secs <<< "$out")"); r8_b=$(field bytes <<< "$out"); r8_r=$(field records <<< "$out")
done
a8_mbs=$(mbs "$a8_b" "$a8_s")
row "append, 8 partitions (8 threads), default flush policy" "$a8_mbs" "$(recs "$a8_r" "$a8_s")" "$(pct "$a8_mbs" "$dd_mbs" "dd 1M"), $(pct "$a8_mbs" "$dd16_mbs" "dd 16k")"
r8_mbs=$(mbs "$r8_b" "$r8_s")
row "read, 8 partitions (8 threads), 1 MiB fetches, reused buffer" "$r8_mbs" "$(recs "$r8_r" "$r8_s")" "$(pct "$r8_mbs" "$cat_mbs" "cat")"
rm -rf "$work/log8"

# (a) durable: fsync per batch
ddf_s=999999; dds_s=999999; af_s=999999
for rep in $(seq "$reps"); do
  settle; t=$(timed dd if=/dev/zero of="$work/dd" bs=1M count="$size_mb" conv=fdatasync); rm -f "$work/dd"
  ddf_s=$(min "$ddf_s" "$t")
  settle; t=$(timed dd if=/dev/zero of="$work/dd" bs=16k count=$(( fsync_bytes / 16384 )) oflag=dsync); rm -f "$work/dd"
  dds_s=$(min "$dds_s" "$t")
  settle; out=$("$tool" append "$work/logf" "$fsync_bytes" 1 fsync); rm -rf "$work/logf"
  af_s=$(min "$af_s" "$(field secs <<< "$out")"); af_b=$(field bytes <<< "$out"); af_r=$(field records <<< "$out")
done
ddf_mbs=$(mbs "$bytes" "$ddf_s")
dds_mbs=$(mbs "$fsync_bytes" "$dds_s")
af_mbs=$(mbs "$af_b" "$af_s")
row "dd bs=1M conv=fdatasync" "$ddf_mbs" "" ""
row "dd bs=16k oflag=dsync (a sync per 16 KiB write; $fsync_mb MiB)" "$dds_mbs" "" ""
row "append, 1 partition, fsync per batch ($fsync_mb MiB)" "$af_mbs" "$(recs "$af_r" "$af_s")" "$(pct "$af_mbs" "$ddf_mbs" "dd fdatasync"), $(pct "$af_mbs" "$dds_mbs" "dd dsync")"

# (d) recovery after kill -9 with an unflushed tail
recovery() {   # dir segment_bytes
  local fifo="$1.fill-out"; rm -f "$fifo"
  "$tool" fill "$1" "$tail_bytes" "$2" > "$fifo" &
  pid=$!
  while ! grep -q filled "$fifo" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { echo "fill exited early"; exit 1; }
    sleep 0.1
  done
  kill -9 $pid; wait $pid 2>/dev/null || true
  "$tool" recover "$1"
}
# segment.bytes a little above the data, so that all of it stays in the active segment.
settle; out=$(recovery "$work/rec1" $(( tail_bytes + (1 << 20) )))
rec1_s=$(field secs <<< "$out"); rm -rf "$work/rec1"
settle; out=$(recovery "$work/rec8" $(( tail_bytes / 8 + (1 << 20) )))
rec8_s=$(field secs <<< "$out"); rm -rf "$work/rec8"

echo
printf '%-58s %16s %12s %s\n' "" "throughput" "records" "vs. baseline"
printf '%s\n' "${rows[@]}"
echo
printf 'recovery after kill -9, %d MiB unflushed in one active segment: %.3f s (%.0f MiB/s)\n' \
  $(( tail_bytes >> 20 )) "$rec1_s" "$(echo "$tail_bytes / $rec1_s / 1048576" | bc -l)"
printf 'recovery after kill -9, same %d MiB in 8 segments (active one %d MiB): %.3f s\n' \
  $(( tail_bytes >> 20 )) $(( tail_bytes / 8 >> 20 )) "$rec8_s"
