"""Periods of a measure report: a calendar year, a quarter, a month, or 12 rolling months ending on a date.

The period gives the reference date (its last day: the panel is the patientèle médecin traitant on
that day). The look-back of the criteria is each measure's natural window (``window:``, 12 months for
the annual indicators) ending on that day: a quarter or a month is the state of the indicators at its
end, never three months compared with annual objectives. ``12M:2025-06-30`` says its window itself.
Criteria with their own ``within`` (two years for a mammography) keep it. The calendar span
(``start``–``end``) stays the period's own, for what is counted *in* it (activity, flows).

Every text a user types for a period or a day goes through here (CLI options, web forms, API): one
syntax, one set of French messages. And a period after the warehouse's last data is said to be so
(``data_coverage``), rather than computed on nothing and compared with objectives.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from proxisante.measures.compile import EVENT_SOURCES
from proxisante.measures.definition import Measure, Window, library, minus
from proxisante.warehouse.tables import Tables

FORMS = "2025, 2025-T3, 2025-06 ou 12M:2025-06-30"


class PeriodError(ValueError):
    """A period or a day that is none of the accepted forms, or a day that does not exist (French message)."""


class NoData(PeriodError):
    """A period after the last data of the warehouse: nothing to compute."""


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date
    explicit: Window | None = None  # the look-back the text gave (12M:…); None: each measure's own window

    def window_for(self, measure: Measure) -> Window:
        """The look-back of ``measure``'s criteria on this period (ending on ``end``)."""
        return self.explicit or measure.window

    def describe(self, measures: Iterable[Measure] | None = None) -> str:
        """The period as the indicators read it, in French: « 2025-T3 : 12 mois jusqu'au 30/09/2025 »."""
        windows = {self.window_for(m) for m in (library().values() if measures is None else measures)}
        if len(windows) == 1:
            return f"{self.label} : {windows.pop().describe()} jusqu'au {self.end:%d/%m/%Y}"
        return f"{self.label} : fenêtre de chaque indicateur jusqu'au {self.end:%d/%m/%Y}"


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[QT]([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_ROLLING = re.compile(r"^(?:R12M|12M)[:@ ]?(\S+)$", re.IGNORECASE)
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_FRENCH_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_period(text: str) -> Period:
    """``2025``, ``2025-T3`` / ``2025Q3``, ``2025-06`` (a month), or ``12M:2025-06-30`` / ``12M:30/06/2025``
    (12 rolling months ending that day). Refused in French otherwise, an impossible day named."""
    text = text.strip()
    if match := _YEAR.match(text):
        year = _year(int(match[1]), text)
        return Period(text, dt.date(year, 1, 1), dt.date(year, 12, 31))
    if match := _QUARTER.match(text):
        year, quarter = _year(int(match[1]), text), int(match[2])
        last_month = quarter * 3
        end = dt.date(year, last_month, calendar.monthrange(year, last_month)[1])
        return Period(f"{year}-T{quarter}", dt.date(year, last_month - 2, 1), end)
    if match := _MONTH.match(text):
        year, month = _year(int(match[1]), text), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"période {text!r} : le mois {month} n'existe pas (attendu 01 à 12)")
        return _month(year, month)
    if match := _ROLLING.match(text):
        return rolling(parse_day(match[1]))
    raise PeriodError(f"période {text!r} non reconnue : attendu {FORMS}")


def _year(year: int, text: str) -> int:
    if not 1900 <= year <= 2100:
        raise PeriodError(f"période {text!r} hors des années 1900 à 2100")
    return year


def parse_day(text: str) -> dt.date:
    """A day typed by a user: ``2025-12-31`` or ``31/12/2025``; a day that does not exist (30 February) is
    refused in French, naming it."""
    text = text.strip()
    if match := _ISO_DAY.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _FRENCH_DAY.match(text):
        day, month, year = int(match[1]), int(match[2]), int(match[3])
    else:
        raise PeriodError(f"date {text!r} non reconnue : attendu AAAA-MM-JJ ou JJ/MM/AAAA (2025-12-31 ou 31/12/2025)")
    if not 1900 <= year <= 2100:
        raise PeriodError(f"date {text!r} hors des années 1900 à 2100")
    if not 1 <= month <= 12:
        raise PeriodError(f"date {text!r} impossible : le mois {month} n'existe pas")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise PeriodError(f"date {text!r} impossible : le mois {month:02d}/{year} a {last} jours")
    return dt.date(year, month, day)


def rolling(end: dt.date) -> Period:
    """Twelve rolling months ending on ``end``."""
    start = minus(end, years=1) + dt.timedelta(days=1)
    return Period(f"12M:{end.isoformat()}", start, end, explicit=Window(months=12))


def previous(period: Period) -> Period:
    """The period of the same kind just before: 2024 for 2025, 2025-T2 for 2025-T3, 2025-05 for 2025-06, the 12
    months before for ``12M:…`` (a trend, the "évolution" of a report or a page)."""
    if _YEAR.match(period.label):
        return parse_period(str(int(period.label) - 1))
    if match := _QUARTER.match(period.label):
        year, quarter = int(match[1]), int(match[2])
        return parse_period(f"{year - 1}-T4" if quarter == 1 else f"{year}-T{quarter - 1}")
    if _MONTH.match(period.label):
        return month_period(period.start - dt.timedelta(days=1))
    return rolling(period.start - dt.timedelta(days=1))


def month_period(day: dt.date) -> Period:
    """The calendar month of ``day``: its indicators are their natural window ending on the month's last day."""
    return _month(day.year, day.month)


def _month(year: int, number: int) -> Period:
    end = dt.date(year, number, calendar.monthrange(year, number)[1])
    return Period(f"{year}-{number:02d}", dt.date(year, number, 1), end)


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from ``first``'s month to ``last``'s month."""
    days, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        days.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


# -- the last data -------------------------------------------------------------------------------------------

Coverage = Literal["none", "partial", "full"]


def last_data_date(tables: Tables, today: dt.date | None = None) -> dt.date | None:
    """The day of the last event of ``tables`` (a scope's rows with a ScopedTables), None when it holds none.

    Events dated after ``today`` (default: the machine's date) are typing errors or appointments, not
    data: they would make a future period look computable."""
    limit = today or dt.date.today()
    days: list[dt.date] = []
    for source in EVENT_SOURCES.values():  # the dated events the measures read
        table, column = tables.table(source.table), source.date
        value = tables.execute(table.filter(table[column] <= limit)[column].max())
        if value is not None and value == value:  # NaT/NaN on an empty table
            days.append(dt.date.fromisoformat(str(value)[:10]))
    return max(days, default=None)


def data_coverage(period: Period, last: dt.date | None) -> Coverage:
    """``none``: the period starts after the last data; ``partial``: it ends after it; ``full`` otherwise."""
    if last is None or period.start > last:
        return "none"
    return "partial" if period.end > last else "full"


def no_data_message(last: dt.date | None, where: str = "sur cette période") -> str:
    """What a user reads instead of rates computed on nothing (``where``: « à cette date » for a day)."""
    if last is None:
        return f"pas de données {where} (l'entrepôt ne contient encore aucune donnée)"
    return f"pas de données {where} (données jusqu'au {last:%d/%m/%Y})"


def partial_message(last: dt.date) -> str:
    return f"période incomplète : données jusqu'au {last:%d/%m/%Y} seulement"


def require_data(period: Period, last: dt.date | None) -> None:
    """Raise ``NoData`` (French) for a period after the last data."""
    if data_coverage(period, last) == "none":
        raise NoData(no_data_message(last))
