"""`manage.py backup DEST`: the database and the request log into a new folder."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from spanlens.backups import services
from spanlens.backups.database import DatabaseBackupError
from spanlens.backups.progress import ProgressBar
from spanlens.backups.requestlog import RequestLogBackupError


class Command(BaseCommand):
    help = "Back up the relational database and the request log into DEST (a new folder)."

    def add_arguments(self, parser):
        parser.add_argument("dest", help="folder to create (must not exist or be empty)")
        parser.add_argument("--clickhouse-to", help="with a ClickHouse server: BACKUP TABLE's destination, "
                                                    "e.g. \"Disk('backups', 'spanlens.zip')\" or S3(…)")

    def handle(self, *args, dest, clickhouse_to, **options):
        try:
            result = services.create_backup(Path(dest), step=ProgressBar(self.stdout, 2), clickhouse_to=clickhouse_to)
        except (services.BackupError, DatabaseBackupError, RequestLogBackupError) as exc:
            raise CommandError(str(exc)) from None
        manifest = result.manifest
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in manifest["database"]["counts"].items())
        self.stdout.write(self.style.SUCCESS(f"Backup written to {result.path}"))
        self.stdout.write(f"  database ({manifest['database']['vendor']}): {counts}")
        entry = manifest["request_log"]
        self.stdout.write(f"  request log: {entry['rows']} rows" if "rows" in entry else
                          f"  request log: not included ({entry['reason']})")
        self.stdout.write(self.style.WARNING(f"  {services.KEY_REMINDER}"))
