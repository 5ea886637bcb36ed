"""`manage.py check_env` run the way an operator runs it: a subprocess with a
controlled environment, against the real PostgreSQL and Redis of this machine."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = base64.b64encode(b"x" * 32).decode()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_check(tmp_path, env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "SPANLENS_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check_env", *args],
        env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )


def report(result) -> dict:
    data = json.loads(result.stdout)
    return {c["name"]: c for c in data["checks"]} | {"_": data}


@pytest.fixture
def production_env():
    return {
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test"),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "ENCRYPTION_KEY": GOOD_KEY,
        "SECRET_KEY": "s" * 50,
        "WEB_URL": "https://spanlens.example.com",
    }


def test_embedded_default_passes(tmp_path):
    result = run_check(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All required settings are valid" in result.stdout


def test_good_env_passes_with_latency_shown(tmp_path, production_env):
    env = {k: production_env[k] for k in ("REDIS_URL", "ENCRYPTION_KEY", "SECRET_KEY", "WEB_URL")}
    result = run_check(tmp_path, env)
    assert result.returncode == 0, result.stdout
    assert "✓ REDIS_URL" in result.stdout and " ms)" in result.stdout


def test_production_database_is_probed_with_latency(tmp_path, production_env):
    # No ClickHouse server on this machine: its check fails, the others stand alone.
    result = run_check(tmp_path, production_env, "--json")
    checks = report(result)
    assert checks["_"]["mode"] == "production"
    assert checks["DATABASE_URL"]["status"] == "ok"
    assert checks["DATABASE_URL"]["latency_ms"] is not None
    assert checks["REDIS_URL"]["latency_ms"] is not None
    assert checks["CLICKHOUSE_URL"]["status"] == "error"
    assert "CLICKHOUSE_URL=http://clickhouse:8123" in checks["CLICKHOUSE_URL"]["fix"]


def test_it_rejects_a_key_of_the_wrong_length(tmp_path, production_env):
    short = base64.b64encode(b"x" * 16).decode()
    result = run_check(tmp_path, {**production_env, "ENCRYPTION_KEY": short}, "--json")
    checks = report(result)
    assert result.returncode == 1
    assert checks["ENCRYPTION_KEY"]["status"] == "error"
    assert "16 bytes" in checks["ENCRYPTION_KEY"]["message"]
    assert "openssl rand -base64 32" in checks["ENCRYPTION_KEY"]["fix"]


def test_it_reports_a_missing_key_instead_of_crashing_in_settings(tmp_path, production_env):
    env = {k: v for k, v in production_env.items() if k != "ENCRYPTION_KEY"}
    result = run_check(tmp_path, env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "ENCRYPTION_KEY  missing" in result.stdout
    assert "fix: ENCRYPTION_KEY=<output of `openssl rand -base64 32`>" in result.stdout


def test_it_reports_an_unreachable_database(tmp_path, production_env):
    port = closed_port()
    env = {**production_env, "DATABASE_URL": f"postgresql://127.0.0.1:{port}/spanlens"}
    checks = report(run_check(tmp_path, env, "--json"))
    assert checks["DATABASE_URL"]["status"] == "error"
    assert f"127.0.0.1:{port} is unreachable" in checks["DATABASE_URL"]["message"]


def test_it_reports_unreachable_clickhouse_and_broker(tmp_path, production_env):
    env = {
        **production_env,
        "CLICKHOUSE_URL": f"http://127.0.0.1:{closed_port()}",
        "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
    }
    result = run_check(tmp_path, env, "--json")
    checks = report(result)
    assert result.returncode == 1
    assert "Connection refused" in checks["CLICKHOUSE_URL"]["message"]
    assert checks["REDIS_URL"]["status"] == "error"
    assert checks["DATABASE_URL"]["status"] == "ok"


def test_missing_web_url_fails_in_production(tmp_path, production_env):
    env = {k: v for k, v in production_env.items() if k != "WEB_URL"}
    result = run_check(tmp_path, env, "--quiet")
    assert result.returncode == 1
    assert "invitation links would point at http://localhost:8000" in result.stdout
    assert "fix: WEB_URL=https://" in result.stdout
    # --quiet leaves out the checks that passed
    assert "✓" not in result.stdout


def test_supabase_without_database_url_explains_where_to_find_it(tmp_path, production_env):
    env = {k: v for k, v in production_env.items() if k != "DATABASE_URL"}
    env["SUPABASE_URL"] = "https://abcd.supabase.co"
    env["CLICKHOUSE_URL"] = f"http://127.0.0.1:{closed_port()}"
    checks = report(run_check(tmp_path, env, "--json"))
    assert checks["DATABASE_URL"]["status"] == "error"
    assert "Project Settings → Database → Connection string" in checks["DATABASE_URL"]["fix"]


def test_it_reads_a_dot_env_file_and_flags_unevaluated_shell(tmp_path, production_env):
    (tmp_path / ".env").write_text("ENCRYPTION_KEY=$(openssl rand -base64 32)\n")
    env = {k: v for k, v in production_env.items() if k != "ENCRYPTION_KEY"}
    checks = report(run_check(tmp_path, env, "--json"))
    assert checks["_"]["env_file"] == ".env"
    assert "never evaluate" in checks["ENCRYPTION_KEY"]["message"]


def test_several_web_workers_on_embedded_chdb_are_refused(tmp_path):
    checks = report(run_check(tmp_path, {"WEB_CONCURRENCY": "4"}, "--json"))
    assert checks["WEB_CONCURRENCY"]["status"] == "error"
    assert "CLICKHOUSE_URL" in checks["WEB_CONCURRENCY"]["fix"]


def test_malformed_values_are_reported_not_raised(tmp_path, production_env):
    env = {**production_env, "DATABASE_URL": "nonsense://x", "PORT": "eighty"}
    result = run_check(tmp_path, env, "--json")
    checks = report(result)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot be parsed" in checks["DATABASE_URL"]["message"]
    assert checks["PORT"]["message"] == "must be a whole number, got 'eighty'"


def test_the_spanlens_console_script_runs_it_too(tmp_path):
    script = Path(sys.executable).parent / "spanlens"
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    base = {"PATH": os.environ["PATH"], "SPANLENS_VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run([str(script), "check-env", "--json"], env=base, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and json.loads(result.stdout)["mode"] == "embedded"


def test_every_numeric_setting_is_validated():
    import re

    from spanlens.core.envcheck import NUMBERS

    text = (ROOT / "spanlens" / "settings.py").read_text()
    numeric = set(re.findall(r'env_(?:int|float)\("([A-Z][A-Z0-9_]*)"', text))
    assert numeric - set(NUMBERS) == set(), "add these to envcheck.NUMBERS"
