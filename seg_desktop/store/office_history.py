"""The history room: runs compared, reports, overlaps, the nightly run's state.

A room of :class:`seg_desktop.store.office.Office`: each method is one
transaction (a read, or a write through the unit of work) and returns frozen
records, so the window calls it from its worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import definitions, history, runs
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office_base import OfficeBase
from seg_desktop.store.records import (
    ComparedRuns,
    NightlyFailure,
    NightlyState,
    SegmentComparison,
    SegmentOverlap,
    TierReportData,
)


class HistoryRoom(OfficeBase):
    """Runs compared, reports, overlaps, the nightly run's state."""

    @property
    def on_server(self) -> bool:
        """Whether the office is on a database server (else a desktop file)."""
        return not self.database.is_sqlite

    # --- runs compared and reports ----------------------------------------------------------

    def compare_runs(
        self, first_id: int, second_id: int, kind: StrategyKind = StrategyKind.INDIVIDUAL
    ) -> ComparedRuns:
        """Two saved runs of one strategy compared (the one saved first is the older)."""
        with self._read() as connection:
            return history.compare_runs(connection, first_id, second_id, kind)

    def tier_report(
        self, segment_id: int | None = None, *, trend_runs: int = 12, top: int = 20
    ) -> TierReportData | None:
        """The current run's tier report for the office or a segment, its trend and top clients.

        None when there is no run yet.
        """
        with self._read() as connection:
            if runs.current_run_id(connection) is None:
                return None
            return TierReportData(
                history.tier_report(connection, segment_id=segment_id),
                history.tier_trend(connection, trend_runs, segment_id),
                tuple(history.top_clients(connection, top, segment_id=segment_id)),
            )

    def compare_segments(self, segment_ids: Sequence[int]) -> SegmentComparison:
        """Segments side by side: members, revenue, share of the office, tier mix."""
        with self._read() as connection:
            return history.compare_segments(connection, segment_ids)

    def segment_overlap(self, a_id: int, b_id: int) -> SegmentOverlap:
        """Who is in both segments, in A only, in B only."""
        with self._read() as connection:
            return history.segment_overlap(connection, a_id, b_id)

    # --- the nightly run --------------------------------------------------------------------

    def nightly_state(self) -> NightlyState:
        """The settings, the last scheduled run's time and the kept failure, in one read."""
        with self._read() as connection:
            return NightlyState(
                definitions.get_settings(connection),
                history.last_scheduled_run_at(connection),
                history.nightly_failure(connection),
            )

    def record_nightly_failure(self, failure: NightlyFailure) -> Changes:
        """Keep a nightly run's failure (replacing an older one) until it is dismissed."""
        with self._write() as work:
            history.record_nightly_failure(work.connection, failure)
            work.touched(Area.SETTINGS)
        return work.changes

    def dismiss_nightly_failure(self) -> Changes:
        """Forget the kept nightly failure (the user has read it)."""
        with self._write() as work:
            history.clear_nightly_failure(work.connection)
            work.touched(Area.SETTINGS)
        return work.changes
