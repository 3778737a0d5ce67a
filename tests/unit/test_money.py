"""Exact money: parsing major units, rounding halves away from zero, formatting."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg_desktop.core.money import (
    MoneyError,
    cents_from_decimal,
    divide_rounded,
    format_money,
    format_plain,
    parse_money,
    to_decimal,
)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("50000", 5_000_000),
        ("0", 0),
        ("0.01", 1),
        ("0.1", 10),
        ("12.5", 1_250),
        ("-12.5", -1_250),
        ("-0.01", -1),
        ("+3", 300),
        ("1,000.50", 100_050),
        ("1,000,000.00", 100_000_000),
        ("1 234.56", 123_456),
        ("1'000", 100_000),
        ("1\u00a0000", 100_000),
        ("  7  ", 700),
        ("-1,000.99", -100_099),
        ("007", 700),
    ],
)
def test_parse_money_accepts_major_units(typed: str, cents: int) -> None:
    assert parse_money(typed) == cents


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "12a",
        "1.",
        ".5",
        "1e3",
        "--1",
        "1,00",
        "1,0000",
        "12,34.5",
        "1.234,56",
        "1.2.3",
        "$100",
        "nan",
        "inf",
    ],
)
def test_parse_money_refuses_what_is_not_an_amount(typed: str) -> None:
    with pytest.raises(MoneyError):
        parse_money(typed)


@pytest.mark.parametrize("typed", ["10.005", "0.001", "-1.999", "1,000.505"])
def test_parse_money_refuses_three_decimals_rather_than_rounding(typed: str) -> None:
    with pytest.raises(MoneyError, match="more than two decimals"):
        parse_money(typed)


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (5, 2, 3),  # 2.5 -> 3
        (-5, 2, -3),  # -2.5 -> -3 (away from zero, not towards +inf)
        (1, 3, 0),
        (2, 3, 1),
        (-1, 3, 0),
        (-2, 3, -1),
        (10, 4, 3),  # 2.5
        (-10, 4, -3),
        (7, 2, 4),  # 3.5
        (-7, 2, -4),
        (3, 2, 2),  # 1.5
        (0, 5, 0),
        (100, 1, 100),
        (-100, 1, -100),
        (9, 4, 2),  # 2.25
        (11, 4, 3),  # 2.75
        (-9, 4, -2),
        (-11, 4, -3),
    ],
)
def test_divide_rounded_halves_away_from_zero(total: int, count: int, expected: int) -> None:
    assert divide_rounded(total, count) == expected


@pytest.mark.parametrize("count", [0, -1])
def test_divide_rounded_refuses_a_count_below_one(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        divide_rounded(10, count)


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**6))
def test_divide_rounded_agrees_with_decimal_round_half_up(total: int, count: int) -> None:
    # Decimal's ROUND_HALF_UP rounds halves away from zero.
    oracle = (Decimal(total) / Decimal(count)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert divide_rounded(total, count) == int(oracle)


@pytest.mark.parametrize(
    ("cents", "grouped", "plain"),
    [
        (0, "0.00", "0"),
        (1, "0.01", "0.01"),
        (10, "0.10", "0.1"),
        (105, "1.05", "1.05"),
        (150, "1.50", "1.5"),
        (-5, "-0.05", "-0.05"),
        (-150, "-1.50", "-1.5"),
        (123_456, "1,234.56", "1234.56"),
        (5_000_000, "50,000.00", "50000"),
        (-100_000_000, "-1,000,000.00", "-1000000"),
    ],
)
def test_format_money_and_format_plain(cents: int, grouped: str, plain: str) -> None:
    assert format_money(cents) == grouped
    assert format_money(cents, grouping=False) == grouped.replace(",", "")
    assert format_plain(cents) == plain


@given(st.integers(-(10**14), 10**14))
def test_formatted_money_parses_back_to_the_same_cents(cents: int) -> None:
    assert parse_money(format_money(cents)) == cents
    assert parse_money(format_plain(cents)) == cents
    assert parse_money(format_money(cents, grouping=False)) == cents


def test_to_decimal_is_exact_with_two_places() -> None:
    assert to_decimal(-5) == Decimal("-0.05")
    assert str(to_decimal(123_456)) == "1234.56"
    assert str(to_decimal(0)) == "0.00"


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Decimal("10.5"), 1_050),
        (Decimal("-0.01"), -1),
        (Decimal("1E+3"), 100_000),
        (Decimal("2.50"), 250),
    ],
)
def test_cents_from_decimal(value: Decimal, cents: int) -> None:
    assert cents_from_decimal(value) == cents


@pytest.mark.parametrize("value", [Decimal("10.005"), Decimal("NaN"), Decimal("Infinity")])
def test_cents_from_decimal_refuses_sub_cent_and_non_amounts(value: Decimal) -> None:
    with pytest.raises(MoneyError):
        cents_from_decimal(value)
