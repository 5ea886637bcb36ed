"""Embedded chDB merges the request log a column and a few rows at a time (CHDB_MERGE_BLOCK_ROWS),
set on every migration run so a changed setting takes effect; the parts merged so still hold
every row."""
from __future__ import annotations

import uuid

from django.test import override_settings

from spanlens.requestlog import migrate, queries
from spanlens.requestlog.engine import get_engine
from tests.test_requestlog_insert import _full_row


def _table_settings() -> str:
    [row] = get_engine().select(
        "SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = 'requests'")
    return row["q"].partition(" SETTINGS ")[2]


def test_the_embedded_log_merges_one_column_and_few_rows_at_a_time():
    try:
        with override_settings(CHDB_MERGE_BLOCK_ROWS=512):
            assert migrate.apply_migrations() == []
            text = _table_settings()
            assert "merge_max_block_size = 512" in text
            assert "vertical_merge_algorithm_min_rows_to_activate = 1" in text
            assert "vertical_merge_algorithm_min_columns_to_activate = 1" in text
    finally:
        migrate.apply_migrations()
    assert "merge_max_block_size = 1024" in _table_settings()


def test_parts_merged_so_keep_every_row():
    org = str(uuid.uuid4())
    for batch in range(4):  # four inserts: four parts of this partition, then one
        queries.insert_requests([_full_row(org, request_body=f"batch {batch} row {i}") for i in range(300)])
    get_engine().command("OPTIMIZE TABLE requests FINAL")
    assert queries.count_requests(organization_id=org) == 1200
    assert queries.count_matching_requests(organization_id=org, search="batch 3 row 299") == 1
