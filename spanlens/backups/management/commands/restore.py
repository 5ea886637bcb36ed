"""`manage.py restore SRC`: put a backup in place, into a fresh install (or --force)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from spanlens.backups import services
from spanlens.backups.database import DatabaseBackupError
from spanlens.backups.progress import ProgressBar
from spanlens.backups.requestlog import RequestLogBackupError


class Command(BaseCommand):
    help = "Restore a backup made by `backup` (stop the server first)."

    def add_arguments(self, parser):
        parser.add_argument("source", help="the backup folder")
        parser.add_argument("--force", action="store_true", help="replace the data already here")

    def handle(self, *args, source, force, **options):
        try:
            done = services.restore_backup(Path(source), step=ProgressBar(self.stdout, 2), force=force)
        except (services.BackupError, DatabaseBackupError, RequestLogBackupError) as exc:
            raise CommandError(str(exc)) from None
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in done["counts"].items())
        self.stdout.write(self.style.SUCCESS(f"Restored {source}: {counts}"))
        if done["request_rows"] is not None:
            self.stdout.write(f"  request log: {done['request_rows']} rows")
        if not done["key_matches"]:
            self.stdout.write(self.style.ERROR(
                "  ENCRYPTION_KEY differs from the one this backup was made with: stored provider keys will "
                "not decrypt. Set ENCRYPTION_KEY (or var/encryption_key) to the original key."
            ))
