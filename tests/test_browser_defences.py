"""The browser-facing defences: the Content-Security-Policy on every page, templates
that need no inline script, and HTTPS settings that follow WEB_URL."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.test import Client

from tests.procs import ROOT, base_env

PAGES = ["/requests/", "/users/", "/traces", "/settings/projects/", "/settings/api-keys/",
         "/settings/provider-keys/", "/settings/members/", "/settings/audit/"]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("spanlens/*/templates")]


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_policy_without_inline_or_eval_scripts(owner, org, path):
    client = Client()
    client.force_login(owner)
    response = client.get(path)
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_signed_out_pages_have_the_policy_too(db):
    for path in ("/login/", "/invite/not-a-token/", "/admin/login/"):
        assert "script-src 'self'" in Client().get(path)["Content-Security-Policy"]


def _templates():
    for folder in TEMPLATE_DIRS:
        yield from folder.rglob("*.html")


def test_no_template_has_an_inline_handler_or_a_script_without_the_nonce():
    """What the policy would block: on*= attributes, javascript: links, inline <script> without a nonce."""
    problems = []
    for path in _templates():
        text = path.read_text()
        for match in re.finditer(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", text):
            problems.append(f"{path.relative_to(ROOT)}: inline handler {match.group(0)[-30:]!r}")
        if "javascript:" in text:
            problems.append(f"{path.relative_to(ROOT)}: javascript: URL")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'nonce="{{ request.csp_nonce }}"' not in tag:
                problems.append(f"{path.relative_to(ROOT)}: inline {tag} needs nonce=\"{{{{ request.csp_nonce }}}}\"")
    assert problems == []


PRINT = ("import django; django.setup(); from django.conf import settings as s; "
         "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
         "getattr(s, 'SECURE_PROXY_SSL_HEADER', None))")


def https_settings(tmp_path, **env) -> str:
    result = subprocess.run([sys.executable, "-c", PRINT], cwd=ROOT, capture_output=True, text=True,
                            env=base_env(tmp_path, DJANGO_SETTINGS_MODULE="spanlens.settings", **env), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_https_web_url_secures_cookies_and_turns_on_hsts(tmp_path):
    assert https_settings(tmp_path, WEB_URL="https://spanlens.example.com") == "True True 31536000 None"
    assert https_settings(tmp_path, WEB_URL="https://spanlens.example.com", SECURE_HSTS_SECONDS="0") == (
        "True True 0 None")
    assert https_settings(tmp_path) == "False False 0 None"


def test_the_proxy_ssl_header_is_named_by_its_env_var(tmp_path):
    assert https_settings(tmp_path, WEB_URL="https://spanlens.example.com",
                          SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto").endswith(
        "('HTTP_X_FORWARDED_PROTO', 'https')")


def test_hsts_goes_out_on_https_requests(owner, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in Client().get("/login/")
