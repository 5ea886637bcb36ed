"""The cost of one logged call and where it came from, in the writer thread."""
from __future__ import annotations

from decimal import Decimal

from proxy.providers.base import Parsed, Usage

_CENTS_E8 = Decimal("0.00000001")  # the log's precision

def row_cost(entry, usage: Usage, model: str, parsed: Parsed | None, *, estimate: bool) -> tuple[Decimal | None, str]:
    """(cost, cost_source): "reported" from the provider's usage, "estimated" from tokens
    we counted, "unknown" when the model has no price. Fills usage in when estimating."""
    from spanlens.core.pricing import compute_cost

    source = "reported"
    if estimate:
        # The tokens were spent all the same: count the prompt sent and the text received.
        from proxy import tokens

        estimated_prompt = tokens.prompt_tokens(entry.request_body, model)
        estimated_completion = tokens.count(parsed.output_text if parsed else "", model)
        usage.prompt_tokens = usage.prompt_tokens or estimated_prompt
        usage.completion_tokens = max(usage.completion_tokens, estimated_completion)
        source = "estimated"
    if usage.reported_cost is not None and not estimate:
        try:
            return Decimal(usage.reported_cost).quantize(_CENTS_E8), source
        except ArithmeticError:
            pass
    if usage.prompt_tokens or usage.completion_tokens:
        cost = compute_cost(
            entry.provider, model, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
        )
    elif entry.status_code >= 400 or entry.status_code == 0 or not model:
        # Nothing was billed: a refused call, or a call with no model (listing models).
        return Decimal(0), "reported"
    else:
        cost = compute_cost(entry.provider, model, prompt_tokens=0, completion_tokens=0)
    if cost is None and entry.price_free:
        return Decimal(0), source
    return cost, source if cost is not None else "unknown"

