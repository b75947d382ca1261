"""Drop folders: the extracts each structure's EHR exports into ``$PROXISANTE_HOME/depot/<FINESS>/``.

An extract is a folder ``depot/<FINESS>/<extract>/``; it is *complete* once it holds the file ``COMPLET``
(the export writes it last): until then it is left alone and reported as waiting, never loaded half
written. Complete extracts are loaded in arrival order (the marker's modification time, then the
names) through :data:`proxisante.ingest.FORMATS` (``format.txt`` names the format, pivot by default),
with the FINESS as source (``FINESS/<name>`` when ``source.txt`` names one export among several of the
structure) and the batch recorded as the structure's, one at a time per installation (a thread lock and a
lock file); each then moves to ``depot/<FINESS>/archive/<extract>/`` or ``depot/<FINESS>/rejets/<extract>/``
with its report, ``rapport.json`` and ``rapport.txt`` (French). An extract of a structure the registry does not know, or
of one that left the network, goes to ``rejets/`` unloaded, with the reason.

Safe to run again after a crash: a batch is idempotent by checksum (a file already loaded from the
same source is skipped), the report is written in the extract's folder before it moves, and a folder
that already holds its report is only moved. :class:`DropFolderWorker` runs :func:`process` in a
background thread of the web server, on its own connection to the warehouse (:func:`loading_installation`):
DuckDB gives every connection of one process a snapshot, so pages keep reading the last committed
state while a load runs, and see the new batch once it commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import ibis

from proxisante.definitions import ParameterFile
from proxisante.ingest import FORMATS
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError, os_error_words
from proxisante.installation import Installation
from proxisante.network.structures import StructureError, StructureRegistry, load_source
from proxisante.warehouse.connection import Warehouse

if TYPE_CHECKING:
    from proxisante.settings import Settings

log = logging.getLogger(__name__)
PARAMETERS = ParameterFile(__package__, "dropfolders.yaml")

DEPOT = "depot"
ARCHIVE = "archive"
REJECTS = "rejets"
MARKER = "COMPLET"
FORMAT_FILE = "format.txt"
SOURCE_FILE = "source.txt"
REPORT_JSON = "rapport.json"
REPORT_TEXT = "rapport.txt"
LOCK_FILE = ".traitement.verrou"
RESERVED = (ARCHIVE, REJECTS)
OWN_FILES = (MARKER, FORMAT_FILE, SOURCE_FILE, REPORT_JSON, REPORT_TEXT)  # files of the drop folder, not of the export

Status = Literal["loaded", "nothing_new", "rejected", "retry"]
STATUS_LABELS: dict[str, str] = {
    "loaded": "chargé",
    "nothing_new": "rien de nouveau (fichiers déjà chargés)",
    "rejected": "refusé, rien n'a été chargé",
    "retry": "non chargé, réessayé au prochain passage",
}

_PROCESS_LOCK = threading.Lock()


def depot_root(settings: Settings) -> Path:
    """``$PROXISANTE_HOME/depot``, where each structure has its drop folder ``depot/<FINESS>/``."""
    return settings.home_dir / DEPOT


@dataclass(frozen=True)
class Extract:
    """One extract folder of a structure's drop folder."""

    finess: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def complete(self) -> bool:
        return self.marker.is_file()

    def arrival(self) -> tuple[float, str, str]:
        """The order of arrival: the marker's modification time, then the FINESS and the extract's name."""
        return (self.marker.stat().st_mtime, self.finess, self.name)


@dataclass
class Scan:
    """What the drop folders hold: complete extracts in arrival order, and those still being written."""

    ready: list[Extract] = field(default_factory=list)
    waiting: list[Extract] = field(default_factory=list)


def scan(root: Path) -> Scan:
    """The extracts of every drop folder under ``root`` (``depot/``): ``archive/``, ``rejets/``, hidden names
    (a copy under way) and symbolic links are not extracts."""
    found = Scan()
    if not root.is_dir():
        return found
    for structure in sorted(root.iterdir()):
        if not _plain_folder(structure):
            continue
        for path in sorted(structure.iterdir()):
            if path.name in RESERVED or not _plain_folder(path):
                continue
            extract = Extract(structure.name, path)
            (found.ready if extract.complete else found.waiting).append(extract)
    found.ready.sort(key=Extract.arrival)
    return found


def _plain_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not path.name.startswith(".")


@dataclass
class ExtractReport:
    """What became of one extract: its status, the reason of a refusal (French), the batch and its files."""

    finess: str
    extract: str
    status: Status
    format: str = "pivot"
    reason: str = ""
    batch_id: str | None = None
    received_at: str = ""
    processed_at: str = ""
    destination: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExtractReport:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})

    def with_load(self, load: LoadReport) -> ExtractReport:
        self.batch_id = load.batch_id
        self.status = "loaded" if load.committed else "nothing_new"
        self.files = [asdict(f) for f in load.files]
        self.ignored_files = [name for name in load.ignored_files if name not in OWN_FILES]
        self.rows_read, self.rows_loaded = load.rows_read, load.rows_loaded
        self.rows_quarantined = load.rows_quarantined
        return self

    def text(self) -> str:
        """The report in French, as ``rapport.txt`` and ``proxisante depot traiter`` give it."""
        lines = [
            f"Extrait {self.extract} de la structure {self.finess} : {STATUS_LABELS[self.status]}.",
            f"Format : {self.format}.",
        ]
        if self.received_at:
            lines.append(f"Reçu le {_french_time(self.received_at)}, traité le {_french_time(self.processed_at)}.")
        if self.reason:
            lines.append(f"Motif : {self.reason}")
        if self.batch_id:
            lines.append(f"Lot : {self.batch_id}.")
        if self.status in ("loaded", "nothing_new"):
            lines.append(
                f"Lignes lues : {self.rows_read}, chargées : {self.rows_loaded}, "
                f"en quarantaine : {self.rows_quarantined}."
            )
            for f in self.files:
                state = " (déjà chargé)" if f.get("skipped") else ""
                lines.append(
                    f"  {f['pivot_table']} — {f['file_name']} : {f['rows_read']} lues, {f['rows_loaded']} chargées, "
                    f"{f['rows_quarantined']} en quarantaine{state}"
                )
            if self.ignored_files:
                lines.append(f"Fichiers ignorés : {', '.join(self.ignored_files)}.")
            if self.rows_quarantined:
                lines.append("Voir les lignes rejetées : proxisante quarantine")
        if self.destination:
            lines.append(f"Dossier : {self.destination}")
        return "\n".join(lines) + "\n"


def _french_time(iso: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.strftime("%d/%m/%Y à %H:%M:%S")


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


@dataclass
class Pass:
    """One pass over the drop folders: the report of every extract taken, and those still waiting."""

    reports: list[ExtractReport] = field(default_factory=list)
    waiting: list[Extract] = field(default_factory=list)


def process(
    installation: Installation,
    *,
    registry: StructureRegistry | None = None,
    on: dt.date | None = None,
    as_of: dt.date | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Pass:
    """Load every complete extract of the drop folders, oldest first, one at a time per installation.

    ``registry`` is the registry of structures (by default the installation's, ``settings.structures``),
    ``on`` the day a structure must be a member on (today), ``as_of`` the day the checks take as today;
    ``stop()`` is asked between two extracts (the server shutting down)."""
    root = depot_root(installation.settings)
    with exclusive(root):
        found = scan(root)
        result = Pass(waiting=found.waiting)
        if not found.ready:
            return result
        registry = registry or StructureRegistry.installed(installation.settings)
        try:
            registry.all()
        except StructureError as error:  # the registry's fault, not the extracts': they wait for it to be fixed
            log.error("drop folders: the registry of structures cannot be read: %s", error)
            reason = f"registre des structures illisible ({error}) ; l'extrait reste dans le dossier de dépôt"
            result.reports = [_retry(extract, reason) for extract in found.ready]
            return result
        for extract in found.ready:
            if stop():
                break
            if not extract.path.is_dir():  # taken meanwhile by a process that ignored the lock
                continue
            result.reports.append(
                process_extract(extract, installation, registry, on=on or dt.date.today(), as_of=as_of)
            )
        return result


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """One pass at a time per installation: a thread lock within the process, a lock file across processes
    (a cron ``proxisante depot traiter`` and a server)."""
    with _PROCESS_LOCK:
        if not root.is_dir():
            yield
            return
        with open(root / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def process_extract(
    extract: Extract,
    installation: Installation,
    registry: StructureRegistry,
    *,
    on: dt.date,
    as_of: dt.date | None = None,
) -> ExtractReport:
    """Check, load, report and move one complete extract (the caller holds :func:`exclusive`)."""
    written = extract.path / REPORT_JSON
    if written.is_file():  # loaded (or refused) before a crash, not moved yet: only the move is left
        try:
            report = ExtractReport.from_json(json.loads(written.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            report = None
        if report is not None and report.status != "retry":
            return _move(extract, report)
    report = _report(extract, "rejected")
    refusal = _refusal(extract.finess, registry, on) or (
        None
        if report.format in FORMATS
        else f"format inconnu dans {FORMAT_FILE} : {report.format!r} (formats disponibles : {', '.join(FORMATS)})"
    )
    if refusal:
        report.reason = refusal
        return _move(extract, report)
    try:
        source = load_source(extract.finess, _text_file(extract, SOURCE_FILE) or None)
        load = FORMATS[report.format].load(
            _content(extract), installation, source, None, as_of=as_of, structure=extract.finess
        )
    except InputFileError as error:
        report.reason = str(error)
        return _move(extract, report)
    except (OSError, duckdb.IOException) as error:  # the warehouse or the vault could not be written: retried
        log.warning("extract %s of %s not loaded, retried on the next pass: %s", extract.name, extract.finess, error)
        words = os_error_words(error) if isinstance(error, OSError) else "erreur d'écriture de l'entrepôt"
        return _retry(extract, f"écriture impossible ({words}) ; l'extrait reste dans le dossier de dépôt")
    except Exception as error:  # a defect of this extract that the checks did not name: refused, not retried forever
        log.exception("extract %s of %s refused after an unexpected error", extract.name, extract.finess)
        report.reason = f"erreur inattendue pendant le chargement ({type(error).__name__} : {error})"
        return _move(extract, report)
    return _move(extract, report.with_load(load))


def _report(extract: Extract, status: Status) -> ExtractReport:
    received = dt.datetime.fromtimestamp(extract.marker.stat().st_mtime).replace(microsecond=0).isoformat()
    return ExtractReport(extract.finess, extract.name, status, _format_of(extract), received_at=received)


def _retry(extract: Extract, reason: str) -> ExtractReport:
    """An extract left where it is, for the next pass (a store or the registry could not be used)."""
    report = _report(extract, "retry")
    report.reason = reason
    report.processed_at = _now()
    return report


def _refusal(finess: str, registry: StructureRegistry, on: dt.date) -> str | None:
    """Why an extract of ``finess`` cannot be loaded on ``on`` (French: unknown, left, not joined yet), or None."""
    try:
        registry.check_active(finess, on)
    except StructureError as error:
        return str(error)
    return None


def _format_of(extract: Extract) -> str:
    return _text_file(extract, FORMAT_FILE).lower() or "pivot"


def _text_file(extract: Extract, name: str) -> str:
    """The first line of one of the extract's own text files (``format.txt``, ``source.txt``), "" if absent."""
    path = extract.path / name
    if not path.is_file():
        return ""
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[0].strip() if lines else ""


def _content(extract: Extract) -> Path:
    """What the loader reads: the extract's folder (the marker, ``format.txt`` and reports are not tables)."""
    return extract.path


def _move(extract: Extract, report: ExtractReport) -> ExtractReport:
    """Write the report into the extract, then move it to ``archive/`` or ``rejets/`` (a free name: ``-2``,
    ``-3``... when an extract of that name is already there)."""
    folder = extract.path.parent / (ARCHIVE if report.status in ("loaded", "nothing_new") else REJECTS)
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / extract.name
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{extract.name}-{number}"
    report.processed_at = report.processed_at or _now()
    report.destination = str(target)
    _write_atomic(extract.path / REPORT_TEXT, report.text())
    _write_atomic(extract.path / REPORT_JSON, json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    os.replace(extract.path, target)
    log.info("extract %s of %s: %s -> %s", extract.name, extract.finess, report.status, target)
    return report


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- depositing an extract (``proxisante ingest`` while the server runs) -------------------------------


def deposit(settings: Settings, path: Path, finess: str, file_format: str = "pivot", source: str | None = None) -> Path:
    """Copy an export (a folder, or one file) into the drop folder of ``finess`` as a complete extract: the
    copy is made under a hidden name, ``format.txt`` and ``COMPLET`` written, then renamed at once, so
    that the processor never sees it half copied; ``source`` (an export of the structure among several) goes
    to ``source.txt``. Returns the extract's folder."""
    folder = depot_root(settings) / finess
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{path.name}"
    partial = folder / f".{name}.partiel"
    if path.is_dir():
        shutil.copytree(path, partial)
    else:
        partial.mkdir(mode=0o700)
        shutil.copy2(path, partial / path.name)
    (partial / FORMAT_FILE).write_text(f"{file_format}\n", encoding="utf-8")
    if source:
        (partial / SOURCE_FILE).write_text(f"{source}\n", encoding="utf-8")
    (partial / MARKER).touch()
    target = folder / name
    os.replace(partial, target)
    return target


def wait_for_report(extract: Path, timeout: float, interval: float = 0.5) -> ExtractReport | None:
    """The report of a deposited extract once it moved to ``archive/`` or ``rejets/``; None after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        report = report_of(extract)
        if report is not None:
            return report
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def report_of(extract: Path) -> ExtractReport | None:
    """The report of an extract that has moved (under its name, or a ``-2``, ``-3``... when taken)."""
    for kind in (ARCHIVE, REJECTS):
        folder = extract.parent / kind
        for candidate in (folder / extract.name, *sorted(folder.glob(f"{extract.name}-*"))):
            written = candidate / REPORT_JSON
            if written.is_file():
                with contextlib.suppress(ValueError, OSError):
                    return ExtractReport.from_json(json.loads(written.read_text(encoding="utf-8")))
    return None


# -- loading while the server serves ---------------------------------------------------------------


@contextlib.contextmanager
def loading_installation(installation: Installation) -> Iterator[Installation]:
    """The installation on a connection of its own for a load while others read: on DuckDB a cursor of the
    same database (each connection of one process has its own transaction and sees the last commit), on
    another engine a second connection. The vault and the pseudonymiser are shared (the vault opens its
    file per operation). Closing it leaves the installation's own connection open."""
    warehouse = installation.warehouse
    if warehouse.engine == "duckdb":
        loader = Warehouse(ibis.duckdb.from_connection(warehouse.duckdb.cursor()), warehouse.url)
    else:
        loader = Warehouse.connect(warehouse.url)
    try:
        yield Installation(installation.settings, loader, installation.vault, installation.pseudonymiser)
    finally:
        loader.close()


class DropFolderWorker:
    """Processes the drop folders every ``interval`` seconds in a background thread (the web server's),
    on a connection of its own; :meth:`stop` lets the extract under way finish and takes no other."""

    def __init__(self, installation: Installation, interval: float | None = None) -> None:
        self.installation = installation
        self.interval = float(interval if interval is not None else PARAMETERS.value("poll_seconds"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="drop-folders", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> Pass:
        found = scan(depot_root(self.installation.settings))
        if not found.ready:  # nothing complete: no connection opened
            return Pass(waiting=found.waiting)
        with loading_installation(self.installation) as installation:
            return process(installation, stop=self._stop.is_set)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the server keeps serving; the next pass tries again
                log.exception("drop folders: pass failed")
            self.passes += 1
            self._stop.wait(self.interval)
