"""Exact money: amounts are integer cents everywhere inside the program.

Users type and read major units ("50000", "1,234.50"); nothing here ever goes
through a binary float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

Cents = int

MAX_CENTS: Cents = 10**15 - 1
"""The largest amount the program accepts, in cents: 9,999,999,999,999.99 in major units
(13 whole digits), the one number the README, the importer and every limit field use. Far
above any real office, and small enough that a limit times 120 months still fits 64 bits."""

_MAJOR_UNITS = re.compile(r"^(?P<sign>[+-]?)(?P<whole>\d+)(?:\.(?P<fraction>\d{1,2}))?$")


class MoneyError(ValueError):
    """A text that is not an amount in major units with at most two decimals."""


def parse_money(text: str) -> Cents:
    """Read an amount typed in major units ("50000", "-12.5", "1,000.00") as cents.

    Thousands separators (",", spaces, apostrophes) are accepted between digit
    groups; the decimal separator is "."; more than two decimals is refused
    rather than rounded, because a limit of 10.005 is almost always a typo.
    """
    raw = text.strip()
    if not raw:
        raise MoneyError("an amount is required")
    compact = re.sub(r"(?<=\d)[,' \u00a0\u202f](?=\d{3}(?:\D|$))", "", raw)
    match = _MAJOR_UNITS.match(compact)
    if match is None:
        if re.match(r"^[+-]?\d+\.\d{3,}$", compact):
            raise MoneyError(f"'{raw}' has more than two decimals")
        raise MoneyError(f"'{raw}' is not an amount (e.g. 50000 or 1234.50)")
    if len(match["whole"]) > 16:
        raise MoneyError(f"'{raw}' is too large")
    whole = int(match["whole"])
    fraction = int((match["fraction"] or "0").ljust(2, "0"))
    cents = check_range(whole * 100 + fraction)
    return -cents if match["sign"] == "-" else cents


def check_range(cents: Cents) -> Cents:
    """The amount itself, or MoneyError when it is beyond what the program stores."""
    if abs(cents) > MAX_CENTS:
        raise MoneyError(f"{format_money(cents)} is too large (at most {format_money(MAX_CENTS)})")
    return cents


def cents_from_decimal(value: Decimal) -> Cents:
    """Convert a Decimal in major units to cents, refusing sub-cent amounts."""
    if not value.is_finite():
        raise MoneyError(f"{value} is not an amount")
    try:
        scaled = value * 100
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{value} has more than two decimals")
        if abs(scaled) > MAX_CENTS:
            raise MoneyError(f"{value} is too large (at most {format_money(MAX_CENTS)})")
        return int(scaled)
    except InvalidOperation as error:
        raise MoneyError(f"{value} is not an amount") from error


def to_decimal(cents: Cents) -> Decimal:
    """The amount in major units as an exact Decimal with two places."""
    return Decimal(cents).scaleb(-2).quantize(Decimal("0.01"))


def format_money(cents: Cents, *, grouping: bool = True) -> str:
    """Render cents as major units: 123456 -> "1,234.56" (or "1234.56")."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    whole_text = f"{whole:,}" if grouping else str(whole)
    return f"{sign}{whole_text}.{fraction:02d}"


def format_plain(cents: Cents) -> str:
    """Render cents as the shortest exact major-unit text: 5000000 -> "50000", 150 -> "1.5"."""
    text = format_money(cents, grouping=False)
    if text.endswith(".00"):
        return text[:-3]
    return text.rstrip("0") if "." in text else text


def divide_rounded(total: Cents, count: int) -> Cents:
    """total / count rounded to the cent, halves away from zero (exact integer arithmetic)."""
    if count <= 0:
        raise ValueError("count must be positive")
    magnitude = (2 * abs(total) + count) // (2 * count)
    return -magnitude if total < 0 else magnitude
