#!/usr/bin/env python3
"""kcat (librdkafka) against `ferry broker`: produce and consume with every compression
codec (the broker stores compressed batches unchanged), then a consumer group (-G) that
commits its offsets and resumes after them.

usage: kcat_codecs.py BOOTSTRAP TOPIC_PREFIX
Prints "OK ..." and exits 0 on success.
"""
import subprocess
import sys

bootstrap, prefix = sys.argv[1], sys.argv[2]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def kcat(args, stdin=None, timeout=60):
    result = subprocess.run(
        ["kcat", "-b", bootstrap, "-X", "broker.address.family=v4"] + args,
        input=stdin, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"FAIL: kcat {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


for codec in CODECS:
    topic = f"{prefix}-{codec}"
    lines = [f"{codec} line {i} " + "x" * (i % 50) for i in range(300)]
    kcat(["-P", "-t", topic, "-z", codec, "-K", ":"],
         stdin="".join(f"k{i % 5}:{line}\n" for i, line in enumerate(lines)))
    got = kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k:%s\n"]).splitlines()
    want = [f"k{i % 5}:{line}" for i, line in enumerate(lines)]
    # partitions interleave; per key (one key, one partition) the order must hold
    by_key = lambda lines, k: [l for l in lines if l.startswith(f"k{k}:")]
    if sorted(got) != sorted(want) or any(by_key(got, k) != by_key(want, k) for k in range(5)):
        fail(f"codec {codec}: read {len(got)} lines back, {len(set(got) & set(want))} of them right")

# Consumer group: the first run reads everything and commits; the second only the new lines.
topic, group = f"{prefix}-group", f"{prefix}-kcat-group"
kcat(["-P", "-t", topic, "-z", "snappy"], stdin="".join(f"a{i}\n" for i in range(50)))
first = kcat(["-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", topic]).splitlines()
if sorted(first) != sorted(f"a{i}" for i in range(50)):
    fail(f"group run 1 read {len(first)} lines")
kcat(["-P", "-t", topic, "-z", "zstd"], stdin="".join(f"b{i}\n" for i in range(20)))
second = kcat(["-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", topic]).splitlines()
if sorted(second) != sorted(f"b{i}" for i in range(20)):
    fail(f"group run 2 did not resume at the committed offset: read {len(second)} lines: {second[:5]}")
print(f"OK codecs {','.join(CODECS)}; group read {len(first)} then {len(second)}")
