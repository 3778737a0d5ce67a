"""Dates as they appear in imported files.

ISO dates ("2026-03-02") are always read. "02/03/2026" is read only under an
explicit format (day/month/year or month/day/year): a column of such dates is
never guessed row by row, because 02/03 read the wrong way round is still a
valid date and the mistake would be silent. `DateEvidence` collects what a
whole column says so the choice can be offered to the user up front.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final, Literal

from seg_desktop.io.amounts import shown

DateFormat = Literal["iso", "dmy", "mdy"]
DATE_FORMATS: Final[tuple[DateFormat, ...]] = ("iso", "dmy", "mdy")

_TIME: Final = (
    r"(?:(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_YEAR_FIRST: Final = re.compile(rf"(\d{{4}})([-/.])(\d{{1,2}})\2(\d{{1,2}}){_TIME}")
_ISO_BASIC: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_PART_PART_YEAR: Final = re.compile(rf"(\d{{1,2}})([-/.])(\d{{1,2}})\2(\d+){_TIME}")

# Excel's 1900 date system counts 1900-02-29, a day that never existed (serial
# 60); from serial 61 on, day 0 is therefore 1899-12-30.
_EXCEL_1900_DAY_ZERO: Final = dt.date(1899, 12, 30)
_EXCEL_1904_DAY_ZERO: Final = dt.date(1904, 1, 1)
_EXCEL_LAST_SERIAL: Final = 2958465  # 9999-12-31

_EXPECTED: Final[dict[DateFormat | None, str]] = {
    None: "e.g. 2026-03-02",
    "iso": "YYYY-MM-DD, e.g. 2026-03-02",
    "dmy": "day/month/year, e.g. 02/03/2026",
    "mdy": "month/day/year, e.g. 03/02/2026",
}


class DateProblem(ValueError):
    """A cell that is not a usable date; the message is the reason shown for its row."""


class DateFormatNeeded(Exception):
    """A day/month-or-month/day date met while no date format was chosen.

    Not a row problem: the whole column needs a format, so the reader turns it
    into a file-level error with the evidence from the whole column.
    """


def parse_date(text: str, date_format: DateFormat | None) -> dt.date:
    """Read a date written as text.

    ISO dates (2026-03-02, also 2026/03/02, 20260302, or with a time after
    them) are accepted under every format. "02/03/2026", "2.3.2026" and
    "02-03-2026" are read day first under "dmy" and month first under "mdy";
    under "iso" they are a `DateProblem`; with no format they raise
    `DateFormatNeeded`. Two-digit years are refused, never widened to a century.
    """
    if len(text) == 10:
        # The usual shapes, "2026-03-02" and "02/03/2026", without a regex.
        if text[4] == "-" and text[7] == "-":
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass  # the slow path below says why
        elif (
            date_format in ("dmy", "mdy")
            and text[2] == text[5]
            and text[2] in "/.-"
            and text.isascii()
            and text[:2].isdigit()
            and text[3:5].isdigit()
            and text[6:].isdigit()
        ):
            first, second = int(text[:2]), int(text[3:5])
            day, month = (first, second) if date_format == "dmy" else (second, first)
            try:
                return dt.date(int(text[6:]), month, day)
            except ValueError:
                pass  # the slow path below says why
    raw = text.strip()
    if not raw:
        raise DateProblem("missing date")
    match = _YEAR_FIRST.fullmatch(raw)
    if match is not None:
        return _existing_date(raw, int(match[1]), int(match[3]), int(match[4]))
    match = _ISO_BASIC.fullmatch(raw)
    if match is not None:
        return _existing_date(raw, int(match[1]), int(match[2]), int(match[3]))
    match = _PART_PART_YEAR.fullmatch(raw)
    if match is not None and len(match[4]) in (2, 4):
        if date_format is None:
            raise DateFormatNeeded(raw)
        if date_format == "iso":
            raise DateProblem(f"date '{raw}' is not an ISO date ({_EXPECTED['iso']})")
        first, second, year_text = int(match[1]), int(match[3]), match[4]
        if len(year_text) == 2:
            raise DateProblem(f"date '{raw}' has a two-digit year; write the year in full")
        if date_format == "dmy":
            return _existing_date(raw, int(year_text), second, first)
        return _existing_date(raw, int(year_text), first, second)
    raise DateProblem(f"date '{shown(raw)}' is not a date ({_EXPECTED[date_format]})")


def _existing_date(raw: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateProblem(f"date '{raw}' does not exist") from None


def date_from_serial(serial: float, *, epoch_1904: bool = False) -> dt.date:
    """The date of an Excel serial day number (a time of day, the fraction, is dropped)."""
    if serial != serial or serial < 0 or serial >= _EXCEL_LAST_SERIAL + 1:  # NaN, or out of range
        raise DateProblem(f"date {_serial_text(serial)} is not a date")
    days = int(serial)
    if epoch_1904:
        return _EXCEL_1904_DAY_ZERO + dt.timedelta(days=days)
    if days == 60:
        raise DateProblem("date 60 is Excel's 1900-02-29, a day that does not exist")
    if days == 0:
        raise DateProblem("date 0 is not a date")
    if days < 60:
        return _EXCEL_1900_DAY_ZERO + dt.timedelta(days=days + 1)
    return _EXCEL_1900_DAY_ZERO + dt.timedelta(days=days)


def _serial_text(serial: float) -> str:
    return str(int(serial)) if serial == serial and float(serial).is_integer() else repr(serial)


@dataclass
class DateEvidence:
    """What a whole date column says about its format.

    A first part above 12 ("25/03/2026") can only be day/month/year; a second
    part above 12 ("03/25/2026") only month/day/year. With neither, the column
    is ambiguous; with both, no single format fits every row.
    """

    typed: int = 0  # ISO text, real date cells, serial numbers: no format needed
    day_first: tuple[str, int] | None = None  # first example and its row
    month_first: tuple[str, int] | None = None
    undecided: tuple[str, int] | None = None  # like 03/04/2026
    non_iso: int = 0
    first_non_iso: tuple[str, int] | None = None

    def observe_text(self, text: str, row_number: int) -> None:
        """Take one date cell's text into account."""
        raw = text.strip()
        if _YEAR_FIRST.fullmatch(raw) or _ISO_BASIC.fullmatch(raw):
            self.typed += 1
            return
        match = _PART_PART_YEAR.fullmatch(raw)
        if match is None or len(match[4]) not in (2, 4):
            return  # not a date in any format: a row problem, not evidence
        self.non_iso += 1
        self.first_non_iso = self.first_non_iso or (raw, row_number)
        first, second = int(match[1]), int(match[3])
        if 12 < first <= 31 and 1 <= second <= 12:
            self.day_first = self.day_first or (raw, row_number)
        elif 12 < second <= 31 and 1 <= first <= 12:
            self.month_first = self.month_first or (raw, row_number)
        elif 1 <= first <= 12 and 1 <= second <= 12:
            self.undecided = self.undecided or (raw, row_number)

    @property
    def suggested_format(self) -> DateFormat | None:
        """The only format the column's dates fit, or None when it cannot be told."""
        if self.non_iso == 0:
            return "iso" if self.typed else None
        if self.day_first and not self.month_first:
            return "dmy"
        if self.month_first and not self.day_first:
            return "mdy"
        return None

    @property
    def ambiguous(self) -> bool:
        """Dates like 03/04/2026 and nothing that tells day/month from month/day."""
        return self.non_iso > 0 and not self.day_first and not self.month_first

    @property
    def contradictory(self) -> bool:
        """Some rows can only be day/month/year and others only month/day/year."""
        return bool(self.day_first and self.month_first)

    def explain(self, column: str) -> str | None:
        """One sentence for the user about the column's non-ISO dates, or None if it has none."""
        if self.non_iso == 0:
            return None
        if self.day_first and self.month_first:
            (day_text, day_row), (month_text, month_row) = self.day_first, self.month_first
            return (
                f"Column '{column}' has day/month/year dates ('{day_text}' on row {day_row})"
                f" and month/day/year dates ('{month_text}' on row {month_row}): no single date"
                " format fits every row; choose --date-format dmy or mdy and the rows that do"
                " not fit will be reported."
            )
        if self.day_first:
            text, row = self.day_first
            return (
                f"Column '{column}' has dates written day/month/year ('{text}' on row {row}):"
                " choose --date-format dmy."
            )
        if self.month_first:
            text, row = self.month_first
            return (
                f"Column '{column}' has dates written month/day/year ('{text}' on row {row}):"
                " choose --date-format mdy."
            )
        text, row = self.undecided or self.first_non_iso or ("", 0)
        return (
            f"Column '{column}' has dates like '{text}' (row {row}) that could be day/month"
            " or month/day: choose --date-format dmy or mdy."
        )
