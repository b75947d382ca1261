"""``proxisante demo --network N``: the synthetic network registered, deposited and loaded through the drop
folders, once; a second demo registers and loads nothing again."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.installation import open_installation
from proxisante.network.structures import StructureRegistry
from proxisante.settings import Settings

runner = CliRunner()


def _batches() -> dict[str, str]:
    installation = open_installation(Settings())
    try:
        frame = installation.warehouse.execute(installation.warehouse.table("etl_batch"))
    finally:
        installation.close()
    return dict(zip(frame.batch_id, frame.structure, strict=True))


def test_demo_network_registers_deposits_and_loads_each_structure_once(home: Path) -> None:
    done = runner.invoke(app, ["demo", "--network", "3", "--patients", "300", "--no-serve"])
    assert done.exit_code == 0, done.output
    assert "réseau de démonstration" in done.output
    members = {s.finess for s in StructureRegistry.installed(Settings()).all()}
    assert len(members) == 3
    reports = [json.loads(p.read_text()) for p in sorted((home / "depot").glob("*/archive/*/rapport.json"))]
    assert {r["finess"] for r in reports} == members
    assert {r["status"] for r in reports} == {"loaded"}
    batches = _batches()
    assert sorted(batches.values()) == sorted(members)  # each batch knows its structure

    again = runner.invoke(app, ["demo", "--network", "3", "--patients", "300", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert _batches() == batches
    assert {s.finess for s in StructureRegistry.installed(Settings()).all()} == members
    assert len(list((home / "depot").glob("*/archive/*"))) == 3
