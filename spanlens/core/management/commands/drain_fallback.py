from django.core.management.base import BaseCommand

from spanlens.core.models import RequestFallback
from spanlens.core.tasks import drain_fallback_once


class Command(BaseCommand):
    help = "Write request-log rows that ClickHouse refused earlier (the fallback queue)."

    def handle(self, *args, **options):
        total = RequestFallback.objects.count()
        if total == 0:
            self.stdout.write("The fallback queue is empty.")
            return
        done = 0
        while True:
            result = drain_fallback_once()
            done += result["written"]
            self.stdout.write(_bar(done, total), ending="\r")
            if result["written"] == 0:
                break
        self.stdout.write("")
        remaining = RequestFallback.objects.count()
        if remaining:
            self.stderr.write(f"{remaining} rows still queued: {result.get('error', 'unknown error')}")
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"Wrote {done} rows to ClickHouse."))


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * min(done, total) / max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
