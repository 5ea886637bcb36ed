"""What a web process holds once it serves pages: the clients it needs only for sign-in with
a provider, replays, CLI checks or the SDK's own sending (httpx, requests, PyJWT,
mozilla-django-oidc's backend, jsonschema; numpy, which only the anomaly detector needs:
~26 MB) stay unloaded until someone uses them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("httpx", "jwt", "requests", "mozilla_django_oidc.auth", "jsonschema", "numpy")


def test_serving_pages_and_a_password_sign_in_load_none_of_the_optional_clients(tmp_path):
    script = f"""
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
os.environ["SPANLENS_VAR_DIR"] = {str(tmp_path)!r}
import spanlens.asgi  # the web process's application: proxy and Django
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import authenticate, get_user_model
from django.test import Client
from django.urls import get_resolver
get_resolver().url_patterns  # every page's view module
get_user_model().objects.create_user("ada", "ada@example.com", "a-long-password")
client = Client(HTTP_HOST="localhost")
assert client.post("/login/", {{"username": "ada", "password": "a-long-password"}}).status_code == 302
assert client.get("/login/").status_code in (200, 302)
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    # The embedded default (SQLite in the temporary var dir), not the suite's databases.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CLICKHOUSE_URL", "CELERY_BROKER_URL")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
