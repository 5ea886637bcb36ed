"""The request log's half of a backup: SQL that copies the whole table out and back in.

Across tenants on purpose (a backup is of the installation, not of one
organization), so it lives apart from the tenant-scoped queries.

Embedded chDB: the table is written to one Native file (column names and types
included) by a single INSERT … SELECT, which reads one snapshot of the table's
parts, so rows arriving meanwhile are either wholly in or wholly out. It must
run in the process that holds the chDB folder. A ClickHouse server backs up with
its own BACKUP TABLE … TO a disk or S3 (the server's configuration names them).
"""
from __future__ import annotations

import os

from spanlens.requestlog import rollup
from spanlens.requestlog.engine import get_engine

TABLE = "requests"


def row_total() -> int:
    rows = get_engine().select(f"SELECT count() AS n FROM {TABLE}")
    return int(rows[0]["n"]) if rows else 0


def export_to_file(path: str) -> int:
    """Write every row to a Native file at path (which must not exist); returns the rows written."""
    engine = get_engine()
    engine.command(
        f"INSERT INTO FUNCTION file({{path:String}}, 'Native') SELECT * FROM {TABLE}", {"path": path}
    )
    if os.path.getsize(path) == 0:  # an empty table writes no block at all
        return 0
    rows = engine.select("SELECT count() AS n FROM file({path:String}, 'Native')", {"path": path})
    return int(rows[0]["n"]) if rows else 0


def import_from_file(path: str, *, replace: bool = False) -> int:
    """Load a Native file written by export_to_file; with replace, the table is emptied first."""
    engine = get_engine()
    if replace:
        engine.command(f"TRUNCATE TABLE {TABLE}")
    if os.path.getsize(path):
        engine.command(f"INSERT INTO {TABLE} SELECT * FROM file({{path:String}}, 'Native')", {"path": path})
    rollup.rebuild()  # the hourly totals of the rows now stored, not of those replaced
    return row_total()


def backup_table_to(target: str) -> None:
    """BACKUP TABLE on a ClickHouse server; target is its destination, e.g. Disk('backups', 'x.zip')
    or S3('https://bucket…/x', 'key', 'secret'). It names server configuration, not user input."""
    engine = get_engine()
    engine.command(f"BACKUP TABLE `{engine.database}`.{TABLE} TO {target}")


def restore_table_from(target: str, *, replace: bool = False) -> None:
    engine = get_engine()
    if replace:
        engine.command(f"DROP TABLE IF EXISTS `{engine.database}`.{TABLE} SYNC")
    engine.command(f"RESTORE TABLE `{engine.database}`.{TABLE} FROM {target}")
    rollup.rebuild()


def engine_open_here() -> bool:
    """Whether this process already holds the request log (the embedded server, its worker)."""
    from spanlens.requestlog import engine

    return engine._engine is not None
