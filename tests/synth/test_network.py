"""The synthetic network: a registry the product reads, distinct FINESS with valid keys, structures of different
sizes exporting through their own sources, a few percent of people seen by two structures (the same INS in both
exports, with a visit in each), every extract loading into one installation where such a person has ONE
person_id, the same bytes for the same seed.

The files are read here as a loader would (CSV in UTF-8 or Windows-1252, Parquet, FHIR NDJSON), with this
test's own Luhn check, so that a bug in the generator's helpers cannot hide itself."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.ingest import FORMATS
from proxisante.ingest.dropfolders import process
from proxisante.installation import Installation, open_installation
from proxisante.network.structures import StructureRegistry, finess_problem
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, load_parameters
from proxisante.synth.network import (
    COMPLETE_MARKER,
    DEPOT,
    FORMAT_FILE,
    REGISTRY_FILE,
    NetworkOptions,
    NetworkSummary,
    _Identities,
    _Member,
    generate_network,
    plan_network,
)

STRUCTURES, PATIENTS, SEED = 4, 400, 5  # four structures: each of the four export sources once
INS_TYPE = "INS-NIR"


def luhn_ok(value: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _csv_rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def exported_people(folder: Path) -> tuple[dict[str, str], set[str]]:
    """INS -> patient id of an extract's patients, and the patient ids with an encounter, whatever the format."""
    kind = (folder / FORMAT_FILE).read_text(encoding="utf-8").strip()
    if kind == "fhir":
        ins = {}
        for patient in _ndjson(folder / "Patient.ndjson"):
            for ident in patient.get("identifier", []):
                if any(c.get("code") == INS_TYPE for c in ident.get("type", {}).get("coding", [])):
                    ins[ident["value"]] = patient["id"]
        seen = {e["subject"]["reference"].split("/")[1] for e in _ndjson(folder / "Encounter.ndjson")}
        return ins, seen
    if (folder / "patients.parquet").exists():
        patients = pq.read_table(folder / "patients.parquet").to_pylist()
        encounters = pq.read_table(folder / "encounters.parquet", columns=["patient_id"]).column(0).to_pylist()
    else:
        patients = _csv_rows(folder / "patients.csv")
        encounters = [r["patient_id"] for r in _csv_rows(folder / "encounters.csv")]
    return {str(p["ins"]): str(p["patient_id"]) for p in patients if p["ins"]}, {str(e) for e in encounters}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkSummary:
    out = tmp_path_factory.mktemp("network")
    return generate_network(NetworkOptions(structures=STRUCTURES, patients=PATIENTS, seed=SEED, out=out))


@pytest.fixture(scope="module")
def loaded(network: NetworkSummary, tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """Every extract loaded into one fresh installation through ``ingest.FORMATS``, source and structure = its
    FINESS."""
    home = tmp_path_factory.mktemp("home")
    installation = open_installation(Settings(home=home))
    for plan in network.plans:
        folder = plan.folder(network.options)
        kind = (folder / FORMAT_FILE).read_text(encoding="utf-8").strip()
        report = FORMATS[kind].load(folder, installation, source=plan.finess, structure=plan.finess)
        assert report.committed, plan.finess
        recorded = _defect_lines(network, plan.finess)
        assert report.rows_quarantined == recorded, (plan.finess, plan.source.name)
    yield installation
    installation.close()


def _defect_lines(network: NetworkSummary, finess: str) -> int:
    path = network.options.out / "defects" / f"{finess}.json"
    if not path.exists():
        return 0
    return sum(1 for d in json.loads(path.read_text(encoding="utf-8"))["defects"] if d["line"] is not None)


# --- registry and layout ---------------------------------------------------------------------------------


def test_registry_is_read_by_the_product_with_distinct_finess_and_valid_keys(network: NetworkSummary) -> None:
    structures = StructureRegistry(network.options.out / REGISTRY_FILE).all()
    assert [s.finess for s in structures] == [p.finess for p in network.plans]
    numbers = [s.finess for s in structures] + [g for s in structures for g in s.finess_geo]
    assert len(numbers) == len(set(numbers)) == 2 * STRUCTURES  # one site each at this size
    for number in numbers:
        assert len(number) == 9 and number.isdigit() and luhn_ok(number), number
        assert finess_problem(number) is None
    assert {s.type for s in structures} == {"CDS", "MSP"}
    for structure, plan in zip(structures, network.plans, strict=True):
        assert structure.name == plan.name and structure.commune == plan.commune and structure.left is None
        assert structure.joined <= network.options.end


def test_each_structure_is_a_complete_drop_folder(network: NetworkSummary) -> None:
    out = network.options.out
    assert sorted(p.name for p in (out / DEPOT).iterdir()) == sorted(p.finess for p in network.plans)
    formats = Counter()
    for plan in network.plans:
        folder = plan.folder(network.options)
        assert folder.parent.parent == out / DEPOT
        assert (folder / COMPLETE_MARKER).read_bytes() == b""
        kind = (folder / FORMAT_FILE).read_text(encoding="utf-8").strip()
        assert kind == plan.source.drop_format
        formats[kind] += 1
        assert not (folder / "defects.json").exists()  # the ground truth stays outside the export
    assert formats == {"pivot": 3, "fhir": 1}
    assert json.loads((out / "network.json").read_text(encoding="utf-8"))["shared"] == network.shared


def test_export_sources_differ_in_format_encoding_and_defects(network: NetworkSummary) -> None:
    sources = {p.source.name: p for p in network.plans}
    assert len(sources) == STRUCTURES
    windows = next(p for p in network.plans if p.source.encoding == "cp1252")
    folder = windows.folder(network.options)
    raw = (folder / "encounters.csv").read_bytes()
    assert b"\r\n" in raw  # every file of this source, not only patients.csv
    rates = {p.source.defect_rate for p in network.plans if p.source.defect_rate is not None}
    assert len(rates) == 3
    for plan in network.plans:
        assert (network.options.out / "defects" / f"{plan.finess}.json").exists() == (
            plan.source.defect_rate is not None
        )


def test_sizes_differ_and_add_up(network: NetworkSummary, tmp_path: Path) -> None:
    sizes = [p.patients for p in network.plans]
    assert len(set(sizes)) == STRUCTURES and sum(sizes) == PATIENTS
    assert sizes == sorted(sizes, reverse=True)  # the largest panels in the largest communes
    assert NetworkOptions().patients == SynthOptions().patients  # the single centre's default
    given = plan_network(NetworkOptions(structures=3, sizes=(50, 120, 80), seed=SEED, out=tmp_path))
    assert [p.patients for p in given] == [50, 120, 80]


# --- shared people ---------------------------------------------------------------------------------------


def test_a_few_percent_are_seen_by_two_structures_with_a_visit_in_each(network: NetworkSummary) -> None:
    exports = {plan.finess: exported_people(plan.folder(network.options)) for plan in network.plans}
    where: dict[str, list[str]] = defaultdict(list)
    for finess, (ins, _) in exports.items():
        for number in ins:
            where[number].append(finess)
    shared = [n for n, structures in where.items() if len(structures) > 1]
    assert max(len(where[n]) for n in shared) == 2
    assert len(shared) == network.shared
    target = load_parameters().section("network")["shared_patients_share"]["value"]
    assert abs(network.shared / network.persons - target) < 0.01
    for number in shared:  # a visit in each: the structure that follows them, the one that sees them once
        for finess in where[number]:
            ins, seen = exports[finess]
            assert ins[number] in seen, (number, finess)


def test_a_person_seen_by_two_structures_has_one_person_id(network: NetworkSummary, loaded: Installation) -> None:
    sources: dict[int, set[str]] = defaultdict(set)
    for plan in network.plans:
        for person in loaded.vault.patient_links(plan.finess).column("person_id").to_pylist():
            sources[person].add(plan.finess)
    assert sum(1 for s in sources.values() if len(s) == 2) == network.shared
    # one person row per structure that saw the person, one person_id for all of them
    counts = loaded.warehouse.duckdb.execute("SELECT count(DISTINCT person_id), count(*) FROM person").fetchone()
    assert counts == (network.persons, network.patient_files)


def test_the_depot_loads_through_the_drop_folders(network: NetworkSummary, tmp_path: Path) -> None:
    """Copying ``depot`` into the data home and the registry into place is all a network needs."""
    settings = Settings(home=tmp_path / "home")
    shutil.copytree(network.options.out / DEPOT, settings.home_dir / DEPOT)
    installation = open_installation(settings)
    try:
        registry = StructureRegistry(network.options.out / REGISTRY_FILE)
        result = process(installation, registry=registry)
        assert [r.status for r in result.reports] == ["loaded"] * STRUCTURES
        persons = installation.warehouse.duckdb.execute("SELECT count(DISTINCT person_id) FROM person").fetchone()
        assert persons is not None and persons[0] == network.persons
    finally:
        installation.close()


def test_an_ins_drawn_twice_by_chance_is_drawn_again(tmp_path: Path) -> None:
    """Two different people never share an INS: a repeat gets other order digits and its key, in the NIR
    too when it is the person's own (a child's NIR may be a parent's, and stays)."""
    plan = plan_network(NetworkOptions(structures=1, patients=50, out=tmp_path))[0]
    known = "185031819612345"
    member = _Member(plan, 0.0, _Identities(), np.zeros(0, dtype=np.int64), {known})
    patients: dict = {"ins": pa.array([known, known, None]), "nir": pa.array([known, "285031819645612", None])}
    member._unique_ins(SimpleNamespace(lo=0, hi=3, index=0), patients)  # type: ignore[arg-type]
    ins, nir = patients["ins"].to_pylist(), patients["nir"].to_pylist()
    assert len({known, ins[0], ins[1]}) == 3 and ins[2] is None
    assert nir == [ins[0], "285031819645612", None]
    for number in ins[:2]:
        assert number[:10] == known[:10] and 97 - int(number[:13]) % 97 == int(number[13:])


# --- determinism, options, command line ------------------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def run(seed: int, name: str) -> dict[str, bytes]:
        generate_network(NetworkOptions(structures=3, patients=300, seed=seed, out=tmp_path / name))
        return _files(tmp_path / name)

    first, again, other = run(3, "a"), run(3, "b"), run(4, "c")
    assert first == again
    assert first[REGISTRY_FILE] != other[REGISTRY_FILE]


def test_bad_options_are_refused_in_french(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="au plus"):
        plan_network(NetworkOptions(structures=500, patients=100_000, out=tmp_path))
    with pytest.raises(ValueError, match="il en faut une par structure"):
        plan_network(NetworkOptions(structures=3, sizes=(10, 20), out=tmp_path))
    with pytest.raises(ValueError, match="il en faut au moins"):
        plan_network(NetworkOptions(structures=3, patients=10, out=tmp_path))


def test_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "reseau"
    result = runner.invoke(app, ["synth", "--network", "3", "--patients", "150", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "vues par deux structures" in result.output
    assert len(StructureRegistry(out / REGISTRY_FILE).all()) == 3
    refused = runner.invoke(app, ["synth", "--network", "3", "--format", "fhir", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 1 and "ne s'emploient pas avec --network" in refused.output
    sizes = runner.invoke(
        app, ["synth", "--network", "2", "--sizes", "40,60", "--seed", "2", "--out", str(tmp_path / "sizes")]
    )
    assert sizes.exit_code == 0, sizes.output
    assert json.loads((tmp_path / "sizes" / "network.json").read_text(encoding="utf-8"))["patients"] == 100
