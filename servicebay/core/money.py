"""Money is Decimal with a currency code; amounts are quantised once, with one rounding rule."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def quantize_money(amount: Decimal) -> Decimal:
    """Round to cents, half away from zero (what customers and tax offices expect)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str = "USD") -> str:
    if amount is None:
        return "—"
    symbol = {"USD": "$", "CAD": "$", "AUD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    value = quantize_money(amount)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.2f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"
