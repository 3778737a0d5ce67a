"""One client in detail: header, revenue by month, tier history, segments, and why in / why out.

The panel only shows what it is given: the client's ``ClientDetail`` (read on
the office worker by ``Office.client_card``) and the office's segments.
Whether a criterion passes is ``core.rules.explain``'s answer and membership
is ``core.rules.segment_matches``; this module only puts their answers into
sentences and widgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGroupBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.money import format_money
from seg_desktop.core.periods import month_label
from seg_desktop.core.rules import (
    ClientFacts,
    CriterionVerdict,
    MatchMode,
    RuleValueError,
    describe_definition,
    explain,
    segment_matches,
    validate_definition,
)
from seg_desktop.gui.chart_axes import label_y_axis
from seg_desktop.store.records import ClientDetail, SegmentInfo

__all__ = [
    "ClientDetailPanel",
    "MembershipExplanation",
    "RevenueChart",
    "explain_membership",
]

_PASS_MARK = "✓"
_FAIL_MARK = "✗"
_POSITIVE_BAR = QColor(74, 120, 181)
_NEGATIVE_BAR = QColor(192, 80, 77)
_PASS_COLOUR = "#1b7f3b"
_FAIL_COLOUR = "#b3261e"


# --- why in / why out, in words (no widgets) ----------------------------------------------------


@dataclass(frozen=True)
class MembershipExplanation:
    """Why a client is in or out of a segment: a verdict line and one line per criterion."""

    segment_name: str
    as_of: dt.date
    member: bool | None
    """None when the definition is not valid (nothing can be said)."""
    verdict: str
    criteria: tuple[CriterionVerdict, ...]
    note: str | None = None
    """Set when the saved membership (what the segment filter shows) says otherwise."""


def explain_membership(
    segment: SegmentInfo, facts: ClientFacts, stored_member: bool, today: dt.date
) -> MembershipExplanation:
    """Explain a client's membership of a segment, criterion by criterion.

    Relative dates ("90 days ago") count from the day the segment was last
    recomputed, so the answer agrees with the saved membership that the
    segment filter and the member counts show; from ``today`` if it never was.
    """
    definition = segment.definition
    as_of = segment.recomputed_as_of or today
    try:
        criteria = validate_definition(definition)
    except RuleValueError as error:
        return MembershipExplanation(
            definition.name, as_of, None, f"The segment's definition is not valid: {error}", ()
        )
    verdicts = tuple(explain(criteria, facts, as_of))
    member = segment_matches(criteria, definition.match, facts, as_of)
    verdict = _verdict_words(definition.match, member, verdicts)
    note = None
    if stored_member != member:
        recomputed = (
            f"when it was last recomputed ({segment.recomputed_as_of.isoformat()})"
            if segment.recomputed_as_of is not None
            else "as saved"
        )
        note = (
            f"The segment's saved membership {recomputed} "
            f"{'includes' if stored_member else 'does not include'} this client; "
            "something has changed since, and Recompute Segments brings it up to date."
        )
    return MembershipExplanation(definition.name, as_of, member, verdict, verdicts, note)


def _verdict_words(match: MatchMode, member: bool, verdicts: Sequence[CriterionVerdict]) -> str:
    total = len(verdicts)
    passed = sum(1 for verdict in verdicts if verdict.passed)
    failed = total - passed
    word = "criterion" if total == 1 else "criteria"
    if total == 0:
        if match is MatchMode.ALL:
            return "In the segment: it has no criteria, so every client is in it."
        return "Not in the segment: it has no criteria, and 'match any' needs one that passes."
    if match is MatchMode.ALL:
        if member:
            return (
                "In the segment: the criterion passes."
                if total == 1
                else f"In the segment: all {total} criteria pass."
            )
        if total == 1:
            return "Not in the segment: the criterion does not pass."
        return (
            f"Not in the segment: {failed} of {total} {word} "
            f"{'does' if failed == 1 else 'do'} not pass (every criterion must pass)."
        )
    if member:
        return (
            f"In the segment: {passed} of {total} {word} "
            f"{'passes' if passed == 1 else 'pass'} (one is enough)."
        )
    return f"Not in the segment: no {word} {'passes' if total == 1 else 'pass'} (one must)."


# --- the chart ------------------------------------------------------------------------------------


class RevenueChart(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """A client's revenue by month as bars in major units; refunds go below zero."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("client_revenue_chart")
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        text_colour = palette.color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            axis = self.getAxis(side)
            axis.setTextPen(text_colour)
            axis.setPen(palette.color(QPalette.ColorRole.Mid))
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(y=True, alpha=0.25)
        self.setMinimumHeight(170)
        self._zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(text_colour, width=1))
        self.addItem(self._zero)
        self._bars: pg.BarGraphItem | None = None
        self._first_month = 0
        self._span = 0

    def show_months(self, months: Sequence[tuple[int, int]]) -> None:
        """Plot (month key, cents) pairs; every month from the first to the last is on the axis."""
        if self._bars is not None:
            self.removeItem(self._bars)
            self._bars = None
        if not months:
            self._span = 0
            self._label_months()
            self.setXRange(-1, 1, padding=0)
            self.setYRange(-1, 1, padding=0)
            return
        first = months[0][0]
        span = months[-1][0] - first + 1
        self._first_month, self._span = first, span
        x = [key - first for key, _ in months]
        # Plotting is the one place money becomes a float; the labels stay exact elsewhere.
        heights = [cents / 100 for _, cents in months]
        brushes = [_NEGATIVE_BAR if cents < 0 else _POSITIVE_BAR for _, cents in months]
        self._bars = pg.BarGraphItem(x=x, height=heights, width=0.8, brushes=brushes, pens=brushes)
        self.addItem(self._bars)
        self._label_months()
        # At least six months wide, so one month is a bar, not a wall.
        margin = max(0.0, (6 - span) / 2)
        self.setXRange(-0.6 - margin, span - 0.4 + margin, padding=0)
        label_y_axis(self, min(0.0, *heights), max(0.0, *heights))

    def _label_months(self) -> None:
        """Label as many months as fit the width ("2026-03" every k months), tick every month."""
        axis = self.getAxis("bottom")
        if self._span == 0:
            axis.setTicks([[]])
            return
        label_width = QFontMetrics(axis.style["tickFont"] or self.font()).horizontalAdvance(
            "2026-03  "
        )
        plot_width = self.width() - int(self.getAxis("left").width())
        room = max(1, plot_width // max(label_width, 1))
        step = max(1, -(-self._span // room))
        first = self._first_month
        axis.setTicks(
            [
                [(offset, month_label(first + offset)) for offset in range(0, self._span, step)],
                [(offset, "") for offset in range(self._span)],
            ]
        )

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        """Relabel the months for the new width."""
        super().resizeEvent(event)
        # pyqtgraph resizes once inside its own __init__, before ours has run.
        if getattr(self, "_span", None) is not None:
            self._label_months()

    def bar_heights(self) -> list[float]:
        """The plotted heights in major units (for tests)."""
        if self._bars is None:
            return []
        return [float(h) for h in self._bars.opts["height"]]


# --- the panel ------------------------------------------------------------------------------------


class ClientDetailPanel(QWidget):
    """The detail of one client, with "why in / why out" for a segment chosen in a combo.

    Call :meth:`set_segments` with the office's segments (the combo's choices) and
    :meth:`show_client` with the client's detail (or None for "no client").
    """

    why_segment_changed = Signal(object)
    """The segment id chosen in the why-in/why-out combo (None when there is none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("client_detail")
        self._detail: ClientDetail | None = None
        self._segments: list[SegmentInfo] = []
        self._today = dt.date.today()
        self._explanation: MembershipExplanation | None = None

        self._placeholder = QLabel("Select a client to see its revenue, tiers and segments.")
        self._placeholder.setObjectName("client_detail_placeholder")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)

        self.name_label = QLabel()
        self.name_label.setObjectName("client_name_label")
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.name_label.setFont(font)
        self.facts_label = _wrapping_label("client_facts_label")
        self.tags_label = _wrapping_label("client_tags_label")
        self.groups_label = _wrapping_label("client_groups_label")

        self.chart = RevenueChart(self)
        self.revenue_total_label = _wrapping_label("client_revenue_total_label")

        self.history_table = QTableWidget(0, 3)
        self.history_table.setObjectName("client_tier_history")
        self.history_table.setHorizontalHeaderLabels(["As of", "Tier", "Production"])
        self.history_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history_table.verticalHeader().setVisible(False)
        self.history_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.history_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.history_table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

        self.segments_label = _wrapping_label("client_segments_label")

        self.why_combo = QComboBox()
        self.why_combo.setObjectName("why_segment_combo")
        self.why_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.why_combo.setMinimumContentsLength(16)
        self.why_combo.currentIndexChanged.connect(self._why_segment_chosen)
        self.why_definition_label = _wrapping_label("why_definition_label")
        self.why_verdict_label = _wrapping_label("why_verdict_label")
        verdict_font = self.why_verdict_label.font()
        verdict_font.setBold(True)
        self.why_verdict_label.setFont(verdict_font)
        self._why_lines = QVBoxLayout()
        self._why_lines.setSpacing(2)
        self._why_line_labels: list[QLabel] = []
        self.why_note_label = _wrapping_label("why_note_label")

        content = QWidget()
        content.setObjectName("client_detail_content")
        layout = QVBoxLayout(content)
        layout.addWidget(self.name_label)
        layout.addWidget(self.facts_label)
        layout.addWidget(self.tags_label)
        layout.addWidget(self.groups_label)
        layout.addWidget(_section("Revenue by month", self.chart, self.revenue_total_label))
        layout.addWidget(_section("Tier history", self.history_table))
        layout.addWidget(_section("Segments", self.segments_label))
        why_box = QGroupBox("Why in / why out")
        why_layout = QVBoxLayout(why_box)
        why_layout.addWidget(self.why_combo)
        why_layout.addWidget(self.why_definition_label)
        why_layout.addWidget(self.why_verdict_label)
        why_layout.addLayout(self._why_lines)
        why_layout.addWidget(self.why_note_label)
        layout.addWidget(why_box)
        self._content_layout = layout
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setObjectName("client_detail_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)

        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(scroll)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)
        self.setMinimumWidth(300)

    def add_section(self, title: str, widget: QWidget) -> None:
        """Add a titled section under the others (the membership log, for instance)."""
        stretch_at = self._content_layout.count() - 1
        self._content_layout.insertWidget(stretch_at, _section(title, widget))

    # -- what the view calls -----------------------------------------------------------------

    def set_segments(self, segments: Sequence[SegmentInfo]) -> None:
        """The segments the why-in/why-out combo offers (the choice stays if it still exists)."""
        chosen = self.why_segment_id()
        self._segments = list(segments)
        self.why_combo.blockSignals(True)
        self.why_combo.clear()
        for segment in self._segments:
            self.why_combo.addItem(segment.definition.name, segment.id)
        position = self.why_combo.findData(chosen) if chosen is not None else -1
        self.why_combo.setCurrentIndex(position if position >= 0 else (0 if segments else -1))
        self.why_combo.blockSignals(False)
        self._show_why()

    def set_why_segment(self, segment_id: int | None) -> None:
        """Choose the segment to explain (None leaves the choice as it is)."""
        if segment_id is None:
            return
        position = self.why_combo.findData(segment_id)
        if position >= 0:
            self.why_combo.setCurrentIndex(position)

    def why_segment_id(self) -> int | None:
        """The segment being explained."""
        data = self.why_combo.currentData()
        return int(data) if data is not None else None

    def show_client(
        self,
        detail: ClientDetail | None,
        today: dt.date | None = None,
        rule_tags: Mapping[str, str] | None = None,
    ) -> None:
        """Show a client (None: the "select a client" placeholder).

        ``rule_tags`` (tag -> rule name) marks the tags an automation rule set.
        """
        self._detail = detail
        if today is not None:
            self._today = today
        if detail is None:
            self._stack.setCurrentIndex(0)
            self._explanation = None
            return
        self.name_label.setText(detail.name)
        facts = [f"Ref {detail.ref}", detail.email or "no email", detail.status or "no status"]
        self.facts_label.setText(" · ".join(facts))
        by_rule = rule_tags or {}
        tags = [
            f"{tag} (set by rule “{by_rule[tag]}”)" if tag in by_rule else tag
            for tag in detail.tags
        ]
        self.tags_label.setText("Tags: " + (", ".join(tags) if tags else "none"))
        groups = [f"{group.name} ({group.kind})" for group in detail.groups]
        self.groups_label.setText("Groups: " + (", ".join(groups) if groups else "none"))
        self.chart.show_months(detail.revenue_by_month)
        total = sum(cents for _, cents in detail.revenue_by_month)
        months = len(detail.revenue_by_month)
        self.revenue_total_label.setText(
            f"{format_money(total)} over {months} month{'s' if months != 1 else ''} with records"
            if months
            else "No revenue records."
        )
        self._show_history(detail)
        self.segments_label.setText(", ".join(detail.segments) if detail.segments else "none")
        self._show_why()
        self._stack.setCurrentIndex(1)

    def client_id(self) -> int | None:
        """The client shown."""
        return self._detail.client_id if self._detail is not None else None

    def explanation(self) -> MembershipExplanation | None:
        """The why-in/why-out shown now."""
        return self._explanation

    def why_texts(self) -> list[str]:
        """The why-in/why-out lines as shown: the verdict, then one line per criterion."""
        if self._explanation is None:
            return []
        return [self._explanation.verdict] + [label.text() for label in self._why_line_labels]

    # -- internals ---------------------------------------------------------------------------

    def _show_history(self, detail: ClientDetail) -> None:
        table = self.history_table
        table.setRowCount(len(detail.tier_history))
        for row, entry in enumerate(detail.tier_history):
            tier = entry.tier
            if entry.overridden:
                tier += f" (pinned; computed {entry.computed_tier or '?'})"
            production = QTableWidgetItem(format_money(entry.production))
            production.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            as_of = QTableWidgetItem(entry.as_of.isoformat())
            as_of.setToolTip(
                f"Run {entry.run_id}, made {entry.created_at.strftime('%Y-%m-%d %H:%M')}"
            )
            tier_item = QTableWidgetItem(tier)
            tier_item.setToolTip(tier)
            cells = [as_of, tier_item, production]
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        # As tall as its rows, up to six; more scroll.
        shown = min(max(len(detail.tier_history), 1), 6)
        height = (
            table.horizontalHeader().sizeHint().height()
            + shown * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
        )
        table.setFixedHeight(height)

    def _why_segment_chosen(self, _position: int) -> None:
        self._show_why()
        self.why_segment_changed.emit(self.why_segment_id())

    def _show_why(self) -> None:
        for label in self._why_line_labels:
            self._why_lines.removeWidget(label)
            label.deleteLater()
        self._why_line_labels = []
        segment_id = self.why_segment_id()
        segment = next((s for s in self._segments if s.id == segment_id), None)
        if self._detail is None or segment is None:
            self._explanation = None
            self.why_definition_label.setText(
                "" if self._segments else "There are no segments yet."
            )
            self.why_verdict_label.setText("")
            self.why_note_label.setVisible(False)
            return
        stored = segment.definition.name in self._detail.segments
        explanation = explain_membership(segment, self._detail.facts, stored, self._today)
        self._explanation = explanation
        match = "every" if segment.definition.match is MatchMode.ALL else "any"
        self.why_definition_label.setText(
            f"Members match {match} criterion: {describe_definition(segment.definition)}. "
            f"Checked as of {explanation.as_of.isoformat()}."
        )
        self.why_verdict_label.setText(explanation.verdict)
        colour = _PASS_COLOUR if explanation.member else _FAIL_COLOUR
        self.why_verdict_label.setStyleSheet(f"color: {colour};")
        for verdict in explanation.criteria:
            mark = _PASS_MARK if verdict.passed else _FAIL_MARK
            line = _wrapping_label("why_line")
            line.setText(f"{mark} {verdict.explanation}")
            line.setStyleSheet(f"color: {_PASS_COLOUR if verdict.passed else _FAIL_COLOUR};")
            self._why_lines.addWidget(line)
            self._why_line_labels.append(line)
        self.why_note_label.setText(explanation.note or "")
        self.why_note_label.setVisible(explanation.note is not None)


def _wrapping_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return label


def _section(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for widget in widgets:
        layout.addWidget(widget)
    return box
