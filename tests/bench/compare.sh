#!/usr/bin/env bash
# One benchmark of tests/bench/, run against two builds of Ferry in the same run: an earlier
# revision (the baseline) and the working tree, alternating, so that a noisy shared machine
# hits both alike.
#
#   tests/bench/compare.sh REV BENCH [ARGS...]
#   e.g. tests/bench/compare.sh 58b62d9 standalone_file.sh 256
#        ROUNDS=3 tests/bench/compare.sh main~5 log_engine.sh 512
#
# REV is built in release mode in a git worktree of its own under $TOOLS (default
# /var/tmp/ferry-bench-tools, kept between runs, so a second comparison against the same
# revision builds nothing); the working tree is built as the benchmark would build it. Each
# round runs the baseline, then the working tree (ROUNDS, default 2). The benchmark gets the
# binaries as FERRY_BIN (ferry) and FERRY_LOG_TOOL (ferry-log-tool); its own output is
# printed under a header saying which build it measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { sed -n '2,14p' "$0"; exit 2; }
rev=$1; bench=$2; shift 2
rounds=${ROUNDS:-2}
tools=${TOOLS:-/var/tmp/ferry-bench-tools}
commit=$(git rev-parse --verify "$rev^{commit}")
short=$(git rev-parse --short "$commit")

base_tree="$tools/ferry-$short"
base_target="$tools/ferry-$short-target"
if [ ! -d "$base_tree" ]; then
  mkdir -p "$tools"
  git worktree add --detach "$base_tree" "$commit" >&2
fi
echo "building $short (baseline) ..." >&2
# The log tool moved from ferry-broker to ferry-log; build whichever package has it.
(cd "$base_tree" && CARGO_TARGET_DIR="$base_target" cargo build --release -q -p ferry-runtime --bin ferry \
  && { CARGO_TARGET_DIR="$base_target" cargo build --release -q -p ferry-log --bin ferry-log-tool 2>/dev/null \
       || CARGO_TARGET_DIR="$base_target" cargo build --release -q -p ferry-broker --bin ferry-log-tool; })
echo "building the working tree ..." >&2
target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ferry-runtime --bin ferry -p ferry-log --bin ferry-log-tool

run() {
  local label=$1 dir=$2
  echo
  echo "=== $label, round $round: tests/bench/$bench ${args[*]}"
  FERRY_BIN="$dir/release/ferry" FERRY_LOG_TOOL="$dir/release/ferry-log-tool" \
    "tests/bench/$bench" "${args[@]}"
}
args=("$@")
for round in $(seq 1 "$rounds"); do
  run "baseline $short" "$base_target"
  run "working tree ($(git rev-parse --short HEAD)+)" "$target"
done
