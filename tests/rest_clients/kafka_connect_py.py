"""Drives Ferry's REST API with kafka-connect-py, a Kafka Connect REST client from PyPI:
create, inspect, pause, resume, restart and delete a connector.

Usage: python3 kafka_connect_py.py http://127.0.0.1:PORT /path/to/input.txt
Exits non-zero on the first failed check. Run by tests/rest.rs.
"""

import sys
import time

from kafka_connect import KafkaConnect


def wait_for(what, check, limit=20.0):
    deadline = time.time() + limit
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def states(kc, name):
    status = kc.get_connector_status(name)
    return status["connector"]["state"], [t["state"] for t in status["tasks"]]


def main():
    url, input_file = sys.argv[1], sys.argv[2]
    kc = KafkaConnect(url=url)
    name = "py-source"

    info = kc.get_cluster_info()
    assert "version" in info and "kafka_cluster_id" in info, info

    plugins = kc.list_connector_plugins()
    assert any(p["class"].endswith("FileStreamSourceConnector") for p in plugins), plugins

    config = {
        "connector.class": "FileStreamSource",
        "file": input_file,
        "topic": "py-topic",
        "tasks.max": "1",
    }
    validation = kc.validate_connector_config("FileStreamSource", dict(config, name=name))
    assert validation["error_count"] == 0, validation

    created = kc.create_connector({"name": name, "config": config})
    assert created["name"] == name and created["type"] == "source", created
    assert kc.list_connectors() == [name]
    expanded = kc.list_connectors(expand="status")
    assert name in expanded, expanded
    assert kc.get_connector(name)["tasks"] == [{"connector": name, "task": 0}]
    assert kc.get_connector_config(name)["topic"] == "py-topic"
    wait_for("RUNNING", lambda: states(kc, name) == ("RUNNING", ["RUNNING"]))
    tasks = kc.list_connector_tasks(name)
    assert tasks[0]["id"] == {"connector": name, "task": 0}, tasks
    assert kc.get_connector_task_status(name, 0)["state"] == "RUNNING"

    wait_for(
        "active topics",
        lambda: kc.list_connector_topics(name).get(name, {}).get("topics") == ["py-topic"],
    )

    updated = kc.update_connector(name, dict(config, topic="py-topic-2"))
    assert updated["config"]["topic"] == "py-topic-2", updated

    kc.pause_connector(name)
    wait_for("PAUSED", lambda: states(kc, name) == ("PAUSED", ["PAUSED"]))
    kc.resume_connector(name)
    wait_for("RUNNING after resume", lambda: states(kc, name) == ("RUNNING", ["RUNNING"]))

    assert kc.restart_connector(name) is None  # 204: the instance alone
    restarted = kc.restart_connector(name, include_tasks=True)  # 202 with a status
    assert restarted["name"] == name, restarted
    kc.restart_connector_task(name, 0)
    wait_for("RUNNING after restart", lambda: states(kc, name) == ("RUNNING", ["RUNNING"]))

    kc.stop_connector(name)
    wait_for("STOPPED", lambda: states(kc, name) == ("STOPPED", []))
    kc.resume_connector(name)
    wait_for("RUNNING after stop", lambda: states(kc, name) == ("RUNNING", ["RUNNING"]))

    kc.delete_connector(name)
    assert kc.list_connectors() == []
    print("kafka-connect-py: all checks passed")


if __name__ == "__main__":
    main()
