"""Axis labels shared by the pyqtgraph charts: grouped numbers, never "1.2e+04"."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

__all__ = ["label_y_axis", "nice_step"]


def nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``rough`` (axis tick spacing)."""
    if rough <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(rough))
    return next(power * m for m in (1, 2, 5, 10) if power * m >= rough)


def label_y_axis(plot: pg.PlotWidget, low: float, high: float, suffix: str = "") -> None:
    """Show ``low``..``high`` on the left axis with about four grouped ticks ("12,000").

    The axis is made wide enough for the longest label from the first paint
    (else pyqtgraph drops labels that do not fit).
    """
    if high <= low:
        high = low + 1
    plot.setYRange(low, high, padding=0.08)
    spacing = nice_step((high - low) / 4)
    first = math.floor(low / spacing) * spacing
    count = int((high - first) / spacing) + 2
    decimals = 0 if spacing >= 1 else 2
    ticks = [
        (first + spacing * n, f"{first + spacing * n:,.{decimals}f}{suffix}") for n in range(count)
    ]
    axis = plot.getAxis("left")
    axis.setTicks([ticks, []])
    metrics = QFontMetrics(axis.style["tickFont"] or plot.font())
    axis.setWidth(max(metrics.horizontalAdvance(text) for _, text in ticks) + 16)
