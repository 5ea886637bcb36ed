"""Commands beside a running `make run`: recent_requests finds the server on any PORT
(it records its address in the var dir) or says exactly what to pass; the server
writes one access line per request, never a key."""
import json
import subprocess
import sys
import threading
import time

import pytest

from tests.procs import ROOT, base_env, free_port, spawn


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """`manage.py run_embedded` on a non-default port, with the first-run key it printed."""
    tmp = tmp_path_factory.mktemp("embedded")
    port = free_port()
    env = base_env(tmp, PORT=str(port), PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    # Migrated beforehand: on a busy machine a fresh var dir's migrations outlast spawn's wait.
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    argv = [sys.executable, "manage.py", "run_embedded"]
    with spawn(argv, env, url=f"http://127.0.0.1:{port}/health") as proc:
        printed = []
        while not any(line.startswith("Spanlens on") for line in printed):
            printed.append(proc.stdout.readline().strip())
        key = next(line.split(": ", 1)[1] for line in printed if line.startswith("Spanlens API key"))
        # Drained on a thread, so the server never blocks on a full pipe and tests read what it wrote.
        served: list[str] = []
        threading.Thread(target=lambda: served.extend(proc.stdout), daemon=True).start()
        yield {"tmp": tmp, "port": port, "key": key, "served": served}


def manage(embedded, *args, **env):
    # No PORT here: the command must find the server without being told its port.
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=base_env(embedded["tmp"], **env),
    )


def test_recent_requests_finds_the_server_on_another_port(embedded):
    record = json.loads((embedded["tmp"] / "var" / "server.json").read_text())
    assert record["url"] == f"http://127.0.0.1:{embedded['port']}"

    done = manage(embedded, "recent_requests", SPANLENS_API_KEY=embedded["key"])

    assert done.returncode == 0, done.stderr
    assert "No requests logged yet." in done.stdout


def test_without_a_key_it_says_what_to_pass(embedded):
    done = manage(embedded, "recent_requests")
    assert done.returncode == 1
    assert "--api-key sl_live_" in done.stderr and "Traceback" not in done.stderr


def test_when_the_server_is_not_found_it_says_what_to_pass_instead_of_a_chdb_traceback(embedded):
    record = embedded["tmp"] / "var" / "server.json"
    saved = record.read_text()
    record.unlink()
    try:
        done = manage(embedded, "recent_requests", "--url", f"http://127.0.0.1:{free_port()}")
    finally:
        record.write_text(saved)

    assert done.returncode == 1
    assert "held by another process" in done.stderr
    assert "--url http://localhost:PORT" in done.stderr
    assert "Traceback" not in done.stderr and "Cannot lock file" not in done.stderr


def test_the_server_logs_one_line_per_request_without_keys(embedded):
    import httpx

    url = f"http://127.0.0.1:{embedded['port']}"
    httpx.get(f"{url}/api/v1/requests?limit=1&api_key={embedded['key']}",
              headers={"Authorization": f"Bearer {embedded['key']}"})
    httpx.post(f"{url}/proxy/gemini/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaSyLeakCheck0000000",
               json={}, headers={"x-goog-api-key": embedded["key"]})
    deadline = time.monotonic() + 10
    while "generateContent" not in "".join(embedded["served"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    # What the server wrote while serving (the first-run banner before it shows the key once, by design).
    output = "".join(embedded["served"])

    assert "GET /api/v1/requests 200" in output
    assert "POST /proxy/gemini/v1beta/models/gemini-2.0-flash:generateContent 4" in output
    assert embedded["key"] not in output and "AIzaSyLeakCheck" not in output
    line = next(line for line in output.splitlines() if "GET /api/v1/requests" in line)
    assert line.rstrip().endswith("ms")


def test_mcp_on_stdio_relays_to_the_running_server(embedded):
    """chDB belongs to the running server, so `manage.py mcp` relays to its /mcp with the same key."""
    import asyncio

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["manage.py", "mcp"], cwd=str(ROOT),
                                   env=base_env(embedded["tmp"], SPANLENS_API_KEY=embedded["key"]))

    async def ask():
        async with Client(params) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            return names, await client.call_tool("stats", {"period": "yesterday"})

    names, result = asyncio.run(ask())
    assert {"stats", "query_requests", "get_trace", "anomalies", "savings"} <= names
    assert not result.is_error and result.structured_content["requests"] == 0
    assert "POST /mcp 200" in "".join(embedded["served"])
