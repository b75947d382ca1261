"""The flow every ingest format shares: one batch, atomic and idempotent.

A format finds its files, skips those already loaded from the same source (same checksum,
:func:`pending_files`), then :func:`run_batch` runs its :class:`StagingBatch`: staging objects in the
warehouse's DuckDB connection, freed at the end whatever happens, and a commit to the vault and the
warehouse in step (:meth:`StagingBatch.commit`). :class:`LoadReport` says what happened to each file:
``rows_read == rows_loaded + rows_quarantined``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb
import pyarrow as pa

from proxisante.identity import IdentityVault
from proxisante.ingest.files import FileInfo, InputFileError, inspect_file
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import (
    ManifestRow,
    StagedRows,
    commit_batch,
    committed_batches,
    loaded_files,
    new_batch_id,
    reconcile_vault,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


@dataclass
class FileReport:
    """What happened to one file."""

    pivot_table: str
    file_name: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    skipped: bool = False  # already loaded: same checksum, same source
    waiting: bool = False  # lines of an earlier batch's file, read again for a reference now loaded

    @classmethod
    def of(cls, row: ManifestRow) -> FileReport:
        return cls(row.pivot_table, row.file_name, row.sha256, row.rows_read, row.rows_loaded, row.rows_quarantined)


@dataclass
class LoadReport:
    """What a batch did."""

    source: str
    batch_id: str | None
    files: list[FileReport] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.batch_id is not None

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def tables_of_folder(folder: Path, known: set[str], suffixes: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """The file of each ``known`` table in ``folder`` (its name before the first dot, any case), and the
    names of the other files. Raises :class:`InputFileError`, in French, naming every table whose file cannot
    be read."""
    found: dict[str, Path] = {}
    ignored: list[str] = []
    unreadable: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        stem = path.name.lower().split(".")[0]
        problem = why_unreadable(path, suffixes) if stem in known else "not a table"
        if problem is None:
            if stem in found:
                raise InputFileError(
                    f"{path.name} : un deuxième fichier pour la table {stem} ({found[stem].name}) ; n'en gardez qu'un"
                )
            found[stem] = path
            continue
        if stem in known:
            unreadable.setdefault(stem, f"{path.name} : {problem}")
        if path.is_file():
            ignored.append(path.name)
    refused = [message for stem, message in unreadable.items() if stem not in found]
    if refused:
        raise InputFileError(
            " ; ".join(refused) + " (ce fichier porte le nom d'une table mais ne peut pas être lu : "
            "corrigez-le ou retirez-le du dossier)"
        )
    return found, ignored


def why_unreadable(path: Path, suffixes: tuple[str, ...]) -> str | None:
    """Why a file named like a table cannot be loaded, in French; None when it can."""
    if path.is_symlink() and not path.exists():
        return "lien symbolique vers un fichier absent"
    if path.is_dir():
        return "c'est un dossier, pas un fichier"
    if not path.is_file():
        return "ce n'est pas un fichier ordinaire (tube, socket ou périphérique)"
    if path.suffix.lower() not in suffixes:
        return (
            f"format {path.suffix or 'sans extension'} non pris en charge ({', '.join(suffixes)} attendu : "
            "décompressez ou convertissez le fichier)"
        )
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        return f"fichier illisible ({error.strerror or type(error).__name__})"
    return None


class StagingBatch:
    """What every loader's batch holds while it runs: its id, its staging objects in the warehouse's DuckDB
    connection (freed at the end, committed or not), the rows staged for the commit."""

    prefix = "stg_"
    structure: str | None = None  # the FINESS of the structure the batch belongs to (set by :func:`run_batch`)

    def __init__(self, warehouse: Warehouse, vault: IdentityVault, source: str, progress: Progress | None) -> None:
        self.warehouse = warehouse
        self.vault = vault
        self.con: duckdb.DuckDBPyConnection = warehouse.duckdb
        self.source = source
        self.progress = progress or (lambda step, n: None)
        self.batch_id = new_batch_id()
        self.staging: list[str] = []
        self.staged: list[StagedRows] = []

    def _temp(self, name: str) -> str:
        table = f"{self.prefix}{name}"
        self.staging.append(table)
        return table

    def commit(
        self,
        staged: list[StagedRows],
        appended: list[StagedRows],
        links: pa.Table | None,
        vault_source: str,
        statements: list[tuple[str, list[object]]] | None = None,
    ) -> None:
        """Commit the batch to both stores, in step: ``links`` (``patient_id``, ``person_id`` and any
        identity columns) go to the vault as pending rows, the warehouse commits, then they are promoted.
        A failure before the warehouse commit leaves both stores as they were; a crash after it is
        completed by :func:`reconcile_vault` when the installation next opens."""
        if links is not None and links.num_rows:
            self.vault.stage(self.batch_id, vault_source, links)
        try:
            commit_batch(self.warehouse, staged, appended, statements, self.structure)
        except BaseException:
            self._settle()
            raise
        try:
            self.vault.promote(self.batch_id)
        except Exception:
            self.vault.release(self.batch_id)
            log.exception(
                "batch %s committed; its identities stay pending in the vault until the installation next opens",
                self.batch_id,
            )

    def _settle(self) -> None:
        """After a failed warehouse commit: discard the pending vault rows (or promote them, if the commit
        did happen after all); when even that fails, the next opening of the installation settles them."""
        try:
            if committed_batches(self.warehouse, [self.batch_id]):
                self.vault.promote(self.batch_id)
            else:
                self.vault.discard(self.batch_id)
        except Exception:
            self.vault.release(self.batch_id)
            log.exception(
                "batch %s failed; its pending vault rows are settled when the installation next opens", self.batch_id
            )

    def drop_staging(self) -> None:
        """Free every staging object; views first, since they depend on the tables."""
        views = {
            name for (name,) in self.con.execute("SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()
        }
        for name in sorted(self.staging, key=lambda n: n not in views):
            try:
                self.con.unregister(name)
                self.con.execute(f'DROP {"VIEW" if name in views else "TABLE"} IF EXISTS "{name}"')
            except duckdb.Error:  # already gone, or a registered Arrow table: nothing left to free
                continue


S = TypeVar("S", bound=StagingBatch)


def run_batch(
    path: Path,
    report: LoadReport,
    pending: Sequence[object],
    start: Callable[[], S],
    run: Callable[[S], None],
    *,
    structure: str | None = None,
) -> LoadReport:
    """``run`` the batch ``start`` makes, unless nothing is pending; its staging is freed whatever happens.
    ``structure`` (a FINESS) is recorded on the batch's ``etl_batch`` row."""
    if not pending:
        log.info("nothing to load from %s: every file was already loaded", path)
        return report
    batch = start()
    batch.structure = structure
    try:
        reconcile_vault(batch.warehouse, batch.vault)  # an earlier batch's identities first, in order
        run(batch)
    finally:
        batch.drop_staging()
    return report


def pending_files(
    warehouse: Warehouse, source: str, files: dict[str, Path], tables: Iterable[T], report: LoadReport
) -> list[tuple[T, FileInfo]]:
    """The found files of ``tables`` (in that order) not yet loaded from ``source``; the others are reported
    as skipped. ``tables`` are table specs (pivot or OMOP)."""
    done = loaded_files(warehouse, source)
    pending = []
    for table in tables:
        if table.name not in files:
            continue
        info = inspect_file(files[table.name])
        if (table.name, info.sha256) in done:
            report.files.append(FileReport(table.name, info.path.name, info.sha256, skipped=True))
        else:
            pending.append((table, info))
    return pending
