"""Rule values are literal and exports never carry a formula, on a real office.

Rule values: `%`, `_`, `\\`, quotes, `' OR 1=1 --`, emoji and a 10,000-character
value each match only themselves, through Office.matching_ids and
count_matching, in company_name, email and tags, with equals and contains;
and no statement sent to the database contains a value typed by the user
(they travel as bound parameters).

Exports: clients whose name, email or tags start with = + - @, a tab or a
carriage return, or contain NUL, come back from CSV and xlsx as plain text
(CSV: a leading apostrophe; xlsx: string cells with the quote prefix and no
<f> element anywhere).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.io.exporting import export_clients
from seg_desktop.store.office import Office
from tests.helpers.office import OfficeUrlFactory, client, make_office

LONG = ("%_\\'\"😀ab" * 1250)[:10_000]
RULE_VALUES = [
    "%",
    "_",
    "\\",
    "'",
    '"',
    "' OR 1=1 --",
    "😀",
    "👩‍💻",  # one emoji of three code points (a zero-width joiner between them)
    LONG,
]
# Near misses: what a LIKE pattern, a lost escape or a truncated comparison would match.
DECOYS = [
    "Acme Ltd",
    "100% Sure",
    "A_B Co",
    "AxB Co",
    "back\\slash",
    "O'Brien & Sons",
    'Say "hi"',
    "OR 1=1",
    "' OR 1=1 -",
    "😀😀",
    "🙂",
    "👩",
    LONG[:-1],
    LONG + "z",
    LONG[:5000] + "Q" + LONG[5001:],
]
NAMES = RULE_VALUES + DECOYS
FIELDS = (RuleField.COMPANY_NAME, RuleField.EMAIL, RuleField.TAGS)
OPERATORS = (Operator.EQUALS, Operator.CONTAINS)


@pytest.fixture(scope="module")
def office(module_office_url_factory: OfficeUrlFactory) -> Iterator[Office]:
    clients = [
        # Each text is a name, an email and a tag, so every field sees every value.
        client(f"R{number:03}", text, email=text, tags=[text])
        for number, text in enumerate(NAMES)
    ]
    opened, _ = make_office(module_office_url_factory("injection.db"), clients)
    yield opened
    opened.close()


def expected_ids(office: Office, field: RuleField, operator: Operator, value: str) -> list[int]:
    """The Python oracle: exact, case-sensitive, every character literal."""
    matched = []
    for facts in office.client_facts():
        texts: list[str] = []
        if field is RuleField.TAGS:
            texts = list(facts.tags)
        else:
            text = facts.name if field is RuleField.COMPANY_NAME else facts.email
            texts = [text] if text is not None else []
        if operator is Operator.EQUALS:
            hit = value in texts
        else:
            hit = any(value in text for text in texts)
        if hit:
            matched.append(facts.client_id)
    return sorted(matched)


def test_every_rule_value_matches_only_itself(office: Office) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(office.database.engine, "before_cursor_execute", record)
    checked = 0
    try:
        total = office.client_count()
        for value in RULE_VALUES:
            for field in FIELDS:
                for operator in OPERATORS:
                    definition = SegmentDefinition("literal", (Criterion(field, operator, value),))
                    found = office.matching_ids(definition)
                    oracle = expected_ids(office, field, operator, value)
                    assert found == oracle, (field, operator, value[:20])
                    assert office.count_matching(definition) == len(oracle)
                    if operator is Operator.EQUALS:
                        assert len(found) == 1, (field, value[:20])  # itself, nothing else
                    assert len(found) < total  # '%' or '_' read as a pattern matches all
                    checked += 1
    finally:
        event.remove(office.database.engine, "before_cursor_execute", record)
    # Values reach the database as parameters, never inside the SQL text.
    distinctive = [v for v in RULE_VALUES if len(v) > 2 or not v.isascii()]
    leaked = [v[:20] for v in distinctive for s in statements if v in s]
    assert not leaked
    assert statements
    print(
        f"\n[injection] {len(RULE_VALUES)} values x {len(FIELDS)} fields x {len(OPERATORS)} "
        f"operators = {checked} rule checks against {total} clients, each equal to the Python "
        f"oracle; {len(statements)} SQL statements, none holding a value"
    )


def test_contains_finds_the_values_inside_longer_texts_and_no_more(office: Office) -> None:
    name = RuleField.COMPANY_NAME
    contains = Operator.CONTAINS

    def names(value: str) -> set[str]:
        definition = SegmentDefinition("literal", (Criterion(name, contains, value),))
        ids = set(office.matching_ids(definition))
        return {f.name or "" for f in office.client_facts() if f.client_id in ids}

    assert names("%") == {"%", "100% Sure"} | {n for n in NAMES if n.startswith("%_")}
    assert names("_") == {"_", "A_B Co"} | {n for n in NAMES if "_" in n and len(n) > 100}
    assert names("' OR 1=1 --") == {"' OR 1=1 --"}
    assert names(LONG) == {LONG, LONG + "z"}
    assert names("👩‍💻") == {"👩‍💻"}


FORMULA_TEXTS = {
    "F1": ("=1+1", "=cmd|' /C calc'!A0@example.com", ['=HYPERLINK("http://x")']),
    "F2": ("+SUM(A1:A9)", "+1@example.com", ["+tag"]),
    "F3": ("-2+3", "-x@example.com", ["-1"]),
    "F4": ("@SUM(1)", "@evil.example.com", ["@tag"]),
    "F5": ("\tTabbed Ltd", "\ttab@example.com", ["\ttag"]),
    "F6": ("\rReturn Ltd", "\rcr@example.com", ["\rtag"]),
    "F7": ("Nul\x00 Ltd", "nul\x00@example.com", ["nul\x00tag"]),
    "F8": ("=\x00NUL first", "plain@example.com", ["plain"]),
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = ("ref", "name", "email", "status", "tags", "groups", "tier", "group_tier")


def clean(text: str) -> str:
    """What an export keeps of a text: XML-illegal control characters (NUL…) dropped."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)


@pytest.fixture(scope="module")
def formula_office(module_office_url_factory: OfficeUrlFactory) -> Iterator[Office]:
    clients = [
        client(ref, name, email=email, tags=tags)
        for ref, (name, email, tags) in FORMULA_TEXTS.items()
    ]
    opened, _ = make_office(module_office_url_factory("formulas.db"), clients)
    yield opened
    opened.close()


def test_csv_export_carries_no_formula(formula_office: Office, tmp_path: Path) -> None:
    out = tmp_path / "clients.csv"
    assert export_clients(formula_office, out) == len(FORMULA_TEXTS)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["ref"]: row for row in csv.DictReader(handle)}
    assert "\x00" not in out.read_text(encoding="utf-8-sig")
    protected = 0
    for ref, (name, email, tags) in FORMULA_TEXTS.items():
        row = rows[ref]
        for column, original in (("name", name), ("email", email), ("tags", ";".join(tags))):
            kept = clean(original)
            expected = "'" + kept if kept.startswith(TRIGGERS) else kept
            assert row[column] == expected, (ref, column)
            protected += row[column].startswith("'")
        for column in TEXT_COLUMNS:
            assert not (row.get(column) or "").startswith(TRIGGERS), (ref, column)
    print(f"\n[injection] CSV: {protected} formula-like cells written as text with an apostrophe")


def test_xlsx_export_carries_no_formula(formula_office: Office, tmp_path: Path) -> None:
    out = tmp_path / "clients.xlsx"
    assert export_clients(formula_office, out) == len(FORMULA_TEXTS)
    with zipfile.ZipFile(out) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        xml = "".join(archive.read(n).decode("utf-8") for n in sheets)
    assert not re.search(r"<(\w+:)?f[ >/]", xml)  # no formula element in any sheet
    workbook = load_workbook(out)
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    quoted = 0
    for row in sheet.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=True))
        ref = cells["Ref"].value
        name, email, tags = FORMULA_TEXTS[ref]
        for title, original in (("Name", name), ("Email", email), ("Tags", ";".join(tags))):
            cell = cells[title]
            assert cell.data_type == "s", (ref, title)
            assert cell.value == clean(original), (ref, title)
            if clean(original).startswith(TRIGGERS):
                assert cell.quotePrefix, (ref, title)
                quoted += 1
    workbook.close()
    print(f"\n[injection] xlsx: no <f> element; {quoted} formula-like cells are quoted text")
