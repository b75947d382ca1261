"""Periods of a measure report: a calendar year, a quarter, or 12 rolling months ending on a date.

The period gives the reference date (its last day: the panel is the patientèle médecin traitant on
that day) and the default look-back window of the criteria (the period itself). Criteria with their
own ``within`` (two years for a mammography) keep it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from proxisante.measures.definition import Window, minus


class PeriodError(ValueError):
    """A period text that is none of the accepted forms."""


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date

    @property
    def window(self) -> Window:
        return Window(days=(self.end - self.start).days + 1)


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[QT]([1-4])$", re.IGNORECASE)
_ROLLING = re.compile(r"^(?:R12M|12M)[:@ ]?(\d{4}-\d{2}-\d{2})$", re.IGNORECASE)


def parse_period(text: str) -> Period:
    """``2025``, ``2025-T3`` / ``2025Q3``, or ``12M:2025-06-30`` (12 rolling months ending that day)."""
    text = text.strip()
    if match := _YEAR.match(text):
        year = int(match[1])
        return Period(text, dt.date(year, 1, 1), dt.date(year, 12, 31))
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        last_month = quarter * 3
        end = dt.date(year, last_month, calendar.monthrange(year, last_month)[1])
        return Period(f"{year}-T{quarter}", dt.date(year, last_month - 2, 1), end)
    if match := _ROLLING.match(text):
        end = dt.date.fromisoformat(match[1])
        return rolling(end)
    raise PeriodError(f"période {text!r} non reconnue: attendu 2025, 2025-T3 ou 12M:2025-06-30")


def rolling(end: dt.date) -> Period:
    """Twelve rolling months ending on ``end``."""
    return Period(f"12M:{end.isoformat()}", minus(end, years=1) + dt.timedelta(days=1), end)


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from ``first``'s month to ``last``'s month."""
    days, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        days.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days
