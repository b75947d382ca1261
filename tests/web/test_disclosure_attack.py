"""An attack on the researcher's view of the web application, over generated populations.

Hypothesis generates a population of persons (sex, birth date, médecin traitant declared from one
date to another, site, traits, risk level, membership of three measures) and a set of patients who
objected. A fake engine (``FakeServices``: the real ``api.services.Services`` with its engine calls
answered from that population) stands behind the real application; the attacker signs in as
``chercheur`` and asks every aggregate route for every date and period it can think of (calendar
years, quarters, rolling years, free days one day apart, with and without ``by``, series over several
ranges), then:

1. writes everything published as linear equations over the true counts: published values, margins
   (a total is the sum of its cells, whichever route publishes it), shares (count = share × panel),
   rates (numerator = rate × eligible), eligible = denominator − exclusions, and looks for a masked
   cell that the equations determine (an SVD: the cell's unit vector in their row space);
2. checks that no two reference dates it obtained are less than a year apart (differencing: the
   table of a day and of the next day give back the one person who changed);
3. asks the same questions of the same population with the objectors removed and no objection
   recorded: every answer must be identical, or the figures reveal the objectors' count and traits.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from proxisante.disclosure import TOTAL, with_margins
from proxisante.measures.definition import Measure, library
from proxisante.measures.periods import Period, month_ends
from proxisante.measures.results import COUNTS, add_rates
from proxisante.population.panel import band_labels
from proxisante.web.services import Services
from tests.lib.web import login, make_app

INDICATORS = {"ald": "En ALD", "diabetes": "Diabète", "heart_failure": "Insuffisance cardiaque"}
LEVELS = ("faible", "modéré", "élevé", "très élevé")
SITES = ("Site A", "Site B")
MEASURES = [m for m in library().values() if m.scoring == "proportion"][:3]
DATES = [dt.date(y, 12, 31) for y in range(2022, 2027)] + [dt.date(2025, 12, 30), dt.date(2025, 6, 30)]
PERIODS = ["2023", "2024", "2025", "2026", "2025-T4", "2025-T3", "12M:2025-12-31", "12M:2025-12-30", "12M:2025-06-30"]
SERIES = [("2023-01", "2025-12"), ("2025-01", "2025-12"), ("2024-07", "2025-06")]
COUNT_COLUMNS = ("initial_population", "denominator", "exclusions", "numerator")


# -- the population and its fake engine ---------------------------------------------------------------


@st.composite
def populations(draw: Any) -> tuple[pd.DataFrame, frozenset[int]]:
    """Persons with their traits, and the objectors among them (at least one in the panel at 31/12/2025)."""
    size = draw(st.integers(min_value=12, max_value=90))
    providers = [f"1000000000{i}" for i in range(draw(st.integers(min_value=1, max_value=4)))]
    rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    start = pd.to_datetime(rng.integers(pd.Timestamp("2019-01-01").value, pd.Timestamp("2026-06-01").value, size))
    stays = rng.integers(30, 3000, size)
    leaves = rng.random(size) < draw(st.floats(min_value=0.0, max_value=0.5))
    frame = pd.DataFrame(
        {
            "person_id": np.arange(1, size + 1),
            "sex": rng.choice(["F", "M", "I"], size, p=[0.5, 0.48, 0.02]),
            "birth": pd.to_datetime(
                rng.integers(pd.Timestamp("1925-01-01").value, pd.Timestamp("2024-01-01").value, size)
            ).date,
            "mt": rng.choice(providers, size),
            "mt_start": start.date,
            "mt_end": [
                (s + pd.Timedelta(days=int(d))).date() if leave else None
                for s, d, leave in zip(start, stays, leaves, strict=True)
            ],
            "site": rng.choice(SITES, size),
            "level": rng.choice(LEVELS, size, p=[0.6, 0.3, 0.08, 0.02]),
        }
    )
    for trait in INDICATORS:
        frame[trait] = rng.random(size) < draw(st.floats(min_value=0.02, max_value=0.9))
    for measure in MEASURES:
        ip = rng.random(size) < draw(st.floats(min_value=0.1, max_value=1.0))
        den = ip & (rng.random(size) < draw(st.floats(min_value=0.3, max_value=1.0)))
        excl = den & (rng.random(size) < draw(st.floats(min_value=0.0, max_value=0.3)))
        num = den & ~excl & (rng.random(size) < draw(st.floats(min_value=0.0, max_value=1.0)))
        frame[f"{measure.id}:initial_population"] = ip
        frame[f"{measure.id}:denominator"] = den
        frame[f"{measure.id}:exclusions"] = excl
        frame[f"{measure.id}:numerator"] = num
    in_panel = panel_on(frame, dt.date(2025, 12, 31)).person_id.tolist()
    objectors = draw(st.sets(st.sampled_from(in_panel), min_size=1, max_size=3)) if in_panel else set()
    return frame, frozenset(int(p) for p in objectors)


def panel_on(persons: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    ends = persons.mt_end.map(lambda e: e is None or day < e)
    return persons[(persons.mt_start <= day) & ends]


def age_band(birth: dt.date, day: dt.date) -> str:
    age = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    labels = band_labels()
    return labels[min(max(age, 0) // 5, len(labels) - 1)]


class FakeServices(Services):
    """The application's services, with the engines answered from a generated population."""

    def __init__(self, installation: Any, persons: pd.DataFrame, objectors: frozenset[int]) -> None:
        super().__init__(installation)
        self.persons = persons
        self.objecting = objectors

    def batch_id(self) -> str:
        return "fake"

    def objections(self) -> frozenset[int]:
        return self.objecting

    def default_year(self) -> int:
        return 2025

    def provider_names(self) -> dict[str, str]:
        return {}

    def _panel(self, day: dt.date, excluded: Iterable[int]) -> pd.DataFrame:
        panel = panel_on(self.persons, day)
        return panel[~panel.person_id.isin(set(excluded))]

    def patientele(self, on: dt.date, period: Period, excluded: frozenset[int] = frozenset()) -> dict:
        panel = self._panel(on, excluded).assign(age_band=lambda f: [age_band(b, on) for b in f.birth])
        cells = pd.MultiIndex.from_product([band_labels(), ["F", "M", "I"]], names=["age_band", "sex"])
        pyramid = panel.groupby(["age_band", "sex"]).size().reindex(cells, fill_value=0).rename("patients")
        pyramid = pyramid.reset_index().assign(mt_rpps=TOTAL)[["mt_rpps", "age_band", "sex", "patients"]]
        size = len(panel)
        composition = pd.DataFrame(
            {
                "mt_rpps": TOTAL,
                "indicator": list(INDICATORS),
                "label": list(INDICATORS.values()),
                "patients": [int(panel[t].sum()) for t in INDICATORS],
                "panel": size,
            }
        )
        composition["share"] = composition.patients / size if size else np.nan
        risk = pd.DataFrame(
            {"mt_rpps": TOTAL, "level": list(LEVELS), "patients": [int((panel.level == lv).sum()) for lv in LEVELS]}
        )
        risk["panel"] = size
        risk["share"] = risk.patients / size if size else np.nan
        by_provider = pd.concat(
            [composition]
            + [composition.assign(mt_rpps=p, patients=0, panel=int((panel.mt == p).sum())) for p in panel.mt.unique()],
            ignore_index=True,
        )
        flows = pd.DataFrame(
            {"mt_rpps": [TOTAL], "month": [TOTAL], "panel_start": [0], "arrivals": [0], "departures": [0],
             "deaths": [0], "net_change": [0], "panel_end": [size]}
        )  # fmt: skip
        return {"pyramid": pyramid, "composition": composition, "by_provider": by_provider,
                "access": pd.DataFrame(), "risk": risk, "flows": flows}  # fmt: skip

    def _counts(self, measure: Measure, day: dt.date, excluded: Iterable[int], by: str | None) -> pd.DataFrame:
        panel = self._panel(day, excluded)
        columns = {c: panel[f"{measure.id}:{c}"].astype("int64") for c in COUNT_COLUMNS}
        fine = pd.DataFrame(columns).assign(numerator_events=columns["numerator"])
        if by is None:
            return fine[list(COUNTS)].sum().to_frame().T.astype("int64")
        fine[by] = panel.mt.to_numpy() if by == "provider" else panel.site.to_numpy()
        known = sorted(panel.mt.unique()) if by == "provider" else list(SITES)
        grouped = fine.groupby(by)[list(COUNTS)].sum().reindex(known, fill_value=0).reset_index()
        return with_margins(grouped, [by], COUNTS)

    def results(self, period: Period, by: str | None = None, excluded: frozenset[int] = frozenset()) -> pd.DataFrame:
        rows = []
        for measure in MEASURES:
            frame = add_rates(self._counts(measure, period.end, excluded, by), measure)
            frame.insert(0, "stratifier", "")
            frame.insert(0, "period", period.label)
            frame.insert(0, "measure_id", measure.id)
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    def series(
        self, measure: Measure, first: dt.date, last: dt.date, excluded: frozenset[int] = frozenset()
    ) -> pd.DataFrame:
        rows = []
        for end in month_ends(first, last):
            frame = add_rates(self._counts(measure, end, excluded, None), measure)
            frame.insert(0, "reference_date", end)
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)


# -- the attacker ----------------------------------------------------------------------------------------


class Equations:
    """Linear equations over the true counts, each cell named by a key; masked cells remembered."""

    def __init__(self) -> None:
        self.rows: list[tuple[dict[tuple, float], float]] = []
        self.masked: set[tuple] = set()

    def value(self, key: tuple, value: Any) -> None:
        if value is None:
            self.masked.add(key)
        else:
            self.rows.append(({key: 1.0}, float(value)))

    def equal(self, terms: dict[tuple, float], rhs: float = 0.0) -> None:
        self.rows.append((terms, rhs))

    def determined(self) -> dict[tuple, float]:
        """Masked cells whose value follows from the equations, with that value."""
        keys = sorted({k for terms, _ in self.rows for k in terms} | self.masked, key=repr)
        index = {k: i for i, k in enumerate(keys)}
        matrix = np.zeros((len(self.rows), len(keys)))
        rhs = np.zeros(len(self.rows))
        for r, (terms, value) in enumerate(self.rows):
            for key, coefficient in terms.items():
                matrix[r, index[key]] += coefficient
            rhs[r] = value
        _, singular, vt = np.linalg.svd(matrix, full_matrices=True)
        rank = int((singular > singular.max() * max(matrix.shape) * np.finfo(float).eps * 10).sum())
        free = np.abs(vt[rank:]).max(axis=0) > 1e-7 if rank < len(keys) else np.zeros(len(keys), dtype=bool)
        solution = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
        return {k: round(float(solution[index[k]]), 3) for k in self.masked if not free[index[k]]}


def harvest(client: TestClient) -> tuple[Equations, set[dt.date], dict[str, Any]]:
    """Every aggregate the researcher obtains, as equations; the reference dates obtained; the raw answers."""
    eq, days, answers = Equations(), set(), {}
    for day in DATES:
        url = f"/api/patientele?date={day.isoformat()}"
        response = client.get(url)
        if response.status_code == 200:
            answers[url] = body = response.json()
            days.add(day)
            patientele(eq, day, body)
    for period, by in itertools.product(PERIODS, (None, "provider", "care_site")):
        url = f"/api/measures/results?period={period}" + (f"&by={by}" if by else "")
        response = client.get(url)
        if response.status_code == 200:
            answers[url] = body = response.json()
            end = dt.date.fromisoformat(body["end"])
            days.add(end)
            measure_rows(eq, end, body["rows"], by)
    for measure, (first, last) in itertools.product(MEASURES, SERIES):
        url = f"/api/measures/{measure.id}/series?start={first}&end={last}"
        response = client.get(url)
        if response.status_code == 200:
            answers[url] = body = response.json()
            for row in body["rows"]:
                end = dt.date.fromisoformat(row["reference_date"][:10])
                days.add(end)
                measure_rows(eq, end, [{**row, "measure_id": measure.id}], None)
    return eq, days, answers


def patientele(eq: Equations, day: dt.date, body: dict) -> None:
    panel = ("pyramid", day, TOTAL, TOTAL)
    cells = {(r["age_band"], r["sex"]): r["patients"] for r in body["pyramid"]}
    for (band, sex), value in cells.items():
        eq.value(("pyramid", day, band, sex), value)
    bands, sexes = band_labels(), ["F", "M", "I"]
    for sex in sexes:  # margins, published or not
        eq.equal({("pyramid", day, b, sex): 1.0 for b in bands} | {("pyramid", day, TOTAL, sex): -1.0})
    for band in [*bands, TOTAL]:
        eq.equal({("pyramid", day, band, s): 1.0 for s in sexes} | {("pyramid", day, band, TOTAL): -1.0})
    for table, name in (("composition", "indicator"), ("risk_levels", "level")):
        for row in body[table]:
            key = (table, day, row[name])
            eq.value(key, row["patients"])
            eq.value(panel, row["panel"])
            if row["share"] is not None:  # count = share × panel
                eq.equal({key: 1.0, panel: -float(row["share"])})
    eq.equal({("risk_levels", day, level): 1.0 for level in LEVELS} | {panel: -1.0})


def measure_rows(eq: Equations, day: dt.date, rows: list[dict], by: str | None) -> None:
    children: dict[tuple, set] = {}
    for row in rows:
        cell = row.get(by) if by else TOTAL
        key = (day, row["measure_id"], cell if cell == TOTAL else f"{by}:{cell}")
        if cell != TOTAL:
            children.setdefault((day, row["measure_id"], by), set()).add(key)
        counts = {c: ("measure", *key, c) for c in COUNT_COLUMNS}
        for column, name in counts.items():
            eq.value(name, row[column])
        if row.get("numerator_events") is not None:
            eq.value(counts["numerator"], row["numerator_events"])
        if row.get("eligible") is not None:
            eq.equal({counts["denominator"]: 1.0, counts["exclusions"]: -1.0}, float(row["eligible"]))
        if row.get("rate") is not None:  # numerator = rate × (denominator − exclusions)
            rate = float(row["rate"])
            eq.equal({counts["numerator"]: 1.0, counts["denominator"]: -rate, counts["exclusions"]: rate})
    for (d, measure_id, _), keys in children.items():
        for column in COUNT_COLUMNS:
            terms = {("measure", *k, column): 1.0 for k in keys}
            eq.equal(terms | {("measure", d, measure_id, TOTAL, column): -1.0})


# -- the test --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attack_app(centre):
    application = make_app(centre.settings)
    real = application.state.web.services
    client = TestClient(application, base_url="http://127.0.0.1")
    login(client, "chercheur")
    yield application, client
    application.state.web.services = real
    application.state.web.installation.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=populations())
def test_a_researcher_rebuilds_no_masked_cell_and_sees_no_objector(attack_app, population) -> None:
    application, client = attack_app
    persons, objectors = population
    web = application.state.web
    web.services = FakeServices(web.installation, persons, objectors)
    eq, days, answers = harvest(client)
    assert answers, "the researcher obtained nothing: the attack means nothing"
    event(f"masked cells seen: {'some' if eq.masked else 'none'}")
    failures = []

    rebuilt = eq.determined()
    if rebuilt:
        failures.append(f"masked cells rebuilt from what the researcher obtained: {sorted(rebuilt.items())[:5]}")

    ordered = sorted(days)
    close = [(a, b) for a, b in itertools.pairwise(ordered) if (b - a).days < 365]
    if close:
        failures.append(f"tables published at reference dates less than a year apart: {close[:3]}")

    web.services = FakeServices(web.installation, persons[~persons.person_id.isin(objectors)], frozenset())
    _, _, without = harvest(client)
    changed = [url for url in answers if json.dumps(answers[url]) != json.dumps(without.get(url))]
    if changed:
        failures.append(f"the objectors change what the researcher sees: {changed[:3]}")
    assert not failures, "\n".join(failures)


def test_the_attack_finds_a_share_that_gives_a_count_back() -> None:
    """The attacker itself: a masked count with its share and the panel published is rebuilt."""
    eq = Equations()
    day = dt.date(2025, 12, 31)
    body = {
        "pyramid": [{"age_band": TOTAL, "sex": TOTAL, "patients": 131}],
        "composition": [{"indicator": "heart_failure", "patients": None, "panel": 131, "share": 2 / 131}],
        "risk_levels": [],
    }
    patientele(eq, day, body)
    assert eq.determined() == {("composition", day, "heart_failure"): 2.0}
