"""Where the request log's backup runs: in this process, in the running embedded server, or on
the ClickHouse server.

chDB opens its folder in one process only. While `make run` is up, the server
holds it, so the backup command asks that server (over loopback, with the
control token it wrote into the var dir) to write the file itself.
"""
from __future__ import annotations

from pathlib import Path

import httpx
from django.conf import settings

from spanlens.core import runfile
from spanlens.requestlog import backup as log_backup

REQUESTS_FILE = "requests.native"


class RequestLogBackupError(RuntimeError):
    pass


def backup(dest: Path, clickhouse_to: str | None) -> dict:
    """The request log into dest (embedded) or to clickhouse_to (server); the manifest's entry."""
    if settings.CLICKHOUSE_URL:
        if not clickhouse_to:
            return {"kind": "skipped", "reason": "a ClickHouse server: pass --clickhouse-to \"Disk('backups', "
                                                 "'spanlens.zip')\" or S3(…) to include it"}
        rows = log_backup.row_total()
        log_backup.backup_table_to(clickhouse_to)
        return {"kind": "clickhouse-backup", "target": clickhouse_to, "rows": rows}
    path = str((dest / REQUESTS_FILE).resolve())
    rows = export_here_or_in_server(path)
    return {"kind": "chdb-native", "file": REQUESTS_FILE, "rows": rows}


def export_here_or_in_server(path: str) -> int:
    from spanlens.requestlog.engine import chdb_held_elsewhere

    if log_backup.engine_open_here() or not chdb_held_elsewhere(settings.CHDB_PATH):
        return log_backup.export_to_file(path)
    url, token = runfile.running_server(), runfile.control_token()
    if not url or not token:
        raise RequestLogBackupError(
            f"the request log in {settings.CHDB_PATH} is held by a process that recorded no address "
            "(is a Spanlens server from another version running?): stop it, or run the backup from its var dir"
        )
    response = httpx.post(f"{url}/ops/backup/requestlog", json={"path": path},
                          headers={"X-Spanlens-Control": token}, timeout=None)
    if response.status_code != 200:
        raise RequestLogBackupError(f"the running server could not write the request log: {response.text[:300]}")
    return int(response.json()["data"]["rows"])


def restore(source: Path, entry: dict, *, replace: bool) -> int | None:
    from spanlens.requestlog.migrate import apply_migrations

    kind = entry.get("kind")
    if kind == "skipped":
        return None
    apply_migrations()
    if kind == "clickhouse-backup":
        if not settings.CLICKHOUSE_URL:
            raise RequestLogBackupError("this backup's request log is on a ClickHouse server: set CLICKHOUSE_URL")
        log_backup.restore_table_from(entry["target"], replace=replace)
        return log_backup.row_total()
    if kind == "chdb-native":
        if not replace and log_backup.row_total():
            raise RequestLogBackupError("the request log already has rows: pass --force to replace them")
        return log_backup.import_from_file(str((source / entry["file"]).resolve()), replace=replace)
    raise RequestLogBackupError(f"unknown request-log entry {kind!r} in the manifest")
