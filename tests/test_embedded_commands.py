"""Commands beside a running `make run`: recent_requests finds the server on any PORT
(it records its address in the var dir) or says exactly what to pass; the server
writes one access line per request, never a key."""
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.procs import ROOT, base_env, free_port, spawn


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """`manage.py run_embedded` on a non-default port, with the first-run key it printed."""
    from tests.mock_upstream import MockUpstream

    tmp = tmp_path_factory.mktemp("embedded")
    port = free_port()
    upstream = MockUpstream().start()
    env = base_env(tmp, PORT=str(port), PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", OPENAI_BASE_URL=upstream.url)
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
        yield {"tmp": tmp, "port": port, "key": key, "served": served, "pid": proc.pid}
    upstream.stop()


def manage(embedded, *args, **env):
    # No PORT here: the command must find the server without being told its port.
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=base_env(embedded["tmp"], **env),
    )


def test_the_embedded_server_opens_its_request_log_in_its_store_process(embedded):
    """`make run`'s command applies the log's schema through the store it starts, as every
    later statement goes: the web process itself never maps chDB."""
    from pathlib import Path

    import psutil

    def maps_chdb(pid: int) -> bool:
        return any(line.endswith("/_chdb.abi3.so") for line in Path(f"/proc/{pid}/maps").read_text().splitlines())

    httpx.get(f"http://127.0.0.1:{embedded['port']}/api/v1/requests", timeout=20,
              headers={"Authorization": f"Bearer {embedded['key']}"}).raise_for_status()
    stores = [p for p in psutil.Process(embedded["pid"]).children() if "spanlens.requestlog.store" in p.cmdline()]
    assert len(stores) == 1 and maps_chdb(stores[0].pid)
    assert not maps_chdb(embedded["pid"])


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


def shell(tmp, code: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=base_env(tmp))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


READ_BACK = (
    "import json; from spanlens.backups.services import relational_counts; from spanlens.core.models import "
    "ProviderKey; from spanlens.core.crypto import decrypt; from spanlens.requestlog.backup import row_total; "
    "print(json.dumps({'counts': relational_counts(), 'secret': decrypt(ProviderKey.objects.get("
    "provider='openai').encrypted_secret), 'rows': row_total()}))"
)


def test_backup_while_the_server_runs_and_restore_into_a_fresh_var_dir(embedded, tmp_path):
    import openai

    from tests.mock_upstream import OPENAI_KEY

    added = manage(embedded, "add_provider_key", "openai", OPENAI_KEY)
    assert added.returncode == 0, added.stderr
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{embedded['port']}/proxy/openai/v1",
                           api_key=embedded["key"], max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    time.sleep(1.5)  # the writer flushes within LOG_FLUSH_INTERVAL_MS

    dest = tmp_path / "backup-1"
    made = manage(embedded, "backup", str(dest))

    assert made.returncode == 0, made.stderr
    assert "[2/2] request log" in made.stdout and "100%" in made.stdout
    assert "ENCRYPTION_KEY is not in this backup" in made.stdout
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["request_log"] == {"kind": "chdb-native", "file": "requests.native", "rows": 3}
    assert manifest["database"]["counts"]["provider_keys"] == 1
    assert OPENAI_KEY not in (dest / "manifest.json").read_text()
    # The server stays up and the restore refuses to overwrite a var dir it is serving.
    refused = manage(embedded, "restore", str(dest), "--force")
    assert refused.returncode == 1 and "stop it before restoring" in refused.stderr

    fresh = tmp_path / "fresh"
    restored = subprocess.run([sys.executable, "manage.py", "restore", str(dest)], cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=base_env(fresh))
    assert restored.returncode == 0, restored.stderr
    assert "ENCRYPTION_KEY differs" not in restored.stdout

    back = json.loads(shell(fresh, READ_BACK))
    assert back == {"counts": manifest["database"]["counts"], "secret": OPENAI_KEY, "rows": 3}
    again = subprocess.run([sys.executable, "manage.py", "restore", str(dest)], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env=base_env(fresh))
    assert again.returncode == 1 and "--force" in again.stderr
