"""The clients room: the clients table, a client's detail, its membership log, the tier view's data.

A room of :class:`seg_desktop.store.office.Office`: each method is one
transaction (a read, or a write through the unit of work) and returns frozen
records, so the window calls it from its worker thread.
"""

from __future__ import annotations

import datetime as dt

from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import automation, clients, definitions, history, runs, strategy_data
from seg_desktop.store.office_base import OfficeBase
from seg_desktop.store.records import (
    ClientCard,
    ClientTable,
    MembershipLogEntry,
    StrategyProductions,
    Subject,
    TierChange,
    TierViewState,
)


class ClientsRoom(OfficeBase):
    """The clients table, a client's detail and log, and what the tier view shows."""

    def client_table(self) -> tuple[ClientTable, dict[int, TierChange]]:
        """Every client's row for the current run, and who changed tier since the run before.

        One read, so the tier marks always describe the table's run.
        """
        with self._read() as connection:
            table = clients.load_client_table(connection, runs.current_run(connection))
            return table, history.changed_since_previous_run(connection)

    def client_card(self, client_id: int) -> ClientCard:
        """One client's detail and the tags rules set; StoreError if it no longer exists."""
        with self._read() as connection:
            return ClientCard(
                clients.client_detail(connection, client_id),
                automation.rule_tags(connection, client_id),
            )

    def membership_log(self, client_id: int, limit: int | None = None) -> list[MembershipLogEntry]:
        """A client's membership log, newest first (at most ``limit`` entries)."""
        with self._read() as connection:
            return history.membership_log(connection, client_id, limit)

    def tier_view_state(self, kind: StrategyKind) -> TierViewState:
        """A strategy as saved, the settings, the current run and when the data last changed."""
        with self._read() as connection:
            return TierViewState(
                definitions.get_strategies(connection)[kind],
                definitions.get_settings(connection),
                runs.current_run(connection),
                definitions.production_inputs_changed_at(connection),
            )

    def strategy_productions(self, kind: StrategyKind, as_of: dt.date) -> StrategyProductions:
        """Every subject's production over the range the current settings give on ``as_of``.

        With the strategy's pins and their subjects' labels; not enough data is
        said in the result, not raised.
        """
        with self._read() as connection:
            return strategy_data.load_for_settings(connection, kind, as_of)

    def find_subjects(self, kind: StrategyKind, text: str, limit: int = 50) -> list[Subject]:
        """Clients whose ref or name holds ``text`` (groups: whose name does)."""
        with self._read() as connection:
            return strategy_data.find_subjects(connection, kind, text, limit)
