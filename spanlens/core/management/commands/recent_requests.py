"""Show the latest request-log rows of an organization.

With the embedded default, chDB's folder belongs to the running server process
(it opens in one process only), so while `make run` is up this command asks the
server's /api/v1/requests with your Spanlens API key instead of opening chDB.
"""
from __future__ import annotations

import os

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from spanlens.core.models import Organization

COLUMNS = ("created_at", "provider", "model", "status_code", "prompt_tokens", "completion_tokens",
           "cost_usd", "cost_source", "latency_ms", "stream")


class Command(BaseCommand):
    help = "List the newest proxied requests (tokens, cost, latency)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--org", help="organization name or id (default: the first)")
        parser.add_argument("--api-key", default=os.environ.get("SPANLENS_API_KEY"),
                            help="used when the embedded server is running (or set SPANLENS_API_KEY)")
        parser.add_argument("--url", default=settings.WEB_URL)

    def handle(self, *args, limit, org, api_key, url, **options):
        if not 1 <= limit <= 100:
            raise CommandError("--limit must be between 1 and 100")
        if not settings.CLICKHOUSE_URL and _server_up(url):
            rows = self._via_api(url, api_key, limit)
        else:
            rows = self._direct(org, limit)
        if not rows:
            self.stdout.write("No requests logged yet.")
            return
        widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in COLUMNS}
        self.stdout.write("  ".join(c.ljust(widths[c]) for c in COLUMNS))
        for row in rows:
            self.stdout.write("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in COLUMNS))

    def _via_api(self, url: str, api_key: str | None, limit: int) -> list[dict]:
        if not api_key:
            raise CommandError(
                "The embedded server is running and holds the chDB folder (chDB opens in one "
                "process only), so this command reads through its API: pass --api-key sl_live_… "
                "or set SPANLENS_API_KEY."
            )
        response = httpx.get(f"{url}/api/v1/requests", params={"limit": limit},
                             headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
        payload = response.json()
        if response.status_code != 200:
            raise CommandError(payload.get("error") or f"HTTP {response.status_code}")
        return payload["data"]

    def _direct(self, org: str | None, limit: int) -> list[dict]:
        from spanlens.requestlog import queries

        orgs = Organization.objects.order_by("created_at")
        target = next((o for o in orgs if org in (None, str(o.id), o.name)), None)
        if target is None:
            raise CommandError("No such organization." if org else "No organization yet: run `make run` once.")
        return queries.list_recent_requests(
            organization_id=target.id, limit=limit, retention_days=target.retention_days
        )


def _server_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _fmt(value) -> str:
    return "-" if value is None else str(value)
