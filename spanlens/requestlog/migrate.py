"""Apply clickhouse/NNNN_*.sql in order, once each, on whichever engine is configured."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from spanlens.requestlog import rollup
from spanlens.requestlog.cluster import clustered
from spanlens.requestlog.engine import ClickHouseError, get_engine

MIGRATIONS_DIR = Path(settings.BASE_DIR) / "clickhouse"
# What a migration's SQL cannot say: filling a summary table (new, or with new columns) from
# the rows already stored. Each runs once after every pending migration is in place, since it
# sums into the rollup's latest shape, which a later migration may have changed.
AFTER = {"0013_hourly_rollup.sql": rollup.HOURLY,
         "0014_users_rollup.sql": rollup.USERS,
         "0015_sessions_rollup.sql": rollup.SESSIONS,
         "0016_hourly_token_mix.sql": rollup.HOURLY}


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
    applied, to_sum = [], []
    for path in migration_files():
        if path.name in done:
            continue
        report(f"applying {path.name}")
        for written in _statements(path.read_text()):
            for statement in statements_for(written):
                engine.command(statement)
        applied.append(path.name)
        if path.name in AFTER:
            to_sum.append(path.name)  # recorded once its rollup is summed: a crash before runs it again
        else:
            _record(path.name)
    rollups = list(dict.fromkeys(AFTER[name] for name in to_sum))
    for of in rollups:
        report(f"summing the {_stored_rows():,} rows already stored into {of.table}")
        rollup.rebuild(of)
    for name in to_sum:
        _record(name)
    if engine.name == "chdb":
        engine.command(_EMBEDDED_MERGES.format(rows=max(int(settings.CHDB_MERGE_BLOCK_ROWS), 1)))
    return applied


# Embedded chDB shares the web process's memory: its merges of the request log go one column
# at a time, a few rows at a time (CHDB_MERGE_BLOCK_ROWS). Set on every start, so a changed
# setting takes effect; a ClickHouse server keeps its own defaults.
_EMBEDDED_MERGES = (
    "ALTER TABLE requests MODIFY SETTING merge_max_block_size = {rows}, "
    "vertical_merge_algorithm_min_rows_to_activate = 1, vertical_merge_algorithm_min_columns_to_activate = 1"
)


def _record(name: str) -> None:
    get_engine().command("INSERT INTO schema_migrations (name) VALUES ({name:String})", {"name": name})
