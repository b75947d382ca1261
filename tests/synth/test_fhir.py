"""The key test of the FHIR path: the FHIR NDJSON and the pivot CSV of one synthetic centre, each
loaded into its own warehouse (same pseudonymisation key), give the same warehouse, table by table
and row by row; the identity vaults hold the same identities."""

from __future__ import annotations

import pytest

from proxisante.ingest.fhir.load import load_fhir
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre
from proxisante.warehouse.schema import TABLES

PATIENTS = 300


def _rows(inst: Installation, table: str) -> list[str]:
    return sorted(map(repr, inst.warehouse.duckdb.execute(f"SELECT * FROM {table}").fetchall()))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Installation, Installation, dict[str, int]]:
    root = tmp_path_factory.mktemp("fhir_vs_pivot")
    key = root / "shared.key"
    installs = []
    for fmt in ("csv", "fhir"):
        out = root / fmt
        summary = generate_centre(SynthOptions(patients=PATIENTS, seed=11, out=out, file_format=fmt))
        inst = open_installation(Settings(home=root / f"home_{fmt}", key_file=key))
        load = load_pivot if fmt == "csv" else load_fhir
        report = load(out, inst, source="centre")
        assert report.committed and report.rows_quarantined == 0, fmt
        assert report.rows_read == sum(summary.rows.values())
        installs.append(inst)
    yield installs[0], installs[1], summary.rows
    for inst in installs:
        inst.close()


@pytest.mark.parametrize("table", [t.name for t in TABLES if not t.name.startswith("etl_")])
def test_same_warehouse_table(loaded: tuple[Installation, Installation, dict[str, int]], table: str) -> None:
    pivot, fhir, _ = loaded
    assert _rows(fhir, table) == _rows(pivot, table)


def test_every_table_has_rows(loaded: tuple[Installation, Installation, dict[str, int]]) -> None:
    """The comparison is not vacuous: every table the synthetic centre fills is filled."""
    pivot, _, _ = loaded
    counts = pivot.warehouse.counts()
    for table in ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement",
                  "procedure_occurrence", "provider", "care_site", "fr_mt_declaration", "fr_coverage_period",
                  "fr_billed_act", "cost", "death"):  # fmt: skip
        assert counts[table] > 0, table


def test_same_identities_in_the_vault(loaded: tuple[Installation, Installation, dict[str, int]]) -> None:
    pivot, fhir, _ = loaded
    query = "SELECT * EXCLUDE (updated_at) FROM identity"
    with pivot.vault.connect() as a, fhir.vault.connect() as b:
        assert sorted(map(repr, b.execute(query).fetchall())) == sorted(map(repr, a.execute(query).fetchall()))
