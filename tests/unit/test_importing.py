"""Importing files into a real office: exact counts, exact rows stored, all or nothing.

Every test imports into an office on each engine (a SQLite file in tmp_path, a
PostgreSQL database) and reads the tables back, so what is asserted is what the
office holds, not what the importer says it did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.io.importing import ImportResult, import_file
from seg_desktop.io.readers import (
    TICK_ROWS,
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    Kind,
    RowProblem,
)
from seg_desktop.store.office import Office
from tests.helpers.office import (
    OfficeUrlFactory,
    add_clients,
    add_revenue,
    client,
    make_office,
    snapshot,
)

DEFAULT = ImportOptions()


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, name: str, rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    path = tmp_path / name
    workbook.save(path)
    return path


def run(
    office: Office,
    kind: Kind,
    path: Path,
    options: ImportOptions = DEFAULT,
    *,
    dry_run: bool = False,
    cancelled: Callable[[], bool] | None = None,
) -> ImportResult:
    return import_file(office, kind, path, options, dry_run=dry_run, cancelled=cancelled)


def counts(result: ImportResult) -> dict[str, int]:
    """The figures a user is shown, by name, so a failure says which one is wrong."""
    return {
        "rows_read": result.rows_read,
        "added": result.added,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "problems": result.problem_count,
    }


def figures(
    rows_read: int, added: int = 0, updated: int = 0, unchanged: int = 0, problems: int = 0
) -> dict[str, int]:
    return {
        "rows_read": rows_read,
        "added": added,
        "updated": updated,
        "unchanged": unchanged,
        "problems": problems,
    }


ClientLine = tuple[str, str, str | None, str | None, tuple[str, ...], tuple[str, ...]]


def clients_in(office: Office) -> list[ClientLine]:
    """(ref, name, email, status, sorted tags, sorted groups) of every client, by ref."""
    with office.database.read() as connection:
        rows = connection.execute(text("SELECT id, ref, name, email, status FROM client")).all()
        tags: dict[int, list[str]] = defaultdict(list)
        for client_id, tag in connection.execute(text("SELECT client_id, tag FROM client_tag")):
            tags[client_id].append(tag)
        groups: dict[int, list[str]] = defaultdict(list)
        for client_id, name in connection.execute(
            text(
                "SELECT m.client_id, g.name FROM group_member m"
                " JOIN client_group g ON g.id = m.group_id"
            )
        ):
            groups[client_id].append(name)
    return sorted(
        (ref, name, email, status, tuple(sorted(tags[i])), tuple(sorted(groups[i])))
        for i, ref, name, email, status in rows
    )


RevenueLine = tuple[str, dt.date, int, str | None]


def revenue_in(office: Office) -> list[RevenueLine]:
    """(client ref, date, cents, reference) of every record, sorted (duplicates kept)."""
    with office.database.read() as connection:
        rows = connection.execute(
            text(
                "SELECT c.ref, r.date, r.amount_cents, r.reference FROM revenue r"
                " JOIN client c ON c.id = r.client_id"
            )
        ).all()
    return sorted(
        ((ref, as_date(day), cents, reference) for ref, day, cents, reference in rows),
        key=repr,
    )


def as_date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    assert isinstance(value, str)
    return dt.date.fromisoformat(value)


def stats_in(
    office: Office,
) -> dict[str, tuple[int, int, int | None, dt.date | None, dt.date | None]]:
    """client ref -> (total, count, average, first date, last date) from the rollup."""
    with office.database.read() as connection:
        rows = connection.execute(
            text(
                "SELECT c.ref, s.total_cents, s.invoice_count, s.average_cents,"
                " s.first_date, s.last_date FROM client_stats s JOIN client c ON c.id = s.client_id"
            )
        ).all()
    return {
        ref: (
            total,
            count,
            average,
            None if first is None else as_date(first),
            None if last is None else as_date(last),
        )
        for ref, total, count, average, first, last in rows
    }


def months_in(office: Office) -> dict[tuple[str, int], tuple[int, int]]:
    """(client ref, month key) -> (cents, lines) from the monthly rollup."""
    with office.database.read() as connection:
        rows = connection.execute(
            text(
                "SELECT c.ref, m.month_key, m.amount_cents, m.line_count FROM client_month m"
                " JOIN client c ON c.id = m.client_id"
            )
        ).all()
    return {(ref, month): (cents, lines) for ref, month, cents, lines in rows}


def member_count(office: Office, name: str) -> int | None:
    return office.find_segment(name).member_count


def d(text_date: str) -> dt.date:
    return dt.date.fromisoformat(text_date)


CLIENTS_CSV = (
    "ref,name,email,status,tags,groups\n"
    "00017,Acme Ltd,info@acme.example,active,vip;gold,Acme staff\n"
    "00018,Bright & Co,,prospect,,\n"
    "017,Zoë Müller,zoe@example.org,active,vip,Müller family;Acme staff\n"
)

REVENUE_CSV = (
    "client_ref,date,amount,reference\n"
    '00017,2026-01-15,"1,234.50",INV-1\n'
    "00017,2026-02-15,100.00,\n"
    "017,2026-02-01,-20.00,\n"
    "00018,2026-03-31,0.01,INV-2\n"
    "17,2026-03-01,5.00,\n"
)


@pytest.fixture
def office(office_url: str) -> Iterator[Office]:
    opened, _ids = make_office(office_url)
    yield opened
    opened.close()


@pytest.fixture
def stocked(tmp_path: Path, office: Office) -> Office:
    """The office after CLIENTS_CSV and REVENUE_CSV."""
    run(office, "clients", write(tmp_path, "clients.csv", CLIENTS_CSV))
    run(office, "revenue", write(tmp_path, "revenue.csv", REVENUE_CSV))
    return office


# --------------------------------------------------------------------------- clients, then revenue


def test_clients_then_revenue_land_exactly(tmp_path: Path, office: Office) -> None:
    result = run(office, "clients", write(tmp_path, "clients.csv", CLIENTS_CSV))
    assert counts(result) == figures(3, added=3)
    assert result.problems == []
    assert clients_in(office) == [
        ("00017", "Acme Ltd", "info@acme.example", "active", ("gold", "vip"), ("Acme staff",)),
        ("00018", "Bright & Co", "", "prospect", (), ()),
        (
            "017",
            "Zoë Müller",
            "zoe@example.org",
            "active",
            ("vip",),
            ("Acme staff", "Müller family"),
        ),
    ]

    result = run(office, "revenue", write(tmp_path, "revenue.csv", REVENUE_CSV))
    assert counts(result) == figures(5, added=4, problems=1)
    assert result.problems == [
        RowProblem(6, "client '17' does not exist (import the clients first)")
    ]
    assert revenue_in(office) == sorted(
        [
            ("00017", d("2026-01-15"), 123450, "INV-1"),
            ("00017", d("2026-02-15"), 10000, None),
            ("017", d("2026-02-01"), -2000, None),
            ("00018", d("2026-03-31"), 1, "INV-2"),
        ],
        key=repr,
    )
    assert stats_in(office) == {
        "00017": (133450, 2, 66725, d("2026-01-15"), d("2026-02-15")),
        "00018": (1, 1, 1, d("2026-03-31"), d("2026-03-31")),
        "017": (-2000, 1, -2000, d("2026-02-01"), d("2026-02-01")),
    }


def test_a_second_clients_file_adds_updates_and_leaves_the_rest(
    tmp_path: Path, stocked: Office
) -> None:
    second = write(
        tmp_path,
        "clients2.csv",
        "ref,name,email\n"
        "00017,Acme Ltd,info@acme.example\n"  # as stored: unchanged
        "00018,Bright & Co Ltd,hello@bright.example\n"  # new name and email: updated
        "00020,Newcomer,\n",  # added
    )
    result = run(stocked, "clients", second)
    assert counts(result) == figures(3, added=1, updated=1, unchanged=1)
    assert clients_in(stocked) == [
        ("00017", "Acme Ltd", "info@acme.example", "active", ("gold", "vip"), ("Acme staff",)),
        # no status/tags/groups columns in this file: the stored ones are kept
        ("00018", "Bright & Co Ltd", "hello@bright.example", "prospect", (), ()),
        ("00020", "Newcomer", "", None, (), ()),
        (
            "017",
            "Zoë Müller",
            "zoe@example.org",
            "active",
            ("vip",),
            ("Acme staff", "Müller family"),
        ),
    ]


def test_refs_stay_text_with_their_leading_zeros(tmp_path: Path, office: Office) -> None:
    path = write(tmp_path, "clients.csv", 'ref,name\n00017,A\n017,B\n17,C\n="0042",D\n')
    assert counts(run(office, "clients", path)) == figures(4, added=4)
    type_of = (
        "typeof(ref)"
        if office.database.is_sqlite
        # PostgreSQL's text types: the column is VARCHAR; either is text.
        else "CASE WHEN pg_typeof(ref) IN ('text'::regtype, 'character varying'::regtype)"
        " THEN 'text' ELSE pg_typeof(ref)::text END"
    )
    with office.database.read() as connection:
        stored = connection.execute(text(f"SELECT ref, {type_of} FROM client")).all()
    assert sorted(stored) == [
        ("00017", "text"),
        ("0042", "text"),
        ("017", "text"),
        ("17", "text"),
    ]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("cp1252", b""), ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf")],
    ids=["cp1252", "utf-8", "utf-8-bom"],
)
def test_encodings_land_identical(
    tmp_path: Path, office: Office, encoding: str, prefix: bytes
) -> None:
    content = "ref,name,tags\n00017,Zoë Müller,Café;Straße\n"
    path = write(tmp_path, "clients.csv", prefix + content.encode(encoding))
    assert counts(run(office, "clients", path)) == figures(1, added=1)
    assert clients_in(office) == [("00017", "Zoë Müller", None, None, ("Café", "Straße"), ())]
    # The same client in the other encodings is already there.
    for other in (b"\xef\xbb\xbf" + content.encode("utf-8"), content.encode("cp1252")):
        again = write(tmp_path, "again.csv", other)
        assert counts(run(office, "clients", again)) == figures(1, unchanged=1)


def test_xlsx_imports_exactly_what_the_same_csv_does(
    tmp_path: Path, office_url_factory: OfficeUrlFactory
) -> None:
    from_csv, _ = make_office(office_url_factory("csv.db"))
    run(from_csv, "clients", write(tmp_path, "clients.csv", CLIENTS_CSV))
    run(from_csv, "revenue", write(tmp_path, "revenue.csv", REVENUE_CSV))

    from_xlsx, _ = make_office(office_url_factory("xlsx.db"))
    clients_book = write_xlsx(
        tmp_path,
        "clients.xlsx",
        [
            ("ref", "name", "email", "status", "tags", "groups"),
            ("00017", "Acme Ltd", "info@acme.example", "active", "vip;gold", "Acme staff"),
            ("00018", "Bright & Co", None, "prospect", None, None),
            ("017", "Zoë Müller", "zoe@example.org", "active", "vip", "Müller family;Acme staff"),
        ],
    )
    revenue_book = write_xlsx(
        tmp_path,
        "revenue.xlsx",
        [
            ("client_ref", "date", "amount", "reference"),
            ("00017", dt.datetime(2026, 1, 15), 1234.5, "INV-1"),
            ("00017", dt.date(2026, 2, 15), 100, None),
            ("017", dt.datetime(2026, 2, 1), -20.0, None),
            ("00018", dt.date(2026, 3, 31), 0.01, "INV-2"),
            (17, dt.date(2026, 3, 1), 5, None),  # a number cell: ref "17", unknown
        ],
    )
    assert counts(run(from_xlsx, "clients", clients_book)) == figures(3, added=3)
    result = run(from_xlsx, "revenue", revenue_book)
    assert counts(result) == figures(5, added=4, problems=1)
    assert result.problems == [
        RowProblem(6, "client '17' does not exist (import the clients first)")
    ]
    # An empty workbook cell is "" like an empty CSV cell.
    assert clients_in(from_xlsx) == clients_in(from_csv)
    assert revenue_in(from_xlsx) == revenue_in(from_csv)
    assert stats_in(from_xlsx) == stats_in(from_csv)
    assert months_in(from_xlsx) == months_in(from_csv)
    from_csv.close()
    from_xlsx.close()


# --------------------------------------------------------------------------- re-importing


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_reimporting_the_same_files_changes_nothing(
    tmp_path: Path, office: Office, file_format: str
) -> None:
    clients_rows = [
        ("ref", "name", "email", "status", "tags", "groups"),
        ("00017", "Acme Ltd", "info@acme.example", "active", "vip;gold", "Acme staff"),
        ("00018", "Bright & Co", "", "prospect", "", ""),
    ]
    revenue_rows = [
        ("client_ref", "date", "amount", "reference"),
        ("00017", "2026-01-15", "1234.50", "INV-1"),
        ("00017", "2026-01-15", "1234.50", ""),
        ("00017", "2026-01-15", "1234.50", ""),
        ("00018", "2026-02-01", "99.99", "INV-2"),
        ("00018", "2026-02-02", "-5.00", ""),
    ]

    def as_file(name: str, rows: Sequence[Sequence[str]]) -> Path:
        if file_format == "xlsx":
            return write_xlsx(tmp_path, f"{name}.xlsx", rows)
        return write(tmp_path, f"{name}.csv", "".join(",".join(row) + "\n" for row in rows))

    clients_file, revenue_file = as_file("clients", clients_rows), as_file("revenue", revenue_rows)
    assert counts(run(office, "clients", clients_file)) == figures(2, added=2)
    assert counts(run(office, "revenue", revenue_file)) == figures(5, added=5)
    before = snapshot(office)

    assert counts(run(office, "clients", clients_file)) == figures(2, unchanged=2)
    assert counts(run(office, "revenue", revenue_file)) == figures(5, unchanged=5)
    assert snapshot(office) == before


def test_two_identical_lines_are_two_records_and_reimport_adds_none(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("00017")])
    statement = write(
        tmp_path,
        "statement.csv",
        "client_ref,date,amount\n00017,2026-03-02,50.00\n00017,2026-03-02,50.00\n",
    )
    assert counts(run(office, "revenue", statement)) == figures(2, added=2)
    assert revenue_in(office) == [("00017", d("2026-03-02"), 5000, None)] * 2
    assert stats_in(office)["00017"] == (10000, 2, 5000, d("2026-03-02"), d("2026-03-02"))
    before = snapshot(office)

    assert counts(run(office, "revenue", statement)) == figures(2, unchanged=2)
    assert snapshot(office) == before


def test_a_third_identical_line_in_a_later_file_adds_exactly_one(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("00017")])
    line = "00017,2026-03-02,50.00\n"
    run(office, "revenue", write(tmp_path, "two.csv", "client_ref,date,amount\n" + line * 2))
    three = write(tmp_path, "three.csv", "client_ref,date,amount\n" + line * 3)
    assert counts(run(office, "revenue", three)) == figures(3, added=1, unchanged=2)
    assert revenue_in(office) == [("00017", d("2026-03-02"), 5000, None)] * 3
    assert stats_in(office)["00017"][:2] == (15000, 3)
    # and the three-line file again adds nothing
    assert counts(run(office, "revenue", three)) == figures(3, unchanged=3)


def test_identical_amounts_on_other_days_or_clients_are_not_the_same_record(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("A"), client("B")])
    run(office, "revenue", write(tmp_path, "one.csv", "client_ref,date,amount\nA,2026-03-02,50\n"))
    other = write(
        tmp_path,
        "other.csv",
        "client_ref,date,amount\n"
        "A,2026-03-02,50.00\n"  # the stored one
        "A,2026-03-03,50.00\n"  # another day
        "B,2026-03-02,50.00\n"  # another client
        "A,2026-03-02,50.01\n",  # one cent more
    )
    assert counts(run(office, "revenue", other)) == figures(4, added=3, unchanged=1)


def test_a_changed_amount_for_the_same_reference_is_an_update(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("00017")])
    run(
        office,
        "revenue",
        write(
            tmp_path,
            "first.csv",
            "client_ref,date,amount,reference\n"
            "00017,2026-01-31,100.00,INV-1\n"
            "00017,2026-01-31,7.00,INV-2\n",
        ),
    )
    corrected = write(
        tmp_path,
        "corrected.csv",
        "client_ref,date,amount,reference\n"
        "00017,2026-01-31,150.00,INV-1\n"  # amount corrected
        "00017,2026-02-01,7.00,INV-2\n"  # moved into the next month
        "00017,2026-02-05,1.00,INV-3\n",  # new
    )
    assert counts(run(office, "revenue", corrected)) == figures(3, added=1, updated=2)
    assert revenue_in(office) == [
        ("00017", d("2026-01-31"), 15000, "INV-1"),
        ("00017", d("2026-02-01"), 700, "INV-2"),
        ("00017", d("2026-02-05"), 100, "INV-3"),
    ]
    assert stats_in(office)["00017"] == (15800, 3, 5267, d("2026-01-31"), d("2026-02-05"))
    january, february = 2026 * 12, 2026 * 12 + 1
    assert months_in(office) == {("00017", january): (15000, 1), ("00017", february): (800, 2)}
    # the corrected file again: nothing to do
    assert counts(run(office, "revenue", corrected)) == figures(3, unchanged=3)


def test_a_revenue_row_for_an_unknown_client_is_a_problem_naming_its_row(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("00017")])
    path = write(
        tmp_path,
        "revenue.csv",
        "client_ref,date,amount\n"  # row 1
        "00017,2026-01-02,10.00\n"  # row 2
        "\n"  # row 3: blank, counted but skipped
        "00099,2026-01-03,10.00\n"  # row 4: unknown client
        "0017,2026-01-04,10.00\n"  # row 5: not 00017
        "00017,2026-13-01,10.00\n",  # row 6: a bad date (the reader's problem)
    )
    result = run(office, "revenue", path)
    assert counts(result) == figures(4, added=1, problems=3)
    assert [problem.row_number for problem in result.problems] == [4, 5, 6]
    assert result.problems[0] == RowProblem(
        4, "client '00099' does not exist (import the clients first)"
    )
    assert result.problems[1] == RowProblem(
        5, "client '0017' does not exist (import the clients first)"
    )
    assert revenue_in(office) == [("00017", d("2026-01-02"), 1000, None)]


# --------------------------------------------------------------------------- rows not lined up

SHIFTED_CLIENTS = (
    "ref;name;email;status;tags\n"
    "N001;Acme Ltd;acme@example.com;active;new;vip\n"  # "new;vip" unquoted: one field too many
    "N002;Bright Co;b@example.com;active;new\n"
    "N003;Third Ltd;t@example.com;active;new;vip\n"
    "N004;Fourth Ltd\n"  # shorter, but every required field is there
    "N005\n"  # no name at all
    "N006;Sixth Ltd;;active;vip;;\n"  # empty fields after the header: accepted
)
SHIFTED_PROBLEMS = [
    RowProblem(2, "has 6 fields where the header has 5: check for an unquoted ';' in a value"),
    RowProblem(4, "has 6 fields where the header has 5: check for an unquoted ';' in a value"),
    RowProblem(
        6,
        "has 1 field where the header has 5, so it has no name:"
        " check for a line break or another delimiter in the row",
    ),
]


def test_a_row_not_lined_up_with_the_header_is_a_bad_row_not_half_imported(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("N001", "Acme Ltd", email="old@example.com", tags=["old"])])
    before = clients_in(office)
    path = write(tmp_path, "clients.csv", SHIFTED_CLIENTS)

    preview = run(office, "clients", path, dry_run=True)  # the preview shows the bad rows
    assert preview.problems == SHIFTED_PROBLEMS
    assert clients_in(office) == before

    result = run(office, "clients", path)
    assert counts(result) == figures(6, added=3, problems=3)
    assert result.problems == SHIFTED_PROBLEMS
    assert clients_in(office) == [
        ("N001", "Acme Ltd", "old@example.com", None, ("old",), ()),  # untouched, tags and all
        ("N002", "Bright Co", "b@example.com", "active", ("new",), ()),
        ("N004", "Fourth Ltd", "", "", (), ()),
        ("N006", "Sixth Ltd", "", "active", ("vip",), ()),
    ]


def test_a_workbook_value_without_a_header_is_a_bad_row_not_half_imported(
    tmp_path: Path, office: Office
) -> None:
    path = write_xlsx(
        tmp_path,
        "clients.xlsx",
        [
            ["ref", "name", "email", "status", "tags"],
            ["N001", "Acme Ltd", "acme@example.com", "active", "new", "vip"],
            ["N002", "Bright Co", None, "active", "new", None, "  "],
        ],
    )
    result = run(office, "clients", path)
    assert counts(result) == figures(2, added=1, problems=1)
    assert result.problems == [
        RowProblem(
            2,
            "has 'vip' in column F, which has no header (the header ends at column E):"
            " give the column a header or clear the cell",
        )
    ]
    assert clients_in(office) == [("N002", "Bright Co", "", "active", ("new",), ())]


def test_a_revenue_row_with_a_field_too_many_is_not_imported(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("00017")])
    path = write(
        tmp_path,
        "revenue.csv",
        "client_ref,date,amount\n"
        "00017,2026-01-02,10.00\n"
        "00017,2026-01-03,1,234.50\n"  # an unquoted thousands comma
        "00017,2026-01-04,\n"  # an empty field in the header's last column: a missing amount
        "00017,2026-01-05,5.00,,\n",  # empty fields after the header: accepted
    )
    result = run(office, "revenue", path)
    assert counts(result) == figures(4, added=2, problems=2)
    assert result.problems == [
        RowProblem(3, "has 4 fields where the header has 3: check for an unquoted ',' in a value"),
        RowProblem(4, "missing amount"),
    ]
    assert revenue_in(office) == [
        ("00017", d("2026-01-02"), 1000, None),
        ("00017", d("2026-01-05"), 500, None),
    ]


# --------------------------------------------------------------------------- preview


def test_a_dry_run_changes_nothing_and_predicts_the_clients_import(
    tmp_path: Path, stocked: Office
) -> None:
    path = write(
        tmp_path,
        "clients2.csv",
        "ref,name,status\n"
        "00017,Acme Ltd,active\n"  # unchanged
        "00018,Bright & Co,active\n"  # updated (status)
        "00019,New One,prospect\n"  # added
        "00019,New One Again,prospect\n"  # duplicate ref: problem
        ",No Ref,\n",  # problem
    )
    before = snapshot(stocked)
    preview = run(stocked, "clients", path, dry_run=True)
    assert snapshot(stocked) == before
    assert counts(preview) == figures(5, added=1, updated=1, unchanged=1, problems=2)
    assert preview.dry_run

    real = run(stocked, "clients", path)
    assert counts(real) == counts(preview)
    assert real.problems == preview.problems
    assert [problem.row_number for problem in real.problems] == [5, 6]
    assert len(clients_in(stocked)) == 4


def test_a_dry_run_changes_nothing_and_predicts_the_revenue_import(
    tmp_path: Path, stocked: Office
) -> None:
    path = write(
        tmp_path,
        "revenue2.csv",
        "client_ref,date,amount,reference\n"
        '00017,2026-01-15,"1,234.50",INV-1\n'  # unchanged
        "00018,2026-03-31,0.02,INV-2\n"  # updated
        "00017,2026-02-15,100.00,\n"  # unchanged (the one stored)
        "00017,2026-02-15,100.00,\n"  # added (a second identical line)
        "017,2026-04-01,12.00,INV-9\n"  # added
        "nobody,2026-04-01,12.00,\n"  # problem
        "017,someday,12.00,\n",  # problem
    )
    before = snapshot(stocked)
    preview = run(stocked, "revenue", path, dry_run=True)
    assert snapshot(stocked) == before
    assert counts(preview) == figures(7, added=2, updated=1, unchanged=2, problems=2)

    real = run(stocked, "revenue", path)
    assert counts(real) == counts(preview)
    assert real.problems == preview.problems
    assert snapshot(stocked) != before
    assert len(revenue_in(stocked)) == 4 + 2


# --------------------------------------------------------------------------- all or nothing


def counting_cancel(cancel_on_call: int | None) -> tuple[Callable[[], bool], list[int]]:
    """A cancelled() that turns True on its n-th call (never when None), and its call count."""
    calls = [0]

    def cancelled() -> bool:
        calls[0] += 1
        return cancel_on_call is not None and calls[0] >= cancel_on_call

    return cancelled, calls


BIG = 3 * TICK_ROWS  # enough rows for the reader to check for cancel part-way


def big_clients_office(tmp_path: Path, office_url: str) -> tuple[Office, Path]:
    """An office with TICK_ROWS clients and a file that renames them all and adds 100 more.

    Each rename is written as its row is read, so a cancel part-way has writes to undo.
    """
    office, _ = make_office(office_url)
    add_clients(office, [client(f"C{n:05d}") for n in range(TICK_ROWS)])
    lines = [f"C{n:05d},Renamed {n}\n" for n in range(TICK_ROWS + 100)]
    return office, write(tmp_path, "clients.csv", "ref,name\n" + "".join(lines))


def big_revenue_office(tmp_path: Path, office_url: str) -> tuple[Office, Path]:
    """An office with one client and a file of BIG lines for it (and one stored line)."""
    office, _ = make_office(office_url, [client("C1")], [("C1", d("2026-01-01"), 100)])
    lines = [f"C1,2026-01-{1 + n % 28:02d},{n}.00,R{n}\n" for n in range(BIG)]
    return office, write(
        tmp_path, "revenue.csv", "client_ref,date,amount,reference\n" + "".join(lines)
    )


@pytest.fixture
def big_office(tmp_path: Path, office_url: str) -> Iterator[Callable[[Kind], tuple[Office, Path]]]:
    """big_clients_office or big_revenue_office on this test's engine, closed afterwards."""
    opened: list[Office] = []

    def build(kind: Kind) -> tuple[Office, Path]:
        office, path = (big_clients_office if kind == "clients" else big_revenue_office)(
            tmp_path, office_url
        )
        opened.append(office)
        return office, path

    yield build
    for office in opened:
        office.close()


@pytest.mark.parametrize("kind", ["clients", "revenue"])
def test_cancelling_at_any_check_leaves_the_office_unchanged(
    big_office: Callable[[Kind], tuple[Office, Path]], kind: Kind
) -> None:
    office, path = big_office(kind)
    # A dry run tells how often the import asks; cancel at each of those moments in turn.
    cancelled, calls = counting_cancel(None)
    preview = run(office, kind, path, dry_run=True, cancelled=cancelled)
    assert preview.accepted == preview.rows_read == (TICK_ROWS + 100 if kind == "clients" else BIG)
    checks = calls[0]
    assert checks >= 3  # at the start, part-way through reading, and before committing
    before = snapshot(office)
    for cancel_on_call in range(1, checks + 1):
        cancelled, calls = counting_cancel(cancel_on_call)
        with pytest.raises(ImportCancelled):
            run(office, kind, path, cancelled=cancelled)
        assert calls[0] == cancel_on_call
        assert snapshot(office) == before, f"cancelled on check {cancel_on_call}"
    # Not cancelled, it goes through.
    assert run(office, kind, path).accepted == preview.accepted


def test_an_ambiguous_date_late_in_the_file_leaves_the_office_unchanged(
    tmp_path: Path, office: Office
) -> None:
    add_clients(office, [client("C1")])
    add_revenue(office, [("C1", d("2026-01-01"), 100)])
    good = "".join(f"C1,2026-02-{1 + n % 28:02d},{n}.00\n" for n in range(BIG))
    path = write(
        tmp_path, "revenue.csv", "client_ref,date,amount\n" + good + "C1,03/04/2026,1.00\n"
    )
    before = snapshot(office)
    with pytest.raises(ImportFileError) as raised:
        run(office, "revenue", path)
    assert str(raised.value) == (
        f"revenue.csv: Column 'date' has dates like '03/04/2026' (row {BIG + 2}) that could be"
        " day/month or month/day: choose --date-format dmy or mdy."
    )
    assert snapshot(office) == before
    # With the format chosen, every line goes in.
    result = run(office, "revenue", path, ImportOptions(date_format="dmy"))
    assert counts(result) == figures(BIG + 1, added=BIG + 1)
    assert ("C1", d("2026-04-03"), 100, None) in revenue_in(office)


def test_an_undecodable_byte_after_many_updates_leaves_the_office_unchanged(
    big_office: Callable[[Kind], tuple[Office, Path]],
) -> None:
    office, path = big_office("clients")
    # A Windows-1252 "é" in the last row of a file declared UTF-8.
    path.write_bytes(path.read_bytes() + b"Z1,Caf\xe9\n")
    before = snapshot(office)
    with pytest.raises(ImportFileError) as raised:
        run(office, "clients", path, ImportOptions(encoding="utf-8"))
    assert "clients.csv is not valid UTF-8 text" in str(raised.value)
    assert snapshot(office) == before


def test_a_file_error_before_any_row_leaves_the_office_unchanged(
    tmp_path: Path, stocked: Office
) -> None:
    before = snapshot(stocked)
    no_amount = write(tmp_path, "revenue.csv", "client_ref,date,total,net\n00017,2026-01-01,1,2\n")
    with pytest.raises(ImportFileError, match="could each be the amount"):
        run(stocked, "revenue", no_amount)
    with pytest.raises(ImportFileError, match="is empty"):
        run(stocked, "clients", write(tmp_path, "empty.csv", b""))
    assert snapshot(stocked) == before


def test_totals_too_large_to_store_are_refused_without_a_database_error(
    tmp_path: Path, office: Office
) -> None:
    """9,300 lines of the largest amount a reader accepts overflow a 64-bit total in SQL.

    The import must fail as a file error, never as a database error (SQLite says
    "integer overflow", PostgreSQL "bigint out of range"), and must change nothing.
    """
    add_clients(office, [client("C1")])
    largest = "9999999999999.99"
    lines = "".join(f"C1,2026-01-{1 + n % 28:02d},{largest}\n" for n in range(9_300))
    path = write(tmp_path, "huge.csv", "client_ref,date,amount\n" + lines)
    before = snapshot(office)
    with pytest.raises(ImportFileError, match="add up to more than the program can store"):
        run(office, "revenue", path)
    assert snapshot(office) == before


# --------------------------------------------------------------------------- rollups and segments


def test_rollups_match_the_revenue_after_imports(tmp_path: Path, stocked: Office) -> None:
    run(
        stocked,
        "clients",
        write(tmp_path, "more.csv", "ref,name\n00020,No Revenue Yet\n"),
    )
    run(
        stocked,
        "revenue",
        write(
            tmp_path,
            "more_revenue.csv",
            "client_ref,date,amount,reference\n"
            "00017,2026-01-15,1000.00,INV-1\n"  # update
            "00017,2025-12-31,3.33,\n"
            "00017,2025-12-31,3.33,\n"
            "017,2026-02-28,20.00,\n"
            "00018,2026-03-01,-0.01,\n",
        ),
    )
    records = revenue_in(stocked)
    by_client: dict[str, list[RevenueLine]] = defaultdict(list)
    for record in records:
        by_client[record[0]].append(record)
    expected_stats = {}
    for ref, _name, *_rest in clients_in(stocked):
        own = by_client.get(ref, [])
        total, count = sum(r[2] for r in own), len(own)
        average = None if not count else int((abs(total) * 2 + count) // (2 * count))
        if average is not None and total < 0:
            average = -average
        expected_stats[ref] = (
            total,
            count,
            average,
            min((r[1] for r in own), default=None),
            max((r[1] for r in own), default=None),
        )
    assert stats_in(stocked) == expected_stats
    # 1000.00 (INV-1, updated) + 100.00 + 3.33 + 3.33; the average rounds 276.665 up
    assert expected_stats["00017"] == (110666, 4, 27667, d("2025-12-31"), d("2026-02-15"))
    assert expected_stats["00020"] == (0, 0, None, None, None)

    expected_months: dict[tuple[str, int], tuple[int, int]] = {}
    for ref, day, cents, _reference in records:
        key = (ref, day.year * 12 + day.month - 1)
        total, lines = expected_months.get(key, (0, 0))
        expected_months[key] = (total + cents, lines + 1)
    assert months_in(stocked) == expected_months


def test_segments_are_recomputed_after_an_import(tmp_path: Path, office: Office) -> None:
    office.save_segment(
        SegmentDefinition(
            "Big spenders", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "1000"),)
        )
    )
    run(office, "clients", write(tmp_path, "clients.csv", "ref,name\n00017,A\n00018,B\n"))
    assert member_count(office, "Big spenders") == 0
    assert member_count(office, "Repeat Customers") == 0

    first = write(
        tmp_path,
        "revenue.csv",
        "client_ref,date,amount,reference\n00017,2026-01-01,1000.01,INV-1\n"
        + "00018,2026-01-01,1.00,\n" * 6,
    )
    run(office, "revenue", first)
    assert member_count(office, "Big spenders") == 1  # 00017: one cent over
    assert member_count(office, "Repeat Customers") == 1  # 00018: six identical lines

    # A preview recomputes nothing; the real import of a correction does.
    corrected = write(
        tmp_path,
        "corrected.csv",
        "client_ref,date,amount,reference\n00017,2026-01-01,1000.00,INV-1\n",
    )
    run(office, "revenue", corrected, dry_run=True)
    assert member_count(office, "Big spenders") == 1
    result = run(office, "revenue", corrected)
    assert counts(result) == figures(1, updated=1)
    assert member_count(office, "Big spenders") == 0  # exactly 1000.00 is not over


def test_import_result_summary_and_accepted(tmp_path: Path, stocked: Office) -> None:
    result = run(stocked, "revenue", write(tmp_path, "revenue.csv", REVENUE_CSV), dry_run=True)
    assert result.accepted == 4
    assert result.summary() == (
        "revenue.csv: 5 rows read; would add 0 revenue records, would update 0,"
        " 4 already there, 1 bad rows"
    )
    assert dataclasses.replace(result, dry_run=False).summary() == (
        "revenue.csv: 5 rows read; added 0 revenue records, updated 0, 4 already there, 1 bad rows"
    )
