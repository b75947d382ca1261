"""The synthetic centre: deterministic, complete, well-formed, coherent, realistic, with honest defects.

Every check reads the files as a loader would (``;``, ``dd/mm/yyyy``, decimal comma), with its own
small key-digit functions, so that a bug in the generator's helpers cannot hide itself.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from proxisante import vocab
from proxisante.ingest.pivot.format import TABLES, TABLES_BY_NAME
from proxisante.synth import DEFECT_KINDS, SynthOptions, SynthSummary, generate_centre, load_parameters
from proxisante.synth.geography import load_communes
from proxisante.synth.parameters import DATA

START, END = date(2021, 1, 1), date(2025, 6, 30)
N = 2000


# --- own checks of the key digits --------------------------------------------------------------


def nir_ok(value: str) -> bool:
    if not re.fullmatch(r"[12][0-9]{4}(2[AB]|[0-9]{2})[0-9]{8}", value):
        return False
    body = value[:13].replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(value[13:])


def luhn_ok(value: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def ean13_ok(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{13}", value):
        return False
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(value[:12]))
    return (10 - total % 10) % 10 == int(value[12])


def day(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


def read(folder: Path, table: str, encoding: str = "utf-8") -> tuple[list[str], list[dict[str, str]]]:
    with (folder / f"{table}.csv").open(encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        return list(reader.fieldnames or []), list(reader)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthSummary, dict[str, list[dict[str, str]]]]:
    out = tmp_path_factory.mktemp("centre")
    calls: list[tuple[str, int, int]] = []
    options = SynthOptions(patients=N, seed=11, out=out, start=START, end=END)
    summary = generate_centre(options, progress=lambda t, r, p: calls.append((t, r, p)))
    summary.progress_calls = calls  # type: ignore[attr-defined]
    return summary, {t.name: read(out, t.name)[1] for t in TABLES}


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    out = tmp_path_factory.mktemp("defects")
    return generate_centre(SynthOptions(patients=1000, seed=5, out=out, start=START, end=END, defects=True))


# --- determinism ---------------------------------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_the_same_bytes_and_another_seed_other_files(tmp_path: Path) -> None:
    def run(seed: int, name: str) -> dict[str, bytes]:
        generate_centre(SynthOptions(patients=400, seed=seed, out=tmp_path / name, start=START, end=END))
        return _files(tmp_path / name)

    first, again, other = run(3, "a"), run(3, "b"), run(4, "c")
    assert first == again
    assert first.keys() == other.keys() and first["patients.csv"] != other["patients.csv"]
    assert first["encounters.csv"] != other["encounters.csv"]


# --- format --------------------------------------------------------------------------------------


def test_every_pivot_column_is_written_in_order(centre) -> None:
    summary, _ = centre
    for table in TABLES:
        header, rows = read(summary.out, table.name)
        assert header == table.column_names, table.name
        assert len(rows) == summary.rows[table.name] > 0, table.name
    assert summary.rows["patients"] == N


def test_required_fields_and_one_of_groups_are_filled(centre) -> None:
    _, tables = centre
    for name, rows in tables.items():
        spec = TABLES_BY_NAME[name]
        required = [c.name for c in spec.columns if c.required]
        for row in rows:
            assert all(row[c] for c in required), (name, row)
            for group in spec.one_of:
                assert any(row[c] for c in group), (name, row)
        keys = [row[spec.key] for row in rows]
        assert len(keys) == len(set(keys)), f"duplicate keys in {name}"


def test_french_csv_conventions(centre) -> None:
    summary, tables = centre
    text = (summary.out / "acts.csv").read_text(encoding="utf-8")
    assert "\r\n" not in text and text.splitlines()[0].count(";") == 7
    assert all(re.fullmatch(r"[0-9]+,[0-9]{2}", r["amount"]) for r in tables["acts"])
    assert all(re.fullmatch(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", r["date"]) for r in tables["encounters"])
    ftes = [r["fte"] for r in tables["professionals"]]
    assert any("," in f for f in ftes) or set(ftes) == {"1"}


def test_codes_are_well_formed(centre) -> None:
    _, t = centre
    patients = t["patients"]
    assert all(nir_ok(p["ins"]) for p in patients if p["ins"])
    assert all(nir_ok(p["nir"]) for p in patients if p["nir"])
    assert sum(1 for p in patients if p["ins"] and p["nir"] and p["ins"] != p["nir"]) > 0  # parents' cards
    assert all(re.fullmatch(r"[0-9]{5}", p["postcode"]) for p in patients if p["postcode"])
    assert all(re.fullmatch(r"([0-9]{2}|2[AB])[0-9]{3}", p["commune_insee"]) for p in patients)
    assert all(re.fullmatch(r"10[0-9]{9}", r["rpps"]) and luhn_ok(r["rpps"]) for r in t["professionals"])
    assert all(re.fullmatch(r"([0-9]{2}|2[AB])[0-9]{7}", s["finess"]) for s in t["sites"])
    cips = [r["cip13"] for name in ("prescriptions", "vaccinations") for r in t[name] if r["cip13"]]
    assert cips and all(c.startswith("34009") and ean13_ok(c) for c in cips)
    atc = re.compile(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")
    assert all(atc.fullmatch(r["atc"]) for name in ("prescriptions", "vaccinations") for r in t[name] if r["atc"])
    cim10 = re.compile(r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?")
    assert all(cim10.fullmatch(r["cim10"]) for r in t["diagnoses"])
    assert all(cim10.fullmatch(r["cim10"]) for r in t["coverage"] if r["coverage_type"] == "ALD")
    assert all(re.fullmatch(r"[0-9]{4}", r["nabm"]) for r in t["lab_results"] if r["nabm"])
    assert all(re.fullmatch(r"[0-9]{1,7}-[0-9]", r["loinc"]) for r in t["lab_results"] if r["loinc"])
    assert all(re.fullmatch(r"[A-Z]{4}[0-9]{3}", r["ccam"]) for r in t["procedures"])
    ngap = vocab.codes("ngap")
    assert {r["encounter_type"] for r in t["encounters"]} <= ngap
    assert all(r["code"] in ngap or re.fullmatch(r"[A-Z]{4}[0-9]{3}", r["code"]) for r in t["acts"])
    assert {r["profession"] for r in t["professionals"]} <= vocab.codes("professions")
    assert {r["sex"] for r in patients} <= vocab.codes("sex")
    assert {r["coverage_type"] for r in t["coverage"]} <= vocab.codes("coverage_type")
    assert {r["payer"] for r in t["acts"]} <= vocab.codes("payer")
    assert {r["structure_type"] for r in t["sites"]} <= vocab.codes("structure_type")


def test_references_point_to_existing_rows(centre) -> None:
    _, t = centre
    keys = {
        "patients": {r["patient_id"] for r in t["patients"]},
        "professionals": {r["rpps"] for r in t["professionals"]},
        "encounters": {r["encounter_id"] for r in t["encounters"]},
        "sites": {r["site_id"] for r in t["sites"]},
    }
    for table in TABLES:
        for column in table.columns:
            target = column.referenced_table
            if target:
                values = {r[column.name] for r in t[table.name] if r[column.name]}
                assert values <= keys[target], (table.name, column.name, sorted(values - keys[target])[:5])


def test_dates_are_plausible(centre) -> None:
    _, t = centre
    life = {r["patient_id"]: (day(r["birth_date"]), day(r["death_date"]) if r["death_date"] else None)
            for r in t["patients"]}  # fmt: skip
    assert all(date(1900, 1, 1) <= birth <= END for birth, _ in life.values())
    deaths = [d for _, d in life.values() if d]
    assert deaths and all(START <= d <= END for d in deaths)
    for table in TABLES:
        if not table.event_date:
            continue
        for row in t[table.name]:
            when = day(row[table.event_date])
            birth, death = life[row["patient_id"]]
            assert birth <= when <= END, (table.name, row)
            assert death is None or when <= death, (table.name, row)
            if row.get("end_date"):
                assert day(row["end_date"]) >= when and day(row["end_date"]) <= END, (table.name, row)
    for row in t["professionals"]:
        assert not row["end_date"] or day(row["end_date"]) >= day(row["start_date"])


# --- realism -------------------------------------------------------------------------------------


def _age(birth: str, at: date = END) -> float:
    return (at - day(birth)).days / 365.25


def test_age_pyramid_is_close_to_insee(centre) -> None:
    _, t = centre
    params = load_parameters()
    pyramid = params.pyramid
    ages = np.array([_age(r["birth_date"]) for r in t["patients"]])
    female = np.array([r["sex"] == "F" for r in t["patients"]])
    total = pyramid.male.sum() + pyramid.female.sum()
    for low, high in ((0, 20), (20, 40), (40, 60), (60, 80), (80, 120)):
        band = (pyramid.ages >= low) & (pyramid.ages < high)
        expected = (pyramid.male[band].sum() + pyramid.female[band].sum()) / total
        observed = np.mean((ages >= low) & (ages < high))
        assert abs(observed - expected) < 0.035, (low, high, observed, expected)
    assert abs(female.mean() - pyramid.female.sum() / total) < 0.035


def test_prevalence_of_diabetes_and_c2s_follow_the_parameters(centre) -> None:
    _, t = centre
    params = load_parameters()
    by_id = {r["patient_id"]: r for r in t["patients"]}
    followed = sorted({r["patient_id"] for r in t["mt_declarations"]})
    diabetic = {r["patient_id"] for r in t["diagnoses"] if r["cim10"].startswith(("E10", "E11"))}
    ages = np.array([_age(by_id[p]["birth_date"]) for p in followed])
    female = np.array([by_id[p]["sex"] == "F" for p in followed])
    t1 = params.conditions[params.condition_index("diabetes_t1")].prevalence.at(ages, female)
    t2 = params.conditions[params.condition_index("diabetes_t2")].prevalence.at(ages, female)
    expected = float((1 - (1 - t1) * (1 - t2)).sum())
    observed = len(diabetic & set(followed))
    assert abs(observed - expected) <= 4 * expected**0.5 + 2, (observed, expected)
    assert 0.04 < observed / len(followed) < 0.09

    all_ages = np.array([_age(r["birth_date"]) for r in t["patients"]])
    all_female = np.array([r["sex"] == "F" for r in t["patients"]])
    c2s = params.table("insurance", "c2s_share").at(all_ages, all_female)
    ame = params.table("insurance", "ame_share").at(all_ages, all_female)
    expected_c2s = float(((1 - ame) * c2s).sum())
    observed_c2s = len({r["patient_id"] for r in t["coverage"] if r["coverage_type"] == "C2S"})
    assert abs(observed_c2s - expected_c2s) <= 4 * expected_c2s**0.5 + 2, (observed_c2s, expected_c2s)
    ald = len({r["patient_id"] for r in t["coverage"] if r["coverage_type"] == "ALD"}) / N
    assert 0.10 < ald < 0.25


def test_panel_activity_and_follow_up_are_realistic(centre) -> None:
    summary, t = centre
    per_patient = summary.total_rows / N
    assert 40 < per_patient < 150
    adults_followed = {r["patient_id"] for r in t["mt_declarations"]}
    assert 0.6 < len(adults_followed) / N < 0.9
    types = Counter(r["encounter_type"] for r in t["encounters"])
    gp = types["G"] + types["VG"] + types["TCG"] + types["GL"]
    assert 0.01 < types["TCG"] / gp < 0.1 and 0.005 < types["VG"] / gp < 0.08
    # Imperfect HbA1c follow-up: about half to three quarters of treated diabetics reach 2 a year.
    treated = {r["patient_id"] for r in t["prescriptions"] if r["atc"].startswith("A10") and r["date"][-4:] == "2024"}
    hba1c = Counter(r["patient_id"] for r in t["lab_results"] if r["nabm"] == "1577" and r["date"][-4:] == "2024")
    share = np.mean([hba1c[p] >= 2 for p in treated])
    assert len(treated) > 30 and 0.35 < share < 0.9
    gp_ftes = sum(float(r["fte"].replace(",", ".")) for r in t["professionals"] if r["profession"] == "MG"
                  and not r["end_date"])  # fmt: skip
    assert 600 < len(adults_followed) / gp_ftes < 2200


def test_tariffs_follow_the_dates(centre) -> None:
    _, t = centre
    billed: dict[tuple[str, str], float] = Counter()
    dates = {}
    for r in t["acts"]:
        if r["code"] == "G":
            billed[r["encounter_id"], r["code"]] += float(r["amount"].replace(",", "."))
            dates[r["encounter_id"]] = day(r["date"])
    assert billed
    for (encounter, _), amount in billed.items():
        when = dates[encounter]
        expected = 25.0 if when < date(2023, 11, 1) else 26.5 if when < date(2024, 12, 22) else 30.0
        assert amount == pytest.approx(expected), (encounter, when, amount)
    payers = Counter(r["payer"] for r in t["acts"])
    assert payers["AMO"] > payers["AMC"] > payers["PATIENT"] > 0 and payers["C2S"] > 0


def test_progress_reports_tables_and_patients(centre) -> None:
    summary, _ = centre
    calls = summary.progress_calls  # type: ignore[attr-defined]
    assert {c[0] for c in calls} == {t.name for t in TABLES}
    assert max(c[2] for c in calls) == N
    assert all(calls[i][2] <= calls[i + 1][2] for i in range(len(calls) - 1))


# --- defects -------------------------------------------------------------------------------------


def test_defects_are_reported_line_by_line(defective: SynthSummary) -> None:
    report = json.loads((defective.out / "defects.json").read_text(encoding="utf-8"))
    assert report["counts"] == defective.defect_counts == Counter(d["kind"] for d in report["defects"])
    assert set(report["counts"]) == set(DEFECT_KINDS) and all(report["counts"][k] >= 1 for k in DEFECT_KINDS)
    patients_encoding = "cp1252"
    lines = {t.name: (defective.out / f"{t.name}.csv").read_bytes().decode(
        patients_encoding if t.name == "patients" else "utf-8").splitlines() for t in TABLES}  # fmt: skip
    ids = {line.split(";")[0] for line in lines["patients"][1:]}
    for d in report["defects"]:
        if d["line"] is None:
            assert d["kind"] == "encoding_cp1252"
            continue
        table = TABLES_BY_NAME[d["table"]]
        row = dict(zip(table.column_names, lines[d["table"]][d["line"] - 1].split(";"), strict=True))
        assert row[table.key] == d["key"], d
        if d["kind"] == "duplicate_row":
            assert lines[d["table"]][d["line"] - 1] == lines[d["table"]][d["original_line"] - 1]
        elif d["kind"] == "duplicate_key":
            assert lines[d["table"]][d["line"] - 1] != lines[d["table"]][d["original_line"] - 1]
        elif d["kind"] == "invalid_date":
            assert row[d["column"]] == d["value"]
            with pytest.raises(ValueError):
                day(row[d["column"]])
        elif d["kind"] == "future_date":
            assert day(row[d["column"]]) > date(2040, 1, 1)
        elif d["kind"] == "missing_required":
            assert row[d["column"]] == ""
        elif d["kind"] == "unknown_patient":
            assert row["patient_id"] not in ids
        elif d["kind"] == "unknown_code":
            assert row["code"] not in vocab.codes("ngap")
        elif d["kind"] == "malformed_code":
            assert not re.fullmatch(r"[A-Z][0-9]{2}.*", row[d["column"]]) or not re.fullmatch(
                r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}", row[d["column"]])  # fmt: skip
        elif d["kind"] == "wrong_nir_key":
            assert not nir_ok(row["nir"]) and not row["ins"]
    lines_hit = [(d["file"], d["line"]) for d in report["defects"] if d["line"] is not None]
    assert len(lines_hit) == len(set(lines_hit))  # one defect per line: the quarantine can be compared


def test_patients_file_is_windows_1252_with_accented_names(defective: SynthSummary) -> None:
    raw = (defective.out / "patients.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "Lecœur" in text and "Françoise" in text and "Lefèvre" in text
    assert text.count("\r\n") == defective.rows["patients"] + 1
    (defective.out / "acts.csv").read_bytes().decode("utf-8")  # the other files stay UTF-8


def test_parquet_is_typed_and_consistent(tmp_path: Path) -> None:
    summary = generate_centre(SynthOptions(patients=300, seed=2, out=tmp_path, file_format="parquet"))
    acts = pq.read_table(tmp_path / "acts.parquet")
    assert str(acts.schema.field("date").type) == "date32[day]" and str(acts.schema.field("amount").type) == "double"
    assert acts.num_rows == summary.rows["acts"]
    patients = pq.read_table(tmp_path / "patients.parquet")
    assert patients.column_names == TABLES_BY_NAME["patients"].column_names


# --- parameters and data files -------------------------------------------------------------------


def test_every_parameter_has_a_source() -> None:
    raw = load_parameters().raw

    def walk(node: object, path: str, sourced: bool) -> None:
        if isinstance(node, dict):
            here = sourced or "source" in node
            if "value" in node:
                assert "source" in node, f"{path}: a figure without its source"
            for key, child in node.items():
                walk(child, f"{path}.{key}", here)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            assert sourced, f"{path}: a figure without a source above it"

    for section, node in raw.items():
        if section != "schema_version":
            walk(node, section, False)


def test_communes_are_a_small_real_extract() -> None:
    path = Path(str(DATA / "communes.csv"))
    assert path.stat().st_size < 300_000
    communes = load_communes()
    for candidate in load_parameters().geography.candidates:
        assert candidate.insee in set(communes.insee)
    assert all(re.fullmatch(r"([0-9]{2}|2[AB])[0-9]{3}", c) for c in communes.insee)
    assert ((communes.latitude > 41) & (communes.latitude < 51.5)).all()


def test_unknown_commune_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="candidates"):
        generate_centre(SynthOptions(patients=10, out=tmp_path, centre_commune="99999"))
