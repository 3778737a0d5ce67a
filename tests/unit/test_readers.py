"""Reading CSV client and revenue files: a corpus of awkward files, each with its exact outcome."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from seg_desktop.io.readers import (
    ClientRow,
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    RevenueRow,
    RowProblem,
    SampleRow,
    inspect_file,
    read_clients,
    read_revenue,
)

DEFAULT = ImportOptions()
DMY = ImportOptions(date_format="dmy")


def write(tmp_path: Path, content: bytes | str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def clients(path: Path, options: ImportOptions = DEFAULT) -> list[ClientRow | RowProblem]:
    return list(read_clients(path, options))


def revenue(path: Path, options: ImportOptions = DEFAULT) -> list[RevenueRow | RowProblem]:
    return list(read_revenue(path, options))


def client(row: int, ref: str, name: str, **fields: object) -> ClientRow:
    values: dict[str, object] = {"email": None, "status": None, "tags": None, "groups": None}
    values.update(fields)
    return ClientRow(row_number=row, ref=ref, name=name, **values)  # type: ignore[arg-type]


def record(row: int, ref: str, day: str, cents: int, reference: str | None = None) -> RevenueRow:
    return RevenueRow(row, ref, dt.date.fromisoformat(day), cents, reference)


# --------------------------------------------------------------------------- clients


def test_canonical_clients_file_reads_every_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ref,name,email,status,tags,groups\n"
        '00017,Acme Ltd,info@acme.example,active,"vip; gold;; ",Smith family;Acme staff\n'
        "00018,Bright & Co,,prospect,,\n",
    )
    assert clients(path) == [
        client(
            2,
            "00017",
            "Acme Ltd",
            email="info@acme.example",
            status="active",
            tags=frozenset({"vip", "gold"}),
            groups=("Smith family", "Acme staff"),
        ),
        # Present but empty cells are empty values ("clear it"), not None ("leave it").
        client(3, "00018", "Bright & Co", email="", status="prospect", tags=frozenset(), groups=()),
    ]


def test_absent_optional_columns_are_none(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n1,One\n")
    assert clients(path) == [client(2, "1", "One")]


def test_repeated_group_is_kept_once_in_order(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name,groups\n1,One,B; A; B\n")
    assert clients(path) == [client(2, "1", "One", groups=("B", "A"))]


def test_cp1252_name_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n00017,Zoë Müller\n".encode("cp1252"))
    assert clients(path) == [client(2, "00017", "Zoë Müller")]
    assert inspect_file(path, "clients", DEFAULT).encoding == "cp1252"


def test_utf8_name_with_and_without_bom(tmp_path: Path) -> None:
    text = "ref,name\n00017,Zoë Müller\n"
    with_bom = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"), "bom.csv")
    without = write(tmp_path, text, "plain.csv")
    assert clients(with_bom) == clients(without) == [client(2, "00017", "Zoë Müller")]
    assert inspect_file(with_bom, "clients", DEFAULT).encoding == "utf-8-sig"
    assert inspect_file(without, "clients", DEFAULT).encoding == "utf-8"
    # Naming "utf-8" for a file with a BOM must not glue the BOM to the first header.
    assert clients(with_bom, ImportOptions(encoding="utf-8")) == [client(2, "00017", "Zoë Müller")]


def test_cp1252_byte_after_the_first_megabyte_is_detected(tmp_path: Path) -> None:
    filler = "".join(f"{n:06d},Client number {n}\n" for n in range(60_000))  # about 1.5 MB
    assert len(filler) > 1_100_000
    path = write(tmp_path, ("ref,name\n" + filler + "999999,Zoë Müller\n").encode("cp1252"))
    rows = clients(path)
    assert len(rows) == 60_001
    assert rows[-1] == client(60_002, "999999", "Zoë Müller")


def test_utf16_export_with_tabs(tmp_path: Path) -> None:
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    path = write(tmp_path, "ref\tname\r\n00017\tZoë Müller\r\n".encode("utf-16"), "export.txt")
    assert clients(path) == [client(2, "00017", "Zoë Müller")]


def test_refs_stay_text_and_every_field_is_trimmed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ref,name,email,status\n"
        "  00017 ,  Zoë Müller  , zoe@example.com ,active  \n"
        '="00018",Leading zeros kept by an export,,\n',
    )
    assert clients(path) == [
        client(2, "00017", "Zoë Müller", email="zoe@example.com", status="active"),
        client(3, "00018", "Leading zeros kept by an export", email="", status=""),
    ]


def test_blank_lines_are_skipped_but_counted_as_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n\n1,One\n,\n   ,  \n\n2,Two\n\n")
    assert clients(path) == [client(3, "1", "One"), client(7, "2", "Two")]


def test_quoted_newline_keeps_one_row_per_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'ref,name,status\n1,"Acme\nHoldings\r\nLtd",active\n2,Two,\n3,,lost\n',
    )
    assert clients(path) == [
        client(2, "1", "Acme\nHoldings\r\nLtd", status="active"),
        client(3, "2", "Two", status=""),
        RowProblem(4, "missing name"),
    ]


def test_duplicate_ref_names_the_first_row(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n00017,First\n00018,Other\n00017,Second\n0017,Not the same\n")
    assert clients(path) == [
        client(2, "00017", "First"),
        client(3, "00018", "Other"),
        RowProblem(4, "duplicate ref 00017 (first on row 2)"),
        client(5, "0017", "Not the same"),
    ]


def test_missing_values_and_bad_email_are_row_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ref,name,email\n,Nameless ref,\n5,,\n,,someone@example.com\n6,Six,not an address\n",
    )
    assert clients(path) == [
        RowProblem(2, "missing ref"),
        RowProblem(3, "missing name"),
        RowProblem(4, "missing ref; missing name"),
        RowProblem(5, "email 'not an address' is not an email address"),
    ]


def test_header_below_title_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Client list exported 2026-03-02,,\n,,\nClient ID,Company Name,E-mail\n"
        "00017,Acme,a@acme.example\n",
    )
    assert clients(path) == [client(4, "00017", "Acme", email="a@acme.example")]
    layout = inspect_file(path, "clients", DEFAULT)
    assert layout.header_row == 3
    assert layout.mapping == {"ref": "Client ID", "name": "Company Name", "email": "E-mail"}


def test_explicit_header_row(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\nref,name\nA,B\n")
    assert clients(path, ImportOptions(header_row=2)) == [client(3, "A", "B")]


def test_tab_delimited(tmp_path: Path) -> None:
    path = write(tmp_path, "Customer Ref\tCustomer Name\tTags\n17\tAcme, Inc.\tx;y\n")
    assert clients(path) == [client(2, "17", "Acme, Inc.", tags=frozenset({"x", "y"}))]
    assert inspect_file(path, "clients", DEFAULT).delimiter == "\t"


def test_old_mac_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\r1,One\r2,Two\r")
    assert clients(path) == [client(2, "1", "One"), client(3, "2", "Two")]


def test_mapping_overrides_recognition(tmp_path: Path) -> None:
    path = write(tmp_path, "Kundennummer,Firma,Name\nK1,Acme GmbH,Anna\n")
    options = ImportOptions(mapping={"ref": "Kundennummer", "name": "firma"})
    assert clients(path, options) == [client(2, "K1", "Acme GmbH")]


def test_mapping_a_field_to_nothing_leaves_it_out(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name,status\n1,One,active\n")
    assert clients(path, ImportOptions(mapping={"status": ""})) == [client(2, "1", "One")]


# --------------------------------------------------------------------------- revenue


def test_canonical_revenue_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref,date,amount,reference\n"
        "00017,2026-03-02,1234.50,INV-1\n"
        "00017,2026-03-02,-12,\n"
        "00017,2026-03-02,-12,\n",
    )
    # Two identical statement lines are two records, not a problem.
    assert revenue(path) == [
        record(2, "00017", "2026-03-02", 123450, "INV-1"),
        record(3, "00017", "2026-03-02", -1200),
        record(4, "00017", "2026-03-02", -1200),
    ]


def test_amount_spellings_with_decimal_point(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref,date,amount\n"
        '1,2026-03-02,"1,234.50"\n'
        '2,2026-03-02,"(1,234.50)"\n'
        "3,2026-03-02,$12.5\n"
        "4,2026-03-02,12.00-\n"
        "5,2026-03-02,USD 7\n"
        "6,2026-03-02,£0.01\n"
        "7,2026-03-02,  99  \n",
    )
    assert [(row.row_number, row.amount_cents) for row in revenue(path)] == [  # type: ignore[union-attr]
        (2, 123450),
        (3, -123450),
        (4, 1250),
        (5, -1200),
        (6, 700),
        (7, 1),
        (8, 9900),
    ]


def test_semicolons_with_decimal_commas_and_day_month_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Kunde;Client Ref;Invoice Date;Amount;Invoice No\n"
        "Zoë;00017;02.03.2026;1.234,50;R-1\n"
        "Zoë;00017;2.3.2026;1 234,50;R-2\n"
        "Zoë;00017;02-03-2026;1.000;R-3\n"
        "Zoë;00017;2026-03-02;-12,5;\n"
        "Zoë;00017;31.02.2026;(5,00);R-5\n"
        "Zoë;00017;02.03.26;€ 1,00;R-6\n".encode("cp1252"),
    )
    options = ImportOptions(decimal=",", date_format="dmy")
    assert revenue(path, options) == [
        record(2, "00017", "2026-03-02", 123450, "R-1"),
        record(3, "00017", "2026-03-02", 123450, "R-2"),
        record(4, "00017", "2026-03-02", 100000, "R-3"),
        record(5, "00017", "2026-03-02", -1250),
        RowProblem(6, "date '31.02.2026' does not exist"),
        RowProblem(7, "date '02.03.26' has a two-digit year; write the year in full"),
    ]


def test_month_first_dates(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,date,amount\n1,03/02/2026,1\n2,12/31/2026,2\n")
    assert revenue(path, ImportOptions(date_format="mdy")) == [
        record(2, "1", "2026-03-02", 100),
        record(3, "2", "2026-12-31", 200),
    ]


def test_bad_amounts_and_dates_are_row_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref,date,amount\n"
        "1,2026-03-02,abc\n"
        "2,2026-03-02,12.345\n"
        "3,2026-03-02,\n"
        "4,,5\n"
        "5,someday,5\n"
        ",2026-03-02,5\n"
        "7,2026-02-29,12,5\n"
        '8,2026-03-02,"12,5"\n',
    )
    assert revenue(path) == [
        RowProblem(2, "amount 'abc' is not a number"),
        RowProblem(3, "amount '12.345' has more than two decimals"),
        RowProblem(4, "missing amount"),
        RowProblem(5, "missing date"),
        RowProblem(6, "date 'someday' is not a date (e.g. 2026-03-02)"),
        RowProblem(7, "missing client ref"),
        # An unquoted decimal comma splits the amount into a fourth field: the row is bad
        # for that alone, before its (shifted) values are judged.
        RowProblem(8, "has 4 fields where the header has 3: check for an unquoted ',' in a value"),
        RowProblem(
            9,
            "amount '12,5' is not a number with decimal separator '.'"
            " (is the decimal separator ','?)",
        ),
    ]


def test_huge_cells_are_row_problems_with_short_reasons(tmp_path: Path) -> None:
    digits = "9" * 5000  # longer than int() converts by default: must not escape as ValueError
    path = write(tmp_path, f"client_ref,date,amount\n1,2026-03-02,{digits}\n2,{digits},1\n")
    assert revenue(path) == [
        RowProblem(2, f"amount '{'9' * 39}…' is not a number"),
        RowProblem(3, f"date '{'9' * 39}…' is not a date (e.g. 2026-03-02)"),
    ]


def test_amount_with_extra_zero_decimals_is_exact_not_rounded(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,date,amount\n1,2026-03-02,12.3400\n2,2026-03-02,12.3401\n")
    assert revenue(path) == [
        record(2, "1", "2026-03-02", 1234),
        RowProblem(3, "amount '12.3401' has more than two decimals"),
    ]


# --------------------------------------------------------------------------- rows not lined up


def more_fields(fields: int, header: int, delimiter: str = "';'") -> str:
    return (
        f"has {fields} fields where the header has {header}:"
        f" check for an unquoted {delimiter} in a value"
    )


SHORT = "check for a line break or another delimiter in the row"


def test_a_client_row_with_a_field_more_than_the_header_is_bad_not_cut(tmp_path: Path) -> None:
    # The reported case: "new;vip" unquoted, so the tag list became the tag "new".
    path = write(
        tmp_path,
        "ref;name;email;status;tags\n"
        "N001;Acme Ltd;acme@example.com;active;new;vip\n"
        'N002;Bright Co;b@example.com;active;"new;vip"\n',
    )
    assert clients(path) == [
        RowProblem(2, more_fields(6, 5)),
        client(3, "N002", "Bright Co", email="b@example.com", status="active",
               tags=frozenset({"new", "vip"})),
    ]  # fmt: skip


def test_a_revenue_row_with_a_field_more_than_the_header_is_bad(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref;date;amount;reference\n"
        "1;2026-03-02;1234,50;INV-1\n"  # a decimal comma in a ';' file needs no quotes
        "2;2026-03-02;12;INV;2\n"
        "3;2026-03-02;5;INV-3\n",
    )
    assert revenue(path, ImportOptions(decimal=",")) == [
        record(2, "1", "2026-03-02", 123450, "INV-1"),
        RowProblem(3, more_fields(5, 4)),
        record(4, "3", "2026-03-02", 500, "INV-3"),
    ]


def test_the_reason_names_the_files_own_delimiter(tmp_path: Path) -> None:
    comma = write(tmp_path, "ref,name\n1,Acme, Ltd\n", name="comma.csv")
    tab = write(tmp_path, "ref\tname\n1\tAcme\tLtd\n", name="tab.csv")
    assert clients(comma) == [RowProblem(2, more_fields(3, 2, "','"))]
    assert clients(tab) == [RowProblem(2, more_fields(3, 2, "tab"))]


def test_a_value_after_empty_extra_fields_still_makes_the_row_bad(tmp_path: Path) -> None:
    path = write(tmp_path, "ref;name;status\n1;One;active;;;lost\n2;Two;active;; ;\t\n")
    assert clients(path) == [
        RowProblem(2, more_fields(6, 3)),
        client(3, "2", "Two", status="active"),
    ]
    path = write(tmp_path, "client_ref,date,amount\n1,2026-03-02,5.00,,x,\n", name="r.csv")
    assert revenue(path) == [RowProblem(2, more_fields(5, 3, "','"))]


def test_empty_fields_after_the_header_are_accepted(tmp_path: Path) -> None:
    # Spreadsheets write them (another row, or a stray format, was wider); nothing is lost.
    clients_path = write(
        tmp_path, "ref;name;status\n1;One;active;;\n2;Two;;  ;\n3;Three;lost\n", name="c.csv"
    )
    assert clients(clients_path) == [
        client(2, "1", "One", status="active"),
        client(3, "2", "Two", status=""),
        client(4, "3", "Three", status="lost"),
    ]
    revenue_path = write(
        tmp_path, "client_ref,date,amount\n1,2026-03-02,5.00,,\n2,2026-03-03,6.00,\n", name="r.csv"
    )
    assert revenue(revenue_path) == [
        record(2, "1", "2026-03-02", 500),
        record(3, "2", "2026-03-03", 600),
    ]


def test_empty_header_cells_after_the_last_name_are_not_columns(tmp_path: Path) -> None:
    # "ref;name;;" is a two-column header: a value under its empty cells has no column.
    path = write(tmp_path, "ref;name;;\n1;One;;\n2;Two;vip;\n")
    assert clients(path) == [client(2, "1", "One"), RowProblem(3, more_fields(3, 2))]


def test_a_client_row_too_short_for_a_required_column_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ref;name;email;status\n"
        "N001,Acme Ltd,a@example.com,active\n"  # written with another delimiter
        "N002;Bright\n"  # shorter than the header, but every required field is there
        "N003;\n",  # the name's field is there, and empty
    )
    assert clients(path) == [
        RowProblem(2, f"has 1 field where the header has 4, so it has no name: {SHORT}"),
        client(3, "N002", "Bright", email="", status=""),
        RowProblem(4, "missing name"),
    ]


def test_a_revenue_row_too_short_for_a_required_column_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref,date,amount,reference\n"
        "1,2026-03-02\n"
        "2\n"
        "3,2026-03-02,7.00\n",  # the reference is optional
    )
    assert revenue(path) == [
        RowProblem(2, f"has 2 fields where the header has 4, so it has no amount: {SHORT}"),
        RowProblem(3, f"has 1 field where the header has 4, so it has no date or amount: {SHORT}"),
        record(4, "3", "2026-03-02", 700),
    ]


def test_header_aliases_for_revenue(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Statement Date,Customer ID,Invoice #,Total,Comment\n2026-03-02,C-9,77,10,hello\n",
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert layout.mapping == {
        "client_ref": "Customer ID",
        "date": "Statement Date",
        "amount": "Total",
        "reference": "Invoice #",
    }
    assert layout.unmapped_headers == ("Comment",)
    assert revenue(path) == [record(2, "C-9", "2026-03-02", 1000, "77")]


def test_specific_header_wins_over_generic(tmp_path: Path) -> None:
    path = write(tmp_path, "ID,Client ID,Date,Amount,Number,Invoice No\n1,C7,2026-03-02,5,9,R1\n")
    assert revenue(path) == [record(2, "C7", "2026-03-02", 500, "R1")]


def test_iso_dates_need_no_format_and_slashed_year_first_is_iso(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client_ref,date,amount\n1,2026/03/02,1\n2,20260302,1\n3,2026-03-02 00:00:00,1\n",
    )
    assert revenue(path) == [
        record(2, "1", "2026-03-02", 100),
        record(3, "2", "2026-03-02", 100),
        record(4, "3", "2026-03-02", 100),
    ]


# --------------------------------------------------------------------------- dates needing a format


def test_ambiguous_dates_without_format_are_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,Invoice Date,amount\n1,2026-01-05,1\n2,03/04/2026,2\n")
    with pytest.raises(ImportFileError) as raised:
        revenue(path)
    assert str(raised.value) == (
        "file.csv: Column 'Invoice Date' has dates like '03/04/2026' (row 3) that could be"
        " day/month or month/day: choose --date-format dmy or mdy."
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert (layout.date_format, layout.dates_ambiguous, layout.dates_contradictory) == (
        None,
        True,
        False,
    )


def test_day_first_evidence_anywhere_in_the_column_is_named(tmp_path: Path) -> None:
    rows = "".join(f"{n},01/02/2026,1\n" for n in range(500)) + "x,25/12/2026,1\n"
    path = write(tmp_path, "client_ref,date,amount\n" + rows)
    with pytest.raises(ImportFileError) as raised:
        revenue(path)
    assert str(raised.value) == (
        "file.csv: Column 'date' has dates written day/month/year ('25/12/2026' on row 502):"
        " choose --date-format dmy."
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert (layout.date_format, layout.dates_ambiguous, layout.dates_contradictory) == (
        "dmy",
        False,
        False,
    )
    assert len(revenue(path, DMY)) == 501


def test_month_first_evidence(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,date,amount\n1,01/02/2026,1\n2,12/25/2026,1\n")
    layout = inspect_file(path, "revenue", DEFAULT)
    assert layout.date_format == "mdy"
    assert layout.date_note == (
        "Column 'date' has dates written month/day/year ('12/25/2026' on row 3):"
        " choose --date-format mdy."
    )


def test_contradictory_dates(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,date,amount\n1,25/12/2026,1\n2,12/25/2026,1\n")
    layout = inspect_file(path, "revenue", DEFAULT)
    assert (layout.date_format, layout.dates_ambiguous, layout.dates_contradictory) == (
        None,
        False,
        True,
    )
    with pytest.raises(ImportFileError, match="no single date format fits every row"):
        revenue(path)
    assert revenue(path, DMY) == [
        record(2, "1", "2026-12-25", 100),
        RowProblem(3, "date '12/25/2026' does not exist"),
    ]


def test_iso_format_refuses_slashed_dates_per_row(tmp_path: Path) -> None:
    path = write(tmp_path, "client_ref,date,amount\n1,03/04/2026,1\n2,2026-04-03,1\n")
    assert revenue(path, ImportOptions(date_format="iso")) == [
        RowProblem(2, "date '03/04/2026' is not an ISO date (YYYY-MM-DD, e.g. 2026-03-02)"),
        record(3, "2", "2026-04-03", 100),
    ]


# --------------------------------------------------------------------------- whole-file problems


def test_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,email\n1,a@b.example\n")
    with pytest.raises(ImportFileError) as raised:
        clients(path)
    assert str(raised.value) == (
        "file.csv has no column for the name (row 1 has 'ref', 'email'):"
        " choose it in the column mapping."
    )
    layout = inspect_file(path, "clients", DEFAULT)
    assert layout.missing_fields == ("name",)
    assert layout.problems == (str(raised.value),)


def test_no_header_anywhere(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(ImportFileError) as raised:
        revenue(path)
    assert str(raised.value) == (
        "file.csv has no header row with columns for client ref, date and amount"
        " in its first 20 rows."
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert layout.headers == ("a", "b", "c")
    assert layout.missing_fields == ("client_ref", "date", "amount")


def test_two_candidate_columns_must_be_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, "Client,Date,Net,Total\n1,2026-03-02,10,12\n")
    with pytest.raises(ImportFileError) as raised:
        revenue(path)
    assert str(raised.value) == (
        "In file.csv, columns 'Net' and 'Total' could each be the amount:"
        " choose one in the column mapping."
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert layout.ambiguous_fields == {"amount": ("Net", "Total")}
    mapped = ImportOptions(mapping={"amount": "Net"})
    assert revenue(path, mapped) == [record(2, "1", "2026-03-02", 1000)]


def test_mapped_header_not_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n1,One\n")
    with pytest.raises(ImportFileError, match="has no column 'Code' \\(mapped to ref\\)"):
        clients(path, ImportOptions(mapping={"ref": "Code"}))


def test_unknown_mapping_field(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n1,One\n")
    with pytest.raises(ImportFileError, match="'phone' is not a clients field"):
        clients(path, ImportOptions(mapping={"phone": "ref"}))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file.csv is empty."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old-style .xls"),
        (b"PK\x03\x04garbage", "could not be read as an Excel workbook"),
        (b"ref,name\n1,\x81\x8d\n", "neither UTF-8 nor Windows-1252"),
        (b"\n\n\n", "no header row"),
        (b'ref,name\n1,"never closed\n' + b"x" * 140_000 + b"\n", "a quote"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ImportFileError, match=message):
        clients(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"nowhere\.csv could not be opened"):
        clients(tmp_path / "nowhere.csv")


def test_wrong_encoding_chosen_is_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n1,One\n2,Zoë Müller\n".encode("cp1252"))
    with pytest.raises(ImportFileError) as raised:
        clients(path, ImportOptions(encoding="utf-8"))
    assert (
        str(raised.value) == "file.csv is not valid UTF-8 text (near row 1): choose its encoding."
    )
    with pytest.raises(ImportFileError, match="'klingon' is not a known text encoding"):
        clients(path, ImportOptions(encoding="klingon"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # A dialog or the command line may pass anything: the types cannot promise it.
        (
            ImportOptions(decimal=";"),  # type: ignore[arg-type]
            "';' cannot be the decimal separator (use . or ,).",
        ),
        (
            ImportOptions(date_format="ymd"),  # type: ignore[arg-type]
            "'ymd' is not a date format (use iso, dmy or mdy).",
        ),
        (ImportOptions(header_row=0), "The header row must be 1 or more, not 0."),
        (
            ImportOptions(delimiter='"'),
            "'\"' cannot be a CSV delimiter (one character, not a quote).",
        ),
        (ImportOptions(encoding="base64"), "'base64' is not a known text encoding."),
        (ImportOptions(header_row=9), "file.csv has no row 9 to be the header."),
    ],
)
def test_impossible_options(tmp_path: Path, options: ImportOptions, message: str) -> None:
    path = write(tmp_path, "ref,name\n1,One\n")
    with pytest.raises(ImportFileError) as raised:
        clients(path, options)
    assert str(raised.value) == message


def test_xlsx_named_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = write(tmp_path, "ref,name\n1,One\n", "clients.xlsx")
    with pytest.raises(ImportFileError, match=r"clients\.xlsx is not a valid Excel workbook"):
        clients(path)


# --------------------------------------------------------------- inspect, progress, cancel


def test_inspect_reports_layout_and_evidence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Revenue export\n"
        "Client Ref;Date;Amount;Invoice No;Note\n"
        "00017;25.03.2026;1.234,50;R-1;first\n"
        "\n"
        "00018;01.04.2026;12,00;R-2;\n".encode("cp1252"),
    )
    layout = inspect_file(path, "revenue", DEFAULT)
    assert (layout.format, layout.encoding, layout.delimiter, layout.header_row) == (
        "csv",
        "utf-8",
        ";",
        2,
    )
    assert layout.headers == ("Client Ref", "Date", "Amount", "Invoice No", "Note")
    assert layout.mapping == {
        "client_ref": "Client Ref",
        "date": "Date",
        "amount": "Amount",
        "reference": "Invoice No",
    }
    assert layout.unmapped_headers == ("Note",)
    assert layout.problems == ()
    assert layout.sample_rows == (
        SampleRow(3, ("00017", "25.03.2026", "1.234,50", "R-1", "first")),
        SampleRow(5, ("00018", "01.04.2026", "12,00", "R-2", "")),
    )
    assert layout.data_rows == 2
    assert (layout.date_format, layout.decimal) == ("dmy", ",")
    resolved = layout.resolved_options(ImportOptions(decimal=",", date_format="dmy"))
    assert resolved.header_row == 2
    assert resolved.delimiter == ";"
    assert revenue(path, resolved) == [
        record(3, "00017", "2026-03-25", 123450, "R-1"),
        record(5, "00018", "2026-04-01", 1200, "R-2"),
    ]


def test_progress_reaches_the_file_size_and_cancel_stops(tmp_path: Path) -> None:
    body = "".join(f"{n},2026-03-02,{n}.25\n" for n in range(20_000))
    path = write(tmp_path, "client_ref,date,amount\n" + body)
    size = path.stat().st_size
    reports: list[tuple[int, int]] = []
    rows = list(
        read_revenue(path, DEFAULT, progress=lambda done, total: reports.append((done, total)))
    )
    assert len(rows) == 20_000
    assert rows[-1] == record(20_001, "19999", "2026-03-02", 1999925)
    assert reports[-1] == (size, size)
    assert all(total == size for _, total in reports)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert 4 <= len(reports) <= 10  # every few thousand rows, not every row

    checks = 0

    def cancel_on_second_check() -> bool:
        nonlocal checks
        checks += 1
        return checks >= 2

    read = 0
    with pytest.raises(ImportCancelled):
        for _ in read_revenue(path, DEFAULT, cancelled=cancel_on_second_check):
            read += 1
    assert read == 4096 - 2  # the check comes every 4096 rows; rows start at 2
