"""``generate_centre``: a whole synthetic centre written in the pivot format (or as FHIR NDJSON).

The steps: draw the cohort (everyone, a few arrays per patient), size the team from it, then for
each chunk of patients draw every table's rows and append them to the files. The output depends
only on the options (seed included) and ``parameters.yaml``: the same options give the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np

from proxisante.ingest.pivot.format import TABLES
from proxisante.synth.chunk import Chunk, Context, Vocab
from proxisante.synth.clinical import lab_results, lab_table, screening, vaccination_table, vaccinations
from proxisante.synth.defects import Defect, DefectInjector
from proxisante.synth.events import (
    ald_rows,
    derived_tables,
    drug_lines,
    encounter_parts,
    encounter_table,
    finalise_encounters,
    procedure_table,
    sampling_encounters,
)
from proxisante.synth.fhir import RESOURCE_TYPES, FhirTableWriter
from proxisante.synth.frames import Frame, concat, length
from proxisante.synth.geography import catchment
from proxisante.synth.parameters import day_number as _day
from proxisante.synth.parameters import load_parameters
from proxisante.synth.population import Imposed, assign_medecin_traitant, build_cohort, mean_mt_patients
from proxisante.synth.records import (
    coverage_table,
    mt_declarations_table,
    patients_table,
    professionals_table,
    sites_table,
)
from proxisante.synth.staff import build_staff
from proxisante.synth.timeline import rng
from proxisante.synth.writer import TableWriter

# Patients per chunk: fixed (not an option) because the random streams are per chunk, so the
# output for a seed must not depend on it. ~50,000 patients make ~5 million rows, ~1-2 GB at peak.
CHUNK_SIZE = 50_000

Progress = Callable[[str, int, int], None]
ENCODINGS = ("utf-8", "cp1252")


class Member(Protocol):
    """What a synthetic network (``synth/network.py``) adds to the generation of one of its structures:
    patients who are people of another structure (their sex, birth day and commune imposed on the cohort),
    and a look at (or a change of) the tables before defects are injected: ``chunk`` is None for the
    sites and professionals, written first."""

    def imposed(self) -> Imposed | None: ...

    def tables(self, chunk: Chunk | None, tables: dict[str, Frame]) -> dict[str, Frame]: ...


@dataclass(frozen=True)
class SynthOptions:
    """What to generate. ``centre_commune`` (INSEE code) defaults to the small-town candidate; ``encoding``
    is that of the CSV files (``cp1252``: Windows-1252 with CRLF line ends, as a Windows EHR writes them);
    ``defect_rate`` replaces the rate of ``parameters.yaml`` (``defects.rate``). ``start`` and ``end`` are
    fixed dates, never today's: the same options must give the same bytes on any day (a test, a bench or
    a demo compared with yesterday's), so the data ends on ``end`` whatever the clock says."""

    patients: int = 20_000
    seed: int = 42
    out: Path = Path("synthetic-centre")
    start: date = date(2021, 1, 1)
    end: date = date(2026, 6, 30)
    file_format: str = "csv"
    defects: bool = False
    centre_commune: str | None = None
    encoding: str = "utf-8"
    defect_rate: float | None = None


@dataclass
class SynthSummary:
    """What was written: rows per table (data lines of each file, header excluded, defect lines
    included), the defects injected (with their file and line), timings."""

    options: SynthOptions
    out: Path
    rows: dict[str, int]
    centre_commune: str
    professionals: int
    sites: int
    seconds: float
    defects: list[Defect] = field(default_factory=list)
    defect_counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "patients": self.options.patients,
            "seed": self.options.seed,
            "start": self.options.start.isoformat(),
            "end": self.options.end.isoformat(),
            "file_format": self.options.file_format,
            "defects": self.options.defects,
            "centre_commune": self.centre_commune,
            "professionals": self.professionals,
            "sites": self.sites,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "defect_counts": self.defect_counts,
        }


def _check(options: SynthOptions) -> None:
    if options.patients < 1:
        raise ValueError("patients must be at least 1")
    if options.end <= options.start:
        raise ValueError("end must be after start")
    if options.file_format not in ("csv", "parquet", "fhir"):
        raise ValueError(f"file_format must be 'csv', 'parquet' or 'fhir', not {options.file_format!r}")
    if options.file_format == "fhir" and options.defects:
        raise ValueError("defects are those of CSV/Parquet exports: not available with the fhir format")
    if options.encoding not in ENCODINGS or (options.encoding != "utf-8" and options.file_format != "csv"):
        raise ValueError(f"encoding must be one of {ENCODINGS} (another than utf-8 for CSV only)")


def _remove_stale_files(out: Path, options: SynthOptions) -> None:
    """Files of an earlier run in the other format (a loader would see two files for one table) or
    its defect record."""
    others = [f for f in ("csv", "parquet") if f != options.file_format]
    stale = [out / f"{t.name}.{other}" for t in TABLES for other in others]
    if options.file_format != "fhir":
        stale += [out / f"{resource}.ndjson" for resource in RESOURCE_TYPES.values()]
    if not options.defects:
        stale.append(out / "defects.json")
    for path in stale:
        path.unlink(missing_ok=True)


def _chunk_tables(chunk: Chunk, ids: dict[str, int]) -> dict[str, Frame]:
    """Every pivot table's rows for one chunk of patients, ids continuing from ``ids``."""
    lines = drug_lines(chunk)
    ald, ald_first = ald_rows(chunk)
    parts = encounter_parts(chunk)
    screen_procedures, screen_labs, (sampled, sampled_days) = screening(chunk)
    parts.append(sampling_encounters(chunk, sampled, sampled_days))
    enc = finalise_encounters(chunk, parts, ids["encounters"])
    derived = derived_tables(chunk, enc, lines, ald_first, ids)
    procedures = concat([derived["procedures"], screen_procedures])
    if procedures:
        order = np.lexsort((procedures["ccam"], procedures["date"], procedures["p"]))
        procedures = {k: v[order] for k, v in procedures.items()}
    labs = concat([lab_results(chunk, lines), screen_labs])
    return {
        "patients": patients_table(chunk),
        "coverage": coverage_table(chunk, ald, ids["coverage"]),
        "mt_declarations": mt_declarations_table(chunk, ids["mt_declarations"]),
        "encounters": encounter_table(chunk, enc),
        "diagnoses": derived["diagnoses"],
        "prescriptions": derived["prescriptions"],
        "lab_results": lab_table(chunk, labs, ids["lab_results"]) if labs else {},
        "vaccinations": vaccination_table(chunk, vaccinations(chunk), ids["vaccinations"]),
        "procedures": procedure_table(chunk, procedures, ids["procedures"]) if procedures else {},
        "acts": derived["acts"],
    }


def generate_centre(
    options: SynthOptions, progress: Progress | None = None, member: Member | None = None
) -> SynthSummary:
    """Write a synthetic centre in the pivot format to ``options.out``; see the package docstring.
    ``member``: the centre is a structure of a synthetic network (``synth/network.py``)."""
    began = time.perf_counter()
    _check(options)
    params = load_parameters()
    commune = options.centre_commune or params.geography.default_commune
    area = catchment(params, commune)
    start, end = _day(options.start), _day(options.end)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_files(out, options)

    imposed = member.imposed() if member is not None else None
    cohort = build_cohort(params, rng(options.seed, "cohort"), options.patients, start, end, area, imposed)
    staff = build_staff(params, rng(options.seed, "staff"), area, mean_mt_patients(cohort), start, end)
    gp = staff.slots["MG"]
    assign_medecin_traitant(params, rng(options.seed, "medecin_traitant"), cohort, gp.fte, gp.start)
    ctx = Context(params, cohort, staff, area, Vocab.build(params, staff), options.seed, start, end)

    injector = (
        DefectInjector(params, options.seed, options.file_format, options.patients, options.defect_rate)
        if options.defects
        else None
    )
    encoding = options.encoding
    writers: dict[str, TableWriter | FhirTableWriter] = {
        t.name: FhirTableWriter(out, t)
        if options.file_format == "fhir"
        else TableWriter(out, t, options.file_format, injector.encoding(t.name, encoding) if injector else encoding)
        for t in TABLES
    }
    invalid = injector.invalid_dates if injector else ()
    try:
        team = {"sites": sites_table(staff), "professionals": professionals_table(staff)}
        if member is not None:
            team = member.tables(None, team)
        for name, frame in team.items():
            rows = writers[name].write(frame)
            if progress:
                progress(name, rows, 0)
        ids = {t.name: 1 for t in TABLES}
        starts = list(range(0, options.patients, CHUNK_SIZE))
        for index, lo in enumerate(starts):
            hi = min(lo + CHUNK_SIZE, options.patients)
            chunk = Chunk(ctx, index, lo, hi)
            tables = _chunk_tables(chunk, ids)
            for name, frame in tables.items():  # ids continue in the next chunk
                ids[name] += length(frame)
            if member is not None:
                tables = member.tables(chunk, tables)
            if injector is not None:
                written = {name: writers[name].rows for name in tables}
                tables = injector.inject(chunk, tables, written, index == len(starts) - 1)
            for table in TABLES:
                if table.name in tables:
                    rows = writers[table.name].write(tables[table.name], invalid)
                    if progress:
                        progress(table.name, rows, hi)
    finally:
        for writer in writers.values():
            writer.close()

    summary = SynthSummary(
        options=options,
        out=out,
        rows={name: w.rows for name, w in writers.items()},
        centre_commune=commune,
        professionals=len(staff.rpps),
        sites=len(staff.site_id),
        seconds=time.perf_counter() - began,
    )
    if injector is not None:
        injector.write(out / "defects.json", options.seed)
        summary.defects = injector.records
        summary.defect_counts = injector.counts()
    return summary
