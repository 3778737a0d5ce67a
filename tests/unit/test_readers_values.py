"""Amount and date cells read exactly, at the boundaries (seg_desktop.io.amounts / dates)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg_desktop.io.amounts import AmountProblem, cents_from_number, parse_amount
from seg_desktop.io.dates import (
    DateEvidence,
    DateFormatNeeded,
    DateProblem,
    date_from_serial,
    parse_date,
)


@pytest.mark.parametrize(
    ("text", "decimal", "cents"),
    [
        ("1234.50", ".", 123450),
        ("1,234.50", ".", 123450),
        ("1 234 567.89", ".", 123456789),
        ("1'234.50", ".", 123450),
        ("-12", ".", -1200),
        ("+12", ".", 1200),
        ("(1,234.50)", ".", -123450),
        ("12.00-", ".", -1200),
        ("−7.5", ".", -750),  # a typographic minus
        ("$1,234.50", ".", 123450),
        ("-$12", ".", -1200),
        ("$-12", ".", -1200),
        ("($12.00)", ".", -1200),
        ("USD 12", ".", 1200),
        ("12 EUR", ".", 1200),
        ("eur12", ".", 1200),
        ("0.01", ".", 1),
        ("-0.01", ".", -1),
        (".5", ".", 50),
        ("1,000", ".", 100000),
        ("12.3400", ".", 1234),
        ("1.234,50", ",", 123450),
        ("1 234,50", ",", 123450),
        ("1\u00a0234,50", ",", 123450),
        ("1.000", ",", 100000),
        ("1.000,00", ",", 100000),
        ("-12,5", ",", -1250),
        ("(5,00)", ",", -500),
        ("12,00 €", ",", 1200),
        ("€-3", ",", -300),
        ("1,000", ",", 100),
        # The largest amount: 13 whole digits, inside core.money.MAX_CENTS.
        ("9999999999999.99", ".", 999999999999999),
        ("-9,999,999,999,999.99", ".", -999999999999999),
        ("0000000000000000001", ".", 100),
    ],
)
def test_amounts(text: str, decimal: str, cents: int) -> None:
    assert parse_amount(text, decimal) == cents  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "decimal", "reason"),
    [
        ("abc", ".", "amount 'abc' is not a number"),
        ("", ".", "missing amount"),
        ("   ", ".", "missing amount"),
        ("0.001", ".", "amount '0.001' has more than two decimals"),
        ("12.345", ".", "amount '12.345' has more than two decimals"),
        ("1,234.567", ".", "amount '1,234.567' has more than two decimals"),
        ("1,23.50", ".", "amount '1,23.50' is not a number"),
        ("1,234 567.00", ".", "amount '1,234 567.00' is not a number"),
        ("--12", ".", "amount '--12' is not a number"),
        ("(-12)", ".", "amount '(-12)' is not a number"),
        ("(12", ".", "amount '(12' is not a number"),
        ("-", ".", "amount '-' is not a number"),
        ("1e3", ".", "amount '1e3' is not a number"),
        ("12EURO", ".", "amount '12EURO' is not a number"),
        ("XYZ 12", ".", "amount 'XYZ 12' is not a number"),
        ("1_000", ".", "amount '1_000' is not a number"),
        (
            "12,5",
            ".",
            "amount '12,5' is not a number with decimal separator '.'"
            " (is the decimal separator ','?)",
        ),
        (
            "1.5",
            ",",
            "amount '1.5' is not a number with decimal separator ','"
            " (is the decimal separator '.'?)",
        ),
        ("1,234", ",", "amount '1,234' has more than two decimals"),
        ("10000000000000", ".", "amount '10000000000000' is too large"),
        ("1000000000000000", ".", "amount '1000000000000000' is too large"),
        ("1,000,000,000,000,000.00", ".", "amount '1,000,000,000,000,000.00' is too large"),
        ("9" * 5000, ".", "amount '" + "9" * 39 + "…' is not a number"),
    ],
)
def test_amount_problems(text: str, decimal: str, reason: str) -> None:
    with pytest.raises(AmountProblem) as raised:
        parse_amount(text, decimal)  # type: ignore[arg-type]
    assert str(raised.value) == reason


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (12, 1200),
        (-3, -300),
        (1234.56, 123456),
        (0.1 + 0.2, 30),  # 0.30000000000000004: float noise within 1e-6 of a cent
        (19.99 * 3, 5997),  # 59.97000000000001
        (-0.01, -1),
        (Decimal("12.30"), 1230),
        (10.0**12, 10**14),
    ],
)
def test_workbook_numbers(value: float, cents: int) -> None:
    assert cents_from_number(value) == cents


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (12.345, "amount '12.345' has more than two decimals"),
        (0.005, "amount '0.005' has more than two decimals"),
        (0.01 + 0.00001, "amount '0.01001' has more than two decimals"),
        (True, "amount 'TRUE' is not a number"),
        (float("nan"), "amount 'nan' is not a number"),
        (float("inf"), "amount 'inf' is not a number"),
        (1e15, "amount '1000000000000000' is too large"),
        (-(10**15), "amount '-1000000000000000' is too large"),
        (10**13, "amount '10000000000000' is too large"),
    ],
)
def test_workbook_number_problems(value: float, reason: str) -> None:
    with pytest.raises(AmountProblem) as raised:
        cents_from_number(value)
    assert str(raised.value) == reason


@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_every_cent_amount_survives_a_float_cell(cents: int) -> None:
    assert cents_from_number(cents / 100) == cents


@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12),
    style=st.sampled_from(["plain", "grouped", "parentheses", "trailing", "currency"]),
    decimal=st.sampled_from([".", ","]),
)
def test_amount_texts_round_trip(cents: int, style: str, decimal: str) -> None:
    whole, fraction = divmod(abs(cents), 100)
    grouping = "," if decimal == "." else "."
    number = f"{whole:,}".replace(",", grouping) if style != "plain" else str(whole)
    body = f"{number}{decimal}{fraction:02d}"
    negative = cents < 0
    if style == "parentheses":
        text = f"({body})" if negative else body
    elif style == "trailing":
        text = f"{body}-" if negative else body
    elif style == "currency":
        text = f"{'-' if negative else ''}€ {body}"
    else:
        text = f"{'-' if negative else ''}{body}"
    assert parse_amount(text, decimal) == cents  # type: ignore[arg-type]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "date_format", "day"),
    [
        ("2026-03-02", None, "2026-03-02"),
        (" 2026-03-02 ", "dmy", "2026-03-02"),
        ("2026/3/2", "mdy", "2026-03-02"),
        ("20260302", "iso", "2026-03-02"),
        ("2026-03-02T23:59:59Z", None, "2026-03-02"),
        ("2026-03-02 10:00", None, "2026-03-02"),
        ("02/03/2026", "dmy", "2026-03-02"),
        ("2.3.2026", "dmy", "2026-03-02"),
        ("02-03-2026", "dmy", "2026-03-02"),
        ("03/02/2026", "mdy", "2026-03-02"),
        ("3/2/2026 4:05 PM", "mdy", "2026-03-02"),
        ("29/02/2024", "dmy", "2024-02-29"),
        ("31/12/9999", "dmy", "9999-12-31"),
    ],
)
def test_dates(text: str, date_format: str | None, day: str) -> None:
    assert parse_date(text, date_format) == dt.date.fromisoformat(day)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "date_format", "reason"),
    [
        ("", "dmy", "missing date"),
        ("31/02/2026", "dmy", "date '31/02/2026' does not exist"),
        ("29/02/2025", "dmy", "date '29/02/2025' does not exist"),
        ("02/30/2026", "mdy", "date '02/30/2026' does not exist"),
        ("2026-02-29", None, "date '2026-02-29' does not exist"),
        ("2026-13-01", "iso", "date '2026-13-01' does not exist"),
        ("02/03/26", "dmy", "date '02/03/26' has a two-digit year; write the year in full"),
        ("02/03-2026", "dmy", "date '02/03-2026' is not a date (day/month/year, e.g. 02/03/2026)"),
        (
            "March 2, 2026",
            "mdy",
            "date 'March 2, 2026' is not a date (month/day/year, e.g. 03/02/2026)",
        ),
        ("02/03/2026", "iso", "date '02/03/2026' is not an ISO date (YYYY-MM-DD, e.g. 2026-03-02)"),
        ("1/2/20266", None, "date '1/2/20266' is not a date (e.g. 2026-03-02)"),
    ],
)
def test_date_problems(text: str, date_format: str | None, reason: str) -> None:
    with pytest.raises(DateProblem) as raised:
        parse_date(text, date_format)  # type: ignore[arg-type]
    assert str(raised.value) == reason


@pytest.mark.parametrize("text", ["02/03/2026", "25/12/2026", "2.3.2026", "02/03/26"])
def test_day_month_dates_without_a_format_are_never_guessed(text: str) -> None:
    with pytest.raises(DateFormatNeeded):
        parse_date(text, None)


@given(st.dates(min_value=dt.date(1000, 1, 1)))
def test_dates_round_trip_in_every_format(day: dt.date) -> None:
    assert parse_date(day.isoformat(), None) == day
    assert parse_date(f"{day.day:02d}/{day.month:02d}/{day.year}", "dmy") == day
    assert parse_date(f"{day.day}.{day.month}.{day.year}", "dmy") == day
    assert parse_date(f"{day.month}/{day.day}/{day.year}", "mdy") == day


@pytest.mark.parametrize(
    ("serial", "day"),
    [
        (1, "1900-01-01"),
        (59, "1900-02-28"),
        (61, "1900-03-01"),
        (46083, "2026-03-02"),
        (46083.999, "2026-03-02"),
        (2958465, "9999-12-31"),
    ],
)
def test_serial_dates(serial: float, day: str) -> None:
    assert date_from_serial(serial) == dt.date.fromisoformat(day)


@pytest.mark.parametrize("serial", [0, -1, 60, 2958466, float("nan")])
def test_serial_dates_out_of_range(serial: float) -> None:
    with pytest.raises(DateProblem):
        date_from_serial(serial)


def test_date_evidence() -> None:
    evidence = DateEvidence()
    for row, text in enumerate(["2026-03-02", "03/04/2026", "13/13/2026", "abc"], start=2):
        evidence.observe_text(text, row)
    assert (evidence.suggested_format, evidence.ambiguous, evidence.contradictory) == (
        None,
        True,
        False,
    )
    evidence.observe_text("12/13/2026", 9)
    assert (evidence.suggested_format, evidence.ambiguous) == ("mdy", False)
    evidence.observe_text("13/12/2026", 10)
    assert (evidence.suggested_format, evidence.contradictory) == (None, True)
    only_iso = DateEvidence()
    only_iso.observe_text("2026-03-02", 2)
    assert (only_iso.suggested_format, only_iso.explain("Date")) == ("iso", None)
