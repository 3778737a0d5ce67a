"""One write and everything derived from it in one transaction (issue 13's defects, each here).

Each test reproduces a defect of the first wave: a run whose recompute failed
in a second transaction, rules that set tags without the segments that read
them following, relative dates that aged until someone recomputed, and a
tier view that could not tell that an import made the run out of date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.core.engine import RunCancelled
from seg_desktop.core.rules import Criterion, MatchMode, Operator, RuleField, SegmentDefinition
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.io.importing import import_file
from seg_desktop.io.readers import ImportOptions
from seg_desktop.store import segments
from seg_desktop.store.changes import Area
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28; Gold from 60,000.00 a year
CLIENTS = [client("A", "Alpha Ltd"), client("B", "Beta LLC"), client("C", "Gamma & Sons")]
REVENUE = [
    ("A", D(2025, 3, 1), 6_000_000),  # Gold exactly
    ("B", D(2026, 3, 1), 1_200_000),  # after the range: no production
    ("C", D(2026, 2, 20), 10_00),
]
GOLD_MEMBERS = SegmentDefinition(
    "Gold members", (Criterion(RuleField.TIER, Operator.EQUALS, "Gold"),), MatchMode.ALL
)
RECENT = SegmentDefinition(
    "Recent", (Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "14 days ago"),)
)


def stored_and_live(office: Office, name: str, as_of: dt.date) -> tuple[list[int], list[int]]:
    """A segment's stored members beside a recomputation from scratch."""
    info = office.find_segment(name)
    stored = office.segment_member_ids(info.id)
    assert info.member_count == len(stored)
    return stored, office.matching_ids(info.definition, as_of)


def test_a_run_and_its_segments_are_one_transaction(office_url: str) -> None:
    office, ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        office.save_segment(GOLD_MEMBERS, as_of=AS_OF)
        summary, changes = office.run_segmentation(AS_OF)
        assert changes.run == summary
        assert changes.touches(Area.RUN, Area.SEGMENTS)
        # The tier-based segment follows the run it was saved with.
        assert stored_and_live(office, "Gold members", AS_OF) == ([ids["A"]], [ids["A"]])
    finally:
        office.close()


def test_a_failing_recompute_leaves_no_run_behind(
    office_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the run was saved, its recompute failed in a second transaction, 0 vs 1 member."""
    office, _ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        office.save_segment(GOLD_MEMBERS, as_of=AS_OF)

        def broken(*_args: object, **_kwargs: object) -> dict[int, int]:
            raise RuntimeError("the recompute broke")

        monkeypatch.setattr(segments, "recompute_memberships", broken)
        with pytest.raises(RuntimeError, match="the recompute broke"):
            office.run_segmentation(AS_OF)
        monkeypatch.undo()
        assert office.current_run() is None
        assert office.runs() == []
        assert stored_and_live(office, "Gold members", AS_OF) == ([], [])
    finally:
        office.close()


def test_a_cancel_during_the_recompute_keeps_the_previous_run(office_url: str) -> None:
    office, _ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        office.save_segment(GOLD_MEMBERS, as_of=AS_OF)
        first, _changes = office.run_segmentation(AS_OF)
        asked: list[str] = []

        def cancelled() -> bool:
            return bool(asked)

        def progress(_fraction: float, message: str) -> None:
            if message.startswith("Recomputing"):
                asked.append(message)  # the user presses Cancel as the segments recompute

        with pytest.raises(RunCancelled):
            office.run_segmentation(AS_OF, progress=progress, cancelled=cancelled)
        assert asked
        assert office.current_run() == first
        assert [run.id for run in office.runs()] == [first.id]
    finally:
        office.close()


def test_tags_set_by_rules_reach_the_segments_that_read_them(office_url: str) -> None:
    """Before: Apply now changed tags and never recomputed the segments built on them."""
    office, ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        big = SegmentDefinition(
            "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "20000"),)
        )
        vips = SegmentDefinition("VIPs", (Criterion(RuleField.TAGS, Operator.EQUALS, "vip"),))
        office.save_segment(big, as_of=AS_OF)
        office.save_segment(vips, as_of=AS_OF)
        rule = AutomationRule(
            "VIP", When.IS_IN, Target.of_segment("Big"), Action(ActionKind.ADD_TAG, tag="vip")
        )
        office.save_automation_rule(rule)
        outcome, changes = office.apply_automations()
        assert outcome.tags_added == 1  # A (60,000.00 all time); B has 12,000.00, C 10.00
        assert changes.touches(Area.CLIENTS, Area.SEGMENTS, Area.AUTOMATION)
        stored, live = stored_and_live(office, "VIPs", AS_OF)
        assert stored == live == [ids["A"]]
    finally:
        office.close()


def test_a_revenue_import_recomputes_in_its_own_transaction(
    office_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    office, ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        office.save_segment(RECENT, as_of=AS_OF)
        statement = tmp_path / "statement.csv"
        statement.write_text("client_ref,date,amount\nB,2026-03-10,5.00\n", encoding="utf-8")

        def broken(*_args: object, **_kwargs: object) -> dict[int, int]:
            raise RuntimeError("the recompute broke")

        monkeypatch.setattr(segments, "recompute_memberships", broken)
        with pytest.raises(RuntimeError):
            import_file(office, "revenue", statement, ImportOptions(), backup=False)
        monkeypatch.undo()
        assert office.client_facts([ids["B"]])[0].invoice_count == 1  # nothing of it stayed
        result = import_file(office, "revenue", statement, ImportOptions(), backup=False)
        assert result.added == 1
        assert result.changes.touches(Area.REVENUE, Area.SEGMENTS)
        assert result.changes.clients == frozenset({ids["B"]})
        stored, live = stored_and_live(office, "Recent", office.today())
        assert stored == live
    finally:
        office.close()


def test_relative_dates_roll_over_to_a_new_day(office_url: str) -> None:
    """Before: "within the last 14 days" aged until someone recomputed by hand."""
    office, ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        office.save_segment(RECENT, as_of=D(2026, 3, 1))  # B (03-01) and C (02-20) are recent
        info = office.find_segment("Recent")
        assert office.segment_member_ids(info.id) == sorted([ids["B"], ids["C"]])
        assert not office.roll_over(D(2026, 3, 1))  # the same day: nothing to do
        changes = office.roll_over(D(2026, 3, 6))  # C is now 14 days old: out
        assert changes.touches(Area.SEGMENTS)
        assert office.segment_member_ids(info.id) == [ids["B"]]
        assert office.find_segment("Recent").recomputed_as_of == D(2026, 3, 6)
        assert not office.roll_over(D(2026, 3, 6))
    finally:
        office.close()


def test_the_office_remembers_when_the_data_behind_the_run_changed(
    office_url: str, tmp_path: Path
) -> None:
    office, _ids = make_office(office_url, CLIENTS, REVENUE)
    try:
        summary, _changes = office.run_segmentation(AS_OF)
        before = office.production_inputs_changed_at()
        assert before is None or before <= summary.created_at
        office.save_strategy(office.strategies()[StrategyKind.INDIVIDUAL])
        assert office.production_inputs_changed_at() == before  # a definition is not data
        statement = tmp_path / "more.csv"
        statement.write_text("client_ref,date,amount\nC,2026-01-05,7.00\n", encoding="utf-8")
        import_file(office, "revenue", statement, ImportOptions(), backup=False)
        changed_at = office.production_inputs_changed_at()
        assert changed_at is not None and changed_at >= summary.created_at
    finally:
        office.close()
