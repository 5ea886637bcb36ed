"""`manage.py mcp`: the MCP server on stdin/stdout, for assistants that launch it.

It opens the request log itself, except while the embedded server runs and
holds the chDB folder (chDB opens in one process only): then it relays each
JSON-RPC message to that server's /mcp with the same key, so the assistant's
configuration is the same either way.
"""
from __future__ import annotations

import os
import sys

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from spanlens.core import runfile
from spanlens.mcp_server.keys import KeyRefused, access_for_key


class Command(BaseCommand):
    help = "Serve the read-only MCP tools over stdio (key: --api-key or SPANLENS_API_KEY)."

    def add_arguments(self, parser):
        parser.add_argument("--api-key", default=os.environ.get("SPANLENS_API_KEY"),
                            help="a Spanlens key with the read scope (or set SPANLENS_API_KEY)")
        parser.add_argument("--url", help="relay to this running server's /mcp instead of opening the log")

    def handle(self, *args, api_key, url, **options):
        from spanlens.requestlog.engine import chdb_held_elsewhere

        try:
            access = access_for_key(api_key)
        except KeyRefused as exc:
            raise CommandError(str(exc)) from None
        if url is None and not settings.CLICKHOUSE_URL and chdb_held_elsewhere(settings.CHDB_PATH):
            url = runfile.running_server()
            if url is None:
                raise CommandError(
                    f"the request log in {settings.CHDB_PATH} is held by another process (a running Spanlens "
                    "server?): pass its address with --url http://localhost:PORT"
                )
        if url:
            relay(url.rstrip("/") + "/mcp", api_key)
            return
        from spanlens.mcp_server.server import build_server

        build_server(lambda ctx: access).run("stdio")


def relay(endpoint: str, api_key: str) -> None:
    """Each line on stdin is one JSON-RPC message: POST it, print the JSON answer as one line."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=httpx.Timeout(30, read=300)) as client:
        for line in sys.stdin:
            if not line.strip():
                continue
            response = client.post(endpoint, content=line.encode(), headers=headers)
            version = response.headers.get("mcp-protocol-version")
            if version:
                headers["MCP-Protocol-Version"] = version
            if response.status_code == 202 or not response.content:
                continue
            sys.stdout.write(response.text.strip().replace("\n", " ") + "\n")
            sys.stdout.flush()
