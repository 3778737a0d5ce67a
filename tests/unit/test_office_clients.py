"""The clients room: the reads the Clients and Tiers views make, one transaction each."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.core.records import RevenueRow, RowProblem
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office

D = dt.date
AS_OF = D(2026, 3, 15)
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP


@pytest.fixture
def office(office_url: str) -> Iterator[Office]:
    clients = [client("A", groups=["Fam"]), client("B", groups=["Fam"]), client("C")]
    revenue = [("A", D(2025, 6, 1), 1_200_000), ("B", D(2025, 6, 1), 50_000)]
    opened, _ids = make_office(office_url, clients, revenue)
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


def ids_by_ref(office: Office) -> dict[str, int]:
    found = {ref: office.client_id_of(ref) for ref in "ABC"}
    return {ref: client_id for ref, client_id in found.items() if client_id is not None}


def import_revenue(office: Office, rows: list[tuple[str, dt.date, int]]) -> None:
    read = [RevenueRow(n, ref, day, cents, None) for n, (ref, day, cents) in enumerate(rows, 2)]

    def note(problem: RowProblem) -> None:
        raise AssertionError(problem)

    office.import_rows("revenue", read, note, backup=False)


def test_client_table_holds_every_client_of_the_current_run(office: Office) -> None:
    table, changes = office.client_table()
    run = office.current_run()
    assert run is not None and table.run_id == run.id
    assert table.ref == ("A", "B", "C")
    assert changes == {}  # one run: nobody moved since a previous one


def test_client_card_gives_the_detail_and_the_tags_rules_set(office: Office) -> None:
    ids = ids_by_ref(office)
    office.save_automation_rule(
        AutomationRule(
            "Big", When.IS_IN, Target.of_tier("Silver"), Action(ActionKind.ADD_TAG, tag="big")
        )
    )
    office.apply_automations()
    card = office.client_card(ids["A"])
    assert card.detail.ref == "A"
    assert "big" in card.detail.tags
    assert card.set_by_rules == {"big": "Big"}
    assert office.client_card(ids["C"]).set_by_rules == {}
    with pytest.raises(StoreError, match="no client with id"):
        office.client_card(999_999)


def test_membership_log_is_newest_first_and_limited(office: Office) -> None:
    ids = ids_by_ref(office)
    full = office.membership_log(ids["A"])
    assert full, "the run put A in a tier"
    assert office.membership_log(ids["A"], 1) == full[:1]


def test_tier_view_state_says_when_the_data_changed_after_the_run(office: Office) -> None:
    state = office.tier_view_state(IND)
    assert state.strategy == office.strategies()[IND]
    assert state.settings == office.settings()
    assert state.run == office.current_run()
    import_revenue(office, [("C", D(2025, 7, 1), 10_000)])
    after = office.tier_view_state(IND)
    assert after.inputs_changed_at is not None
    assert after.run is not None and after.inputs_changed_at >= after.run.created_at


def test_data_changed_since_run_compares_the_times_to_the_second(office: Office) -> None:
    run = office.current_run()
    assert run is not None
    state = office.tier_view_state(IND)
    second = dt.timedelta(seconds=1)
    assert dataclasses.replace(
        state, inputs_changed_at=run.created_at + second
    ).data_changed_since_run
    for when in (run.created_at, run.created_at - second, None):
        assert not dataclasses.replace(state, inputs_changed_at=when).data_changed_since_run
    assert not dataclasses.replace(
        state, run=None, inputs_changed_at=run.created_at + second
    ).data_changed_since_run  # no run: nothing to be out of date


def test_strategy_productions_and_subjects(office: Office) -> None:
    ids = ids_by_ref(office)
    individual = office.strategy_productions(IND, AS_OF)
    assert individual.period is not None
    assert individual.productions == {ids["A"]: 1_200_000, ids["B"]: 50_000, ids["C"]: 0}
    groups = office.strategy_productions(GRP, AS_OF)
    assert list(groups.productions.values()) == [1_250_000]
    assert [s.label for s in office.find_subjects(IND, "client a")] == ["A · Client A"]
    assert [s.label for s in office.find_subjects(GRP, "fam")] == ["Fam (other)"]
