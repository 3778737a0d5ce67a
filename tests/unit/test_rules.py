"""Rule segments in Python: every operator on every field type, values, plain words, explain."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg_desktop.core.money import format_plain
from seg_desktop.core.rules import (
    Criterion,
    FieldType,
    MatchMode,
    Operator,
    ParsedCriterion,
    RelativeDays,
    RuleField,
    RuleValueError,
    SegmentDefinition,
    describe,
    describe_definition,
    explain,
    format_value,
    matches,
    operators_for,
    parse_criterion,
    segment_matches,
    validate_definition,
)
from tests.helpers.office import facts

AS_OF = dt.date(2026, 3, 15)
F = RuleField
O = Operator  # noqa: E741


def rule(field: RuleField, operator: Operator, value: str | None = None) -> ParsedCriterion:
    return parse_criterion(Criterion(field, operator, value))


def holds(field: RuleField, operator: Operator, value: str | None, **client: object) -> bool:
    return matches(rule(field, operator, value), facts(**client), AS_OF)


def days_ago(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "equal"),
    [
        ("Acme", "Acme", True),
        ("Acme", "acme", False),
        ("Acme", "ACME", False),
        ("Acme ", "Acme", False),
        ("Acme", "Acm", False),
        ("100% Pure", "100% Pure", True),
        ("100% Pure", "100_ Pure", False),
        ("A_B", "A%B", False),
        ("O'Brien", "O'Brien", True),
        ('Say "hi"', 'Say "hi"', True),
        ("C:\\path", "C:\\path", True),
        ("Müller", "MÜLLER", False),
    ],
)
def test_text_equals_is_exact_and_case_sensitive(name: str, value: str, equal: bool) -> None:
    assert holds(F.COMPANY_NAME, O.EQUALS, value, name=name) is equal
    assert holds(F.COMPANY_NAME, O.NOT_EQUALS, value, name=name) is not equal


@pytest.mark.parametrize(
    ("name", "value", "contained"),
    [
        ("Northwind Ltd", "wind", True),
        ("Northwind Ltd", "WIND", False),
        ("100% Pure", "%", True),
        ("100 Pure", "%", False),
        ("Acme", "%", False),
        ("A_B", "_", True),
        ("AxB", "A_B", False),
        ("AB", "_", False),
        ("C:\\data", "\\", True),
        ("C:/data", "\\", False),
        ("O'Brien", "'", True),
        ('Say "hi"', '"', True),
        ("Obrien", "'", False),
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("a%b", "%%", False),
    ],
)
def test_text_contains_takes_every_character_literally(
    name: str, value: str, contained: bool
) -> None:
    assert holds(F.COMPANY_NAME, O.CONTAINS, value, name=name) is contained


@pytest.mark.parametrize("field", [F.COMPANY_NAME, F.EMAIL, F.STATUS, F.TIER])
@pytest.mark.parametrize("empty", [None, ""])
def test_empty_text(field: RuleField, empty: str | None) -> None:
    attribute = {F.COMPANY_NAME: "name", F.EMAIL: "email", F.STATUS: "status", F.TIER: "tier"}[
        field
    ]
    client = {attribute: empty}
    assert holds(field, O.IS_EMPTY, None, **client)
    assert not holds(field, O.IS_NOT_EMPTY, None, **client)
    assert not holds(field, O.EQUALS, "x", **client)
    assert holds(field, O.NOT_EQUALS, "x", **client)  # empty is not_equals anything
    assert not holds(field, O.CONTAINS, "x", **client)


def test_text_with_a_value_is_not_empty() -> None:
    assert holds(F.EMAIL, O.IS_NOT_EMPTY, None, email="a@b.c")
    assert not holds(F.EMAIL, O.IS_EMPTY, None, email="a@b.c")
    assert holds(F.EMAIL, O.IS_NOT_EMPTY, None, email=" ")  # a space is a value


def test_status_and_tier_compare_as_text() -> None:
    assert holds(F.STATUS, O.EQUALS, "active", status="active")
    assert not holds(F.STATUS, O.EQUALS, "Active", status="active")
    assert holds(F.TIER, O.EQUALS, "Gold", tier="Gold")
    assert holds(F.TIER, O.NOT_EQUALS, "Gold", tier="Silver")
    assert holds(F.TIER, O.CONTAINS, "ol", tier="Gold")


# --- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "operator", "value", "expected"),
    [
        ({"vip", "north"}, O.EQUALS, "vip", True),
        ({"vip", "north"}, O.EQUALS, "VIP", False),
        ({"vip", "north"}, O.EQUALS, "vi", False),
        ({"vipp"}, O.EQUALS, "vip", False),
        ({"vip", "north"}, O.NOT_EQUALS, "vip", False),
        ({"north"}, O.NOT_EQUALS, "vip", True),
        (set(), O.NOT_EQUALS, "vip", True),
        (set(), O.EQUALS, "vip", False),
        ({"vip", "north"}, O.CONTAINS, "ort", True),
        ({"vip", "north"}, O.CONTAINS, "ORT", False),
        ({"50%"}, O.CONTAINS, "%", True),
        ({"50"}, O.CONTAINS, "%", False),
        ({"a_b"}, O.CONTAINS, "_", True),
        ({"ab"}, O.CONTAINS, "_", False),
        (set(), O.CONTAINS, "a", False),
        (set(), O.IS_EMPTY, None, True),
        ({"x"}, O.IS_EMPTY, None, False),
        (set(), O.IS_NOT_EMPTY, None, False),
        ({"x"}, O.IS_NOT_EMPTY, None, True),
    ],
)
def test_tags(tags: set[str], operator: Operator, value: str | None, expected: bool) -> None:
    assert holds(F.TAGS, operator, value, tags=frozenset(tags)) is expected


# --- money and integer -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "operator", "value", "expected"),
    [
        (5_000_000, O.GREATER_THAN, "50000", False),
        (5_000_001, O.GREATER_THAN, "50000", True),
        (4_999_999, O.GREATER_THAN, "50000", False),
        (5_000_000, O.LESS_THAN, "50000", False),
        (4_999_999, O.LESS_THAN, "50000", True),
        (5_000_000, O.EQUALS, "50000", True),
        (5_000_000, O.EQUALS, "50,000.00", True),
        (5_000_001, O.EQUALS, "50000", False),
        (5_000_001, O.NOT_EQUALS, "50000", True),
        (5_000_000, O.NOT_EQUALS, "50000", False),
        (-1, O.LESS_THAN, "0", True),
        (-150, O.EQUALS, "-1.50", True),
        (0, O.GREATER_THAN, "-0.01", True),
        (0, O.IS_EMPTY, None, False),  # total revenue is 0 when there is none: never empty
        (0, O.IS_NOT_EMPTY, None, True),
    ],
)
def test_total_revenue(total: int, operator: Operator, value: str | None, expected: bool) -> None:
    assert holds(F.TOTAL_REVENUE, operator, value, total_revenue=total) is expected


def test_empty_average_invoice_amount() -> None:
    client = {"average_invoice_amount": None}
    assert not holds(F.AVERAGE_INVOICE_AMOUNT, O.GREATER_THAN, "-1000000", **client)
    assert not holds(F.AVERAGE_INVOICE_AMOUNT, O.LESS_THAN, "1000000", **client)
    assert not holds(F.AVERAGE_INVOICE_AMOUNT, O.EQUALS, "0", **client)
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.NOT_EQUALS, "0", **client)
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.IS_EMPTY, None, **client)
    assert not holds(F.AVERAGE_INVOICE_AMOUNT, O.IS_NOT_EMPTY, None, **client)


def test_average_invoice_amount_with_a_value() -> None:
    client = {"average_invoice_amount": 12_345}
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.EQUALS, "123.45", **client)
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.GREATER_THAN, "123.44", **client)
    assert not holds(F.AVERAGE_INVOICE_AMOUNT, O.GREATER_THAN, "123.45", **client)
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.LESS_THAN, "123.46", **client)
    assert holds(F.AVERAGE_INVOICE_AMOUNT, O.IS_NOT_EMPTY, None, **client)


@pytest.mark.parametrize(
    ("count", "operator", "value", "expected"),
    [
        (5, O.GREATER_THAN, "5", False),
        (6, O.GREATER_THAN, "5", True),
        (4, O.LESS_THAN, "5", True),
        (5, O.LESS_THAN, "5", False),
        (5, O.EQUALS, " 5 ", True),
        (5, O.EQUALS, "+5", True),
        (0, O.EQUALS, "0", True),
        (0, O.NOT_EQUALS, "0", False),
        (0, O.GREATER_THAN, "-1", True),
        (0, O.IS_EMPTY, None, False),
    ],
)
def test_invoice_count(count: int, operator: Operator, value: str | None, expected: bool) -> None:
    assert holds(F.INVOICE_COUNT, operator, value, invoice_count=count) is expected


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "operator", "days", "expected"),
    [
        # less_than 90 days ago = within the last 90 days = age < 90
        (89, O.LESS_THAN, 90, True),
        (90, O.LESS_THAN, 90, False),
        (91, O.LESS_THAN, 90, False),
        (0, O.LESS_THAN, 90, True),
        (-5, O.LESS_THAN, 90, True),  # a future date has a negative age
        # greater_than 180 days ago = more than 180 days ago = age > 180
        (181, O.GREATER_THAN, 180, True),
        (180, O.GREATER_THAN, 180, False),
        (179, O.GREATER_THAN, 180, False),
        (5_000, O.GREATER_THAN, 180, True),
        # equals 30 days ago = exactly 30 days ago
        (30, O.EQUALS, 30, True),
        (29, O.EQUALS, 30, False),
        (31, O.EQUALS, 30, False),
        (30, O.NOT_EQUALS, 30, False),
        (31, O.NOT_EQUALS, 30, True),
        (0, O.EQUALS, 0, True),
        (1, O.LESS_THAN, 1, False),
        (0, O.LESS_THAN, 1, True),
    ],
)
@pytest.mark.parametrize("field", [F.LAST_INVOICE_DATE, F.FIRST_INVOICE_DATE])
def test_relative_dates_compare_the_age_in_days(
    field: RuleField, age: int, operator: Operator, days: int, expected: bool
) -> None:
    attribute = "last_invoice_date" if field is F.LAST_INVOICE_DATE else "first_invoice_date"
    assert holds(field, operator, f"{days} days ago", **{attribute: days_ago(age)}) is expected


def test_relative_dates_count_from_the_as_of_date() -> None:
    criterion = rule(F.LAST_INVOICE_DATE, O.LESS_THAN, "90 days ago")
    client = facts(last_invoice_date=dt.date(2026, 1, 1))
    assert matches(criterion, client, dt.date(2026, 3, 31))  # age 89
    assert not matches(criterion, client, dt.date(2026, 4, 1))  # age 90
    # across a leap day: 2024-02-29 exists
    assert matches(
        rule(F.LAST_INVOICE_DATE, O.EQUALS, "1 day ago"),
        facts(last_invoice_date=dt.date(2024, 2, 29)),
        dt.date(2024, 3, 1),
    )


@pytest.mark.parametrize("operator", [O.LESS_THAN, O.GREATER_THAN, O.EQUALS])
@pytest.mark.parametrize("value", ["90 days ago", "2026-01-01"])
def test_empty_dates_never_compare(operator: Operator, value: str) -> None:
    assert not holds(F.LAST_INVOICE_DATE, operator, value, last_invoice_date=None)
    assert holds(F.LAST_INVOICE_DATE, O.NOT_EQUALS, value, last_invoice_date=None)
    assert holds(F.LAST_INVOICE_DATE, O.IS_EMPTY, None, last_invoice_date=None)
    assert not holds(F.LAST_INVOICE_DATE, O.IS_NOT_EMPTY, None, last_invoice_date=None)


@pytest.mark.parametrize(
    ("date", "operator", "expected"),
    [
        (dt.date(2026, 1, 2), O.GREATER_THAN, True),  # after
        (dt.date(2026, 1, 1), O.GREATER_THAN, False),
        (dt.date(2025, 12, 31), O.GREATER_THAN, False),
        (dt.date(2025, 12, 31), O.LESS_THAN, True),  # before
        (dt.date(2026, 1, 1), O.LESS_THAN, False),
        (dt.date(2026, 1, 2), O.LESS_THAN, False),
        (dt.date(2026, 1, 1), O.EQUALS, True),
        (dt.date(2026, 1, 2), O.EQUALS, False),
        (dt.date(2026, 1, 1), O.NOT_EQUALS, False),
        (dt.date(2026, 1, 2), O.NOT_EQUALS, True),
    ],
)
def test_absolute_dates(date: dt.date, operator: Operator, expected: bool) -> None:
    assert holds(F.FIRST_INVOICE_DATE, operator, "2026-01-01", first_invoice_date=date) is expected


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (F.TOTAL_REVENUE, "fifty", "Total revenue: 'fifty' is not an amount"),
        (F.TOTAL_REVENUE, "10.005", "more than two decimals"),
        (F.TOTAL_REVENUE, "", "an amount is required"),
        (F.AVERAGE_INVOICE_AMOUNT, "1.2.3", "not an amount"),
        (F.INVOICE_COUNT, "abc", "Invoice count: 'abc' is not a whole number"),
        (F.INVOICE_COUNT, "5.5", "not a whole number"),
        (F.INVOICE_COUNT, "", "not a whole number"),
        (F.LAST_INVOICE_DATE, "2026-02-30", "2026-02-30 is not a real date"),
        (F.LAST_INVOICE_DATE, "2025-02-29", "not a real date"),
        (F.LAST_INVOICE_DATE, "2026-13-01", "not a real date"),
        (F.LAST_INVOICE_DATE, "yesterday", "is not a date; use YYYY-MM-DD or 'N days ago'"),
        (F.LAST_INVOICE_DATE, "15/03/2026", "is not a date"),
        (F.LAST_INVOICE_DATE, "-5 days ago", "is not a date"),
        (F.FIRST_INVOICE_DATE, "", "is not a date"),
        (F.COMPANY_NAME, "", "type a value"),
        (F.TAGS, "", "type a value"),
    ],
)
def test_values_that_do_not_fit_the_field_are_refused(
    field: RuleField, value: str, message: str
) -> None:
    operator = O.EQUALS
    with pytest.raises(RuleValueError, match=message.replace("(", r"\(")):
        parse_criterion(Criterion(field, operator, value))


def test_a_missing_value_is_refused_like_an_empty_one() -> None:
    with pytest.raises(RuleValueError):
        parse_criterion(Criterion(F.TOTAL_REVENUE, O.GREATER_THAN, None))


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("90 days ago", RelativeDays(90)),
        (" 90 DAYS AGO ", RelativeDays(90)),
        ("1 day ago", RelativeDays(1)),
        ("0 days ago", RelativeDays(0)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_date_values(value: str, parsed: object) -> None:
    assert rule(F.LAST_INVOICE_DATE, O.LESS_THAN, value).value == parsed


@pytest.mark.parametrize(
    ("field", "operator"),
    [
        (F.TOTAL_REVENUE, O.CONTAINS),
        (F.INVOICE_COUNT, O.CONTAINS),
        (F.LAST_INVOICE_DATE, O.CONTAINS),
        (F.COMPANY_NAME, O.GREATER_THAN),
        (F.EMAIL, O.LESS_THAN),
        (F.TAGS, O.GREATER_THAN),
        (F.TIER, O.LESS_THAN),
    ],
)
def test_an_operator_that_does_not_fit_the_field_is_refused(
    field: RuleField, operator: Operator
) -> None:
    assert operator not in operators_for(field)
    with pytest.raises(RuleValueError, match="cannot use"):
        parse_criterion(Criterion(field, operator, "1"))


def test_operators_for_each_field_type() -> None:
    for field in RuleField:
        operators = set(operators_for(field))
        assert {O.EQUALS, O.NOT_EQUALS, O.IS_EMPTY, O.IS_NOT_EMPTY} <= operators
        textual = field.type in (FieldType.TEXT, FieldType.TAGS)
        assert (O.CONTAINS in operators) is textual
        assert (O.GREATER_THAN in operators) is not textual
        assert (O.LESS_THAN in operators) is not textual


def test_is_empty_ignores_a_value() -> None:
    assert rule(F.EMAIL, O.IS_EMPTY, "whatever").value is None


def test_validate_definition_names_the_bad_criterion() -> None:
    definition = SegmentDefinition(
        "Big",
        (
            Criterion(F.TOTAL_REVENUE, O.GREATER_THAN, "100"),
            Criterion(F.INVOICE_COUNT, O.GREATER_THAN, "many"),
        ),
    )
    with pytest.raises(
        RuleValueError, match=r"^criterion 2: Invoice count: 'many' is not a whole number"
    ):
        validate_definition(definition)
    with pytest.raises(RuleValueError, match="needs a name"):
        validate_definition(SegmentDefinition("  ", ()))


@pytest.mark.parametrize(
    ("field", "typed", "canonical"),
    [
        (F.TOTAL_REVENUE, "50,000.00", "50000"),
        (F.TOTAL_REVENUE, "1234.5", "1234.5"),
        (F.TOTAL_REVENUE, "-0.05", "-0.05"),
        (F.INVOICE_COUNT, " +5 ", "5"),
        (F.LAST_INVOICE_DATE, " 90 DAYS AGO", "90 days ago"),
        (F.LAST_INVOICE_DATE, "2026-01-05", "2026-01-05"),
        (F.COMPANY_NAME, " a%b ", " a%b "),  # text is kept as typed
    ],
)
def test_canonical_values_parse_back_to_the_same_criterion(
    field: RuleField, typed: str, canonical: str
) -> None:
    parsed = rule(field, O.EQUALS, typed)
    assert format_value(field, parsed.value) == canonical
    assert parsed.source == Criterion(field, O.EQUALS, canonical)
    assert parse_criterion(parsed.source) == parsed


# --- plain words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "operator", "value", "words"),
    [
        (
            F.LAST_INVOICE_DATE,
            O.LESS_THAN,
            "90 days ago",
            "Last invoice date within the last 90 days",
        ),
        (
            F.LAST_INVOICE_DATE,
            O.GREATER_THAN,
            "180 days ago",
            "Last invoice date more than 180 days ago",
        ),
        (
            F.FIRST_INVOICE_DATE,
            O.LESS_THAN,
            "30 days ago",
            "First invoice date within the last 30 days",
        ),
        (F.LAST_INVOICE_DATE, O.EQUALS, "30 days ago", "Last invoice date exactly 30 days ago"),
        (
            F.LAST_INVOICE_DATE,
            O.NOT_EQUALS,
            "30 days ago",
            "Last invoice date not exactly 30 days ago",
        ),
        (F.LAST_INVOICE_DATE, O.LESS_THAN, "1 day ago", "Last invoice date within the last 1 day"),
        (
            F.LAST_INVOICE_DATE,
            O.GREATER_THAN,
            "2026-01-01",
            "Last invoice date is after 2026-01-01",
        ),
        (F.LAST_INVOICE_DATE, O.LESS_THAN, "2026-01-01", "Last invoice date is before 2026-01-01"),
        (F.LAST_INVOICE_DATE, O.EQUALS, "2026-01-01", "Last invoice date is on 2026-01-01"),
        (F.TOTAL_REVENUE, O.GREATER_THAN, "50000", "Total revenue is more than 50,000.00"),
        (
            F.AVERAGE_INVOICE_AMOUNT,
            O.LESS_THAN,
            "-12.5",
            "Average invoice amount is less than -12.50",
        ),
        (F.INVOICE_COUNT, O.GREATER_THAN, "5", "Invoice count is more than 5"),
        (F.COMPANY_NAME, O.CONTAINS, "Ltd", "Company name contains 'Ltd'"),
        (F.STATUS, O.NOT_EQUALS, "lost", "Status is not 'lost'"),
        (F.EMAIL, O.IS_EMPTY, None, "Email is empty"),
        (F.TIER, O.IS_NOT_EMPTY, None, "Tier is not empty"),
        (F.TAGS, O.EQUALS, "vip", "Has the tag 'vip'"),
        (F.TAGS, O.NOT_EQUALS, "vip", "Does not have the tag 'vip'"),
        (F.TAGS, O.CONTAINS, "no", "Has a tag containing 'no'"),
        (F.TAGS, O.IS_EMPTY, None, "Has no tags"),
        (F.TAGS, O.IS_NOT_EMPTY, None, "Has tags"),
    ],
)
def test_describe_in_plain_words(
    field: RuleField, operator: Operator, value: str | None, words: str
) -> None:
    assert describe(rule(field, operator, value)) == words


def test_describe_definition_joins_with_and_or_or() -> None:
    criteria = (
        Criterion(F.TOTAL_REVENUE, O.GREATER_THAN, "50000"),
        Criterion(F.TAGS, O.EQUALS, "vip"),
    )
    assert (
        describe_definition(SegmentDefinition("S", criteria))
        == "Total revenue is more than 50,000.00 and Has the tag 'vip'"
    )
    assert (
        describe_definition(SegmentDefinition("S", criteria, MatchMode.ANY))
        == "Total revenue is more than 50,000.00 or Has the tag 'vip'"
    )
    assert describe_definition(SegmentDefinition("S", ())) == "every client"
    assert describe_definition(SegmentDefinition("S", (), MatchMode.ANY)) == "no client"
    bad = SegmentDefinition("S", (Criterion(F.INVOICE_COUNT, O.EQUALS, "x"),))
    assert describe_definition(bad).startswith("(not valid: criterion 1: ")


# --- segments and explain ----------------------------------------------------------------------


def test_segment_matches_all_and_any() -> None:
    big = rule(F.TOTAL_REVENUE, O.GREATER_THAN, "100")
    vip = rule(F.TAGS, O.EQUALS, "vip")
    only_big = facts(total_revenue=20_000)
    both = facts(total_revenue=20_000, tags={"vip"})
    neither = facts()
    assert segment_matches([big, vip], MatchMode.ALL, both, AS_OF)
    assert not segment_matches([big, vip], MatchMode.ALL, only_big, AS_OF)
    assert segment_matches([big, vip], MatchMode.ANY, only_big, AS_OF)
    assert not segment_matches([big, vip], MatchMode.ANY, neither, AS_OF)
    assert segment_matches([], MatchMode.ALL, neither, AS_OF)
    assert not segment_matches([], MatchMode.ANY, neither, AS_OF)


def test_explain_says_the_value_and_the_verdict_for_each_criterion() -> None:
    client = facts(
        last_invoice_date=days_ago(100),
        total_revenue=6_000_000,
        tags={"vip", "north"},
        email=None,
    )
    criteria = [
        rule(F.LAST_INVOICE_DATE, O.LESS_THAN, "90 days ago"),
        rule(F.TOTAL_REVENUE, O.GREATER_THAN, "50000"),
        rule(F.TAGS, O.EQUALS, "vip"),
        rule(F.EMAIL, O.IS_NOT_EMPTY),
        rule(F.LAST_INVOICE_DATE, O.EQUALS, "1 day ago"),
    ]
    verdicts = explain(criteria, client, AS_OF)
    assert [v.passed for v in verdicts] == [False, True, True, False, False]
    assert [v.explanation for v in verdicts] == [
        "Last invoice date 2025-12-05, 100 days ago: does not pass "
        "'last invoice date within the last 90 days'",
        "Total revenue: 60,000.00: passes 'total revenue is more than 50,000.00'",
        "Tags: north, vip: passes 'has the tag 'vip''",
        "Email: empty: does not pass 'email is not empty'",
        "Last invoice date 2025-12-05, 100 days ago: does not pass "
        "'last invoice date exactly 1 day ago'",
    ]
    one_day = explain([criteria[4]], facts(last_invoice_date=days_ago(1)), AS_OF)[0]
    assert one_day.passed
    assert one_day.explanation.startswith("Last invoice date 2026-03-14, 1 day ago: passes")


# --- properties --------------------------------------------------------------------------------

texts = st.none() | st.text(alphabet="aA%_\\'\" ", max_size=4)
tag_sets = st.frozensets(st.text(alphabet="aA%_", min_size=1, max_size=3), max_size=3)
dates = st.none() | st.dates(dt.date(2025, 1, 1), dt.date(2026, 6, 30))
client_facts = st.builds(
    facts,
    client_id=st.just(1),
    name=texts,
    email=texts,
    status=texts,
    tags=tag_sets,
    total_revenue=st.integers(-10_000, 10_000),
    invoice_count=st.integers(0, 10),
    average_invoice_amount=st.none() | st.integers(-10_000, 10_000),
    first_invoice_date=dates,
    last_invoice_date=dates,
    tier=st.sampled_from([None, "", "Bronze", "Gold"]),
)


def value_for(field: RuleField) -> st.SearchStrategy[str]:
    kind = field.type
    if kind in (FieldType.TEXT, FieldType.TAGS):
        return st.text(alphabet="aA%_\\'\"", min_size=1, max_size=3)
    if kind is FieldType.MONEY:
        return st.integers(-10_000, 10_000).map(format_plain)
    if kind is FieldType.INTEGER:
        return st.integers(-1, 11).map(str)
    return st.integers(0, 400).map(lambda d: f"{d} days ago") | st.dates(
        dt.date(2025, 1, 1), dt.date(2026, 6, 30)
    ).map(dt.date.isoformat)


@st.composite
def equality_criteria(draw: st.DrawFn) -> tuple[ParsedCriterion, ParsedCriterion]:
    field = draw(st.sampled_from(list(RuleField)))
    value = draw(value_for(field))
    return rule(field, O.EQUALS, value), rule(field, O.NOT_EQUALS, value)


@given(equality_criteria(), client_facts)
def test_not_equals_is_exactly_the_negation_of_equals(
    pair: tuple[ParsedCriterion, ParsedCriterion], client: object
) -> None:
    equals, not_equals = pair
    assert matches(not_equals, client, AS_OF) is (not matches(equals, client, AS_OF))  # type: ignore[arg-type]


@given(st.sampled_from(list(RuleField)), client_facts)
def test_is_not_empty_is_exactly_the_negation_of_is_empty(field: RuleField, client: object) -> None:
    empty = matches(rule(field, O.IS_EMPTY), client, AS_OF)  # type: ignore[arg-type]
    assert matches(rule(field, O.IS_NOT_EMPTY), client, AS_OF) is (not empty)  # type: ignore[arg-type]
