"""Calendar months and the effective segmentation date range (SPEC section 2)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

MIN_MAX_MONTHS, MAX_MAX_MONTHS = 1, 120
MIN_BUFFER_MONTHS, MAX_BUFFER_MONTHS = 0, 24


def month_key(day: dt.date) -> int:
    """A month as one integer (year * 12 + month - 1); consecutive months differ by 1."""
    return day.year * 12 + day.month - 1


def month_first_day(key: int) -> dt.date:
    """The first day of the month with this key."""
    year, month0 = divmod(key, 12)
    return dt.date(year, month0 + 1, 1)


def month_last_day(key: int) -> dt.date:
    """The last day of the month with this key (leap years included)."""
    year, month0 = divmod(key, 12)
    return dt.date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])


def month_label(key: int) -> str:
    """'2026-03' for a month key."""
    year, month0 = divmod(key, 12)
    return f"{year:04d}-{month0 + 1:02d}"


@dataclass(frozen=True)
class SegmentationSettings:
    """The office settings that shape the date range."""

    max_months: int = 12
    buffer_months: int = 1

    def __post_init__(self) -> None:
        if not MIN_MAX_MONTHS <= self.max_months <= MAX_MAX_MONTHS:
            raise ValueError(
                f"maximum segmentation months must be {MIN_MAX_MONTHS} to {MAX_MAX_MONTHS}, "
                f"not {self.max_months}"
            )
        if not MIN_BUFFER_MONTHS <= self.buffer_months <= MAX_BUFFER_MONTHS:
            raise ValueError(
                f"buffer months must be {MIN_BUFFER_MONTHS} to {MAX_BUFFER_MONTHS}, "
                f"not {self.buffer_months}"
            )


@dataclass(frozen=True)
class EffectiveRange:
    """The months a run sums production over: whole calendar months, first to last day."""

    start: dt.date
    end: dt.date
    months: int
    clipped: bool
    """True when the earliest revenue record moved the start later than M months."""

    @property
    def start_month(self) -> int:
        """Month key of the first month."""
        return month_key(self.start)

    @property
    def end_month(self) -> int:
        """Month key of the last month."""
        return month_key(self.end)

    def contains(self, day: dt.date) -> bool:
        """Whether a date lies inside the range."""
        return self.start <= day <= self.end

    def describe(self) -> str:
        """The range in words, as the tier view and reports show it."""
        text = (
            f"{self.start.isoformat()} to {self.end.isoformat()} "
            f"({self.months} month{'s' if self.months != 1 else ''})"
        )
        if self.clipped:
            text += ", starting at the office's earliest revenue record"
        return text


class InsufficientData(Exception):
    """There is no revenue inside the range: nothing can be segmented."""


def effective_range(
    as_of: dt.date, settings: SegmentationSettings, earliest_record: dt.date | None
) -> EffectiveRange:
    """The effective segmentation date range for an as-of date (SPEC section 2, steps 1-4).

    Raises InsufficientData when the office has no revenue record or its
    earliest record lies after the range's end.
    """
    end_month = month_key(as_of) - settings.buffer_months
    start_month = end_month - (settings.max_months - 1)
    end = month_last_day(end_month)
    if earliest_record is None:
        raise InsufficientData("there are no revenue records yet: import revenue or load the demo")
    if earliest_record > end:
        raise InsufficientData(
            f"the earliest revenue record ({earliest_record.isoformat()}) is after the end of the "
            f"range ({end.isoformat()}); with {settings.buffer_months} buffer month"
            f"{'s' if settings.buffer_months != 1 else ''} there is nothing to segment yet"
        )
    clipped = month_key(earliest_record) > start_month
    if clipped:
        start_month = month_key(earliest_record)
    return EffectiveRange(
        start=month_first_day(start_month),
        end=end,
        months=end_month - start_month + 1,
        clipped=clipped,
    )
