#!/usr/bin/env python3
"""Distributed-mode figures (issue 7), printed with the baseline measured in the same run.

Started by tests/bench/distributed.sh (which builds the release binary). Everything runs on
loopback with free ports: one `ferry broker` and `ferry distributed` workers with
session.timeout.ms 1500, heartbeat.interval.ms 300, scheduled.rebalance.max.delay.ms 0.

1. Failover: file sources append to their topics all the time; `kill -9` one worker and
   time until each of its sources' topics grows again (polled every 10 ms through the
   broker). Baseline: session.timeout.ms, the time the group needs to notice at all.
2. Rebalance at load: CONNECTORS sink connectors x TASKS tasks on 3 workers; time until a
   4th worker runs its share with everything RUNNING again, until everything runs again
   after a worker leaves (SIGTERM), and after a `kill -9`. Baseline: the same rebalances
   with no connectors.
3. Worker RSS at that load, against an idle worker's RSS in the same run.
"""

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

print = functools.partial(print, flush=True)  # noqa: A001 (progress shows as it happens)
BIN = os.environ["FERRY_BIN"]
CONNECTORS = int(os.environ.get("CONNECTORS", "100"))
TASKS = int(os.environ.get("TASKS", "4"))
SOURCES = int(os.environ.get("SOURCES", "6"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SESSION_MS = 1500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def write(method, url, body=None, limit=60):
    """A write, retried while the group rebalances (409 'momentarily' / 'conflicting')."""
    deadline = time.time() + limit
    while True:
        status, value = http(method, url, body)
        message = value.get("message", "") if isinstance(value, dict) else ""
        if status != 409 or "already exists" in message or time.time() > deadline:
            return status, value
        time.sleep(0.05)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Cluster:
    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.broker_addr = f"127.0.0.1:{free_port()}"
        self.broker = subprocess.Popen(
            [BIN, "broker", "--listen", self.broker_addr, "--num-partitions", str(TASKS),
             "--data-dir", os.path.join(self.dir, "broker")],
            stderr=open(os.path.join(self.dir, "broker.log"), "w"))
        self.wait_port(self.broker_addr)
        self.workers = []  # (process, url)
        self.logs = {}  # url -> log file
        self.started = 0

    @staticmethod
    def wait_port(addr):
        host, port = addr.split(":")
        for _ in range(200):
            try:
                socket.create_connection((host, int(port)), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"nothing listens on {addr}")

    def add_worker(self):
        i = self.started
        self.started += 1
        config = os.path.join(self.dir, f"worker{i}.yaml")
        with open(config, "w") as f:
            f.write(f"""bootstrap.servers: {self.broker_addr}
group.id: bench
listeners: http://127.0.0.1:0
session.timeout.ms: {SESSION_MS}
heartbeat.interval.ms: 300
scheduled.rebalance.max.delay.ms: 0
offset.flush.interval.ms: 1000
num.partitions: {TASKS}
key.converter: org.apache.kafka.connect.storage.StringConverter
value.converter: org.apache.kafka.connect.storage.StringConverter
""")
        log = os.path.join(self.dir, f"worker{i}.log")
        p = subprocess.Popen([BIN, "distributed", config], stderr=open(log, "w"),
                             env=dict(os.environ, FERRY_LOG="info"))
        url = None
        for _ in range(400):
            with open(log) as f:
                for line in f:
                    if "REST API listening on " in line:
                        url = line.split("REST API listening on ")[1].strip()
            if url:
                break
            time.sleep(0.05)
        if not url:
            raise SystemExit(f"worker {i} did not start:\n" + open(log).read())
        self.workers.append((p, url))
        self.logs[url] = log
        return p, url

    def statuses(self, url=None):
        url = url or self.workers[0][1]
        status, body = http("GET", f"{url}/connectors?expand=status")
        return body if status == 200 and isinstance(body, dict) else {}

    def all_running(self, expected, on=None, url=None):
        """Whether every connector of `expected` runs with all its tasks (and, with `on`,
        at least one task on each of those workers)."""
        s = self.statuses(url)
        seen = set()
        for name, tasks in expected.items():
            entry = s.get(name, {}).get("status")
            if not entry or entry["connector"]["state"] != "RUNNING":
                return False
            if len(entry["tasks"]) != tasks or any(t["state"] != "RUNNING" for t in entry["tasks"]):
                return False
            seen.update(t["worker_id"] for t in entry["tasks"])
        return on is None or all(w in seen for w in on)

    def wait(self, cond, limit=120):
        start = time.time()
        while time.time() - start < limit:
            if cond():
                return time.time() - start
            time.sleep(0.02)
        raise SystemExit("timed out waiting; logs in " + self.dir)

    def assigned_after(self, since, urls):
        """When one of `urls` first logged an applied assignment after `since` (epoch
        seconds); waits for it."""
        deadline = time.time() + 120
        while time.time() < deadline:
            for url in urls:
                with open(self.logs[url]) as f:
                    for line in f:
                        if "assignment applied" not in line:
                            continue
                        at = log_time(line)
                        if at is not None and at > since:
                            return at
            time.sleep(0.02)
        raise SystemExit("no assignment logged; logs in " + self.dir)

    def stop(self):
        for p, _ in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.workers:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.broker.send_signal(signal.SIGTERM)
        self.broker.wait(timeout=20)


def log_time(line):
    """The epoch seconds of a log line's RFC 3339 UTC timestamp."""
    import datetime
    stamp = line.split(" ", 1)[0].rstrip("Z")
    try:
        d = datetime.datetime.fromisoformat(stamp[:26])
    except ValueError:
        return None
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def worker_id(url):
    return url.replace("http://", "").rstrip("/")


def end_offsets(consumer, topics):
    from kafka import TopicPartition
    parts = [TopicPartition(t, p) for t in topics for p in range(TASKS)]
    for attempt in range(100):
        try:
            ends = consumer.end_offsets(parts)
            break
        except (KeyError, Exception):  # metadata not yet known to the client
            if attempt == 99:
                raise
            for t in topics:
                consumer.partitions_for_topic(t)
            time.sleep(0.02)
    out = {t: 0 for t in topics}
    for tp, o in ends.items():
        out[tp.topic] += o
    return out


def failover(root):
    """Figure 1: kill -9 to producing again elsewhere."""
    from kafka import KafkaConsumer
    c = Cluster(root, "failover")
    for _ in range(3):
        c.add_worker()
    expected = {}
    inputs = []
    for i in range(SOURCES):
        path = os.path.join(c.dir, f"in{i}.txt")
        open(path, "w").close()
        inputs.append(path)
        url = c.workers[i % 3][1]
        st, body = write("POST", f"{url}/connectors", {
            "name": f"src{i}", "config": {
                "connector.class": "FileStreamSource", "file": path, "topic": f"t{i}"}})
        assert st == 201, body
        expected[f"src{i}"] = 1
    c.wait(lambda: c.all_running(expected))
    stop = threading.Event()

    def appender():
        n = 0
        while not stop.is_set():
            for path in inputs:
                with open(path, "a") as f:
                    f.write(f"line-{n:08}\n")
            n += 1
            time.sleep(0.01)

    t = threading.Thread(target=appender, daemon=True)
    t.start()
    consumer = KafkaConsumer(bootstrap_servers=c.broker_addr, api_version=(2, 5))
    topics = [f"t{i}" for i in range(SOURCES)]
    results = []
    for round_ in range(ROUNDS):
        time.sleep(2)
        s = c.statuses()
        # The worker running the most sources.
        load = {}
        for name in expected:
            w = s[name]["status"]["tasks"][0]["worker_id"]
            load.setdefault(w, []).append(name)
        victim_id, victims = max(load.items(), key=lambda kv: len(kv[1]))
        idx = next(i for i, (_, u) in enumerate(c.workers) if worker_id(u) == victim_id)
        victim_topics = [f"t{name[3:]}" for name in victims]
        before = end_offsets(consumer, victim_topics)
        p, _ = c.workers.pop(idx)
        os.kill(p.pid, signal.SIGKILL)
        killed = time.time()
        p.wait()
        # Quiet first: its topics stop growing once the dead worker's last batch is in.
        time.sleep(0.05)
        before = end_offsets(consumer, victim_topics)
        again = {}
        while len(again) < len(victim_topics) and time.time() - killed < 60:
            now = end_offsets(consumer, victim_topics)
            for topic in victim_topics:
                if topic not in again and now[topic] > before[topic]:
                    again[topic] = time.time() - killed
            time.sleep(0.01)
        worst = max(again.values()) if again else float("nan")
        results.append(worst)
        print(f"  round {round_ + 1}: killed {victim_id} running {len(victims)} sources; "
              f"producing again after {', '.join(f'{v:.2f}' for v in sorted(again.values()))} s "
              f"(worst {worst:.2f} s)", flush=True)
        c.add_worker()
        c.wait(lambda: c.all_running(expected))
    stop.set()
    t.join()
    consumer.close()
    c.stop()
    shutil.rmtree(c.dir, ignore_errors=True)
    return results


def rebalances(root, connectors):
    """Figures 2 and 3 for `connectors` sinks of TASKS tasks (0: the baseline)."""
    c = Cluster(root, f"rebalance-{connectors}")
    for _ in range(3):
        c.add_worker()
    idle_rss = [rss_mb(p.pid) for p, _ in c.workers]
    expected = {}
    start = time.time()
    for i in range(connectors):
        url = c.workers[i % 3][1]
        st, body = write("POST", f"{url}/connectors", {
            "name": f"sink{i}", "config": {
                "connector.class": "FileStreamSink", "file": os.path.join(c.dir, f"out{i}.txt"),
                "topics": f"t{i}", "tasks.max": str(TASKS)}})
        assert st == 201, (st, body)
        expected[f"sink{i}"] = TASKS
    created = time.time() - start
    running = c.wait(lambda: c.all_running(expected)) + created
    time.sleep(2)
    loaded_rss = [rss_mb(p.pid) for p, _ in c.workers]
    # Each event is timed twice: until a worker logs its new assignment (the rebalance
    # itself, the only thing to see without connectors), and until every task runs again.
    out = {}
    joined = time.time()
    _, url = c.add_worker()
    on = [worker_id(u) for _, u in c.workers] if connectors else None
    c.wait(lambda: c.all_running(expected, on=on))
    out["join"] = time.time() - joined
    out["join-assigned"] = c.assigned_after(joined, [url]) - joined
    # A worker leaves cleanly (SIGTERM): its work runs elsewhere.
    p, url = c.workers.pop(1)
    left = time.time()
    p.send_signal(signal.SIGTERM)
    c.wait(lambda: c.all_running(expected, url=c.workers[0][1]) and all(
        t["worker_id"] != worker_id(url)
        for e in c.statuses().values() for t in e["status"]["tasks"]))
    out["leave"] = time.time() - left
    out["leave-assigned"] = c.assigned_after(left, [u for _, u in c.workers]) - left
    p.wait()
    # kill -9 of another.
    p, url = c.workers.pop(1)
    killed = time.time()
    os.kill(p.pid, signal.SIGKILL)
    c.wait(lambda: c.all_running(expected, url=c.workers[0][1]) and all(
        t["worker_id"] != worker_id(url)
        for e in c.statuses().values() for t in e["status"]["tasks"]))
    out["kill"] = time.time() - killed
    out["kill-assigned"] = c.assigned_after(killed, [u for _, u in c.workers]) - killed
    p.wait()
    c.stop()
    shutil.rmtree(c.dir, ignore_errors=True)
    out.update({"created": created, "running": running, "idle_rss": idle_rss,
                "loaded_rss": loaded_rss})
    return out


def main():
    root = tempfile.mkdtemp(prefix="ferry-distributed-bench.")
    try:
        print(f"== failover: {SOURCES} file sources on 3 workers, kill -9 of the busiest, "
              f"{ROUNDS} rounds (session.timeout.ms {SESSION_MS}, max.delay 0)")
        worst = failover(root)
        base = SESSION_MS / 1000
        print(f"failover (kill -9 -> producing again elsewhere): worst {max(worst):.2f} s, "
              f"median {sorted(worst)[len(worst) // 2]:.2f} s; goal < 3 s; "
              f"baseline session.timeout.ms {base:.2f} s; ratio {max(worst) / base:.2f}")

        print(f"== rebalances: baseline with no connectors, then {CONNECTORS} connectors x "
              f"{TASKS} tasks on 3 workers")
        empty = rebalances(root, 0)
        load = rebalances(root, CONNECTORS)
        print(f"created {CONNECTORS} connectors through REST in {load['created']:.2f} s; "
              f"all {CONNECTORS * TASKS} tasks RUNNING after {load['running']:.2f} s")
        for what, label in [("join", "a 4th worker joins, until it runs its share"),
                            ("leave", "a worker leaves (SIGTERM), until its work runs elsewhere"),
                            ("kill", "a worker is killed (kill -9), until its work runs elsewhere")]:
            b = empty[f"{what}-assigned"]
            print(f"rebalance, {label}: {load[what]:.2f} s with {CONNECTORS * TASKS} tasks "
                  f"(first new assignment after {load[what + '-assigned']:.2f} s); "
                  f"baseline, the same rebalance with no connectors: {b:.2f} s; "
                  f"ratio {load[what] / b:.2f}")
        idle = sum(load["idle_rss"]) / 3
        loaded = sum(load["loaded_rss"]) / 3
        print(f"worker RSS: idle {idle:.1f} MB; with {CONNECTORS} connectors x {TASKS} tasks "
              f"over 3 workers {', '.join(f'{r:.1f}' for r in load['loaded_rss'])} MB "
              f"(mean {loaded:.1f} MB, ratio {loaded / idle:.2f})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
