"""The effective segmentation date range (SPEC section 2, steps 1-4)."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg_desktop.core.periods import (
    EffectiveRange,
    InsufficientData,
    SegmentationSettings,
    effective_range,
    month_first_day,
    month_key,
    month_label,
    month_last_day,
)

LONG_AGO = dt.date(2000, 1, 1)
D = dt.date


def settings(max_months: int = 12, buffer_months: int = 1) -> SegmentationSettings:
    return SegmentationSettings(max_months=max_months, buffer_months=buffer_months)


def test_default_settings_are_twelve_months_and_one_buffer_month() -> None:
    assert SegmentationSettings() == SegmentationSettings(12, 1)


@pytest.mark.parametrize(
    ("buffer_months", "start", "end"),
    [
        (0, D(2025, 4, 1), D(2026, 3, 31)),  # live: the current month through its end
        (1, D(2025, 3, 1), D(2026, 2, 28)),
        (2, D(2025, 2, 1), D(2026, 1, 31)),
        (3, D(2025, 1, 1), D(2025, 12, 31)),  # across the year boundary
        (24, D(2023, 4, 1), D(2024, 3, 31)),
    ],
)
def test_buffer_months_move_the_end_back(buffer_months: int, start: dt.date, end: dt.date) -> None:
    period = effective_range(D(2026, 3, 15), settings(12, buffer_months), LONG_AGO)
    assert (period.start, period.end, period.months, period.clipped) == (start, end, 12, False)


@pytest.mark.parametrize(
    ("max_months", "start"),
    [
        (1, D(2026, 2, 1)),
        (2, D(2026, 1, 1)),
        (3, D(2025, 12, 1)),
        (12, D(2025, 3, 1)),
        (120, D(2016, 3, 1)),
    ],
)
def test_max_months_set_the_start(max_months: int, start: dt.date) -> None:
    period = effective_range(D(2026, 3, 15), settings(max_months, 1), LONG_AGO)
    assert period.start == start
    assert period.end == D(2026, 2, 28)
    assert period.months == max_months
    assert not period.clipped


def test_earliest_record_inside_the_range_clips_the_start_to_its_month() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2025, 7, 19))
    # July 2025 .. February 2026 = 8 calendar months
    assert period == EffectiveRange(D(2025, 7, 1), D(2026, 2, 28), 8, True)


def test_earliest_record_on_the_range_start_does_not_clip() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2025, 3, 1))
    assert period == EffectiveRange(D(2025, 3, 1), D(2026, 2, 28), 12, False)


def test_earliest_record_late_in_the_first_month_does_not_clip() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2025, 3, 31))
    assert period == EffectiveRange(D(2025, 3, 1), D(2026, 2, 28), 12, False)


def test_earliest_record_in_the_second_month_clips_to_eleven_months() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2025, 4, 1))
    assert period == EffectiveRange(D(2025, 4, 1), D(2026, 2, 28), 11, True)


def test_earliest_record_before_the_range_does_not_clip() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2025, 2, 28))
    assert period == EffectiveRange(D(2025, 3, 1), D(2026, 2, 28), 12, False)


def test_earliest_record_on_the_range_end_leaves_one_month() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), D(2026, 2, 28))
    assert period == EffectiveRange(D(2026, 2, 1), D(2026, 2, 28), 1, True)


@pytest.mark.parametrize("earliest", [D(2026, 3, 1), D(2026, 3, 15), D(2027, 1, 1)])
def test_earliest_record_after_the_range_end_is_insufficient_data(earliest: dt.date) -> None:
    with pytest.raises(InsufficientData, match="after the end of the range"):
        effective_range(D(2026, 3, 15), settings(12, 1), earliest)


def test_no_record_is_insufficient_data() -> None:
    with pytest.raises(InsufficientData, match="no revenue records"):
        effective_range(D(2026, 3, 15), settings(12, 1), None)


def test_live_range_accepts_a_record_in_the_current_month() -> None:
    period = effective_range(D(2026, 3, 1), settings(12, 0), D(2026, 3, 31))
    assert period == EffectiveRange(D(2026, 3, 1), D(2026, 3, 31), 1, True)


@pytest.mark.parametrize(
    ("as_of", "buffer_months", "end"),
    [
        (D(2024, 3, 10), 1, D(2024, 2, 29)),  # leap year
        (D(2023, 3, 10), 1, D(2023, 2, 28)),
        (D(2024, 2, 29), 0, D(2024, 2, 29)),
        (D(2024, 2, 29), 1, D(2024, 1, 31)),
        (D(2000, 3, 1), 1, D(2000, 2, 29)),  # divisible by 400: leap
        (D(2100, 3, 1), 1, D(2100, 2, 28)),  # divisible by 100: not leap
        (D(2026, 3, 1), 1, D(2026, 2, 28)),  # as-of on the 1st
        (D(2026, 3, 31), 1, D(2026, 2, 28)),  # as-of on the 31st
        (D(2026, 5, 31), 1, D(2026, 4, 30)),
        (D(2026, 1, 31), 0, D(2026, 1, 31)),
        (D(2026, 1, 1), 1, D(2025, 12, 31)),  # year boundary
        (D(2026, 1, 15), 13, D(2024, 12, 31)),
    ],
)
def test_range_ends_on_the_last_day_of_the_end_month(
    as_of: dt.date, buffer_months: int, end: dt.date
) -> None:
    assert effective_range(as_of, settings(12, buffer_months), LONG_AGO).end == end


def test_range_ending_february_2024_starts_march_2023() -> None:
    period = effective_range(D(2024, 3, 1), settings(12, 1), LONG_AGO)
    assert (period.start, period.end) == (D(2023, 3, 1), D(2024, 2, 29))


def test_thirteen_months_across_two_year_boundaries() -> None:
    period = effective_range(D(2026, 1, 15), settings(13, 1), LONG_AGO)
    assert (period.start, period.end, period.months) == (D(2024, 12, 1), D(2025, 12, 31), 13)


@pytest.mark.parametrize(
    ("max_months", "buffer_months"), [(0, 1), (121, 1), (-1, 1), (12, -1), (12, 25)]
)
def test_settings_out_of_bounds_are_refused(max_months: int, buffer_months: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        SegmentationSettings(max_months=max_months, buffer_months=buffer_months)


@pytest.mark.parametrize(("max_months", "buffer_months"), [(1, 0), (120, 24), (1, 24), (120, 0)])
def test_settings_at_the_bounds_are_accepted(max_months: int, buffer_months: int) -> None:
    assert SegmentationSettings(max_months, buffer_months).max_months == max_months


def test_contains_includes_both_ends() -> None:
    period = effective_range(D(2026, 3, 15), settings(12, 1), LONG_AGO)
    assert period.contains(D(2025, 3, 1))
    assert period.contains(D(2026, 2, 28))
    assert not period.contains(D(2025, 2, 28))
    assert not period.contains(D(2026, 3, 1))


def test_describe_says_the_range_and_the_clipping() -> None:
    assert (
        effective_range(D(2026, 3, 15), settings(12, 1), LONG_AGO).describe()
        == "2025-03-01 to 2026-02-28 (12 months)"
    )
    assert effective_range(D(2026, 3, 15), settings(12, 1), D(2026, 2, 3)).describe() == (
        "2026-02-01 to 2026-02-28 (1 month), starting at the office's earliest revenue record"
    )


def test_month_helpers() -> None:
    key = month_key(D(2024, 2, 17))
    assert month_key(D(2024, 3, 1)) == key + 1
    assert month_key(D(2025, 1, 1)) - month_key(D(2024, 12, 31)) == 1
    assert month_first_day(key) == D(2024, 2, 1)
    assert month_last_day(key) == D(2024, 2, 29)
    assert month_label(key) == "2024-02"
    assert month_label(month_key(D(2025, 12, 5))) == "2025-12"


@given(
    st.dates(D(1990, 1, 1), D(2090, 12, 31)),
    st.integers(1, 120),
    st.integers(0, 24),
    st.dates(D(1975, 1, 1), D(2095, 12, 31)) | st.none(),
)
def test_range_properties(
    as_of: dt.date, max_months: int, buffer_months: int, earliest: dt.date | None
) -> None:
    end_year, end_month0 = divmod(as_of.year * 12 + as_of.month - 1 - buffer_months, 12)
    expected_end = D(end_year, end_month0 + 1, calendar.monthrange(end_year, end_month0 + 1)[1])
    if earliest is None or earliest > expected_end:
        with pytest.raises(InsufficientData):
            effective_range(as_of, settings(max_months, buffer_months), earliest)
        return
    period = effective_range(as_of, settings(max_months, buffer_months), earliest)
    assert period.end == expected_end
    assert period.start.day == 1
    assert period.start <= period.end
    months = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1
    assert period.months == months
    assert period.months == min(max_months, months)
    assert period.clipped == (period.months < max_months)
    if period.clipped:
        assert (period.start.year, period.start.month) == (earliest.year, earliest.month)
    else:
        assert period.months == max_months
    assert period.contains(earliest) or earliest < period.start
