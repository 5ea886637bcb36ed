"""Backups: one folder holding the relational database, the request log and a manifest.

ENCRYPTION_KEY is in neither store and so in no backup: provider keys in the
database are encrypted with it, and a restore without the same key leaves them
unreadable. The manifest records the key's fingerprint (never the key) so a
restore can say when the key differs.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from django.conf import settings

from spanlens.backups import database, requestlog

MANIFEST = "manifest.json"
FORMAT = 1
KEY_REMINDER = (
    "ENCRYPTION_KEY is not in this backup (it lives outside both stores): keep it in a secret manager. "
    "Without the same key, the restored provider keys cannot be decrypted."
)
PREFIX = "spanlens-"

Step = Callable[[str, float], None]


class BackupError(RuntimeError):
    pass


@dataclass
class Result:
    path: Path
    manifest: dict


def key_fingerprint() -> str:
    return hashlib.sha256(settings.ENCRYPTION_KEY if isinstance(settings.ENCRYPTION_KEY, bytes)
                          else str(settings.ENCRYPTION_KEY).encode()).hexdigest()[:16]


def relational_counts() -> dict[str, int]:
    from spanlens.core.models import ApiKey, Organization, Project, ProviderKey
    from spanlens.traces.models import Span, Trace

    return {"organizations": Organization.objects.count(), "projects": Project.objects.count(),
            "api_keys": ApiKey.objects.count(), "provider_keys": ProviderKey.objects.count(),
            "traces": Trace.objects.count(), "spans": Span.objects.count()}


def create_backup(dest: Path, *, step: Step = lambda name, done: None, clickhouse_to: str | None = None) -> Result:
    """Write a backup folder at dest (which must not exist, or be empty)."""
    from spanlens.version import VERSION

    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} already exists and is not empty: give a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        counts = relational_counts()
        step("database", 0.0)
        db_file = database.backup(dest, lambda done: step("database", done))
        step("request log", 0.0)
        log_entry = requestlog.backup(dest, clickhouse_to)
        step("request log", 1.0)
    except Exception:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    manifest = {
        "format": FORMAT,
        "spanlens_version": VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "database": {"vendor": database.vendor(), "file": db_file, "counts": counts},
        "request_log": log_entry,
        "encryption_key_fingerprint": key_fingerprint(),
        "encryption_key": KEY_REMINDER,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return Result(dest, manifest)


def read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((Path(source) / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a Spanlens backup (no {MANIFEST})") from None
    except ValueError:
        raise BackupError(f"{source}/{MANIFEST} is not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not one this version reads ({FORMAT})")
    return manifest


def restore_backup(source: Path, *, step: Step = lambda name, done: None, force: bool = False) -> dict:
    """Put a backup's database and request log in place; returns what was restored (counts)."""
    from spanlens.core import runfile

    source = Path(source)
    manifest = read_manifest(source)
    if runfile.running_server():
        raise BackupError("a Spanlens server is running on this var dir: stop it before restoring")
    if not force and _has_data():
        raise BackupError("the target already has data: restore into a fresh install, or pass --force to replace it")
    step("database", 0.0)
    database.restore(source, manifest["database"]["file"], lambda done: step("database", done))
    step("request log", 0.0)
    rows = requestlog.restore(source, manifest["request_log"], replace=force)
    step("request log", 1.0)
    from django.core.management import call_command

    # A backup from an older version gets this version's schema.
    call_command("migrate", interactive=False, verbosity=0)
    return {"counts": relational_counts(), "request_rows": rows,
            "key_matches": manifest.get("encryption_key_fingerprint") == key_fingerprint()}


def _has_data() -> bool:
    from django.db import connection
    from django.db.utils import DatabaseError

    try:
        if "core_organization" not in connection.introspection.table_names():
            return False
        from spanlens.core.models import Organization

        return Organization.objects.exists()
    except DatabaseError:
        return False


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups named spanlens-* in folder; returns those removed."""
    backups = sorted((p for p in Path(folder).glob(PREFIX + "*") if (p / MANIFEST).exists()), key=lambda p: p.name)
    doomed = backups[:-keep] if keep > 0 else backups
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def timestamped(folder: Path) -> Path:
    return Path(folder) / (PREFIX + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"))
