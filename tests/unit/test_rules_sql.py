"""Rules compiled to SQL agree with the same rules evaluated in Python (the reference).

A shared office with awkward data (LIKE wildcards, backslashes, quotes, case
variants, empty and missing values, refunds, clients without revenue or tier)
is built once; hypothesis draws criteria, match modes and as-of dates against
it. A second property builds a small random office per example (in memory on
SQLite; on PostgreSQL in the test's database, emptied before each example).
Both run on each engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seg_desktop.core.engine import Override
from seg_desktop.core.money import format_plain
from seg_desktop.core.periods import InsufficientData
from seg_desktop.core.rules import (
    Criterion,
    FieldType,
    MatchMode,
    Operator,
    RuleField,
    SegmentDefinition,
    operators_for,
    segment_matches,
    validate_definition,
)
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store.data import NewClient
from seg_desktop.store.office import Office
from seg_desktop.store.schema import Base
from tests.helpers.office import OfficeUrlFactory, add_clients, add_revenue, is_sqlite_target

AS_OF = dt.date(2026, 3, 15)
NAMES = [
    "Acme", "acme", "ACME", "Acme ", " Acme", "100% Pure", "100 Pure", "A_B", "AxB", "AB",
    "C:\\data", "C:/data", "O'Brien", "OBrien", 'Say "hi"', "Müller", "MÜLLER", "a%b", "%", "_",
    "\\", "'", '"', "%%", "__", "", "a\\%b", "it's 50%_off",
]  # fmt: skip
EMAILS = [None, "", "ada@example.com", "%@_.com", "ADA@example.com", "o'brien@x.org"]
STATUSES = [None, "", "active", "Active", "lost", "act", "ac%"]
TAGS = ["vip", "VIP", "v", "50%", "50", "a_b", "ab", "x\\y", "o'k", 'q"t', "north", "nor"]
TEXT_ALPHABET = "aAbB%_\\'\" ü"


@dataclass
class SharedOffice:
    office: Office
    money_values: list[str]
    date_values: list[str]
    client_count: int


def build_office(office: Office, rng: random.Random, count: int) -> None:
    clients = [
        NewClient(
            ref=f"R{i:03d}",
            name=rng.choice(NAMES),
            email=rng.choice(EMAILS),
            status=rng.choice(STATUSES),
            tags=frozenset(rng.sample(TAGS, rng.choice([0, 0, 1, 2, 3]))),
        )
        for i in range(count)
    ]
    if clients:
        add_clients(office, clients)
    rows = []
    for new in clients:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 6, 7])):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 900))
            amount = rng.choice([-1, 1, 100, -250, 5_000_000, 0]) * rng.choice([1, 3, 7, 1001])
            rows.append((new.ref, day, amount))
    if rows:
        add_revenue(office, rows)


@pytest.fixture(scope="module")
def shared(module_office_url_factory: OfficeUrlFactory) -> Iterator[SharedOffice]:
    office = Office.open(module_office_url_factory("rules_sql.db"))
    rng = random.Random(20260315)
    build_office(office, rng, 70)
    # A client whose revenue nets to zero, and one with exactly 5 and 6 invoices.
    add_clients(office, [NewClient("NET0", "Net zero"), NewClient("SIX", "Six")])
    add_revenue(
        office,
        [("NET0", dt.date(2025, 5, 5), 100), ("NET0", dt.date(2025, 5, 6), -100)]
        + [("SIX", dt.date(2026, 1, d), 1_001) for d in range(1, 7)],
    )
    facts = office.client_facts()
    office.set_override(Override(StrategyKind.INDIVIDUAL, facts[0].client_id, "Gold", "pinned"))
    office.run_segmentation(AS_OF)
    # Clients added after the run have no tier; one has an empty name.
    add_clients(
        office, [NewClient("LATE", "Late", tags=frozenset({"vip"})), NewClient("EMPTY", "")]
    )
    facts = office.client_facts()
    money = {format_plain(f.total_revenue) for f in facts}
    money |= {
        format_plain(f.average_invoice_amount)
        for f in facts
        if f.average_invoice_amount is not None
    }
    dates = {
        d.isoformat()
        for f in facts
        for d in (f.first_invoice_date, f.last_invoice_date)
        if d is not None
    }
    yield SharedOffice(office, sorted(money), sorted(dates), len(facts))
    office.close()


def value_strategy(field: RuleField, money: list[str], dates: list[str]) -> st.SearchStrategy[str]:
    kind = field.type
    if field is RuleField.TIER:
        return st.sampled_from(["Bronze", "Silver", "Gold", "gold", "ol", "Bronze "])
    if kind is FieldType.TEXT:
        pool = [n for n in NAMES if n] + [e for e in EMAILS + STATUSES if e]
        return st.sampled_from(pool) | st.text(TEXT_ALPHABET, min_size=1, max_size=3)
    if kind is FieldType.TAGS:
        return st.sampled_from(TAGS) | st.text(TEXT_ALPHABET + "vipxy5", min_size=1, max_size=2)
    if kind is FieldType.MONEY:
        return st.sampled_from(money) | st.integers(-600_000, 40_000_000).map(format_plain)
    if kind is FieldType.INTEGER:
        return st.integers(-1, 9).map(str)
    relative = st.integers(0, 1_000).map(lambda n: f"{n} days ago")
    absolute = st.sampled_from(dates) | st.dates(dt.date(2023, 12, 1), dt.date(2026, 12, 31)).map(
        dt.date.isoformat
    )
    return relative | absolute


@st.composite
def definitions(draw: st.DrawFn, money: list[str], dates: list[str]) -> SegmentDefinition:
    criteria = []
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(list(RuleField)))
        operator = draw(st.sampled_from(operators_for(field)))
        value = draw(value_strategy(field, money, dates)) if operator.takes_value else None
        criteria.append(Criterion(field, operator, value))
    return SegmentDefinition("random", tuple(criteria), draw(st.sampled_from(list(MatchMode))))


as_of_dates = st.sampled_from([AS_OF, dt.date(2024, 2, 29), dt.date(2026, 12, 31)]) | st.dates(
    dt.date(2023, 6, 1), dt.date(2027, 6, 30)
)


def python_members(office: Office, definition: SegmentDefinition, as_of: dt.date) -> list[int]:
    parsed = validate_definition(definition)
    return [
        f.client_id
        for f in office.client_facts()
        if segment_matches(parsed, definition.match, f, as_of)
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), as_of=as_of_dates)
def test_sql_members_equal_python_members_on_a_shared_office(
    shared: SharedOffice, data: st.DataObject, as_of: dt.date
) -> None:
    definition = data.draw(definitions(shared.money_values, shared.date_values))
    office = shared.office
    expected = python_members(office, definition, as_of)
    event(
        "no member"
        if not expected
        else "every client"
        if len(expected) == shared.client_count
        else "some"
    )
    assert office.matching_ids(definition, as_of) == expected
    assert office.count_matching(definition, as_of) == len(expected)


# Kept for the definitions: rows of every other table are what one example adds.
DEFINITION_TABLES = {"meta", "setting", "strategy", "tier", "segment", "criterion"}


@contextlib.contextmanager
def empty_office(office_url: str) -> Iterator[Office]:
    """A new office for one example: in memory on SQLite; on PostgreSQL the test's
    database with everything but the definitions deleted (a new database per example
    would take most of the test's time)."""
    if is_sqlite_target(office_url):
        office = Office.open("sqlite://")
    else:
        office = Office.open(office_url)
        with office.database.write() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in DEFINITION_TABLES:
                    connection.execute(table.delete())
    try:
        yield office
    finally:
        office.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(0, 12),
    run=st.booleans(),
    data=st.data(),
    as_of=as_of_dates,
)
def test_sql_members_equal_python_members_on_random_small_offices(
    office_url: str, seed: int, count: int, run: bool, data: st.DataObject, as_of: dt.date
) -> None:
    with empty_office(office_url) as office:
        build_office(office, random.Random(seed), count)
        if run:
            with contextlib.suppress(InsufficientData):
                office.run_segmentation(as_of)
        facts = office.client_facts()
        money = sorted({format_plain(f.total_revenue) for f in facts} | {"0"})
        dates = sorted(
            {d.isoformat() for f in facts for d in (f.first_invoice_date, f.last_invoice_date) if d}
            | {AS_OF.isoformat()}
        )
        for _ in range(3):
            definition = data.draw(definitions(money, dates))
            assert office.matching_ids(definition, as_of) == python_members(
                office, definition, as_of
            )


@pytest.mark.parametrize(
    ("field", "operator", "value", "refs"),
    [
        (RuleField.COMPANY_NAME, "contains", "%", ["P", "W"]),
        (RuleField.COMPANY_NAME, "contains", "_", ["U"]),
        (RuleField.COMPANY_NAME, "contains", "\\", ["S"]),
        (RuleField.COMPANY_NAME, "contains", "'", ["Q"]),
        (RuleField.COMPANY_NAME, "equals", "acme", ["L"]),
        (RuleField.COMPANY_NAME, "equals", "A_B", ["U"]),
        (RuleField.COMPANY_NAME, "not_equals", "Acme", ["L", "P", "Q", "S", "U", "W", "X"]),
        (RuleField.EMAIL, "is_empty", None, ["L", "P", "Q", "X"]),
        (RuleField.EMAIL, "not_equals", "a@b.c", ["L", "P", "Q", "S", "U", "W", "X"]),
        (RuleField.TAGS, "contains", "%", ["P"]),
        (RuleField.TAGS, "equals", "VIP", ["U"]),
        (RuleField.TAGS, "is_empty", None, ["A", "L", "Q", "S", "W", "X"]),
    ],
)
def test_literal_characters_in_sql(
    office_url: str, field: RuleField, operator: str, value: str | None, refs: list[str]
) -> None:
    office = Office.open(office_url)
    try:
        ids = add_clients(
            office,
            [
                NewClient("A", "Acme", email="a@b.c"),
                NewClient("L", "acme", email=None),
                NewClient("P", "100% Pure", email="", tags=frozenset({"50%"})),
                NewClient("Q", "O'Brien"),
                NewClient("S", "C:\\data", email="s@x"),
                NewClient("U", "A_B", email="u@x", tags=frozenset({"VIP"})),
                NewClient("W", "50 %", email="w@x"),
                NewClient("X", "AxB"),
            ],
        )
        definition = SegmentDefinition("s", (Criterion(field, Operator(operator), value),))
        expected = sorted(ids[ref] for ref in refs)
        assert office.matching_ids(definition, AS_OF) == expected
        assert python_members(office, definition, AS_OF) == expected
    finally:
        office.close()
