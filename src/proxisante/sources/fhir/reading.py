"""Reading FHIR files into DuckDB: bulk NDJSON (one resource per line) and Bundles (one JSON document).

Every resource gets a batch-wide number (``fhir_row``) from which its file and line are found again:
``fhir_row = file.base + i`` with ``i`` the 0-based line (NDJSON) or entry (Bundle) index. The number
is written into the resource itself (``proxisanteRow``, first key) because a ViewDefinition only sees
the resource: it is how each output row of a view is traced back to its line for the quarantine.

NDJSON is split into lines with numpy over the file's bytes and handed to DuckDB as one Arrow string
column (no Python object per line); JSON is parsed set-based by DuckDB. Bundles are small by nature
(a transaction, a search page): they are parsed with :mod:`json`, and ``urn:uuid:`` references
between their entries are rewritten to ``Type/id`` so that views resolve them like any reference.
Resources are then split into one table per type, the views' sources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from proxisante.sources.files import PivotFileError

SUFFIXES = (".ndjson", ".jsonl", ".json")
ROW_KEY = "proxisanteRow"
# Types the views map; anything else is quarantined as unsupported.
SUPPORTED = (
    "Organization", "Practitioner", "Patient", "Coverage", "EpisodeOfCare", "Encounter", "Condition",
    "MedicationRequest", "MedicationStatement", "Observation", "Immunization", "Procedure", "ChargeItem",
)  # fmt: skip
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


@dataclass
class Staged:
    """What reading produced: per-type resource tables, the files with their row ranges, the rejects."""

    files: list[FhirFile] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)  # resource type -> table (column ``resource`` JSON)
    rejects: str = "stg_fhir_rejects"  # (fhir_row, resource_type, reason)
    files_table: str = "stg_fhir_files"  # (file_name, base, count)


def discover(path: Path) -> list[Path]:
    """FHIR files of a folder (any names ending in .ndjson, .jsonl or .json), or the file itself."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise PivotFileError(f"{path}: neither a FHIR file nor a folder of FHIR files")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def checksum(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_size


def kind_of(path: Path) -> str:
    """A Bundle is one JSON document (``resourceType`` Bundle); anything else is read as NDJSON."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return "ndjson"
    first_line = text.split(b"\n", 1)[0]
    try:
        json.loads(first_line)
    except ValueError:
        return "bundle"  # a document spread over several lines: pretty-printed, so not NDJSON
    return "bundle" if b'"Bundle"' in first_line[:200] and b'"entry"' in first_line else "ndjson"


def stage_files(con: duckdb.DuckDBPyConnection, files: list[FhirFile]) -> Staged:
    """Read every file into per-type tables; set aside lines that are not a supported resource."""
    staged = Staged()
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{staged.rejects}" '
                "(fhir_row BIGINT, resource_type VARCHAR, reason VARCHAR)")  # fmt: skip
    base = 1
    for info in files:
        count = 0
        for offset, lines in _lines(info):
            _insert(con, staged, lines, base + offset)
            count = offset + len(lines)
        staged.files.append(FhirFile(info.path, info.sha256, info.size_bytes, info.kind, base, count))
        base += count
    names = [f.path.name for f in staged.files]
    con.register("fhir_files_arrow", pa.table({
        "file_name": pa.array(names, pa.string()),
        "base": pa.array([f.base for f in staged.files], pa.int64()),
        "count": pa.array([f.count for f in staged.files], pa.int64()),
    }))  # fmt: skip
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{staged.files_table}" AS SELECT * FROM fhir_files_arrow')
    con.unregister("fhir_files_arrow")
    return staged


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


def _insert(con: duckdb.DuckDBPyConnection, staged: Staged, lines: pa.Array, base: int) -> None:
    """Classify a block of lines set-based: rejects, then one insert per resource type present."""
    con.register("fhir_lines", pa.table({"text": lines}))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fhir_block AS
        SELECT {base} + row_number() OVER () - 1 AS fhir_row, text, try_cast(text AS JSON) AS doc
        FROM fhir_lines
        """
    )
    con.unregister("fhir_lines")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fhir_block_typed AS
        SELECT fhir_row, text, doc, CASE WHEN json_type(doc) = 'OBJECT' THEN doc->>'resourceType' END AS rtype
        FROM fhir_block WHERE trim(text, ' \t\r\n') <> ''
        """
    )
    supported = ", ".join(f"'{t}'" for t in SUPPORTED)
    con.execute(
        f"""
        INSERT INTO "{staged.rejects}"
        SELECT fhir_row, rtype,
               CASE WHEN doc IS NULL THEN 'invalid JSON'
                    WHEN rtype IS NULL THEN 'not a FHIR resource (no resourceType)'
                    ELSE 'unsupported resource type ' || rtype END
        FROM fhir_block_typed WHERE rtype IS NULL OR rtype NOT IN ({supported})
        """
    )
    present = [r for (r,) in con.execute(
        f"SELECT DISTINCT rtype FROM fhir_block_typed WHERE rtype IN ({supported})").fetchall()]  # fmt: skip
    for rtype in present:
        table = staged.tables.setdefault(rtype, f"stg_fhir_{rtype.lower()}")
        # The row number becomes the resource's first key: string surgery, not a JSON rewrite.
        select = (
            f"SELECT ('{{\"{ROW_KEY}\":' || fhir_row || ',' || substr(ltrim(text, ' \t\r\n\ufeff'), 2))::JSON "
            f"AS resource FROM fhir_block_typed WHERE rtype = '{rtype}'"
        )
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [table]
        ).fetchone()
        if exists and exists[0]:
            con.execute(f'INSERT INTO "{table}" {select}')
        else:
            con.execute(f'CREATE TEMP TABLE "{table}" AS {select}')
    con.execute("DROP TABLE fhir_block; DROP TABLE fhir_block_typed")


def _bundle_entries(path: Path) -> list[str]:
    """One JSON text per Bundle entry (``null`` text for an entry without a resource)."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        raise PivotFileError(f"{path.name}: not a JSON document ({error})") from error
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise PivotFileError(f"{path.name}: a JSON document that is not a Bundle (one resource per line expected)")
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
