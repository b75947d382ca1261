"""Reading one export file as it really comes: ``;`` or ``,``, UTF-8 or Windows-1252, CSV or Parquet.

Every value is read as text: parsing dates, decimals and codes is the validator's job, so that a bad
value becomes a quarantined field, never a failed file. Each row keeps its line number in the file
(``__line``, the header being line 1) so that every error can name it.

Clean files take the fast path: Arrow's multi-threaded CSV reader, whose table DuckDB then scans in
place. A file with malformed lines (too many or too few fields) falls back to Python's ``csv``
module, which sets those lines aside as rejects instead of failing the whole file.

The encoding is decided per line, not guessed once for the file: a file that is not all UTF-8 but
has lines that are (an export appended to by two programs) is *mixed*; its lines in the minority
encoding are set aside with a French reason instead of being decoded as mojibake. A file that cannot
be read at all (unreadable, corrupt or nested Parquet, a reserved column name) raises
:class:`InputFileError` with a French message naming the file, never a value of it.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1 << 22
ENCODINGS = ("utf-8", "cp1252", "latin-1")
DELIMITERS = (";", ",", "\t", "|")
LINE = "__line"
# Column names the staging uses itself: a file's header may not have them.
RESERVED_PREFIX = "__"
# A control character (C0 but tabulation and line breaks, DEL, C1 as UTF-8 writes it): a file without
# any, read by the fast path, needs no search for them value by value.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
# A bytes sequence that only UTF-8 writes: a file with one, yet not all UTF-8, may mix encodings.
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
# French words for the system errors met reading or writing a file (the system's own text is English).
OS_ERRORS = {
    errno.EACCES: "accès refusé",
    errno.EPERM: "accès refusé",
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTEMPTY: "dossier non vide",
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.EIO: "erreur d'entrée-sortie du disque",
    errno.ENAMETOOLONG: "nom trop long",
    errno.ELOOP: "lien symbolique en boucle",
}


class InputFileError(ValueError):
    """A file that cannot be read at all (the batch stops, nothing is loaded). Its message is French
    and names the file, never a value of it."""


def os_error(path: Path, error: OSError) -> InputFileError:
    """The French refusal of a file the system cannot read (or write while reading it)."""
    return InputFileError(f"{path.name} : lecture impossible ({os_error_words(error)})")


def os_error_words(error: OSError) -> str:
    """What the system said, in French."""
    return OS_ERRORS.get(error.errno or 0, f"erreur système n° {error.errno}" if error.errno else "erreur système")


@dataclass(frozen=True)
class FileInfo:
    """What we learnt about a file before reading it."""

    path: Path
    sha256: str
    size_bytes: int
    encoding: str  # "utf-8", "cp1252", "latin-1" or "parquet"
    delimiter: str  # "" for Parquet
    # Some lines are UTF-8 and others not: the lines not in ``encoding`` are set aside when staged.
    mixed: bool = False
    # What the reading pass saw of the bytes: a control character (or a tabulation) somewhere, and the
    # longest line in bytes (-1: not measured); the fast path turns them into RawFile's bounds.
    controls: bool = True
    tabs: bool = True
    longest_line: int = -1


@dataclass
class RawFile:
    """A file staged as a table of text columns, plus the lines that could not be split into fields."""

    info: FileInfo
    table: str  # name of the staged DuckDB table: one VARCHAR column per header name
    columns: list[str]
    # Lines set aside while reading: (line, field or None, French reason).
    malformed: list[tuple[int, str | None, str]] = field(default_factory=list)
    # What no value of the file can hold, when the reader knows: a control character (False: none), more
    # characters than ``longest`` (None: unknown). The validator skips the searches these rule out.
    controls: bool = True
    longest: int | None = None
    # Rows a format set aside before validation (e.g. a FHIR code of an unknown system): the name of a
    # table (line, field, reason, value); they count as read and quarantined.
    rejects: str | None = None


def inspect_file(path: Path) -> FileInfo:
    """Checksum, encoding and delimiter of a file, in one streaming pass."""
    try:
        return _inspect(path)
    except OSError as error:
        raise os_error(path, error) from error


def _inspect(path: Path) -> FileInfo:
    digest = hashlib.sha256()
    # Windows-1252 leaves five bytes undefined: a file with one of them is Latin-1.
    decoders = {name: codecs.getincrementaldecoder(name)() for name in ENCODINGS}
    possible = list(ENCODINGS)
    head, tail = b"", b""
    utf8_seen = controls = tabs = False
    longest = carry = 0  # the longest line so far, the length of the line the chunk ends in
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if len(head) < 65536:
                head += chunk[:65536]
            for name in possible[:-1]:
                try:
                    decoders[name].decode(chunk)
                except UnicodeDecodeError:
                    possible.remove(name)
            # Searched in what is not printable ASCII (usually nothing, or a few accents): bytes that were
            # apart may meet there, which can only make a search find more (a slower, exact path).
            rest = (tail + chunk).translate(None, PRINTABLE)
            if rest:
                utf8_seen = utf8_seen or UTF8_SEQUENCE.search(rest) is not None
                controls = controls or CONTROL_BYTES.search(rest) is not None
            tabs = tabs or b"\t" in chunk
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if len(ends):
                longest = max(longest, carry + int(ends[0]), int(np.diff(ends).max(initial=1)) - 1)
                carry = len(chunk) - int(ends[-1]) - 1
            else:
                carry += len(chunk)
            tail = chunk[-3:]
    longest = max(longest, carry)
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":
        return FileInfo(path, digest.hexdigest(), size, "parquet", "")
    encoding, mixed = possible[0], False
    if encoding != "utf-8" and utf8_seen:
        encoding, mixed = _line_encodings(path)
    first_line = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:1]
    if not first_line:
        raise InputFileError(f"{path.name} : fichier vide (une ligne d'en-tête est attendue)")
    delimiter = max(DELIMITERS, key=first_line[0].count)
    # Latin-1 reads bytes 0x80-0x9F as C1 controls: such a file is searched value by value.
    controls = controls or encoding == "latin-1"
    return FileInfo(path, digest.hexdigest(), size, encoding, delimiter, mixed, controls, tabs, longest)


def _line_class(line: bytes) -> str | None:
    """``utf-8`` for a line only UTF-8 explains, ``legacy`` for one UTF-8 cannot decode, None for ASCII."""
    if line.isascii():
        return None
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "legacy"
    return "utf-8"


def _legacy_encoding(lines: list[bytes]) -> str:
    try:
        for line in lines:
            line.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _line_encodings(path: Path) -> tuple[str, bool]:
    """The encoding of most non-ASCII lines of a file that is not all UTF-8, and whether others differ."""
    utf8, legacy = 0, []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            kind = _line_class(line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line)
            if kind == "utf-8":
                utf8 += 1
            elif kind == "legacy":
                legacy.append(line)
    if not utf8 or not legacy:
        return ("utf-8" if not legacy else _legacy_encoding(legacy)), False
    return ("utf-8" if utf8 >= len(legacy) else _legacy_encoding(legacy)), True


def header(info: FileInfo) -> list[str]:
    """Column names of a CSV file, lower-cased and trimmed (exports vary in case and spacing)."""
    try:
        with info.path.open("rb") as handle:
            first = handle.readline(1 << 20)
    except OSError as error:
        raise os_error(info.path, error) from error
    first = re.split(rb"\r\n|\r|\n", first.removeprefix(b"\xef\xbb\xbf"), maxsplit=1)[0]  # old Macs end lines with CR
    text = first.decode(_line_encoding(first, info), errors="replace")
    row = next(csv.reader([text], delimiter=info.delimiter), [])
    return checked_names(info.path, [name.lstrip("\ufeff").strip().lower() for name in row])


def _line_encoding(line: bytes, info: FileInfo) -> str:
    kind = _line_class(line.removeprefix(b"\xef\xbb\xbf"))
    if kind == "utf-8":
        return "utf-8"
    return info.encoding if info.encoding != "utf-8" or kind is None else "cp1252"


def checked_names(path: Path, names: list[str]) -> list[str]:
    """The header's names, refused when one is reserved or appears twice.

    The message names columns by position only: a file without a header has patient data on line 1.
    """
    reserved = [i for i, name in enumerate(names, 1) if name.startswith(RESERVED_PREFIX)]
    if reserved:
        raise InputFileError(
            f"{path.name} : ligne 1 : colonne(s) n° {', '.join(map(str, reserved))} : un nom commençant par "
            f"« {RESERVED_PREFIX} » est réservé à l'entrepôt"
        )
    seen: dict[str, int] = {}
    twice = []
    for i, name in enumerate(names, 1):
        if name in seen:
            twice.append(f"{seen[name]} et {i}")
        seen.setdefault(name, i)
    if twice:
        raise InputFileError(f"{path.name} : ligne 1 : les colonnes n° {', '.join(twice)} portent le même nom")
    return names


def stage(con: duckdb.DuckDBPyConnection, info: FileInfo, table: str) -> RawFile:
    """Make a file scannable as ``table`` in DuckDB (all text, with ``__line``).

    The rows stay in an Arrow table that DuckDB scans in place: copying millions of text values
    into a DuckDB table would cost more than reading the file.
    """
    try:
        if info.encoding == "parquet":
            return _stage_parquet(con, info, table)
        columns = header(info)
        if info.mixed:
            return _stage_csv_exact(con, info, columns, table)
        try:
            arrow = _read_csv_fast(info, columns)
        except (pa.ArrowException, UnicodeDecodeError):
            return _stage_csv_exact(con, info, columns, table)
        con.register(table, arrow)
        # The fast path splits no value across lines: a value is at most a line long.
        controls = info.controls or (info.tabs and info.delimiter != "\t")
        return RawFile(
            info, table, columns, controls=controls, longest=info.longest_line if info.longest_line >= 0 else None
        )
    except OSError as error:
        raise os_error(info.path, error) from error


def _read_csv_fast(info: FileInfo, columns: list[str]) -> pa.Table:
    """Multi-threaded Arrow reader; any malformed line raises, and the exact reader takes over."""
    arrow = pacsv.read_csv(
        info.path,
        read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1, encoding=info.encoding, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=info.delimiter, quote_char='"', double_quote=True, newlines_in_values=False
        ),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns}, strings_can_be_null=False),
    )
    lines = pa.array(np.arange(2, arrow.num_rows + 2, dtype=np.int64))
    return arrow.add_column(0, LINE, lines)


def _decoded_lines(info: FileInfo, foreign: set[int]) -> Iterator[str]:
    """The file's lines as text, each decoded in its own encoding; the numbers of the lines that are not
    in the file's encoding are added to ``foreign`` (for a file that is not mixed: none)."""
    if not info.mixed:  # lines split by the text reader, which knows every line ending
        with info.path.open(encoding=info.encoding, errors="replace", newline="") as text:
            yield from text
        return
    with info.path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            kind = _line_class(line)
            own = info.encoding if kind is None else "utf-8" if kind == "utf-8" else "cp1252"
            if kind is not None and (own == "utf-8") != (info.encoding == "utf-8"):
                foreign.add(number)
            yield line.decode(own, errors="replace")


def _stage_csv_exact(con: duckdb.DuckDBPyConnection, info: FileInfo, columns: list[str], table: str) -> RawFile:
    lines: list[int] = []
    values: list[list[str | None]] = [[] for _ in columns]
    malformed: list[tuple[int, str | None, str]] = []
    foreign: set[int] = set()
    # No limit on a field's size here: an over-long value is quarantined by the validator with its field.
    csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))
    reader = csv.reader(_decoded_lines(info, foreign), delimiter=info.delimiter)
    next(reader, None)
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            malformed.append((reader.line_num, None, "ligne illisible (guillemets ou séparateurs incohérents)"))
            last = reader.line_num
            continue
        line, first, last = reader.line_num, last + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if foreign and any(n in foreign for n in range(first, line + 1)):
            encoding = ENCODING_NAMES.get(info.encoding, info.encoding)
            cells = [name for name, cell in zip(columns, row, strict=False) if not cell.isascii()]
            reason = f"encodage différent du reste du fichier ({encoding} attendu) : ligne non lue"
            malformed.append((line, cells[0] if cells else None, reason))
            continue
        if len(row) != len(columns):
            malformed.append((line, None, f"ligne mal formée : {len(row)} champ(s), {len(columns)} attendu(s)"))
            continue
        lines.append(line)
        for target, cell in zip(values, row, strict=True):
            target.append(cell)
    arrow = pa.table(
        {
            LINE: pa.array(lines, pa.int64()),
            **{c: pa.array(v, pa.string()) for c, v in zip(columns, values, strict=True)},
        }
    )
    con.register(table, arrow)
    return RawFile(info, table, columns, malformed)


def _stage_parquet(con: duckdb.DuckDBPyConnection, info: FileInfo, table: str) -> RawFile:
    try:
        arrow = pq.read_table(info.path)
    except (pa.ArrowException, OSError, ValueError) as error:
        if isinstance(error, OSError) and error.errno:  # the system's error, not Arrow's (which has no errno)
            raise os_error(info.path, error) from error
        raise InputFileError(f"{info.path.name} : fichier Parquet illisible (corrompu ou tronqué)") from error
    columns = checked_names(info.path, [name.strip().lower() for name in arrow.column_names])
    text = []
    for position, column in enumerate(arrow.columns, 1):
        if pa.types.is_nested(column.type):
            raise InputFileError(
                f"{info.path.name} : colonne n° {position} : valeurs imbriquées (liste ou structure), "
                "une valeur simple par cellule attendue"
            )
        try:
            text.append(column.cast(pa.string()))
        except pa.ArrowException as error:
            raise InputFileError(
                f"{info.path.name} : colonne n° {position} : type Parquet {column.type} non lisible comme texte"
            ) from error
    lines = pa.array(np.arange(2, arrow.num_rows + 2, dtype=np.int64))
    con.register(table, pa.Table.from_arrays([lines, *text], names=[LINE, *columns]))
    return RawFile(info, table, columns)


def _quote(name: str) -> str:
    return name.replace("'", "''")
