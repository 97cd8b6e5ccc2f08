#!/usr/bin/env bash
# The broker benchmark of issue 5: `ferry broker` against the tansu broker, the same client
# (one librdkafka 2.12 process, tests/bench/kafka-bench) driving both, in one run:
#   (a) produce throughput of 100-byte records to one partition, acks=1 and acks=all:
#       records/s and MB/s (payload bytes), with the client's delivery latency p50/p99;
#   (b) consume throughput of the same records from offset 0 (one consumer, no group);
#   (c) broker CPU seconds per million records in (a) and (b) (from /proc: user + system),
#       since one client process is the bottleneck here and both brokers keep up with it;
#   (d) produce latency at 50% of the peak rate: p50/p99/p99.9 of librdkafka's delivery
#       reports, i.e. send call to acknowledgement, which includes the time a record waits in
#       the client for its batch; for ferry also the broker-side handling time of the Produce
#       requests (frame read to response written, from the broker's per-connection
#       histograms, logged at debug when the connection closes: target
#       ferry_broker::server::stats), which tells the broker's part from the client's.
#       Client settings of the latency case, as a latency benchmark wants them:
#         acks=all                  the durability the goal is about;
#         linger.ms=LAT_LINGER_MS   default 1 (librdkafka's default is 5 ms: every record
#                                   would wait up to 5 ms for its batch before being sent);
#         socket.nagle.disable=true (librdkafka's default keeps Nagle on: a small request
#                                   can wait in the client's kernel for the previous ACK);
#         compression none, one partition, the rate paced in steps of 100 records.
#       The throughput cases keep librdkafka's defaults except linger.ms=5 (see BENCH.md).
# Each broker gets a fresh topic per case; rounds alternate the brokers (ferry, tansu,
# ferry, ...), REPS rounds (default 2), and the best throughput of each is shown (this
# machine is shared and noisy). The ratio column is ferry / tansu.
#
#   tests/bench/broker.sh [RECORDS]     (default 5000000)
#
# Setup (first run: ~30 minutes, later runs: seconds): tests/bench/broker_setup.sh installs
# tansu (cargo install, into TOOLS) and cmake; the bench client and `ferry` are built in
# release mode. ferry stores into $TMPDIR (page cache, Kafka's default flush policy); tansu
# runs with its memory:// engine (TANSU_STORAGE to change it, e.g. sqlite://...).
#
# BROKERS="ferry" runs ferry alone (no tansu, e.g. before its install finished): no ratios.
#
# PERF=1 records a perf profile (cpu-clock, call graphs) of `ferry broker` during the acks=1
# produce of the first round into $TMPDIR/ferry-broker-produce.perf.data (and
# ...-consume.perf.data during its consume).
set -euo pipefail
cd "$(dirname "$0")/../.."
records=${1:-5000000}
reps=${REPS:-2}
tools=${TOOLS:-/var/tmp/ferry-bench-tools}
tansu_storage=${TANSU_STORAGE:-memory://tansu/}
lat_secs=${LAT_SECS:-5}
lat_linger=${LAT_LINGER_MS:-1}
brokers=${BROKERS:-ferry tansu}
export TOOLS="$tools"

has_tansu() { [[ " $brokers " == *" tansu "* ]]; }
if has_tansu; then tests/bench/broker_setup.sh; fi
tansu="$tools/bin/tansu"
(cd tests/bench/kafka-bench && CARGO_TARGET_DIR="$tools/kafka-bench-target" \
    nice -n 10 cargo build --release -q)
bench="$tools/kafka-bench-target/release/ferry-kafka-bench"
ferry=${FERRY_BIN:-}
if [ -z "$ferry" ]; then
  cargo build --release -q -p ferry-runtime --bin ferry
  ferry="${CARGO_TARGET_DIR:-target}/release/ferry"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-broker-bench.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

ferry_port=$(free_port)
RUST_LOG=warn,ferry_broker::server::stats=debug "$ferry" broker --listen "127.0.0.1:$ferry_port" --data-dir "$work/ferry-data" \
    >"$work/ferry.log" 2>&1 &
ferry_pid=$!
pids+=("$ferry_pid")
wait_port "$ferry_port"
if has_tansu; then
    tansu_port=$(free_port)
    RUST_LOG=warn "$tansu" broker --listener-url "tcp://127.0.0.1:$tansu_port" \
        --advertised-listener-url "tcp://127.0.0.1:$tansu_port" \
        --storage-engine "$tansu_storage" >"$work/tansu.log" 2>&1 &
    tansu_pid=$!
    pids+=("$tansu_pid")
    wait_port "$tansu_port"
fi

n=0
# Prints the figures line of one bench run on a fresh topic of broker $1 (ferry|tansu).
run() {
    local broker=$1 mode=$2 topic=$3
    shift 3
    local port=$ferry_port
    [ "$broker" = tansu ] && port=$tansu_port
    "$bench" "$mode" "127.0.0.1:$port" "$topic" "$@"
}
# Sets $topic to a fresh topic on broker $1 (not in a subshell: the counter must persist).
new_topic() {
    local broker=$1
    n=$((n + 1))
    topic="bench-$n"
    if [ "$broker" = tansu ]; then
        "$tansu" topic create --broker "tcp://127.0.0.1:$tansu_port" "$topic" --partitions 1 \
            >/dev/null 2>&1 || { echo "tansu topic create $topic failed" >&2; return 1; }
    fi
    # ferry broker auto-creates it (auto.create.topics.enable, num.partitions 1).
}
# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# The broker-side handling times of the Produce requests of the connection that closed after
# line $1 of ferry's log with the most Produce requests (the client's producer connection):
# broker_p50_ms=... broker_p99_ms=... broker_p999_ms=... broker_requests=N.
ferry_produce_times() {
    local from=$1 line
    sleep 0.5 # the broker logs when it sees the client's connection close
    line=$(tail -n +"$((from + 1))" "$work/ferry.log" | grep 'request handling times' \
        | grep 'scope="connection"' | grep 'api=Produce' \
        | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^count=/) { split($i, c, "="); print c[2], $0 }}' \
        | sort -n | tail -1)
    [ -n "$line" ] || { echo "broker_requests=0"; return; }
    python3 - "$line" <<'PY'
import re, sys
f = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', sys.argv[1]))
ms = lambda k: f"{int(f[k]) / 1000:.2f}"
print(f"broker_p50_ms={ms('p50_us')} broker_p99_ms={ms('p99_us')} "
      f"broker_p999_ms={ms('p999_us')} broker_max_ms={ms('max_us')} broker_requests={f['count']}")
PY
}
log_lines() { wc -l <"$work/ferry.log"; }
best() { sort -g | tail -1; }

declare -A produce_rps produce_mbs produce_p99 consume_rps consume_mbs produce_cpu consume_cpu
least() { sort -g | head -1; }
for round in $(seq "$reps"); do
    for broker in $brokers; do
        for acks in 1 all; do
            new_topic "$broker"
            perf_pid=""
            if [ "${PERF:-}" = 1 ] && [ "$broker" = ferry ] && [ "$round" = 1 ] && [ "$acks" = 1 ]; then
                perf record -F 999 -g -p "$ferry_pid" -o "${TMPDIR:-/tmp}/ferry-broker-produce.perf.data" \
                    >/dev/null 2>&1 &
                perf_pid=$!
                sleep 0.5
            fi
            key="$broker/$acks"
            bpid=$ferry_pid
            [ "$broker" = tansu ] && bpid=$tansu_pid
            t0=$(cpu_ticks "$bpid")
            from=$(log_lines)
            out=$(run "$broker" produce "$topic" --records "$records" --acks "$acks")
            t1=$(cpu_ticks "$bpid")
            [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
            cpu=$(python3 -c "print(f'{($t1 - $t0) / $(getconf CLK_TCK) / ($records / 1e6):.3f}')")
            side=""
            [ "$broker" = ferry ] && side=" $(ferry_produce_times "$from")"
            echo "round $round $broker acks=$acks: $out broker_cpu_s_per_M=$cpu$side load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
            produce_cpu[$key]="${produce_cpu[$key]:-} $cpu"
            produce_rps[$key]="${produce_rps[$key]:-} $(field records_per_s <<<"$out")"
            produce_mbs[$key]="${produce_mbs[$key]:-} $(field mb_per_s <<<"$out")"
            produce_p99[$key]="${produce_p99[$key]:-} $(field p99_ms <<<"$out")"
            perf_pid=""
            if [ "${PERF:-}" = 1 ] && [ "$broker" = ferry ] && [ "$round" = 1 ] && [ "$acks" = 1 ]; then
                perf record -F 999 -g -p "$ferry_pid" -o "${TMPDIR:-/tmp}/ferry-broker-consume.perf.data" \
                    >/dev/null 2>&1 &
                perf_pid=$!
                sleep 0.5
            fi
            t0=$(cpu_ticks "$bpid")
            out=$(run "$broker" consume "$topic" --records "$records")
            t1=$(cpu_ticks "$bpid")
            [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
            cpu=$(python3 -c "print(f'{($t1 - $t0) / $(getconf CLK_TCK) / ($records / 1e6):.3f}')")
            echo "round $round $broker acks=$acks: $out broker_cpu_s_per_M=$cpu"
            consume_cpu[$key]="${consume_cpu[$key]:-} $cpu"
            consume_rps[$key]="${consume_rps[$key]:-} $(field records_per_s <<<"$out")"
            consume_mbs[$key]="${consume_mbs[$key]:-} $(field mb_per_s <<<"$out")"
        done
    done
done

ratio() {
    python3 -c "import sys; a,b=sys.argv[1:3]; print(f'{float(a)/float(b):.2f}x' if a and b and float(b) else '-')" \
        "${1:-}" "${2:-}"
}
printf '\n%-34s %14s %10s %14s %10s %8s\n' "best of $reps, $records x 100 B records" \
    "ferry rec/s" "MB/s" "tansu rec/s" "MB/s" "ratio"
for acks in 1 all; do
    for what in produce consume; do
        if [ $what = produce ]; then
            fr=$(tr ' ' '\n' <<<"${produce_rps[ferry/$acks]:-}" | best)
            fm=$(tr ' ' '\n' <<<"${produce_mbs[ferry/$acks]:-}" | best)
            tr_=$(tr ' ' '\n' <<<"${produce_rps[tansu/$acks]:-}" | best)
            tm=$(tr ' ' '\n' <<<"${produce_mbs[tansu/$acks]:-}" | best)
        else
            fr=$(tr ' ' '\n' <<<"${consume_rps[ferry/$acks]:-}" | best)
            fm=$(tr ' ' '\n' <<<"${consume_mbs[ferry/$acks]:-}" | best)
            tr_=$(tr ' ' '\n' <<<"${consume_rps[tansu/$acks]:-}" | best)
            tm=$(tr ' ' '\n' <<<"${consume_mbs[tansu/$acks]:-}" | best)
        fi
        printf '%-34s %14s %10s %14s %10s %8s\n' "$what, acks=$acks" "$fr" "$fm" "$tr_" "$tm" \
            "$(ratio "$fr" "$tr_")"
    done
done

# Broker CPU seconds per million records: what each broker costs while the one client
# process (the bottleneck on this machine, see BENCH.md) drives it. Lower is better; the
# ratio column is tansu / ferry.
printf '\n%-34s %14s %14s %8s\n' "broker CPU s per M records (least)" "ferry" "tansu" "ratio"
for acks in 1 all; do
    for what in produce consume; do
        if [ $what = produce ]; then
            fc=$(tr ' ' '\n' <<<"${produce_cpu[ferry/$acks]:-}" | { grep . || true; } | least)
            tc=$(tr ' ' '\n' <<<"${produce_cpu[tansu/$acks]:-}" | { grep . || true; } | least)
        else
            fc=$(tr ' ' '\n' <<<"${consume_cpu[ferry/$acks]:-}" | { grep . || true; } | least)
            tc=$(tr ' ' '\n' <<<"${consume_cpu[tansu/$acks]:-}" | { grep . || true; } | least)
        fi
        printf '%-34s %14s %14s %8s\n' "$what, acks=$acks" "$fc" "$tc" "$(ratio "$tc" "$fc")"
    done
done

# (d) latency at half of each broker's own best acks=all produce rate.
echo
for broker in $brokers; do
    peak=$(tr ' ' '\n' <<<"${produce_rps[$broker/all]:-}" | best)
    rate=$(python3 -c "print(int(float('$peak') / 2))")
    count=$((rate * lat_secs))
    new_topic "$broker"
    from=$(log_lines)
    out=$(run "$broker" produce "$topic" --records "$count" --acks all --rate "$rate" \
        --linger-ms "$lat_linger" --nagle-disable)
    side=""
    [ "$broker" = ferry ] && side=" $(ferry_produce_times "$from")"
    echo "latency $broker at 50% of its peak ($rate rec/s, acks=all, linger.ms=$lat_linger, nagle off): $out$side"
done
# The same ferry case with librdkafka's defaults (linger.ms=5, Nagle on): the client's part.
rate=$(python3 -c "print(int(float('$(tr ' ' '\n' <<<"${produce_rps[ferry/all]:-}" | best)') / 2))")
new_topic ferry
from=$(log_lines)
out=$(run ferry produce "$topic" --records "$((rate * lat_secs))" --acks all --rate "$rate" --linger-ms 5)
echo "latency ferry at 50% of its peak ($rate rec/s, acks=all, librdkafka defaults: linger.ms=5, nagle on): $out $(ferry_produce_times "$from")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$ferry_pid"
wait "$ferry_pid" 2>/dev/null || true
