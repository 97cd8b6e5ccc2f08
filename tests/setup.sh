#!/bin/sh
# Installs the Kafka clients that tests/broker.rs drives against `ferry broker`:
# kcat (librdkafka) from Debian, confluent-kafka and kafka-python from PyPI.
# Idempotent: installs only what is missing.
set -eu

if ! command -v kcat >/dev/null 2>&1; then
    echo "setup.sh: installing kcat"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    $SUDO apt-get install -y kcat
fi

missing=""
python3 -c "import confluent_kafka" 2>/dev/null || missing="$missing confluent-kafka"
python3 -c "import kafka" 2>/dev/null || missing="$missing kafka-python"
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    # Debian's python marks the system environment externally managed (PEP 668)
    python3 -m pip install $missing 2>/dev/null \
        || python3 -m pip install --break-system-packages $missing
fi

kcat -V | head -1
python3 -c "import confluent_kafka, kafka; print('confluent-kafka', confluent_kafka.__version__, '(librdkafka', confluent_kafka.libversion()[0] + ')'); print('kafka-python', kafka.__version__)"

# REST API clients that tests/rest.rs drives against `ferry standalone` (issue 6):
# kafka-connect-py (a Kafka Connect REST client) and schemathesis (an OpenAPI fuzzer).
missing=""
python3 -c "import kafka_connect" 2>/dev/null || missing="$missing kafka-connect-py==1.0.0"
python3 -c "import schemathesis" 2>/dev/null || missing="$missing schemathesis==4.32.5"
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    python3 -m pip install $missing 2>/dev/null \
        || python3 -m pip install --break-system-packages $missing
fi
python3 -c "import kafka_connect, schemathesis; print('kafka-connect-py and schemathesis', schemathesis.__version__)" 2>/dev/null \
    || python3 -m schemathesis.cli --version

# PostgreSQL for the connectors/postgres tests (issue 8): a running server on 127.0.0.1:5432
# with trust auth, a database `test`, and wal_level=logical for CDC. Uses the machine's
# cluster when there is one; on a machine without PostgreSQL installs Debian's and creates a
# throwaway cluster. Tests read DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
if [ -z "${DATABASE_URL:-}" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "setup.sh: installing postgresql"
        $SUDO apt-get update
        $SUDO apt-get install -y postgresql
    fi
    PG_VERSION=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -z "$PG_VERSION" ]; then
        PG_VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
        echo "setup.sh: creating a PostgreSQL $PG_VERSION cluster"
        $SUDO pg_createcluster "$PG_VERSION" main -- --auth-local=trust --auth-host=trust
    fi
    pg_running() { pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" { print $4 }' | grep -q online; }
    pg_running || $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
    psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
    # CDC needs logical decoding; parallel tests each use a slot of their own.
    restart=""
    [ "$(psql_admin 'SHOW wal_level')" = logical ] \
        || { psql_admin "ALTER SYSTEM SET wal_level = logical" >/dev/null; restart=1; }
    [ "$(psql_admin 'SHOW max_replication_slots')" -ge 32 ] \
        || { psql_admin "ALTER SYSTEM SET max_replication_slots = 32" >/dev/null; restart=1; }
    [ "$(psql_admin 'SHOW max_wal_senders')" -ge 32 ] \
        || { psql_admin "ALTER SYSTEM SET max_wal_senders = 32" >/dev/null; restart=1; }
    if [ -n "$restart" ]; then
        echo "setup.sh: restarting PostgreSQL for logical replication settings"
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main restart
    fi
    [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'test'")" = 1 ] \
        || psql_admin "CREATE DATABASE test" >/dev/null
    echo "PostgreSQL $PG_VERSION: wal_level=$(psql_admin 'SHOW wal_level'), database test ready"
fi

# S3 sink tests (tests/s3.rs, issue 9): moto's S3 server, and the readers the objects are
# checked with (boto3, fastavro with cramjam for snappy, pyarrow, duckdb). awscli is the baseline of
# tests/bench/s3_sink.sh.
missing=""
python3 -c "import moto.server, flask_cors" 2>/dev/null || missing="$missing moto[server]"
python3 -c "import boto3" 2>/dev/null || missing="$missing boto3"
python3 -c "import fastavro, cramjam" 2>/dev/null || missing="$missing fastavro cramjam"
python3 -c "import pyarrow.parquet" 2>/dev/null || missing="$missing pyarrow"
python3 -c "import duckdb" 2>/dev/null || missing="$missing duckdb"
command -v aws >/dev/null 2>&1 || missing="$missing awscli"
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    python3 -m pip install $missing 2>/dev/null \
        || python3 -m pip install --break-system-packages $missing
fi
python3 -c "import moto, fastavro, pyarrow, duckdb; print('moto', moto.__version__, 'fastavro', fastavro.__version__, 'pyarrow', pyarrow.__version__, 'duckdb', duckdb.__version__)"
