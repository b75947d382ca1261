"""Scopes on the command line (issue 15, item 2): every command that reads the warehouse takes
``--structure`` (repeatable), ``--reseau``, ``--cpts`` and ``--rattaches``; one structure gives that
structure's figures (the engine's on its ScopedTables), the network counts a shared person once, a CPTS is
the union of its members, the attributed views partition the persons; a wrong scope is refused in French
with exit code 2 before anything is computed; an export of one structure holds no row of another."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from proxisante import main
from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.cli.scope import scope_from_options
from proxisante.measures.definition import library
from proxisante.measures.gaps import care_gaps
from proxisante.measures.periods import parse_period
from proxisante.measures.results import run, series
from proxisante.network.scope import Scope, ScopedTables
from proxisante.network.structures import StructureRegistry
from proxisante.settings import Settings
from tests.lib.network import LoadedNetwork

CPTS = "CPTS synthétique du Saint-Amandois"  # the registry's CPTS: the first and third structures
MEASURES = ["rosp_colorectal_screening", "rosp_flu_65"]
ON = dt.date(2025, 12, 31)


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)  # no cell wraps
    return CliRunner()


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def cells(output: str, first: str) -> list[str]:
    """The cells of the first table row of ``output`` whose first cell is ``first``."""
    for line in output.splitlines():
        parts = [part.strip() for part in line.strip().strip("│").split("│")]
        if len(parts) > 1 and parts[0] == first:
            return parts
    raise AssertionError(f"no row {first!r} in:\n{output}")


def registry(network: LoadedNetwork) -> StructureRegistry:
    return StructureRegistry.installed(Settings(home=network.home))


def name_of(network: LoadedNetwork, finess: str) -> str:
    return registry(network).require(finess).name


# -- resolution and refusals -----------------------------------------------------------------------


def test_the_options_resolve_against_the_registry(network: LoadedNetwork) -> None:
    a, b, c = network.finess
    settings = Settings(home=network.home)
    assert scope_from_options(None, False, None, settings=settings) == Scope.network()
    assert scope_from_options(None, True, None, settings=settings).is_network
    one = scope_from_options([a], False, None, settings=settings)
    assert one.structures == {a} and one.name == "Centre de santé de Saint-Amand-Montrond"
    assert scope_from_options([f" {a.lower()} ", a], False, None, settings=settings).structures == {a}
    two = scope_from_options([a, b], False, None, settings=settings)
    assert two.structures == {a, b} and " + " in two.name
    cpts = scope_from_options(None, False, " cpts synthétique du saint-amandois ", settings=settings)
    assert cpts.structures == {a, c} and cpts.name == CPTS
    attributed = scope_from_options([a], False, None, True, ON, settings=settings)
    assert attributed.attributed_on == ON and attributed.structures == {a}
    registry(network).leave(c, dt.date(2026, 1, 15), by="test")  # a member that left: its rows stay readable
    assert scope_from_options(None, False, CPTS, settings=settings).structures == {a, c}
    assert scope_from_options([c], False, None, settings=settings).structures == {c}


REFUSING = [
    ["status"],
    ["quarantine"],
    ["patientele"],
    ["measures", "run", "-m", MEASURES[0]],
    ["measures", "series", "-m", MEASURES[0]],
    ["gaps", "-m", MEASURES[0]],
    ["economie", "simulate", "--draws", "100"],
    ["territoire", "apl"],
    ["report", "--format", "json"],
    ["export", "omop"],
    ["research", "extract", "projet", "--by", "dpo"],
]


def test_a_wrong_scope_is_refused_in_french_with_code_2_and_nothing_computed(
    network: LoadedNetwork, cli: CliRunner, tmp_path: Path
) -> None:
    a = network.finess[0]
    wrong = {
        ("--structure", "999999999"): "structure inconnue du registre : FINESS 999999999",
        ("--structure", a, "--reseau"): "--structure ne se combine ni avec --reseau ni avec --cpts",
        ("--structure", a, "--cpts", CPTS): "--structure ne se combine ni avec --reseau ni avec --cpts",
        ("--reseau", "--cpts", CPTS): "--reseau et --cpts s'excluent",
        ("--cpts", "CPTS du Néant"): "CPTS inconnue : « CPTS du Néant »",
    }
    for n, command in enumerate(REFUSING):
        out = tmp_path / f"out{n}"
        where = [str(out)] if command[0] == "export" else ["--out", str(out)]
        for options, message in wrong.items():
            args = [*command, *(where if command[0] in ("export", "report", "research") else []), *options]
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 2, (args, result.output)
            text = " ".join(result.output.split())
            assert "Périmètre refusé :" in text and message in text, (args, text)
            assert not out.exists()  # nothing computed, nothing written
    unknown_cpts = CliRunner().invoke(app, ["patientele", "--cpts", "Nulle part"])
    assert CPTS in " ".join(unknown_cpts.output.split())  # the refusal lists the CPTS the registry knows
    with_file = CliRunner().invoke(app, ["economie", "simulate", "--profile", "p.yaml", "--structure", a])
    assert with_file.exit_code == 2 and "ne s'appliquent pas à un profil donné par --profile" in with_file.output


def test_a_structure_that_left_stays_readable(network: LoadedNetwork, cli: CliRunner) -> None:
    a = network.finess[0]
    registry(network).leave(a, dt.date(2026, 1, 15), by="test")
    out = ok(cli, "patientele", "--structure", a)
    assert f"FINESS {a}, a quitté le réseau le 15/01/2026" in out
    assert cells(out, "En ALD")[2] == "76"


# -- figures per scope ------------------------------------------------------------------------------


def test_patientele_per_structure_network_cpts_and_attributed(network: LoadedNetwork, cli: CliRunner) -> None:
    a, b, c = network.finess
    span = parse_period("2025")

    def figures(*options: str) -> tuple[tuple[int, int], str]:
        """(patientèle médecin traitant, patients seen in 24 months) as the command prints them, and the output."""
        out = ok(cli, "patientele", *options)
        return (int(cells(out, "En ALD")[2]), int(cells(out, "Total")[1])), out

    seen = {finess: figures("--structure", finess)[0] for finess in network.finess}
    inst = network.open()
    try:
        tables = main.patientele(inst, ON, span, scope=Scope.of([a]))
        engine = (
            int(tables["composition"].panel.iloc[0]),
            int(tables["access"].set_index("age_band").loc["Total"].seen),
        )
        pair = main.patientele(inst, ON, span, scope=Scope.of([a, c]))
        pair_seen = int(pair["access"].set_index("age_band").loc["Total"].seen)
    finally:
        inst.close()
    assert seen[a] == engine == (76, 98) and seen[b] == (61, 73)
    whole, printed = figures()  # no option: the network
    assert "Périmètre" not in printed  # the single centre's output is unchanged
    assert whole[1] < sum(s[1] for s in seen.values())  # a shared person is counted once
    assert figures("--cpts", CPTS)[0][1] == pair_seen <= seen[a][1] + seen[c][1]
    attributed = [figures("--structure", finess, "--rattaches") for finess in network.finess]
    # The attributed views partition the persons; a person attributed to A by a declaration there but seen in 24
    # months only at B is seen in neither A's rows nor B's view: the "seen" counts sum to at most the network's.
    assert whole[1] - 2 <= sum(f[1] for f, _ in attributed) <= whole[1] == 212
    inst = network.open()
    try:
        persons = inst.warehouse.duckdb.execute("SELECT count(DISTINCT person_id) FROM person").fetchone()[0]
        views = [ScopedTables(inst.warehouse, Scope.of([f]).attributed(ON)) for f in network.finess]
        counted = [int(inst.warehouse.execute(v.table("person").count())) for v in views]
    finally:
        inst.close()
    assert sum(counted) == persons  # each person in exactly one structure's attributed view
    assert (sum(f[0] for f, _ in attributed), whole[0]) == (166, 166)
    label = f"Périmètre : Centre de santé de Saint-Amand-Montrond (FINESS {a}), patients rattachés au 31/12/2025"
    assert label in attributed[0][1]


def _measures(runner: CliRunner, *options: str) -> pd.DataFrame:
    args = ["measures", "run", "--format", "json", *(a for m in MEASURES for a in ("-m", m)), *options]
    return pd.DataFrame(json.loads(ok(runner, *args))).set_index("measure_id")[["denominator", "numerator"]]


def test_measures_run_and_series_per_scope(network: LoadedNetwork, cli: CliRunner) -> None:
    a, b, c = network.finess
    span, chosen = parse_period("2025"), [library()[m] for m in MEASURES]
    by_a, by_b = _measures(cli, "--structure", a), _measures(cli, "--structure", b)
    inst = network.open()
    try:
        engine = run(ScopedTables(inst.warehouse, Scope.of([a])), span, chosen).table
        monthly = series(ScopedTables(inst.warehouse, Scope.of([a])), chosen[0], dt.date(2025, 12, 1), ON)
    finally:
        inst.close()
    assert by_a.to_dict() == engine.set_index("measure_id")[["denominator", "numerator"]].to_dict()
    assert by_a.loc[MEASURES[0], "denominator"] == 26 and by_b.loc[MEASURES[0], "denominator"] == 26
    whole = _measures(cli, "--reseau")
    assert whole.loc[MEASURES[0], "denominator"] == 62
    assert _measures(cli, "--cpts", CPTS).equals(_measures(cli, "--structure", a, "--structure", c))
    table = ok(cli, "measures", "run", "-m", MEASURES[0], "--structure", b)
    assert f"Périmètre : Maison de santé pluriprofessionnelle de Dun-sur-Auron (FINESS {b})" in table
    shown = ok(cli, "measures", "series", "-m", MEASURES[0], "--from", "2025-12", "--to", "2025-12", "--structure", a)
    assert int(cells(shown, "31/12/2025")[1]) == int(monthly.eligible.iloc[0]) > 0


def test_gaps_of_one_structure_are_its_patients(network: LoadedNetwork, cli: CliRunner) -> None:
    a, b, _ = network.finess
    span, chosen = parse_period("2025"), [library()[MEASURES[0]]]

    def listed(finess: str) -> pd.DataFrame:
        out = ok(
            cli, "gaps", "-m", MEASURES[0], "--period", "2025", "--par-action", "--format", "csv", "--structure", finess
        )
        return pd.read_csv(pd.io.common.StringIO(out), sep=";").rename(columns={"pseudonyme": "person_id"})

    of_a, of_b = listed(a), listed(b)
    inst = network.open()
    try:
        engine = care_gaps(ScopedTables(inst.warehouse, Scope.of([a])), span, chosen)
        persons = {
            finess: {p for (p,) in inst.warehouse.duckdb.execute(
                "SELECT person_id FROM person WHERE structure = ?", [finess]).fetchall()}
            for finess in (a, b)
        }  # fmt: skip
    finally:
        inst.close()
    assert sorted(of_a.person_id) == sorted(engine.person_id) and len(of_a) > 0
    assert set(of_a.person_id) <= persons[a] and set(of_b.person_id) <= persons[b]
    assert set(of_a.person_id) != set(of_b.person_id)


def test_status_and_quarantine_per_structure(network: LoadedNetwork, cli: CliRunner) -> None:
    a, b, c = network.finess
    assert cells(ok(cli, "status", "--structure", a), "person")[2] == "160"
    assert cells(ok(cli, "status", "--structure", c), "person")[2] == "70"
    whole = ok(cli, "status")
    assert network.summary.shared == 10  # persons seen by two structures: one person in the network's view
    assert cells(whole, "person")[2] == str(160 + 110 + 70 - 10)
    assert cells(ok(cli, "status", "--reseau"), "person") == cells(whole, "person")
    assert "Périmètre" not in whole
    scoped = ok(cli, "status", "--cpts", CPTS)
    assert f"Périmètre : {CPTS} (2 structures : FINESS {', '.join(sorted([a, c]))})" in scoped
    freshness = scoped.split("Fraîcheur par structure", 1)[1]
    assert name_of(network, a) in freshness and name_of(network, b) not in freshness

    def rejected(*options: str) -> int:
        out = ok(cli, "quarantine", "--limit", "1000", *options)
        rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in out.splitlines()]
        return sum(1 for row in rows if len(row) > 2 and row[1].isdigit())  # a row has its line number

    assert (rejected("--structure", a), rejected("--structure", b), rejected("--structure", c)) == (39, 23, 0)
    assert rejected() == 62


def test_economic_profile_of_one_structure(network: LoadedNetwork, cli: CliRunner) -> None:
    a = network.finess[0]
    out = ok(cli, "economie", "simulate", "--draws", "100", "--structure", a, "--profile-year", "2025")
    inst = network.open()
    try:
        profile = main.warehouse_profile(inst, 2025, scope=Scope.of([a], name_of(network, a)))
    finally:
        inst.close()
    assert profile.centre == "Centre de santé de Saint-Amand-Montrond"
    assert f"{profile.centre} — profil 2025" in out
    assert f"{profile.patients} patients médecin traitant" in out and profile.patients == 76
    assert out.index("Périmètre :") < out.index("profil 2025")


def test_territory_apl_adds_the_gps_of_the_scope(network: LoadedNetwork, cli: CliRunner, tmp_path: Path) -> None:
    a, b, _ = network.finess
    reference = tmp_path / "communes.csv"
    rows = [("18197", "Saint-Amand-Montrond", 9500), ("18087", "Dun-sur-Auron", 3900), ("18172", "Orval", 1900)]
    reference.write_text(
        "code,name,departement,departement_name,region,region_name,epci,epci_name,population,lat,lon\n"
        + "".join(
            f"{code},{name},18,Cher,24,Centre-Val de Loire,200000000,EPCI,{people},{46.7 + n / 10},{2.5 + n / 10}\n"
            for n, (code, name, people) in enumerate(rows)
        ),
        encoding="utf-8",
    )

    def fte(*options: str) -> dict[str, float]:
        out = ok(cli, "territoire", "apl", "--referentiel", str(reference), "--format", "csv", *options)
        frame = pd.read_csv(pd.io.common.StringIO(out), sep=";", decimal=",", dtype={"code": str})
        return dict(zip(frame.code, frame.fte, strict=True))

    plain, with_a, with_b = fte(), fte("--structure", a), fte("--structure", b)
    inst = network.open()
    try:
        own = main.centre_supply(inst, scope=Scope.of([a])).fte.to_dict()
    finally:
        inst.close()
    assert set(own) == {"18197"} and own["18197"] > 0
    assert with_a["18197"] == pytest.approx(plain["18197"] + own["18197"])
    assert with_a["18087"] == pytest.approx(plain["18087"]) and with_b["18087"] > plain["18087"]
    assert with_b["18197"] == pytest.approx(plain["18197"])
    assert fte("--centre") == pytest.approx(fte("--reseau"))


def test_report_of_one_structure_names_it(network: LoadedNetwork, cli: CliRunner, tmp_path: Path) -> None:
    a, b, _ = network.finess

    def report(finess: str) -> dict:
        out = tmp_path / finess
        options = ("--format", "json", "--no-economics", "--trend", "0", "--out", str(out))
        printed = ok(cli, "report", *options, "--structure", finess)
        assert f"Périmètre : {name_of(network, finess)} (FINESS {finess})" in printed
        (written,) = [f for f in out.glob("*.json") if f.name != "manifest.json"]
        return json.loads(written.read_text(encoding="utf-8"))

    of_a, of_b = report(a), report(b)
    assert of_a["structure"]["name"] == "Centre de santé de Saint-Amand-Montrond"
    assert of_a["title"] == "Rapport d'activité et de qualité — Centre de santé de Saint-Amand-Montrond — 2025"
    assert [s["name"] for s in of_a["structure"]["sites"]] == ["Centre de santé de Saint-Amand-Montrond"]
    assert of_b["structure"]["name"] == name_of(network, b)
    assert f"Périmètre : Centre de santé de Saint-Amand-Montrond (FINESS {a})." in of_a["notes"]

    def panel(doc: dict) -> int:
        return _whole(next(t for t in doc["panel"] if t["id"] == "panel_composition"))

    assert (panel(of_a), panel(of_b)) == (76, 61)


def _whole(table: dict) -> int:
    """The first count of the composition table: the patientèle médecin traitant."""
    first = table["rows"][0]["values"]
    return int(next(v for v in first.values() if isinstance(v, int | float)))


def _csv(folder: Path, table: str) -> pd.DataFrame:
    return duckdb.connect().execute(f"SELECT * FROM read_csv('{folder / table}.csv', all_varchar=true)").df()


def test_an_omop_export_of_one_structure_has_no_row_of_another(
    network: LoadedNetwork, cli: CliRunner, tmp_path: Path
) -> None:
    a, b, c = network.finess
    ok(cli, "export", "omop", str(tmp_path / "a"), "--no-vocabulary", "--structure", a)
    ok(cli, "export", "omop", str(tmp_path / "cpts"), "--no-vocabulary", "--cpts", CPTS)
    inst = network.open()
    try:
        con = inst.warehouse.duckdb
        count = {
            (t, f): con.execute(f"SELECT count(*) FROM {t} WHERE structure = ?", [f]).fetchone()[0]  # type: ignore[index]
            for t in ("person", "visit_occurrence", "care_site")
            for f in (a, b)
        }
        (union,) = con.execute(  # type: ignore[misc]
            "SELECT count(DISTINCT person_id) FROM person WHERE structure IN (?, ?)", [a, c]
        ).fetchone()
    finally:
        inst.close()
    for table in ("person", "visit_occurrence", "care_site"):
        assert len(_csv(tmp_path / "a", table)) == count[table, a]
    assert (count["person", a], count["visit_occurrence", a]) != (count["person", b], count["visit_occurrence", b])
    assert set(_csv(tmp_path / "a", "care_site").care_site_name) == {name_of(network, a)}
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scope"] == {
        "name": name_of(network, a),
        "structures": [a],
        "view": "seen_here",
        "attributed_on": None,
    }
    assert len(_csv(tmp_path / "cpts", "person")) == union
    assert set(_csv(tmp_path / "cpts", "care_site").care_site_name) == {name_of(network, a), name_of(network, c)}


def test_a_research_extract_of_one_structure(network: LoadedNetwork, cli: CliRunner, tmp_path: Path) -> None:
    a, b, _ = network.finess
    project = {
        "id": "reseau-2025",
        "title": "Suivi en soins primaires",
        "purpose": "Étude observationnelle.",
        "tables": ["visit_occurrence"],
        "period": {"start": "2024-01-01", "end": "2025-12-31"},
        "approval": {"body": "CNIL", "reference": "MR-004 n° 1", "date": "2024-11-04"},
        "k": 2,
        "date_shift": False,
        "quasi_identifiers": ["age_band", "sex"],
    }
    spec = tmp_path / "projet.yaml"
    spec.write_text(yaml.safe_dump(project, allow_unicode=True), encoding="utf-8")
    ok(cli, "research", "declare", str(spec), "--by", "dpo")
    out = tmp_path / "extrait"
    printed = ok(cli, "research", "extract", "reseau-2025", "--out", str(out), "--by", "dpo", "--structure", a)
    assert f"Périmètre : {name_of(network, a)} (FINESS {a})" in printed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scope"]["structures"] == [a]
    released = manifest["k_anonymity"]["persons_in"]
    inst = network.open()
    try:
        con = inst.warehouse.duckdb
        in_period = (
            "SELECT count(DISTINCT p.person_id) FROM person p JOIN observation_period o ON o.person_id = p.person_id "
            "AND o.structure = p.structure WHERE p.structure = ? AND o.observation_period_start_date <= DATE "
            "'2025-12-31' AND o.observation_period_end_date >= DATE '2024-01-01'"
        )
        expected = {f: con.execute(in_period, [f]).fetchone()[0] for f in (a, b)}  # type: ignore[index]
    finally:
        inst.close()
    assert released == expected[a] != expected[b]
    assert len(_csv(out, "person")) == manifest["k_anonymity"]["persons_released"] <= expected[a]
