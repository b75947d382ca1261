"""Reading FHIR files into DuckDB: bulk NDJSON (one resource per line) and Bundles (one JSON document).

Every resource gets a batch-wide number (``fhir_row``) from which its file and line are found again:
``fhir_row = file.base + i`` with ``i`` the 0-based line (NDJSON) or entry (Bundle) index. The views
read it as the element ``proxisanteRow`` (the staged column ``fhir_row``): it is how each output row
of a view is traced back to its line for the quarantine.

NDJSON is read by DuckDB's own JSON reader (``read_json``), streaming, in one parse per line: the
columns asked for are ``resourceType``, ``status`` and every child of a resource that a view reads,
each as JSON, so that the staged tables hold small fragments and the views never read the resource
again. ``read_json`` gives no line numbers, but with ``ignore_errors`` it gives exactly one row per
non-blank line, in file order (a line that is not a JSON object gives a row of NULLs): when the file
has no blank line, the row number *is* the line, which is checked (rows = lines counted while
hashing). The few rows without a type are told apart (invalid JSON, or JSON that is not a resource)
by reading those lines again in Python. A file where the check fails (blank lines, a byte order
mark, a line the two readers disagree on) takes the slower, exact path: lines split with numpy, each
line parsed by DuckDB's JSON functions (type and status first, then the children per type).

Bundles are small by nature (a transaction, a search page): they are parsed with :mod:`json`, and
``urn:uuid:`` references between their entries are rewritten to ``Type/id`` so that views resolve
them like any reference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from proxisante.ingest.files import InputFileError, os_error

SUFFIXES = (".ndjson", ".jsonl", ".json")
ROW_KEY = "proxisanteRow"
# Types the views map; anything else is quarantined as unsupported.
SUPPORTED = (
    "Organization",
    "Practitioner",
    "Patient",
    "Coverage",
    "EpisodeOfCare",
    "Encounter",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Immunization",
    "Procedure",
    "ChargeItem",
)
ENTERED_IN_ERROR = "entered-in-error"  # the status a source gives a resource it recorded by mistake
CHUNK_LINES = 2_000_000  # lines handed to DuckDB at once: bounds the Arrow copy of a large file


@dataclass(frozen=True)
class FhirFile:
    """One input file: checksum, format and the range of ``fhir_row`` numbers of its resources."""

    path: Path
    sha256: str
    size_bytes: int
    kind: str  # "ndjson" or "bundle"
    base: int = 0
    count: int = 0
    lines: int = -1  # lines of an NDJSON file (newlines, plus an unterminated last line); -1: not counted


@dataclass
class Staged:
    """What reading produced: per-type resource tables, the files with their row ranges, the rejects."""

    files: list[FhirFile] = field(default_factory=list)
    # resource type -> table: fhir_row, then one JSON column per child the views read (element_column)
    tables: dict[str, str] = field(default_factory=dict)
    rejects: str = "stg_fhir_rejects"  # (fhir_row, resource_type, reason)
    files_table: str = "stg_fhir_files"  # (file_name, base, count)


def discover(path: Path) -> list[Path]:
    """FHIR files of a folder (any names ending in .ndjson, .jsonl or .json), or the file itself."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputFileError(f"{path.name} : ni un fichier FHIR ni un dossier de fichiers FHIR")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def checksum(path: Path) -> tuple[str, int, int]:
    """SHA-256, size and number of lines (counted in the same pass: the fast reader's check)."""
    digest = hashlib.sha256()
    lines, last = 0, b"\n"
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        return digest.hexdigest(), path.stat().st_size, lines + (last != b"\n")
    except OSError as error:
        raise os_error(path, error) from error


def kind_of(path: Path) -> str:
    """A Bundle is one JSON document (``resourceType`` Bundle); anything else is read as NDJSON."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError as error:
        raise os_error(path, error) from error
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return "ndjson"
    first_line = text.split(b"\n", 1)[0]
    try:
        json.loads(first_line)
    except ValueError:
        return "bundle"  # a document spread over several lines: pretty-printed, so not NDJSON
    return "bundle" if b'"Bundle"' in first_line[:200] and b'"entry"' in first_line else "ndjson"


def stage_files(
    con: duckdb.DuckDBPyConnection, files: list[FhirFile], elements: Mapping[str, list[str] | None]
) -> Staged:
    """Read every file into per-type tables; set aside lines that are not a supported resource.

    `elements` gives, per resource type, the children of the resource its views read (None: the
    views read the whole resource, whose text is then kept). They are extracted here, in the one
    parse of each resource, so that the views do not parse it again."""
    staged = Staged()
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{staged.rejects}" (fhir_row BIGINT, resource_type VARCHAR, reason VARCHAR)'
    )
    base = 1
    for info in files:
        try:
            count = _read_ndjson(con, staged, info, base, elements)
            if count is None:
                count = 0
                for offset, lines in _lines(info):
                    _insert(con, staged, lines, base + offset, elements)
                    count = offset + len(lines)
        except OSError as error:
            raise os_error(info.path, error) from error
        staged.files.append(FhirFile(info.path, info.sha256, info.size_bytes, info.kind, base, count, info.lines))
        base += count
    names = [f.path.name for f in staged.files]
    con.register(
        "fhir_files_arrow",
        pa.table(
            {
                "file_name": pa.array(names, pa.string()),
                "base": pa.array([f.base for f in staged.files], pa.int64()),
                "count": pa.array([f.count for f in staged.files], pa.int64()),
            }
        ),
    )
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{staged.files_table}" AS SELECT * FROM fhir_files_arrow')
    con.unregister("fhir_files_arrow")
    return staged


def element_column(name: str) -> str:
    """The column of a staged resource table holding the child `name` of each resource (JSON);
    ``proxisanteRow``, the resource's batch row number, is the ``fhir_row`` column itself."""
    return "fhir_row" if name == ROW_KEY else f"e_{name}"


MAX_OBJECT_BYTES = 1 << 28  # the largest resource read_json accepts on one line (its default is 16 MB)


def _read_ndjson(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    info: FhirFile,
    base: int,
    elements: Mapping[str, list[str] | None],
) -> int | None:
    """Stage an NDJSON file with ``read_json`` (one parse, streaming); its line count, or None when
    the file must take the exact path (see the module's docstring)."""
    if info.kind != "ndjson" or info.lines < 0 or any(v is None for v in elements.values()):
        return None
    with info.path.open("rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            return None
    wanted = sorted({n for v in elements.values() for n in v or () if n != ROW_KEY})
    columns = "{" + ", ".join(f"{_literal(n)}: 'JSON'" for n in sorted({*wanted, "resourceType", "status"})) + "}"
    children = "".join(f', "{n}" AS "{element_column(n)}"' for n in wanted)
    source = (
        f"read_json({_literal(str(info.path))}, format='newline_delimited', records=true, columns={columns}, "
        f"ignore_errors=true, maximum_object_size={MAX_OBJECT_BYTES})"
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE fhir_json AS SELECT "
            f"CAST({base - 1} + row_number() OVER () AS BIGINT) AS fhir_row, resourceType ->> '$' AS __type, "
            f"status ->> '$' AS __status{children} FROM {source}"
        )
    except duckdb.Error:
        return None
    untyped = [
        r for (r,) in con.execute("SELECT fhir_row FROM fhir_json WHERE __type IS NULL ORDER BY fhir_row").fetchall()
    ]
    counted = con.execute("SELECT count(*) FROM fhir_json").fetchone()
    invalid = _invalid_lines(info.path, [r - base for r in untyped])
    if not counted or counted[0] != info.lines or invalid is None:
        con.execute("DROP TABLE fhir_json")
        return None
    con.register("fhir_invalid", pa.table({"fhir_row": pa.array([base + i for i in invalid], pa.int64())}))
    supported = ", ".join(f"'{t}'" for t in SUPPORTED)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fhir_block AS
        SELECT fhir_row, rtype,
               CASE WHEN rtype IS NULL AND fhir_row IN (SELECT fhir_row FROM fhir_invalid) THEN 'JSON invalide'
                    WHEN rtype IS NULL THEN 'pas une ressource FHIR (resourceType absent)'
                    WHEN rtype NOT IN ({supported}) THEN 'type de ressource non pris en charge : ' || rtype
                    WHEN status = '{ENTERED_IN_ERROR}' THEN 'statut {ENTERED_IN_ERROR} (saisie erronée)'
               END AS reason
        FROM (SELECT fhir_row, __type AS rtype, __status AS status FROM fhir_json)
        """
    )
    con.unregister("fhir_invalid")
    con.execute(
        f'INSERT INTO "{staged.rejects}" SELECT fhir_row, rtype, reason FROM fhir_block WHERE reason IS NOT NULL'
    )
    present = [
        r
        for (r,) in con.execute("SELECT DISTINCT rtype FROM fhir_block WHERE reason IS NULL ORDER BY rtype").fetchall()
    ]
    rejected = con.execute("SELECT count(*) FROM fhir_block WHERE reason IS NOT NULL").fetchone()
    if len(present) == 1 and rejected and not rejected[0] and present[0] not in staged.tables:
        # The usual bulk export, one type per file and nothing set aside: the table is the staged one,
        # without the columns of other types (NULL, but not free: 16 bytes a row in memory).
        keep = {"fhir_row", *(element_column(n) for n in elements.get(present[0]) or ())}
        for name in ("__type", "__status", *(element_column(n) for n in wanted)):
            if name not in keep:
                con.execute(f'ALTER TABLE fhir_json DROP COLUMN "{name}"')
        staged.tables[present[0]] = f"stg_fhir_{present[0].lower()}"
        con.execute(f'ALTER TABLE fhir_json RENAME TO "{staged.tables[present[0]]}"')
        con.execute("DROP TABLE fhir_block")
        return info.lines
    for rtype in present:
        keys = [n for n in elements.get(rtype) or () if n != ROW_KEY]
        cols = "".join(f', j."{element_column(n)}"' for n in keys)
        select = (
            f"SELECT j.fhir_row{cols} FROM fhir_json j SEMI JOIN fhir_block b ON b.fhir_row = j.fhir_row "
            f"AND b.rtype = '{rtype}' AND b.reason IS NULL"
        )
        _append(con, staged, rtype, select)
    con.execute("DROP TABLE fhir_block")
    con.execute("DROP TABLE fhir_json")
    return info.lines


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _invalid_lines(path: Path, indexes: list[int]) -> list[int] | None:
    """Of the lines (0-based) read_json gave no ``resourceType``, those that are not JSON; None when one
    of them is a resource after all (the readers disagree: the exact path decides)."""
    invalid: list[int] = []
    if not indexes:
        return invalid
    wanted, last = set(indexes), max(indexes)
    with path.open("rb") as handle:
        for i, line in enumerate(handle):
            if i > last:
                break
            if i not in wanted:
                continue
            try:
                value = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                invalid.append(i)
                continue
            if isinstance(value, dict) and value.get("resourceType") is not None:
                return None
    return invalid


def _append(con: duckdb.DuckDBPyConnection, staged: Staged, rtype: str, select: str) -> None:
    """Add rows to the staged table of `rtype`, creating it on first use."""
    table = staged.tables.setdefault(rtype, f"stg_fhir_{rtype.lower()}")
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [table]).fetchone()
    if exists and exists[0]:
        con.execute(f'INSERT INTO "{table}" BY NAME {select}')
    else:
        con.execute(f'CREATE TEMP TABLE "{table}" AS {select}')


def _lines(info: FhirFile) -> Iterator[tuple[int, pa.Array]]:
    if info.kind == "bundle":
        yield 0, pa.array(_bundle_entries(info.path), pa.string())
        return
    data = info.path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # rare: keep the lines, undecodable bytes replaced (the JSON check decides)
        data = data.decode("utf-8", errors="replace").encode("utf-8")
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    if data.startswith(b"\xef\xbb\xbf") and len(starts):  # a byte order mark is not part of the JSON
        starts[0] = 3
    for lo in range(0, len(starts), CHUNK_LINES):
        s, e = starts[lo : lo + CHUNK_LINES], ends[lo : lo + CHUNK_LINES]
        offsets = np.empty(len(s) + 1, dtype=np.int32 if len(data) < 2**31 else np.int64)
        first = int(s[0]) if len(s) else 0
        offsets[:-1] = s - first
        offsets[-1] = (int(e[-1]) if len(e) else first) - first
        chunk = data[first : first + int(offsets[-1])]
        kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
        # Each string runs to the next line's start: its own newline is included (JSON allows it).
        lines = pa.Array.from_buffers(kind, len(s), [None, pa.py_buffer(offsets), pa.py_buffer(chunk)])
        yield lo, lines


def _insert(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    lines: pa.Array,
    base: int,
    elements: Mapping[str, list[str] | None],
) -> None:
    """Classify a block of lines set-based (one parse: the resource type), set aside the rejects,
    then one insert per resource type present (a second parse: the children its views read)."""
    rows = pa.array(np.arange(base, base + len(lines), dtype=np.int64))
    con.register("fhir_lines", pa.table({"fhir_row": rows, "text": lines}))
    supported = ", ".join(f"'{t}'" for t in SUPPORTED)
    # try(): a line that is not JSON gives NULL; json_valid then tells it from JSON without a type.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fhir_block AS
        SELECT fhir_row, rtype, status,
               CASE WHEN rtype IS NULL AND NOT json_valid(text) THEN 'JSON invalide'
                    WHEN rtype IS NULL THEN 'pas une ressource FHIR (resourceType absent)'
                    WHEN rtype NOT IN ({supported}) THEN 'type de ressource non pris en charge : ' || rtype
                    WHEN status = '{ENTERED_IN_ERROR}' THEN 'statut {ENTERED_IN_ERROR} (saisie erronée)'
               END AS reason
        FROM (SELECT fhir_row, text, f[1] AS rtype, f[2] AS status
              FROM (SELECT fhir_row, text, try(json_extract_string(text, ['$.resourceType', '$.status'])) AS f
                    FROM fhir_lines WHERE trim(text, ' \t\r\n') <> ''))
        """
    )
    con.execute(
        f'INSERT INTO "{staged.rejects}" SELECT fhir_row, rtype, reason FROM fhir_block WHERE reason IS NOT NULL'
    )
    present = [
        r
        for (r,) in con.execute("SELECT DISTINCT rtype FROM fhir_block WHERE reason IS NULL ORDER BY rtype").fetchall()
    ]
    for rtype in present:
        _append(con, staged, rtype, _typed_select(rtype, elements.get(rtype)))
    con.unregister("fhir_lines")
    con.execute("DROP TABLE fhir_block")


def _typed_select(rtype: str, names: list[str] | None) -> str:
    """The staged rows of one type: ``fhir_row``, the children the views read (one column each),
    and the resource's text only when a view reads it whole."""
    keys = [n for n in (names if names is not None else []) if n != ROW_KEY]
    columns = "".join(f', f[{i}] AS "{element_column(k)}"' for i, k in enumerate(keys, 1))
    paths = ", ".join("'$.\"" + k.replace("'", "''") + "\"'" for k in keys)
    extract = f", json_extract(l.text, [{paths}]) AS f" if keys else ""
    text = ", CAST(text AS JSON) AS resource" if names is None else ""
    return (
        f"SELECT fhir_row{columns}{text} FROM (SELECT l.fhir_row, l.text{extract} "
        f"FROM fhir_lines l SEMI JOIN fhir_block b ON b.fhir_row = l.fhir_row AND b.rtype = '{rtype}' "
        "AND b.reason IS NULL)"
    )


def _bundle_entries(path: Path) -> list[str]:
    """One JSON text per Bundle entry (``null`` text for an entry without a resource)."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InputFileError(f"{path.name} : pas un document JSON lisible") from error
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputFileError(
            f"{path.name} : un document JSON qui n'est pas un Bundle (une ressource par ligne attendue)"
        )
    entries = bundle.get("entry") or []
    local = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and str(entry.get("fullUrl", "")).startswith("urn:"):
            rtype = resource.get("resourceType")
            key = resource.get("id") or str(entry["fullUrl"]).rsplit(":", 1)[-1]
            resource.setdefault("id", key)
            local[entry["fullUrl"]] = f"{rtype}/{key}"
    texts = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            texts.append("{}" if resource is None else json.dumps(resource))  # quarantined: no resource
            continue
        texts.append(json.dumps(_resolve(resource, local), ensure_ascii=False, separators=(",", ":")))
    return texts


def _resolve(value: Any, local: dict[str, str]) -> Any:
    """Rewrite ``{"reference": "urn:uuid:…"}`` to the ``Type/id`` of the entry it names."""
    if isinstance(value, dict):
        out = {k: _resolve(v, local) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in local:
            out["reference"] = local[ref]
        return out
    if isinstance(value, list):
        return [_resolve(v, local) for v in value]
    return value
