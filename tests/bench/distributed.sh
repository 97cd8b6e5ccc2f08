#!/usr/bin/env bash
# Distributed-mode benchmark (issue 7): failover time after kill -9 (goal < 3 s with
# scheduled.rebalance.max.delay.ms=0), rebalance times with 100 connectors x 4 tasks on 3
# workers, and worker RSS at that load; each against a baseline measured in the same run
# (see tests/bench/distributed.py).
#
#   tests/bench/distributed.sh                       # 100 x 4, 6 sources, 3 failover rounds
#   CONNECTORS=20 TASKS=2 ROUNDS=1 tests/bench/distributed.sh
#
# Needs python3 with kafka-python (tests/setup.sh installs it). Builds the release binary;
# FERRY_BIN=path benchmarks that binary instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -c "import kafka" 2>/dev/null || { echo "distributed.sh: needs kafka-python (tests/setup.sh)" >&2; exit 1; }
BIN=${FERRY_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release -p ferry-runtime --bin ferry >&2
    BIN="${CARGO_TARGET_DIR:-target}/release/ferry"
fi
FERRY_BIN="$BIN" exec python3 tests/bench/distributed.py
