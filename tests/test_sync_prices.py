"""manage.py sync_prices on a community price table file: the diff first, then the
change, never deleting a price that traffic still uses, and an audit entry."""
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from spanlens.core import pricing
from spanlens.core.models import AuditEvent, ModelPrice

FIXTURE = str(Path(__file__).parent / "fixtures" / "litellm_prices.json")
MESSAGES = [{"role": "user", "content": "Hi"}]


def sync(*args) -> str:
    out = io.StringIO()
    call_command("sync_prices", FIXTURE, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def traffic(live_db, upstream, provider_keys, openai_client, anthropic_client, org, read_rows):
    """Recent calls to two models the fixture file does not list."""
    openai_client.chat.completions.create(model="gpt-4.1-nano", messages=MESSAGES)
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES)
    read_rows(org.id, expect=2)


def test_it_shows_the_diff_and_applies_nothing_without_yes(traffic):
    before = ModelPrice.objects.count()
    output = sync()

    assert "+ openai/gpt-9-mini: in 0.3 out 1.2" in output
    assert "+ mistral/mistral-large-latest: in 2 out 6" in output
    assert "+ together/meta-llama/Llama-3.3-70B-Instruct-Turbo" in output
    assert "~ openai/gpt-4o: in 2.5 out 10 read 1.25  ->  in 2 out 8 read 1" in output
    assert "- openai/o3\n" in output
    assert "= openai/gpt-4.1-nano: not in the file, kept (used by traffic)" in output
    assert "= anthropic/claude-haiku-4-5-20251001: not in the file, kept" in output
    assert "gpt-4o-mini:" not in output  # same price: not a change
    # The file's misplaced cached-input price of this fine-tune is read where it belongs.
    assert "ft:gpt-4o-2024-11-20" not in output
    assert "dall-e-3" not in output and "bedrock" not in output
    assert "Nothing applied: run again with --yes" in output
    assert ModelPrice.objects.count() == before


def test_yes_applies_it_keeps_prices_in_use_and_writes_the_audit_log(traffic, org):
    output = sync("--yes")
    assert "Applied." in output

    assert pricing.find_price("openai", "gpt-9-mini").input_per_1m == Decimal("0.3")
    assert ModelPrice.objects.get(provider="openai", model="gpt-4o").output_per_1m == Decimal("8")
    assert pricing.find_price("mistral", "mistral-large-latest").output_per_1m == Decimal("6")
    assert not ModelPrice.objects.filter(provider="openai", model="o3").exists()
    assert ModelPrice.objects.filter(provider="openai", model="gpt-4.1-nano").exists()
    assert ModelPrice.objects.filter(provider="anthropic", model="claude-haiku-4-5-20251001").exists()
    # Providers the file does not cover are left alone.
    assert ModelPrice.objects.filter(provider="gemini", model="gemini-2.5-flash").exists()

    event = AuditEvent.objects.get(organization=org, action="model_price.sync")
    assert event.details["source"] == FIXTURE
    assert "openai/gpt-9-mini" in event.details["added"]
    assert "openai/o3" in event.details["removed"]
    assert "openai/gpt-4.1-nano" in event.details["kept_in_use"]
    assert event.actor_label == "system" and event.details["by"].startswith("manage.py sync_prices")

    assert "The price table is up to date." in sync("--yes")


def test_no_remove_keeps_everything_the_file_leaves_out(live_db):
    sync("--yes", "--no-remove")
    assert ModelPrice.objects.filter(provider="openai", model="o3").exists()
    assert ModelPrice.objects.filter(provider="openai", model="gpt-9-mini").exists()


def test_a_missing_or_broken_file_is_a_clear_error(live_db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("sync_prices", str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("sync_prices", str(broken))
