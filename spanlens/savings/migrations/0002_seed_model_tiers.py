import csv
from pathlib import Path

from django.db import migrations

CSV_PATH = Path(__file__).resolve().parent.parent / "data" / "tiers.csv"


def seed(apps, schema_editor):
    """The curated tiers, for rows an admin has not made yet (edits are kept)."""
    ModelTier = apps.get_model("savings", "ModelTier")
    existing = set(ModelTier.objects.values_list("provider", "model"))
    with CSV_PATH.open() as fh:
        rows = [r for r in csv.DictReader(fh) if (r["provider"], r["model"]) not in existing]
    ModelTier.objects.bulk_create([
        ModelTier(provider=r["provider"], model=r["model"], tier=int(r["tier"]), kind=r["kind"] or "chat",
                  note=r["note"] or "")
        for r in rows
    ])


class Migration(migrations.Migration):
    dependencies = [("savings", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
