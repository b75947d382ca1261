"""``measures run`` prints what the web and the PDF show (issue 21, item 7): its CSV has French headers, the
rates in their unit rounded as shown (no raw float such as 1,3877787807814457e-17, no True), and the
doctor's name beside the RPPS, but not in a protected output that may leave the structure."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.measures.definition import library
from proxisante.measures.periods import parse_period
from proxisante.measures.results import run
from proxisante.network.scope import Scope, ScopedTables
from tests.lib.network import LoadedNetwork

MEASURES = ["rosp_colorectal_screening", "rosp_antibiotics_per_100"]


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def _invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["measures", "run", "--period", "2025", "--reseau", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_csv_is_french_and_rounded(network: LoadedNetwork, cli: CliRunner) -> None:
    text = _invoke(cli, "--format", "csv", *(f"-m{m}" for m in MEASURES))
    rows = _rows(text)
    assert list(rows[0])[:3] == ["indicateur", "code", "période"]
    assert "dénominateur" in rows[0] and "exclusions" in rows[0] and "unité" in rows[0]
    assert "True" not in text and "False" not in text and "e-" not in text
    installation = network.open()
    try:
        tables = ScopedTables(installation.warehouse, Scope.network())
        chosen = [library()[m] for m in MEASURES]
        engine = run(tables, parse_period("2025"), chosen).table.set_index("measure_id")
    finally:
        installation.close()
    by_code = {r["code"]: r for r in rows}
    screening, antibiotics = by_code["rosp_colorectal_screening"], by_code["rosp_antibiotics_per_100"]
    assert int(screening["dénominateur"]) == engine.loc["rosp_colorectal_screening", "denominator"]
    assert int(screening["exclusions"]) == engine.loc["rosp_colorectal_screening", "exclusions"]
    expected = f"{100 * engine.loc['rosp_colorectal_screening', 'rate']:.1f}".replace(".", ",")
    assert (screening["taux"], screening["unité"]) == (expected, "%")
    assert antibiotics["unité"] == "pour 100"
    assert screening["calculable"] in ("oui", "non")


def test_csv_by_provider_names_the_doctor_unless_protected(network: LoadedNetwork, cli: CliRunner) -> None:
    installation = network.open()
    try:
        provider = installation.warehouse.table("provider")
        frame = installation.warehouse.execute(
            provider.select(rpps=provider.provider_source_value, name=provider.provider_name)
        ).dropna()
    finally:
        installation.close()
    names = dict(zip(frame.rpps.astype(str), frame.name.astype(str), strict=False))
    rows = _rows(_invoke(cli, "--format", "csv", "--by", "provider", "-mrosp_colorectal_screening"))
    named = [r for r in rows if r["RPPS du médecin traitant"] in names]
    assert named and all(r["médecin traitant"] == names[r["RPPS du médecin traitant"]] for r in named)
    protected = _rows(_invoke(cli, "--format", "csv", "--by", "provider", "--protect", "-mrosp_colorectal_screening"))
    assert "médecin traitant" not in protected[0] and "secret statistique" in protected[0]


def test_table_says_what_the_denominator_is(network: LoadedNetwork, cli: CliRunner) -> None:
    output = _invoke(cli, "-mrosp_antibiotics_per_100")
    assert "pour\u00a0100" in output and "/100" not in output
    assert "Dénominateur : patients concernés avant exclusions" in output


def test_gaps_per_action_csv_is_french(network: LoadedNetwork, cli: CliRunner) -> None:
    result = cli.invoke(app, ["gaps", "--reseau", "--period", "2025", "--par-action", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert rows and list(rows[0])[:3] == ["pseudonyme", "âge", "sexe"]
    assert "measure_id" not in result.output and "due_since" not in result.output
    assert all(r["à faire depuis"] == "" or r["à faire depuis"][2] == "/" for r in rows)  # dd/mm/yyyy
    labels = {m.id: m.short_label for m in library().values()}
    assert all(r["indicateur"] == labels[r["code"]] for r in rows)
