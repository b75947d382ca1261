"""French formats of numbers, rates and dates, shared by the command line and the web pages."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

NARROW_SPACE = "\u202f"


def number(value: object) -> str:
    """French thousands separator (narrow no-break space): 12 345."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return f"{int(value):,}".replace(",", NARROW_SPACE)  # type: ignore[call-overload]


def decimal(value: float | None, digits: int = 1) -> str:
    """French decimal comma: 61,2."""
    if value is None or pd.isna(value):
        return "—"
    return f"{value:,.{digits}f}".replace(",", NARROW_SPACE).replace(".", ",")


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a French percentage: 61,2 %."""
    return "—" if value is None or pd.isna(value) else f"{decimal(100 * value, digits)}\u00a0%"


def date(value: dt.date | None) -> str:
    """dd/mm/yyyy, empty when missing."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:%d/%m/%Y}"
