"""``proxisante patientele`` reads as the page does (issue 21, item 7): French months in the flows (janv. 2025,
not 2025-01), a true minus in the balance, the doctor's name beside the RPPS, the access-to-care table."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from tests.lib.network import LoadedNetwork


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 220)
    return CliRunner()


def test_flows_read_in_french_with_names(network: LoadedNetwork, cli: CliRunner) -> None:
    result = cli.invoke(app, ["patientele", "--reseau", "--by-provider", "--date", "2025-12-31", "--period", "2025"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "janv. 2025" in output and "déc. 2025" in output and "2025-01" not in output
    assert "Accès aux soins : patients vus en 24 mois" in output and "d'un confrère" in output
    installation = network.open()
    try:
        provider = installation.warehouse.table("provider")
        frame = installation.warehouse.execute(
            provider.select(rpps=provider.provider_source_value, name=provider.provider_name)
        ).dropna()
    finally:
        installation.close()
    rpps, name = str(frame.rpps.iloc[0]), str(frame.name.iloc[0])
    if rpps in output:  # a doctor with a patientèle: named beside the RPPS
        assert f"{name} ({rpps})" in output
    assert any(f"{n} ({r})" in output for r, n in zip(frame.rpps.astype(str), frame.name, strict=True))
