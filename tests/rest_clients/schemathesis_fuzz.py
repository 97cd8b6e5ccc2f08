"""Fuzzes Ferry's REST API from its own OpenAPI document (/openapi.json) with schemathesis,
for a bounded number of examples per operation, and fails on any 5xx answer.

Usage: python3 schemathesis_fuzz.py http://127.0.0.1:PORT [max-examples]
Run by tests/rest.rs. Only the `not_a_server_error` check is asserted: the goal is that no
request, however malformed, crashes or wedges the worker.
"""

import subprocess
import sys
import tempfile
import urllib.request


def main():
    url = sys.argv[1].rstrip("/")
    examples = sys.argv[2] if len(sys.argv) > 2 else "25"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", "not_a_server_error",
        "--max-examples", examples,
        "--seed", "20261125",
        "--request-timeout", "10",
        "--generation-database", "none",
        "--no-color",
    ]
    # schemathesis keeps caches in the working directory: use a throw-away one.
    with tempfile.TemporaryDirectory(prefix="ferry-schemathesis-") as cwd:
        result = subprocess.run(command, check=False, cwd=cwd)
    # The worker must still answer afterwards.
    with urllib.request.urlopen(f"{url}/connectors", timeout=10) as resp:
        assert resp.status == 200, resp.status
    if result.returncode != 0:
        sys.exit(f"schemathesis failed with exit code {result.returncode}")
    print("schemathesis: no 5xx answers")


if __name__ == "__main__":
    main()
