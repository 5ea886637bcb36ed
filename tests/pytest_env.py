"""Loaded with -p before Django settings are read: points each test worker at its
own chDB folder and var/ (chDB opens a folder in one process only), at the real
PostgreSQL and Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set (make test
sets both), and at a Celery queue no other test run shares."""
import base64
import os
import tempfile

worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
base = os.environ.setdefault("SPANLENS_TEST_TMP", tempfile.mkdtemp(prefix="spanlens-test-"))
os.environ["SPANLENS_VAR_DIR"] = os.path.join(base, worker)
os.environ["CHDB_PATH"] = os.path.join(base, worker, "clickhouse")
os.environ.pop("CLICKHOUSE_URL", None)
os.environ.setdefault("ENCRYPTION_KEY", base64.b64encode(b"k" * 32).decode())
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ["LOG_FLUSH_INTERVAL_MS"] = "20"
# In-process test servers change settings at run time, which a builder child process would
# not see: rows are built in the writer thread there. Server subprocesses use the builder.
os.environ.setdefault("LOG_BUILD_PROCESS", "0")
# The live server answers from threads that outlive each test; connections closed
# after every request let the test database be dropped at the end of the run.
os.environ["DB_CONN_MAX_AGE"] = "0"
os.environ["CELERY_QUEUE"] = f"spanlens-test-{os.getpid()}"
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
if os.environ.get("TEST_REDIS_URL"):
    os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
