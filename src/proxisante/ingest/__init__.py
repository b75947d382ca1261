"""Ingestion: a structure's export files (pivot CSV, FHIR R4, OMOP CDM 5.4) into the warehouse, one atomic batch
at a time.

:data:`FORMATS` is the one list of input formats, by the name ``proxisante ingest --format`` takes. Every
format's loader has the one signature of :class:`Loader`: it takes the installation (warehouse, identity
vault, pseudonymiser), loads ``path`` as one atomic, idempotent batch from ``source`` and returns a
:class:`~proxisante.ingest.batch.LoadReport`; an input it refuses whole raises
:class:`~proxisante.ingest.files.InputFileError`, in French, naming the file (and the line and field when
there is one). The flow they share is :mod:`.batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from proxisante.ingest.batch import LoadReport, Progress
from proxisante.ingest.fhir.load import load_fhir
from proxisante.ingest.omop import load_omop
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import Installation

__all__ = ["FORMATS", "Format", "Loader", "load_fhir", "load_omop", "load_pivot"]


class Loader(Protocol):
    """Load ``path`` (a folder, or a file where the format allows it) into ``installation`` as one batch;
    ``progress(step, rows)`` hears each step, ``as_of`` is the day the checks take as today (default: today),
    ``structure`` the FINESS of the member structure the batch belongs to (recorded in ``etl_batch``)."""

    def __call__(
        self,
        path: Path,
        installation: Installation,
        source: str = "default",
        progress: Progress | None = None,
        *,
        as_of: date | None = None,
        structure: str | None = None,
    ) -> LoadReport: ...


@dataclass(frozen=True)
class Format:
    """An input format: its name (``--format``), what it is in French, its loader, and how a load report
    introduces the files it leaves aside (French)."""

    name: str
    label: str
    load: Loader
    ignored: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "pivot",
            "format pivot, CSV ou Parquet",
            load_pivot,
            ignored="Fichiers ignorés (pas une table du format pivot)",
        ),
        Format("fhir", "FHIR R4, NDJSON ou Bundles", load_fhir, ignored="Fichiers ignorés (pas une ressource FHIR)"),
        Format("omop", "OMOP CDM 5.4, CSV ou Parquet", load_omop, ignored="Fichiers non chargés"),
    )
}
