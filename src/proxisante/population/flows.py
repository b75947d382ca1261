"""Flows of the patientèle médecin traitant over a period: arrivals, departures, deaths, net change.

The patientèle is observed on the day before the period and at the end of every month of it, with
the same rule as everywhere else (``Context``: alive, declaration in force, the latest one when
several overlap). A flow is a difference between two consecutive observations, so that for every
month and every médecin traitant ``panel_end = panel_start + net_change`` holds exactly, whatever
the quality of the declarations' end dates:

- ``arrival``: no médecin traitant of the structure at the start of the month, one at the end;
- ``departure``: one at the start, none at the end, alive (moved, declared a doctor elsewhere, or
  the declaration was closed);
- ``death``: one at the start, died during the month;
- ``change``: another médecin traitant of the structure at the end (a departure for the first
  doctor, an arrival for the second, nothing for the structure).

A person who arrives and leaves within the same month is not seen (observations are monthly).
"""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import ibis.expr.types as ir
import pandas as pd

from proxisante.disclosure import TOTAL
from proxisante.measures.context import Context
from proxisante.measures.periods import Period, month_ends
from proxisante.warehouse.tables import Tables

MOVEMENTS = ("arrival", "departure", "death", "change")
FLOW_COLUMNS = (
    "panel_start",
    "arrivals",
    "arrivals_from_colleague",
    "departures",
    "departures_to_colleague",
    "deaths",
    "net_change",
    "panel_end",
)


def observation_days(period: Period) -> list[dt.date]:
    """The day before the period, then the last day of each month of it (the period's end for the last)."""
    ends = [min(day, period.end) for day in month_ends(period.start, period.end)]
    return [period.start - dt.timedelta(days=1), *ends]


def snapshot(warehouse: Tables, day: dt.date) -> ir.Table:
    """``person_id``, ``provider_id`` and ``rpps`` of every person in the patientèle médecin traitant on ``day``."""
    persons = Context(warehouse, day, cache_tables=False).persons
    mt = persons.filter(persons.mt_provider_id.notnull())
    return mt.select("person_id", provider_id="mt_provider_id", rpps=mt.mt_rpps.cast("string"))


def transitions(warehouse: Tables, period: Period) -> ir.Table:
    """One row per person whose médecin traitant of the structure changed between two observations.

    Columns: ``month_end`` (the observation closing the month), ``person_id`` (pseudonymised),
    ``from_provider_id``/``from_rpps`` and ``to_provider_id``/``to_rpps`` (null: none in the
    structure) and ``movement`` (arrival, departure, death, change).
    """
    return _transitions(warehouse, _snapshots(warehouse, period, cache=False))


def _snapshots(warehouse: Tables, period: Period, *, cache: bool) -> dict[dt.date, ir.Table]:
    """One snapshot per observation day; cached (a temporary table of any engine) when reused."""
    tables = {day: snapshot(warehouse, day) for day in observation_days(period)}
    return {day: table.cache() for day, table in tables.items()} if cache else tables


def _transitions(warehouse: Tables, snapshots: dict[dt.date, ir.Table]) -> ir.Table:
    days = list(snapshots)
    parts = [_between(warehouse, snapshots, before, after) for before, after in itertools.pairwise(days)]
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def _between(warehouse: Tables, snapshots: dict[dt.date, ir.Table], before: dt.date, after: dt.date) -> ir.Table:
    start = snapshots[before].rename(from_provider_id="provider_id", from_rpps="rpps")
    end = snapshots[after].rename(to_provider_id="provider_id", to_rpps="rpps", to_person="person_id")
    joined = start.outer_join(end, start.person_id == end.to_person)
    moved = joined.filter(
        joined.from_provider_id.isnull()
        | joined.to_provider_id.isnull()
        | (joined.from_provider_id != joined.to_provider_id)
    )
    person = ibis.coalesce(moved.person_id, moved.to_person)
    death = warehouse.table("death")
    died = death.filter(death.death_date > before, death.death_date <= after).select(dead_person="person_id").distinct()
    moved = moved.mutate(person_id=person).drop("to_person")
    moved = moved.left_join(died, moved.person_id == died.dead_person)
    movement = ibis.cases(
        (moved.from_provider_id.isnull(), "arrival"),
        (moved.to_provider_id.notnull(), "change"),
        (moved.dead_person.notnull(), "death"),
        else_="departure",
    )
    return moved.select(
        month_end=ibis.literal(after, "date"),
        person_id=moved.person_id,
        from_provider_id=moved.from_provider_id,
        from_rpps=moved.from_rpps,
        to_provider_id=moved.to_provider_id,
        to_rpps=moved.to_rpps,
        movement=movement,
    )


def stocks(warehouse: Tables, period: Period) -> pd.DataFrame:
    """Size of the patientèle per médecin traitant on each observation day: ``day``, ``rpps``, ``patients``."""
    return _stocks(warehouse, _snapshots(warehouse, period, cache=False))


def _stocks(warehouse: Tables, snapshots: dict[dt.date, ir.Table]) -> pd.DataFrame:
    parts = []
    for day, table in snapshots.items():
        parts.append(table.group_by("rpps").agg(patients=table.person_id.count()).mutate(day=ibis.literal(day, "date")))
    frame = warehouse.execute(ibis.union(*parts, distinct=False))
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["rpps"] = frame.rpps.astype("string").fillna("(inconnu)")
    return frame


def flows(warehouse: Tables, period: Period, *, by_provider: bool = True) -> pd.DataFrame:
    """Monthly and total flows of the patientèle médecin traitant, for the structure and per médecin traitant.

    One row per (``mt_rpps``, ``month``): ``month`` is ``YYYY-MM`` or ``Total`` (the whole period);
    ``mt_rpps`` is ``Total`` for the structure. Columns ``panel_start``, ``arrivals`` (new to the
    structure), ``arrivals_from_colleague``, ``departures`` (alive, no médecin traitant of the
    structure any more), ``departures_to_colleague``, ``deaths``, ``net_change`` and ``panel_end``;
    ``panel_end - panel_start == net_change`` on every row. For the structure, the colleague
    columns both count the changes of médecin traitant inside it.
    """
    snapshots = _snapshots(warehouse, period, cache=True)
    table = _transitions(warehouse, snapshots).cache()
    try:
        return _flows(warehouse, snapshots, table, by_provider)
    finally:
        for cached in (table, *snapshots.values()):
            cached.release()  # a long-running server must not keep them


def _flows(warehouse: Tables, snapshots: dict[dt.date, ir.Table], table: ir.Table, by_provider: bool) -> pd.DataFrame:
    into = table.filter(table.to_provider_id.notnull())
    out_of = table.filter(table.from_provider_id.notnull())
    moves_in = _moves(
        warehouse.execute(into.group_by(["month_end", "to_rpps", "movement"]).agg(n=into.person_id.count()))
    )
    moves_out = _moves(
        warehouse.execute(out_of.group_by(["month_end", "from_rpps", "movement"]).agg(n=out_of.person_id.count()))
    )
    stock = _stocks(warehouse, snapshots)
    days = list(snapshots)
    rows = [_provider_rows(TOTAL, days, stock, moves_in, moves_out)]
    if by_provider:
        for rpps in sorted(set(stock.rpps) | set(moves_in.rpps) | set(moves_out.rpps)):
            mine = (stock[stock.rpps == rpps], moves_in[moves_in.rpps == rpps], moves_out[moves_out.rpps == rpps])
            rows.append(_provider_rows(rpps, days, *mine))
    return pd.concat(rows, ignore_index=True)


def _moves(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts by (month_end, rpps, movement), the rpps column named alike for both directions."""
    frame = frame.rename(columns={"to_rpps": "rpps", "from_rpps": "rpps"})
    frame["month_end"] = pd.to_datetime(frame["month_end"]).dt.date
    frame["rpps"] = frame.rpps.astype("string").fillna("(inconnu)")
    return frame


def _provider_rows(
    rpps: str, days: list[dt.date], stock: pd.DataFrame, moves_in: pd.DataFrame, moves_out: pd.DataFrame
) -> pd.DataFrame:
    """The monthly rows and the period total of one médecin traitant, or of the structure (``Total``)
    when given every row."""
    size = stock.groupby("day").patients.sum()
    rows = [
        {"mt_rpps": rpps, "month": after.strftime("%Y-%m"), **_month(before, after, size, moves_in, moves_out)}
        for before, after in itertools.pairwise(days)
    ]
    frame = pd.DataFrame(rows)
    total = frame[list(FLOW_COLUMNS)].sum()
    total["panel_start"], total["panel_end"] = frame.panel_start.iloc[0], frame.panel_end.iloc[-1]
    frame = pd.concat([frame, pd.DataFrame([{"mt_rpps": rpps, "month": TOTAL, **total.to_dict()}])], ignore_index=True)
    frame[list(FLOW_COLUMNS)] = frame[list(FLOW_COLUMNS)].astype("int64")
    return frame[["mt_rpps", "month", *FLOW_COLUMNS]]


def _month(
    before: dt.date, after: dt.date, size: pd.Series, moves_in: pd.DataFrame, moves_out: pd.DataFrame
) -> dict[str, int]:
    """The flow columns of one month: observations on ``before`` and ``after``, movements between."""
    got_in = moves_in[moves_in.month_end == after].groupby("movement").n.sum()
    got_out = moves_out[moves_out.month_end == after].groupby("movement").n.sum()
    row = {
        "panel_start": int(size.get(before, 0)),
        "arrivals": int(got_in.get("arrival", 0)),
        "arrivals_from_colleague": int(got_in.get("change", 0)),
        "departures": int(got_out.get("departure", 0)),
        "departures_to_colleague": int(got_out.get("change", 0)),
        "deaths": int(got_out.get("death", 0)),
        "panel_end": int(size.get(after, 0)),
    }
    gained = row["arrivals"] + row["arrivals_from_colleague"]
    lost = row["departures"] + row["departures_to_colleague"] + row["deaths"]
    return {**row, "net_change": gained - lost}
