"""WEB_URL is the address people use: its origin is trusted for form posts, so a
reverse proxy that terminates HTTPS does not break every form."""
from __future__ import annotations

import subprocess
import sys

from tests.procs import ROOT, base_env

PRINT_ORIGINS = ("import django; django.setup(); from django.conf import settings; "
                 "print(','.join(settings.CSRF_TRUSTED_ORIGINS))")


def trusted(tmp_path, **env) -> str:
    result = subprocess.run([sys.executable, "-c", PRINT_ORIGINS], cwd=ROOT, capture_output=True, text=True,
                            env=base_env(tmp_path, DJANGO_SETTINGS_MODULE="spanlens.settings", **env), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_web_url_origin_is_trusted_for_forms(tmp_path):
    assert trusted(tmp_path, WEB_URL="https://spanlens.example.com/") == "https://spanlens.example.com"


def test_explicit_origins_are_kept_and_not_repeated(tmp_path):
    origins = trusted(tmp_path, WEB_URL="https://spanlens.example.com",
                      CSRF_TRUSTED_ORIGINS="https://spanlens.example.com,https://admin.example.com")
    assert origins == "https://spanlens.example.com,https://admin.example.com"


def test_no_web_url_trusts_nothing_extra(tmp_path):
    assert trusted(tmp_path) == ""
