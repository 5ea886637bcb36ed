"""Container healthcheck for beat (and the worker): is its heartbeat recent?"""
from django.core.management.base import BaseCommand, CommandError

from spanlens.core import health


class Command(BaseCommand):
    help = "Exit 0 when the named heartbeat (beat or worker) is younger than three intervals."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=["beat", "worker"])

    def handle(self, *args, name, **options):
        at = health.heartbeat_at(name)
        limit = health.stale_after_s()
        if at is None:
            raise CommandError(f"no {name} heartbeat recorded yet")
        age = health.age_s(at)
        if age > limit:
            raise CommandError(f"last {name} heartbeat {age:.0f}s ago (limit {limit:.0f}s)")
        self.stdout.write(f"{name} heartbeat {age:.0f}s ago")
