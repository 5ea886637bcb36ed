"""The /requests live tail socket: rows written since the page opened, as table rows.

A socket belongs to one signed-in member's current organization and carries the page's
filters in its query string; of each batch of new rows (live.py) it sends those the
filters select, rendered by the same partial as the list.
"""
from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import QueryDict
from django.template.loader import render_to_string

from dashboard import live
from dashboard import rows as rows_mod
from spanlens.core import access as access_mod
from spanlens.core import formatting
from spanlens.requestlog import queries

# Close codes the page reads: sign in again, or no organization to watch.
CLOSE_SIGNED_OUT = 4401
CLOSE_NO_ORGANIZATION = 4403


class RequestTailConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        code = await database_sync_to_async(self._resolve)()
        if code:
            # Refused after the handshake, so the page reads why (a refused handshake is a bare 403).
            await self.accept()
            await self.close(code=code)
            return
        live.note_loop()
        self.group = live.group_name(self.access.organization.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def rows_added(self, event):
        payload = await database_sync_to_async(self._rows)(event.get("ids") or [])
        if payload:
            await self.send_json(payload)

    def _resolve(self) -> int | None:
        from dashboard.views import page_filters

        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_SIGNED_OUT
        request = SimpleNamespace(user=user, session=self.scope.get("session") or {},
                                  GET=QueryDict(self.scope.get("query_string", b"").decode("latin-1")))
        self.access = access_mod.current_access(request)
        if self.access is None:
            return CLOSE_NO_ORGANIZATION
        self.filters = page_filters(request, self.access)
        return None

    def _rows(self, ids: list[str]) -> dict | None:
        f, org_id = self.filters, self.access.organization.id
        kwargs = {k: v for k, v in f.query_kwargs().items() if k not in ("sort_by", "sort_dir")}
        found = queries.list_request_window(
            organization_id=org_id, retention_days=self.access.retention_days,
            limit=len(ids), request_ids=ids, **kwargs,
        )
        if not found:
            return None
        qs = f.querystring()
        html = []
        for pos, row in enumerate(rows_mod.with_key_names(org_id, found)):
            row["pos"] = pos
            html.append(render_to_string("dashboard/requests.html#row", {"r": row, "qs": qs}))
        total = queries.count_matching_requests(organization_id=org_id, retention_days=self.access.retention_days,
                                                **kwargs)
        return {"type": "rows", "html": "".join(html), "count": len(found), "ids": [r["id"] for r in found],
                "total": total, "total_text": formatting.count(total)}
