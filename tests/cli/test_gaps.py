"""``proxisante gaps`` (issue 21 item 1, review M2): the work list by default (one row per patient, the 12
months to the last data, actionable indicators), ``--par-action`` one row per gap, French CSV headers and
dates, an RPPS of no professional refused in French (exit 2)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.measures.gaps import actionable_measures, care_gaps
from proxisante.network.scope import Scope, ScopedTables
from proxisante.population import worklist
from tests.lib.network import LoadedNetwork


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


@pytest.fixture()
def engine(network: LoadedNetwork):
    inst = network.open()
    try:
        tables = ScopedTables(inst.warehouse, Scope.network())  # one row per person across the structures
        period = worklist.default_period(tables)
        return period, care_gaps(tables, period, actionable_measures())
    finally:
        inst.close()


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_default_is_one_row_per_patient_on_the_last_data(cli: CliRunner, engine) -> None:
    period, gaps = engine
    table = cli.invoke(app, ["gaps", "--limit", "5"])
    assert table.exit_code == 0, table.output
    assert f"Liste de travail — {period.label} — données jusqu'au {period.end:%d/%m/%Y}" in table.output
    assert re.search(r"\(([\d\u202f ]+) patients", table.output)[1].replace("\u202f", "").replace(" ", "") == str(
        gaps.person_id.nunique()
    )
    result = cli.invoke(app, ["gaps", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _csv(result.output)
    assert len(rows) == gaps.person_id.nunique() and len({r["pseudonyme"] for r in rows}) == len(rows)
    assert "nom" not in rows[0] and "à faire depuis" in rows[0]  # pseudonymised without --nominative
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["à faire depuis"]) for r in rows)
    assert not [r for r in rows if "antibiotique" in r["actions"].lower()]


def test_par_action_is_one_row_per_gap(cli: CliRunner, engine) -> None:
    _, gaps = engine
    result = cli.invoke(app, ["gaps", "--par-action", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _csv(result.output)
    assert len(rows) == len(gaps) > len({r["pseudonyme"] for r in rows})
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["à faire depuis"]) for r in rows)  # never empty, French


def test_unknown_provider_is_refused_in_french(cli: CliRunner) -> None:
    result = cli.invoke(app, ["gaps", "--provider", "99999999999"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "RPPS inconnu : 99999999999" in text and "Traceback" not in text
