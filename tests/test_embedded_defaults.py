"""A laptop install listens on loopback only; opening it is a deliberate flag or HOST."""
from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.procs import ROOT, base_env

PRINT_HOSTS = ("import django; django.setup(); from django.conf import settings; "
               "print(','.join(settings.ALLOWED_HOSTS))")


def allowed_hosts(tmp_path, **env) -> str:
    result = subprocess.run([sys.executable, "-c", PRINT_HOSTS], cwd=ROOT, capture_output=True, text=True,
                            env=base_env(tmp_path, DJANGO_SETTINGS_MODULE="spanlens.settings", **env), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def served(db, monkeypatch, settings):
    """run_embedded up to the point it starts uvicorn; returns what uvicorn was asked for."""
    import uvicorn
    from django.conf import settings as live_settings

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    settings.CELERY_IN_PROCESS_WORKER = False
    # run_embedded widens ALLOWED_HOSTS when opened: put it back afterwards.
    monkeypatch.setattr(live_settings, "ALLOWED_HOSTS", list(live_settings.ALLOWED_HOSTS))
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)

    def run(*args):
        call_command("run_embedded", *args, stdout=open("/dev/null", "w"))
        return calls[-1]

    return run


def test_run_embedded_listens_on_loopback_by_default(served, settings):
    hosts = list(settings.ALLOWED_HOSTS)
    assert served()["host"] == "127.0.0.1"
    assert settings.ALLOWED_HOSTS == hosts


def test_the_host_flag_or_env_opens_it_and_then_any_host_name_is_answered(served, settings, monkeypatch):
    assert served("--host", "0.0.0.0")["host"] == "0.0.0.0"
    assert settings.ALLOWED_HOSTS == ["*"]
    monkeypatch.setenv("HOST", "192.168.1.20")
    assert served()["host"] == "192.168.1.20"


def test_the_embedded_default_answers_loopback_names_and_the_web_url_host(tmp_path):
    assert allowed_hosts(tmp_path) == "127.0.0.1,[::1],localhost"
    assert allowed_hosts(tmp_path, WEB_URL="http://spanlens.lan:8000") == "127.0.0.1,[::1],localhost,spanlens.lan"


def test_explicit_allowed_hosts_and_server_installs(tmp_path):
    assert allowed_hosts(tmp_path, ALLOWED_HOSTS="a.example.com, b.example.com") == "a.example.com,b.example.com"
    assert allowed_hosts(tmp_path, DATABASE_URL="postgresql://127.0.0.1:5432/x") == "*"


def test_the_container_listens_on_every_interface_explicitly():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"serve", "web", "--migrate", "--host", "0.0.0.0"]' in dockerfile
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '"serve", "web", "--migrate", "--host", "0.0.0.0"]' in compose
