"""MkDocs hooks: the pages that are generated from the code, so they cannot go stale.

- `<!-- generated: request-log-columns -->`: the request log's columns, from clickhouse/*.sql.
- `<!-- generated: relational-models -->`: every Django model with its fields.
- `<!-- generated: check-env -->`: what `check_env` says about common mistakes, by running it.
- `<!-- generated: api-reference -->`: the `/api/v1` endpoints, from the OpenAPI document.

Screenshots in docs/screenshots/ are refreshed from the browser tests' output
(test-output/screenshots/) when a test run has taken newer ones, and the inline scripts the
theme writes are hashed into site/csp-hashes.json so `/docs/` can allow exactly those.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "screenshots"
_MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


def on_pre_build(config, **_):
    for shot in (ROOT / "docs" / "screenshots").glob("*.png"):
        fresh = SHOTS / shot.name
        if fresh.exists() and fresh.stat().st_mtime > shot.stat().st_mtime:
            shutil.copyfile(fresh, shot)


def on_page_markdown(markdown: str, page, config, files, **_):
    return _MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


# The offline plugin loads this shim (search from file://) from unpkg; the site ships its
# own copy, vendored from npm, so nothing is fetched.
_SHIM = "https://unpkg.com/iframe-worker/shim"
_SHIM_LOCAL = "assets/vendor/iframe-worker-1.0.4/shim.js"


def on_post_build(config, **_):
    site = Path(config["site_dir"])
    hashes = set()
    for html in site.rglob("*.html"):
        text = html.read_text()
        if _SHIM in text:
            depth = len(html.relative_to(site).parts) - 1
            text = text.replace(_SHIM, "../" * depth + _SHIM_LOCAL)
            html.write_text(text)
        for body in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", text, flags=re.S):
            if body.strip():
                hashes.add("'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'")
    (site / "csp-hashes.json").write_text(json.dumps(sorted(hashes)))


# ------------------------------------------------------------------ generators

_BASE_NOTES = {
    "id": "the request id (also the `x-spanlens-request-id` response header)",
    "organization_id": "the tenant: every read is scoped by it",
    "project_id": "the project of the Spanlens key (or `x-spanlens-project`)",
    "api_key_id": "the Spanlens key that made the call",
    "provider_key_id": "the stored provider key the proxy used",
    "provider": "openai, anthropic, gemini, azure, mistral, …",
    "model": "the model the provider answered with (the requested one if it did not say)",
    "endpoint": "the provider path after `/proxy/<provider>/`",
    "stream": "a streamed call (SSE)",
    "prompt_tokens": "input tokens, as the provider reported them (cache reads included)",
    "cache_read_tokens": "input tokens served from the provider's prompt cache",
    "cache_write_tokens": "input tokens written to it (Anthropic)",
    "cost_usd": "the call's cost from the price table; NULL when the model has no price",
    "latency_ms": "from the request's arrival to the last byte sent to the client",
    "proxy_overhead_ms": "the part of it spent in Spanlens, not waiting on the provider",
    "status_code": "the provider's status (or the proxy's own refusal)",
    "request_body": "as sent, up to `BODY_CAP_BYTES`, provider keys masked; empty with `x-spanlens-log-body: meta`",
    "response_body": "as received; a stream reassembled into the provider's non-streaming shape",
    "trace_id": "the SDK trace the call belongs to (`x-spanlens-trace-id`)",
    "span_id": "its span (`x-spanlens-span-id`)",
    "prompt_version_id": "the prompt version it was made from (`x-spanlens-prompt-version`)",
    "user_id": "`x-spanlens-user`: your end user",
    "session_id": "`x-spanlens-session`: the conversation",
    "log_body": "full, meta or none (`x-spanlens-log-body`)",
    "flags": "security findings in the request (JSON)",
    "response_flags": "security findings in the response (JSON)",
    "truncated": "the stream ended before its terminal event",
    "error_message": "the provider's error, or the proxy's",
    "created_at": "when the request arrived (UTC, ms); the table is partitioned by month and kept 365 days",
}


def request_log_columns() -> str:
    """Columns in migration order; an added column carries the comment written above it."""
    rows: list[tuple[str, str, str]] = []
    for sql in sorted((ROOT / "clickhouse").glob("*.sql")):
        text = sql.read_text()
        table = re.search(r"CREATE TABLE IF NOT EXISTS requests\s*\((.*?)\n\)", text, flags=re.S)
        if table:
            for line in table.group(1).splitlines():
                column = re.match(r"\s*(\w+)\s+(.*?),?\s*$", line)
                if column and not line.strip().startswith("--"):
                    kind = re.split(r"\s+(?:DEFAULT|CODEC)\b", column.group(2))[0]
                    rows.append((column.group(1), kind, _BASE_NOTES.get(column.group(1), "")))
        note = ""
        for match in re.finditer(r"((?:--[^\n]*\n)*)ALTER TABLE requests ADD COLUMN IF NOT EXISTS (\w+) (.+?);",
                                 text, flags=re.S):
            # One comment above several ALTERs describes them all.
            note = " ".join(l.lstrip("- ").strip() for l in match.group(1).splitlines()) or note
            kind = re.split(r"\s+(?:DEFAULT|CODEC|AFTER)\b", " ".join(match.group(3).split()))[0]
            rows.append((match.group(2), kind, note))
    lines = ["| column | type | notes |", "|---|---|---|"]
    lines += [f"| `{name}` | `{kind}` | {note} |" for name, kind, note in rows]
    return "\n".join(lines)


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    # Loading settings must not write the embedded default's files into the checkout.
    os.environ.setdefault("SPANLENS_VAR_DIR", tempfile.mkdtemp(prefix="spanlens-docs-"))
    import django

    django.setup()


def relational_models() -> str:
    _django()
    from django.apps import apps

    out: list[str] = []
    for config in sorted(apps.get_app_configs(), key=lambda c: c.name):
        if not config.name.startswith(("spanlens", "evals", "dashboard")):
            continue
        models = sorted(config.get_models(), key=lambda m: m.__name__)
        if not models:
            continue
        out.append(f"### `{config.label}`\n")
        out.append("| model | what it holds | fields |")
        out.append("|---|---|---|")
        for model in models:
            doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            if doc.startswith(model.__name__ + "("):
                doc = ""  # Django's generated signature, not a description
            fields = ", ".join(f"`{f.name}`" for f in model._meta.get_fields()
                               if getattr(f, "concrete", False) and not f.auto_created)
            out.append(f"| **{model.__name__}** | {doc} | {fields} |")
        out.append("")
    return "\n".join(out)


# Mistakes people make, each as the environment check_env reads.
_MISTAKES = [
    ("A server install without an encryption key", {"DATABASE_URL": "postgresql://db/x"}, "check_encryption_key"),
    ("The key pasted as a shell command into .env", {"ENCRYPTION_KEY": "$(openssl rand -base64 32)"},
     "check_encryption_key"),
    ("A key of the wrong length", {"ENCRYPTION_KEY": "c2hvcnQ="}, "check_encryption_key"),
    ("A server install without SECRET_KEY", {"DATABASE_URL": "postgresql://db/x"}, "check_secret_key"),
    ("A short SECRET_KEY", {"SECRET_KEY": "short"}, "check_secret_key"),
    ("No WEB_URL on a server install", {"DATABASE_URL": "postgresql://db/x"}, "check_web_url"),
    ("WEB_URL left at localhost on a server install",
     {"DATABASE_URL": "postgresql://db/x", "WEB_URL": "http://localhost:8000"}, "check_web_url"),
    ("DEBUG on in production", {"DATABASE_URL": "postgresql://db/x", "DEBUG": "1"}, "check_debug"),
    ("A number that is not one", {"LOG_BATCH_SIZE": "2k"}, "check_numbers"),
]


def check_env() -> str:
    from spanlens.core import envcheck

    out: list[str] = []
    for title, env, name in _MISTAKES:
        result = getattr(envcheck, name)(env)
        for check in result if isinstance(result, list) else [result]:
            if check is None or check.status == envcheck.OK:
                continue
            out.append(f"### {title}\n")
            out.append(f"`check_env` says: **{check.name}** ({check.status}) — {check.message}\n")
            if check.fix:
                out.append(f"Fix: `` {check.fix} ``\n")
    return "\n".join(out)


def api_reference() -> str:
    _django()
    from spanlens.openapi.spec import document

    spec = document()
    out: list[str] = []
    by_tag: dict[str, list[str]] = {}
    for path, operations in sorted(spec.get("paths", {}).items()):
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (operation.get("tags") or ["Other"])[0]
            summary = (operation.get("summary") or "").replace("|", "\\|")
            by_tag.setdefault(tag, []).append(f"| `{method.upper()}` | `{path}` | {summary} |")
    for tag in sorted(by_tag):
        out += [f"### {tag}\n", "| method | path | what it does |", "|---|---|---|", *by_tag[tag], ""]
    return "\n".join(out)


GENERATORS = {
    "request-log-columns": request_log_columns,
    "relational-models": relational_models,
    "check-env": check_env,
    "api-reference": api_reference,
}
