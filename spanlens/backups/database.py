"""The relational database's half of a backup: SQLite's online backup or pg_dump.

SQLite: the sqlite3 backup API copies a consistent snapshot page by page, even
while the server writes. PostgreSQL: pg_dump's custom format (one consistent
transaction), restored with pg_restore --clean.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.db import connection

SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.dump"

Progress = Callable[[float], None]


class DatabaseBackupError(RuntimeError):
    pass


def vendor() -> str:
    return connection.vendor


def backup(dest: Path, progress: Progress) -> str:
    """Write the database into dest; returns the file name written."""
    if connection.vendor == "sqlite":
        source = sqlite3.connect(settings.DATABASES["default"]["NAME"])
        target = sqlite3.connect(dest / SQLITE_FILE)
        try:
            source.backup(target, pages=256, progress=lambda _s, remaining, total: progress(1 - remaining / max(total, 1)))
        finally:
            target.close()
            source.close()
        progress(1.0)
        return SQLITE_FILE
    if connection.vendor == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(dest / POSTGRES_FILE),
              _dbname()], "pg_dump")
        progress(1.0)
        return POSTGRES_FILE
    raise DatabaseBackupError(f"backups support SQLite and PostgreSQL, not {connection.vendor}")


def restore(source: Path, file_name: str, progress: Progress) -> None:
    if file_name == SQLITE_FILE:
        if connection.vendor != "sqlite":
            raise DatabaseBackupError("this backup holds a SQLite database; unset DATABASE_URL to restore it")
        connection.close()
        target = Path(settings.DATABASES["default"]["NAME"])
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(source / SQLITE_FILE, target)
    elif file_name == POSTGRES_FILE:
        if connection.vendor != "postgresql":
            raise DatabaseBackupError("this backup holds a PostgreSQL dump; set DATABASE_URL to the target database")
        connection.close()
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--dbname", _dbname(), str(source / POSTGRES_FILE)], "pg_restore")
    else:
        raise DatabaseBackupError(f"unknown database file {file_name!r} in the manifest")
    progress(1.0)


def _dbname() -> str:
    """A libpq connection string for pg_dump / pg_restore; the password travels in PGPASSWORD."""
    db = settings.DATABASES["default"]
    parts = [f"dbname={db['NAME']}"]
    for key, name in (("HOST", "host"), ("PORT", "port"), ("USER", "user")):
        if db.get(key):
            parts.append(f"{name}={db[key]}")
    return " ".join(parts)


def _run(argv: list[str], tool: str) -> None:
    if shutil.which(argv[0]) is None:
        raise DatabaseBackupError(f"{tool} is not installed (apt-get install postgresql-client)")
    env = dict(os.environ)
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        env["PGPASSWORD"] = password
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise DatabaseBackupError(f"{tool} failed: {done.stderr.strip()[:500]}")


