#!/usr/bin/env python3
"""confluent-kafka consumer group against `ferry broker`: two consumers in two processes
share a topic's partitions, rebalance when the second joins and when it leaves, and no
record is lost (at-least-once: a record may come twice around a rebalance).

usage: confluent_group.py BOOTSTRAP TOPIC PARTITIONS      (the driver)
       confluent_group.py --member BOOTSTRAP TOPIC GROUP OUT STOPFILE   (one member)
The driver prints "OK ..." and exits 0 on success.
"""
import os
import subprocess
import sys
import tempfile
import time


def member(bootstrap, topic, group, out, stopfile):
    from confluent_kafka import Consumer

    log = open(out, "a", buffering=1)

    def on_assign(consumer, partitions):
        log.write("ASSIGNED " + ",".join(str(p.partition) for p in partitions) + "\n")

    def on_revoke(consumer, partitions):
        log.write("REVOKED " + ",".join(str(p.partition) for p in partitions) + "\n")

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 200,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
    })
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not os.path.exists(stopfile):
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        log.write(f"MSG {msg.partition()} {msg.offset()} {msg.value().decode()}\n")
    consumer.close()  # commits and leaves the group
    log.write("CLOSED\n")


def read(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def assignment(path):
    """The member's current partitions according to its log."""
    current = None
    for line in read(path):
        if line.startswith("ASSIGNED "):
            current = set(int(p) for p in line[9:].split(",") if p)
        elif line.startswith("REVOKED"):
            current = set()
    return current


def values(path):
    return [line.split(" ", 3)[3] for line in read(path) if line.startswith("MSG ")]


def wait(what, cond, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise SystemExit(f"FAIL: timed out waiting for {what}")


def driver(bootstrap, topic, partitions):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name, future in admin.create_topics([NewTopic(topic, partitions, 1)]).items():
        future.result(30)  # raises if the topic cannot be created

    tmp = tempfile.mkdtemp(prefix="ferry-group-")
    group = "confluent-group-test"
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})

    def produce(tag, n):
        for i in range(n):
            producer.produce(topic, key=f"{tag}-{i}", value=f"{tag}-{i}")
        assert producer.flush(30) == 0
        return {f"{tag}-{i}" for i in range(n)}

    procs = {}

    def start(name):
        out, stop = os.path.join(tmp, name + ".log"), os.path.join(tmp, name + ".stop")
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, "--member", bootstrap, topic, group, out, stop])
        return out, stop

    a_out, a_stop = start("a")
    wait("member a to get all partitions", lambda: assignment(a_out) == set(range(partitions)))
    first = produce("first", 40)
    wait("member a to read the first batch", lambda: first <= set(values(a_out)))

    b_out, b_stop = start("b")
    wait("the group to split the partitions between a and b", lambda: (
        assignment(a_out) and assignment(b_out)
        and assignment(a_out) | assignment(b_out) == set(range(partitions))
        and not assignment(a_out) & assignment(b_out)))
    split = (sorted(assignment(a_out)), sorted(assignment(b_out)))
    second = produce("second", 40)
    wait("a and b to read the second batch",
         lambda: second <= set(values(a_out)) | set(values(b_out)))
    if not (second & set(values(a_out)) and second & set(values(b_out))):
        raise SystemExit("FAIL: the second batch was not shared between a and b")

    open(b_stop, "w").close()
    procs["b"].wait(30)
    wait("member a to take all partitions back", lambda: assignment(a_out) == set(range(partitions)))
    third = produce("third", 40)
    wait("member a to read the third batch", lambda: third <= set(values(a_out)))
    open(a_stop, "w").close()
    procs["a"].wait(30)

    everything = set(values(a_out)) | set(values(b_out))
    missing = (first | second | third) - everything
    if missing:
        raise SystemExit(f"FAIL: lost records {sorted(missing)[:10]}")
    if procs["a"].returncode or procs["b"].returncode:
        raise SystemExit("FAIL: a member exited with an error")
    print(f"OK split a={split[0]} b={split[1]}, {len(everything)} records")


if __name__ == "__main__":
    if sys.argv[1] == "--member":
        member(*sys.argv[2:7])
    else:
        driver(sys.argv[1], sys.argv[2], int(sys.argv[3]))
