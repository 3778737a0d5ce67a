"""Amounts as they appear in imported files, read exactly as integer cents.

A statement line may say "1,234.50", "(1,234.50)", "1.234,50 €", "12.00-" or,
in a workbook, hold a binary float; every one of them becomes integer cents or
an `AmountProblem` with a reason a user can act on. Nothing is ever rounded
except a workbook float that is within 1e-6 of a whole cent, because that
difference is binary representation noise, not a sub-cent amount.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final, Literal

from seg_desktop.core.money import MAX_CENTS, Cents, MoneyError, cents_from_decimal

DecimalSeparator = Literal[".", ","]

# The common shapes of an export ("1234.50", "-12", "1,234.50"; "1.234,50" with
# a decimal comma) take a short path: they are most of a large statement file.
# PLAIN_AMOUNT[decimal] matches exactly the texts `plain_cents` reads.
PLAIN_AMOUNT: Final[dict[str, re.Pattern[str]]] = {
    ".": re.compile(r"-?[0-9]{1,13}(?:\.[0-9][0-9]?)?"),
    ",": re.compile(r"-?[0-9]{1,13}(?:,[0-9][0-9]?)?"),
}
_GROUPED: Final[dict[str, re.Pattern[str]]] = {
    ".": re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3}){1,4}(?:\.[0-9][0-9]?)?"),
    ",": re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{3}){1,4}(?:,[0-9][0-9]?)?"),
}

# Beyond a thousand million million in major units a cell is not revenue but a
# mistake (a pasted account number); refusing it also keeps Decimal arithmetic
# well inside its 28-digit context, so nothing is ever rounded silently.
# Up to 9,999,999,999,999.99: core.money.MAX_CENTS, the one limit for every amount.
MAX_WHOLE_DIGITS: Final = len(str(MAX_CENTS // 100))
_MAX_MAJOR: Final = MAX_CENTS // 100 + 1  # the first whole amount that is too large
_SHOWN_LENGTH: Final = 40  # characters of a cell quoted in a reason

_CURRENCY_SYMBOLS: Final = "$€£¥₹₣₤"
_CURRENCY_CODES: Final = (
    "EUR", "USD", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "JPY", "ZAR",
)  # fmt: skip
_CURRENCY_PREFIX: Final = re.compile(
    rf"^(?:[{_CURRENCY_SYMBOLS}]|(?:{'|'.join(_CURRENCY_CODES)})(?![A-Za-z]))\s*",
    re.IGNORECASE,
)
_CURRENCY_SUFFIX: Final = re.compile(
    rf"\s*(?:[{_CURRENCY_SYMBOLS}]|(?<![A-Za-z])(?:{'|'.join(_CURRENCY_CODES)}))$",
    re.IGNORECASE,
)
_MINUS_SIGNS: Final = "-\u2212\u2013"  # ASCII hyphen, the typographic minus, an en dash

# Spaces used as thousands separators by spreadsheets and locales:
# ordinary, no-break and narrow no-break; apostrophes are the Swiss habit.
_SPACES: Final = " \u00a0\u202f"
_THOUSANDS: Final[dict[str, str]] = {
    ".": re.escape("," + _SPACES + "'’"),
    ",": re.escape("." + _SPACES + "'’"),
}
_NUMBER: Final[dict[str, re.Pattern[str]]] = {
    decimal: re.compile(
        rf"(?P<whole>\d{{1,3}}(?P<sep>[{thousands}])\d{{3}}(?:(?P=sep)\d{{3}})*|\d*)"
        rf"(?:{re.escape(decimal)}(?P<fraction>\d+))?"
    )
    for decimal, thousands in _THOUSANDS.items()
}

# Floats from a workbook: how far from a whole cent is still "the same amount".
_FLOAT_TOLERANCE: Final = Decimal("1e-6")


class AmountProblem(ValueError):
    """A cell that is not an amount; the message is the reason shown for its row."""


def parse_amount(text: str, decimal: DecimalSeparator = ".") -> Cents:
    """Read an amount written as text in a file as cents.

    Accepts a leading or trailing minus, accounting parentheses for negatives,
    thousands separators (with decimal "." : "," spaces and apostrophes; with
    decimal "," : "." spaces and apostrophes), and currency symbols or codes
    ($ € £ EUR USD ...) before or after the number. More than two decimals is
    refused unless the extra digits are zeros ("12.3400" is exactly 12.34).
    """
    if PLAIN_AMOUNT[decimal].fullmatch(text) is not None:
        return plain_cents(text, decimal)
    if _GROUPED[decimal].fullmatch(text) is not None:
        cents = plain_cents(text.replace("," if decimal == "." else ".", ""), decimal)
        # Five digit groups reach 15 whole digits: beyond the 13 every amount is held to.
        if abs(cents) > MAX_CENTS:
            raise AmountProblem(f"amount '{text}' is too large")
        return cents
    return _parse_amount_slowly(text, decimal)


def plain_cents(text: str, decimal: str) -> Cents:
    """Cents of a text already known to be digits with an optional sign and 1-2 decimals.

    "-1234.5" -> int("-12345") * 10: exact integer arithmetic, no regex groups.
    """
    point = text.find(decimal)
    if point < 0:
        return int(text) * 100
    places = len(text) - point - 1
    return int(text[:point] + text[point + 1 :]) * (10 if places == 1 else 1)


def _parse_amount_slowly(text: str, decimal: DecimalSeparator) -> Cents:
    raw = text.strip()
    if not raw:
        raise AmountProblem("missing amount")
    if len(raw) > _SHOWN_LENGTH:
        raise AmountProblem(f"amount '{shown(raw)}' is not a number")
    body, negative = _strip_decorations(raw)
    if body is None:
        raise AmountProblem(_not_a_number(raw, decimal))
    match = _NUMBER[decimal].fullmatch(body)
    if match is None or not (match["whole"] or match["fraction"]):
        raise AmountProblem(_not_a_number(raw, decimal))
    fraction = match["fraction"] or ""
    if len(fraction) > 2:
        if fraction[2:].strip("0"):
            raise AmountProblem(f"amount '{raw}' has more than two decimals")
        fraction = fraction[:2]
    whole = re.sub(r"\D", "", match["whole"]).lstrip("0") or "0"
    if len(whole) > MAX_WHOLE_DIGITS:
        raise AmountProblem(f"amount '{raw}' is too large")
    # Rebuilt as "1234.50" so the exact conversion is the one core.money owns.
    cents = cents_from_decimal(Decimal(f"{whole}.{fraction or '0'}"))
    return -cents if negative else cents


def _strip_decorations(raw: str) -> tuple[str | None, bool]:
    """Peel currency marks, signs and parentheses off an amount.

    Returns the bare number text and whether it was negative, or None when the
    decorations contradict each other ("--12", "(-12)", "(12").
    """
    body = raw
    negative_marks = 0
    for _ in range(8):  # each pass removes at least one mark; 8 is far more than real cells use
        before = body
        body = _CURRENCY_SUFFIX.sub("", _CURRENCY_PREFIX.sub("", body)).strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1].strip()
            negative_marks += 1
        elif body and body[0] in _MINUS_SIGNS:
            body = body[1:].strip()
            negative_marks += 1
        elif body.startswith("+"):
            body = body[1:].strip()
        elif body and body[-1] in _MINUS_SIGNS:
            body = body[:-1].strip()
            negative_marks += 1
        if body == before:
            break
    if negative_marks > 1 or "(" in body or ")" in body:
        return None, False
    return body, negative_marks == 1


def _not_a_number(raw: str, decimal: DecimalSeparator) -> str:
    other = "," if decimal == "." else "."
    if re.fullmatch(rf"[-+(]?\d+{re.escape(other)}\d{{1,2}}\)?-?", raw):
        # "12,50" read with decimal "." (or "1.5" with ","): the likeliest mistake.
        return (
            f"amount '{raw}' is not a number with decimal separator '{decimal}'"
            f" (is the decimal separator '{other}'?)"
        )
    return f"amount '{raw}' is not a number"


def cents_from_number(value: int | float | Decimal) -> Cents:
    """Convert a workbook's numeric cell (major units) to cents.

    Integers are exact. A float is read through its shortest repr, which is the
    decimal the user typed for any realistic amount; if that still has more
    than two decimals it is accepted only when within 1e-6 of a whole cent
    (float noise from a formula such as =A1*1.1), otherwise refused.
    """
    if isinstance(value, bool):
        # bool is an int subclass: TRUE must not become one cent.
        raise AmountProblem(f"amount '{str(value).upper()}' is not a number")
    if isinstance(value, int):
        if abs(value) >= _MAX_MAJOR:
            raise AmountProblem(f"amount '{value}' is too large")
        return value * 100
    if isinstance(value, float) and not math.isfinite(value):
        raise AmountProblem(f"amount '{value}' is not a number")
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    if not exact.is_finite():
        raise AmountProblem(f"amount '{exact}' is not a number")
    if abs(exact) >= _MAX_MAJOR:
        raise AmountProblem(f"amount '{exact:.0f}' is too large")
    try:
        return cents_from_decimal(exact)
    except MoneyError:
        pass
    try:
        nearest = (exact * 100).to_integral_value(rounding=ROUND_HALF_EVEN)
        if abs(exact - nearest / 100) <= _FLOAT_TOLERANCE:
            return int(nearest)
    except InvalidOperation:
        pass
    raise AmountProblem(f"amount '{_plain_number_text(exact)}' has more than two decimals")


def shown(text: str) -> str:
    """A cell's text as quoted in a reason: long cells are cut, so a reason stays one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN_LENGTH else flat[: _SHOWN_LENGTH - 1] + "…"


def _plain_number_text(value: Decimal) -> str:
    """A Decimal as fixed-point text: 1.2345E+3 -> "1234.5", for messages."""
    return format(value, "f")
