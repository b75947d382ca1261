"""``ingest`` of nothing (issue 21 item 9): an empty folder or a missing path is refused in French, exit 2,
and no batch is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from tests.lib.network import LoadedNetwork


def batches(network: LoadedNetwork) -> int:
    installation = network.open()
    try:
        return int(installation.warehouse.execute(installation.warehouse.table("etl_batch").count()))
    finally:
        installation.close()


@pytest.mark.parametrize("hidden", [False, True])
def test_an_empty_folder_loads_nothing(
    network: LoadedNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: bool
) -> None:
    monkeypatch.setattr(console, "_width", 200)
    folder = tmp_path / "export"
    (folder / "sous-dossier").mkdir(parents=True)
    if hidden:
        (folder / ".DS_Store").write_text("")
    before = batches(network)
    result = CliRunner().invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 2
    assert f"Rien n'a été chargé : le dossier {folder} est vide (aucun fichier à charger)." in result.output
    assert "Lot chargé" not in result.output and batches(network) == before


def test_a_missing_path(network: LoadedNetwork, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "absent"), "--format", "fhir"])
    assert result.exit_code == 2 and "n'existe pas" in result.output
