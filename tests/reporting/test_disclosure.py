"""No count under the threshold leaves the structure in any report, whatever the centre.

Hypothesis draws small centres (a few to sixty patients, with ages, sexes, médecins traitants, C2S,
ALD, diabetes treatment, HbA1c, contacts and billed acts of two professions), the report is built
from the warehouse and rendered; every count of the JSON document and of the workbook is checked,
and the crossed tables are audited with ``disclosure_violations`` (no masked cell can be worked out).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal

import openpyxl
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxisante.disclosure import disclosure_violations, load_settings, settings_for
from proxisante.measures.definition import measure
from proxisante.measures.periods import parse_period
from proxisante.reporting import protect
from proxisante.reporting.build import Options, build_report
from proxisante.reporting.model import to_document
from proxisante.reporting.render_xlsx import FORMATS, render_xlsx
from proxisante.warehouse.schema import TABLES_BY_NAME
from tests.lib.measure_fixture import MT_PROVIDER, OTHER_PROVIDER, Centre

THRESHOLD = load_settings().threshold.value
MEASURES = ("rosp_diabetes_hba1c", "rosp_flu_65", "rosp_antibiotics_per_100", "has_diabetes_lipid_panel")
PERIOD = parse_period("2025")

patient = st.fixed_dictionaries(
    {
        "born": st.dates(dt.date(1925, 1, 1), dt.date(2024, 12, 31)),
        "sex": st.sampled_from("FFMM" + "I"),
        "mt": st.sampled_from([MT_PROVIDER, MT_PROVIDER, OTHER_PROVIDER, None]),
        "c2s": st.booleans(),
        "ald": st.booleans(),
        "metformin": st.integers(0, 2),
        "hba1c": st.integers(0, 2),
        "visits": st.integers(0, 3),
        "nurse_acts": st.integers(0, 2),
    }
)


def insert(warehouse, name: str, rows: list[dict]) -> None:
    schema = TABLES_BY_NAME[name].schema.to_pyarrow()
    warehouse.backend.insert(name, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema))


def centre_warehouse(patients: list[dict]):
    """The drawn patients in an in-memory warehouse, with a GP, a nurse and the acts of their contacts."""
    centre = Centre()
    for index, p in enumerate(patients):
        days = [dt.date(2025, 1 + 3 * k, 10) for k in range(4)]
        centre.patient(
            f"p{index}", born=p["born"].isoformat(), sex=p["sex"], mt=p["mt"], c2s=p["c2s"],
            ald=("E11.9",) if p["ald"] else (), drugs=[("A10BA02", d.isoformat()) for d in days[: p["metformin"]]],
            labs=[("1577", d.isoformat()) for d in days[: p["hba1c"]]],
            visits=[("G", d.isoformat()) for d in days[: p["visits"]]],
        )  # fmt: skip
    warehouse = centre.warehouse()
    insert(warehouse, "fr_provider_activity", [
        {"provider_id": MT_PROVIDER, "profession": "MG", "fte": 1.0, "start_date": dt.date(2015, 1, 1)},
        {"provider_id": OTHER_PROVIDER, "profession": "IDE", "fte": 0.5, "start_date": dt.date(2015, 1, 1)},
    ])  # fmt: skip
    ids, acts = itertools.count(1), []
    for index, p in enumerate(patients):
        person = centre.person_id(f"p{index}")
        for k in range(p["visits"]):
            acts.append((person, MT_PROVIDER, "G", dt.date(2025, 1 + 3 * k, 10)))
        for k in range(p["nurse_acts"]):
            acts.append((person, OTHER_PROVIDER, "AMI", dt.date(2025, 2 + 3 * k, 12)))
    insert(warehouse, "fr_billed_act", [
        {"billed_act_id": next(ids), "person_id": person, "provider_id": provider, "visit_occurrence_id": next(ids),
         "act_date": day, "code": code, "coding_system": "NGAP", "amount": Decimal("26.50"), "payer": "AMO"}
        for person, provider, code, day in acts
    ])  # fmt: skip
    return centre, warehouse


def small_counts(document: dict) -> list[str]:
    """Every published count of persons, contacts or acts from 1 to threshold - 1, with where it is."""
    found = []
    for section in ("panel", "activity"):
        for table in document[section]:
            counts = [c["key"] for c in table["columns"] if c["kind"] == "count"]
            for n, row in enumerate(table["rows"]):
                for key in counts:
                    value = row["values"][key]
                    if value is None:
                        assert key in row["masked"], f"{table['id']} row {n} {key}: null without a reason"
                    elif 0 < value < THRESHOLD:
                        found.append(f"{table['id']} row {n} {key}={value}")
    for indicator in document["indicators"]:
        counts = {k: indicator[k] for k in ("denominator", "exclusions", "numerator", "eligible")}
        for key, value in counts.items():
            assert value is not None or key in indicator["masked_counts"], f"{indicator['id']} {key}: no reason"
        if None not in counts.values():
            d, e, n = counts["denominator"], counts["exclusions"], counts["numerator"]
            counts.update({"denominator - numerator": d - n, "denominator - exclusions - numerator": d - e - n})
        points = [(f"trend {p['period']} {k}", p[k]) for p in indicator["trend"] for k in ("eligible", "numerator")]
        for name, value in [*counts.items(), *points]:
            if value is not None and 0 < value < THRESHOLD:
                found.append(f"{indicator['id']} {name}={value}")
    return found


def crossed_violations(document: dict) -> list[str]:
    """Audit of the fully crossed tables (pyramid, access) as published: nothing recoverable."""
    problems = []
    for table_id, first, columns in (
        ("panel_pyramid", "age_band", {"sex_F": "F", "sex_M": "M", "sex_I": "I", "sex_Total": "Total"}),
        ("panel_access", "age_band", {"with_mt": "with", "without_mt": "without", "seen": "Total"}),
    ):
        table = next(t for t in document["panel"] if t["id"] == table_id)
        long = pd.DataFrame(
            [{"row": r["values"][first], "col": col, "n": r["values"][key]} for r in table["rows"]
             for key, col in columns.items()]
        )  # fmt: skip
        long["n"] = long.n.astype("Int64")
        problems += [f"{table_id}: {p}" for p in disclosure_violations(long, ["row", "col"], ["n"])]
    return problems


def xlsx_small_counts(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    found = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                is_count = cell.number_format == FORMATS["count"]  # shares and rates have their own formats
                if is_count and isinstance(cell.value, int | float) and 0 < cell.value < THRESHOLD:
                    found.append(f"{sheet.title}!{cell.coordinate}={cell.value}")
    return found


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(patient, min_size=3, max_size=50))
def test_no_count_under_the_threshold_in_any_report(patients: list[dict]) -> None:
    _, warehouse = centre_warehouse(patients)
    chosen = [measure(m) for m in MEASURES]
    options = Options(trend_periods=1, measures=chosen, registries=["diabetes"])
    document = to_document(build_report(warehouse, PERIOD, (), options))
    assert small_counts(document) == []
    assert crossed_violations(document) == []


def test_the_checks_see_a_small_count() -> None:
    """The property's own checks catch a small visible count (they could fail)."""
    woman = {"born": dt.date(1950, 1, 1), "sex": "F", "mt": MT_PROVIDER, "c2s": False, "ald": True,
             "metformin": 2, "hba1c": 2, "visits": 1, "nurse_acts": 0}  # fmt: skip
    _, warehouse = centre_warehouse([woman] * 11 + [{**woman, "sex": "M", "nurse_acts": 1}])
    options = Options(trend_periods=0, measures=[measure("rosp_diabetes_hba1c")], registries=[])
    protected = build_report(warehouse, PERIOD, (), options)
    assert small_counts(to_document(protected)) == []
    assert xlsx_small_counts(render_xlsx(protected)) == []
    # threshold 1 publishes everything: the checks must see the small cells (12 patients, 1 nurse...)
    report = build_report(warehouse, PERIOD, (), Options(**{**options.__dict__, "threshold": 1}))
    assert small_counts(to_document(report))
    assert xlsx_small_counts(render_xlsx(report))


def test_a_trait_held_by_all_but_a_few_is_masked() -> None:
    """'Everybody but k' reveals k: the complement is protected as surely as the count."""
    rules = settings_for()
    table = protect.parts_of_a_whole(
        "t", "t", ("patientèle", 120), [("ald", "ALD", 115), ("c2s", "C2S", 3), ("diab", "Diabète", 60)], rules
    )
    by_key = {r.values["indicator"]: r for r in table.rows}
    assert by_key["ald"].values["patients"] is None and by_key["ald"].masked["patients"] == "secondary"
    assert by_key["c2s"].values["patients"] is None and by_key["c2s"].masked["patients"] == "primary"
    assert by_key["c2s"].values["share"] is None
    assert by_key["diab"].values == {"indicator": "diab", "label": "Diabète", "patients": 60, "share": 0.5}
    assert by_key["panel"].values["patients"] == 120
