"""The profile read from a warehouse: hand-written patients, acts and staff, and the cells expected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pyarrow as pa

from proxisante.economics.costs import load_costs
from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile
from proxisante.economics.profile_warehouse import count_false, profile_from_warehouse, quality_measures
from proxisante.warehouse.schema import TABLES_BY_NAME
from tests.lib.measure_fixture import MT_PROVIDER, OTHER_PROVIDER, Centre


def insert(warehouse, name: str, rows: list[dict]) -> None:
    schema = TABLES_BY_NAME[name].schema.to_pyarrow()
    warehouse.backend.insert(name, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema))


def hand_written_centre(warehouse=None):
    """Three patients, a GP and a nurse, five payer rows of acts: into ``warehouse`` (default: in memory)."""
    centre = Centre()
    centre.patient("old_diabetic", born="1950-01-01", ald=("E11.9",), conditions=[("E11.9", "2010-01-01")],
                   visits=[("G", "2025-03-01")])  # fmt: skip
    centre.patient("child_c2s", born="2020-06-01", c2s=True)  # MT, never seen: "unseen"
    centre.patient("no_mt", born="1990-01-01", mt=None, visits=[("G", "2025-04-01")])
    warehouse = centre.warehouse() if warehouse is None else centre.write(warehouse)
    insert(warehouse, "fr_provider_activity", [
        {"provider_id": MT_PROVIDER, "profession": "MG", "fte": 0.8, "start_date": dt.date(2015, 1, 1)},
        {"provider_id": OTHER_PROVIDER, "profession": "IDE", "fte": 0.5, "start_date": dt.date(2015, 1, 1),
         "end_date": dt.date(2025, 6, 30)},
    ])  # fmt: skip
    old, child, other = (centre.person_id(n) for n in ("old_diabetic", "child_c2s", "no_mt"))
    acts = [
        # one G of the diabetic: two payer rows, one act
        (1, old, MT_PROVIDER, 10, "2025-03-01", "G", 21.0, "AMO"),
        (2, old, MT_PROVIDER, 10, "2025-03-01", "G", 9.0, "AMC"),
        (3, old, OTHER_PROVIDER, 11, "2025-05-01", "AMI", 6.3, "AMO"),
        (4, other, MT_PROVIDER, 12, "2025-04-01", "G", 30.0, "AMO"),
        (5, child, MT_PROVIDER, 13, "2024-04-01", "G", 26.5, "AMO"),  # another year
    ]
    insert(warehouse, "fr_billed_act", [
        {"billed_act_id": i, "person_id": p, "provider_id": prov, "visit_occurrence_id": v,
         "act_date": dt.date.fromisoformat(d), "code": code, "coding_system": "NGAP",
         "amount": Decimal(str(amount)), "payer": payer}
        for i, p, prov, v, d, code, amount, payer in acts
    ])  # fmt: skip
    return warehouse


def test_profile_from_a_hand_written_warehouse() -> None:
    warehouse = hand_written_centre()
    profile = profile_from_warehouse(warehouse, 2025)

    cells = {(c.age_band, c.ald, c.c2s): (c.patients, c.diabetics, c.unseen) for c in profile.panel if c.patients}
    assert cells == {("75-79", True, False): (1, 1, 0), ("0-6", False, True): (1, 0, 1)}
    assert len(profile.panel) == 5 * 2 * 2  # every cell, even empty
    acts_by_code = {(a.code, a.profession): a for a in profile.acts}
    g = acts_by_code[("G", "MG")]
    assert (g.acts_mt, g.acts_mt_65, g.acts_mt_diabetic, g.acts_other) == (1, 1, 1, 1)
    assert float(g.amount_observed) == 60.0
    ami = acts_by_code[("AMI", "IDE")]
    assert (ami.acts_mt, ami.acts_other) == (1, 0)
    assert [(s.profession, s.fte) for s in profile.staff] == [("MG", 0.8)]  # the nurse left in June
    # every ROSP and FMT measure of the library was run on 2025: the diabetic has no antidiabetic drug
    assert [m.id for m in profile.measures] == [m.id for m in quality_measures()]
    hba1c = next(m for m in profile.measures if m.id == "rosp_diabetes_hba1c")
    assert (hba1c.eligible, hba1c.numerator, hba1c.rate, hba1c.reportable) == (0, 0, None, False)
    assert profile_from_warehouse(warehouse, 2025, measures=False).measures == []
    assert load_costs().example  # the shipped cost file says it is an example


def test_count_false_counts_a_null_as_not_holding() -> None:
    """``unseen`` and ``acts_other`` were ``ifelse(flag, 0, 1)``, which counts a null flag: count_false still does."""
    table = ibis.memtable({"flag": [True, False, None, False]}, schema={"flag": "boolean"})
    con = ibis.duckdb.connect()
    assert int(con.execute(count_false(table.flag))) == 3
    assert int(con.execute(ibis.ifelse(table.flag, 0, 1).sum())) == 3  # the expression it replaces
    grouped = table.group_by(g=table.flag.isnull()).agg(n=count_false(table.flag)).order_by("g")
    assert con.execute(grouped).n.tolist() == [2, 1]  # the null row counts one


def test_the_shipped_example_profile_loads() -> None:
    profile = load_profile(EXAMPLE_PROFILE)
    assert profile.patients == 10872 and "EXEMPLE" in profile.centre
