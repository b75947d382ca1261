"""Dates as integers, and the random streams, for vectorised generation.

Why integers: a date is a day number since 1970-01-01 (the integer behind numpy's
``datetime64[D]`` and Arrow's ``date32``), so comparing ten million event dates with a patient's
death date is one numpy comparison, and writing them as ``dd/mm/yyyy`` is one table lookup.

Why named random streams: every table of every chunk draws from its own generator, derived from
the seed and a name, so that the files are identical byte for byte for a given seed, and changing
how one table is drawn does not shift the random numbers of another.
"""

from __future__ import annotations

import hashlib

import numpy as np

# "No date" (never happened, or not known): larger than any real day, so `date < NEVER` holds.
NEVER = np.int32(np.iinfo(np.int32).max)
# Defects: impossible calendar dates ("31/02/2024") are written from a list; in the integer
# columns they are the values INVALID_BASE - k (k = position in the list).
INVALID_BASE = -1_000_000_000

DAYS_PER_YEAR = 365.25


def rng(seed: int, *names: str | int) -> np.random.Generator:
    """A generator for one purpose (e.g. ``rng(42, "chunk", 3, "labs")``)."""
    keys = [seed & 0xFFFFFFFF, seed >> 32]
    for name in names:
        if isinstance(name, int):
            keys.append(name)
        else:
            keys.append(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(keys)))


def years(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days, dtype=np.float64) / DAYS_PER_YEAR


def age_at(birth: np.ndarray, day: np.ndarray | int) -> np.ndarray:
    """Age in (fractional) years."""
    return (np.asarray(day, dtype=np.int64) - birth) / DAYS_PER_YEAR


def year_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days.astype(np.int64) + 3) % 7


def day_of(year: int, month: int, day: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def add_years(days: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Same day and month, ``offset`` years later (29 February becomes 28 February)."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    month_in_year = (m - y.astype("datetime64[M]")).astype(np.int64)
    day_in_month = (d - m.astype("datetime64[D]")).astype(np.int64)
    new_year = (y.astype(np.int64) + offset).astype("datetime64[Y]")
    new_month = new_year.astype("datetime64[M]") + month_in_year
    next_month = new_month + 1
    last = (next_month.astype("datetime64[D]") - new_month.astype("datetime64[D]")).astype(np.int64) - 1
    return (new_month.astype("datetime64[D]") + np.minimum(day_in_month, last)).astype(np.int64)


def uniform_days(rng: np.random.Generator, low: np.ndarray, high: np.ndarray | int) -> np.ndarray:
    """A day in [low, high) for each pair (high > low); low where the interval is empty."""
    span = np.maximum(np.asarray(high, dtype=np.int64) - low, 1)
    return (np.asarray(low, dtype=np.int64) + np.floor(rng.random(span.shape) * span)).astype(np.int64)
