"""No NIR/INS, name, address or phone from the input reaches the warehouse, the quarantine or a log."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.lib.pivot_fixture as fx
from proxisante.cli import app
from proxisante.installation import open_installation
from proxisante.settings import Settings
from tests.lib.privacy import text_leaks, warehouse_leaks

NUMBERS = [fx.NIR_ALICE, fx.NIR_BRUNO, fx.INS_CHLOE]
PHONES = [p["phone"] for p in fx.TABLES["patients"]]
NAMES = [p[c] for p in fx.TABLES["patients"] for c in ("family_name", "given_names") if p.get(c)]


def test_identifiers_reach_neither_warehouse_nor_logs_nor_output(
    home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tables = copy.deepcopy(fx.TABLES)
    # A rejected patient row (bad date) and a bad NIR: their identifiers must not reach the quarantine.
    tables["patients"].append({**tables["patients"][0], "patient_id": "P7", "birth_date": "99/99/1999"})
    tables["patients"].append({**tables["patients"][1], "patient_id": "P8", "nir": fx.NIR_BRUNO[:-2] + "00"})
    folder = fx.write(tmp_path / "in", tables)
    runner = CliRunner()
    caplog.set_level(logging.DEBUG)
    outputs = [runner.invoke(app, ["-v", "ingest", str(folder), "--source", "ehr"])]
    outputs += [runner.invoke(app, ["status"]), runner.invoke(app, ["quarantine"])]
    assert all(o.exit_code == 0 for o in outputs), [o.output for o in outputs]
    assert "Quarantaine" in outputs[2].output and "birth_date" in outputs[2].output

    inst = open_installation(Settings())
    try:
        assert inst.warehouse.counts()["etl_quarantine"] >= 2
        assert warehouse_leaks(inst.warehouse.duckdb, NUMBERS, PHONES, NAMES) == []
        # The identities are in the vault, which is what makes the warehouse's silence meaningful.
        assert inst.vault.count() == 3
    finally:
        inst.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "committed" in logged
    for text in [logged, *(o.output for o in outputs)]:
        assert text_leaks(text, NUMBERS, PHONES, NAMES) == []


def test_the_scan_does_find_an_identifier_that_leaked(installation, tmp_path: Path) -> None:
    """The scan must be able to fail: plant a name and a NIR and see them found."""
    from tests.ingest.pivot.test_load import load

    load(installation, fx.write(tmp_path / "in"))
    con = installation.warehouse.duckdb
    con.execute("UPDATE measurement SET value_source_value = 'patiente Durand'")
    con.execute(f"UPDATE visit_occurrence SET visit_source_value = 'x{fx.NIR_BRUNO}y'")
    leaks = warehouse_leaks(con, NUMBERS, PHONES, NAMES)
    assert ("measurement", "value_source_value", "Durand") in leaks
    assert ("visit_occurrence", "visit_source_value", fx.NIR_BRUNO) in leaks
