#!/usr/bin/env bash
# Sets up what the tests need and runs the whole test suite. README.md and .ci/run both
# call this script, so "the tests pass" means the same thing everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# Clients written by others, which the tests drive against Ferry (kcat, Python clients).
tests/setup.sh

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast "$@"
