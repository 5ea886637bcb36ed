"""All configuration, read from the environment (documented in .env.example).

Unset DATABASE_URL means SQLite in var/; unset CLICKHOUSE_URL means embedded chDB
in var/clickhouse/; unset broker means an in-process Celery worker. That is the
embedded default `make run` starts.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import sys
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from spanlens.env import ConfigError, env_bool, env_float, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# The built documentation (make docs), served at /docs/.
DOCS_SITE_DIR = env_str("DOCS_SITE_DIR", str(BASE_DIR / "site"))
VAR_DIR = Path(env_str("SPANLENS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# `manage.py check_env` reports configuration problems itself, all at once: for
# that command only, settings below let errors wait instead of stopping here.
CHECKING_ENV = sys.argv[1:2] == ["check_env"]
EMBEDDED = env_str("CLICKHOUSE_URL") is None and env_str("DATABASE_URL") is None


def _secret_from_file(name: str, make) -> str:
    """Generate a value once into var/ (embedded default only) so restarts keep it."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or _secret_from_file(
    "secret_key", lambda: secrets.token_urlsafe(50)
)

CSRF_TRUSTED_ORIGINS = [o for o in (env_str("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]
PORT = env_int("PORT", 8000)
WEB_URL = (env_str("WEB_URL") or f"http://localhost:{PORT}").rstrip("/")
# The embedded default listens on 127.0.0.1 only (run_embedded), so it answers to
# the loopback names and WEB_URL's host; a server install sits behind its own
# reverse proxy and keeps answering any name unless ALLOWED_HOSTS narrows it.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
_WEB_HOST = urlsplit(WEB_URL).hostname or ""
_WEB_HOST = f"[{_WEB_HOST}]" if ":" in _WEB_HOST else _WEB_HOST
ALLOWED_HOSTS = [h.strip() for h in (env_str("ALLOWED_HOSTS") or "").split(",") if h.strip()] or (
    sorted({*LOOPBACK_HOSTS, _WEB_HOST} - {""}) if EMBEDDED else ["*"]
)
# Behind a reverse proxy that terminates HTTPS the browser's Origin is WEB_URL's,
# not what the app sees: trust it, or every form POST fails the CSRF check.
_WEB_ORIGIN = "/".join(WEB_URL.split("/", 3)[:3])
if env_str("WEB_URL") and _WEB_ORIGIN not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(_WEB_ORIGIN)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "channels",
    "spanlens.core",
    "spanlens.traces",
    "spanlens.sharing",
    "spanlens.security",
    "spanlens.savings",
    "spanlens.anomalies",
    "spanlens.mcp_server",
    "spanlens.backups",
    "spanlens.budgets",
    "spanlens.docsite",
    "spanlens.openapi",
    "dashboard",
    "evals",
    "spanlens.alerts",
    "spanlens.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files from the app itself: one image, no separate file server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "spanlens.core.middleware.RejectNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # ClickHouse unreachable: a 503 page or JSON error saying how many rows wait.
    "dashboard.outage.RequestLogOutageMiddleware",
    # Last, as django-axes requires: it turns a lockout into the sign-in page with the reason.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "spanlens.urls"
ASGI_APPLICATION = "spanlens.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.nav.nav",
            ],
        },
    },
]

# --- Browser defences -----------------------------------------------------------
# Scripts only from our own origin, or inline with this response's nonce
# (nonce="{{ request.csp_nonce }}"); no eval, no plugins, no framing, forms post
# only here. Inline style attributes stay allowed: templates use them for layout,
# and CSS cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (WEB_URL says so): cookies only travel encrypted, and browsers
# are told to come back over HTTPS only (HSTS; SECURE_HSTS_SECONDS=0 turns it off).
HTTPS = WEB_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A reverse proxy that terminates TLS talks plain HTTP to us; name the header it sets
# (e.g. X-Forwarded-Proto) so Django knows the original request was HTTPS. Only set
# it when the proxy always sets or strips that header: clients could forge it otherwise.
_PROTO_HEADER = env_str("SECURE_PROXY_SSL_HEADER")
if _PROTO_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROTO_HEADER.strip().upper().replace("-", "_"), "https")

# --- Relational database ----------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'spanlens.sqlite3'}"
try:
    # Seconds a database connection is reused across requests (0 = one per request).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except ValueError:
    if not CHECKING_ENV:
        raise
    DATABASES = {"default": dj_database_url.parse(f"sqlite:///{VAR_DIR / 'spanlens.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the proxy's logging thread write while pages read.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # Fail fast when the database is down, so health probes answer instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# Several checkouts on one machine share one PostgreSQL: give each its own test database.
DATABASES["default"]["TEST"] = {
    "NAME": env_str("TEST_DB_NAME") or "test_spanlens_" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sign-in throttling (django-axes; see spanlens/core/throttle.py) ------------
# Axes' backend comes first: it refuses a locked-out username or address before
# the password is even checked.
AUTHENTICATION_BACKENDS = [
    "spanlens.core.throttle.SignInThrottle",
    # Refuses the password of members of organizations that require SSO.
    "spanlens.core.sso.PasswordGate",
    "django.contrib.auth.backends.ModelBackend",
    "spanlens.core.sso.SSOBackend",
    "spanlens.core.supabase_auth.SupabaseBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# Either one locks: many passwords against one account, or many accounts from one address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe the failures: axes would wipe them per address too, so anyone
# with an account could sign in between guesses at someone else's and never be locked.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "spanlens.core.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "spanlens.core.throttle.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins need no table of their own
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# --- Single sign-on (OpenID Connect; see spanlens/core/sso.py) -----------------
OIDC_ISSUER = (env_str("OIDC_ISSUER") or "").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID") or ""
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET") or ""
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_ALLOWED_EMAIL_DOMAINS = [
    d.strip().lower().lstrip("@") for d in (env_str("OIDC_ALLOWED_EMAIL_DOMAINS") or "").split(",") if d.strip()
]
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# "idp-group=role,other-group=role" with roles admin, member or viewer.
OIDC_GROUP_ROLES = {
    group.strip(): role.strip()
    for group, _, role in (item.partition("=") for item in (env_str("OIDC_GROUP_ROLES") or "").split(",") if "=" in item)
}
if set(OIDC_GROUP_ROLES.values()) - {"admin", "member", "viewer"}:
    raise ConfigError("OIDC_GROUP_ROLES: roles must be admin, member or viewer (e.g. sso-admins=admin)")
OIDC_REQUIRE_VERIFIED_EMAIL = env_bool("OIDC_REQUIRE_VERIFIED_EMAIL", True)
OIDC_SSO_LABEL = env_str("OIDC_SSO_LABEL", "Sign in with SSO")
OIDC_TIMEOUT_S = env_float("OIDC_TIMEOUT_S", 10.0)
OIDC_TIMEOUT = OIDC_TIMEOUT_S
OIDC_DISCOVERY_TTL_S = env_float("OIDC_DISCOVERY_TTL_S", 3600.0)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_CREATE_USER = True
OIDC_AUTHENTICATE_CLASS = "spanlens.core.sso.SSOStartView"
OIDC_CALLBACK_CLASS = "spanlens.core.sso.SSOCallbackView"

# --- Supabase Auth (see spanlens/core/supabase_auth.py) --------------------------
SUPABASE_URL = (env_str("SUPABASE_URL") or "").rstrip("/")
SUPABASE_ANON_KEY = env_str("SUPABASE_ANON_KEY") or ""
SUPABASE_JWT_SECRET = env_str("SUPABASE_JWT_SECRET") or ""
SUPABASE_TIMEOUT_S = env_float("SUPABASE_TIMEOUT_S", 10.0)

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/requests/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
if STATIC_ROOT.parent == VAR_DIR:
    STATIC_ROOT.mkdir(exist_ok=True)
# Without `collectstatic` (make run from a checkout) serve straight from the source folders.
WHITENOISE_USE_FINDERS = True
# WhiteNoise streams files with a sync iterator, which Django's ASGI handler runs
# in a thread and warns about on every file; for small static files that is fine.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# --- Encryption of provider keys ---------------------------------------------
ENCRYPTION_KEY = env_str("ENCRYPTION_KEY")
ENCRYPTION_KEY_GENERATED = False
if ENCRYPTION_KEY is None and not EMBEDDED:
    if not CHECKING_ENV:
        raise ConfigError(
            "ENCRYPTION_KEY is required outside the embedded default. "
            "Generate one with: openssl rand -base64 32"
        )
elif ENCRYPTION_KEY is None:
    _key_path = VAR_DIR / "encryption_key"
    ENCRYPTION_KEY_GENERATED = not _key_path.exists()
    ENCRYPTION_KEY = _secret_from_file(
        "encryption_key", lambda: __import__("base64").b64encode(os.urandom(32)).decode()
    )

# --- ClickHouse request log ---------------------------------------------------
CLICKHOUSE_URL = env_str("CLICKHOUSE_URL")
CLICKHOUSE_USER = env_str("CLICKHOUSE_USER", "default")
CLICKHOUSE_PASSWORD = env_str("CLICKHOUSE_PASSWORD", "")
CLICKHOUSE_DB = env_str("CLICKHOUSE_DB", "spanlens")
CHDB_PATH = env_str("CHDB_PATH", str(VAR_DIR / "clickhouse"))
# Embedded chDB's allocator keeps memory it freed (inserts, reads) for reuse: about
# 70-170 MB of RSS after a burst. The log writer hands it back to the system at most
# this often (SYSTEM JEMALLOC PURGE); 0 never does.
CHDB_MEMORY_PURGE_S = env_float("CHDB_MEMORY_PURGE_S", 10.0)
# Embedded chDB merges the request log's parts this many rows at a time, one column after
# another (vertical merges): a merge then holds a few MB of each column instead of 8,192
# rows of every column at once (peak RSS under load -40 to -55 MB, bench/results/memory.md).
# A ClickHouse server keeps its own defaults.
CHDB_MERGE_BLOCK_ROWS = env_int("CHDB_MERGE_BLOCK_ROWS", 1024)
# Embedded chDB's allocator options (jemalloc's MALLOC_CONF syntax), set before chDB loads.
# Each of chDB's ~15 pool threads keeps a cache of freed blocks up to 32 KB, which no purge
# returns: past ~500,000 stored rows that held ~110-150 MB. Caching only blocks up to 1 KB:
# 178 -> 69 MB allocated at 600,000 rows (bench/results/memory.md). JE_MALLOC_CONF, even empty
# (chDB's own defaults), wins over this.
CHDB_MALLOC_CONF = env_str("CHDB_MALLOC_CONF", "tcache_max:1024")
# A web process whose rows are built in the log builder (LOG_BUILD_PROCESS) opens embedded chDB
# in a small process of its own (spanlens/requestlog/store.py) and runs the request log's SQL
# through it, so the web process never maps chDB's library (~90 MB) or its working memory.
CHDB_STORE_PROCESS = env_bool("CHDB_STORE_PROCESS", True)
# That process exits after this many seconds without a statement and starts again with the
# next read or insert (~0.3 s): an idle install holds the web process alone. 0 = it never rests.
CHDB_STORE_IDLE_EXIT_S = env_float("CHDB_STORE_IDLE_EXIT_S", 60.0)
# After statements of the embedded worker's tasks alone (alert rules every minute, the anomaly
# detector every five), it rests after this many seconds instead.
CHDB_STORE_BACKGROUND_IDLE_S = env_float("CHDB_STORE_BACKGROUND_IDLE_S", 5.0)
# A ClickHouse cluster name (from the server's remote_servers): clickhouse_migrate then
# creates ReplicatedMergeTree tables with a Distributed table over them, ON CLUSTER.
CLICKHOUSE_CLUSTER = env_str("CLICKHOUSE_CLUSTER")
# Against a ClickHouse server, inserts are asynchronous (async_insert=1), waiting for the
# server's flush (wait_for_async_insert=1) so a row is acknowledged only once stored.
CLICKHOUSE_ASYNC_INSERT = env_bool("CLICKHOUSE_ASYNC_INSERT", True)
# The batch writer flushes when this many rows wait, or after this many ms. Every insert into
# embedded chDB costs ~13 ms of CPU however small it is, and each part it makes is merged
# again later: at 3,000 calls/s, inserting once a second instead of five times took chDB's
# CPU per row from ~100 to ~32 us (bench/results/logpath.md). Rows are in the spool
# meanwhile, so a crash loses none; they show on the dashboard up to ~1.5 s after the call.
LOG_BATCH_SIZE = env_int("LOG_BATCH_SIZE", 2000)
LOG_FLUSH_INTERVAL_MS = env_int("LOG_FLUSH_INTERVAL_MS", 1000)
# Rows held in memory while neither ClickHouse nor the fallback table takes them;
# past this, new rows are counted as dropped (health, dashboard) instead of growing memory.
LOG_QUEUE_MAX_ROWS = env_int("LOG_QUEUE_MAX_ROWS", 200_000)
# Each queued row is also appended to var/spool/ until it is stored, so a killed server
# replays it on the next start. Past this size rows are kept in memory only (health says so);
# 0 turns the spool off.
LOG_SPOOL_MAX_MB = env_int("LOG_SPOOL_MAX_MB", 256)
# Build request-log rows from the spool in a child process (spanlens/requestlog/builder.py)
# rather than in the web process, where that work competes with the event loop for the GIL.
LOG_BUILD_PROCESS = env_bool("LOG_BUILD_PROCESS", True)
# The builder exits after this many seconds without a call to build (an idle install then
# holds one process, not two: ~115-150 MB less) and the web process starts it again with
# the next call, whose row waits in the spool meanwhile (~1 s). 0 = it never rests.
LOG_BUILDER_IDLE_EXIT_S = env_float("LOG_BUILDER_IDLE_EXIT_S", 60.0)
# The log builder and the writer thread run at this nice value (Linux): logging is work that
# can wait a few milliseconds, the event loop's calls cannot. 0 = the same priority.
LOG_WORKER_NICE = env_int("LOG_WORKER_NICE", 5)

# --- Proxy ------------------------------------------------------------------
UPSTREAM_BASE_URLS = {
    "openai": env_str("OPENAI_BASE_URL", "https://api.openai.com"),
    "anthropic": env_str("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "gemini": env_str("GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"),
    # Azure has no global host: each provider key carries its endpoint; this
    # overrides it (tests point it at the mock upstream).
    "azure": env_str("AZURE_OPENAI_BASE_URL"),
    # OpenAI-compatible providers: the base URL their docs give the OpenAI SDK.
    "mistral": env_str("MISTRAL_BASE_URL", "https://api.mistral.ai/v1"),
    "groq": env_str("GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    "deepseek": env_str("DEEPSEEK_BASE_URL", "https://api.deepseek.com/v1"),
    "xai": env_str("XAI_BASE_URL", "https://api.x.ai/v1"),
    "openrouter": env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1"),
    "together": env_str("TOGETHER_BASE_URL", "https://api.together.xyz/v1"),
    "fireworks": env_str("FIREWORKS_BASE_URL", "https://api.fireworks.ai/inference/v1"),
    # Custom endpoints have no default: every custom provider key carries its base URL.
    "custom": "",
}
UPSTREAM_HEADERS_TIMEOUT_S = env_float("UPSTREAM_HEADERS_TIMEOUT_S", 35.0)
STREAM_DEADLINE_S = env_float("STREAM_DEADLINE_S", 290.0)
BODY_CAP_BYTES = env_int("BODY_CAP_BYTES", 64 * 1024)
API_KEY_CACHE_TTL_S = env_float("API_KEY_CACHE_TTL_S", 30.0)
# The response cache's on-disk store (used when REDIS_URL is unset) stays under this size.
RESPONSE_CACHE_MAX_MB = env_int("RESPONSE_CACHE_MAX_MB", 256)

# --- Celery -----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or (
    REDIS_URL if REDIS_URL else "cache+memory://"
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "spanlens")
CELERY_IN_PROCESS_WORKER = CELERY_BROKER_URL.startswith("memory://")
FALLBACK_DRAIN_BATCH = env_int("FALLBACK_DRAIN_BATCH", 500)
HEARTBEAT_INTERVAL_S = env_float("HEARTBEAT_INTERVAL_S", 30.0)

# --- Eval runs ---------------------------------------------------------------------
EVAL_CONCURRENCY = env_int("EVAL_CONCURRENCY", 4)  # judge calls in flight per run
EVAL_HEARTBEAT_S = env_float("EVAL_HEARTBEAT_S", 10.0)
EVAL_STALE_AFTER_S = env_float("EVAL_STALE_AFTER_S", 300.0)  # no heartbeat this long: interrupted, resumed
EVAL_MAX_RETRIES = env_int("EVAL_MAX_RETRIES", 4)  # per judge call, on 429 / 5xx / network errors
EVAL_RETRY_BASE_S = env_float("EVAL_RETRY_BASE_S", 1.0)
EVAL_RETRY_MAX_WAIT_S = env_float("EVAL_RETRY_MAX_WAIT_S", 60.0)

# --- Savings and anomalies -----------------------------------------------------------
SAVINGS_MIN_CALLS = env_int("SAVINGS_MIN_CALLS", 50)  # stored calls in 7 days before a model gets substitutes
ANOMALY_INTERVAL_S = env_float("ANOMALY_INTERVAL_S", 300.0)  # how often beat runs the detector
ANOMALY_THRESHOLD = env_float("ANOMALY_THRESHOLD", 3.0)  # robust z (sigma-equivalent) that opens an anomaly
ANOMALY_MIN_CALLS = env_int("ANOMALY_MIN_CALLS", 20)  # calls in the last hour before latency / error rate count

# --- Alerts ------------------------------------------------------------------------
ALERT_MAX_ATTEMPTS = env_int("ALERT_MAX_ATTEMPTS", 8)  # per delivery, then it is a dead letter
ALERT_RETRY_BASE_S = env_float("ALERT_RETRY_BASE_S", 30.0)  # first wait; doubles after each failure
ALERT_RETRY_MAX_S = env_float("ALERT_RETRY_MAX_S", 3600.0)
ALERT_HTTP_TIMEOUT_S = env_float("ALERT_HTTP_TIMEOUT_S", 10.0)
ALERT_EVALUATE_EVERY_S = env_float("ALERT_EVALUATE_EVERY_S", 60.0)

# --- Operations: access log, /metrics, backups --------------------------------------
# One line per request (method, path, status, ms); never query strings, headers or bodies.
ACCESS_LOG = env_bool("ACCESS_LOG", True)
# /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# With BACKUP_DIR set, beat runs `backup` every BACKUP_INTERVAL_HOURS and keeps the newest BACKUP_KEEP.
BACKUP_DIR = env_str("BACKUP_DIR")
BACKUP_INTERVAL_HOURS = env_float("BACKUP_INTERVAL_HOURS", 24.0)
BACKUP_KEEP = env_int("BACKUP_KEEP", 7)

# --- Production run (`manage.py serve`) ------------------------------------------
ASGI_SERVER = env_str("ASGI_SERVER", "uvicorn")
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2)
CELERY_CONCURRENCY = env_int("CELERY_CONCURRENCY", 2)

# --- Email (invitations, alerts) --------------------------------------------------
# With RESEND_API_KEY, mail goes out through Resend; with EMAIL_HOST, through that SMTP
# server; with neither nothing is sent: the invite form hands the accept link to the
# admin instead, and alert emails are dead letters saying so.
RESEND_API_KEY = env_str("RESEND_API_KEY")
EMAIL_HOST = env_str("EMAIL_HOST") or ""
DEFAULT_FROM_EMAIL = env_str("RESEND_FROM", "Spanlens <notifications@spanlens.io>")
if RESEND_API_KEY:
    EMAIL_BACKEND = "anymail.backends.resend.EmailBackend"
    ANYMAIL = {"RESEND_API_KEY": RESEND_API_KEY}
elif EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# --- Channels ---------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
