"""Purging the data of a structure that left the network (issue 15): ``proxisante structures purger``.

A structure that leaves may ask that its data go with it. Only a structure whose ``depart`` has come may
be purged (a member's data are never deleted by a slip); the purge removes, in this order:

1. **the warehouse**: in one transaction, every row whose ``structure`` is the FINESS, in every table that
   has the column, bookkeeping included (``etl_*``, also matched on their ``source``, ``FINESS`` or
   ``FINESS/<export>``, for loads made before the column existed); observation periods are then rebuilt
   from the remaining facts. Rows of other structures, even of the same ``person_id``, are untouched;
2. **the identity vault**: the links of the structure's sources and the identities of the persons no
   other source links (:meth:`~proxisante.identity.vault.IdentityVault.purge_sources`); the vault file is
   then rewritten (:meth:`~proxisante.identity.vault.IdentityVault.compact`), since DuckDB leaves deleted
   rows in freed blocks;
3. **the drop folder** ``depot/<FINESS>/``: pending extracts, ``archive/`` and ``rejets/`` hold raw
   exports with identities;
4. **the journal**: a ``purge`` line in the registry's chained journal, with who, when and what was
   removed. The registry entry stays: the registry is the network's history.

Each step is idempotent and the order makes the whole operation so: a crash after the warehouse commit
leaves rows of nothing, links and files that a second ``purger`` removes, and the second run finishes.
What each step removed is kept, until the journal line is written, in a progress file beside the registry,
so that the journal counts what the first, interrupted run deleted too.

Rows loaded before the ``structure`` column existed have a null structure outside the ``etl_*`` tables:
nothing tells whose they are, so they stay (``docs/network.md``). The warehouse file is not rewritten (it
may be large and shared with the web server): a DuckDB warehouse keeps the deleted, pseudonymised rows in
freed blocks until they are reused (``docs/network.md`` says how to rewrite it).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxisante.identity.keys import owner_only_umask, write_whole
from proxisante.identity.vault import IdentityVault
from proxisante.network.depot import depot_root, exclusive
from proxisante.network.structures import Structure, StructureRegistry
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import rebuild_observation_periods
from proxisante.warehouse.schema import STRUCTURE, TABLES, TableDef

if TYPE_CHECKING:
    from proxisante.installation import Installation

COMPACT = "compacter-coffre"  # python -m proxisante.network.purge compacter-coffre VAULT: see compact_vault
_SAFE_FINESS = re.compile(r"^[0-9AB]{9}$")  # a registry FINESS: digits, 2A/2B for Corsica (never quoted text)


class PurgeError(ValueError):
    """A purge refused or impossible; French, for the administrator."""


@dataclass
class PurgeReport:
    """What a purge removed, over this run and an interrupted earlier one (French keys in the journal)."""

    finess: str
    name: str
    started_at: str
    rows: dict[str, int] = field(default_factory=dict)  # warehouse rows deleted per table
    links: int = 0  # vault links (source, local patient id) → person
    identities: int = 0  # vault identities of persons no other structure saw
    pending: int = 0  # vault rows of unfinished batches
    files: int = 0  # files of the drop folder
    journal_seq: int | None = None  # the journal line written, None when there was nothing left to purge
    already: dict[str, Any] | None = None  # the earlier purge's journal line, when nothing was left

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def detail(self) -> dict[str, Any]:
        """The journal line's detail."""
        return {
            "commencee": self.started_at,
            "lignes": {name: count for name, count in self.rows.items() if count},
            "liens": self.links,
            "identites": self.identities,
            "en_attente": self.pending,
            "fichiers": self.files,
        }


def purge_structure(
    installation: Installation, finess: str, *, by: str | None = None, on: dt.date | None = None
) -> PurgeReport:
    """Purge the data of ``finess``, a structure that left on or before ``on`` (today by default); see the
    module's docstring for the order. Run it again after a crash: it completes what is left."""
    registry = StructureRegistry.installed(installation.settings)
    structure = structure_that_left(registry, finess, on or dt.date.today())
    progress = _Progress(registry, structure)
    report = progress.load()
    interrupted = progress.path.exists()
    for table, count in purge_warehouse(installation.warehouse, structure.finess).items():
        report.rows[table] = report.rows.get(table, 0) + count
    progress.save(report)
    removed = installation.vault.purge_sources(structure.finess)
    report.links, report.identities = report.links + removed.links, report.identities + removed.identities
    report.pending += removed.pending
    progress.save(report)
    compact_vault(installation.vault.path)  # the deleted identities leave the file too
    report.files += remove_drop_folder(depot_root(installation.settings), structure.finess)
    progress.save(report)
    _journal(registry, report, interrupted, by)
    progress.path.unlink(missing_ok=True)
    return report


def compact_vault(path: Path) -> None:
    """Rewrite the vault file (:meth:`~proxisante.identity.vault.IdentityVault.compact`) in a process of its
    own: DuckDB writes leftover memory into the slack of new blocks (duckdb/duckdb#23382), and this
    process's memory may hold the deleted identities (or, in the web server, any identity it read); a fresh
    process holds only what it copies. Its DuckDB file lock also keeps this process's threads out of the
    vault during the copy. A failure is a French error; the purge, run again, compacts again."""
    done = subprocess.run(
        [sys.executable, "-m", __name__, COMPACT, str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        held = "Could not set lock" in done.stderr  # DuckDB's words: another process, or a thread here, has it
        reason = "il est ouvert par un autre processus" if held else "erreur du processus de réécriture"
        raise PurgeError(
            f"le coffre d'identités n'a pas pu être réécrit ({reason}) : relancez la purge, qui reprend où "
            "elle s'est arrêtée"
        )


def structure_that_left(registry: StructureRegistry, finess: str, on: dt.date) -> Structure:
    """The structure if its ``depart`` is on or before ``on``; else a French refusal saying what to do."""
    structure = registry.require(finess)
    if structure.left is None:
        raise PurgeError(
            f"la structure {structure.name} (FINESS {structure.finess}) est membre du réseau : quittez d'abord "
            f"le réseau : proxisante structures leave {structure.finess}"
        )
    if structure.left > on:
        raise PurgeError(
            f"la structure {structure.name} (FINESS {structure.finess}) quitte le réseau le "
            f"{structure.left:%d/%m/%Y} : ses données ne peuvent être purgées qu'à partir de ce jour"
        )
    return structure


def purge_warehouse(warehouse: Warehouse, finess: str) -> dict[str, int]:
    """Delete every row of ``finess`` in one transaction, then rebuild observation periods; rows deleted per
    table. All or nothing: a failed statement leaves the warehouse as it was. Spark has no transaction
    spanning several statements, so a purge there is refused (purge the DuckDB or PostgreSQL source, then
    ``replicate``)."""
    if not _SAFE_FINESS.match(finess):
        raise PurgeError(f"numéro FINESS invalide : {finess}")
    if not warehouse.transactional:
        raise PurgeError(
            f"le moteur {warehouse.engine} n'a pas de transaction sur plusieurs instructions : purgez l'entrepôt "
            "DuckDB ou PostgreSQL d'origine, puis répliquez-le"
        )
    deleted: dict[str, int] = {}
    with warehouse.transaction():
        for table in TABLES:
            if table.per_structure:
                deleted[table.name] = delete_rows(warehouse, table, finess)
        rebuild_observation_periods(warehouse)
    return deleted


def delete_rows(warehouse: Warehouse, table: TableDef, finess: str) -> int:
    """Delete the rows of ``finess`` in ``table``; how many. The bookkeeping tables also match their
    ``source`` (the structure's FINESS, or ``FINESS/<export>``), which loads made before the ``structure``
    column had."""
    where = f"\"{STRUCTURE}\" = '{finess}'"
    if table.group == "etl":
        where += f" OR source = '{finess}' OR starts_with(source, '{finess}/')"
    count = _sql(warehouse, f'SELECT count(*) FROM "{table.name}" WHERE {where}')
    if count:
        _sql(warehouse, f'DELETE FROM "{table.name}" WHERE {where}')
    return count


def _sql(warehouse: Warehouse, statement: str) -> int:
    """Run one statement on the warehouse's own connection (inside its transaction); the first value of
    its first row, 0 when it returns none. The FINESS in ``statement`` was checked (digits, A, B)."""
    if warehouse.engine == "duckdb":
        cursor = warehouse.duckdb.execute(statement)
        row = cursor.fetchone() if cursor.description else None
    else:
        with warehouse.backend.raw_sql(statement) as cursor:  # psycopg's cursor
            row = cursor.fetchone() if cursor.description else None
    return int(row[0]) if row and row[0] is not None else 0


def remove_drop_folder(root: Path, finess: str) -> int:
    """Delete ``depot/<finess>/`` whole (its pending extracts, ``archive/`` and ``rejets/``); how many files
    it held. Taken under the drop folders' lock, so that no pass is moving an extract meanwhile; symbolic
    links are removed, never followed."""
    folder = root / finess
    with exclusive(root):
        if folder.is_symlink():
            folder.unlink()
            return 1
        if not folder.exists():
            return 0
        files = sum(1 for path in folder.rglob("*") if path.is_symlink() or not path.is_dir())
        shutil.rmtree(folder)
    return files


def _journal(registry: StructureRegistry, report: PurgeReport, interrupted: bool, by: str | None) -> None:
    """Write the ``purge`` line unless it is already there (a crash between the line and the end) or nothing
    was left to purge of a structure purged before (a second ``purger``: the first line says it all)."""
    earlier = registry.purges(report.finess)
    if interrupted and earlier and earlier[-1].get("detail", {}).get("commencee") == report.started_at:
        report.journal_seq = int(earlier[-1]["seq"])
        return
    removed = report.total_rows + report.links + report.identities + report.pending + report.files
    if earlier and not interrupted and not removed:
        report.already = earlier[-1]
        return
    line = registry.record_purge(report.finess, report.detail(), by=by)
    report.journal_seq = int(line["seq"])


class _Progress:
    """What the steps of an unfinished purge removed: a small owner-only file beside the registry, written
    after each step, removed once the journal line is written."""

    def __init__(self, registry: StructureRegistry, structure: Structure) -> None:
        self.structure = structure
        self.path = registry.path.with_name(f".{registry.path.stem}.purge-{structure.finess}.json")

    def load(self) -> PurgeReport:
        name = self.structure.name
        if not self.path.exists():
            now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            return PurgeReport(self.structure.finess, name, now)
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return PurgeReport(
            self.structure.finess,
            name,
            str(data["commencee"]),
            rows={str(k): int(v) for k, v in data["lignes"].items()},
            links=int(data["liens"]),
            identities=int(data["identites"]),
            pending=int(data["en_attente"]),
            files=int(data["fichiers"]),
        )

    def save(self, report: PurgeReport) -> None:
        """Replace the file whole (temporary file, then rename), so that a crash leaves the old or the new."""
        owner_only_umask()
        write_whole(self.path, json.dumps(report.detail() | {"lignes": report.rows}))


if __name__ == "__main__" and sys.argv[1:2] == [COMPACT] and len(sys.argv) == 3:
    IdentityVault(Path(sys.argv[2])).compact()
