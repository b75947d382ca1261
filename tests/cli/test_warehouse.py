"""``quarantine --table`` (issue 21 item 9): an unknown table is refused, listing the known ones; a known one
is read whatever its case."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from tests.lib.network import LoadedNetwork


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def test_an_unknown_table_is_named(cli: CliRunner) -> None:
    result = cli.invoke(app, ["quarantine", "--table", "inconnue"])
    assert result.exit_code == 2
    assert "Table inconnue : « inconnue » ; tables connues :" in result.output
    assert "patients" in result.output and "professionals" in result.output and "Quarantaine" not in result.output


def test_a_known_table_in_any_case(cli: CliRunner) -> None:
    lower = cli.invoke(app, ["quarantine", "--table", "patients"])
    upper = cli.invoke(app, ["quarantine", "--table", "PATIENTS"])
    assert lower.exit_code == upper.exit_code == 0, upper.output
    assert "Quarantaine" in upper.output and upper.output == lower.output
