"""The period and date options of the commands, and the check that a period has data.

One reading of what a user types (``measures.periods``: 2025, 2025-T3, 2025-06, 12M:2025-06-30, a day as
2025-12-31 or 31/12/2025), the same French refusals everywhere (exit 2, before anything is computed), and
one way of saying that a period lies after the last data: the command says so and computes nothing
(exit 1), rather than rates of 0 % "sous l'objectif".
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from proxisante.cli.common import console
from proxisante.measures.periods import (
    FORMS,
    Period,
    PeriodError,
    data_coverage,
    last_data_date,
    no_data_message,
    parse_day,
    parse_period,
    partial_message,
)
from proxisante.warehouse.tables import Tables

PeriodOption = Annotated[str, typer.Option(help=FORMS + " (un trimestre, un mois : les 12 mois qui finissent alors)")]
NO_DATA_EXIT = 1  # nothing computed, said so; a refused input exits 2


def period_option(text: str) -> Period:
    """The period of ``--period``, refused in French (exit 2) when it is not one."""
    try:
        return parse_period(text)
    except PeriodError as error:
        raise typer.BadParameter(str(error)) from error


def day_option(text: str) -> dt.date:
    """A day option (``--date``): 2025-12-31 or 31/12/2025, an impossible day refused in French (exit 2)."""
    try:
        return parse_day(text)
    except PeriodError as error:
        raise typer.BadParameter(str(error)) from error


def check_data(tables: Tables, period: Period, *, note: bool = True, refused: str | None = None) -> dt.date | None:
    """Stop (exit 1, French message) when ``period`` starts after the last data of ``tables``; with ``note``,
    say that a period ending after it is incomplete (not in a CSV or JSON output). ``refused``: the period is
    an error for this command (a report), said with that title, exit 2. Returns the last data's day."""
    last = last_data_date(tables)
    coverage = data_coverage(period, last)
    if coverage == "none" and refused:
        console.print(f"[red]{refused} :[/red] période {period.label}, {no_data_message(last)}")
        raise typer.Exit(code=2)
    if coverage == "none":
        console.print(f"[yellow]Période {period.label} :[/yellow] {no_data_message(last)}")
        raise typer.Exit(code=NO_DATA_EXIT)
    if note and coverage == "partial" and last is not None:
        console.print(f"[yellow]Période {period.label} :[/yellow] {partial_message(last)}")
    return last


def check_day(tables: Tables, day: dt.date) -> dt.date | None:
    """Stop (exit 1, French message) when a reference date (``--date``) is after the last data of ``tables``."""
    last = last_data_date(tables)
    if last is None or day > last:
        console.print(f"[yellow]Date {day:%d/%m/%Y} :[/yellow] {no_data_message(last, 'à cette date')}")
        raise typer.Exit(code=NO_DATA_EXIT)
    return last


def month_option(text: str, option: str) -> Period:
    """A month option (``--from 2025-01``), refused in French when it is not one month that exists."""
    period = period_option(text)
    if period.start.month != period.end.month or period.start.year != period.end.year:
        raise typer.BadParameter(f"{option} {text!r} : un mois attendu, AAAA-MM (2025-06)")
    return period
