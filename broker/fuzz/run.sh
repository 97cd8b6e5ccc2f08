#!/usr/bin/env bash
# Builds and runs the libFuzzer target of the broker's request decoder on stable Rust (the
# instrumentation flags cargo-fuzz passes with `--sanitizer none`), for SECONDS (default 60).
#
#   broker/fuzz/run.sh [SECONDS]
#
# The corpus grows in broker/fuzz/corpus (not committed); a crash leaves its input in
# broker/fuzz/artifacts and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/ferry-fuzz-target}
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation out of build scripts, as cargo-fuzz does.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --target "$host" --bin decode_request
mkdir -p corpus artifacts
"$CARGO_TARGET_DIR/$host/release/decode_request" -max_total_time="$secs" -rss_limit_mb=2048 \
    -artifact_prefix=artifacts/ corpus
