"""Show the latest request-log rows of an organization.

With the embedded default, chDB's folder belongs to the running server process
(it opens in one process only), so while `make run` is up this command asks the
server's /api/v1/requests with your Spanlens API key instead of opening chDB.
The server records its address in the var dir (runfile), so any PORT is found.
"""
from __future__ import annotations

import os

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from spanlens.core import runfile
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
        parser.add_argument("--url", help="the running server (default: the one recorded in the var dir, "
                                              "else WEB_URL)")

    def handle(self, *args, limit, org, api_key, url, **options):
        if not 1 <= limit <= 100:
            raise CommandError("--limit must be between 1 and 100")
        server = None
        if not settings.CLICKHOUSE_URL:
            server = url if url else runfile.running_server() or settings.WEB_URL
            server = server.rstrip("/") if runfile.answers(server.rstrip("/")) else None
        if server:
            rows = self._via_api(server, api_key, limit)
        else:
            rows = self._direct(org, limit, url)
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
        try:
            payload = response.json()
        except ValueError:
            raise CommandError(f"{url} answered HTTP {response.status_code} without JSON: is it Spanlens?") from None
        if response.status_code != 200:
            raise CommandError(payload.get("error") or f"HTTP {response.status_code}")
        return payload["data"]

    def _direct(self, org: str | None, limit: int, url: str | None) -> list[dict]:
        from spanlens.requestlog import queries
        from spanlens.requestlog.engine import chdb_held_elsewhere

        if not settings.CLICKHOUSE_URL and chdb_held_elsewhere(settings.CHDB_PATH):
            asked = f"nothing answers at {url}; " if url else ""
            raise CommandError(
                f"{asked}the request log in {settings.CHDB_PATH} is held by another process, most likely a "
                "running Spanlens server (chDB opens in one process only). Pass that server's address and "
                "a key: --url http://localhost:PORT --api-key sl_live_… (or set SPANLENS_API_KEY)."
            )
        orgs = Organization.objects.order_by("created_at")
        target = next((o for o in orgs if org in (None, str(o.id), o.name)), None)
        if target is None:
            raise CommandError("No such organization." if org else "No organization yet: run `make run` once.")
        return queries.list_recent_requests(
            organization_id=target.id, limit=limit, retention_days=target.retention_days
        )


def _fmt(value) -> str:
    return "-" if value is None else str(value)
