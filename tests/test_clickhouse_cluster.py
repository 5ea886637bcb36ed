"""CLICKHOUSE_CLUSTER: the clustered DDL, checked as text and parsed by ClickHouse's
own parser (EXPLAIN AST in chDB, which parses without running — no cluster here)."""
from __future__ import annotations

import pytest

from spanlens.requestlog import migrate
from spanlens.requestlog.cluster import clustered
from spanlens.requestlog.engine import ClickHouseError, get_engine


def every_clustered_statement() -> list[str]:
    out = []
    for path in migrate.migration_files():
        for statement in migrate._statements(path.read_text()):
            out.extend(clustered(statement, cluster="prod", database="spanlens"))
    return out


def parses(statement: str) -> bool:
    get_engine().select(f"EXPLAIN AST {statement}")
    return True


def test_the_requests_table_becomes_replicated_local_tables_under_a_distributed_one():
    [create] = migrate._statements((migrate.MIGRATIONS_DIR / "0001_requests.sql").read_text())
    local, distributed = clustered(create, cluster="prod", database="spanlens")
    assert local.startswith("CREATE TABLE IF NOT EXISTS requests_local ON CLUSTER 'prod'")
    assert ("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/spanlens/requests_local', '{replica}')"
            in local)
    # Everything after the engine is kept: partitioning, sort key, TTL.
    assert "PARTITION BY toYYYYMM(created_at)" in local
    assert "ORDER BY (organization_id, project_id, created_at, id)" in local
    assert "TTL toDateTime(created_at) + INTERVAL 365 DAY" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS requests ON CLUSTER 'prod' AS requests_local "
        "ENGINE = Distributed('prod', 'spanlens', 'requests_local', cityHash64(organization_id))"
    )


def test_engine_arguments_are_kept_after_the_replication_path():
    [local, _] = clustered(
        "CREATE TABLE t (id UUID, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY id", cluster="c", database="d"
    )
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/d/t_local', '{replica}', v)" in local
    assert local.startswith("CREATE TABLE t_local ON CLUSTER 'c'")


def test_column_changes_reach_both_tables_and_index_changes_only_the_local_one():
    column = clustered("ALTER TABLE requests ADD COLUMN IF NOT EXISTS x String", cluster="c", database="d")
    assert column == [
        "ALTER TABLE requests_local ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS x String",
        "ALTER TABLE requests ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS x String",
    ]
    index = clustered("ALTER TABLE requests ADD INDEX idx id TYPE bloom_filter GRANULARITY 4", cluster="c",
                      database="d")
    assert index == ["ALTER TABLE requests_local ON CLUSTER 'c' ADD INDEX idx id TYPE bloom_filter GRANULARITY 4"]


def test_every_migration_has_a_clustered_form_that_clickhouse_parses():
    statements = every_clustered_statement()
    assert statements
    assert all(parses(s) for s in statements)
    assert all("ON CLUSTER 'prod'" in s for s in statements)


def test_a_statement_without_a_clustered_form_is_refused_by_name():
    with pytest.raises(ValueError, match="no clustered form"):
        clustered("INSERT INTO requests VALUES (1)", cluster="c", database="d")


def test_a_cluster_without_a_server_is_a_clear_error(settings):
    settings.CLICKHOUSE_CLUSTER = "prod"
    settings.CLICKHOUSE_URL = None
    with pytest.raises(ClickHouseError, match="CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL"):
        migrate.statements_for("ALTER TABLE requests ADD COLUMN x String")


def test_a_materialized_view_reads_and_writes_the_local_tables_of_every_node():
    [view] = clustered(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS t_mv TO t_hourly AS SELECT org, count() AS n FROM t GROUP BY org",
        cluster="c", database="d",
    )
    assert view == ("CREATE MATERIALIZED VIEW IF NOT EXISTS t_mv ON CLUSTER 'c' TO t_hourly_local AS "
                    "SELECT org, count() AS n FROM t_local GROUP BY org")
