"""Freshness and volume per structure: the last extract each structure sent, the rows it loaded per table
and month of load, and the alerts (no extract for too long, a table whose volume fell, a member that
never sent anything).

Read from the load bookkeeping only (``etl_batch`` for the structure and the commit time, ``etl_manifest``
for the rows of each file), with Ibis (the same queries on every engine); the thresholds are the dated
parameters of ``freshness.yaml``. A load without a structure counts as « hors réseau ».
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.formats import date, number, percent
from proxisante.network.structures import Structure
from proxisante.warehouse.tables import Tables

PARAMETERS = ParameterFile(__package__, "freshness.yaml")
OUTSIDE = "hors réseau"
VOLUME_COLUMNS = ("structure", "table", "month", "rows")


@dataclass(frozen=True)
class Thresholds:
    silence_days: int
    volume_share: float
    volume_months: int

    @classmethod
    def current(cls) -> Thresholds:
        return cls(
            int(PARAMETERS.value("silence_days")),
            float(PARAMETERS.value("volume_share")),
            int(PARAMETERS.value("volume_months")),
        )


@dataclass(frozen=True)
class Alert:
    kind: str  # "silence" | "volume" | "never"
    message: str  # French
    table: str | None = None


@dataclass(frozen=True)
class StructureFreshness:
    finess: str | None  # None: loads without a structure (« hors réseau »)
    name: str  # the registry's name, the FINESS when unknown to it, « hors réseau »
    last_extract: dt.datetime | None
    days: int | None
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class Freshness:
    on: dt.date
    thresholds: Thresholds
    structures: tuple[StructureFreshness, ...]
    volumes: pd.DataFrame  # VOLUME_COLUMNS: structure (FINESS or None), table, month (first day), rows loaded

    @property
    def alerts(self) -> list[tuple[StructureFreshness, Alert]]:
        return [(row, alert) for row in self.structures for alert in row.alerts]

    def recent_volumes(self) -> pd.DataFrame:
        """The volumes of each structure's latest month of load and the months compared with it, with the
        structure's name (column ``name``), newest month first."""
        frame = self.volumes
        if not len(frame):
            return frame.assign(name=[])
        key = frame["structure"].fillna("")
        latest = frame.groupby(key)["month"].transform("max")
        start = latest.map(lambda month: _month_before(month, self.thresholds.volume_months))
        names = {row.finess or "": row.name for row in self.structures}
        recent = frame[frame["month"] >= start].assign(name=key.map(names))
        return recent.sort_values(["name", "table", "month"], ascending=[True, True, False], ignore_index=True)


def shown(tables: Tables, registry: Iterable[Structure]) -> bool:
    """Whether the table is worth showing: a batch has a structure, or the registry is not empty."""
    if list(registry):
        return True
    batch = tables.table("etl_batch")
    return int(tables.execute(batch.filter(batch.structure.notnull()).count())) > 0


def monthly_volumes(tables: Tables) -> pd.DataFrame:
    """Rows loaded per structure, file table and month of load (the month its batch committed)."""
    manifest = tables.table("etl_manifest").drop("structure")  # the batch's is set for loads made before the column
    batch = tables.table("etl_batch").select("batch_id", "structure", "committed_at")
    joined = manifest.join(batch, manifest.batch_id == batch.batch_id)
    grouped = joined.group_by(
        structure=joined.structure, table=joined.pivot_table, month=joined.committed_at.truncate("M")
    ).agg(rows=joined.rows_loaded.sum())
    frame = tables.execute(grouped)
    if not len(frame):
        return pd.DataFrame({column: [] for column in VOLUME_COLUMNS})
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["rows"] = frame["rows"].fillna(0).astype("int64")
    frame["structure"] = frame["structure"].astype(object).where(frame["structure"].notna(), None)
    return frame[list(VOLUME_COLUMNS)].sort_values(
        ["structure", "table", "month"], ignore_index=True, na_position="last"
    )


def _month_before(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def volume_alerts(volumes: pd.DataFrame, thresholds: Thresholds) -> list[Alert]:
    """The tables of one structure whose rows in its latest month of load fall under ``volume_share`` of
    their median over the ``volume_months`` months before (those since its first load; no load = 0)."""
    if not len(volumes):
        return []
    latest = max(volumes["month"])
    first = min(volumes["month"])
    months = [_month_before(latest, n) for n in range(1, thresholds.volume_months + 1)]
    months = [month for month in months if month >= first]
    if not months:
        return []
    alerts = []
    for table, rows in volumes.groupby("table", sort=True):
        by_month = dict(zip(rows["month"], rows["rows"], strict=True))
        median = statistics.median(int(by_month.get(month, 0)) for month in months)
        now = int(by_month.get(latest, 0))
        if median > 0 and now < thresholds.volume_share * median:
            alerts.append(
                Alert(
                    "volume",
                    f"{table} : {number(now)} lignes en {latest:%m/%Y}, moins de {percent(thresholds.volume_share, 0)} "
                    f"de la médiane des {len(months)} mois précédents ({number(round(median))})",
                    str(table),
                )
            )
    return alerts


def freshness(
    tables: Tables, on: dt.date, registry: Iterable[Structure] = (), thresholds: Thresholds | None = None
) -> Freshness:
    """Per structure that loaded (and per active member of the registry that never did): its last
    extract, the days since, and its alerts on ``on``."""
    thresholds = thresholds or Thresholds.current()
    known = {structure.finess: structure for structure in registry}
    batch = tables.table("etl_batch")
    last = tables.execute(batch.group_by("structure").agg(last=batch.committed_at.max()))
    volumes = monthly_volumes(tables)
    rows: list[StructureFreshness] = []
    seen: set[str] = set()
    for record in last.itertuples():
        finess = None if pd.isna(record.structure) else str(record.structure)
        when = pd.Timestamp(record.last).to_pydatetime()
        days = (on - when.date()).days
        member = known.get(finess) if finess else None
        alerts = []
        if finess is not None and (member is None or member.active_on(on)) and days > thresholds.silence_days:
            alerts.append(
                Alert("silence", f"aucun extrait depuis {days} jours (seuil : {thresholds.silence_days} jours)")
            )
        mine = volumes[volumes["structure"].isna()] if finess is None else volumes[volumes["structure"] == finess]
        alerts.extend(volume_alerts(mine, thresholds))
        name = OUTSIDE if finess is None else (member.name if member else finess)
        rows.append(StructureFreshness(finess, name, when, days, tuple(alerts)))
        if finess:
            seen.add(finess)
    for finess, member in known.items():
        if finess not in seen and member.active_on(on):
            message = f"membre du réseau depuis le {date(member.joined)}, aucun extrait reçu"
            rows.append(StructureFreshness(finess, member.name, None, None, (Alert("never", message),)))
    rows.sort(key=lambda row: (row.finess is None, row.name.casefold(), row.finess or ""))
    return Freshness(on, thresholds, tuple(rows), volumes)
