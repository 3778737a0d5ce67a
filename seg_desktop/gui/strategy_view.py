"""The tier view of one strategy: table, boundary chart, range in words, options, pins, draft state.

What is where:

* the strategy being edited is the one saved in the database (the "draft"):
  every committed edit is saved at once, so nothing is lost on a crash, and is
  one command on the view's undo stack. While a boundary is dragged only the
  in-memory strategy changes; releasing it records one edit;
* "changed since the last run" compares the saved strategy with the current
  run's snapshot, and the range the settings give now with the run's range;
  Revert puts the run's tiers (and months settings) back, as one undoable edit;
* "out of date" compares the current run with the data: when revenue,
  clients or groups changed after the run (an import), or the counts the data
  gives now differ from the run's, the view says so, with Run Segmentation
  beside it;
* the chart and table counts come from every subject's production over the
  range the *current* settings give (``Office.strategy_productions``), loaded
  on the office worker, split by a core.distribution.TierDistribution on every
  move.

Every read and write goes through the office worker (``session.submit``): a
run in progress never blocks editing, the view shows the edit at once and its
write waits its turn. The view follows ``session.changed``: the strategy,
settings and run reload on STRATEGIES / SETTINGS / OVERRIDES / RUN, the
distribution on REVENUE / CLIENTS / RUN (and on a change of settings or pins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.distribution import TierDistribution, TierTotal
from seg_desktop.core.engine import Override
from seg_desktop.core.money import Cents, format_money
from seg_desktop.core.periods import (
    MAX_BUFFER_MONTHS,
    MAX_MAX_MONTHS,
    MIN_BUFFER_MONTHS,
    MIN_MAX_MONTHS,
    InsufficientData,
    SegmentationSettings,
    effective_range,
    month_key,
)
from seg_desktop.core.tiers import (
    Strategy,
    StrategyError,
    StrategyKind,
    assign_tier,
    move_boundary,
)
from seg_desktop.gui.boundary_chart import BoundaryChart, chart_money
from seg_desktop.gui.overrides import OverrideDialog, OverrideRow, OverridesPanel
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.gui.tier_table import TierTableModel, add_tier, remove_tier
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from seg_desktop.store.records import (
    OfficeSettings,
    RunSummary,
    StrategyProductions,
    Subject,
    TierViewState,
)

STATE_AREAS = (Area.STRATEGIES, Area.SETTINGS, Area.OVERRIDES, Area.RUN, Area.REVENUE, Area.CLIENTS)
"""A change of these reloads the strategy, settings and run (and when the data last changed)."""
DISTRIBUTION_AREAS = (
    Area.REVENUE,
    Area.CLIENTS,
    Area.RUN,
    Area.SETTINGS,
    Area.OVERRIDES,
    Area.DATE,
)
"""A change of these reloads the productions (the range follows the settings and the day;
pins count)."""


@dataclass(frozen=True)
class LoadedProductions:
    """What the worker hands back: the productions, their distribution, the histogram input."""

    data: StrategyProductions
    distribution: TierDistribution
    values: np.ndarray
    as_of: dt.date


def load_productions_work(
    office: Office, kind: StrategyKind, as_of: dt.date
) -> Callable[[ProgressFn, CancelledFn], LoadedProductions]:
    """The worker function that loads a strategy's productions and builds their distribution."""

    def work(progress: ProgressFn, _cancelled: CancelledFn) -> LoadedProductions:
        progress(0.0, f"Loading {kind.label.lower()} for the tier chart")
        data = office.strategy_productions(kind, as_of)
        progress(0.6, "Sorting productions")
        distribution = TierDistribution(data.productions, data.pins_on(as_of))
        values = np.fromiter(data.productions.values(), dtype=np.int64)
        return LoadedProductions(data, distribution, values, as_of)

    return work


# --- undo commands ------------------------------------------------------------------------------


class StrategyEdit(QUndoCommand):
    """One edit of the strategy (a drag, a typed limit, a rename, add/remove, Active, Revert)."""

    def __init__(self, view: StrategyView, before: Strategy, after: Strategy, text: str) -> None:
        super().__init__(text)
        self._view, self.before, self.after = view, before, after

    def redo(self) -> None:
        """Apply and save the edited strategy."""
        self._view.apply_strategy(self.after)

    def undo(self) -> None:
        """Apply and save the strategy as it was, to the cent."""
        self._view.apply_strategy(self.before)


class SettingsEdit(QUndoCommand):
    """A change of maximum segmentation months or buffer months (office settings)."""

    def __init__(
        self,
        view: StrategyView,
        before: SegmentationSettings,
        after: SegmentationSettings,
        text: str,
    ) -> None:
        super().__init__(text)
        self._view, self.before, self.after = view, before, after

    def redo(self) -> None:
        """Save the new settings and reload the chart for the new range."""
        self._view.apply_settings(self.after)

    def undo(self) -> None:
        """Put the old settings back."""
        self._view.apply_settings(self.before)


class OverrideEdit(QUndoCommand):
    """Pinning, re-pinning or un-pinning one client or group."""

    def __init__(
        self,
        view: StrategyView,
        subject_id: int,
        before: Override | None,
        after: Override | None,
        text: str,
    ) -> None:
        super().__init__(text)
        self._view, self.subject_id, self.before, self.after = view, subject_id, before, after

    def redo(self) -> None:
        """Save the pin (or its removal)."""
        self._view.apply_override(self.subject_id, self.after)

    def undo(self) -> None:
        """Restore the pin as it was."""
        self._view.apply_override(self.subject_id, self.before)


# --- the view -----------------------------------------------------------------------------------


class StrategyView(QWidget):
    """The tier view of one strategy (individual clients or client groups).

    `undo_stack` holds this view's edits; the main window adds it to its undo
    group. `run_requested` asks the window to start Run Segmentation.
    `data_loaded` fires each time new productions are shown, `state_loaded`
    each time the saved strategy, settings and run are read again, `saved`
    when the view's last queued write is done (tests wait on them).
    """

    run_requested = Signal()
    data_loaded = Signal()
    state_loaded = Signal()
    saved = Signal()

    def __init__(
        self, session: OfficeSession, kind: StrategyKind, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.kind = kind
        self.setObjectName(f"strategy_view_{kind.value}")
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setObjectName(f"undo_stack_{kind.value}")
        noun = "clients" if kind is StrategyKind.INDIVIDUAL else "groups"

        # Placeholders until the first read arrives (editing is disabled meanwhile).
        self._committed: Strategy = Strategy(kind, (), active=False)
        self._strategy: Strategy = self._committed
        self._settings: OfficeSettings = OfficeSettings()
        self._run: RunSummary | None = None
        self._state: TierViewState | None = None
        self._loaded: LoadedProductions | None = None
        self._totals: list[TierTotal] | None = None
        self._drag_start: Strategy | None = None
        self._writes_waiting = 0

        self._build(noun)
        self._connect()
        self._set_editable(False)
        self._refresh()
        self.request_state()
        self.request_load()

    # --- construction -------------------------------------------------------------------------

    def _build(self, noun: str) -> None:
        self.active_check = QCheckBox("Active")
        self.active_check.setObjectName("active_check")
        self.active_check.setToolTip(
            f"Runs tier {self.kind.label.lower()} with this strategy only while it is active"
        )
        self.range_label = QLabel()
        self.range_label.setObjectName("range_label")
        self.range_label.setWordWrap(True)
        self.range_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.draft_label = QLabel()
        self.draft_label.setObjectName("draft_label")
        self.draft_label.setWordWrap(True)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("revert_button")
        self.revert_button.setToolTip("Drop the changes: put back the tiers of the current run")
        self.run_button = QPushButton("Run Segmentation")
        self.run_button.setObjectName("run_button")
        self.message_label = QLabel()
        self.message_label.setObjectName("message_label")
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b00020")
        self.message_label.hide()

        self.table_model = TierTableModel(noun.capitalize(), self)
        self.table_model.editor = self._edit
        self.table = QTableView()
        self.table.setObjectName(f"tier_table_{self.kind.value}")
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        # Column widths are fitted after each committed edit, not measured on every drag move
        # (ResizeToContents would size every cell again for each mouse move).
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.add_button = QPushButton("Add tier")
        self.add_button.setObjectName("add_tier_button")
        self.remove_button = QPushButton("Remove tier")
        self.remove_button.setObjectName("remove_tier_button")
        self.options_button = QToolButton()
        self.options_button.setObjectName("more_options_button")
        self.options_button.setText("More options")
        self.options_button.setCheckable(True)
        self.options_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.options_button.setArrowType(Qt.ArrowType.RightArrow)

        self.max_months_spin = QSpinBox()
        self.max_months_spin.setObjectName("max_months_spin")
        self.max_months_spin.setRange(MIN_MAX_MONTHS, MAX_MAX_MONTHS)
        self.max_months_spin.setKeyboardTracking(False)
        self.buffer_spin = QSpinBox()
        self.buffer_spin.setObjectName("buffer_months_spin")
        self.buffer_spin.setRange(MIN_BUFFER_MONTHS, MAX_BUFFER_MONTHS)
        self.buffer_spin.setKeyboardTracking(False)
        self.options_frame = QFrame()
        self.options_frame.setObjectName("options_frame")
        options = QFormLayout(self.options_frame)
        options.setContentsMargins(0, 0, 0, 0)
        options.addRow("Maximum months:", self.max_months_spin)
        options.addRow("Buffer months:", self.buffer_spin)
        note = QLabel(
            "Maximum segmentation months and buffer months are office settings: they "
            "shape the range of both strategies."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #666666")
        options.addRow(note)
        self.options_frame.setVisible(False)

        self.chart = BoundaryChart(noun)
        self.chart.setMinimumHeight(220)
        self.overrides_panel = OverridesPanel(self.kind)

        top = QHBoxLayout()
        top.addWidget(self.active_check)
        top.addWidget(self.range_label, 1)
        draft_row = QHBoxLayout()
        draft_row.addWidget(self.draft_label, 1)
        draft_row.addWidget(self.revert_button)
        draft_row.addWidget(self.run_button)
        table_buttons = QHBoxLayout()
        table_buttons.addWidget(self.add_button)
        table_buttons.addWidget(self.remove_button)
        table_buttons.addStretch(1)
        table_side = QWidget()
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addLayout(table_buttons)
        # The table and the chart share the width (the chart needs it most); options and
        # pins sit in a column on the right.
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName(f"tier_splitter_{self.kind.value}")
        self.splitter.addWidget(table_side)
        self.splitter.addWidget(self.chart)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setChildrenCollapsible(False)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.options_button, 0, Qt.AlignmentFlag.AlignLeft)
        side_layout.addWidget(self.options_frame)
        side_layout.addWidget(self.overrides_panel, 1)
        self.side_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.side_splitter.setObjectName(f"tier_side_splitter_{self.kind.value}")
        self.side_splitter.addWidget(self.splitter)
        self.side_splitter.addWidget(side)
        self.side_splitter.setStretchFactor(0, 1)
        self.side_splitter.setStretchFactor(1, 0)
        self.side_splitter.setChildrenCollapsible(False)
        side.setMinimumWidth(240)
        self.side_splitter.setSizes([900, 340])
        self._side_sized = False  # the side panel takes its share once the view has a width
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(draft_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.side_splitter, 1)

    def _connect(self) -> None:
        session = self.session
        self.chart.boundary_moving.connect(self._boundary_moving)
        self.chart.boundary_released.connect(self._boundary_released)
        self.chart.boundary_cancelled.connect(self._boundary_cancelled)
        self.table_model.edit_refused.connect(self.show_error)
        self.active_check.toggled.connect(self._active_toggled)
        self.add_button.clicked.connect(self._add_tier)
        self.remove_button.clicked.connect(self._remove_tier)
        self.options_button.toggled.connect(self._toggle_options)
        self.max_months_spin.valueChanged.connect(self._months_changed)
        self.buffer_spin.valueChanged.connect(self._months_changed)
        self.revert_button.clicked.connect(self.revert)
        self.run_button.clicked.connect(self._run_clicked)
        self.overrides_panel.pin_requested.connect(lambda: self.open_override_dialog())
        self.overrides_panel.edit_requested.connect(self.open_override_dialog)
        self.overrides_panel.remove_requested.connect(self.remove_override)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        # A bound method: Qt disconnects it when the view is destroyed before the session.
        session.changed.connect(self._office_changed)

    # --- what the view shows ------------------------------------------------------------------

    @property
    def strategy(self) -> Strategy:
        """The strategy shown (mid-drag: with the dragged boundary where it is now)."""
        return self._strategy

    @property
    def saved_strategy(self) -> Strategy:
        """The strategy as last committed (saved, or queued to be saved while a task runs)."""
        return self._committed

    def showEvent(self, event: QShowEvent) -> None:
        """On first show, give the chart most of the width: the pins panel a share of it.

        A fixed split would leave the chart a third of a 1024-pixel screen.
        """
        super().showEvent(event)
        if not self._side_sized and self.side_splitter.width() > 0:
            self._side_sized = True
            total = self.side_splitter.width()
            side = max(240, min(340, total * 3 // 10))
            self.side_splitter.setSizes([total - side, side])

    def is_saving(self) -> bool:
        """Whether an edit of this view waits for the office worker to save it."""
        return self._writes_waiting > 0

    def is_out_of_date(self) -> bool:
        """Whether the current run no longer matches the data (an import, a change of revenue)."""
        return self._data_changed_words() is not None

    @property
    def months(self) -> int | None:
        """The available months n of the range the current settings give (None: unknown)."""
        loaded = self._loaded
        if loaded is None or loaded.data.period is None:
            return None
        return loaded.data.period.months

    @property
    def totals(self) -> list[TierTotal] | None:
        """Per tier: how many subjects and how much revenue (None until productions load)."""
        return self._totals

    def changes_since_run(self) -> list[str]:
        """Why the draft differs from the current run, in words (empty: it matches)."""
        run = self._run
        if run is None:
            return []
        reasons = []
        snapshot = run.strategy(self.kind)
        committed = self._committed
        if snapshot is None:
            if committed.active:
                reasons.append("the strategy was not active in the last run")
        elif not committed.active:
            reasons.append("the strategy has been made inactive")
        elif committed.tiers != snapshot.tiers:
            reasons.append(_tier_differences(snapshot, committed))
        settings_range = self._range_for_run_date()
        if settings_range is not None:
            reasons.append(settings_range)
        return reasons

    def _range_for_run_date(self) -> str | None:
        run, loaded = self._run, self._loaded
        if run is None or loaded is None or loaded.data.earliest_record is None:
            return None
        try:
            period = effective_range(
                run.as_of, self._settings.segmentation, loaded.data.earliest_record
            )
        except InsufficientData:
            return "the months settings leave no data to segment"
        if (period.start, period.end, period.months) != (
            run.range.start,
            run.range.end,
            run.range.months,
        ):
            return f"the months settings now give {period.describe()}"
        return None

    # --- loading ------------------------------------------------------------------------------

    def request_state(self) -> None:
        """Read the saved strategy, the settings and the current run again, on the worker."""
        office, kind = self.session.office, self.kind

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> TierViewState:
            return office.tier_view_state(kind)

        self.session.submit(
            f"Loading the {kind.label.lower()} strategy",
            work,
            self._state_arrived,
            background=True,
            key=f"tier-state-{id(self)}",
        )

    def request_load(self) -> None:
        """Load the productions for the current settings on the worker (the newest request)."""
        work = load_productions_work(self.session.office, self.kind, self.session.today())
        self.session.submit(
            f"Loading the {self.kind.label.lower()} chart",
            work,
            self._show_loaded,
            background=True,
            key=f"tier-chart-{id(self)}",
        )

    def _state_arrived(self, state: TierViewState) -> None:
        self._state = state
        self._run = state.run
        self._set_editable(True)
        if self._writes_waiting or self._drag_start is not None:
            # Our own edits wait to be saved: what was read predates them. Their
            # Changes bring another read once they are saved.
            self._refresh_draft()
            self.state_loaded.emit()
            return
        if state.strategy != self._committed:
            # Someone else replaced the strategy (a definitions file; or this is the first
            # read): the edits on our stack no longer describe what is saved, so undoing
            # them would overwrite that change.
            self.undo_stack.clear()
            self._committed = self._strategy = state.strategy
        self._settings = state.settings
        self._refresh()
        self.state_loaded.emit()

    def _show_loaded(self, loaded: LoadedProductions) -> None:
        self._loaded = loaded
        data = loaded.data
        months = data.period.months if data.period is not None else None
        message = "" if data.insufficient is None else f"Not enough data: {data.insufficient}"
        self.chart.set_productions(loaded.values, months, message)
        self._refresh()
        self.data_loaded.emit()

    def _set_editable(self, editable: bool) -> None:
        """Editing waits for the first read (Run Segmentation does not)."""
        for widget in (
            self.active_check,
            self.table,
            self.add_button,
            self.remove_button,
            self.options_frame,
            self.chart,
            self.overrides_panel,
        ):
            widget.setEnabled(editable)
        if editable:
            self._update_buttons()

    # --- reacting to the office --------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        """Reload what the change touched: the strategy, settings and run; the distribution."""
        if changes.touches(*STATE_AREAS):
            self.request_state()
        if changes.touches(*DISTRIBUTION_AREAS):
            self.request_load()

    # --- editing the strategy -----------------------------------------------------------------

    def apply_strategy(self, strategy: Strategy) -> None:
        """Make `strategy` the draft: show it and save it (undo commands call this)."""
        self._strategy = self._committed = strategy
        office = self.session.office
        self._write("Saving the strategy", lambda: office.save_strategy(strategy))
        self.clear_error()
        self._refresh()

    def _edit(self, new: Strategy, description: str) -> str | None:
        """Record an edit as one undoable command; returns why it was refused, or None."""
        try:
            new.validate()
        except StrategyError as error:
            return str(error)
        if new == self._committed:
            return None
        self.undo_stack.push(StrategyEdit(self, self._committed, new, description))
        return None

    def _boundary_moving(self, tier_index: int, monthly: Cents, free: bool) -> None:
        if not 1 <= tier_index < len(self._strategy.tiers):
            return
        if self._drag_start is None:
            self._drag_start = self._strategy
        self._strategy = move_boundary(self._strategy, tier_index, monthly, snap=not free)
        self._refresh(live=True)

    def _boundary_released(self, tier_index: int) -> None:
        start, self._drag_start = self._drag_start, None
        if start is None:
            return
        moved = self._strategy
        if moved == start:
            self._refresh()
            return
        self._strategy = start
        tier = moved.tiers[tier_index] if tier_index < len(moved.tiers) else None
        text = (
            f"Move '{tier.name}' to {format_money(tier.monthly_lower)} a month"
            if tier is not None
            else "Move a boundary"
        )
        # The drag showed `moved` live; the command saves it as one edit.
        self.undo_stack.push(StrategyEdit(self, start, moved, text))

    def _boundary_cancelled(self, _tier_index: int) -> None:
        start, self._drag_start = self._drag_start, None
        if start is not None:
            self._strategy = start
        self._refresh()

    def _active_toggled(self, checked: bool) -> None:
        if checked == self._committed.active:
            return
        new = replace(self._committed, active=checked)
        problem = self._edit(new, "Activate the strategy" if checked else "Deactivate the strategy")
        if problem is not None:
            self.active_check.blockSignals(True)
            self.active_check.setChecked(self._committed.active)
            self.active_check.blockSignals(False)
            self.show_error(problem)

    def _selected_tier(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return rows[0].row()
        # The row with the focus frame is the one a person means (a reload clears the
        # selection but keeps the current row).
        current = self.table.currentIndex()
        return current.row() if current.isValid() else None

    def _add_tier(self) -> None:
        try:
            new, index = add_tier(self._committed, self._selected_tier())
        except StrategyError as error:
            self.show_error(str(error))
            return
        problem = self._edit(new, f"Add tier '{new.tiers[index].name}'")
        if problem is not None:
            self.show_error(problem)
            return
        self.table.selectRow(index)

    def _remove_tier(self) -> None:
        index = self._selected_tier()
        if not self._committed.tiers:
            self.show_error("There is no tier to remove.")
            return
        if index is None or index >= len(self._committed.tiers):
            self.show_error("Choose the tier to remove in the table first.")
            return
        name = self._committed.tiers[index].name
        try:
            new = remove_tier(self._committed, index)
        except StrategyError as error:
            self.show_error(str(error))
            return
        problem = self._edit(new, f"Remove tier '{name}'")
        if problem is not None:
            self.show_error(problem)

    def revert(self) -> None:
        """Drop the draft: the current run's tiers and months settings, as one undoable edit."""
        run = self._run
        if run is None:
            return
        snapshot = run.strategy(self.kind)
        target = (
            Strategy(self.kind, snapshot.tiers, True)
            if snapshot is not None
            else replace(self._committed, active=False)
        )
        settings_target = self._run_settings(run)
        edits: list[QUndoCommand] = []
        if target != self._committed:
            edits.append(StrategyEdit(self, self._committed, target, "Revert the tiers"))
        if settings_target is not None and settings_target != self._settings.segmentation:
            edits.append(
                SettingsEdit(self, self._settings.segmentation, settings_target, "Revert months")
            )
        if not edits:
            return
        # One macro, so one Undo brings the whole draft back.
        self.undo_stack.beginMacro("Revert to the last run")
        for edit in edits:
            self.undo_stack.push(edit)
        self.undo_stack.endMacro()

    def _run_settings(self, run: RunSummary) -> SegmentationSettings | None:
        """Months settings that give the run's range again (None if they cannot be told)."""
        buffer_months = month_key(run.as_of) - run.range.end_month
        current = self._settings.segmentation
        # A clipped range only says M >= n; keep the current M if it already does.
        max_months = (
            max(current.max_months, run.range.months) if run.range.clipped else run.range.months
        )
        try:
            return SegmentationSettings(max_months, buffer_months)
        except ValueError:
            return None

    # --- settings -----------------------------------------------------------------------------

    def _toggle_options(self, shown: bool) -> None:
        self.options_frame.setVisible(shown)
        self.options_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    def _months_changed(self, value: int) -> None:
        spin = self.sender()
        if isinstance(spin, QSpinBox):
            spin.setSuffix(" month" if value == 1 else " months")
        before = self._settings.segmentation
        after = SegmentationSettings(self.max_months_spin.value(), self.buffer_spin.value())
        if after == before:
            return
        text = (
            f"Set maximum segmentation months to {after.max_months}"
            if after.max_months != before.max_months
            else f"Set buffer months to {after.buffer_months}"
        )
        self.undo_stack.push(SettingsEdit(self, before, after, text))

    def apply_settings(self, segmentation: SegmentationSettings) -> None:
        """Make these the office's months settings: save, and reload the chart for the new range."""
        settings = replace(self._settings, segmentation=segmentation)
        self._settings = settings
        office = self.session.office
        # Its Changes (SETTINGS) reload the chart for the new range once it is saved.
        self._write("Saving the settings", lambda: office.save_settings(settings))
        self._refresh()

    # --- overrides ----------------------------------------------------------------------------

    def open_override_dialog(self, initial: Override | None = None) -> OverrideDialog:
        """Open the pin dialog (non-blocking); accepting it records one undoable edit."""
        labels = self._loaded.data.labels if self._loaded is not None else {}
        dialog = OverrideDialog(
            self.kind,
            self._committed.names,
            self._search_subjects,
            self.session.today(),
            self,
            initial=initial,
            initial_label=labels.get(initial.subject_id, "") if initial is not None else "",
        )
        dialog.accepted.connect(lambda: self._pin_accepted(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _search_subjects(self, text: str, on_found: Callable[[Sequence[Subject]], None]) -> None:
        """Find clients or groups on the preview lane (only the newest search is answered)."""
        office, kind = self.session.office, self.kind

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[Subject]:
            return office.find_subjects(kind, text)

        self.session.preview(f"Finding {kind.label.lower()}", work, on_found)

    def _pin_accepted(self, dialog: OverrideDialog) -> None:
        new = dialog.override()
        subject = dialog.subject()
        if new is None or subject is None:
            return
        before = self._override_of(new.subject_id)
        if before == new:
            return
        self.undo_stack.push(
            OverrideEdit(
                self, new.subject_id, before, new, f"Pin {subject.label} to {new.tier_name}"
            )
        )

    def remove_override(self, override: Override) -> None:
        """Remove a pin, as one undoable edit."""
        label = self._loaded.data.labels.get(override.subject_id, "") if self._loaded else ""
        self.undo_stack.push(
            OverrideEdit(self, override.subject_id, override, None, f"Unpin {label}".strip())
        )

    def _override_of(self, subject_id: int) -> Override | None:
        overrides = self._loaded.data.overrides if self._loaded is not None else ()
        return next((o for o in overrides if o.subject_id == subject_id), None)

    def apply_override(self, subject_id: int, override: Override | None) -> None:
        """Save a pin (None: remove it) and reload the counts (undo commands call this)."""
        office, kind = self.session.office, self.kind
        # Its Changes (OVERRIDES) reload the counts and the list once it is saved.
        if override is None:
            self._write("Removing the pin", lambda: office.remove_override(kind, subject_id))
        else:
            self._write("Saving the pin", lambda: office.set_override(override))

    # --- writes -------------------------------------------------------------------------------

    def _write(self, what: str, write: Callable[[], Changes]) -> None:
        """Queue a write on the office worker; the view stays editable meanwhile.

        The write returns the office's Changes, which the session broadcasts to
        every view (this one included). A failure is shown under the draft line,
        and the view reads what is saved again.
        """
        self._writes_waiting += 1

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return write()

        def done(_changes: Changes) -> None:
            self._write_ended()

        def failed(error: BaseException, _trace: str) -> None:
            self.show_error(f"{what} failed: {error}")
            self._write_ended()
            self.request_state()
            self.request_load()

        self.session.submit(what, work, done, failed)
        self._refresh_draft()

    def _write_ended(self) -> None:
        self._writes_waiting -= 1
        self._refresh_draft()
        if not self._writes_waiting:
            self.saved.emit()

    # --- showing ------------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """Show why an edit was refused, under the draft line."""
        self.message_label.setText(message[:1].upper() + message[1:])
        self.message_label.show()

    def clear_error(self) -> None:
        """Hide the last error."""
        self.message_label.clear()
        self.message_label.hide()

    def _refresh(self, live: bool = False) -> None:
        """Bring table, chart and words up to date; `live` (mid-drag) skips the slower parts."""
        strategy = self._strategy
        months = self.months
        loaded = self._loaded
        totals: list[TierTotal] | None = None
        total_revenue = 0
        if loaded is not None and months is not None and strategy.tiers:
            totals = loaded.distribution.totals(strategy.effective_lowers(months), strategy.names)
            total_revenue = loaded.distribution.total_revenue
        self._totals = totals
        self.table_model.show(strategy, months, totals, total_revenue)
        self.chart.show_strategy(strategy, totals, total_revenue)
        if live:
            return
        self.active_check.blockSignals(True)
        self.active_check.setChecked(self._committed.active)
        self.active_check.blockSignals(False)
        segmentation = self._settings.segmentation
        for spin, value in (
            (self.max_months_spin, segmentation.max_months),
            (self.buffer_spin, segmentation.buffer_months),
        ):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.setSuffix(" month" if value == 1 else " months")
            spin.blockSignals(False)
        self.range_label.setText(self._range_words())
        self.table.resizeColumnsToContents()
        self._fit_table_height()
        self._refresh_overrides()
        self._refresh_draft()
        self._update_buttons()

    def _refresh_draft(self) -> None:
        run = self._run
        reasons = self.changes_since_run()
        stale = self._data_changed_words()
        if self._state is None:
            text = "Reading the strategy and the current run…"
        elif run is None:
            text = "No run yet: press Run Segmentation to tier the clients."
        elif reasons:
            text = (
                f"<b>Changed since the last run</b> ({run.created_at:%Y-%m-%d %H:%M}): "
                + "; ".join(reasons)
                + "."
            )
            if stale is not None:
                text += f" {stale}."
        elif stale is not None:
            text = f"{stale}. Press Run Segmentation to bring them up to date."
        else:
            text = (
                f"Same as the current run ({run.created_at:%Y-%m-%d %H:%M}, {run.trigger.value})."
            )
        if self._writes_waiting:
            text += " <i>Saving…</i>"
        self.draft_label.setText(text)
        self.revert_button.setEnabled(run is not None and bool(reasons))
        # Run Segmentation is the way out of an out-of-date run: make it the obvious button.
        self.run_button.setDefault(run is None or stale is not None)
        font = self.run_button.font()
        font.setBold(run is None or stale is not None)
        self.run_button.setFont(font)

    def _data_changed_words(self) -> str | None:
        """Why the current run no longer matches the data, in words (None: it does)."""
        state, run = self._state, self._run
        if state is None or run is None:
            return None
        if state.data_changed_since_run and state.inputs_changed_at is not None:
            return (
                "<b>The data changed since the current run</b> (revenue or clients imported "
                f"or changed {state.inputs_changed_at:%Y-%m-%d %H:%M}, after the run of "
                f"{run.created_at:%Y-%m-%d %H:%M}): its tiers are out of date"
            )
        # Within the same second a time cannot tell: the counts can. With the run's own
        # strategy and range, the data giving other counts than the run means it changed.
        snapshot = run.tiers.get(self.kind)
        if (
            snapshot is None
            or self._totals is None
            or self._drag_start is not None
            or self.changes_since_run()
        ):
            return None
        if [total.count for total in self._totals] != [tier.count for tier in snapshot]:
            return (
                "<b>The data changed since the current run</b> (its counts differ from the "
                "run's: revenue, clients or pins changed): its tiers are out of date"
            )
        return None

    def _fit_table_height(self) -> None:
        # Every tier visible without scrolling (up to eight); the chart takes the rest.
        rows = min(max(len(self._strategy.tiers), 3), 8)
        height = (
            self.table.horizontalHeader().sizeHint().height()
            + rows * self.table.verticalHeader().defaultSectionSize()
            + 2 * self.table.frameWidth()
            + 2
        )
        self.table.setMinimumHeight(height)

    def _update_buttons(self) -> None:
        # Enabled whenever there is a tier: pressed with none chosen, it says so.
        self.remove_button.setEnabled(bool(self._committed.tiers))

    def _range_words(self) -> str:
        loaded = self._loaded
        segmentation = self._settings.segmentation
        if loaded is None:
            return "Working out the segmentation date range…"
        data = loaded.data
        if data.period is None:
            return f"<b>Not enough data to segment:</b> {data.insufficient}."
        period = data.period
        plural = "s" if period.months != 1 else ""
        words = (
            f"Production from <b>{period.start:%d %b %Y}</b> to <b>{period.end:%d %b %Y}</b>: "
            f"<b>n = {period.months}</b> available month{plural}, so each effective limit is the "
            f"monthly limit × {period.months}."
        )
        buffer = segmentation.buffer_months
        if buffer == 0:
            words += " Buffer 0: live, through the end of this month."
        else:
            words += (
                f" It ends {buffer} month{'s' if buffer != 1 else ''} before this month "
                "(buffer months)."
            )
        if period.clipped and data.earliest_record is not None:
            words += (
                f" Clipped: the maximum is {segmentation.max_months} months, but the office's "
                f"earliest revenue record is dated {data.earliest_record:%d %b %Y}, so the "
                "range starts in that month."
            )
        return words

    def _refresh_overrides(self) -> None:
        loaded = self._loaded
        if loaded is None:
            self.overrides_panel.model.set_rows([])
            self.chart.set_pins([])
            return
        strategy, months, as_of = self._committed, self.months, loaded.as_of
        names = strategy.names
        lowers = strategy.effective_lowers(months) if months is not None else []
        rows, pins = [], []
        for override in loaded.data.overrides:
            production = loaded.data.productions.get(override.subject_id)
            computed = (
                names[assign_tier(production, lowers)]
                if production is not None and lowers
                else None
            )
            standing = override.applies_on(as_of)
            exists = override.tier_name in names
            label = loaded.data.labels.get(override.subject_id, f"#{override.subject_id} (deleted)")
            rows.append(OverrideRow(override, label, production, computed, standing, exists))
            if standing and exists and production is not None:
                pins.append((production, names.index(override.tier_name), label))
        self.overrides_panel.model.set_rows(rows)
        self.chart.set_pins(pins)

    def _run_clicked(self) -> None:
        # The run is queued behind this view's writes: it tiers with the edits shown.
        self.run_requested.emit()


def _tier_differences(before: Strategy, after: Strategy) -> str:
    """A short description of how the tiers differ, e.g. "'Silver' 1,000 → 1,200 a month"."""
    if len(before.tiers) != len(after.tiers):
        return f"{len(after.tiers)} tiers instead of {len(before.tiers)}"
    changes = []
    for old, new in zip(before.tiers, after.tiers, strict=True):
        if old.name != new.name:
            changes.append(f"'{old.name}' renamed '{new.name}'")
        if old.monthly_lower != new.monthly_lower:
            changes.append(
                f"'{new.name}' {chart_money(old.monthly_lower)} → "
                f"{chart_money(new.monthly_lower)} a month"
            )
    return ", ".join(changes) if changes else "tiers edited"


class TiersPanel(QWidget):
    """Both strategy views in tabs: what the main window's "Tiers" tab holds.

    `views` maps each kind to its view; `run_requested` is either view's Run
    Segmentation; `current_undo_stack_changed(QUndoStack)` tells the window
    which stack to make active in its undo group when the user changes tab.
    """

    run_requested = Signal()
    current_undo_stack_changed = Signal(object)

    def __init__(self, session: OfficeSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tiers_panel")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tiers_tabs")
        self.views: dict[StrategyKind, StrategyView] = {}
        for kind in StrategyKind:
            view = StrategyView(session, kind)
            view.run_requested.connect(self.run_requested)
            self.views[kind] = view
            self.tabs.addTab(view, kind.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(
            lambda _index: self.current_undo_stack_changed.emit(self.current_undo_stack())
        )

    @property
    def undo_stacks(self) -> list[QUndoStack]:
        """Both views' undo stacks (add them all to the window's undo group)."""
        return [view.undo_stack for view in self.views.values()]

    def current_view(self) -> StrategyView:
        """The view of the tab shown."""
        widget = self.tabs.currentWidget()
        assert isinstance(widget, StrategyView)
        return widget

    def current_undo_stack(self) -> QUndoStack:
        """The undo stack to make active while this panel is shown."""
        return self.current_view().undo_stack
