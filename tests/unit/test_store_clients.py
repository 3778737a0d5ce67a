"""store.clients: the clients view's columnar table and one client's detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest

from seg_desktop.core.engine import Override
from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.demo import load_demo
from seg_desktop.store import runs
from seg_desktop.store.clients import (
    ClientTable,
    GroupMembership,
    client_detail,
    client_table_from_rows,
    load_client_table,
)
from seg_desktop.store.errors import StoreError
from seg_desktop.store.export_rows import EXPORT_COLUMNS, iter_export_rows
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office, strategy

AS_OF = dt.date(2026, 6, 15)


@pytest.fixture
def demo_office(office_url: str) -> Iterator[Office]:
    office = Office.open(office_url)
    load_demo(office, clients=60, months=6)
    office.run_segmentation()
    yield office
    office.close()


def test_table_holds_exactly_the_export_rows_in_ref_order(demo_office: Office) -> None:
    with demo_office.database.read() as connection:
        run = runs.current_run(connection)
        expected = list(iter_export_rows(connection, run))
        table = load_client_table(connection, run)
    assert run is not None and table.run_id == run.id
    assert len(table) == len(expected) == 60
    assert list(table.rows()) == [row.values() for row in expected]
    assert table.client_id.tolist() == [row.client_id for row in expected]
    assert list(table.computed_tier) == [row.computed_tier for row in expected]


def test_values_come_back_as_the_export_writers_take_them(demo_office: Office) -> None:
    with demo_office.database.read() as connection:
        table = load_client_table(connection, runs.current_run(connection))
    for values in table.rows():
        for key, value in zip(EXPORT_COLUMNS, values, strict=True):
            if value is None:
                continue
            if key in ("total_revenue", "invoice_count", "average_invoice_amount", "production"):
                assert type(value) is int, key
            elif key in ("first_invoice_date", "last_invoice_date"):
                assert type(value) is dt.date, key
            else:
                assert type(value) is str, key


def test_rows_follow_the_given_order_and_keys(demo_office: Office) -> None:
    with demo_office.database.read() as connection:
        table = load_client_table(connection, runs.current_run(connection))
    order = [5, 0, 59, 5]
    picked = list(table.rows(order, keys=("ref", "total_revenue")))
    assert picked == [(table.ref[row], int(table.total_revenue[row])) for row in order]
    assert table.value("ref", 59) == table.ref[59]


def test_the_table_cannot_be_written_to(demo_office: Office) -> None:
    with demo_office.database.read() as connection:
        table = load_client_table(connection, runs.current_run(connection))
    with pytest.raises(ValueError, match="read-only"):
        table.total_revenue[0] = 1


def test_empty_values_and_a_client_without_revenue(office_url: str) -> None:
    office, _ids = make_office(
        office_url,
        [client("A", email="a@example.com", tags=["vip", "north"]), client("B")],
        [("A", dt.date(2026, 3, 2), 1_000_00), ("A", dt.date(2026, 4, 2), -250_55)],
    )
    with office.database.read() as connection:
        table = load_client_table(connection, None)
    assert table.run_id is None
    rows = {values[0]: values for values in table.rows()}
    assert rows["A"] == (
        "A",
        "Client A",
        "a@example.com",
        None,
        "north;vip",
        "",
        74945,
        2,
        dt.date(2026, 3, 2),
        dt.date(2026, 4, 2),
        37473,  # 749.45 / 2 = 374.725, halves away from zero
        None,  # no run yet
        None,
        None,
        None,  # computed_tier: nothing pinned
    )
    assert rows["B"][6:12] == (0, 0, None, None, None, None)
    assert bool(np.isnat(table.first_invoice_date[table.ref.index("B")]))
    office.close()


def test_empty_table() -> None:
    table = ClientTable.empty()
    assert len(table) == 0
    assert list(table.rows()) == []
    assert client_table_from_rows([]).run_id is None


def test_detail_has_everything_the_panel_shows(office_url: str) -> None:
    office, ids = make_office(
        office_url,
        [
            client("A", "Acme Ltd", email="a@example.com", status="active", tags=["vip", "b2b"]),
            client("B", groups=["Smith family"]),
        ],
        [
            ("A", dt.date(2026, 1, 5), 1_200_00),
            ("A", dt.date(2026, 1, 20), 300_00),
            ("A", dt.date(2026, 3, 2), -50_01),
            ("B", dt.date(2026, 2, 1), 10_00),
        ],
        max_months=12,
        buffer_months=0,
    )
    with office.database.write() as connection:
        from seg_desktop.store import data

        data.set_group_memberships(connection, {ids["A"]: ["Smith family", "Acme staff"]})
    office.save_strategy(
        strategy(StrategyKind.INDIVIDUAL, ("Bronze", 0), ("Silver", 100_00), ("Gold", 1_000_00))
    )
    office.save_segment(
        SegmentDefinition(
            "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "1000"),)
        ),
        as_of=AS_OF,
    )
    first = office.run_segmentation(AS_OF)[0]
    office.set_override(Override(StrategyKind.INDIVIDUAL, ids["A"], "Gold", "key account"))
    second = office.run_segmentation(AS_OF)[0]

    with office.database.read() as connection:
        detail = client_detail(connection, ids["A"])
    assert (detail.ref, detail.name, detail.email, detail.status) == (
        "A",
        "Acme Ltd",
        "a@example.com",
        "active",
    )
    assert detail.tags == ("b2b", "vip")
    assert detail.groups == (
        GroupMembership("Acme staff", "other"),
        GroupMembership("Smith family", "other"),
    )
    jan, mar = 2026 * 12 + 0, 2026 * 12 + 2
    assert detail.revenue_by_month == ((jan, 1_500_00), (mar, -50_01))
    assert [entry.run_id for entry in detail.tier_history] == [second.id, first.id]
    newest, oldest = detail.tier_history
    # Production 1,449.99 over 6 months: Silver (600.00 <= p < 6,000.00), then pinned to Gold.
    assert (oldest.tier, oldest.production, oldest.overridden, oldest.computed_tier) == (
        "Silver",
        1_449_99,
        False,
        None,
    )
    assert (newest.tier, newest.overridden, newest.computed_tier) == ("Gold", True, "Silver")
    assert newest.as_of == AS_OF
    assert detail.segments == ("Big",)
    assert detail.facts == office.client_facts([ids["A"]])[0]
    assert detail.facts.tier == "Gold"

    with office.database.read() as connection:
        other = client_detail(connection, ids["B"])
    assert other.segments == ()
    assert other.groups == (GroupMembership("Smith family", "other"),)
    office.close()


def test_detail_of_a_client_with_no_run_and_no_revenue(office_url: str) -> None:
    office, ids = make_office(office_url, [client("A")])
    with office.database.read() as connection:
        detail = client_detail(connection, ids["A"])
    assert detail.revenue_by_month == ()
    assert detail.tier_history == ()
    assert detail.tags == () and detail.groups == ()
    assert detail.facts.total_revenue == 0 and detail.facts.tier is None
    office.close()


def test_detail_of_an_unknown_client_is_a_clear_error(office_url: str) -> None:
    office, _ids = make_office(office_url, [client("A")])
    with office.database.read() as connection, pytest.raises(StoreError, match="no client"):
        client_detail(connection, 999_999)
    office.close()
