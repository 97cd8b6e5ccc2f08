#!/usr/bin/env bash
# Installs what tests/bench/broker.sh needs that normal builds and CI do not:
#   - the tansu broker (crates.io `tansu`, with a storage engine: the default features have
#     none), the peer the benchmark compares `ferry broker` with;
#   - Debian's cmake, which the `rdkafka` crate needs to build librdkafka for the bench
#     client (tests/bench/kafka-bench, a crate outside the workspace), and curl's headers:
#     librdkafka 2.12.1's rdkafka_conf.c includes <curl/curl.h> under `#ifdef` of a macro
#     that its CMake config always defines (to 0), so the build needs the header even
#     without curl support (nothing of curl is linked).
# Idempotent: does only what is missing. Both builds are heavy on this 2-core machine (tansu
# takes ~20 minutes), so they run under `nice -n 10` in their own target directories.
#
#   tests/bench/broker_setup.sh            # install, waiting for the builds
#   tests/bench/broker_setup.sh --background   # start the tansu install and return at once
#                                              # (log: $TOOLS/tansu-install.log)
#
# TOOLS (default /var/tmp/ferry-bench-tools) is where the binaries go; it is outside the
# repository and outside every CARGO_TARGET_DIR that CI uses.
set -euo pipefail
tools=${TOOLS:-/var/tmp/ferry-bench-tools}
tansu_version=${TANSU_VERSION:-0.6.0}
mkdir -p "$tools"

missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] \
    || missing="$missing libcurl4-openssl-dev"
if [ -n "$missing" ]; then
    echo "broker_setup.sh: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    $SUDO apt-get install -y $missing
fi

install_tansu() {
    # dynostore gives the memory:// engine, libsql the sqlite:// one.
    CARGO_TARGET_DIR="$tools/tansu-target" nice -n 10 \
        cargo install --locked --root "$tools" --version "$tansu_version" \
        tansu --features dynostore,libsql
}

if [ -x "$tools/bin/tansu" ]; then
    echo "broker_setup.sh: tansu present: $("$tools/bin/tansu" --version 2>/dev/null || echo "$tools/bin/tansu")"
elif [ "${1:-}" = "--background" ]; then
    echo "broker_setup.sh: building tansu in the background, log in $tools/tansu-install.log"
    (install_tansu >"$tools/tansu-install.log" 2>&1; echo "exit $?" >>"$tools/tansu-install.log") &
    echo $! >"$tools/tansu-install.pid"
else
    install_tansu
fi
