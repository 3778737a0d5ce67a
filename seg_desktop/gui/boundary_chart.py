"""The boundary chart: the distribution of production, the tiers as bands, the boundaries as lines.

The chart only shows what it is given (a strategy, the months n, the totals
per tier) and turns a drag into a request: `boundary_moving(tier, monthly
cents, free)` while the mouse moves and `boundary_released(tier)` on release.
The owner applies the boundary rules (core.tiers.move_boundary: order,
snapping) and hands the result back with `show_strategy`, which puts the line
exactly where the rules allow, so what the line shows is always the model.

The x axis is log10 of production in major units, because revenue is heavy
tailed: on a linear axis nearly every client sits in the first bar. Zero and
negative productions have no logarithm; they are one separate bar at the left
labelled "≤ 0". Effective limits (monthly × n, what the engine compares) are
drawn in red on the bottom axis and lines; monthly limits in blue on the top
axis and the line labels, as the office knows them from the seed product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QGuiApplication
from PySide6.QtWidgets import QWidget

from seg_desktop.core.distribution import TierTotal, revenue_share
from seg_desktop.core.money import Cents, format_money
from seg_desktop.core.tiers import Strategy, boundary_bounds

MONTHLY_BLUE = "#1f5fbf"
EFFECTIVE_RED = "#c62828"
BINS_PER_DECADE = 16
FREE_DRAG_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier
"""Hold Shift (or Alt) while dragging to place a boundary without snapping to a round amount."""

# Qualitative, readable on white at low alpha; the first three read as bronze, silver, gold.
TIER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (205, 127, 50),
    (140, 150, 165),
    (218, 165, 32),
    (70, 130, 180),
    (60, 179, 113),
    (186, 85, 211),
    (205, 92, 92),
    (0, 139, 139),
)
_BAND_ALPHA = 60
_FAR = 100.0  # log10 units: "infinitely" far left/right for the open-ended bands


def tier_colour(index: int, alpha: int = 255) -> QColor:
    """The colour of the tier at `index` (cycling through the palette)."""
    red, green, blue = TIER_COLOURS[index % len(TIER_COLOURS)]
    return QColor(red, green, blue, alpha)


def chart_money(cents: Cents) -> str:
    """Money as the chart labels show it: exact, without ".00" on whole amounts."""
    text = format_money(cents)
    return text[:-3] if text.endswith(".00") else text


def compact_money(major: float) -> str:
    """A tick label: 950, 1.2k, 15k, 3M (major units, three significant digits)."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if major >= size * 0.9995:
            return f"{major / size:.3g}{suffix}"
    if major >= 1:
        return f"{major:.3g}"
    return f"{major:.2g}"


def x_of(production: Cents) -> float:
    """The chart's x for a positive amount in cents: log10 of major units."""
    return math.log10(production / 100)


def cents_at(x: float) -> Cents:
    """The amount in cents at chart position x (rounded to the cent)."""
    return round(math.pow(10.0, x) * 100)


class MoneyAxis(pg.AxisItem):  # type: ignore[misc]
    """A log-money axis: ticks at round amounts of production ÷ `divisor`, and the "≤ 0" bar."""

    def __init__(self, orientation: str, colour: str) -> None:
        super().__init__(orientation)
        self.divisor = 1
        self.zero_x: float | None = None
        self.setPen(pg.mkPen(colour))
        self.setTextPen(pg.mkPen(colour))

    def set_scale(self, divisor: int, zero_x: float | None) -> None:
        """Label ticks as production ÷ divisor; put a "≤ 0" tick at zero_x (None: no tick)."""
        self.divisor = max(divisor, 1)
        self.zero_x = zero_x
        self.picture = None
        self.update()

    def tickValues(
        self, minVal: float, maxVal: float, size: float
    ) -> list[tuple[float, list[float]]]:
        """Major ticks at 1, 10, 100… of the shown unit, minor ticks at 2 and 5 times those."""
        low, high = sorted((minVal, maxVal))
        shift = math.log10(self.divisor)
        major: list[float] = []
        minor: list[float] = []
        for decade in range(math.floor(low - shift) - 1, math.ceil(high - shift) + 1):
            base = decade + shift
            if low <= base <= high:
                major.append(base)
            for factor in (2, 5):
                value = base + math.log10(factor)
                if low <= value <= high:
                    minor.append(value)
        if self.zero_x is not None and low <= self.zero_x <= high:
            # Keep ordinary labels clear of the "≤ 0" label (about 40 px either side).
            clearance = 40.0 * (high - low) / max(size, 1.0)
            major = [v for v in major if v - self.zero_x > clearance]
            minor = [v for v in minor if v - self.zero_x > clearance]
            major.insert(0, self.zero_x)
        # Fewer labels when the axis is short: minor labels need about 45 px a decade each.
        decades = max(high - low, 1e-9)
        return [(1.0, major), (0.5, minor if size / decades >= 135 else [])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """ "≤ 0" at the zero bar, else the amount ÷ divisor in short form."""
        labels = []
        for value in values:
            if self.zero_x is not None and abs(value - self.zero_x) < 1e-9:
                labels.append("≤ 0")
            else:
                labels.append(compact_money(10.0**value / self.divisor))
        return labels


class BoundaryLine(pg.InfiniteLine):  # type: ignore[misc]
    """The draggable lower boundary of tier `tier_index` (>= 1), at its effective limit."""

    def __init__(self, tier_index: int) -> None:
        super().__init__(
            angle=90,
            movable=True,
            pen=pg.mkPen(EFFECTIVE_RED, width=2),
            hoverPen=pg.mkPen("#7f0000", width=4),
        )
        self.tier_index = tier_index
        self.shown_bounds: tuple[float, float | None] | None = None
        self.shown_html = ""
        self.cancelling = False
        self.free_drag = False
        """Whether the free-drag key was held at the last mouse event (no snapping)."""
        self.setZValue(20)
        self.label = _LimitLabel(self)

    def mouseDragEvent(self, ev: Any) -> None:
        """Remember the modifiers before the line moves (its move signal carries no event)."""
        self.free_drag = bool(ev.modifiers() & FREE_DRAG_MODIFIERS)
        super().mouseDragEvent(ev)

    def mouseClickEvent(self, ev: Any) -> None:
        """A right click during a drag puts the line back: mark it, so it is not an edit."""
        self.cancelling = self.moving and ev.button() == Qt.MouseButton.RightButton
        try:
            super().mouseClickEvent(ev)
        finally:
            self.cancelling = False


class _LimitLabel(pg.InfLineLabel):  # type: ignore[misc]
    """The label beside a boundary line; its text is set by the chart from the model."""

    def __init__(self, line: BoundaryLine) -> None:
        super().__init__(
            line,
            text="",
            position=0.5,
            fill=pg.mkBrush(255, 255, 255, 215),
            border=pg.mkPen(200, 200, 200),
        )

    def valueChanged(self) -> None:
        # The line's raw position is not the model's (snapped) value; the chart sets the
        # text once the model has answered, so only follow the line here.
        if self.isVisible():
            self.updatePosition()


class BoundaryChart(pg.PlotWidget):  # type: ignore[misc]
    """Histogram of production with tier bands and one draggable line per boundary.

    Signals:

    * ``boundary_moving(tier_index, monthly_cents, free)`` while a line moves
      (dragged or set with ``setValue``): the monthly limit under the line,
      and whether snapping is off (Shift or Alt held);
    * ``boundary_released(tier_index)`` when the drag ends;
    * ``boundary_cancelled(tier_index)`` when a right click during the drag put the
      line back where it started (nothing to record).
    """

    boundary_moving = Signal(int, object, bool)
    boundary_released = Signal(int)
    boundary_cancelled = Signal(int)

    def __init__(self, subject_noun: str = "clients", parent: QWidget | None = None) -> None:
        self._bottom = MoneyAxis("bottom", EFFECTIVE_RED)
        self._top = MoneyAxis("top", MONTHLY_BLUE)
        super().__init__(
            parent, background="w", axisItems={"bottom": self._bottom, "top": self._top}
        )
        self.setObjectName("boundary_chart")
        self.subject_noun = subject_noun
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.view_box: pg.ViewBox = self.plot_item.getViewBox()
        # The lines are the only interactive part: a missed grab must not pan or zoom.
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.showAxis("top")
        left = self.plot_item.getAxis("left")
        left.setPen(pg.mkPen("#555555"))
        left.setTextPen(pg.mkPen("#333333"))
        self.plot_item.setLabel("left", subject_noun.capitalize(), color="#333333")

        self._months: int | None = None
        self._strategy: Strategy | None = None
        self._totals: list[TierTotal] = []
        self._total_revenue: Cents = 0
        self._syncing = False
        self._x_range = (2.0, 6.0)
        self._y_top = 1.0
        self._zero_x: float | None = None
        self._dragging: int | None = None

        self._bars = pg.BarGraphItem(
            x0=[], x1=[], height=[], brush=pg.mkBrush(90, 90, 100, 170), pen=pg.mkPen(None)
        )
        self._zero_bar = pg.BarGraphItem(
            x0=[], x1=[], height=[], brush=pg.mkBrush(120, 60, 60, 170), pen=pg.mkPen(None)
        )
        self._bars.setZValue(5)
        self._zero_bar.setZValue(5)
        self.plot_item.addItem(self._bars)
        self.plot_item.addItem(self._zero_bar)
        self._pins = pg.ScatterPlotItem(size=11, symbol="t1", pen=pg.mkPen("#222222"))
        self._pins.setZValue(15)
        self.plot_item.addItem(self._pins)
        self._message = pg.TextItem("", color="#444444", anchor=(0.5, 0.5))
        self._message.setZValue(30)
        self.plot_item.addItem(self._message, ignoreBounds=True)

        self.lines: list[BoundaryLine] = []
        """One line per boundary: lines[i - 1] is the lower limit of tier i."""
        self._bands: list[pg.LinearRegionItem] = []
        self.band_labels: list[pg.TextItem] = []
        """One label per tier, lowest first."""

        self.view_box.sigResized.connect(self._place_labels)
        self.view_box.sigResized.connect(self._fit_message)
        self.view_box.sigXRangeChanged.connect(self._place_labels)
        self._apply_ranges()

    # --- data -------------------------------------------------------------------------------

    def set_productions(
        self, productions: Sequence[Cents] | np.ndarray, months: int | None, message: str = ""
    ) -> None:
        """Histogram the productions (once per data load) over a range of `months` months.

        `months` None means there is not enough data to segment: no lines, and
        `message` says why.
        """
        values = np.asarray(productions, dtype=np.float64)
        positive = values[values > 0] / 100.0
        non_positive = int(np.count_nonzero(values <= 0))
        self._months = months
        if positive.size:
            logs = np.log10(positive)
            low = math.floor(float(logs.min()) * 2) / 2
            high = math.ceil(float(logs.max()) * 2) / 2
            high = max(high, low + 1.0)
        else:
            logs = np.empty(0)
            low, high = 2.0, 6.0
        bins = max(round((high - low) * BINS_PER_DECADE), 1)
        edges = np.linspace(low, high, bins + 1)
        counts, _ = np.histogram(logs, bins=edges)
        width = (high - low) / bins
        self._bars.setOpts(x0=edges[:-1], x1=edges[1:], height=counts)
        if non_positive:
            self._zero_x = low - 2.0 * width
            self._zero_bar.setOpts(
                x0=[self._zero_x - width * 0.75],
                x1=[self._zero_x + width * 0.75],
                height=[non_positive],
            )
        else:
            self._zero_x = None
            self._zero_bar.setOpts(x0=[], x1=[], height=[])
        peak = max(int(counts.max()) if counts.size else 0, non_positive, 1)
        # Head room above the tallest bar for the tier labels at the top.
        self._y_top = peak * 1.6
        left_edge = (self._zero_x if self._zero_x is not None else low) - 2.0 * width
        self._x_range = (left_edge, high + width)
        self._bottom.set_scale(1, self._zero_x)
        self._top.set_scale(months or 1, None)
        months_text = f"{months} month{'s' if months != 1 else ''}" if months else "the range"
        self.plot_item.setLabel(
            "bottom",
            f"Production over {months_text} (effective limits) — log scale",
            color=EFFECTIVE_RED,
        )
        self.plot_item.setLabel(
            "top", f"Monthly equivalent (production ÷ {months or 'n'})", color=MONTHLY_BLUE
        )
        self._message.setText(message)
        self._fit_message()
        if not self._lines_match():
            # Only when the lines must change: a reload during a drag keeps the dragged line.
            self._rebuild_lines()
        if self._dragging is None:
            self._apply_ranges()
        self._sync()

    def set_pins(self, pins: Sequence[tuple[Cents, int, str]]) -> None:
        """Mark pinned subjects: (production, pinned tier index, label) each."""
        spots = []
        for production, tier, label in pins:
            if production > 0:
                x = x_of(production)
            elif self._zero_x is not None:
                x = self._zero_x
            else:
                x = self._x_range[0]
            spots.append(
                {
                    "pos": (x, self._y_top * 0.02),
                    "brush": pg.mkBrush(tier_colour(tier)),
                    "data": label,
                }
            )
        self._pins.setData(spots)

    # --- strategy -----------------------------------------------------------------------------

    def show_strategy(
        self, strategy: Strategy, totals: Sequence[TierTotal] | None, total_revenue: Cents
    ) -> None:
        """Show a strategy's lines, bands and labels with these per-tier totals."""
        self._strategy = strategy
        self._totals = list(totals or [])
        self._total_revenue = total_revenue
        if not self._lines_match():
            self._rebuild_lines()
        if self._dragging is None:
            self._apply_ranges()
        self._sync()

    @property
    def months(self) -> int | None:
        """The available months n of the shown range (None: not enough data)."""
        return self._months

    def band_text(self, tier_index: int) -> str:
        """The full label of a tier's band, e.g. "Silver · 12,687 clients · 41% of revenue"."""
        return " · ".join(self._label_parts(tier_index))

    def line_for(self, tier_index: int) -> BoundaryLine:
        """The line at the lower limit of tier `tier_index` (>= 1)."""
        return self.lines[tier_index - 1]

    def x_for_monthly(self, monthly: Cents) -> float:
        """Where a monthly limit's line sits (needs n)."""
        return x_of(monthly * (self._months or 1))

    # --- internals ----------------------------------------------------------------------------

    def _lines_match(self) -> bool:
        strategy = self._strategy
        tiers = len(strategy.tiers) if strategy is not None and self._months is not None else 0
        return len(self._bands) == tiers and len(self.lines) == max(tiers - 1, 0)

    def _rebuild_lines(self) -> None:
        for line in self.lines:
            self.plot_item.removeItem(line)
        for band in self._bands:
            self.plot_item.removeItem(band)
        for label in self.band_labels:
            self.plot_item.removeItem(label)
        self.lines, self._bands, self.band_labels = [], [], []
        strategy = self._strategy
        if strategy is None or self._months is None:
            return
        for index in range(len(strategy.tiers)):
            band = pg.LinearRegionItem(
                values=(0, 1),
                movable=False,
                brush=pg.mkBrush(tier_colour(index, _BAND_ALPHA)),
                pen=pg.mkPen(None),
            )
            band.setZValue(-10)
            self.plot_item.addItem(band, ignoreBounds=True)
            self._bands.append(band)
            label = pg.TextItem(
                "", color="#202020", anchor=(0.5, 0), fill=pg.mkBrush(255, 255, 255, 170)
            )
            label.setZValue(25)
            self.plot_item.addItem(label, ignoreBounds=True)
            self.band_labels.append(label)
        for index in range(1, len(strategy.tiers)):
            line = BoundaryLine(index)
            # Stagger the limit labels so neighbouring lines do not cover each other's.
            line.label.setPosition(0.78 - 0.22 * ((index - 1) % 3))
            line.sigPositionChanged.connect(self._line_moved)
            line.sigPositionChangeFinished.connect(self._line_released)
            self.plot_item.addItem(line, ignoreBounds=True)
            self.lines.append(line)

    def _apply_ranges(self) -> None:
        low, high = self._x_range
        strategy, months = self._strategy, self._months
        if strategy is not None and months is not None and len(strategy.tiers) > 1:
            xs = [x_of(t.monthly_lower * months) for t in strategy.tiers[1:]]
            pad = (high - low) * 0.05
            low, high = min(low, min(xs) - pad), max(high, max(xs) + pad)
        self.view_box.setRange(xRange=(low, high), yRange=(0, self._y_top), padding=0)
        self._message.setPos((low + high) / 2, self._y_top * 0.55)

    def _sync(self) -> None:
        """Put lines, bands and labels where the model says (no move signals while doing so)."""
        strategy, months = self._strategy, self._months
        if strategy is None or months is None or not self._bands:
            self._place_labels()
            return
        self._syncing = True
        try:
            edges = [-_FAR] + [x_of(t.monthly_lower * months) for t in strategy.tiers[1:]] + [_FAR]
            for index, line in enumerate(self.lines, start=1):
                low, high = boundary_bounds(strategy, index)
                bounds = (x_of(low * months), x_of(high * months) if high is not None else None)
                html = self._line_html(strategy, index, months)
                # Only what changed: on a drag, one line moves and its neighbours' bounds.
                if line.shown_bounds != bounds:
                    line.setBounds(list(bounds))
                    line.shown_bounds = bounds
                if line.value() != edges[index]:
                    line.setValue(edges[index])
                if line.shown_html != html:
                    line.label.setHtml(html)
                    line.shown_html = html
                    line.label.updatePosition()
            for index, band in enumerate(self._bands):
                region = (edges[index], edges[index + 1])
                if tuple(band.getRegion()) != region:
                    band.setRegion(region)
        finally:
            self._syncing = False
        self._place_labels()

    def _line_html(self, strategy: Strategy, index: int, months: int) -> str:
        monthly = strategy.tiers[index].monthly_lower
        name = _escape(strategy.tiers[index].name)
        return (
            f"<div style='font-size:9pt; color:#202020'><b>{name}</b> from<br>"
            f"<span style='color:{MONTHLY_BLUE}'>{chart_money(monthly)} / month</span><br>"
            f"<span style='color:{EFFECTIVE_RED}'>{chart_money(monthly * months)}"
            f" over {months} mo</span></div>"
        )

    def _label_parts(self, tier_index: int) -> list[str]:
        if self._strategy is None or tier_index >= len(self._strategy.tiers):
            return []
        parts = [self._strategy.tiers[tier_index].name]
        if tier_index < len(self._totals):
            total = self._totals[tier_index]
            noun = self.subject_noun if total.count != 1 else self.subject_noun.rstrip("s")
            parts.append(f"{total.count:,} {noun}")
            share = revenue_share(total.revenue, self._total_revenue)
            if share is not None:
                parts.append(f"{share:.0%} of revenue")
            if total.pinned:
                parts.append(f"{total.pinned:,} pinned")
        return parts

    def _fit_message(self, *_args: object) -> None:
        """Wrap the message to the plot's width, so a long reason is never cut at the sides."""
        width = self.view_box.width() * 0.9
        if width <= 0:
            return
        self._message.textItem.setTextWidth(width)
        document = self._message.textItem.document()
        option = document.defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        document.setDefaultTextOption(option)
        self._message.updateTextPos()

    def _place_labels(self, *_args: object) -> None:
        """Centre each tier's label in its visible band, in the longest form that fits."""
        if not self.band_labels or self._strategy is None or self._months is None:
            return
        (view_low, view_high), (_y_low, y_high) = self.view_box.viewRange()
        span = view_high - view_low
        if span <= 0:
            return
        pixels_per_x = self.view_box.width() / span
        months = self._months
        edges = (
            [view_low]
            + [x_of(t.monthly_lower * months) for t in self._strategy.tiers[1:]]
            + [view_high]
        )
        for index, label in enumerate(self.band_labels):
            left = max(edges[index], view_low)
            right = min(edges[index + 1], view_high)
            width = (right - left) * pixels_per_x
            text = self._fitting_text(label, index, width)
            if text is None or right <= left:
                label.setVisible(False)
                continue
            label.setText(text)
            label.setPos((left + right) / 2, y_high)
            label.setVisible(True)

    def _fitting_text(self, label: pg.TextItem, index: int, width: float) -> str | None:
        parts = self._label_parts(index)
        if not parts:
            return None
        metrics = QFontMetricsF(label.textItem.font())
        candidates = [" · ".join(parts), "\n".join(parts), parts[0]]
        for text in candidates:
            needed = max(metrics.horizontalAdvance(line) for line in text.split("\n")) + 12
            if needed <= width:
                return text
        return None

    def _line_moved(self, line: BoundaryLine) -> None:
        if self._syncing or self._months is None or line.cancelling:
            return
        self._dragging = line.tier_index
        free = line.free_drag or bool(QGuiApplication.keyboardModifiers() & FREE_DRAG_MODIFIERS)
        effective = cents_at(float(line.value()))
        monthly = (effective + self._months // 2) // self._months
        self.boundary_moving.emit(line.tier_index, monthly, free)

    def _line_released(self, line: BoundaryLine) -> None:
        if self._syncing:
            return
        self._dragging = None
        line.free_drag = False
        if line.cancelling:
            self.boundary_cancelled.emit(line.tier_index)
        else:
            self.boundary_released.emit(line.tier_index)
        self._apply_ranges()
        self._sync()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
