"""Django admin: secrets never shown; model prices editable by superusers."""
from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.test import Client

from spanlens.core import pricing, services
from spanlens.core.models import Membership, ModelPrice


def superuser_client(org) -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    Membership.objects.create(user=user, organization=org, role=Membership.Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


def test_admin_never_shows_key_hashes_or_ciphertext(org, project):
    client = superuser_client(org)
    created = services.create_api_key(project, name="backend")
    provider_key = services.add_provider_key(project, "openai", "sk-admin-secret-000042", "Prod")
    html = client.get(f"/admin/core/apikey/{created.api_key.id}/change/").content.decode()
    assert created.api_key.key_hash not in html and created.raw_key not in html
    html = client.get(f"/admin/core/providerkey/{provider_key.id}/change/").content.decode()
    assert provider_key.encrypted_secret not in html and "sk-admin-secret" not in html
    assert "0042" in html


def test_a_superuser_edits_a_price_and_cost_follows(org):
    client = superuser_client(org)
    price = ModelPrice.objects.get(provider="openai", model="gpt-4o-mini")
    response = client.post(f"/admin/core/modelprice/{price.id}/change/", {
        "provider": "openai", "model": "gpt-4o-mini", "mode": price.mode,
        "input_per_1m": "1.000000", "output_per_1m": "2.000000",
        "cache_read_per_1m": "", "cache_write_per_1m": "",
    })
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.input_per_1m == Decimal("1")
    cost = pricing.compute_cost("openai", "gpt-4o-mini", prompt_tokens=1_000_000, completion_tokens=0)
    assert cost == Decimal("1")


def test_staff_without_superuser_cannot_edit_prices(org, member):
    member.is_staff = True
    member.save()
    client = Client()
    client.force_login(member)
    assert client.get("/admin/core/modelprice/").status_code == 403
