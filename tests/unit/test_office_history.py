"""The history room of the office: each method one transaction, each write returning Changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from seg_desktop.core.engine import Trigger
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.demo import load_demo
from seg_desktop.store import history
from seg_desktop.store.changes import Area
from seg_desktop.store.office import Office
from seg_desktop.store.records import NightlyFailure

TODAY = dt.date.today()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "office.db", today=lambda: TODAY)
    yield opened
    opened.close()


def test_reports_need_a_run_and_then_equal_the_store(office: Office) -> None:
    assert office.tier_report() is None  # no run yet
    load_demo(office, clients=30, months=6)
    office.run_segmentation(TODAY)
    office.run_segmentation(TODAY, Trigger.NIGHTLY)
    first, second = (run.id for run in reversed(office.runs()))
    loaded = office.tier_report(trend_runs=1, top=5)
    assert loaded is not None
    with office.database.read() as connection:
        assert loaded.report == history.tier_report(connection)
        assert loaded.trend == history.tier_trend(connection, 1)
        assert list(loaded.top) == history.top_clients(connection, 5)
        assert office.compare_runs(second, first) == history.compare_runs(
            connection, first, second, StrategyKind.INDIVIDUAL
        )
        ids = [s.id for s in office.segments()][:2]
        assert office.compare_segments(ids) == history.compare_segments(connection, ids)
        assert office.segment_overlap(*ids) == history.segment_overlap(connection, *ids)


def test_the_nightly_state_and_its_failure_kept_and_dismissed(office: Office) -> None:
    office.save_settings(dataclasses.replace(office.settings(), nightly_enabled=True))
    state = office.nightly_state()
    assert state.settings.nightly_enabled and state.failure is None
    assert state.last_scheduled_run_at is None
    failure = NightlyFailure(dt.datetime(2026, 3, 11, 2, 0), "Running segmentation failed: x")
    kept = office.record_nightly_failure(failure)
    assert kept.areas == {Area.SETTINGS}  # no segment recompute for a note
    assert office.nightly_state().failure == failure
    dismissed = office.dismiss_nightly_failure()
    assert dismissed.touches(Area.SETTINGS)
    assert office.nightly_state().failure is None
