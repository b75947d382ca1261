"""French number formats have one home, ``proxisante.formats``, and their output is pinned byte for byte.

The command line, the web pages, the reports and the maps once each wrote the narrow no-break space and
the decimal comma themselves; now they all call ``formats``. The pinned strings are the outputs each
caller gave before the move (the report's whole numbers round half to even and never show "-0", the
command line's thousands of euros keep Python's "-0")."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

from proxisante import formats
from proxisante.reporting import formats as report_formats
from tests.lib.paths import SRC

SRC = SRC
# `.replace(",", <anything but ".">)`: writing a thousands separator (parsing a decimal comma is `(",", ".")`)
WRITES_SEPARATOR = re.compile(r"""\.replace\(",", (?!"\.")""")


def test_only_formats_writes_french_number_separators() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "formats.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRITES_SEPARATOR.search(line)
    ]
    assert not offenders, f"French number formats belong in proxisante/formats.py: {offenders}"


def test_shared_formats_are_unchanged() -> None:
    assert formats.french("12,345.6") == "12\u202f345,6"
    assert formats.fixed(1234.567, 2) == "1\u202f234,57"
    assert formats.fixed(math.nan, 2) == "nan"  # the maps' hover text for a commune without APL
    assert formats.number(1234567.9) == "1\u202f234\u202f567"
    assert formats.number(None) == formats.number(math.nan) == ""
    assert formats.decimal(61.25, 1) == "61,2"
    assert formats.decimal(None) == "—"
    assert formats.percent(0.6124) == "61,2\u00a0%"
    assert formats.keuros(-248_400) == "-248\u00a0k€"
    assert formats.keuros(-300) == "-0\u00a0k€"
    assert formats.keuros(12_345_678, unit=False) == "12\u202f346"


def test_report_formats_are_unchanged() -> None:
    assert report_formats.number(1234.5) == "1\u202f234"  # half to even
    assert report_formats.number(-0.3) == "0"
    assert report_formats.number(1234.56, 1) == "1\u202f234,6"
    assert report_formats.number(None) == report_formats.number(math.nan) == "—"
    assert report_formats.percent(0.6124) == "61,2\u00a0%"
    assert report_formats.percent(None) == "—"
    assert report_formats.euros(-248_400) == "-248\u00a0k€"
    assert report_formats.euros(None) == "—"


# -- the presenter of each figure ------------------------------------------------------------------------------


class _Measure:
    def __init__(self, short_label: str, scoring: str) -> None:
        self.short_label, self.scoring = short_label, scoring


def test_rates_read_in_their_unit() -> None:
    assert formats.rate(34.66, "events_per_100") == "34,7\u00a0pour\u00a0100"
    assert formats.rate(0.6124, "proportion") == "61,2\u00a0%"
    assert formats.rate(None, "proportion") == formats.rate(math.nan, "proportion") == "—"
    assert formats.interval(33.31, 36.2, "events_per_100") == "[33,3\u00a0pour\u00a0100 ; 36,2\u00a0pour\u00a0100]"
    assert formats.interval(None, 0.3, "proportion") == ""
    assert formats.goal(0.65, "proportion") == "65\u00a0%"
    assert formats.goal(None, "proportion") == ""


def test_changes_have_a_true_sign() -> None:
    assert formats.signed(-909) == "\u2212909"
    assert formats.signed(12_345) == "+12\u202f345"
    assert formats.signed(0) == formats.signed(-0.01) == "0"
    assert formats.delta(0.52, 0.40, "proportion") == "+12,0\u00a0pt"
    assert formats.delta(3.0, 3.4, "events_per_100") == "\u22120,4\u00a0pour\u00a0100"
    assert formats.delta(None, 0.4, "proportion") == "—"


def test_months_read_as_french_readers_write_them() -> None:
    assert formats.month("2025-01") == "janv. 2025"
    assert formats.month(dt.date(2025, 8, 31)) == "août 2025"
    assert formats.month(pd.Timestamp("2026-12-01")) == "déc. 2026"
    assert formats.month("Total") == "Total"
    assert formats.month(None) == ""


def test_pyramid_ticks_are_round_and_symmetric() -> None:
    assert formats.pyramid_ticks(430) == [-400, -200, 0, 200, 400]
    assert formats.pyramid_ticks(12_000) == [-10_000, -5_000, 0, 5_000, 10_000]
    assert formats.pyramid_ticks(0) == [0]
    assert [sex for sex, _, _ in formats.PYRAMID_SIDES] == ["M", "F"]  # men left, women right


def test_french_frame_rounds_and_translates_cells() -> None:
    frame = pd.DataFrame(
        {"low": [1.3877787807814457e-17, 0.28323699], "ok": [True, False], "on": [dt.date(2025, 1, 2), None]}
    )
    out = formats.french_frame(frame, {"ok": "calculable", "low": "borne", "absent": "rien"})
    assert list(out.columns) == ["calculable", "borne"]
    assert formats.csv_text(out) == "calculable;borne\r\noui;0,0\r\nnon;0,3\r\n"
    dates = formats.french_frame(frame, {"on": "date"})
    assert dates["date"].tolist() == ["02/01/2025", ""]


def test_indicator_table_names_counts_units_and_doctors() -> None:
    measures = {"a": _Measure("Dépistage", "proportion"), "b": _Measure("Antibiotiques", "events_per_100")}
    frame = pd.DataFrame(
        {
            "measure_id": ["a", "b"],
            "period": ["2025", "2025"],
            "stratifier": ["", ""],
            "provider": ["10000000001", "10000000002"],
            "denominator": [3697, 182],
            "exclusions": [177, 0],
            "numerator": [1000, 37],
            "eligible": [3520, 182],
            "rate": [1000 / 3520, 29.12087912087912],
            "ci_low": [1.3877787807814457e-17, 21.812018737655414],
            "ci_high": [0.3, 38.09158056484897],
            "reportable": [True, False],
            "objective": ["sous l'objectif", ""],
        }
    )
    previous = frame.assign(rate=[0.25, 30.0])
    out = formats.indicator_table(frame, measures, {"10000000001": "MARTIN Anne"}, previous)
    assert list(out.columns) == [
        "indicateur", "code", "période", "médecin traitant", "RPPS du médecin traitant", "dénominateur",
        "exclusions", "numérateur", "taux", "IC 95 % bas", "IC 95 % haut", "unité",
        "taux de la période précédente", "évolution du taux", "calculable", "statut",
    ]  # fmt: skip
    first = out.iloc[0].to_dict()
    assert first["médecin traitant"] == "MARTIN Anne" and first["dénominateur"] == 3697
    assert (first["taux"], first["IC 95 % bas"], first["unité"]) == (28.4, 0.0, "%")
    assert (first["taux de la période précédente"], first["évolution du taux"]) == (25.0, 3.4)
    second = out.iloc[1].to_dict()
    assert (second["taux"], second["unité"], second["calculable"]) == (29.1, "pour 100", "non")
    assert "e-17" not in formats.csv_text(out) and "True" not in formats.csv_text(out)


def test_gap_table_is_french() -> None:
    frame = pd.DataFrame(
        {
            "measure_id": ["a"],
            "person_id": [123456789012],
            "mt_rpps": ["10000000001"],
            "age": [67],
            "sex": ["F"],
            "action": ["Proposer le test"],
            "evidence_date": [dt.date(2023, 3, 1)],
            "due_since": [pd.Timestamp("2025-03-01")],
        }
    )
    out = formats.gap_table(frame, {"a": _Measure("Dépistage", "proportion")}, {"10000000001": "MARTIN Anne"})
    assert list(out.columns) == [
        "pseudonyme", "âge", "sexe", "médecin traitant", "RPPS du médecin traitant", "indicateur", "code", "action",
        "dernier acte", "à faire depuis",
    ]  # fmt: skip
    assert out.iloc[0].tolist() == [
        "123456789012", 67, "F", "MARTIN Anne", "10000000001", "Dépistage", "a", "Proposer le test", "01/03/2023",
        "01/03/2025",
    ]  # fmt: skip
