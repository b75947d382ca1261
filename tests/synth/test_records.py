"""Médecin traitant declarations of the synthetic centre: the panel's monthly flows stay steady when a GP leaves.

The panel is rebuilt from the files with this test's own code, with the rule of the warehouse: on a
month's last day, a patient is in the panel when alive and under a declaration in force. A departure is a
patient in the panel at the end of one month and not at the end of the next, still alive.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from proxisante.synth import SynthOptions, generate_centre

START, END = date(2021, 1, 1), date(2025, 12, 31)
FEW_TIMES = 3  # no month's departures above this many times the median month


def day(text: str) -> date | None:
    return datetime.strptime(text, "%d/%m/%Y").date() if text else None


def rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def month_ends(start: date, end: date) -> list[date]:
    days, year, month = [], start.year, start.month
    while True:
        following = date(year + month // 12, month % 12 + 1, 1)
        if following - timedelta(days=1) > end:
            return days
        days.append(following - timedelta(days=1))
        year, month = following.year, following.month


def panel(declarations: list[dict[str, str]], deaths: dict[str, date], on: date) -> set[str]:
    return {
        d["patient_id"]
        for d in declarations
        if day(d["start_date"]) <= on  # type: ignore[operator]
        and (not d["end_date"] or day(d["end_date"]) >= on)  # type: ignore[operator]
        and not (d["patient_id"] in deaths and deaths[d["patient_id"]] <= on)
    }


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("records")
    generate_centre(SynthOptions(patients=10_000, seed=2026, out=out, start=START, end=END))
    return out


def test_a_departing_gp_does_not_empty_his_panel_in_one_month(centre: Path) -> None:
    declarations = rows(centre, "mt_declarations")
    deaths = {p["patient_id"]: day(p["death_date"]) for p in rows(centre, "patients") if p["death_date"]}
    ends = month_ends(START, END)
    panels = [panel(declarations, deaths, d) for d in [START - timedelta(days=1), *ends]]  # type: ignore[arg-type]
    departures = np.array(
        [
            len({p for p in before - after if not (p in deaths and deaths[p] <= on)})  # type: ignore[operator]
            for before, after, on in zip(panels[:-1], panels[1:], ends, strict=True)
        ]
    )
    # The scenario is there: GPs leave during the extract with hundreds of declared patients.
    gps = [p for p in rows(centre, "professionals") if p["profession"] == "MG"]
    left = [g for g in gps if g["end_date"] and START < day(g["end_date"]) < END]  # type: ignore[operator]
    assert left
    panel_sizes = [
        sum(
            1
            for d in declarations
            if d["rpps"] == g["rpps"]
            and day(d["start_date"]) <= day(g["end_date"])  # type: ignore[operator]
            and (not d["end_date"] or day(d["end_date"]) >= day(g["end_date"]))  # type: ignore[operator]
        )
        for g in left
    ]
    assert max(panel_sizes) > 300
    median = float(np.median(departures))
    print(f"departures per month: median {median}, max {departures.max()}, GP panels at departure {panel_sizes}")
    assert median > 5
    assert departures.max() <= FEW_TIMES * median, departures.tolist()
    # Their patients went on: most declared the successor, in the months after the departure.
    successors = {g["rpps"] for g in gps if g["start_date"] and START < day(g["start_date"]) < END}  # type: ignore[operator]
    taken_over = sum(1 for d in declarations if d["rpps"] in successors)
    assert taken_over > 0.5 * sum(panel_sizes)
