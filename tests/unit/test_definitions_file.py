"""The definitions file (SPEC section 4): the SPEC's example, round trips, all-or-nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import (
    Criterion,
    MatchMode,
    Operator,
    RuleField,
    RuleValueError,
    SegmentDefinition,
)
from seg_desktop.core.tiers import Strategy, StrategyError, StrategyKind, Tier
from seg_desktop.io.definitions_file import (
    DefinitionsFileError,
    read_definitions,
    render_definitions,
    write_definitions,
)
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office
from seg_desktop.store.records import Definitions
from tests.helpers.office import OfficeUrlFactory, snapshot

SPEC_EXAMPLE = """\
[settings]
max_months = 12
buffer_months = 1

[strategies.individual]
active = true
tiers = [
  { name = "Bronze", monthly_lower = "0" },
  { name = "Silver", monthly_lower = "1000" },
  { name = "Gold", monthly_lower = "5000" },
]

[strategies.group]
active = true
tiers = [
  { name = "C Group", monthly_lower = "0" },
  { name = "B Group", monthly_lower = "2500" },
  { name = "A Group", monthly_lower = "10000" },
]

[[segments]]
name = "Active Clients"
description = "Invoiced within the last 90 days"
match = "all"
criteria = [
  { field = "last_invoice_date", operator = "less_than", value = "90 days ago" },
]
"""

IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP


@pytest.fixture
def office(office_url: str) -> Iterator[Office]:
    opened = Office.open(office_url)
    yield opened
    opened.close()


def write(tmp_path: Path, body: str, name: str = "definitions.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_the_spec_example_parses_to_the_right_definitions(tmp_path: Path) -> None:
    parsed = read_definitions(write(tmp_path, SPEC_EXAMPLE))
    assert parsed.settings == OfficeSettings(SegmentationSettings(12, 1), False, dt.time(2, 0))
    assert list(parsed.strategies) == [
        Strategy(IND, (Tier("Bronze", 0), Tier("Silver", 100_000), Tier("Gold", 500_000)), True),
        Strategy(
            GRP, (Tier("C Group", 0), Tier("B Group", 250_000), Tier("A Group", 1_000_000)), True
        ),
    ]
    assert list(parsed.segments) == [
        SegmentDefinition(
            "Active Clients",
            (Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "90 days ago"),),
            MatchMode.ALL,
            "Invoiced within the last 90 days",
        )
    ]


def test_settings_not_in_the_file_keep_their_current_values(tmp_path: Path) -> None:
    current = OfficeSettings(SegmentationSettings(24, 2), True, dt.time(3, 30))
    parsed = read_definitions(write(tmp_path, "[settings]\nmax_months = 6\n"), current)
    assert parsed.settings == OfficeSettings(SegmentationSettings(6, 2), True, dt.time(3, 30))
    assert list(parsed.strategies) == []
    assert list(parsed.segments) == []


@pytest.mark.parametrize(
    ("written", "cents"),
    [
        ('"1000"', 100_000),
        ('"1,000.50"', 100_050),
        ("1000", 100_000),
        ("1000.5", 100_050),
        ("0.1", 10),
        ("12.34", 1_234),
        ('"0.01"', 1),
    ],
)
def test_limits_as_strings_or_numbers_in_major_units(
    tmp_path: Path, written: str, cents: int
) -> None:
    body = (
        "[strategies.individual]\n"
        'tiers = [{ name = "Low", monthly_lower = 0 }, '
        f'{{ name = "High", monthly_lower = {written} }}]\n'
    )
    (strategy,) = read_definitions(write(tmp_path, body)).strategies
    assert strategy.tiers[1].monthly_lower == cents


def test_values_may_be_numbers_and_are_omitted_for_is_empty(tmp_path: Path) -> None:
    body = """\
[[segments]]
name = "Mixed"
match = "any"
criteria = [
  { field = "total_revenue", operator = "greater_than", value = 50000 },
  { field = "average_invoice_amount", operator = "less_than", value = 12.5 },
  { field = "email", operator = "is_empty" },
  { field = "tags", operator = "is_not_empty", value = "ignored" },
]
"""
    (segment,) = read_definitions(write(tmp_path, body)).segments
    assert segment.match is MatchMode.ANY
    assert segment.criteria == (
        Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "50000"),
        Criterion(RuleField.AVERAGE_INVOICE_AMOUNT, Operator.LESS_THAN, "12.5"),
        Criterion(RuleField.EMAIL, Operator.IS_EMPTY, None),
        Criterion(RuleField.TAGS, Operator.IS_NOT_EMPTY, None),
    )


RICH = Definitions(
    settings=OfficeSettings(SegmentationSettings(36, 0), True, dt.time(23, 5)),
    strategies=[
        Strategy(IND, (Tier("Bronze", 0), Tier("Silver", 100_050), Tier("Gold", 500_001)), True),
        Strategy(GRP, (Tier("Everyone", 0),), False),
    ],
    segments=[
        SegmentDefinition(
            'Quotes "and" 100% _odd_ \\ names',
            (
                Criterion(RuleField.COMPANY_NAME, Operator.CONTAINS, "O'Brien \"%_\\"),
                Criterion(RuleField.TAGS, Operator.NOT_EQUALS, "vip"),
                Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "-0.05"),
                Criterion(RuleField.INVOICE_COUNT, Operator.EQUALS, "5"),
                Criterion(RuleField.FIRST_INVOICE_DATE, Operator.LESS_THAN, "2024-02-29"),
                Criterion(RuleField.LAST_INVOICE_DATE, Operator.GREATER_THAN, "180 days ago"),
                Criterion(RuleField.TIER, Operator.IS_EMPTY, None),
            ),
            MatchMode.ANY,
            "Every kind of criterion\nover two lines",
        ),
        SegmentDefinition("No criteria", ()),
    ],
)


def test_export_then_import_gives_identical_definitions(
    tmp_path: Path, office_url_factory: OfficeUrlFactory
) -> None:
    first = Office.open(office_url_factory("first.db"))
    second = Office.open(office_url_factory("second.db"))
    try:
        first.replace_definitions(RICH)
        exported = first.export_definitions()
        path = tmp_path / "definitions.toml"
        write_definitions(path, exported)
        parsed = read_definitions(path)
        assert parsed == exported
        second.replace_definitions(parsed)
        assert second.export_definitions() == exported
        write_definitions(tmp_path / "again.toml", second.export_definitions())
        assert (tmp_path / "again.toml").read_text(encoding="utf-8") == path.read_text(
            encoding="utf-8"
        )
    finally:
        first.close()
        second.close()


def test_the_rendered_file_uses_the_spec_format(office: Office) -> None:
    office.replace_definitions(RICH)
    rendered = render_definitions(office.export_definitions())
    assert 'monthly_lower = "1000.5"' in rendered
    assert 'monthly_lower = "5000.01"' in rendered
    assert 'value = "180 days ago"' in rendered
    assert 'match = "any"' in rendered
    assert "max_months = 36" in rendered
    tier_line = next(line for line in rendered.splitlines() if '"tier"' in line)
    assert "value" not in tier_line


def test_import_replaces_named_parts_and_keeps_other_segments(
    tmp_path: Path, office: Office
) -> None:
    before = {s.definition.name: s.definition for s in office.segments()}
    body = """\
[strategies.group]
active = false
tiers = []

[[segments]]
name = "Active Clients"
criteria = [{ field = "last_invoice_date", operator = "less_than", value = "30 days ago" }]

[[segments]]
name = "Brand new"
criteria = [{ field = "invoice_count", operator = "equals", value = "0" }]
"""
    office.replace_definitions(read_definitions(write(tmp_path, body)))
    after = {s.definition.name: s.definition for s in office.segments()}
    assert set(after) == set(before) | {"Brand new"}
    assert after["Active Clients"].criteria == (
        Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "30 days ago"),
    )
    assert after["High-Value Clients"] == before["High-Value Clients"]
    strategies = office.strategies()
    assert strategies[GRP] == Strategy(GRP, (), False)
    assert strategies[IND].names == ["Bronze", "Silver", "Gold"]  # not named: kept


BROKEN = {
    "limit with three decimals": (
        'monthly_lower = "1000"',
        'monthly_lower = "10.005"',
        "more than two decimals",
    ),
    "float limit with three decimals": (
        'monthly_lower = "1000"',
        "monthly_lower = 10.005",
        "more than two decimals",
    ),
    "decreasing limits": ('monthly_lower = "5000"', 'monthly_lower = "500"', "must increase"),
    "equal limits": ('monthly_lower = "5000"', 'monthly_lower = "1000"', "must increase"),
    "lowest limit not 0": (
        '{ name = "Bronze", monthly_lower = "0" }',
        '{ name = "Bronze", monthly_lower = "1" }',
        "starts at 0",
    ),
    "duplicate tier names": ('name = "Gold"', 'name = "Silver"', "two tiers are named 'Silver'"),
    "tier without a name": ('name = "Gold", ', "", "needs a name"),
    "limit missing": (', monthly_lower = "5000"', "", "monthly_lower is required"),
    "limit as a boolean": ('monthly_lower = "5000"', "monthly_lower = true", "monthly_lower"),
    "limit not an amount": ('monthly_lower = "5000"', 'monthly_lower = "lots"', "not an amount"),
    "unknown field": (
        'field = "last_invoice_date"',
        'field = "revenue"',
        "unknown field 'revenue'",
    ),
    "unknown operator": (
        'operator = "less_than"',
        'operator = "before"',
        "unknown operator 'before'",
    ),
    "operator not fitting the field": (
        'operator = "less_than"',
        'operator = "contains"',
        "cannot use",
    ),
    "bad date value": ('value = "90 days ago"', 'value = "2026-02-30"', "not a real date"),
    "not a date": ('value = "90 days ago"', 'value = "last spring"', "is not a date"),
    "missing value": (', value = "90 days ago"', "", "is not a date"),
    "bad match": ('match = "all"', 'match = "every"', "match must be 'all' or 'any'"),
    "M = 0": ("max_months = 12", "max_months = 0", "maximum segmentation months must be 1 to 120"),
    "M = 121": ("max_months = 12", "max_months = 121", "must be 1 to 120"),
    "B = 25": ("buffer_months = 1", "buffer_months = 25", "buffer months must be 0 to 24"),
    "M as text": ("max_months = 12", 'max_months = "12"', "must be a whole number"),
    "unknown setting": (
        "buffer_months = 1",
        "buffer_months = 1\nbufer_months = 2",
        "unknown setting 'bufer_months'",
    ),
    "unknown section": ("[settings]", "[automation]\nx = 1\n\n[settings]", "unknown section"),
    "unknown strategy": ("[strategies.group]", "[strategies.family]", "'individual' and 'group'"),
    "active with no tiers": (
        'active = true\ntiers = [\n  { name = "C Group"',
        'active = true\ntiers = []\nold = [\n  { name = "C Group"',
        "at least one tier",
    ),
    "active not a boolean": ("active = true", 'active = "yes"', "active must be true or false"),
    "segment without a name": ('name = "Active Clients"', 'name = "  "', "needs a name"),
    "criteria not a list": ("criteria = [", "criteria = 5\nold = [", "criteria"),
}


def broken_example(old: str, new: str) -> str:
    assert old in SPEC_EXAMPLE
    return SPEC_EXAMPLE.replace(old, new, 1)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_an_invalid_part_is_refused_and_the_database_is_unchanged(
    tmp_path: Path, office: Office, case: str
) -> None:
    old, new, message = BROKEN[case]
    path = write(tmp_path, broken_example(old, new))
    before_definitions = office.export_definitions()
    before = snapshot(office)
    with pytest.raises(DefinitionsFileError, match=message.replace("(", r"\(")):
        office.replace_definitions(read_definitions(path, office.settings()))
    assert office.export_definitions() == before_definitions
    assert snapshot(office) == before


def test_duplicate_segment_names_are_refused(tmp_path: Path, office: Office) -> None:
    body = SPEC_EXAMPLE + SPEC_EXAMPLE[SPEC_EXAMPLE.index("[[segments]]") :]
    before = snapshot(office)
    with pytest.raises(DefinitionsFileError, match="the segment 'Active Clients' is defined twice"):
        office.replace_definitions(read_definitions(write(tmp_path, body)))
    assert snapshot(office) == before


def test_a_misspelt_criteria_key_is_refused_not_read_as_every_client(
    tmp_path: Path, office: Office
) -> None:
    # With 'critera' ignored, the segment would have no criterion and match every client.
    body = (
        '[[segments]]\nname = "VIPs"\n'
        'critera = [{ field = "tags", operator = "equals", value = "vip" }]\n'
    )
    before = snapshot(office)
    with pytest.raises(DefinitionsFileError, match="critera"):
        office.replace_definitions(read_definitions(write(tmp_path, body)))
    assert snapshot(office) == before


def test_an_absurdly_large_limit_is_refused_with_a_clear_error(
    tmp_path: Path, office: Office
) -> None:
    body = (
        "[strategies.individual]\n"
        'tiers = [{ name = "Low", monthly_lower = 0 }, { name = "High", monthly_lower = 1e20 }]\n'
    )
    before = snapshot(office)
    with pytest.raises((DefinitionsFileError, StoreError)):
        office.replace_definitions(read_definitions(write(tmp_path, body)))
    assert snapshot(office) == before


def test_replace_definitions_validates_everything_before_writing(office: Office) -> None:
    before = snapshot(office)
    good_settings = OfficeSettings(SegmentationSettings(3, 0))
    bad_strategy = Definitions(
        settings=good_settings,
        strategies=[Strategy(IND, (Tier("Bronze", 0), Tier("Silver", 0)))],
    )
    with pytest.raises(StrategyError):
        office.replace_definitions(bad_strategy)
    twice = Definitions(
        settings=good_settings,
        segments=[SegmentDefinition("Twice", ()), SegmentDefinition(" Twice ", ())],
    )
    with pytest.raises(StoreError, match="twice"):
        office.replace_definitions(twice)
    bad_value = Definitions(
        settings=good_settings,
        segments=[
            SegmentDefinition("Fine", ()),
            SegmentDefinition(
                "Bad", (Criterion(RuleField.INVOICE_COUNT, Operator.EQUALS, "many"),)
            ),
        ],
    )
    with pytest.raises(RuleValueError, match="not a whole number"):
        office.replace_definitions(bad_value)
    assert snapshot(office) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[settings\nmax_months = 12\n", "is not valid TOML"),
        (b"\xff\xfe[\x00s\x00", "is not a UTF-8 text file"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(DefinitionsFileError, match=message):
        read_definitions(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DefinitionsFileError, match="does not exist"):
        read_definitions(tmp_path / "missing.toml")
