"""Seed ModelPrice with current list prices (spanlens/core/data/model_prices.csv)."""
import csv
from decimal import Decimal
from pathlib import Path

from django.db import migrations

CSV_PATH = Path(__file__).resolve().parent.parent / "data" / "model_prices.csv"


def _dec(value: str):
    return Decimal(value) if value not in ("", None) else None


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("core", "ModelPrice")
    with CSV_PATH.open() as fh:
        # The source lists a few models twice; the later row wins.
        rows = list({(r["provider"], r["model"]): r for r in csv.DictReader(fh)}.values())
    existing = set(ModelPrice.objects.values_list("provider", "model"))
    ModelPrice.objects.bulk_create(
        [
            ModelPrice(
                provider=r["provider"],
                model=r["model"],
                mode=r["mode"] or "chat",
                input_per_1m=_dec(r["input_per_1m_usd"]) or Decimal(0),
                output_per_1m=_dec(r["output_per_1m_usd"]) or Decimal(0),
                cache_read_per_1m=_dec(r["cache_read_per_1m_usd"]),
                cache_write_per_1m=_dec(r["cache_write_per_1m_usd"]),
            )
            for r in rows
            if (r["provider"], r["model"]) not in existing
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
