"""Scoped API keys: scopes, expiry and IP allow-list, on the proxy (official
openai SDK) and the REST API, and the keys page that makes them."""
from __future__ import annotations

import datetime
import uuid
from importlib import import_module

import openai
import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from proxy import auth as proxy_auth
from spanlens.core import services
from spanlens.core.models import ApiKey
from tests import mock_upstream as mock

MESSAGES = [{"role": "user", "content": "hi"}]


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def sdk(server, raw):
    return openai.OpenAI(base_url=f"{server.url}/proxy/openai/v1", api_key=raw, max_retries=0)


@pytest.fixture(autouse=True)
def _fresh_proxy_cache():
    proxy_auth.clear_cache()
    yield
    proxy_auth.clear_cache()


# --- proxy ------------------------------------------------------------------------

def test_read_only_key_is_refused_on_the_proxy_with_a_clear_403(live_db, upstream, provider_keys, spanlens_server,
                                                                 project):
    raw = services.create_api_key(project, name="dashboards", scopes=["read"]).raw_key
    with sdk(spanlens_server, raw) as client, pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == 403
    body = caught.value.response.json()
    assert body["success"] is False
    assert "'proxy' scope" in body["error"]
    assert upstream.requests == []


def test_proxy_key_passes_and_expired_or_foreign_ip_key_is_refused(live_db, upstream, provider_keys, spanlens_server,
                                                                    project):
    ok = services.create_api_key(project, name="backend", scopes=["proxy"]).raw_key
    with sdk(spanlens_server, ok) as client:
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content \
            == mock.REPLY

    expired = services.create_api_key(project, name="old", expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with sdk(spanlens_server, expired.raw_key) as client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "expired" in caught.value.response.json()["error"]

    # The test client comes from 127.0.0.1.
    elsewhere = services.create_api_key(project, name="office", allowed_ips=["203.0.113.0/24"]).raw_key
    with sdk(spanlens_server, elsewhere) as client, pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "127.0.0.1" in caught.value.response.json()["error"]

    local = services.create_api_key(project, name="local", allowed_ips=["127.0.0.0/8", "::1/128"]).raw_key
    with sdk(spanlens_server, local) as client:
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content \
            == mock.REPLY
    assert ApiKey.objects.get(prefix=local[:14]).last_used_at is not None


def test_proxy_keeps_scopes_on_the_cached_tenant(live_db, project):
    import asyncio

    raw = services.create_api_key(project, scopes=["proxy", "ingest"], allowed_ips=["10.0.0.0/8"]).raw_key
    with pytest.raises(proxy_auth.AuthError):
        asyncio.run(proxy_auth.resolve(raw, client=("192.0.2.1", 5000)))
    tenant = asyncio.run(proxy_auth.resolve(raw, client=("10.1.2.3", 5000)))
    assert tenant.scopes == frozenset({"proxy", "ingest"})
    assert [str(n) for n in tenant.allowed_networks] == ["10.0.0.0/8"]


# --- REST API ---------------------------------------------------------------------

def test_rest_api_names_the_missing_scope(client, project, db):
    ingest_only = services.create_api_key(project, name="sdk", scopes=["ingest"]).raw_key
    trace = {"id": str(uuid.uuid4()), "name": "run", "started_at": "2026-11-20T12:00:00+00:00"}
    r = client.post("/api/v1/traces", [trace], content_type="application/json", **bearer(ingest_only))
    assert r.status_code in (200, 201, 207), r.content

    r = client.get("/api/v1/traces", **bearer(ingest_only))
    assert r.status_code == 403
    assert r.json() == {"success": False, "missing_scope": "read", "error": r.json()["error"]}
    assert "'read' scope" in r.json()["error"]

    r = client.get("/api/v1/members", **bearer(ingest_only))
    assert r.status_code == 403 and r.json()["missing_scope"] == "admin"

    read_only = services.create_api_key(project, name="dash", scopes=["read"]).raw_key
    assert client.get("/api/v1/traces", **bearer(read_only)).status_code == 200
    assert client.get("/api/v1/requests", **bearer(read_only)).status_code == 200
    r = client.post("/api/v1/ingest", {"traces": [], "spans": []}, content_type="application/json",
                    **bearer(read_only))
    assert r.status_code == 403 and r.json()["missing_scope"] == "ingest"


def test_rest_api_expiry_and_ip_allow_list(client, project, db):
    expired = services.create_api_key(project, expires_at=timezone.now() - datetime.timedelta(minutes=1)).raw_key
    r = client.get("/api/v1/traces", **bearer(expired))
    assert r.status_code == 401 and "expired" in r.json()["error"]

    office = services.create_api_key(project, allowed_ips=["203.0.113.0/24"]).raw_key
    assert client.get("/api/v1/traces", REMOTE_ADDR="203.0.113.9", **bearer(office)).status_code == 200
    r = client.get("/api/v1/traces", REMOTE_ADDR="198.51.100.1", **bearer(office))
    assert r.status_code == 403 and "198.51.100.1" in r.json()["error"]


def test_existing_keys_keep_all_scopes(project, db):
    key = services.create_api_key(project).api_key
    ApiKey.objects.filter(pk=key.pk).update(scopes=[])
    import_module("spanlens.core.migrations.0006_api_key_scopes_and_sso").keep_all_scopes(django_apps, None)
    assert ApiKey.objects.get(pk=key.pk).scopes == ["proxy", "ingest", "read", "admin"]


# --- keys page --------------------------------------------------------------------

def test_keys_page_creates_a_scoped_expiring_ip_bound_key(client, owner, project):
    client.force_login(owner)
    day = (timezone.now() + datetime.timedelta(days=30)).date().isoformat()
    r = client.post("/settings/api-keys/", {"project_id": str(project.id), "name": "grafana", "scopes": ["read"], "scopes_shown": "1",
                                            "expires_on": day, "allowed_ips": "10.0.0.7/8, 192.0.2.4"})
    assert r.status_code == 200
    key = ApiKey.objects.get(name="grafana")
    assert key.scopes == ["read"]
    assert key.allowed_ips == ["10.0.0.0/8", "192.0.2.4/32"]
    # Works through the chosen day (UTC).
    assert key.expires_at == datetime.datetime.combine(
        datetime.date.fromisoformat(day) + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.timezone.utc)
    page = r.content.decode()
    assert "sl_live_" in page and "grafana" in page and "10.0.0.0/8" in page


@pytest.mark.parametrize("form, field_text", [
    ({"scopes": ["root"]}, "unknown scope"),
    ({}, "at least one scope"),
    ({"scopes": ["read"], "allowed_ips": "not-an-ip"}, "not an ip address"),
    ({"scopes": ["read"], "expires_on": "tomorrow"}, "not a date"),
    ({"scopes": ["read"], "expires_on": "2001-01-01"}, "in the past"),
])
def test_keys_page_shows_form_errors(client, owner, project, form, field_text):
    client.force_login(owner)
    r = client.post("/settings/api-keys/", {"project_id": str(project.id), "name": "x", "scopes_shown": "1", **form})
    assert r.status_code == 400
    assert field_text in r.content.decode().lower()
    assert not ApiKey.objects.filter(name="x").exists()


def test_keys_page_shows_last_used(client, owner, project):
    created = services.create_api_key(project, name="used")
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=timezone.now() - datetime.timedelta(hours=2))
    client.force_login(owner)
    page = client.get("/settings/api-keys/").content.decode()
    assert "2\xa0hours ago" in page or "2 hours ago" in page
