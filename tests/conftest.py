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
    pricing.invalidate()
    yield
