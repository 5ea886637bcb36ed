"""The SDK as users install it: the wheel built from sdk/python, installed into a fresh
venv without the server, running the README's traced agent against a Spanlens server
in its own process."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests import mock_upstream as mock
from tests.procs import ROOT, base_env, database_url_for, free_port, spawn

# Building a venv and installing into it takes longer than the suite's 120 s default on a busy machine.
pytestmark = pytest.mark.timeout(360)
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


# The dependencies' wheels, fetched from the index once per machine: later runs install offline.
WHEELHOUSE = Path.home() / ".cache" / "spanlens-tests" / "sdk-wheels"


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory) -> Path:
    """A fresh venv with only the SDK wheel (and the openai extra) installed."""
    work = tmp_path_factory.mktemp("sdk")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"),
          str(ROOT / "sdk" / "python")])
    [wheel] = (work / "dist").glob("spanlens_sdk-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "pip"), "--disable-pip-version-check", "-q"]
    offline = subprocess.run([*pip, "install", "--no-index", "--find-links", str(WHEELHOUSE), f"{wheel}[openai]"],
                             capture_output=True, text=True, timeout=300)
    if offline.returncode != 0:
        fetched = subprocess.run([*pip, "download", "-d", str(WHEELHOUSE), f"{wheel}[openai]"],
                                 capture_output=True, text=True, timeout=600)
        if fetched.returncode != 0:
            pytest.skip(f"cannot fetch httpx / openai for a fresh venv: {fetched.stderr[-300:]}")
        _run([*pip, "install", "--no-index", "--find-links", str(WHEELHOUSE), f"{wheel}[openai]"])
    return venv


def test_the_wheel_installs_alone_with_httpx_and_types(sdk_venv):
    installed = _run([str(sdk_venv / "bin" / "pip"), "list", "--format=freeze"]).stdout.lower()
    names = {line.split("==")[0] for line in installed.split()}
    assert {"spanlens-sdk", "httpx", "openai"} <= names
    assert not names & {"django", "celery", "chdb-core-lite", "clickhouse-connect", "channels", "spanlens-server"}
    probe = (
        "import sys, importlib.util, pathlib, spanlens, spanlens.openai, spanlens.prompts\n"
        "assert importlib.util.find_spec('django') is None\n"
        "assert spanlens.Spanlens and spanlens.observe and spanlens.with_user\n"
        "assert (pathlib.Path(spanlens.__file__).parent / 'py.typed').exists()\n"
        "assert spanlens.Spanlens.trace.__doc__ and spanlens.observe.__doc__\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery')))\n"
    )
    assert _run([str(sdk_venv / "bin" / "python"), "-c", probe], cwd="/").stdout.strip() == "[]"
    help_text = _run([str(sdk_venv / "bin" / "spanlens"), "--help"]).stdout
    assert "init" in help_text and "test" in help_text


def _readme_agent() -> str:
    """The traced-agent example exactly as the SDK's documentation page shows it."""
    readme = (ROOT / "docs" / "sdk.md").read_text()
    match = re.search(r"```python\n(# agent\.py.*?)```", readme, re.S)
    assert match, "the SDK page lost its agent.py example"
    return match.group(1)


@pytest.fixture
def test_database_url(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    return database_url_for(connection.settings_dict["NAME"])


def test_the_readme_agent_traces_against_a_server_process(sdk_venv, tmp_path, test_database_url, live_db,
                                                          api_key, provider_keys, mock_upstream):
    key = api_key[1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The server decrypts the provider key this process stored: the same ENCRYPTION_KEY.
    env = base_env(tmp_path, DATABASE_URL=test_database_url, REDIS_URL=REDIS, OPENAI_BASE_URL=mock_upstream.url,
                   ENCRYPTION_KEY=settings.ENCRYPTION_KEY)
    # The server's own request log (embedded chDB in tmp_path) needs its tables first.
    _run([sys.executable, "manage.py", "clickhouse_migrate"], cwd=ROOT, env=env)
    argv = [sys.executable, "-m", "uvicorn", "spanlens.asgi:application", "--port", str(port), "--log-level", "warning"]
    with spawn(argv, env, url=f"{url}/health") as server:
        try:
            _trace_the_readme_agent(sdk_venv, tmp_path, url, key)
        except Exception:
            server.terminate()
            print(server.communicate(timeout=20)[0][-3000:])  # the server's side of the failure
            raise


def _trace_the_readme_agent(sdk_venv: Path, tmp_path: Path, url: str, key: str) -> None:
    script = _readme_agent().replace('"sl_live_..."', repr(key)).replace('"http://localhost:8000"', repr(url))
    (tmp_path / "agent.py").write_text(script)
    out = _run([str(sdk_venv / "bin" / "python"), "agent.py"], cwd=tmp_path,
               env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert out.stdout.strip() == mock.REPLY

    headers = {"Authorization": f"Bearer {key}"}
    [trace] = httpx.get(f"{url}/api/v1/traces?name=support-agent", headers=headers).json()["data"]
    assert (trace["status"], trace["user_id"], trace["session_id"]) == ("completed", "cust-42", "chat-7")
    spans = httpx.get(f"{url}/api/v1/traces/{trace['id']}", headers=headers).json()["data"]["spans"]
    assert sorted((s["name"], s["span_type"]) for s in spans) == [
        ("gpt-4o-mini", "llm"), ("lookup_order", "tool"), ("shipping_eta", "tool")]
    [llm] = [s for s in spans if s["span_type"] == "llm"]
    assert llm["output"]["content"] == mock.REPLY and llm["status"] == "completed"

    # The server logged the call, with the trace and span ids the SDK sent.
    deadline = time.monotonic() + 15
    while True:
        answer = httpx.get(f"{url}/api/v1/requests", headers=headers).json()
        assert answer["success"], answer
        rows = answer["data"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [row] = rows
    assert (row["trace_id"], row["span_id"], row["user_id"]) == (trace["id"], llm["id"], "cust-42")
