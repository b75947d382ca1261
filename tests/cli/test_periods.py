"""Period and date options of the commands (issue 21 items 2 and 9): a period after the last data is said
to be so and computes nothing, a report refuses it, an impossible day is refused in French, never a
traceback, and a French day is accepted where a date is asked."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.measures.periods import last_data_date
from tests.lib.network import LoadedNetwork


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def last_day(network: LoadedNetwork) -> str:
    installation = network.open()
    try:
        last = last_data_date(installation.warehouse)
    finally:
        installation.close()
    assert last is not None
    return f"{last:%d/%m/%Y}"


@pytest.mark.parametrize(
    "args",
    [
        ["measures", "run", "--period", "2030", "-m", "rosp_flu_65"],
        ["measures", "run", "--period", "2030-T3", "--format", "csv"],
        ["gaps", "--period", "12M:2031-06-30"],
        ["measures", "series", "-m", "rosp_flu_65", "--from", "2030-01", "--to", "2030-06"],
        ["patientele", "--date", "31/12/2030"],
    ],
)
def test_after_the_last_data_nothing_is_computed(cli: CliRunner, network: LoadedNetwork, args: list[str]) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"pas de données {'à cette date' if 'patientele' in args else 'sur cette période'}" in result.output
    assert f"(données jusqu'au {last_day(network)})" in result.output
    assert "Indicateurs" not in result.output and "taux" not in result.output and "Traceback" not in result.output


def test_a_report_refuses_a_period_without_data(cli: CliRunner, network: LoadedNetwork) -> None:
    out = network.home / "rapport-2031"
    result = cli.invoke(app, ["report", "--period", "2031", "--format", "json", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Rapport refusé" in result.output and "pas de données sur cette période" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gaps", "--period", "12M:2025-02-30"], "le mois 02/2025 a 28 jours"),
        (["measures", "run", "--period", "2025-13"], "le mois 13 n'existe pas"),
        (["patientele", "--date", "2025-02-30"], "le mois 02/2025 a 28 jours"),
        (["measures", "series", "-m", "rosp_flu_65", "--from", "2025", "--to", "2025-06"], "un mois attendu"),
    ],
)
def test_impossible_days_are_refused_in_french(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_quarter_is_12_months_and_a_french_day_is_a_date(cli: CliRunner) -> None:
    quarter = cli.invoke(app, ["measures", "run", "--period", "2025-T3", "-m", "rosp_diabetes_hba1c"])
    assert quarter.exit_code == 0, quarter.output
    assert "2025-T3 : 12 mois jusqu'au 30/09/2025" in quarter.output
    rolling = cli.invoke(app, ["measures", "run", "--period", "12M:30/09/2025", "-m", "rosp_diabetes_hba1c"])
    assert _rows(quarter.output) == _rows(rolling.output)
    french = cli.invoke(app, ["patientele", "--date", "31/12/2025"])
    iso = cli.invoke(app, ["patientele", "--date", "2025-12-31"])
    assert french.exit_code == 0, french.output
    assert french.output == iso.output and "au 31/12/2025" in french.output


def _rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if "HbA1c" in line]
