"""Money as people type it and read it: USD amounts parsed to exact Decimals, and shown.

The ledger keeps integer pico-USD (ledger.usd_to_pico); an amount above MAX_USD would not
fit its 64-bit integers, and no one means a budget that large.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from devloop.errors import UsageError

MAX_USD = Decimal(1_000_000)


def parse_usd(text: str | None, what: str, *, allow_zero: bool = False) -> Decimal:
    """`text` ("5", "$0.25") as an exact amount; a UsageError naming `what` otherwise."""
    try:
        value = Decimal(str(text).strip().lstrip("$"))
    except (InvalidOperation, ValueError):
        raise UsageError(f"{what} {text}: give an amount in USD, e.g. {what} 5.") from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        kind = "an amount of USD, 0 or more" if allow_zero else "a positive amount of USD"
        raise UsageError(f"{what} {text}: it must be {kind}.")
    if value > MAX_USD:
        raise UsageError(f"{what} {text}: at most ${MAX_USD:,} (the ledger's limit).")
    return value


def usd(value: Decimal, places: int = 4) -> str:
    """$1,234.5678: rounded half-even to `places`, a minus sign before the dollar."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"-${-rounded:,.{places}f}" if rounded < 0 else f"${rounded:,.{places}f}"
