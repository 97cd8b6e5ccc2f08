#!/usr/bin/env python3
"""Helpers of tests/s3.rs, each a subcommand, talking to real clients only:

  server PORT                     run moto's S3 server on 127.0.0.1:PORT (foreground)
  mkbucket URL BUCKET             create a bucket
  produce BOOTSTRAP TOPIC FILE [PARTITIONS]
                                  produce the records of FILE (JSON lines: {"p": partition,
                                  "ts": timestamp ms, "k": key text or null, "v": value text
                                  or null}) with confluent-kafka, then flush; the topic is
                                  created first with PARTITIONS partitions
  dump URL BUCKET [PREFIX]        every object under PREFIX, decoded by its extension, as one
                                  JSON document: [{"key", "size", "tags", "records": [...]}]
                                  (.json/.json.gz lines, .avro with fastavro, .parquet with
                                  pyarrow and cross-checked with duckdb, .bin/.txt lines)
  uploads URL BUCKET              the multipart uploads still open, as a JSON list of keys
  consume BOOTSTRAP TOPIC COUNT   the first COUNT records of TOPIC (waiting up to 30 s), as
                                  one JSON document: [{"partition", "offset", "headers":
                                  {name: text}, "value": text or null}]

Values are normalized to JSON: datetimes as epoch milliseconds, dates as epoch days, times as
milliseconds of the day, decimals as strings, bytes as base64.
"""
import base64
import datetime
import decimal
import gzip
import io
import json
import sys


def s3(url):
    import boto3
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def normalize(v):
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        # pyarrow gives maps as lists of (key, value) tuples
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return [[normalize(a), normalize(b)] for a, b in v]
        return [normalize(x) for x in v]
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    return v


def decode(key, body):
    if key.endswith(".json.gz"):
        return [json.loads(l) for l in gzip.decompress(body).decode().splitlines() if l]
    if key.endswith(".json"):
        return [json.loads(l) for l in body.decode().splitlines() if l]
    if key.endswith(".avro"):
        import fastavro
        reader = fastavro.reader(io.BytesIO(body))
        return [normalize(r) for r in reader]
    if key.endswith(".parquet"):
        import duckdb
        import pyarrow.parquet as pq
        table = pq.read_table(io.BytesIO(body))
        rows = [normalize(r) for r in table.to_pylist()]
        # duckdb reads the same file: same number of rows, same first column
        import os
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".parquet", delete=False) as f:
            f.write(body)
            path = f.name
        try:
            con = duckdb.connect()
            count = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
            if count != len(rows):
                raise SystemExit(f"{key}: duckdb reads {count} rows, pyarrow {len(rows)}")
            if rows:
                first = table.schema.names[0]
                got = [normalize(r[0]) for r in con.execute(
                    f'select "{first}" from read_parquet(\'{path}\')').fetchall()]
                want = [r[first] for r in rows]
                if got != want:
                    raise SystemExit(f"{key}: duckdb and pyarrow disagree on column {first}")
        finally:
            os.unlink(path)
        return rows
    gz = key.endswith(".gz")
    if gz:
        body = gzip.decompress(body)
    return [base64.b64encode(l).decode() if key.endswith((".bin", ".bin.gz")) else l.decode()
            for l in body.split(b"\n")[:-1]]


def main():
    cmd = sys.argv[1]
    if cmd == "server":
        from moto.server import main as moto_main
        sys.argv = ["moto_server", "-H", "127.0.0.1", "-p", sys.argv[2]]
        moto_main()
    elif cmd == "mkbucket":
        s3(sys.argv[2]).create_bucket(Bucket=sys.argv[3])
    elif cmd == "produce":
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic
        if len(sys.argv) > 5:
            admin = AdminClient({"bootstrap.servers": sys.argv[2]})
            for f in admin.create_topics([NewTopic(sys.argv[3], int(sys.argv[5]), 1)]).values():
                try:
                    f.result(30)
                except Exception as e:  # an existing topic is fine
                    if "TOPIC_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                        raise
        p = Producer({"bootstrap.servers": sys.argv[2], "linger.ms": 20,
                      "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000})
        topic = sys.argv[3]
        errors = []

        def report(err, _msg):
            if err is not None:
                errors.append(str(err))

        with open(sys.argv[4]) as f:
            for line in f:
                r = json.loads(line)
                k = r.get("k")
                v = r.get("v")
                while True:
                    try:
                        p.produce(topic, value=None if v is None else v.encode(),
                                  key=None if k is None else k.encode(),
                                  partition=r.get("p", 0), timestamp=r.get("ts", 0),
                                  on_delivery=report)
                        break
                    except BufferError:
                        p.poll(0.1)
                p.poll(0)
        left = p.flush(60)
        if left or errors:
            raise SystemExit(f"produce: {left} undelivered, errors: {errors[:3]}")
    elif cmd == "dump":
        client = s3(sys.argv[2])
        bucket = sys.argv[3]
        prefix = sys.argv[4] if len(sys.argv) > 4 else ""
        out = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                tags = client.get_object_tagging(Bucket=bucket, Key=o["Key"])["TagSet"]
                out.append({"key": o["Key"], "size": len(body),
                            "tags": {t["Key"]: t["Value"] for t in tags},
                            "records": decode(o["Key"], body)})
        json.dump(out, sys.stdout)
    elif cmd == "consume":
        import time
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": sys.argv[2], "group.id": "s3tool-consume",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([sys.argv[3]])
        want = int(sys.argv[4])
        out = []
        deadline = time.time() + 30
        while len(out) < want and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append({"partition": m.partition(), "offset": m.offset(),
                        "headers": {k: (v or b"").decode("utf-8", "replace")
                                    for k, v in (m.headers() or [])},
                        "value": None if m.value() is None else m.value().decode("utf-8", "replace")})
        c.close()
        json.dump(out, sys.stdout)
    elif cmd == "uploads":
        r = s3(sys.argv[2]).list_multipart_uploads(Bucket=sys.argv[3])
        json.dump([u["Key"] for u in r.get("Uploads", [])], sys.stdout)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
