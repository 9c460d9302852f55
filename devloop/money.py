"""Money, one way everywhere: exact Decimal USD, integer pico-USD in the ledger, parsed from
what people type and shown one way.

Floats never carry a price. The ledger keeps integer pico-USD (1e-12) so SQL sums are exact;
an amount above MAX_USD would not fit its 64-bit integers, and no one means a budget that
large.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from devloop.errors import UsageError

MAX_USD = Decimal(1_000_000)
_PICO = Decimal(1).scaleb(-12)


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


FINE_PLACES = 4  # the ledger's usual precision in reports


def usd(value: Decimal, places: int | None = FINE_PLACES) -> str:
    """$1,234.5678: rounded half-even to `places` (None: every digit the amount has, as
    for a price per million tokens), a minus sign before the dollar. The one money format.

    An amount that `places` would show as zero though it is not ($0.001 at 2 places) is
    shown to FINE_PLACES instead ($0.0010), or with every digit when even that is zero: a
    budget of a tenth of a cent is not "$0.00"."""
    if places is not None and value and not _rounded(value, places):
        places = FINE_PLACES if _rounded(value, FINE_PLACES) else None
    if places is None:
        rounded, shown = value, f"{abs(value).normalize():,f}"
    else:
        rounded = _rounded(value, places)
        shown = f"{abs(rounded):,.{places}f}"
    return f"-${shown}" if rounded < 0 else f"${shown}"


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def exact_text(value: Decimal | None, places: int = 12) -> str | None:
    """An amount as plain decimal text for JSON (None stays None): exact to `places`."""
    return None if value is None else f"{value:.{places}f}"


def usd_or(value: Decimal | None, missing: str = "unpriced", places: int | None = 4) -> str:
    """usd(value), or `missing` when there is no amount (a model without a price)."""
    return missing if value is None else usd(value, places)


def usd_to_pico(usd: Decimal | int) -> int:
    """Exact USD -> integer pico-USD; sub-pico remainders round half-even.

    Floats are refused: they cannot hold most prices exactly.
    """
    if isinstance(usd, bool) or not isinstance(usd, Decimal | int):
        raise TypeError(f"money must be a Decimal or int, not {type(usd).__name__} ({usd!r})")
    value = Decimal(usd)
    if not value.is_finite():
        raise ValueError(f"money must be a finite amount, not {value}")
    with localcontext() as ctx:
        ctx.prec = 60
        return int(value.scaleb(12).to_integral_value(rounding=ROUND_HALF_EVEN))


def pico_to_usd(pico: int) -> Decimal:
    """Integer pico-USD -> exact Decimal USD with 12 fractional digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(int(pico)).scaleb(-12).quantize(_PICO)


# ---------------------------------------------------------------- records
