"""A list of clients becomes a segment through a tag: one transaction, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from seg_desktop.core.rules import Operator, RuleField, RuleValueError
from seg_desktop.store.errors import StoreError
from tests.helpers.office import client, make_office


def test_the_list_is_tagged_and_the_new_segment_selects_exactly_it(office_url: str) -> None:
    office, ids = make_office(
        office_url,
        [client("A", tags=["vip"]), client("B"), client("C", tags=["call-back"]), client("D")],
        [("A", dt.date(2026, 3, 2), 1_000_00)],
    )
    try:
        segment_id, tagged, _changes = office.segment_from_clients(
            "  Call back  ", [ids["B"], ids["C"], ids["B"]], "call-back"
        )
        assert tagged == 1  # C had the tag already; B is listed twice
        info = office.find_segment("Call back")
        assert info.id == segment_id and info.member_count == 2
        (criterion,) = info.definition.criteria
        assert (criterion.field, criterion.operator, criterion.value) == (
            RuleField.TAGS,
            Operator.EQUALS,
            "call-back",
        )
        assert sorted(office.segment_member_ids(segment_id)) == sorted([ids["B"], ids["C"]])
        facts = {f.client_id: f for f in office.client_facts()}
        assert "call-back" in facts[ids["B"]].tags and "call-back" not in facts[ids["D"]].tags
        assert facts[ids["A"]].tags == frozenset({"vip"})
    finally:
        office.close()


def test_a_bad_name_or_tag_changes_nothing(office_url: str) -> None:
    office, ids = make_office(office_url, [client("A"), client("B")], [])
    try:
        office.segment_from_clients("Listed", [ids["A"]], "listed")
        before = (
            len(office.segments()),
            sorted((f.client_id, sorted(f.tags)) for f in office.client_facts()),
        )
        with pytest.raises(RuleValueError):
            office.segment_from_clients("Other", [ids["B"]], "a;b")
        with pytest.raises(RuleValueError):
            office.segment_from_clients("   ", [ids["B"]], "other")
        with pytest.raises(StoreError):  # the name is taken: the tags are rolled back too
            office.segment_from_clients("Listed", [ids["B"]], "second")
        assert (
            len(office.segments()),
            sorted((f.client_id, sorted(f.tags)) for f in office.client_facts()),
        ) == before
    finally:
        office.close()
