"""French formats of numbers, rates, euros and dates: the one home of the decimal comma and the narrow
no-break space, used by the command line, the web pages, the reports and the maps."""

from __future__ import annotations

import datetime as dt
import math
from typing import SupportsFloat, SupportsInt, cast

import pandas as pd

NARROW_SPACE = "\u202f"  # between thousands: 12 345
NO_BREAK_SPACE = "\u00a0"  # before a unit: 61,2 %, 12 k€


def french(text: str) -> str:
    """Python's "12,345.6" written the French way: 12 345,6."""
    return text.replace(",", NARROW_SPACE).replace(".", ",")


def fixed(value: float, digits: int) -> str:
    """A number with ``digits`` decimals, French grouping and comma, no rule for a missing value: 3,21."""
    return french(f"{value:,.{digits}f}")


def number(value: object) -> str:
    """French thousands separator (narrow no-break space): 12 345."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return french(f"{int(cast(SupportsInt, value)):,}")


def decimal(value: float | None, digits: int = 1) -> str:
    """French decimal comma: 61,2."""
    if value is None or pd.isna(value):
        return "—"
    return fixed(value, digits)


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a French percentage: 61,2 %."""
    return "—" if value is None or pd.isna(value) else f"{decimal(100 * value, digits)}{NO_BREAK_SPACE}%"


def keuros(value: object, unit: bool = True) -> str:
    """Thousands of euros: −248 k€."""
    return decimal(float(cast(SupportsFloat, value)) / 1000, 0) + (f"{NO_BREAK_SPACE}k€" if unit else "")


def date(value: dt.date | None) -> str:
    """dd/mm/yyyy, empty when missing."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:%d/%m/%Y}"
