"""Apply clickhouse/NNNN_*.sql in order, once each, on whichever engine is configured."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from spanlens.requestlog import rollup
from spanlens.requestlog.cluster import clustered
from spanlens.requestlog.engine import ClickHouseError, get_engine

MIGRATIONS_DIR = Path(settings.BASE_DIR) / "clickhouse"
# What a migration's SQL cannot say: filling a new summary table from the rows already stored.
AFTER = {"0013_hourly_rollup.sql": lambda: rollup.rebuild(rollup.HOURLY),
         "0014_users_rollup.sql": lambda: rollup.rebuild(rollup.USERS),
         "0015_sessions_rollup.sql": lambda: rollup.rebuild(rollup.SESSIONS)}


def migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def statements_for(statement: str) -> list[str]:
    """A migration statement as this install runs it: as written on one node, or in its
    replicated + distributed form when CLICKHOUSE_CLUSTER names a cluster."""
    cluster = settings.CLICKHOUSE_CLUSTER
    if not cluster:
        return [statement]
    if not settings.CLICKHOUSE_URL:
        raise ClickHouseError("CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL: embedded chDB is a single node.")
    return clustered(statement, cluster=cluster, database=settings.CLICKHOUSE_DB)


def _stored_rows() -> int:
    rows = get_engine().select("SELECT count() AS n FROM requests")
    return int(rows[0]["n"]) if rows else 0


def apply_migrations(report=None) -> list[str]:
    """Returns the names applied this time (empty when already up to date). report(text), when
    given, hears each step as it starts (a rollup's first sum over a big log takes a while)."""
    report = report or (lambda text: None)
    engine = get_engine()
    for statement in statements_for(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY name"
    ):
        engine.command(statement)
    done = {r["name"] for r in engine.select("SELECT name FROM schema_migrations")}
    applied = []
    for path in migration_files():
        if path.name in done:
            continue
        report(f"applying {path.name}")
        for written in _statements(path.read_text()):
            for statement in statements_for(written):
                engine.command(statement)
        if path.name in AFTER:
            report(f"  summing the {_stored_rows():,} rows already stored into it")
            AFTER[path.name]()
        engine.command(
            "INSERT INTO schema_migrations (name) VALUES ({name:String})", {"name": path.name}
        )
        applied.append(path.name)
    return applied
