"""Writes to the model price table, and the record of models traffic used without a price.

The price table is install-wide (one price per provider and model); the audit entry
goes to the organization of whoever changed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction

from spanlens.core import audit, pricing
from spanlens.core.models import ModelPrice, Organization, ProviderKey, UnpricedModel

PRICE_FIELDS = ("input_per_1m", "output_per_1m", "cache_read_per_1m", "cache_write_per_1m", "cache_write_1h_per_1m")
# Who may change the shared price table from the dashboard.
PRICE_EDITOR_ROLES = ("owner", "admin")


@dataclass
class PriceInput:
    input_per_1m: Decimal
    output_per_1m: Decimal
    cache_read_per_1m: Decimal | None = None
    cache_write_per_1m: Decimal | None = None
    cache_write_1h_per_1m: Decimal | None = None


def parse_price_form(data) -> tuple[PriceInput | None, dict[str, str]]:
    """A price from form fields (USD per 1M tokens); errors keyed by field name."""
    errors: dict[str, str] = {}
    values: dict[str, Decimal | None] = {}
    for name in PRICE_FIELDS:
        raw = (data.get(name) or "").strip()
        required = name in ("input_per_1m", "output_per_1m")
        if not raw:
            if required:
                errors[name] = "is required"
            values[name] = None
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            errors[name] = "must be a number (USD per 1M tokens)"
            continue
        if not value.is_finite() or value < 0 or value >= Decimal("1e8"):
            errors[name] = "must be between 0 and 100,000,000"
            continue
        values[name] = value
    if errors:
        return None, errors
    return PriceInput(**values), {}


def set_price(
    provider: str, model: str, price: PriceInput, *, mode: str = "chat", may_change: bool = True,
    organization: Organization | str | None = None, actor=None, ip: str | None = None,
) -> ModelPrice:
    """Add or change one price; the proxy uses it from its next table refresh (at once in this process).

    The table is shared by every organization of the install, so an organization admin
    may fill a gap (may_change=False) but only a superuser changes a price that exists.
    """
    model = model.strip()
    if provider not in ProviderKey.Provider.values:
        raise ValueError(f"provider must be one of {', '.join(ProviderKey.Provider.values)}")
    if not model or len(model) > 200:
        raise ValueError("the model name must be 1 to 200 characters")
    with transaction.atomic():
        row, created = ModelPrice.objects.select_for_update().get_or_create(
            provider=provider, model=model,
            defaults={"mode": mode, **{f: getattr(price, f) for f in PRICE_FIELDS}},
        )
        before = {f: _text(getattr(row, f)) for f in PRICE_FIELDS}
        if not created and not may_change:
            raise ValueError(f"{provider}/{model} already has a price; a superuser can change it "
                             "(in the admin or with manage.py sync_prices)")
        if not created:
            for name in PRICE_FIELDS:
                setattr(row, name, getattr(price, name))
            row.save()
        if organization is not None:
            audit.record(
                organization, "model_price.create" if created else "model_price.update",
                actor=actor, ip=ip, target=row,
                details={"after": {f: _text(getattr(price, f)) for f in PRICE_FIELDS},
                         **({} if created else {"before": before})},
            )
        UnpricedModel.objects.filter(provider=provider, model__iexact=model).delete()
    pricing.invalidate()
    return row


def parse_ts(value):
    """ClickHouse's DateTime64 text ("2026-12-01 09:00:00.123") as an aware UTC datetime."""
    from datetime import datetime, timezone

    if not value:
        return None
    return datetime.fromisoformat(str(value).replace(" ", "T")).replace(tzinfo=timezone.utc)


def _text(value) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def refresh_unpriced_models(organization: Organization) -> list[UnpricedModel]:
    """Record what the organization's last 30 days called without a price.

    A model that has a price by now (added after the calls) is left out.
    """
    from django.utils import timezone

    from spanlens.requestlog import queries

    pricing.invalidate()
    seen = queries.list_unpriced_models(organization_id=organization.id, retention_days=organization.retention_days)
    keep = []
    now = timezone.now()
    for row in seen:
        if pricing.find_price(row["provider"], row["model"]) is not None:
            continue
        obj, _ = UnpricedModel.objects.update_or_create(
            organization=organization, provider=row["provider"], model=row["model"],
            defaults={
                "calls": int(row["calls"]), "calls_24h": int(row["calls_24h"]),
                "first_seen": parse_ts(row["first_seen"]) or now, "last_seen": parse_ts(row["last_seen"]) or now,
            },
        )
        keep.append(obj.pk)
    UnpricedModel.objects.filter(organization=organization).exclude(pk__in=keep).delete()
    return list(UnpricedModel.objects.filter(organization=organization))
