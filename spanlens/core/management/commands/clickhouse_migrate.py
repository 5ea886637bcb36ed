from django.core.management.base import BaseCommand, CommandError

from spanlens.requestlog.engine import ClickHouseError, get_engine
from spanlens.requestlog.migrate import apply_migrations


class Command(BaseCommand):
    help = "Apply clickhouse/*.sql to the request log (idempotent; chDB or CLICKHOUSE_URL)."

    def handle(self, *args, **options):
        try:
            applied = apply_migrations(report=self.stdout.write)
        except ClickHouseError as exc:
            raise CommandError(f"ClickHouse refused the migration: {exc}") from exc
        except Exception as exc:  # chDB folder locked by a running server, bad URL…
            raise CommandError(_explain(exc)) from exc
        engine = get_engine().name
        if applied:
            self.stdout.write(f"applied {len(applied)} migration(s) ({engine}).")
        else:
            self.stdout.write(f"ClickHouse schema is up to date ({engine}).")


def _explain(exc: Exception) -> str:
    text = str(exc)
    if "EmbeddedServer" in text or "lock" in text.lower():
        return (
            "The embedded chDB folder is open in another process (is `make run` running?). "
            "chDB opens its folder in one process only: stop the server first, or set "
            f"CLICKHOUSE_URL to use a ClickHouse server. ({text})"
        )
    return f"Could not reach ClickHouse: {text}"
