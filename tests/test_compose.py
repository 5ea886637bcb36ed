"""The self-hosting files, checked without a Docker engine: the compose file's
services, healthchecks and start order, and that every variable is documented."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCUMENTED = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))


def test_the_stack_has_every_service_with_a_healthcheck():
    assert set(SERVICES) == {"web", "worker", "beat", "postgres", "clickhouse", "redis"}
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"], f"{name} has no healthcheck"


def test_web_serves_dashboard_and_proxy_on_one_port_after_migrating():
    web = SERVICES["web"]
    assert web["ports"] == ["${PORT:-8000}:8000"]
    assert web["command"] == ["python", "manage.py", "serve", "web", "--migrate", "--host", "0.0.0.0"]
    assert "/health/ready" in " ".join(web["healthcheck"]["test"])


def test_web_waits_for_healthy_stores_and_workers_wait_for_web():
    conditions = {name: dep["condition"] for name, dep in SERVICES["web"]["depends_on"].items()}
    assert conditions == {name: "service_healthy" for name in ("postgres", "clickhouse", "redis")}
    for name in ("worker", "beat"):
        assert SERVICES[name]["depends_on"]["web"]["condition"] == "service_healthy"
        assert SERVICES[name]["command"][-1] == name


def test_one_image_for_web_worker_and_beat():
    images = {SERVICES[name]["image"] for name in ("web", "worker", "beat")}
    assert images == {"${SPANLENS_IMAGE:-spanlens:latest}"}


def test_clickhouse_is_the_pinned_server_with_volumes():
    clickhouse = SERVICES["clickhouse"]
    assert clickhouse["image"] == "clickhouse/clickhouse-server:24.10-alpine"
    assert any(v.endswith(":/var/lib/clickhouse") for v in clickhouse["volumes"])
    assert SERVICES["web"]["environment"]["CLICKHOUSE_URL"] == "${CLICKHOUSE_URL:-http://clickhouse:8123}"


def test_every_compose_variable_is_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used, "no ${VAR} found"
    assert used - DOCUMENTED == set(), "document these in .env.example"


def test_every_setting_is_documented():
    text = (ROOT / "spanlens" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|int|bool|float)\("([A-Z][A-Z0-9_]*)"', text))
    assert {"ENCRYPTION_KEY", "DATABASE_URL", "WEB_URL"} <= read
    assert read - DOCUMENTED == set(), "document these in .env.example"
    assert {"RESEND_API_KEY", "RESEND_FROM"} <= DOCUMENTED


def test_the_image_is_slim_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM python:3.11-slim") == 2
    assert re.search(r"^USER spanlens$", dockerfile, re.M)
    assert '"serve", "web", "--migrate"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)


def test_no_nested_interpolation():
    # Compose v1 mangles ${A:-…${B}…}; the bundled postgres password reaches the
    # app as PGPASSWORD instead.
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{[^}]*\$\{", text)
    assert SERVICES["web"]["environment"]["PGPASSWORD"] == "${POSTGRES_PASSWORD:-spanlens}"


def test_docker_compose_accepts_the_file(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    # A clean environment: compose would otherwise interpolate this test run's variables.
    result = subprocess.run([binary, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    web = resolved["services"]["web"]
    assert web["environment"]["DATABASE_URL"] == "postgresql://spanlens@postgres:5432/spanlens"
    assert web["environment"]["CLICKHOUSE_URL"] == "http://clickhouse:8123"
    assert web["environment"]["PORT"] == "8000"
