"""Research extracts: k-anonymity of the quasi-identifiers (property test), objectors absent from every
table, period and tables honoured, every extract logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import Installation, open_installation
from proxisante.research.anonymity import RELEASED, anonymise, departement
from proxisante.research.extract import check_k_anonymity, extract
from proxisante.research.projects import ProjectError, declare, read_log
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre

COMMUNES = ["75056", "75101", "93048", "93066", "2A004", "97411", None]

person_strategy = st.tuples(st.integers(1920, 2024), st.sampled_from([8507, 8532]), st.sampled_from(COMMUNES))
persons_strategy = st.lists(person_strategy, min_size=0, max_size=60)


@settings(max_examples=100, deadline=None)
@given(rows=persons_strategy, k=st.integers(2, 6))
def test_every_released_combination_is_shared_by_k_persons(rows: list[tuple], k: int) -> None:
    persons = pd.DataFrame(
        [(i + 1, y, s, c) for i, (y, s, c) in enumerate(rows)],
        columns=["person_id", "year_of_birth", "gender_concept_id", "commune"],
    )
    result = anonymise(persons, k, 2025)
    released = result.released
    # Everyone is either released or suppressed, once.
    assert sorted([*released["person_id"], *result.suppressed]) == list(persons["person_id"])
    if len(released):
        assert released.groupby(RELEASED).size().min() >= k
    # Released values generalise the true ones: the age lies in its band, the place is the commune or
    # its département, the sex is unchanged.
    truth = persons.set_index("person_id")
    for row in released.itertuples():
        person = truth.loc[row.person_id]
        age = max(0, 2025 - person.year_of_birth)
        assert row.age_low <= age <= row.age_high
        assert row.gender_concept_id == person.gender_concept_id
        commune = person.commune if isinstance(person.commune, str) else None
        expected = {"commune": commune or "", "departement": departement(commune) or ""}[row.geo_level]
        assert row.geography == expected


def test_a_rare_commune_is_generalised_to_its_departement_and_a_lone_person_suppressed() -> None:
    persons = pd.DataFrame({
        "person_id": range(1, 13), "year_of_birth": [1980] * 12, "gender_concept_id": [8532] * 12,
        "commune": ["75056"] * 6 + ["75101"] * 3 + ["75102"] * 2 + ["93048"],
    })  # fmt: skip
    result = anonymise(persons, 5, 2025)
    by_person = result.released.set_index("person_id")
    assert set(by_person.loc[1:6, "geography"]) == {"75056"}
    assert set(by_person.loc[7:11, "geography"]) == {"75"}
    assert result.suppressed == [12]
    assert result.report()["persons_generalised"] == 5 and result.report()["smallest_group"] == 5


PROJECT = {
    "id": "diabete-2024",
    "title": "Suivi du diabète en soins primaires",
    "purpose": "Étude observationnelle du suivi biologique des patients diabétiques.",
    "tables": ["condition_occurrence", "measurement"],
    "period": {"start": "2023-01-01", "end": "2024-12-31"},
    "approval": {"body": "CNIL", "reference": "MR-004 n° 2224567", "date": "2024-11-04"},
    "k": 5,
    "date_shift": True,
    "quasi_identifiers": ["age_band", "sex", "commune"],
}


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    root = tmp_path_factory.mktemp("research")
    generate_centre(SynthOptions(patients=400, seed=11, out=root / "centre", file_format="csv", defects=False))
    inst = open_installation(Settings(home=root / "home"))
    load_pivot(root / "centre", inst, source="demo")
    path = root / "project.yaml"
    path.write_text(yaml.safe_dump(PROJECT, allow_unicode=True), encoding="utf-8")
    declare(inst.settings.home_dir, path, by="dpo")
    yield inst
    inst.close()


def _read(out: Path, table: str) -> list[dict]:
    return (
        duckdb.connect()
        .execute(f"SELECT * FROM read_csv('{out}/{table}.csv', all_varchar=true)")
        .df()
        .to_dict("records")
    )


def test_extract_honours_tables_period_objections_and_k(centre: Installation, tmp_path: Path) -> None:
    con = centre.warehouse.duckdb
    # The objector: the person with an INS with the most measurements in the period.
    with centre.vault.connect() as vault:
        with_ins = dict(vault.execute("SELECT person_id, ins FROM identity WHERE ins IS NOT NULL").fetchall())
    objector = con.execute(
        "SELECT person_id FROM measurement WHERE measurement_date BETWEEN '2023-01-01' AND '2024-12-31' "
        "AND person_id IN (SELECT unnest(?::BIGINT[])) GROUP BY ALL ORDER BY count(*) DESC, person_id LIMIT 1",
        [sorted(with_ins)],
    ).fetchone()[0]
    ins = with_ins[objector]
    centre.objections.add(ins, "accueil")
    out = tmp_path / "extract"
    result = extract(centre, "diabete-2024", out, by="chercheur")
    # Tables: the requested ones, person, location (generalised), vocabulary; nothing else.
    clinical = {p.stem for p in out.glob("*.csv")} - {"concept", "vocabulary", "domain", "concept_class",
        "relationship", "concept_relationship", "concept_synonym", "concept_ancestor", "source_to_concept_map",
        "drug_strength", "data_dictionary", "cdm_source"}  # fmt: skip
    assert clinical == {"person", "location", "condition_occurrence", "measurement"}
    # k-anonymity on the files written.
    assert check_k_anonymity(out, 5) >= 5
    # The objector is absent: the extract has exactly the other persons' rows of the period, minus the
    # rows of suppressed persons (their count is in the report).
    report = result.report
    kept = con.execute(
        "SELECT count(DISTINCT person_id) FROM person WHERE person_id <> ? AND person_id IN (SELECT person_id "
        "FROM observation_period WHERE observation_period_start_date <= '2024-12-31' AND "
        "observation_period_end_date >= '2023-01-01')",
        [objector],
    ).fetchone()[0]
    assert report["persons_in"] == kept and report["excluded_objections"] == 1
    assert result.rows["person"] == report["persons_released"]
    measurements = con.execute(
        "SELECT count(*) FROM measurement WHERE measurement_date BETWEEN '2023-01-01' AND '2024-12-31'"
    ).fetchone()[0]
    objector_rows = con.execute(
        "SELECT count(*) FROM measurement WHERE person_id = ? AND measurement_date BETWEEN '2023-01-01' AND "
        "'2024-12-31'",
        [objector],
    ).fetchone()[0]
    assert objector_rows > 0
    if report["persons_suppressed"] == 0:
        assert result.rows["measurement"] == measurements - objector_rows
    else:
        assert result.rows["measurement"] <= measurements - objector_rows
    # Dates shifted, but within the period ± the bound; no month or day of birth.
    dates = [pd.Timestamp(r["measurement_date"]) for r in _read(out, "measurement")]
    assert min(dates) >= pd.Timestamp("2022-07-01") and max(dates) <= pd.Timestamp("2025-07-01")
    assert all(r["month_of_birth"] is None for r in _read(out, "person"))
    # Logged, with the manifest's checksum.
    entry = read_log(centre.settings.home_dir)[-1]
    assert entry["event"] == "extract" and entry["by"] == "chercheur" and entry["project"] == "diabete-2024"
    assert entry["rows"]["measurement"] == result.rows["measurement"]
    manifest = (out / "manifest.json").read_bytes()
    import hashlib

    assert entry["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert "k_anonymity" in json.loads(manifest)


def test_objector_absent_from_every_table(centre: Installation, tmp_path: Path) -> None:
    """Every person table holds exactly the rows of the period of the persons neither objecting nor
    suppressed: the objector's rows are in none of them."""
    spec = {**PROJECT, "id": "tout-2024", "k": 2, "date_shift": False, "quasi_identifiers": ["age_band", "sex"]}
    spec["tables"] = ["visit_occurrence", "condition_occurrence", "drug_exposure", "measurement", "death"]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    declare(centre.settings.home_dir, path, by="dpo")
    objectors = centre.objections.person_ids()
    assert objectors
    out = tmp_path / "x"
    result = extract(centre, "tout-2024", out, by="chercheur")
    left_out = sorted(objectors | set(result.suppressed))
    con = centre.warehouse.duckdb
    dated = {
        "visit_occurrence": "visit_start_date",
        "condition_occurrence": "condition_start_date",
        "drug_exposure": "drug_exposure_start_date",
        "measurement": "measurement_date",
        "death": "death_date",
    }
    for table, column in dated.items():
        in_period = f"SELECT count(*) FROM {table} WHERE {column} BETWEEN '2023-01-01' AND '2024-12-31'"
        expected = con.execute(f"{in_period} AND person_id NOT IN (SELECT unnest(?::BIGINT[]))", [left_out])
        assert result.rows[table] == expected.fetchone()[0], table
    objector_rows = con.execute(
        "SELECT count(*) FROM visit_occurrence WHERE person_id IN (SELECT unnest(?::BIGINT[])) AND "
        "visit_start_date BETWEEN '2023-01-01' AND '2024-12-31'",
        [sorted(objectors)],
    ).fetchone()[0]
    assert objector_rows > 0  # the check above would pass without exclusion otherwise
    assert not (out / "location.csv").exists()


def test_declaring_checks_the_file(centre: Installation, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**PROJECT, "tables": ["persons"], "k": 1}), encoding="utf-8")
    with pytest.raises(
        ProjectError, match=r"tables : table\(s\) inconnue\(s\) persons.*k : doit être supérieur ou égal à 2"
    ):
        declare(centre.settings.home_dir, path, by="dpo")


def test_cli_declare_list_extract(centre: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxisante.cli import app

    monkeypatch.setenv("PROXISANTE_HOME", str(centre.settings.home_dir))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**PROJECT, "id": "cli-2024", "tables": ["condition_occurrence"]}), "utf-8")
    runner = CliRunner()
    declared = runner.invoke(app, ["research", "declare", str(path), "--by", "dpo"])
    assert declared.exit_code == 0, declared.output
    listed = runner.invoke(app, ["research", "list"])
    assert "cli-2024" in listed.output
    done = runner.invoke(app, ["research", "extract", "cli-2024", "--out", str(tmp_path / "o"), "--by", "moi"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "o" / "EXTRACT_REPORT.md").exists()
    assert read_log(centre.settings.home_dir)[-1]["by"] == "moi"


@settings(max_examples=12, deadline=None)
@given(rows=st.lists(person_strategy, min_size=1, max_size=40), k=st.integers(2, 5))
def test_every_extract_of_a_generated_population_passes_the_check(
    rows: list[tuple], k: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Persons and communes written to a warehouse, extracted through the whole pipeline: the files
    pass the k-anonymity check and hold every released person once."""
    from proxisante.identity import IdentityVault, Pseudonymiser
    from proxisante.warehouse.connection import Warehouse

    root = tmp_path_factory.mktemp("generated")
    warehouse = Warehouse.connect("duckdb://")
    inst = Installation(Settings(home=root / "home"), warehouse, IdentityVault(root / "vault.duckdb"),
                        Pseudonymiser(b"k" * 32))  # fmt: skip
    con = warehouse.duckdb
    communes = sorted({c for _, _, c in rows if c})
    for n, commune in enumerate(communes):
        con.execute(
            "INSERT INTO location (location_id, location_source_value, county) VALUES (?, ?, ?)",
            [n + 1, commune, departement(commune)],
        )
    for n, (year, sex, commune) in enumerate(rows):
        location = communes.index(commune) + 1 if commune else None
        con.execute(
            "INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, "
            "race_concept_id, ethnicity_concept_id, location_id) VALUES (?, ?, ?, 6, 15, 0, 0, ?)",
            [1000 + n, sex, year, location],
        )
        con.execute(
            "INSERT INTO observation_period VALUES (?, ?, DATE '2021-01-01', DATE '2024-06-30', 32817, NULL)",
            [1000 + n, 1000 + n],
        )
    path = root / "p.yaml"
    spec = {**PROJECT, "id": "gen", "k": k, "tables": ["observation_period"], "vocabulary": False}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    declare(inst.settings.home_dir, path, by="dpo")
    result = extract(inst, "gen", root / "out", by="test")
    smallest = check_k_anonymity(root / "out", k)
    assert smallest is None or smallest >= k
    assert result.rows["person"] == len(rows) - len(result.suppressed)
    assert result.rows["observation_period"] == result.rows["person"]
    warehouse.close()


# -- governance: project ids, vocabulary, whole extracts (issue 13, finding 9) ----------------------


def _declared(centre: Installation, tmp_path: Path, **changes) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**PROJECT, **changes}, allow_unicode=True), encoding="utf-8")
    return declare(centre.settings.home_dir, path, by="dpo")[0].id


def test_a_project_id_is_never_a_path(centre: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxisante.cli import app
    from proxisante.research.projects import project

    home = centre.settings.home_dir
    # An undeclared specification with k = 2 where ../../../other would lead from the projects folder.
    undeclared = (home / "research" / "projects" / "../../../other.yaml").resolve()
    undeclared.write_text(yaml.safe_dump({**PROJECT, "id": "other", "k": 2}, allow_unicode=True), encoding="utf-8")
    logged = len(read_log(home))
    monkeypatch.setenv("PROXISANTE_HOME", str(home))
    for bad in ("../../../other", "/etc/passwd", "Diabete", "a", "x/../diabete-2024", "diabete-2024\n", ""):
        with pytest.raises(ProjectError, match="identifiant de projet invalide"):
            project(home, bad)
    result = CliRunner().invoke(app, ["research", "extract", "../../../other", "--out", str(tmp_path / "o"),
                                      "--by", "moi"])  # fmt: skip
    assert result.exit_code == 2 and "identifiant de projet invalide" in " ".join(result.output.split())
    assert not (tmp_path / "o").exists() and len(read_log(home)) == logged


def test_a_project_file_that_declares_another_id_is_refused(centre: Installation, tmp_path: Path) -> None:
    home = centre.settings.home_dir
    folder = home / "research" / "projects"
    (folder / "copie.yaml").write_text((folder / "diabete-2024.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    try:
        with pytest.raises(ProjectError, match="déclare un autre projet"):
            extract(centre, "copie", tmp_path / "o", by="moi")
    finally:
        (folder / "copie.yaml").unlink()
    assert not (tmp_path / "o").exists()


def test_an_extract_without_vocabulary(centre: Installation, tmp_path: Path) -> None:
    project_id = _declared(centre, tmp_path, id="sans-vocabulaire", vocabulary=False)
    out = tmp_path / "extrait"
    result = extract(centre, project_id, out, by="chercheur")
    assert not (out / "concept.csv").exists() and (out / "EXTRACT_REPORT.md").exists()
    concepts = (
        duckdb.connect()
        .execute(f"SELECT max(condition_source_concept_id::BIGINT) FROM read_csv('{out}/condition_occurrence.csv')")
        .fetchone()[0]
    )
    assert concepts is not None and concepts < 2**31  # local concepts renumbered as with the vocabulary
    assert read_log(centre.settings.home_dir)[-1]["project"] == project_id and result.rows["condition_occurrence"]


def _nothing_left(centre: Installation, out: Path, logged: int) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == []  # no temporary folder either
    assert len(read_log(centre.settings.home_dir)) == logged


@pytest.mark.parametrize("failure", ["write", "k-anonymity", "log"])
def test_an_extract_is_whole_and_logged_or_absent(
    centre: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import proxisante.research.extract as module
    from proxisante.research.export import OmopExport

    logged = len(read_log(centre.settings.home_dir))
    if failure == "write":  # the second table fails, after the first was written
        real, calls = OmopExport._copy, []

        def failing(self, sql: str, path: Path) -> int:
            calls.append(path)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real(self, sql, path)

        monkeypatch.setattr(OmopExport, "_copy", failing)
        expected: type[BaseException] = OSError
    elif failure == "k-anonymity":
        monkeypatch.setattr(module, "check_k_anonymity", lambda *a: 1)
        expected = module.ExtractError
    else:

        def no_log(*a, **k) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(module, "append_log", no_log)
        expected = OSError
    out = tmp_path / "livraison" / "extrait"
    (tmp_path / "livraison").mkdir()
    with pytest.raises(expected):
        extract(centre, "diabete-2024", out, by="chercheur")
    _nothing_left(centre, out, logged)


def test_a_full_disk_is_said_in_french(centre: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxisante.cli import app
    from proxisante.research.export import OmopExport

    def full(self, sql: str, path: Path) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OmopExport, "_copy", full)
    monkeypatch.setenv("PROXISANTE_HOME", str(centre.settings.home_dir))
    logged = len(read_log(centre.settings.home_dir))
    out = tmp_path / "sortie" / "o"
    result = CliRunner().invoke(app, ["research", "extract", "diabete-2024", "--out", str(out), "--by", "moi"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "disque plein" in said and "No space" not in said
    _nothing_left(centre, out, logged)
