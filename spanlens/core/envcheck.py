"""The checks behind `manage.py check_env`: one plain function per concern.

Every function reads an environment mapping (os.environ plus an optional .env
file), never django.conf.settings: the point is to report on a configuration
that may be too broken for settings to load, and to report every problem at
once instead of the first one settings trips over.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping
from urllib.parse import urlparse

OK, WARN, ERROR = "ok", "warn", "error"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", ""}
GENERATE_KEY = "openssl rand -base64 32"
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
SUPABASE_DB_HELP = (
    "In Supabase open Project Settings → Database → Connection string, choose URI "
    "(session mode, port 5432) and set DATABASE_URL=postgresql://postgres.<ref>:<password>@<host>:5432/postgres"
)
CONNECT_TIMEOUT_S = 3


@dataclass
class Check:
    name: str
    status: str  # ok | warn | error
    message: str
    fix: str | None = None
    latency_ms: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


Env = Mapping[str, str]


def get(env: Env, name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def is_embedded(env: Env) -> bool:
    """Mirrors settings.EMBEDDED: no DATABASE_URL and no CLICKHOUSE_URL."""
    return get(env, "CLICKHOUSE_URL") is None and get(env, "DATABASE_URL") is None


def is_debug(env: Env) -> bool:
    return (get(env, "DEBUG") or "").lower() in ("1", "true", "yes", "on")


def broker_url(env: Env) -> str | None:
    return get(env, "CELERY_BROKER_URL") or get(env, "REDIS_URL")


def _unevaluated(name: str, value: str) -> Check | None:
    # docker compose and `--env-file` read .env literally: "$(openssl …)" is not run.
    if value.startswith("$(") or value.startswith("`"):
        return Check(
            name, ERROR, f"{name} holds the shell text {value!r}, which .env files never evaluate",
            f"Run the command yourself and paste its output: {name}=<output of {value.strip('$()`')}>",
        )
    return None


# --- secrets --------------------------------------------------------------------

def check_encryption_key(env: Env) -> Check:
    from spanlens.core.crypto import EncryptionKeyError, decode_key

    value = get(env, "ENCRYPTION_KEY")
    if value is None:
        if is_embedded(env):
            return Check(
                "ENCRYPTION_KEY", WARN,
                "not set: the embedded default generates one into var/encryption_key",
                "Back that file up, or set ENCRYPTION_KEY=$(" + GENERATE_KEY + ") and keep it in a secret manager",
            )
        return Check(
            "ENCRYPTION_KEY", ERROR, "missing: provider keys cannot be encrypted at rest",
            f"ENCRYPTION_KEY=<output of `{GENERATE_KEY}`>  (back it up: losing it makes stored provider keys unrecoverable)",
        )
    shell = _unevaluated("ENCRYPTION_KEY", value)
    if shell:
        return shell
    try:
        decode_key(value)
    except EncryptionKeyError as exc:
        return Check(
            "ENCRYPTION_KEY", ERROR, str(exc),
            f"ENCRYPTION_KEY=<output of `{GENERATE_KEY}`>; if provider keys are already stored, "
            "restore the original key instead (a new one cannot decrypt them)",
        )
    return Check("ENCRYPTION_KEY", OK, "decodes to 32 bytes (AES-256-GCM)")


def check_secret_key(env: Env) -> Check:
    value = get(env, "SECRET_KEY")
    if value is None:
        if is_embedded(env):
            return Check("SECRET_KEY", OK, "not set: the embedded default keeps a generated one in var/secret_key")
        return Check(
            "SECRET_KEY", ERROR,
            "missing: each web replica would generate its own, so sessions break across replicas and restarts",
            f"SECRET_KEY=<output of `{GENERATE_SECRET}`>",
        )
    shell = _unevaluated("SECRET_KEY", value)
    if shell:
        return shell
    if len(value) < 32:
        return Check(
            "SECRET_KEY", WARN, f"only {len(value)} characters; sessions are signed with it",
            f"SECRET_KEY=<output of `{GENERATE_SECRET}`>",
        )
    return Check("SECRET_KEY", OK, "set")


# --- public address ----------------------------------------------------------------

def check_web_url(env: Env) -> Check:
    value = get(env, "WEB_URL")
    port = get(env, "PORT") if (get(env, "PORT") or "").isdecimal() else "8000"
    # Production is "not embedded"; the embedded default is a laptop install
    # where localhost links are expected, so there it is only a warning.
    level = WARN if (is_debug(env) or is_embedded(env)) else ERROR
    fix = "WEB_URL=https://spanlens.example.com  (the address people open the dashboard at)"
    if value is None:
        return Check(
            "WEB_URL", level,
            f"not set: invitation links would point at http://localhost:{port}", fix,
        )
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Check("WEB_URL", ERROR, f"{value!r} is not an http(s) URL", fix)
    if parsed.hostname in LOCAL_HOSTS:
        return Check("WEB_URL", level, f"{value} is a local address: invitation links only work on this machine", fix)
    if parsed.scheme == "http" and not is_debug(env):
        return Check("WEB_URL", WARN, f"{value} is plain http; put HTTPS in front (Caddy, nginx, a tunnel)", fix)
    return Check("WEB_URL", OK, value)


def check_debug(env: Env) -> Check:
    if is_debug(env) and not is_embedded(env):
        return Check("DEBUG", WARN, "on in a production setup: error pages show settings and code", "DEBUG=false")
    return Check("DEBUG", OK, "on" if is_debug(env) else "off")


NUMBERS = {
    "PORT": int, "WEB_CONCURRENCY": int, "LOG_BATCH_SIZE": int, "LOG_FLUSH_INTERVAL_MS": int,
    "LOG_QUEUE_MAX_ROWS": int, "LOG_SPOOL_MAX_MB": int, "LOG_WORKER_NICE": int, "LOG_BUILDER_IDLE_EXIT_S": float,
    "CHDB_MEMORY_PURGE_S": float, "CHDB_STORE_IDLE_EXIT_S": float,
    "CHDB_STORE_BACKGROUND_IDLE_S": float,
    "CHDB_MERGE_BLOCK_ROWS": int,
    "BODY_CAP_BYTES": int, "FALLBACK_DRAIN_BATCH": int, "UPSTREAM_HEADERS_TIMEOUT_S": float,
    "STREAM_DEADLINE_S": float, "API_KEY_CACHE_TTL_S": float, "DB_CONN_MAX_AGE": int, "RESPONSE_CACHE_MAX_MB": int,
    "CELERY_CONCURRENCY": int, "HEARTBEAT_INTERVAL_S": float, "LOGIN_FAILURE_LIMIT": int,
    "LOGIN_LOCKOUT_MINUTES": int, "SECURE_HSTS_SECONDS": int,
    "EVAL_CONCURRENCY": int, "EVAL_HEARTBEAT_S": float, "EVAL_STALE_AFTER_S": float, "EVAL_MAX_RETRIES": int,
    "EVAL_RETRY_BASE_S": float, "EVAL_RETRY_MAX_WAIT_S": float,
    "OIDC_TIMEOUT_S": float, "OIDC_DISCOVERY_TTL_S": float, "SUPABASE_TIMEOUT_S": float,
    "SAVINGS_MIN_CALLS": int, "ANOMALY_INTERVAL_S": float, "ANOMALY_THRESHOLD": float, "ANOMALY_MIN_CALLS": int,
    "ALERT_MAX_ATTEMPTS": int, "ALERT_RETRY_BASE_S": float, "ALERT_RETRY_MAX_S": float,
    "ALERT_HTTP_TIMEOUT_S": float, "ALERT_EVALUATE_EVERY_S": float, "EMAIL_PORT": int,
    "BACKUP_INTERVAL_HOURS": float, "BACKUP_KEEP": int,
}


def check_numbers(env: Env) -> list[Check]:
    problems = []
    for name, kind in NUMBERS.items():
        value = get(env, name)
        if value is None:
            continue
        try:
            kind(value)
        except ValueError:
            word = "a whole number" if kind is int else "a number"
            problems.append(Check(name, ERROR, f"must be {word}, got {value!r}", f"{name}=<{word}> or remove it"))
    return problems


# --- stores ---------------------------------------------------------------------

def _timed(probe: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = probe()
    return round((time.perf_counter() - start) * 1000, 1), result


def check_supabase(env: Env) -> Check | None:
    if get(env, "SUPABASE_URL") and not get(env, "DATABASE_URL"):
        return Check(
            "DATABASE_URL", ERROR,
            "SUPABASE_URL is set but DATABASE_URL is not: Spanlens talks to Supabase's Postgres directly, "
            "not through the Supabase API",
            SUPABASE_DB_HELP,
        )
    return None


def check_database(env: Env) -> Check:
    import dj_database_url

    url = get(env, "DATABASE_URL")
    if url is None:
        if is_embedded(env):
            return Check("DATABASE_URL", OK, "not set: SQLite in var/spanlens.sqlite3 (embedded default)")
        return Check(
            "DATABASE_URL", ERROR,
            "not set while CLICKHOUSE_URL is: several processes would each use a local SQLite file",
            "DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        )
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:
        return Check("DATABASE_URL", ERROR, f"cannot be parsed: {exc}",
                     "DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME")
    if "postgresql" not in config["ENGINE"]:
        return Check("DATABASE_URL", WARN, f"{config['ENGINE'].rsplit('.', 1)[-1]} is not PostgreSQL; "
                     "only PostgreSQL (or Supabase) is supported for production", None)
    where = f"{config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}"
    try:
        latency, _ = _timed(lambda: _ping_postgres(url))
    except Exception as exc:
        return Check("DATABASE_URL", ERROR, f"PostgreSQL at {where} is unreachable: {_first_line(exc)}",
                     _database_fix(url, str(exc)))
    if str(config.get("PORT")) == "6543":
        return Check("DATABASE_URL", WARN, f"PostgreSQL at {where} reachable ({latency} ms), but port 6543 is "
                     "Supabase's transaction pooler, which breaks Django's server-side cursors",
                     "Use the session-mode connection string (port 5432)", latency)
    return Check("DATABASE_URL", OK, f"PostgreSQL at {where} reachable", None, latency)


def _ping_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgis://", "postgresql://"), connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute("SELECT 1")


def _database_fix(url: str, error: str) -> str:
    if "password authentication failed" in error:
        return "Check the user and password in DATABASE_URL"
    if "does not exist" in error:
        return "Create the database (createdb DBNAME) or fix its name at the end of DATABASE_URL"
    if "supabase" in url:
        return SUPABASE_DB_HELP
    return "Start PostgreSQL or fix host/port in DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME"


def check_clickhouse(env: Env) -> Check:
    url = get(env, "CLICKHOUSE_URL")
    if url is None:
        if is_embedded(env):
            return Check("CLICKHOUSE_URL", OK, "not set: embedded chDB in var/clickhouse (one process only)")
        return Check(
            "CLICKHOUSE_URL", ERROR,
            "not set while DATABASE_URL is: embedded chDB opens its folder in one process only, "
            "so web replicas and Celery workers cannot share it",
            "CLICKHOUSE_URL=http://clickhouse:8123 (the bundled container) or https://<host>:8443 (ClickHouse Cloud)",
        )
    import logging

    from spanlens.requestlog.engine import ping_server

    # The HTTP driver logs each failed attempt; the report says it once.
    for noisy in ("urllib3", "urllib3.connectionpool", "clickhouse_connect"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    user = get(env, "CLICKHOUSE_USER") or "default"
    try:
        latency, version = _timed(
            lambda: ping_server(url, user, env.get("CLICKHOUSE_PASSWORD") or "", timeout=CONNECT_TIMEOUT_S)
        )
    except Exception as exc:
        message = _first_line(exc)
        if "authentication" in message.lower() or "password" in message.lower():
            fix = "Check CLICKHOUSE_USER / CLICKHOUSE_PASSWORD"
        else:
            fix = "Start ClickHouse or fix CLICKHOUSE_URL (http://clickhouse:8123, or https://<host>:8443 for Cloud)"
        return Check("CLICKHOUSE_URL", ERROR, f"ClickHouse at {_hide_password(url)} is unreachable: {message}", fix)
    return Check("CLICKHOUSE_URL", OK, f"ClickHouse {version} at {_hide_password(url)} reachable as {user}", None, latency)


def check_broker(env: Env) -> Check:
    url = broker_url(env)
    if url is None or url.startswith("memory://"):
        if is_embedded(env):
            return Check("REDIS_URL", OK, "not set: in-process Celery worker (embedded default)")
        return Check(
            "REDIS_URL", ERROR,
            "no broker: Celery worker and beat run as separate processes in production and need one",
            "REDIS_URL=redis://redis:6379/0 (or CELERY_BROKER_URL=…)",
        )
    name = "CELERY_BROKER_URL" if get(env, "CELERY_BROKER_URL") else "REDIS_URL"
    try:
        latency, _ = _timed(lambda: _ping_broker(url))
    except Exception as exc:
        return Check(name, ERROR, f"broker at {_hide_password(url)} is unreachable: {_first_line(exc)}",
                     f"Start Redis or fix {name}=redis://HOST:6379/0")
    return Check(name, OK, f"broker at {_hide_password(url)} reachable", None, latency)


def _ping_broker(url: str) -> None:
    from spanlens.core.health import ping_broker_url

    ping_broker_url(url, timeout=CONNECT_TIMEOUT_S)


def check_concurrency(env: Env) -> Check | None:
    workers = get(env, "WEB_CONCURRENCY")
    if get(env, "CLICKHOUSE_URL") is None and workers and workers.isdecimal() and int(workers) > 1:
        return Check(
            "WEB_CONCURRENCY", ERROR,
            f"{workers} web workers cannot share embedded chDB (it opens its folder in one process only)",
            "Set CLICKHOUSE_URL to a ClickHouse server, or WEB_CONCURRENCY=1",
        )
    return None


def check_email(env: Env) -> Check:
    if get(env, "RESEND_API_KEY"):
        sender = get(env, "RESEND_FROM")
        if sender is None:
            return Check("RESEND_FROM", WARN, "not set: invitations come from the default sender, "
                         "which Resend rejects unless its domain is verified on your account",
                         "RESEND_FROM=Spanlens <no-reply@your-domain.com>")
        return Check("RESEND_API_KEY", OK, f"invitations are emailed through Resend from {sender}")
    return Check("RESEND_API_KEY", OK, "not set: invitations are not emailed; the invite form shows the "
                 "accept link for an admin to hand over")


# --- all of it ---------------------------------------------------------------------

def run_all(env: Env) -> list[Check]:
    checks: list[Check | None] = [
        check_encryption_key(env),
        check_secret_key(env),
        check_web_url(env),
        check_debug(env),
        *check_numbers(env),
        check_concurrency(env),
        check_supabase(env) or check_database(env),
        check_clickhouse(env),
        check_broker(env),
        check_email(env),
    ]
    return [c for c in checks if c is not None]


def _first_line(exc: Exception) -> str:
    import re

    text = str(exc).strip() or type(exc).__name__
    # HTTP clients bury the cause ("[Errno 111] Connection refused") in a retry story.
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return errno.group(0).strip()
    return text.splitlines()[0][:300]


def _hide_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
