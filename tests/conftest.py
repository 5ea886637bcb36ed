"""Shared fixtures: three named users (owner, member, outsider) in two
organizations, a migrated chDB request log, and helpers to read it."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from spanlens.core import services
from spanlens.core.models import Membership


@pytest.fixture(scope="session", autouse=True)
def clickhouse_schema():
    from spanlens.requestlog.migrate import apply_migrations

    apply_migrations()


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", "owner@example.com", "pw-owner-123")


@pytest.fixture
def org_and_project(owner):
    return services.create_organization("Acme", owner)


@pytest.fixture
def org(org_and_project):
    return org_and_project[0]


@pytest.fixture
def project(org_and_project):
    return org_and_project[1]


@pytest.fixture
def member(org):
    user = get_user_model().objects.create_user("member", "member@example.com", "pw-member-123")
    Membership.objects.create(user=user, organization=org, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def viewer(org):
    user = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw-viewer-123")
    Membership.objects.create(user=user, organization=org, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def outsider(db):
    """A user in another organization, with its own project and data."""
    return get_user_model().objects.create_user("outsider", "out@example.com", "pw-outsider-123")


@pytest.fixture
def other_org_and_project(outsider):
    return services.create_organization("Other Inc", outsider)


@pytest.fixture
def api_key(project):
    """(ApiKey, raw sl_live_ key) for the owner's project."""
    created = services.create_api_key(project)
    return created.api_key, created.raw_key


@pytest.fixture(scope="session")
def spanlens_server():
    """The whole Spanlens ASGI app (dashboard + proxy) on a real port.

    Tests that use it need committed data: take `transactional_db`, or the
    `live_db` fixture below, which also re-seeds model prices after flushes.
    """
    from spanlens.asgi import application
    from tests.live import ThreadedServer

    server = ThreadedServer(application).start()
    yield server
    server.stop()


@pytest.fixture
def live_db(transactional_db):
    """Committed data for the live server; TransactionTestCase flushes prices, so re-seed."""
    from importlib import import_module

    from django.apps import apps as django_apps

    from spanlens.core import pricing
    from spanlens.core.models import ModelPrice

    if not ModelPrice.objects.exists():
        import_module("spanlens.core.migrations.0002_seed_model_prices").seed(django_apps, None)
        import_module("spanlens.core.migrations.0004_providers_and_cache_write_1h").refresh_prices(django_apps, None)
    pricing.invalidate()
    yield
    # Rows the live server queued are written (and their after-write hooks, which touch the
    # database, done) before the flush truncates the tables: a hook still running then
    # deadlocks against the TRUNCATE, or runs into the next test.
    from spanlens.requestlog.writer import get_writer

    get_writer().flush()


# --- Proxy: a mock upstream, provider keys, and the request log as tests read it ---

@pytest.fixture(scope="session")
def mock_upstream():
    """The fake OpenAI / Anthropic / Gemini / Azure server (tests/mock_upstream.py)."""
    from tests.mock_upstream import MockUpstream

    server = MockUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(mock_upstream, monkeypatch):
    """The mock upstream, with the proxy pointed at it and its request record emptied."""
    from django.conf import settings

    from tests import mock_upstream as mock

    monkeypatch.setattr(
        settings,
        "UPSTREAM_BASE_URLS",
        {
            **settings.UPSTREAM_BASE_URLS,
            **{p: mock_upstream.url for p in ("openai", "anthropic", "gemini", "azure")},
            # OpenAI-compatible providers: each at its own /<provider>/v1 on the mock.
            **{p: f"{mock_upstream.url}/{p}/v1" for p in mock.COMPAT_KEYS if p != "custom"},
        },
    )
    mock_upstream.clear()
    yield mock_upstream
    mock_upstream.clear()


@pytest.fixture
def provider_keys(live_db, project, mock_upstream):
    """The project's provider keys (the ones the mock upstream accepts), by provider."""
    from tests import mock_upstream as mock

    return {
        "openai": services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod"),
        "anthropic": services.add_provider_key(project, "anthropic", mock.ANTHROPIC_KEY, "Anthropic prod"),
        "gemini": services.add_provider_key(project, "gemini", mock.GEMINI_KEY, "Gemini prod"),
        "azure": services.add_provider_key(
            project, "azure", mock.AZURE_KEY, "Azure prod",
            azure_endpoint=mock_upstream.url, azure_api_version="2024-10-21",
        ),
    }


def _read_rows(org_id, expect: int | None = None, timeout: float = 10.0, settle: float = 0.3) -> list[dict]:
    """The organization's request-log rows, oldest first, bodies included.

    The proxy logs after the response has left, so wait until `expect` rows are
    there, then a moment more so a surplus row would show up too.
    """
    import time

    from spanlens.requestlog import queries
    from spanlens.requestlog.writer import get_writer

    def fetch() -> list[dict]:
        get_writer().flush()
        return queries.list_recent_requests(organization_id=str(org_id), limit=1000)

    deadline = time.monotonic() + timeout
    rows = fetch()
    while expect is not None and len(rows) < expect and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = fetch()
    time.sleep(settle)
    rows = fetch()
    full = [queries.get_request(organization_id=str(org_id), request_id=r["id"]) for r in rows]
    return list(reversed(full))


@pytest.fixture
def read_rows():
    """read_rows(org_id, expect=N): the request-log rows of an organization, oldest first."""
    return _read_rows


@pytest.fixture
def sl_key(api_key):
    """The raw sl_live_ key of the owner's project."""
    return api_key[1]


@pytest.fixture
def openai_client(spanlens_server, sl_key):
    """The official OpenAI SDK pointed at the proxy, as a user would configure it."""
    import openai

    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=sl_key, max_retries=0) as client:
        yield client


@pytest.fixture
def anthropic_client(spanlens_server, sl_key):
    import anthropic

    with anthropic.Anthropic(base_url=f"{spanlens_server.url}/proxy/anthropic", api_key=sl_key, max_retries=0) as client:
        yield client


@pytest.fixture
def azure_client(spanlens_server, sl_key):
    import openai

    with openai.AzureOpenAI(
        azure_endpoint=f"{spanlens_server.url}/proxy/azure", api_key=sl_key, api_version="2024-10-21", max_retries=0
    ) as client:
        yield client
