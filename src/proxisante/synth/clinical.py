"""Laboratory results, vaccinations and screening: the data quality indicators are computed on.

Why imperfect on purpose: indicators (ROSP, forfait médecin traitant) measure gaps, so the data
must have them. Each follow-up is a personal rhythm, drawn once per patient (a diabetic tested every
3 months, another once a year, another never), so that about half to three quarters of diabetics
reach 2 HbA1c a year, as in French data. Participation in screening and vaccination is a personal
propensity (Beta-distributed around the national rate): the same people take part year after year,
as in real life.

- lab results (résultats de biologie): NABM act and LOINC code, value and unit: HbA1c, creatinine
  and eGFR, albuminuria, lipid panel, TSH, INR under vitamin K antagonists, cervical cytology and
  HPV tests, immunological faecal tests (FIT);
- vaccinations: influenza and Covid-19 campaigns for people aged 65+ and at risk, the childhood
  calendar, adult boosters, pneumococcal vaccine for people at risk, the two-dose recombinant
  shingles vaccine for people aged 65+ from its reimbursement (few take it, as in France);
- procedures reported to the centre (mammography, colonoscopy, fundus exam).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proxisante.synth.chunk import Chunk, choice_values, periodic
from proxisante.synth.frames import Arrays, Cat, Frame, concat, expand
from proxisante.synth.parameters import day_number
from proxisante.synth.timeline import DAYS_PER_YEAR, NEVER, add_years, age_at, day_of, uniform_days, year_of


@dataclass(frozen=True)
class LabCodes:
    """The analytes written to lab_results (parameter tests + screening tests), as vocabularies."""

    names: tuple[str, ...]
    nabm: tuple[str, ...]
    loinc: tuple[str, ...]
    unit: tuple[str, ...]
    texts: tuple[str, ...]

    @classmethod
    def build(cls, chunk: Chunk) -> LabCodes:
        params = chunk.params
        tests = params.lab_tests
        screening = params.section("screening")
        cervical = screening["cervical"]
        names = [*tests, "cytology", "hpv", "fit"]
        nabm = [tests[t].nabm for t in tests] + [cervical["cytology"]["nabm"], cervical["hpv"]["nabm"], ""]
        loinc = [tests[t].loinc for t in tests] + [
            cervical["cytology"]["loinc"],
            cervical["hpv"]["loinc"],
            screening["colorectal"]["loinc"],
        ]
        unit = [tests[t].unit for t in tests] + ["", "", ""]
        texts = list(cervical["cytology"]["results"]) + list(cervical["hpv"]["results"])
        texts += list(screening["colorectal"]["results"])
        return cls(tuple(names), tuple(nabm), tuple(loinc), tuple(unit), tuple(dict.fromkeys(texts)))


def _first_day_of_rule(chunk: Chunk, conditions: tuple[str, ...], drugs: tuple[str, ...], lines: np.ndarray):
    """Eligibility and the first day a rule applies (the condition's onset or the drug's start)."""
    first = np.full(chunk.n, NEVER, dtype=np.int64)
    if conditions:
        columns = chunk.condition_columns(conditions)
        first = np.minimum(first, chunk.onset[:, columns].min(axis=1))
    if drugs:
        columns = [chunk.params.drug_index(d) for d in drugs]
        first = np.minimum(first, lines[:, columns].min(axis=1))
    if not conditions and not drugs:
        first = chunk.entry.copy()
    return first


def lab_results(chunk: Chunk, lines: np.ndarray) -> Arrays:
    """Follow-up tests (HbA1c, renal function, lipids, TSH, INR...) with values."""
    rng = chunk.rng("labs")
    params = chunk.params
    codes = LabCodes.build(chunk)
    tests = params.lab_tests
    jitter = params.value("labs", "interval_jitter")
    # One personal level per patient and analyte (a diabetic's HbA1c stays around his own mean).
    level = rng.standard_normal((chunk.n, len(tests)))
    test_index = {name: i for i, name in enumerate(codes.names)}
    parts = []
    for rule in params.follow_up:
        first = _first_day_of_rule(chunk, rule.conditions, rule.drugs, lines)
        adult_from = add_years(chunk.birth, np.full(chunk.n, int(rule.min_age)))
        first = np.maximum(np.maximum(first, chunk.entry), adult_from)
        followed = chunk.regular & (first < chunk.exit) & (rng.random(chunk.n) < rule.probability)
        patients = np.flatnonzero(followed)
        interval = choice_values(rule.intervals.options, rule.intervals.draw(rng, len(patients))).astype(np.int64)
        start = first[patients] + np.floor(rng.random(len(patients)) * interval).astype(np.int64)
        series, days = periodic(rng, start, chunk.exit[patients], interval, jitter)
        p = patients[series]
        names = [t for name in rule.tests for t in params.lab_panels.get(name, (name,))]
        for name in names:
            parts.append({"p": p, "date": days, "test": np.full(len(p), test_index[name])})
    rows = concat(parts)
    if not rows:
        return {}
    p, test = rows["p"], rows["test"]
    value = np.full(len(p), np.nan)
    for name, t in tests.items():
        k = test_index[name]
        mask = test == k
        if not mask.any():
            continue
        age = age_at(chunk.birth[p[mask]], rows["date"][mask])
        centre = np.log(t.mean) if t.log else t.mean
        raw = centre + t.sd_patient * level[p[mask], k] + t.sd_test * rng.standard_normal(mask.sum())
        raw = raw + t.age_slope * (age - 50)
        raw = np.exp(raw) if t.log else raw
        value[mask] = np.round(np.clip(raw, t.low, t.high), t.decimals)
    rows["value"] = value
    rows["text"] = np.full(len(p), -1, dtype=np.int64)
    return rows


def lab_table(chunk: Chunk, rows: Arrays, first_id: int) -> Frame:
    codes = LabCodes.build(chunk)
    n = len(rows["p"]) if rows else 0
    if n == 0:
        return {}
    order = np.lexsort((rows["test"], rows["date"], rows["p"]))
    rows = {k: v[order] for k, v in rows.items()}
    test = rows["test"]

    def cat(values: tuple[str, ...]) -> Cat:
        idx = np.where(np.array([v != "" for v in values])[test], test, -1)
        return Cat.of(idx, values)

    return {
        "result_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[rows["p"]],
        "date": rows["date"],
        "nabm": cat(codes.nabm),
        "loinc": cat(codes.loinc),
        "value": rows["value"],
        "unit": cat(codes.unit),
        "value_text": Cat.of(rows["text"], codes.texts),
    }


def _propensity(rng: np.random.Generator, mean: float | np.ndarray, concentration: float, size: int) -> np.ndarray:
    """Personal probabilities of taking part, Beta-distributed around ``mean``."""
    mean = np.clip(np.broadcast_to(mean, (size,)), 1e-3, 1 - 1e-3)
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def _age_window(chunk: Chunk, low: float, high: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Days followed while aged ``low`` (inclusive) to ``high`` (exclusive, None: no upper age)."""
    start = np.maximum(chunk.entry, add_years(chunk.birth, np.full(chunk.n, int(low))))
    if high is None:
        return start, chunk.exit
    stop = np.minimum(chunk.exit, add_years(chunk.birth, np.full(chunk.n, int(high))))
    return start, stop


def _cycles(
    chunk: Chunk,
    rng: np.random.Generator,
    eligible: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    interval: np.ndarray | np.integer,
    participation: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Screening rounds every ``interval`` days between start and stop, each taken with a personal
    propensity. Returns (patient, day)."""
    concentration = chunk.params.value("screening", "propensity_concentration")
    patients = np.flatnonzero(eligible & (start < stop))
    interval = np.broadcast_to(interval, (chunk.n,))[patients]
    first = start[patients] + np.floor(rng.random(len(patients)) * interval).astype(np.int64)
    jitter = chunk.params.value("screening", "cycle_jitter")
    series, days = periodic(rng, first, stop[patients], interval, jitter)
    propensity = _propensity(rng, participation, concentration, len(patients))
    taken = rng.random(len(series)) < propensity[series]
    return patients[series[taken]], days[taken]


def screening(chunk: Chunk) -> tuple[Arrays, Arrays, tuple[np.ndarray, np.ndarray]]:
    """Procedures reported (mammography, colonoscopy, fundus exam), screening lab results, and the
    cervical samplings done in the centre (patient, day) that become contacts."""
    rng = chunk.rng("screening")
    params = chunk.params
    vocab = chunk.ctx.vocab
    s = params.section("screening")
    codes = LabCodes.build(chunk)
    test_index = {name: i for i, name in enumerate(codes.names)}
    procedures, labs = [], []

    def procedure(p: np.ndarray, days: np.ndarray, ccam: np.ndarray) -> None:
        n = len(p)
        procedures.append(
            {
                "p": p,
                "date": days,
                "ccam": ccam,
                "pro": np.full(n, -1, dtype=np.int64),
                "encounter": np.full(n, -1, dtype=np.int64),
            }
        )

    def result(p: np.ndarray, days: np.ndarray, test: str, outcomes: dict[str, float]) -> np.ndarray:
        options = list(outcomes)
        weights = np.array([outcomes[o] for o in options], dtype=np.float64)
        pick = np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(len(p))), len(options) - 1)
        text = np.array([codes.texts.index(o) for o in options])[pick]
        labs.append(
            {
                "p": p,
                "date": days,
                "test": np.full(len(p), test_index[test]),
                "value": np.full(len(p), np.nan),
                "text": text,
            }
        )
        return np.array(options, dtype=object)[pick]

    regular = chunk.regular
    female = chunk.female

    m = s["mammography"]
    lo, hi = _age_window(chunk, m["min_age"], m["max_age"])
    p, days = _cycles(chunk, rng, regular & female, lo, hi, np.int64(m["interval_days"]), m["participation"])
    procedure(p, days, np.full(len(p), vocab.ccam.index(m["ccam"])))

    c = s["cervical"]
    lo, hi = _age_window(chunk, c["min_age"], c["max_age"])
    young = age_at(chunk.birth, lo) < c["cytology_max_age"]
    interval = np.where(young, c["cytology_interval_days"], c["hpv_interval_days"]).astype(np.int64)
    p, days = _cycles(chunk, rng, regular & female, lo, hi, interval, c["participation"])
    in_centre = rng.random(len(p)) < c["sampled_in_centre"]
    sampling = (p[in_centre], days[in_centre])
    result_day = days + c["result_delay_days"]
    keep = result_day < chunk.exit[p]
    p, result_day, days = p[keep], result_day[keep], days[keep]
    cytology = age_at(chunk.birth[p], days) < c["cytology_max_age"]
    result(p[cytology], result_day[cytology], "cytology", c["cytology"]["results"])
    result(p[~cytology], result_day[~cytology], "hpv", c["hpv"]["results"])

    r = s["colorectal"]
    lo, hi = _age_window(chunk, r["min_age"], r["max_age"])
    p, days = _cycles(chunk, rng, regular, lo, hi, np.int64(r["interval_days"]), r["participation"])
    outcome = result(p, days, "fit", r["results"])
    positive = (outcome == "positif") & (rng.random(len(p)) < r["colonoscopy_after_positive"])
    delay = rng.integers(r["colonoscopy_delay_days"][0], r["colonoscopy_delay_days"][1] + 1, len(p))
    later = days + delay
    keep = positive & (later < chunk.exit[p])
    colonoscopy_codes = np.array([vocab.ccam.index(k) for k in r["colonoscopy"]])
    weights = np.array(list(r["colonoscopy"].values()), dtype=np.float64)

    def colonoscopy_code(size: int) -> np.ndarray:
        pick = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(size))
        return colonoscopy_codes[np.minimum(pick, len(weights) - 1)]

    procedure(p[keep], later[keep], colonoscopy_code(int(keep.sum())))
    lo, hi = _age_window(chunk, r["other_colonoscopy_min_age"])
    count = np.where(
        regular & (lo < hi),
        rng.poisson(r["other_colonoscopy_rate_per_year"] * np.maximum(hi - lo, 0) / DAYS_PER_YEAR),
        0,
    )
    owner, _ = expand(count)
    procedure(owner, uniform_days(rng, lo[owner], hi[owner]), colonoscopy_code(len(owner)))

    f = s["fundus"]
    first = _first_day_of_rule(chunk, tuple(f["conditions"]), (), np.zeros((chunk.n, 0)))
    first = np.maximum(first, chunk.entry)
    examined = regular & (first < chunk.exit) & (rng.random(chunk.n) >= f["never"])
    patients = np.flatnonzero(examined)
    options = [int(k) for k in f["intervals"]]
    weights_f = np.array(list(f["intervals"].values()), dtype=np.float64)
    pick = np.minimum(
        np.searchsorted(np.cumsum(weights_f / weights_f.sum()), rng.random(len(patients))), len(options) - 1
    )
    interval = np.array(options, dtype=np.int64)[pick]
    start = first[patients] + np.floor(rng.random(len(patients)) * interval).astype(np.int64)
    series, days = periodic(rng, start, chunk.exit[patients], interval, params.value("screening", "cycle_jitter"))
    fundus_codes = np.array([vocab.ccam.index(k) for k in f["ccam"]])
    fw = np.array(list(f["ccam"].values()), dtype=np.float64)
    pick = np.minimum(np.searchsorted(np.cumsum(fw / fw.sum()), rng.random(len(series))), len(fw) - 1)
    procedure(patients[series], days, fundus_codes[pick])
    return concat(procedures), concat(labs), sampling


def _vaccine_rows(chunk: Chunk, p: np.ndarray, days: np.ndarray, drug: np.ndarray, given_by: dict) -> Arrays:
    """Vaccination rows with who gave the dose (the patient's GP, a nurse of the centre, or outside)."""
    rng = chunk.rng("vaccinators")
    staff = chunk.ctx.staff
    options = list(given_by)
    weights = np.array([given_by[o] for o in options], dtype=np.float64)
    if not staff.has("IDE") and "IDE" in options:
        weights[options.index("IDE")] = 0.0
    pick = np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(len(p))), len(options) - 1)
    who = np.array(options, dtype=object)[pick]
    pro = np.full(len(p), -1, dtype=np.int64)
    gp = who == "MG"
    pro[gp] = chunk.gp_holder(p[gp], days[gp], chunk.params.value("medecin_traitant", "own_gp_share"))
    nurse = who == "IDE"
    if nurse.any():
        slot = staff.slots["IDE"].draw(rng, int(nurse.sum()))
        pro[nurse] = chunk.profession_holder("IDE", slot, days[nurse])
    return {"p": p, "date": days, "drug": drug, "pro": pro}


def vaccinations(chunk: Chunk) -> Arrays:
    rng = chunk.rng("vaccinations")
    params = chunk.params
    v = params.section("vaccinations")
    ctx = chunk.ctx
    parts = []
    at_risk_columns = [j for j, c in enumerate(params.conditions) if c.flu_at_risk]
    at_risk_from = chunk.onset[:, at_risk_columns].min(axis=1)
    regular = chunk.regular

    def choose(vaccines: dict[str, float], size: int) -> np.ndarray:
        keys = list(vaccines)
        weights = np.array([vaccines[k] for k in keys], dtype=np.float64)
        pick = np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(size)), len(keys) - 1)
        return np.array([params.drug_index(k) for k in keys])[pick]

    first_year, last_year = int(year_of(np.array([ctx.start]))[0]) - 1, int(year_of(np.array([ctx.end]))[0])
    for campaign, mean_key in (("flu", "coverage_65"), ("covid", "coverage")):
        spec = v[campaign]
        concentration = spec.get("propensity_concentration", params.value("screening", "propensity_concentration"))
        old_propensity = _propensity(rng, spec[mean_key], concentration, chunk.n)
        risk_propensity = _propensity(rng, spec.get("coverage_at_risk", 0.0), concentration, chunk.n)
        first = max(first_year, int(spec.get("first_season", first_year)))
        # A campaign's own list of conditions at risk (Covid-19), else those flagged for the flu.
        own = [params.condition_index(name) for name in spec.get("at_risk_conditions", ())]
        campaign_risk_from = chunk.onset[:, own].min(axis=1) if own else at_risk_from
        adult = add_years(chunk.birth, np.full(chunk.n, int(spec.get("at_risk_min_age", 0))))
        campaign_risk_from = np.maximum(campaign_risk_from, adult)
        for year in range(first, last_year + 1):
            opens = day_of(year, *spec["campaign_start"])
            day = opens + np.floor(rng.random(chunk.n) * spec["campaign_days"]).astype(np.int64)
            old = age_at(chunk.birth, opens) >= spec["min_age"]
            risk = (campaign_risk_from <= opens) & ("coverage_at_risk" in spec)
            propensity = np.where(old, old_propensity, np.where(risk, risk_propensity, 0.0))
            present = regular & (day >= chunk.entry) & (day < chunk.exit) & (day >= ctx.start)
            taken = present & (rng.random(chunk.n) < propensity)
            p = np.flatnonzero(taken)
            parts.append(_vaccine_rows(chunk, p, day[p], choose(spec["vaccines"], len(p)), spec["given_by"]))

    schedule_by = v["schedule"]["given_by"]
    for item in params.schedule:
        day = chunk.birth + item.age_days + np.floor(rng.random(chunk.n) * item.jitter_days).astype(np.int64)
        coverage = np.where(chunk.female, item.coverage_female, item.coverage_male)
        present = regular & (day >= chunk.entry) & (day < chunk.exit) & (day >= ctx.start)
        if item.from_day is not None:
            present &= day >= item.from_day
        p = np.flatnonzero(present & (rng.random(chunk.n) < coverage))
        parts.append(_vaccine_rows(chunk, p, day[p], np.full(len(p), params.drug_index(item.vaccine)), schedule_by))

    parts.append(_zoster(chunk, rng, v["zoster"]))

    pneumo = v["pneumo_at_risk"]
    adult = add_years(chunk.birth, np.full(chunk.n, int(pneumo["min_age"])))
    start = np.maximum(np.maximum(at_risk_from, chunk.entry), adult)
    p = np.flatnonzero(regular & (start < chunk.exit) & (rng.random(chunk.n) < pneumo["coverage"]))
    day = uniform_days(rng, start[p], chunk.exit[p])
    parts.append(_vaccine_rows(chunk, p, day, np.full(len(p), params.drug_index(pneumo["vaccine"])), schedule_by))
    return concat(parts)


def _zoster(chunk: Chunk, rng: np.random.Generator, spec: dict) -> Arrays:
    """The recombinant shingles vaccine (two doses): from its reimbursement date, people aged ``min_age``
    and over take a first dose at ``first_dose_per_year`` (an exponential waiting time from the day they
    become eligible), most a second one 2 to 6 months later. A rare act, as it is in France."""
    params = chunk.params
    eligible_from = np.maximum(
        np.maximum(chunk.entry, add_years(chunk.birth, np.full(chunk.n, int(spec["min_age"])))),
        day_number(spec["from"]),
    )
    rate = float(params.value("vaccinations", "zoster", "first_dose_per_year"))
    first = eligible_from + np.floor(rng.exponential(DAYS_PER_YEAR / rate, chunk.n)).astype(np.int64)
    low, high = spec["second_dose_delay_days"]["value"]
    second = first + rng.integers(int(low), int(high) + 1, chunk.n)
    completes = rng.random(chunk.n) < float(params.value("vaccinations", "zoster", "second_dose_share"))
    present = chunk.regular & (first < np.minimum(chunk.exit, chunk.ctx.end + 1))
    one = np.flatnonzero(present)
    two = np.flatnonzero(present & completes & (second < np.minimum(chunk.exit, chunk.ctx.end + 1)))
    p = np.concatenate([one, two])
    days = np.concatenate([first[one], second[two]])
    drug = np.full(len(p), params.drug_index(spec["vaccine"]))
    return _vaccine_rows(chunk, p, days, drug, spec["given_by"])


def vaccination_table(chunk: Chunk, rows: Arrays, first_id: int) -> Frame:
    if not rows or len(rows["p"]) == 0:
        return {}
    rng = chunk.rng("vaccination_cip")
    order = np.lexsort((rows["drug"], rows["date"], rows["p"]))
    rows = {k: v[order] for k, v in rows.items()}
    n = len(order)
    vocab = chunk.ctx.vocab
    with_cip = rng.random(n) < chunk.params.value("vaccinations", "cip13_share")
    return {
        "vaccination_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[rows["p"]],
        "date": rows["date"],
        "atc": Cat.of(rows["drug"], vocab.atc),
        "cip13": Cat.of(np.where(with_cip, rows["drug"], -1), vocab.cip13),
        "rpps": Cat.of(rows["pro"], vocab.rpps),
    }
