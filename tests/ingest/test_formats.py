"""The one registry of input formats (:data:`proxisante.ingest.FORMATS`): every loader has the one signature, loads
its fixture into a fresh installation with the same report shape, and the command line offers exactly these
formats, each loaded the same way."""

from __future__ import annotations

import inspect
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.lib.pivot_fixture as fx
from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.ingest import FORMATS, Loader
from proxisante.ingest.batch import LoadReport
from proxisante.installation import Installation
from tests.ingest.fhir.test_load import condition, patient, practitioner, write_ndjson
from tests.ingest.test_omop import SYNTHEA


def _pivot(folder: Path) -> Path:
    return fx.write(folder)


def _fhir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_ndjson(folder / "export.ndjson", [practitioner(), patient("p1", fx.NIR_ALICE), condition("c1", "Patient/p1")])
    return folder


def _omop(folder: Path) -> Path:
    if not SYNTHEA.is_dir():
        pytest.skip("../shared/data/omop-synthea27nj-5.4 not present")
    folder.mkdir(parents=True)
    for name in ("PERSON.csv", "VISIT_OCCURRENCE.csv", "NOTE.csv"):
        shutil.copyfile(SYNTHEA / name, folder / name)
    return folder


# A small export of each format; a new format adds its fixture here (the test below fails until it does).
FIXTURES: dict[str, Callable[[Path], Path]] = {"pivot": _pivot, "fhir": _fhir, "omop": _omop}


def test_the_registry_names_each_format_once() -> None:
    assert list(FORMATS) == ["pivot", "fhir", "omop"] == list(FIXTURES)
    for name, file_format in FORMATS.items():
        assert file_format.name == name and file_format.load.__name__ == f"load_{name}"
        assert file_format.label and file_format.ignored


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_loader_has_the_one_signature(name: str) -> None:
    expected = inspect.signature(Loader.__call__)
    expected = expected.replace(parameters=list(expected.parameters.values())[1:])  # without self
    got = inspect.signature(FORMATS[name].load)
    assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
        (p.name, p.kind, p.default) for p in expected.parameters.values()
    ]
    assert [str(p.annotation) for p in got.parameters.values()] == [
        str(p.annotation) for p in expected.parameters.values()
    ]
    assert str(got.return_annotation) == str(expected.return_annotation) == "LoadReport"


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_loads_through_the_registry_with_the_same_report(
    name: str, installation: Installation, tmp_path: Path
) -> None:
    folder = FIXTURES[name](tmp_path / name)
    steps: list[tuple[str, int]] = []
    report = FORMATS[name].load(folder, installation, "ehr", lambda step, rows: steps.append((step, rows)),
                                as_of=date(2026, 1, 1))  # fmt: skip
    assert isinstance(report, LoadReport) and report.committed and report.source == "ehr"
    assert report.files and report.rows_read > 0 and report.rows_loaded > 0
    for f in report.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined and not f.skipped
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    assert installation.warehouse.counts()["person"] > 0
    assert steps and all(isinstance(s, str) and isinstance(n, int) for s, n in steps)
    assert steps[-1] == ("écriture de l'entrepôt", 0)

    again = FORMATS[name].load(folder, installation, "ehr")
    assert not again.committed and again.files and all(f.skipped for f in again.files)


@pytest.fixture()
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def test_the_cli_offers_exactly_the_registered_formats(runner: CliRunner, tmp_path: Path) -> None:
    helped = runner.invoke(app, ["ingest", "--help"])
    assert helped.exit_code == 0, helped.output
    assert f"<{'|'.join(FORMATS)}>" in helped.output
    refused = runner.invoke(app, ["ingest", str(tmp_path), "--format", "csv"])
    said = re.sub(r"[\s│]+", " ", refused.output)  # the error box wraps the line
    listed = re.search(r"formats disponibles: ([a-z, ]+)\)", said)
    assert refused.exit_code != 0 and listed and listed.group(1).split(", ") == list(FORMATS), refused.output


@pytest.mark.parametrize("name", list(FORMATS))
def test_the_cli_loads_every_format_the_same_way(name: str, runner: CliRunner, tmp_path: Path) -> None:
    folder = FIXTURES[name](tmp_path / name)
    result = runner.invoke(app, ["ingest", str(folder), "--format", name, "--source", "ehr"])
    assert result.exit_code == 0 and "Lot chargé" in result.output, result.output
    again = runner.invoke(app, ["ingest", str(folder), "--format", name, "--source", "ehr"])
    assert again.exit_code == 0 and "Rien à charger" in again.output and "déjà chargé" in again.output, again.output
    refused = runner.invoke(app, ["ingest", str(tmp_path / "absent"), "--format", name])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "Rien n'a été chargé" in said and "n'existe pas" in said, refused.output
