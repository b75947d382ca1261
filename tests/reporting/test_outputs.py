"""The demo-like report end to end: a small synthetic centre loaded, one patient objecting, the report
written by the command in three formats, then read back: PDF pages in A4 numbered "page X / Y", the
JSON valid against docs/report-schema.json (and a broken one not), the workbook, and the signed
manifest, which fails after any single byte of any file changes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import tempfile
import zlib
from pathlib import Path

import jsonschema
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.measures.context import Context
from proxisante.measures.periods import parse_period
from proxisante.reporting.build import Options, build_report
from proxisante.reporting.render_json import schema, schema_errors
from proxisante.reporting.signing import MANIFEST, SIGNATURE, key_path, verify_folder
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre
from tests.lib.paths import ROOT

ROOT = ROOT
A4 = (595.2756, 841.8898)
PATIENTS, SEED = 300, 8


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """(home, report folder, objector's person_id, panel size without exclusion) of a small synthetic centre."""
    root = tmp_path_factory.mktemp("report")
    generate_centre(SynthOptions(patients=PATIENTS, seed=SEED, out=root / "centre"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(root / "home"))
        for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
            patch.delenv(name, raising=False)
        inst = open_installation(Settings())
        try:
            load_pivot(root / "centre", inst, source="centre")
            objector, panel = _objector(inst)
        finally:
            inst.close()
        out = root / "rapport"
        result = CliRunner().invoke(app, ["report", "--period", "2025", "--out", str(out), "--trend", "1"])
        assert result.exit_code == 0, result.output
        yield root / "home", out, objector, panel


def _objector(inst) -> tuple[int, int]:
    """An adult of the patientèle who objects (through the vault, by INS); the panel size before."""
    period = parse_period("2025")
    before = build_report(inst.warehouse, period, (), Options(trend_periods=0, measures=[]))
    panel = next(t for t in before.panel if t.id == "panel_composition").rows[0].values["patients"]
    persons = inst.warehouse.execute(Context(inst.warehouse, period.end, cache_tables=False).persons)
    candidates = set(persons[persons.mt_provider_id.notnull()].person_id.astype(int))
    with inst.vault.connect() as con:
        rows = con.execute("SELECT person_id, ins FROM identity WHERE ins IS NOT NULL ORDER BY person_id").fetchall()
    person_id, ins = next((int(p), i) for p, i in rows if int(p) in candidates)
    assert inst.objections.add(ins, "test") == (person_id, True)
    return person_id, panel


def _files(folder: Path) -> dict[str, Path]:
    return {p.suffix.lstrip("."): p for p in folder.iterdir() if p.name.startswith("rapport-")}


def test_the_report_is_written_in_three_formats_and_verifies(written) -> None:
    home, folder, _, _ = written
    assert set(_files(folder)) == {"pdf", "xlsx", "json"}
    assert {MANIFEST, SIGNATURE} <= {p.name for p in folder.iterdir()}
    result = verify_folder(folder)
    assert result.ok, result.problems
    assert len(result.files) == 3
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["period"]["label"] == "2025" and manifest["schema_version"] == "1.0.0"
    assert {f["name"] for f in manifest["files"]} == {p.name for p in _files(folder).values()}
    assert stat.S_IMODE(os.stat(key_path(home)).st_mode) == 0o600


def test_the_objecting_patient_is_not_counted(written) -> None:
    _, folder, _, panel = written
    document = json.loads(_files(folder)["json"].read_text())
    composition = next(t for t in document["panel"] if t["id"] == "panel_composition")
    assert composition["rows"][0]["values"]["patients"] == panel - 1
    pyramid = next(t for t in document["panel"] if t["id"] == "panel_pyramid")
    assert pyramid["rows"][-1]["values"]["sex_Total"] == panel - 1


def _pdf_pages(data: bytes) -> tuple[list[tuple[float, ...]], list[str]]:
    """Media boxes and the decompressed page streams of a PDF, read from its bytes."""
    boxes = [tuple(float(x) for x in m.split()) for m in re.findall(rb"/MediaBox\s*\[\s*([^\]]+)\]", data)]
    streams = []
    for match in re.finditer(rb"/Filter\s*\[?\s*(/ASCII85Decode\s*)?/FlateDecode\s*\]?[^>]*>>\s*stream\r?\n", data):
        end = data.index(b"endstream", match.end())
        raw = data[match.end() : end].strip()
        if match.group(1):
            raw = base64.a85decode(raw, adobe=True)
        try:
            streams.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            continue
    return boxes, streams


def test_the_pdf_is_a4_with_page_numbers(written) -> None:
    _, folder, _, _ = written
    data = _files(folder)["pdf"].read_bytes()
    boxes, streams = _pdf_pages(data)
    (tree,) = [d for d in re.findall(rb"<<([^<>]*)>>", data) if re.search(rb"/Type\s*/Pages\b", d)]
    pages = int(re.search(rb"/Count\s+(\d+)", tree).group(1))
    assert pages >= 5 and len(boxes) >= pages
    assert all(box[2:] == pytest.approx(A4, abs=0.01) and box[:2] == (0, 0) for box in boxes)
    numbers = sorted({(int(a), int(b)) for s in streams for a, b in re.findall(r"\(page (\d+) / (\d+)\)", s)})
    assert numbers == [(n, pages) for n in range(1, pages + 1)]


def test_the_json_follows_its_schema_and_a_broken_one_does_not(written) -> None:
    _, folder, _, _ = written
    assert (ROOT / "docs" / "report-schema.json").read_bytes() == (
        ROOT / "src" / "proxisante" / "reporting" / "report-schema.json"
    ).read_bytes()
    document = json.loads(_files(folder)["json"].read_text())
    assert document["schema_version"] == schema()["properties"]["schema_version"]["const"]
    assert schema_errors(document) == []
    jsonschema.validate(document, json.loads((ROOT / "docs" / "report-schema.json").read_text()))
    first = next(i for i in document["indicators"] if i["rate"] is not None)
    broken = [
        {**document, "schema_version": "2.0.0"},
        {k: v for k, v in document.items() if k != "indicators"},
        {**document, "indicators": [{**first, "masked": "primary"}]},  # masked yet its counts shown
        {**document, "indicators": [{**first, "numerator": "12"}]},
        {**document, "indicators": [{**first, "rate": 1.7}]},  # a proportion above 1
        {**document, "panel": [{**document["panel"][0], "rows": [{"values": {"x": 1}, "masked": {"x": "hidden"}}]}]},
    ]
    for case in broken:
        assert schema_errors(case), case.keys()


def test_the_workbook_has_every_part(written) -> None:
    _, folder, _, _ = written
    book = openpyxl.load_workbook(_files(folder)["xlsx"])
    assert {"Synthèse", "Pyramide", "Composition", "Actes", "Indicateurs", "Tendances"} <= set(book.sheetnames)
    assert "Économie" not in book.sheetnames  # written without --costs: no economic summary
    values = [c.value for row in book["Pyramide"].iter_rows() for c in row]
    threshold = json.loads(_files(folder)["json"].read_text())["disclosure"]["threshold"]
    assert f"< {threshold}" in values or "secret" in values  # a centre of 300 has small cells: shown masked


# -- the signature ---------------------------------------------------------------------------------


def _copy(folder: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="report-copy-"))
    shutil.copytree(folder, target, dirs_exist_ok=True)
    return target


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_breaks_the_verification(written, data) -> None:
    _, folder, _, _ = written
    names = sorted(p.name for p in folder.iterdir())
    name = data.draw(st.sampled_from(names), label="file")
    size = (folder / name).stat().st_size
    position = data.draw(st.integers(0, size - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    copy = _copy(folder)
    try:
        path = copy / name
        content = bytearray(path.read_bytes())
        content[position] ^= flip
        path.write_bytes(bytes(content))
        assert not verify_folder(copy).ok
    finally:
        shutil.rmtree(copy)


def _said(result) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def test_verify_says_what_is_wrong_in_french(written) -> None:
    home, folder, _, _ = written
    runner = CliRunner()
    copy = _copy(folder)
    try:
        pdf = _files(copy)["pdf"]
        pdf.write_bytes(pdf.read_bytes() + b" ")
        result = runner.invoke(app, ["report", "verify", str(copy)])
        assert result.exit_code == 1 and "fichier modifié" in _said(result) and pdf.name in _said(result)
        _files(copy)["xlsx"].unlink()
        assert "fichier manquant" in _said(runner.invoke(app, ["report", "verify", str(copy)]))
        manifest = copy / MANIFEST
        manifest.write_text(manifest.read_text().replace('"2025"', '"2024"'))
        assert "signature invalide" in _said(runner.invoke(app, ["report", "verify", str(copy)]))
    finally:
        shutil.rmtree(copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(home))
        exported = runner.invoke(app, ["report", "public-key", "--out", str(home / "cle.pem")])
        assert exported.exit_code == 0, exported.output
        ok = runner.invoke(app, ["report", "verify", str(folder), "--public-key", str(home / "cle.pem")])
        assert ok.exit_code == 0 and "Rapport vérifié" in _said(ok)
    other = home / "autre"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(other))  # another structure: another key
        runner.invoke(app, ["report", "public-key", "--out", str(other / "cle.pem")])
    refused = runner.invoke(app, ["report", "verify", str(folder), "--public-key", str(other / "cle.pem")])
    assert refused.exit_code == 1 and "clé publique différente" in _said(refused)


def test_the_command_refuses_a_folder_that_is_not_empty(written) -> None:
    home, folder, _, _ = written
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(home))
        result = CliRunner().invoke(app, ["report", "--out", str(folder), "--format", "json"])
    assert result.exit_code == 2 and "n'est pas vide" in " ".join(result.output.split())
    assert verify_folder(folder).ok  # untouched


def test_an_unsigned_file_in_the_folder_fails_the_verification(written) -> None:
    _, folder, _, _ = written
    copy = _copy(folder)
    try:
        (copy / "avenant.pdf").write_bytes(b"%PDF-1.4 not signed")
        assert not verify_folder(copy).ok
        result = CliRunner().invoke(app, ["report", "verify", str(copy)])
        assert result.exit_code == 1 and "non couvert par la signature : avenant.pdf" in _said(result)
        (copy / "avenant.pdf").unlink()
        (copy / "annexes").mkdir()
        assert "annexes" in " ".join(verify_folder(copy).problems)
    finally:
        shutil.rmtree(copy)


def test_replace_only_removes_the_report_s_own_files(written) -> None:
    home, folder, _, _ = written
    copy = _copy(folder)
    runner = CliRunner()
    try:
        before = {p.name: p.read_bytes() for p in copy.iterdir()}
        (copy / "notes-personnelles.txt").write_text("à garder", encoding="utf-8")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PROXISANTE_HOME", str(home))
            refused = runner.invoke(app, ["report", "--out", str(copy), "--format", "json", "--replace",
                                          "--trend", "0", "--no-economics"])  # fmt: skip
            assert refused.exit_code == 2 and "rien n'a été supprimé" in _said(refused)
            assert "notes-personnelles.txt" in _said(refused)
            assert (copy / "notes-personnelles.txt").read_text(encoding="utf-8") == "à garder"
            assert all((copy / name).read_bytes() == data for name, data in before.items())
            (copy / "notes-personnelles.txt").unlink()
            replaced = runner.invoke(app, ["report", "--out", str(copy), "--format", "json", "--replace",
                                           "--trend", "0", "--no-economics"])  # fmt: skip
        assert replaced.exit_code == 0, replaced.output
        assert sorted(p.name for p in copy.iterdir()) == sorted([_files(folder)["json"].name, MANIFEST, SIGNATURE])
        assert verify_folder(copy).ok
        assert not [p for p in copy.parent.iterdir() if p.name.startswith(".rapport-")]
    finally:
        shutil.rmtree(copy)


def test_the_economic_summary_only_with_the_structure_s_real_costs(written, tmp_path: Path) -> None:
    import yaml

    from proxisante.economics.costs import EXAMPLE

    home, folder, _, _ = written
    assert json.loads(_files(folder)["json"].read_text())["economics"] is None  # no --costs: no summary
    costs = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    costs.update(example=False, label="Budget 2025 du centre")
    real = tmp_path / "charges.yaml"
    real.write_text(yaml.safe_dump(costs, allow_unicode=True), encoding="utf-8")
    short = tmp_path / "incomplet.csv"
    short.write_text("item;profession;gross_per_fte;employer_charge_rate\nsalary;MG;85000;0.45\n", encoding="utf-8")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(home))
        done = runner.invoke(app, ["report", "--out", str(tmp_path / "r"), "--format", "json", "--trend", "0",
                                   "--costs", str(real)])  # fmt: skip
        misfit = runner.invoke(app, ["report", "--out", str(tmp_path / "m"), "--format", "json", "--trend", "0",
                                     "--costs", str(short)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Rapport : écrit" in _said(done) and "Sans résumé économique" not in _said(done)
    economics = json.loads(_files(tmp_path / "r")["json"].read_text())["economics"]
    assert economics["costs_label"] == "Budget 2025 du centre" and economics["costs_example"] is False
    assert len(economics["models"]) == 6 and "Budget 2025 du centre" in economics["note"]
    assert misfit.exit_code == 2 and "résumé économique impossible" in _said(misfit)
    assert "aucune ligne de salaire pour la profession" in _said(misfit)
    assert not (tmp_path / "m").exists()
