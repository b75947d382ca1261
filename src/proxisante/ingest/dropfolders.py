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
import stat
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import duckdb

from proxisante.definitions import ParameterFile
from proxisante.identity.keys import write_whole
from proxisante.ingest import FORMATS
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError, os_error_words
from proxisante.installation import Installation
from proxisante.network.depot import LOCK_FILE, depot_root, exclusive
from proxisante.network.structures import StructureError, StructureRegistry, load_source

if TYPE_CHECKING:
    from proxisante.settings import Settings

log = logging.getLogger(__name__)
PARAMETERS = ParameterFile(__package__, "dropfolders.yaml")

ARCHIVE = "archive"
REJECTS = "rejets"
MARKER = "COMPLET"
FORMAT_FILE = "format.txt"
SOURCE_FILE = "source.txt"
REPORT_JSON = "rapport.json"
REPORT_TEXT = "rapport.txt"
RESERVED = (ARCHIVE, REJECTS)
OWN_FILES = (MARKER, FORMAT_FILE, SOURCE_FILE, REPORT_JSON, REPORT_TEXT)  # files of the drop folder, not of the export

Status = Literal["loaded", "nothing_new", "rejected", "retry"]
STATUS_LABELS: dict[str, str] = {
    "loaded": "chargé",
    "nothing_new": "rien de nouveau (fichiers déjà chargés)",
    "rejected": "refusé, rien n'a été chargé",
    "retry": "non chargé, réessayé au prochain passage",
}


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
    write_whole(extract.path / REPORT_TEXT, report.text())
    write_whole(extract.path / REPORT_JSON, json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    os.replace(extract.path, target)
    log.info("extract %s of %s: %s -> %s", extract.name, extract.finess, report.status, target)
    return report


# -- depositing an extract (``proxisante ingest`` while the server runs) -------------------------------


def deposit(settings: Settings, path: Path, finess: str, file_format: str = "pivot", source: str | None = None) -> Path:
    """Copy an export (a folder, or one file) into the drop folder of ``finess`` as a complete extract: the
    copy is made under a hidden name, ``format.txt`` and ``COMPLET`` written, then renamed at once, so
    that the processor never sees it half copied; ``source`` (an export of the structure among several) goes
    to ``source.txt``. Returns the extract's folder."""

    def copy(partial: Path) -> None:
        if path.is_dir():
            shutil.copytree(path, partial)
        else:
            partial.mkdir(mode=0o700)
            shutil.copy2(path, partial / path.name)

    return _publish(settings, finess, path.name, copy, file_format, source)


def _publish(
    settings: Settings,
    finess: str,
    label: str,
    fill: Callable[[Path], None],
    file_format: str = "pivot",
    source: str | None = None,
) -> Path:
    """The one way an extract enters a drop folder: ``fill`` writes the export's files into a hidden folder
    (the scan skips hidden names), then ``format.txt``, ``source.txt`` and ``COMPLET`` are written last and
    the folder renamed at once. On any failure the hidden folder is removed: nothing is deposited."""
    folder = depot_root(settings) / finess
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{label}"
    partial = folder / f".{name}.partiel"
    try:
        fill(partial)
        (partial / FORMAT_FILE).write_text(f"{file_format}\n", encoding="utf-8")
        if source:
            (partial / SOURCE_FILE).write_text(f"{source}\n", encoding="utf-8")
        (partial / MARKER).touch()
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    target = folder / name
    os.replace(partial, target)
    return target


# -- an extract uploaded as a zip (the web administration) ------------------------------------------------


class ZipRefused(ValueError):
    """An uploaded archive that cannot be deposited (French message); nothing was deposited."""


@dataclass(frozen=True)
class ZipLimits:
    """How much an uploaded zip may unpack to: ``upload_max_uncompressed_bytes`` and ``upload_max_files`` of
    ``dropfolders.yaml``."""

    max_bytes: int
    max_files: int


def upload_limits() -> ZipLimits:
    return ZipLimits(int(PARAMETERS.value("upload_max_uncompressed_bytes")), int(PARAMETERS.value("upload_max_files")))


_CHUNK = 1 << 20


def deposit_zip(
    settings: Settings,
    archive: BinaryIO,
    label: str,
    finess: str,
    file_format: str = "pivot",
    limits: ZipLimits | None = None,
) -> Path:
    """Unpack an uploaded zip into the drop folder of ``finess`` as a complete extract (as :func:`deposit`:
    hidden folder, ``format.txt`` and ``COMPLET`` last, one rename). Refused with :class:`ZipRefused`
    (French), nothing deposited: not a zip, empty, an entry with an absolute path, ``..``, a link or a
    special file, a name of the drop folder's own files, more files or more unpacked bytes than
    ``limits`` (counted while unpacking too, not only as the archive declares). One folder holding every
    file is unpacked as the extract itself (the loaders read the extract's top level)."""
    limits = limits or upload_limits()
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ZipRefused("le fichier n'est pas une archive zip lisible") from error
    with zipped:
        members = _checked_members(zipped, limits)
        safe_label = _safe_label(label)

        def unpack(partial: Path) -> None:
            partial.mkdir(mode=0o700)
            written = 0
            for info, parts in members:
                target = partial.joinpath(*parts)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                try:
                    with zipped.open(info) as source, open(target, "xb") as out:
                        while chunk := source.read(_CHUNK):
                            written += len(chunk)
                            if written > limits.max_bytes:
                                raise ZipRefused(_too_big(limits))
                            out.write(chunk)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError) as error:
                    raise ZipRefused(f"entrée « {info.filename} » illisible ({error})") from error

        return _publish(settings, finess, safe_label, unpack, file_format)


def _too_big(limits: ZipLimits) -> str:
    return f"archive trop volumineuse une fois décompressée (au plus {limits.max_bytes // (1 << 20)} Mio)"


def _safe_label(label: str) -> str:
    """The extract's name after its stamp: the upload's file name without ``.zip``, safe characters only."""
    stem = Path(label.replace("\\", "/")).name
    stem = stem[:-4] if stem.lower().endswith(".zip") else stem
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")
    return cleaned[:60] or "extrait"


def _checked_members(zipped: zipfile.ZipFile, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """The archive's files with their path parts, every entry checked (see :func:`deposit_zip`)."""
    files: list[tuple[zipfile.ZipInfo, list[str]]] = []
    declared = 0
    for info in zipped.infolist():
        name = info.filename
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or not parts:
            raise ZipRefused(f"chemin absolu refusé dans l'archive : « {name} »")
        if ".." in parts:
            raise ZipRefused(f"chemin sortant du dossier refusé dans l'archive : « {name} »")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "lien symbolique" if kind == stat.S_IFLNK else "fichier spécial"
            raise ZipRefused(f"{what} refusé dans l'archive : « {name} »")
        if info.is_dir():
            continue
        files.append((info, parts))
        declared += info.file_size
        if len(files) > limits.max_files:
            raise ZipRefused(f"trop de fichiers dans l'archive (au plus {limits.max_files})")
        if declared > limits.max_bytes:
            raise ZipRefused(_too_big(limits))
    if not files:
        raise ZipRefused("l'archive est vide (aucun fichier)")
    tops = {parts[0] for _, parts in files}
    if len(tops) == 1 and all(len(parts) > 1 for _, parts in files):  # one folder holding everything
        files = [(info, parts[1:]) for info, parts in files]
    seen: set[tuple[str, ...]] = set()
    for info, parts in files:
        key = tuple(p.lower() for p in parts)
        if key in seen:
            raise ZipRefused(f"fichier en double dans l'archive : « {info.filename} »")
        seen.add(key)
        if len(parts) == 1 and parts[0] in OWN_FILES:
            raise ZipRefused(f"nom réservé au dossier de dépôt dans l'archive : « {info.filename} »")
    return files


@dataclass(frozen=True)
class ExtractState:
    """Where a deposited extract stands: ``waiting`` (in the drop folder), ``running`` (being loaded),
    or its report's status once it has moved."""

    state: str
    report: ExtractReport | None = None

    @property
    def done(self) -> bool:
        return self.report is not None


def state_of(extract: Path) -> ExtractState | None:
    """The state of the extract deposited at ``extract`` (``depot/<FINESS>/<name>``); None if it is nowhere.
    It is *running* when a pass holds the processing lock and it is the first complete extract still there
    (a pass takes them in order of arrival and moves each once done)."""
    report = report_of(extract)
    if report is not None:
        return ExtractState(report.status, report)
    if not extract.is_dir():
        return None
    root = extract.parent.parent
    if _pass_under_way(root):
        ready = scan(root).ready
        if ready and ready[0].path == extract:
            return ExtractState("running")
    return ExtractState("waiting")


def _pass_under_way(root: Path) -> bool:
    lock = root / LOCK_FILE
    if not lock.is_file():
        return False
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


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
    """The installation on a connection of its own for a load while others read
    (:meth:`Installation.another_connection`; the installation itself on an engine that has one
    connection only). Closing it leaves the installation's own connection open."""
    loader = installation.another_connection()
    try:
        yield loader or installation
    finally:
        if loader is not None:
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
