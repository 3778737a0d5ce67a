"""The boundary chart: dragging a line (by mouse and through the model), order, snapping, undo.

Mouse drags follow pyqtgraph's own tests (tests/graphicsItems/test_InfiniteLine.py):
mouse events sent to the view's viewport with ``mouseRateLimit = -1`` and the
scene's ``minDragTime = 0``, so a drag is delivered at once and not taken for a click.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from seg_desktop.core.money import Cents
from seg_desktop.core.tiers import StrategyKind, assign_tier, snap_amount
from seg_desktop.gui.boundary_chart import BoundaryChart, MoneyAxis, x_of
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.strategy_view import StrategyView
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.gui.tier_table import Column
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28, n = 12
IND = StrategyKind.INDIVIDUAL
# Default tiers: Bronze 0, Silver 1,000 a month (12,000.00 effective), Gold 5,000 (60,000.00).
PRODUCTIONS = {
    "A": 1_200_000,  # exactly Silver's effective limit: Silver
    "B": 1_199_999,  # one cent below: Bronze
    "C": 1_200_001,  # one cent above: Silver
    "D": 6_000_000,  # exactly Gold's: Gold
    "E": 0,  # no revenue: Bronze
    "F": -50_000,  # refunds only: Bronze
    "G": 300_000,
    "H": 3_000_000,
}
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def drag_settings() -> Iterator[None]:
    """pyqtgraph's drag test settings: deliver every mouse move at once."""
    before = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", before)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    revenue = [(ref, D(2025, 3, 1), amount) for ref, amount in PRODUCTIONS.items() if amount != 0]
    opened, _ids = make_office(tmp_path, [client(ref) for ref in PRODUCTIONS], revenue)
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    yield OfficeSession(office, runner, preview, today=lambda: AS_OF)
    assert runner.shutdown(5000)
    assert preview.shutdown(5000)


@pytest.fixture
def view(qtbot: QtBot, session: OfficeSession) -> StrategyView:
    shown = StrategyView(session, IND)
    qtbot.addWidget(shown)
    with qtbot.waitSignal(shown.data_loaded, timeout=10_000):
        shown.resize(1200, 800)
        shown.show()
    qtbot.waitExposed(shown)
    shown.chart.scene().minDragTime = 0  # as pyqtgraph's tests: a quick drag is still a drag
    return shown


# --- mouse events, as pyqtgraph's tests/ui_testing.py sends them --------------------------------


def send(
    chart: BoundaryChart,
    kind: QEvent.Type,
    pos: QPointF,
    button: Qt.MouseButton,
    buttons: Qt.MouseButton,
    modifier: Qt.KeyboardModifier,
) -> None:
    viewport = chart.viewport()
    event = QMouseEvent(
        kind, pos, QPointF(viewport.mapToGlobal(pos.toPoint())), button, buttons, modifier
    )
    QApplication.sendEvent(viewport, event)


def drag(
    chart: BoundaryChart,
    start: QPointF,
    end: QPointF,
    modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
    release: bool = True,
) -> None:
    """Hover, press, move (in two steps) and, unless told not to, release."""
    none = Qt.MouseButton.NoButton
    plain = Qt.KeyboardModifier.NoModifier
    send(chart, QEvent.Type.MouseMove, start, none, none, plain)
    send(chart, QEvent.Type.MouseButtonPress, start, LEFT, LEFT, modifier)
    send(chart, QEvent.Type.MouseMove, (start + end) / 2, none, LEFT, modifier)
    send(chart, QEvent.Type.MouseMove, end, none, LEFT, modifier)
    if release:
        send(chart, QEvent.Type.MouseButtonRelease, end, LEFT, none, modifier)


def point_at(chart: BoundaryChart, x: float) -> QPointF:
    """The viewport position of chart x, a third of the way up the plot."""
    _x_range, (_low, high) = chart.view_box.viewRange()
    scene = chart.view_box.mapViewToScene(pg.Point(x, high * 0.33))
    return QPointF(chart.mapFromScene(scene))


def monthly_at_line(view: StrategyView, tier: int) -> Cents:
    return view.strategy.tiers[tier].monthly_lower


def expected_counts(lowers: list[Cents]) -> list[int]:
    counts = [0] * len(lowers)
    for production in PRODUCTIONS.values():
        counts[assign_tier(production, lowers)] += 1
    return counts


def table_text(view: StrategyView, row: int, column: Column) -> str:
    return str(view.table_model.index(row, column).data())


def saved_monthly(qtbot: QtBot, view: StrategyView, tier: int) -> Cents:
    """A tier's monthly lower limit as saved, once the worker has saved the view's edits."""
    qtbot.waitUntil(lambda: not view.session.runner.is_busy(), timeout=10_000)
    return view.session.office.strategies()[IND].tiers[tier].monthly_lower


# --- tests ------------------------------------------------------------------------------------


def test_the_chart_counts_a_production_on_a_boundary_in_the_higher_tier(
    view: StrategyView, office: Office
) -> None:
    run = office.current_run()
    assert run is not None
    engine_counts = [t.count for t in run.tiers[IND]]
    assert engine_counts == [4, 3, 1]  # A (on Silver's limit) in Silver, D (on Gold's) in Gold
    assert view.totals is not None
    assert [t.count for t in view.totals] == engine_counts
    assert view.chart.band_text(0).startswith("Bronze · 4 clients")
    assert view.chart.band_text(1).startswith("Silver · 3 clients")
    assert view.chart.band_text(2).startswith("Gold · 1 client ·")
    assert table_text(view, 1, Column.COUNT) == "3"


def test_mouse_drag_moves_the_limit_the_table_and_the_counts_and_is_one_undo(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    chart = view.chart
    line = chart.line_for(1)
    start = point_at(chart, line.value())
    end = point_at(chart, x_of(300_000 * 12))  # towards 3,000 a month

    drag(chart, start, end, release=False)
    mid = monthly_at_line(view, 1)
    # While dragging: the table and the counts follow, nothing is saved or recorded yet.
    assert abs(mid - 300_000) <= 10_000
    assert mid == snap_amount(mid)  # snapped to a round amount (10s between 1,000 and 9,999)
    assert table_text(view, 1, Column.MONTHLY_LOWER) == f"{mid // 100:,}"
    assert table_text(view, 0, Column.MONTHLY_UPPER) == f"{mid // 100:,}"
    lowers = [0, mid * 12, 6_000_000]
    assert view.totals is not None
    assert [t.count for t in view.totals] == expected_counts(lowers)
    assert view.chart.band_text(1).startswith(f"Silver · {expected_counts(lowers)[1]} client")
    assert saved_monthly(qtbot, view, 1) == 100_000
    assert view.undo_stack.count() == 0
    assert line.value() == pytest.approx(x_of(mid * 12))

    send(
        chart,
        QEvent.Type.MouseButtonRelease,
        end,
        LEFT,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    assert view.undo_stack.count() == 1
    assert saved_monthly(qtbot, view, 1) == mid
    assert "Changed since the last run" in view.draft_label.text()

    view.undo_stack.undo()
    assert saved_monthly(qtbot, view, 1) == 100_000  # to the cent
    assert monthly_at_line(view, 1) == 100_000
    assert line.value() == pytest.approx(x_of(1_200_000))
    assert table_text(view, 1, Column.MONTHLY_LOWER) == "1,000"
    assert [t.count for t in view.totals or []] == [4, 3, 1]
    view.undo_stack.redo()
    assert saved_monthly(qtbot, view, 1) == mid
    assert monthly_at_line(view, 1) == mid


def test_a_line_cannot_pass_its_neighbour(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    chart = view.chart
    silver, gold = chart.line_for(1), chart.line_for(2)
    drag(chart, point_at(chart, silver.value()), point_at(chart, x_of(50_000_00 * 12)))
    assert monthly_at_line(view, 1) == 499_999  # one cent below Gold's 5,000.00
    assert saved_monthly(qtbot, view, 1) == 499_999
    assert silver.value() < gold.value()
    assert table_text(view, 1, Column.MONTHLY_UPPER) == "5,000"

    drag(chart, point_at(chart, gold.value()), point_at(chart, x_of(100 * 12)))
    assert monthly_at_line(view, 2) == 500_000  # Silver is in the way: Gold cannot move down
    assert view.strategy.tiers[1].monthly_lower < view.strategy.tiers[2].monthly_lower
    assert view.undo_stack.count() == 1  # a drag that changed nothing records nothing


def test_gold_stops_one_cent_above_silver(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    chart = view.chart
    gold = chart.line_for(2)
    drag(chart, point_at(chart, gold.value()), point_at(chart, x_of(10_00 * 12)))
    assert monthly_at_line(view, 2) == 100_001
    assert saved_monthly(qtbot, view, 2) == 100_001


def test_shift_drag_does_not_snap(view: StrategyView) -> None:
    chart = view.chart
    line = chart.line_for(1)
    drag(
        chart,
        point_at(chart, line.value()),
        point_at(chart, x_of(345_678 * 12)),
        modifier=Qt.KeyboardModifier.ShiftModifier,
    )
    moved = monthly_at_line(view, 1)
    assert abs(moved - 345_678) <= 10_000
    assert moved != snap_amount(moved)


def test_drag_through_the_model_snaps_saves_on_finish_and_undoes_to_the_cent(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    line = view.chart.line_for(1)
    line.setValue(x_of(123_456 * 12))  # 1,234.56 a month: snaps to 1,230
    assert monthly_at_line(view, 1) == 123_000
    assert table_text(view, 1, Column.EFFECTIVE_LOWER) == "14,760"
    assert saved_monthly(qtbot, view, 1) == 100_000  # not yet: still dragging
    line.sigPositionChangeFinished.emit(line)
    assert saved_monthly(qtbot, view, 1) == 123_000
    assert view.undo_stack.count() == 1

    line.free_drag = True  # as if Shift were held
    line.setValue(x_of(123_457 * 12))
    line.sigPositionChangeFinished.emit(line)
    assert saved_monthly(qtbot, view, 1) == 123_457
    view.undo_stack.undo()
    assert saved_monthly(qtbot, view, 1) == 123_000
    view.undo_stack.undo()
    assert saved_monthly(qtbot, view, 1) == 100_000
    view.undo_stack.redo()
    view.undo_stack.redo()
    assert saved_monthly(qtbot, view, 1) == 123_457


def test_typing_a_limit_moves_the_line(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    model = view.table_model
    assert model.setData(model.index(1, Column.MONTHLY_LOWER), "2500")
    assert view.chart.line_for(1).value() == pytest.approx(x_of(250_000 * 12))
    # H's 30,000.00 is now exactly Silver's effective limit: still Silver; A and C drop.
    assert [t.count for t in view.totals or []] == [6, 1, 1]
    qtbot.waitUntil(lambda: not view.session.runner.is_busy(), timeout=10_000)
    office.run_segmentation(AS_OF)
    run = office.current_run()
    assert run is not None
    assert [t.count for t in run.tiers[IND]] == [6, 1, 1]


def test_limit_labels_show_monthly_in_blue_and_effective_in_red(view: StrategyView) -> None:
    html = view.chart.line_for(2).label.toHtml()
    assert "5,000 / month" in html and "60,000 over 12 mo" in html
    assert "#1f5fbf" in html.lower() and "#c62828" in html.lower()


def test_histogram_shows_zero_and_negative_as_their_own_bar(view: StrategyView) -> None:
    axis = view.chart.getPlotItem().getAxis("bottom")
    assert isinstance(axis, MoneyAxis)
    assert axis.zero_x is not None
    assert axis.tickStrings([axis.zero_x, 3.0, 4.0], 1, 1) == ["≤ 0", "1k", "10k"]
    heights = view.chart._zero_bar.opts["height"]
    assert list(heights) == [2]  # E (0) and F (negative)


def test_without_enough_data_there_are_no_lines(qtbot: QtBot) -> None:
    chart = BoundaryChart()
    qtbot.addWidget(chart)
    chart.set_productions(np.array([], dtype=np.int64), None, "Not enough data: no revenue")
    assert chart.lines == []
    assert "Not enough data" in chart._message.toPlainText()


class RightClick:
    """The part of pyqtgraph's MouseClickEvent that InfiniteLine reads."""

    def button(self) -> Qt.MouseButton:
        return Qt.MouseButton.RightButton

    def accept(self) -> None:
        return None


def test_a_right_click_during_a_drag_puts_the_line_back(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    line = view.chart.line_for(1)
    line.moving = True  # what mouseDragEvent sets at the start of a drag
    line.startPosition = line.pos()
    line.setValue(x_of(300_000 * 12))
    assert monthly_at_line(view, 1) == 300_000
    line.mouseClickEvent(RightClick())
    assert monthly_at_line(view, 1) == 100_000
    assert line.value() == pytest.approx(x_of(1_200_000))
    assert [t.count for t in view.totals or []] == [4, 3, 1]
    assert view.undo_stack.count() == 0
    assert saved_monthly(qtbot, view, 1) == 100_000


def test_new_data_during_a_drag_keeps_the_dragged_line(
    qtbot: QtBot, view: StrategyView, session: OfficeSession, office: Office
) -> None:
    line = view.chart.line_for(1)
    line.setValue(x_of(200_000 * 12))
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        session.broadcast(Changes.of(Area.REVENUE))  # as an import's write does
    assert view.chart.line_for(1) is line
    assert monthly_at_line(view, 1) == 200_000
    line.sigPositionChangeFinished.emit(line)
    assert saved_monthly(qtbot, view, 1) == 200_000
    assert view.undo_stack.count() == 1


def test_a_long_not_enough_data_message_wraps_inside_the_chart(qtbot: QtBot) -> None:
    chart = BoundaryChart()
    qtbot.addWidget(chart)
    chart.resize(520, 320)
    chart.show()
    qtbot.waitExposed(chart)
    message = (
        "Not enough data: the segmentation range has no complete month of revenue before "
        "the buffer months; import revenue or lower the buffer"
    )
    chart.set_productions(np.array([], dtype=np.int64), None, message)
    qtbot.waitUntil(lambda: chart.view_box.width() > 0)
    chart.grab()  # paint once: the text item places itself when drawn
    text = chart._message
    shown = text.textItem.sceneBoundingRect()
    plot = chart.view_box.sceneBoundingRect()
    assert text.toPlainText() == message
    assert shown.left() >= plot.left() - 1
    assert shown.right() <= plot.right() + 1
    assert shown.top() >= plot.top() - 1 and shown.bottom() <= plot.bottom() + 1
