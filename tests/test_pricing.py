from decimal import Decimal

import pytest

from spanlens.core import pricing
from spanlens.core.models import ModelPrice


@pytest.fixture(autouse=True)
def fresh_prices(db):
    pricing.invalidate()
    yield
    pricing.invalidate()


def test_seeded_prices_cover_the_common_models():
    for provider, model in [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"),
                            ("gemini", "gemini-2.5-flash"), ("openai", "text-embedding-3-small")]:
        assert ModelPrice.objects.filter(provider=provider, model=model).exists(), model


def test_a_dated_model_name_finds_the_undated_price():
    ModelPrice.objects.filter(provider="openai", model="gpt-4o-mini-2024-07-18").delete()
    pricing.invalidate()
    dated = pricing.find_price("openai", "gpt-4o-mini-2024-07-18")
    assert dated == pricing.find_price("openai", "gpt-4o-mini")
    assert pricing.find_price("anthropic", "claude-sonnet-4-5-20990101") == pricing.find_price("anthropic", "claude-sonnet-4-5")


def test_cost_charges_cache_reads_and_writes_at_their_own_rates():
    # claude-sonnet-4-5: 3 in, 15 out, 0.3 cache read, 3.75 cache write per 1M.
    cost = pricing.compute_cost("anthropic", "claude-sonnet-4-5", prompt_tokens=1_000_000 + 200_000 + 100_000,
                                completion_tokens=100_000, cache_read_tokens=200_000, cache_write_tokens=100_000)
    assert cost == Decimal("3") + Decimal("0.06") + Decimal("0.375") + Decimal("1.5")


def test_unknown_models_have_no_cost_rather_than_a_wrong_one():
    assert pricing.compute_cost("openai", "my-finetune-xyz", prompt_tokens=10, completion_tokens=10) is None


def test_azure_deployments_fall_back_to_openai_prices():
    ModelPrice.objects.filter(provider="azure", model="gpt-4o-mini").delete()
    pricing.invalidate()
    assert pricing.find_price("azure", "gpt-4o-mini") == pricing.find_price("openai", "gpt-4o-mini")


def test_an_edited_price_applies_after_invalidation():
    ModelPrice.objects.filter(provider="openai", model="gpt-4o-mini").update(input_per_1m=Decimal("1"))
    pricing.invalidate()
    assert pricing.compute_cost("openai", "gpt-4o-mini", prompt_tokens=1_000_000, completion_tokens=0) == Decimal("1")
