"""`manage.py export_schema`: regenerate supabase/init.sql from the migrations."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from spanlens.core.schema_export import export

DEFAULT_OUTPUT = Path(settings.BASE_DIR) / "supabase" / "init.sql"


class Command(BaseCommand):
    help = ("Write the PostgreSQL schema of every installed app as one idempotent SQL file "
            "(needs DATABASE_URL pointing at a PostgreSQL it may create a temporary schema in).")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="file to write, - for stdout")

    def handle(self, *args, output, **options):
        try:
            sql = export(connection)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if output == "-":
            self.stdout.write(sql, ending="")
            return
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
        migrations = sql.count('INSERT INTO "django_migrations"')
        self.stdout.write(f"wrote {path} ({migrations} migrations)")
