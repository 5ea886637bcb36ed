"""`python manage.py bench_setup`: the tenant the benchmark sends its traffic as.

Migrates both stores, then creates an organization, a project, a Spanlens API
key and provider keys (the upstream is a local fake, so any secret does), and
prints them as one JSON line for the benchmark to read.
"""
import json

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from spanlens.core import services
from spanlens.core.models import Organization, RequestFallback
from spanlens.requestlog import queries


class Command(BaseCommand):
    help = "Create a benchmark organization, project, API key and provider keys; print them as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--provider-secret", default="sk-bench-0000000000000000")
        parser.add_argument("--count", action="store_true",
                            help="instead: print how many calls each bench organization has logged")

    def handle(self, *args, provider_secret, count, **options):
        if count:
            self.stdout.write(json.dumps(_logged()))
            return
        call_command("migrate", interactive=False, verbosity=0)
        call_command("clickhouse_migrate", verbosity=0)
        user, _ = get_user_model().objects.get_or_create(username="bench")
        org, project = services.create_organization(f"Bench {user.memberships.count() + 1}", user)
        created = services.create_api_key(project, name="bench")
        for provider in ("openai", "anthropic"):
            services.add_provider_key(project, provider, provider_secret, name=f"bench {provider}")
        self.stdout.write(json.dumps({
            "organization_id": str(org.id),
            "project_id": str(project.id),
            "api_key": created.raw_key,
            "limits_api_key": _limited_key(org, provider_secret),
        }))


def _limited_key(org, provider_secret: str) -> str:
    """A key into a second project whose calls pass four budgets none of the load reaches:
    the benchmark's "limits on" row (spend per day and month, requests per minute, each user)."""
    from spanlens.budgets import services as budgets

    project = services.create_project(org, "Bench limited")
    for provider in ("openai", "anthropic"):
        services.add_provider_key(project, provider, provider_secret, name=f"bench {provider}")
    huge = "1000000000"
    budgets.create_budget(org, scope="project", metric="usd_day", limit=huge, project=project)
    budgets.create_budget(org, scope="project", metric="usd_month", limit=huge, project=project)
    budgets.create_budget(org, scope="project", metric="rpm", limit="10000000", project=project)
    budgets.create_budget(org, scope="user", metric="usd_day", limit=huge, project=project)
    return services.create_api_key(project, name="bench limited").raw_key


def _logged() -> dict:
    """Rows in the request log for the bench organizations, and rows waiting in the fallback queue."""
    rows = sum(
        queries.count_requests(organization_id=str(org.id), retention_days=org.retention_days)
        for org in Organization.objects.filter(name__startswith="Bench ")
    )
    return {"clickhouse_rows": rows, "fallback_rows": RequestFallback.objects.count()}
