"""ClientsTableModel and ClientsProxyModel: display, model tester, numpy sort and filters."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from pytestqt.modeltest import ModelTester

from seg_desktop.gui.clients_model import (
    CLIENT_ID_ROLE,
    COLUMNS,
    SORT_ROLE,
    ClientsProxyModel,
    ClientsTableModel,
    ClientTableKeys,
    column_of,
)
from seg_desktop.store.export_rows import ExportRow
from seg_desktop.store.records import ClientTable, client_table_from_rows

DISPLAY = Qt.ItemDataRole.DisplayRole
ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def row(
    client_id: int,
    ref: str,
    name: str,
    total: int,
    *,
    email: str | None = None,
    status: str | None = "active",
    production: int | None = None,
    average: int | None = None,
    last: dt.date | None = None,
    tier: str | None = None,
    computed_tier: str | None = None,
) -> ExportRow:
    return ExportRow(
        client_id=client_id,
        ref=ref,
        name=name,
        email=email,
        status=status,
        tags="vip" if total > 1_000_00 else "",
        groups="",
        total_revenue=total,
        invoice_count=client_id * 1_000,
        first_invoice_date=dt.date(2025, 1, client_id) if last is not None else None,
        last_invoice_date=last,
        average_invoice_amount=average,
        production=production,
        tier=tier,
        group_tier=None,
        computed_tier=computed_tier,
    )


def sample_table() -> ClientTable:
    """Seven clients in ref order, with ties, negatives, empties and mixed case."""
    return client_table_from_rows(
        [
            row(1, "C001", "acme Ltd", 5_000_00, email="ops@acme.example", production=100_00,
                average=2_500_00, last=dt.date(2026, 3, 2), tier="Gold"),
            row(2, "C002", "Bravo GmbH", 1_234_50, production=-12_34, last=dt.date(2026, 1, 9),
                tier="Silver", computed_tier="Bronze"),
            row(3, "C003", "Acme Holdings", 5_000_00, email="Finance@ACME.example",
                average=1, last=dt.date(2025, 12, 31), tier="Bronze"),
            row(4, "C004", "charlie", -50_00, status=None, production=0, tier="Bronze"),
            row(5, "C005", "Delta", 0, production=None),
            row(6, "C006", "Echo", 5_000_00, production=100_00, tier="gold"),
            row(7, "C007", "ACME LTD", 9_99, email="x@y.example", production=7_00,
                last=dt.date(2026, 3, 3), tier="Bronze"),
        ],
        run_id=1,
    )  # fmt: skip


@pytest.fixture
def model() -> ClientsTableModel:
    source = ClientsTableModel()
    source.set_table(sample_table())
    return source


@pytest.fixture
def proxy(model: ClientsTableModel) -> ClientsProxyModel:
    return ClientsProxyModel(model)


def refs(proxy: ClientsProxyModel) -> list[str]:
    ref_column = column_of("ref")
    return [proxy.index(r, ref_column).data() for r in range(proxy.rowCount())]


def test_source_model_passes_the_model_tester_filled_and_refilled(
    qtmodeltester: ModelTester,
) -> None:
    source = ClientsTableModel()
    qtmodeltester.check(source)
    source.set_table(sample_table())
    source.set_table(ClientTable.empty())
    source.set_table(sample_table())
    assert source.rowCount() == 7
    assert source.columnCount() == len(COLUMNS) == 15


def test_proxy_passes_the_model_tester_through_sorts_and_filters(
    qtmodeltester: ModelTester, model: ClientsTableModel, proxy: ClientsProxyModel
) -> None:
    qtmodeltester.check(proxy)
    proxy.sort(column_of("total_revenue"), DESC)
    proxy.set_search_text("acme")
    proxy.set_member_filter([1, 2, 3])
    proxy.set_search_text("no such client")
    proxy.set_member_filter(None)
    proxy.set_search_text("")
    model.set_table(ClientTable.empty())
    model.set_table(sample_table())
    proxy.sort(-1)
    assert refs(proxy) == [f"C00{n}" for n in range(1, 8)]


def test_display_is_formatted_for_reading(model: ClientsTableModel) -> None:
    def shown(r: int, key: str) -> object:
        return model.index(r, column_of(key)).data(DISPLAY)

    assert shown(1, "total_revenue") == "1,234.50"
    assert shown(3, "total_revenue") == "-50.00"
    assert shown(1, "production") == "-12.34"
    assert shown(4, "production") == ""  # no production: blank, not 0.00
    assert shown(2, "average_invoice_amount") == "0.01"
    assert shown(3, "average_invoice_amount") == ""
    assert shown(0, "last_invoice_date") == "2026-03-02"
    assert shown(3, "last_invoice_date") == ""
    assert shown(6, "invoice_count") == "7,000"
    assert shown(3, "status") == ""
    assert shown(1, "email") == ""
    number = model.index(0, column_of("total_revenue"))
    text = model.index(0, column_of("name"))
    alignment = number.data(Qt.ItemDataRole.TextAlignmentRole)
    assert alignment & Qt.AlignmentFlag.AlignRight
    assert text.data(Qt.ItemDataRole.TextAlignmentRole) is None
    assert model.headerData(column_of("total_revenue"), Qt.Orientation.Horizontal) == (
        "Total revenue"
    )


def test_sort_role_gives_raw_values_and_the_client_id_role_the_id(
    model: ClientsTableModel,
) -> None:
    index = model.index(1, column_of("total_revenue"))
    assert index.data(SORT_ROLE) == 1_234_50
    assert model.index(0, column_of("last_invoice_date")).data(SORT_ROLE) == dt.date(2026, 3, 2)
    assert model.index(4, column_of("production")).data(SORT_ROLE) is None
    assert index.data(CLIENT_ID_ROLE) == 2


def test_a_pinned_tier_is_marked_with_the_computed_one(model: ClientsTableModel) -> None:
    pinned = model.index(1, column_of("tier"))
    assert pinned.data(Qt.ItemDataRole.ToolTipRole) == (
        "Pinned by hand; the computed tier is Bronze"
    )
    assert pinned.data(Qt.ItemDataRole.FontRole).italic()
    assert model.index(0, column_of("tier")).data(Qt.ItemDataRole.ToolTipRole) is None


def test_sorting_money_descending_gives_the_exact_order_with_ties_in_ref_order(
    proxy: ClientsProxyModel,
) -> None:
    proxy.sort(column_of("total_revenue"), DESC)
    assert refs(proxy) == ["C001", "C003", "C006", "C002", "C007", "C005", "C004"]
    proxy.sort(column_of("total_revenue"), ASC)
    assert refs(proxy) == ["C004", "C005", "C007", "C002", "C001", "C003", "C006"]


def test_empty_values_sort_last_in_both_directions(proxy: ClientsProxyModel) -> None:
    proxy.sort(column_of("production"), ASC)
    assert refs(proxy) == ["C002", "C004", "C007", "C001", "C006", "C003", "C005"]
    proxy.sort(column_of("production"), DESC)
    assert refs(proxy) == ["C001", "C006", "C007", "C004", "C002", "C003", "C005"]
    proxy.sort(column_of("last_invoice_date"), DESC)
    assert refs(proxy)[:4] == ["C007", "C001", "C002", "C003"]
    assert set(refs(proxy)[4:]) == {"C004", "C005", "C006"}


def test_text_sorts_ignore_case_and_keep_ties_in_ref_order(proxy: ClientsProxyModel) -> None:
    proxy.sort(column_of("name"), ASC)
    assert refs(proxy) == ["C003", "C001", "C007", "C002", "C004", "C005", "C006"]
    proxy.sort(column_of("name"), DESC)
    assert refs(proxy) == ["C006", "C005", "C004", "C002", "C001", "C007", "C003"]
    proxy.sort(column_of("tier"), ASC)
    assert refs(proxy) == ["C003", "C004", "C007", "C001", "C006", "C002", "C005"]
    assert proxy.sort_column() == column_of("tier") and proxy.sort_order() == ASC


def test_search_matches_every_word_in_ref_name_or_email_ignoring_case(
    proxy: ClientsProxyModel,
) -> None:
    proxy.set_search_text("ACME")
    assert refs(proxy) == ["C001", "C003", "C007"]
    proxy.set_search_text("acme ltd")
    assert refs(proxy) == ["C001", "C007"]
    proxy.set_search_text("acme ltd ops")  # "ops" is in C001's email
    assert refs(proxy) == ["C001"]
    proxy.set_search_text("acme")  # widening again after narrowing
    assert refs(proxy) == ["C001", "C003", "C007"]
    proxy.set_search_text("finance@acme")
    assert refs(proxy) == ["C003"]
    proxy.set_search_text("c00")
    assert proxy.rowCount() == 7
    proxy.set_search_text("  ")
    assert proxy.rowCount() == 7 and proxy.search_text() == ""


def test_member_filter_shows_exactly_the_members_and_combines_with_search(
    proxy: ClientsProxyModel,
) -> None:
    proxy.set_member_filter([2, 3, 7, 999])
    assert refs(proxy) == ["C002", "C003", "C007"]
    assert proxy.visible_client_ids() == [2, 3, 7]
    proxy.set_search_text("acme")
    assert refs(proxy) == ["C003", "C007"]
    proxy.sort(column_of("total_revenue"), DESC)
    assert refs(proxy) == ["C003", "C007"]
    assert proxy.source_rows().tolist() == [2, 6]
    proxy.set_member_filter([])
    assert proxy.rowCount() == 0 and not proxy.hasChildren()
    proxy.set_member_filter(None)
    assert refs(proxy) == ["C001", "C003", "C007"]


def test_a_sort_keeps_persistent_indexes_on_their_client(proxy: ClientsProxyModel) -> None:
    third = QPersistentModelIndex(proxy.index(2, column_of("name")))
    assert third.data() == "Acme Holdings"
    proxy.sort(column_of("total_revenue"), ASC)
    assert third.isValid() and third.data() == "Acme Holdings"
    assert third.row() == refs(proxy).index("C003")


def test_mapping_to_and_from_the_source(proxy: ClientsProxyModel, model: ClientsTableModel) -> None:
    proxy.sort(column_of("total_revenue"), DESC)
    proxy.set_search_text("acme")
    for proxy_row in range(proxy.rowCount()):
        source = proxy.mapToSource(proxy.index(proxy_row, 3))
        assert source.column() == 3
        assert proxy.mapFromSource(source).row() == proxy_row
        assert proxy.client_id_at(proxy_row) == model.client_id_at(source.row())
    hidden = model.index(1, 0)  # Bravo: filtered out
    assert not proxy.mapFromSource(hidden).isValid()
    assert proxy.row_of_client(2) is None
    assert proxy.row_of_client(3) == 1
    assert proxy.row_of_client(12345) is None


def test_a_new_source_table_keeps_the_sort_and_the_filters(
    proxy: ClientsProxyModel, model: ClientsTableModel
) -> None:
    proxy.sort(column_of("total_revenue"), DESC)
    proxy.set_member_filter([1, 3, 4])
    proxy.set_search_text("a")
    model.set_table(sample_table())
    assert refs(proxy) == ["C001", "C003", "C004"]
    assert proxy.sort_column() == column_of("total_revenue")


def test_keys_built_elsewhere_are_used_as_given() -> None:
    table = sample_table()
    keys = ClientTableKeys(table)
    source = ClientsTableModel()
    source.set_table(table, keys)
    assert source.keys is keys
    assert keys.row_of_client(6) == 5
    assert keys.row_of_client(8) is None
    assert keys.rows_of_clients([7, 1]).tolist() == [0, 6]
