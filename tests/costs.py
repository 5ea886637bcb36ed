"""Expected costs for proxy tests, computed the way a user would from list prices."""
from decimal import Decimal


def usd(*tokens_at_price: tuple[int, str]) -> Decimal:
    """Cost of (tokens, USD per 1M tokens) pairs, at the log's 8-decimal precision."""
    total = sum(Decimal(tokens) * Decimal(price) for tokens, price in tokens_at_price)
    return (total / Decimal(1_000_000)).quantize(Decimal("0.00000001"))


def cost_of(row) -> Decimal | None:
    return None if row["cost_usd"] is None else Decimal(str(row["cost_usd"]))
