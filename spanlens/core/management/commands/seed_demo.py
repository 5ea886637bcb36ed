import time

from django.core.management.base import BaseCommand, CommandError

from spanlens.core.management.commands.clickhouse_migrate import _explain
from spanlens.core.management.commands.drain_fallback import _bar
from spanlens.core.models import Organization, Project


class Command(BaseCommand):
    help = ("Write realistic demo traffic (providers, models, users, sessions, traces, prompt versions) "
            "for the last N days into an organization's request log.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="days of traffic, ending now (default 7)")
        parser.add_argument("--calls-per-day", type=int, default=3000, help="calls per day on average (default 3000)")
        parser.add_argument("--organization", help="organization name or id (default: the first one)")
        parser.add_argument("--project", help="project name or id (default: spread over every project)")
        parser.add_argument("--spike-latency", action="store_true",
                            help="make gpt-4o-mini six times slower in the last hour (an anomaly to find)")
        parser.add_argument("--sample-rate", type=float, default=1.0,
                            help="store this share of successful calls, as a sampled SDK would (default 1)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (the same seed writes the same traffic)")

    def handle(self, *args, **options):
        from spanlens.core import demo_traffic
        from spanlens.requestlog.migrate import apply_migrations

        days, per_day, rate = options["days"], options["calls_per_day"], options["sample_rate"]
        if not 1 <= days <= 90:
            raise CommandError("--days must be between 1 and 90")
        if not 1 <= per_day <= 100_000:
            raise CommandError("--calls-per-day must be between 1 and 100000")
        if not 0 < rate <= 1:
            raise CommandError("--sample-rate must be in (0, 1]")
        organization = self._organization(options["organization"])
        projects = self._projects(organization, options["project"])
        try:
            apply_migrations()
        except Exception as exc:  # chDB folder held by a running server, unreachable ClickHouse…
            raise CommandError(_explain(exc)) from exc
        self.stdout.write(f"Seeding {days} day{'s' if days != 1 else ''} of traffic into {organization.name} "
                          f"({', '.join(p.name for p in projects)})…")
        started = time.monotonic()
        result = demo_traffic.generate(
            organization, projects, days=days, calls_per_day=per_day, seed=options["seed"],
            spike_latency=options["spike_latency"], sample_rate=rate,
            progress=lambda done, total: self.stdout.write(_bar(done, total), ending="\r"),
        )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {result.rows:,} calls in {result.sessions:,} sessions of {result.users} users, "
            f"{result.traces:,} traces, {len(result.prompts)} prompt versions in {time.monotonic() - started:.0f} s."))
        if options["spike_latency"]:
            self.stdout.write("gpt-4o-mini-2024-07-18 is six times slower in the last hour.")

    def _organization(self, value):
        orgs = Organization.objects.order_by("created_at")
        if value:
            match = [o for o in orgs if str(o.id) == value or o.name == value]
            if not match:
                raise CommandError(f"No organization named or with id {value!r}.")
            return match[0]
        org = orgs.first()
        if org is None:
            raise CommandError("No organization yet: start Spanlens once (make run) or create one first.")
        return org

    def _projects(self, organization, value):
        projects = list(Project.objects.filter(organization=organization).order_by("created_at"))
        if value:
            projects = [p for p in projects if str(p.id) == value or p.name == value]
            if not projects:
                raise CommandError(f"No project named or with id {value!r} in {organization.name}.")
        if not projects:
            raise CommandError(f"{organization.name} has no project.")
        return projects
