"""The engine-neutral expressions of ``warehouse/expr.py`` are the one home of age bands and boolean counts.

Age bands (measure strata, patientèle pyramid) and 0/1 counts of booleans are written once; a module that
spells them out again (``ifelse(x, 1, 0)``, a CASE over ``age >= lo``) is found here.
"""

from __future__ import annotations

import re

import ibis

from proxisante.definitions import ParameterFile
from proxisante.measures.context import age_band_labels
from proxisante.population import panel
from proxisante.warehouse.expr import age_band, as_int, band_labels, count_true
from tests.lib.paths import SRC

SRC = SRC
RAW_COUNT = re.compile(r"ifelse\((?:[^()]|\([^()]*\))*,\s*(?:1,\s*0|0,\s*1)\)")
RAW_BAND = re.compile(r"age\s*>=\s*lo\b")


def test_age_band_labels_and_case_agree() -> None:
    bounds = [0, 16, 25, 80]
    assert band_labels(bounds) == ["0-15", "16-24", "25-79", "80+"]
    table = ibis.memtable({"age": [-1, 0, 15, 16, 24, 25, 79, 80, 104, None]})
    got = ibis.duckdb.connect().execute(table.select(band=age_band(table.age, bounds))).band.tolist()
    assert got == ["?", "0-15", "0-15", "16-24", "16-24", "25-79", "25-79", "80+", "80+", "?"]


def test_measures_and_pyramid_use_the_shared_bands() -> None:
    assert age_band_labels() == band_labels(ParameterFile("proxisante.measures").value("age_bands"))
    assert panel.band_labels() == band_labels(ParameterFile("proxisante.population").value("pyramid_bands"))


def test_counts_treat_null_as_false() -> None:
    table = ibis.memtable({"flag": [True, False, None, True]}, schema={"flag": "boolean"})
    con = ibis.duckdb.connect()
    assert con.execute(table.select(n=as_int(table.flag))).n.tolist() == [1, 0, 0, 1]
    assert int(con.execute(count_true(table.flag))) == 2


def test_no_module_spells_out_bands_or_counts_again() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name == "warehouse/expr.py":
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{name}: {m.group(0)}" for pattern in (RAW_COUNT, RAW_BAND) for m in pattern.finditer(text)]
    assert not found, "use proxisante.warehouse.expr (as_int, count_true, age_band):\n" + "\n".join(found)
