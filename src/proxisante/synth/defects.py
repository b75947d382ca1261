"""Defects of real exports, injected at a small seeded rate and recorded line by line.

Why: a loader is only trustworthy if it quarantines exactly the bad lines of a file and keeps the
others. Each injected defect is recorded with its file and line (the header is line 1), so a test
can compare the loader's quarantine with ``defects.json``, one line at a time.

Kinds (``KINDS``), and where they go:

- ``duplicate_row``: an exact copy of a clean row, appended after the chunk's rows (any event table
  and patients); the copy's line is recorded;
- ``duplicate_key``: a copy with the same key and a different event date (tables nothing refers
  to); the copy's line is recorded, with ``original_line``;
- ``invalid_date``: an impossible calendar date such as ``31/02/2024`` (CSV only: a typed Parquet
  date cannot hold it);
- ``future_date``: a date about 30 years ahead (a typing error, after any load date);
- ``event_before_birth``: a date before the patient's birth;
- ``unknown_code``: an act code that is neither an NGAP key nor a CCAM code;
- ``malformed_code``: a CIM-10 or ATC code with letters and digits confused;
- ``missing_required``: an empty required field;
- ``unknown_patient``: a reference to a patient who is not in patients;
- ``wrong_nir_key``: an extra patient whose NIR has a wrong key (and no INS);
- ``encoding_cp1252``: the whole patients file in Windows-1252 with CRLF line ends (CSV only;
  recorded with ``line: null``: nothing is to be quarantined, the file must be read correctly).

Row defects hit only rows that no other row refers to (or, for duplicates, copies whose original
stays valid), so quarantining them never cascades to other rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow as pa

from proxisante.ingest.pivot.format import TABLES_BY_NAME
from proxisante.synth.chunk import SEXES, Chunk
from proxisante.synth.codes import nir_key_one
from proxisante.synth.frames import Cat, Frame, concat, length, numeric, take
from proxisante.synth.identities import nir_numbers
from proxisante.synth.parameters import Parameters
from proxisante.synth.timeline import INVALID_BASE, NEVER, add_years

KINDS = (
    "duplicate_row",
    "duplicate_key",
    "invalid_date",
    "future_date",
    "event_before_birth",
    "unknown_code",
    "malformed_code",
    "missing_required",
    "unknown_patient",
    "wrong_nir_key",
    "encoding_cp1252",
)
# Tables no other table refers to: a quarantined row there never orphans another row.
LEAVES = (
    "coverage",
    "mt_declarations",
    "diagnoses",
    "prescriptions",
    "lab_results",
    "vaccinations",
    "procedures",
    "acts",
)
DUPLICABLE = (*LEAVES, "encounters", "patients")
MALFORMED_COLUMNS = {"diagnoses": "cim10", "prescriptions": "atc"}


@dataclass
class Defect:
    """One injected defect: where it is and what it is."""

    kind: str
    table: str
    file: str
    line: int | None
    column: str | None = None
    key: str | None = None
    value: str | None = None
    original_line: int | None = None


class DefectInjector:
    """Injects defects chunk by chunk and keeps the record."""

    def __init__(
        self, params: Parameters, seed: int, file_format: str, patients: int, rate: float | None = None
    ) -> None:
        self.params = params
        self.file_format = file_format
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xDEFEC7])))
        section = params.section("defects")
        self.rate = float(section["rate"]["value"]) if rate is None else rate
        self.min_count = int(section["min_count"]["value"])
        self.invalid_dates = tuple(section["invalid_dates"]["values"])
        self.future_years = tuple(section["future_offset_years"]["value"])
        self.before_birth = tuple(section["before_birth_days"]["value"])
        self.unknown_ngap = tuple(section["unknown_ngap"]["values"])
        self.malformed = {
            "diagnoses": tuple(section["malformed_cim10"]["values"]),
            "prescriptions": tuple(section["malformed_atc"]["values"]),
        }
        self.unknown_base = int(section["unknown_patient_id_base"]["value"])
        self.cp1252_table = str(section["cp1252_table"]["value"])
        self.defect_names = [tuple(x) for x in section["defect_patient_names"]["values"]]
        self.defect_patient_ages = tuple(section["defect_patient_age_years"]["value"])
        self.patients = patients
        self.records: list[Defect] = []
        self._unknown = 0

    @property
    def kinds(self) -> tuple[str, ...]:
        if self.file_format == "csv":
            return KINDS
        return tuple(k for k in KINDS if k not in ("invalid_date", "encoding_cp1252"))

    def encoding(self, table: str, default: str = "utf-8") -> str:
        return "cp1252" if self.file_format == "csv" and table == self.cp1252_table else default

    def _file(self, table: str) -> str:
        return f"{table}.{self.file_format}"

    def _count(self, eligible_rows: int, first_chunk: bool) -> int:
        count = int(self.rng.binomial(eligible_rows, self.rate)) if eligible_rows else 0
        return max(count, self.min_count) if first_chunk and eligible_rows else count

    def inject(
        self, chunk: Chunk, tables: dict[str, Frame], written: dict[str, int], last_chunk: bool
    ) -> dict[str, Frame]:
        """Return the chunk's tables with defects; ``written`` = rows already in each file."""
        first = chunk.index == 0
        used: dict[str, set[int]] = {t: set() for t in tables}
        appended: dict[str, list[Frame]] = {t: [] for t in tables}
        tables = dict(tables)

        def line(table: str, row: int) -> int:
            return written.get(table, 0) + row + 2

        def pick(candidates: tuple[str, ...]) -> tuple[str, int] | None:
            sizes = np.array([length(tables.get(t, {})) - len(used.get(t, ())) for t in candidates], dtype=float)
            if sizes.sum() <= 0:
                return None
            table = candidates[int(self.rng.choice(len(candidates), p=sizes / sizes.sum()))]
            n = length(tables[table])
            for _ in range(50):
                row = int(self.rng.integers(0, n))
                if row not in used[table]:
                    used[table].add(row)
                    return table, row
            return None

        def eligible(candidates: tuple[str, ...]) -> int:
            return sum(length(tables.get(t, {})) for t in candidates)

        def key_of(table: str, row: int) -> str:
            spec = TABLES_BY_NAME[table]
            column = tables[table][spec.key]
            return str(column.decoded()[row]) if isinstance(column, Cat) else str(column[row])

        for kind in self.kinds:
            if kind in ("wrong_nir_key", "encoding_cp1252"):
                continue
            candidates: tuple[str, ...] = DUPLICABLE if kind == "duplicate_row" else LEAVES
            if kind == "unknown_code":
                candidates = ("acts",)
            elif kind == "malformed_code":
                candidates = tuple(MALFORMED_COLUMNS)
            for _ in range(self._count(eligible(candidates), first)):
                chosen = pick(candidates)
                if chosen is None:
                    break
                table, row = chosen
                self._apply(kind, chunk, tables, appended, table, row, line, key_of)

        if last_chunk:
            if "wrong_nir_key" in self.kinds:
                appended["patients"].extend(self._bad_patients(chunk))
            if "encoding_cp1252" in self.kinds:
                self.records.append(
                    Defect("encoding_cp1252", self.cp1252_table, self._file(self.cp1252_table), None, value="cp1252")
                )

        for table, extra in appended.items():
            if not extra:
                continue
            base = length(tables[table])
            for frame in extra:
                if "_defect" in frame:
                    # An appended frame carries its Defect under "_defect" until its line is known.
                    record = cast(Defect, frame.pop("_defect"))
                    record.line = line(table, base)
                base += length(frame)
            tables[table] = concat([tables[table], *extra])
        return tables

    def _apply(
        self,
        kind: str,
        chunk: Chunk,
        tables: dict[str, Frame],
        appended: dict[str, list[Frame]],
        table: str,
        row: int,
        line: Callable[[str, int], int],
        key_of: Callable[[str, int], str],
    ) -> None:
        spec = TABLES_BY_NAME[table]
        frame = tables[table]
        file = self._file(table)
        if kind == "duplicate_row":
            copy = take(frame, np.array([row]))
            copy["_defect"] = self._record(
                Defect(kind, table, file, None, key=key_of(table, row), original_line=line(table, row))
            )
            appended[table].append(copy)
            return
        # Every other kind hits a table of LEAVES (or a subset), all of which have an event date.
        date_column = spec.event_date
        assert date_column is not None
        if kind == "duplicate_key":
            copy = take(frame, np.array([row]))
            births = self._births(chunk, numeric(copy, "patient_id"))
            shifted = numeric(copy, date_column) - self.rng.integers(1, 31)
            copy[date_column] = np.maximum(shifted, births)
            copy["_defect"] = self._record(
                Defect(
                    kind, table, file, None, column=date_column, key=key_of(table, row), original_line=line(table, row)
                )
            )
            appended[table].append(copy)
            return
        record = Defect(kind, table, file, line(table, row), key=key_of(table, row))
        if kind == "invalid_date":
            k = int(self.rng.integers(0, len(self.invalid_dates)))
            self._set(frame, date_column, row, INVALID_BASE - k)
            record.column, record.value = date_column, self.invalid_dates[k]
        elif kind == "future_date":
            offset = int(self.rng.integers(self.future_years[0], self.future_years[1] + 1))
            later = add_years(numeric(frame, date_column)[row : row + 1], np.array([offset]))
            self._set(frame, date_column, row, int(later[0]))
            record.column = date_column
        elif kind == "event_before_birth":
            birth = int(self._births(chunk, numeric(frame, "patient_id")[row : row + 1])[0])
            days_before = int(self.rng.integers(self.before_birth[0], self.before_birth[1]))
            self._set(frame, date_column, row, birth - days_before)
            record.column = date_column
        elif kind == "unknown_code":
            value = self.unknown_ngap[int(self.rng.integers(0, len(self.unknown_ngap)))]
            self._set_code(frame, "code", row, value)
            record.column, record.value = "code", value
        elif kind == "malformed_code":
            column = MALFORMED_COLUMNS[table]
            options = self.malformed[table]
            value = options[int(self.rng.integers(0, len(options)))]
            self._set_code(frame, column, row, value)
            record.column, record.value = column, value
        elif kind == "missing_required":
            columns = [
                c.name
                for c in spec.columns
                if c.required and c.kind != "key" and c.name != "patient_id" and c.name in frame
            ]
            column = columns[int(self.rng.integers(0, len(columns)))]
            self._empty(frame, column, row, spec.column(column).kind)
            record.column = column
        elif kind == "unknown_patient":
            self._unknown += 1
            value = self.unknown_base + self._unknown
            self._set(frame, "patient_id", row, value)
            record.column, record.value = "patient_id", str(value)
        self._record(record)

    def _record(self, record: Defect) -> Defect:
        self.records.append(record)
        return record

    @staticmethod
    def _births(chunk: Chunk, patient_ids: np.ndarray) -> np.ndarray:
        return chunk.birth[np.asarray(patient_ids) - chunk.lo - 1]

    @staticmethod
    def _set(frame: Frame, column: str, row: int, value: int) -> None:
        array = np.array(frame[column], copy=True)
        array[row] = value
        frame[column] = array

    @staticmethod
    def _set_code(frame: Frame, column: str, row: int, value: str) -> None:
        cat = frame[column]
        assert isinstance(cat, Cat)
        cat, code = cat.code(value)
        idx = cat.idx.copy()
        idx[row] = code
        frame[column] = Cat(idx, cat.values)

    @staticmethod
    def _empty(frame: Frame, column: str, row: int, kind: str) -> None:
        value = frame[column]
        if isinstance(value, Cat):
            idx = value.idx.copy()
            idx[row] = -1
            frame[column] = Cat(idx, value.values)
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            DefectInjector._set_float(frame, column, row)
        elif isinstance(value, np.ndarray):
            DefectInjector._set(frame, column, row, int(NEVER) if kind == "date" else -1)

    @staticmethod
    def _set_float(frame: Frame, column: str, row: int) -> None:
        array = np.array(frame[column], dtype=np.float64, copy=True)
        array[row] = np.nan
        frame[column] = array

    def _bad_patients(self, chunk: Chunk) -> list[Frame]:
        """Extra patients (nothing refers to them) whose NIR key is wrong, with accented names."""
        count = max(self.min_count, len(self.defect_names))
        names = [self.defect_names[i % len(self.defect_names)] for i in range(count)]
        low, high = self.defect_patient_ages
        birth = (chunk.ctx.start - self.rng.integers(low * 365, high * 365, count)).astype(np.int64)
        female = np.array([i % 2 == 0 for i in range(count)])
        department = np.array([str(chunk.ctx.area.communes.department[chunk.ctx.area.centre])] * count, dtype=object)
        good = nir_numbers(self.params, self.rng, female, birth, department)
        bad = [n[:13] + f"{(nir_key_one(n[:13]) % 97) + 1:02d}" for n in good]
        ids = self.patients + 1 + np.arange(count, dtype=np.int64)
        communes = chunk.ctx.area.communes
        centre = chunk.ctx.area.centre
        frames = []
        for i in range(count):
            record = self._record(
                Defect("wrong_nir_key", "patients", self._file("patients"), None, column="nir", key=str(ids[i]))
            )
            frames.append(
                {
                    "patient_id": ids[i : i + 1],
                    "ins": pa.nulls(1, pa.string()),
                    "nir": pa.array([bad[i]]),
                    "family_name": pa.array([names[i][0]]),
                    "birth_name": pa.array([names[i][0]]),
                    "given_names": pa.array([names[i][1]]),
                    "birth_date": birth[i : i + 1],
                    "sex": Cat.of(np.array([int(female[i])]), SEXES),
                    "address": pa.array([f"{i + 1} rue de la Mairie"]),
                    "postcode": pa.array([str(communes.postcode[centre]) or None], type=pa.string()),
                    "commune_insee": pa.array([str(communes.insee[centre])]),
                    "phone": pa.nulls(1, pa.string()),
                    "death_date": np.array([NEVER], dtype=np.int64),
                    "_defect": record,
                }
            )
        return frames

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for record in self.records:
            out[record.kind] += 1
        return out

    def write(self, path: Path, seed: int) -> None:
        document = {
            "seed": seed,
            "file_format": self.file_format,
            "rate": self.rate,
            "min_count": self.min_count,
            "line_numbering": "1-based physical lines, the header is line 1 (Parquet: row index + 2)",
            "counts": self.counts(),
            "defects": [asdict(r) for r in self.records],
        }
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
