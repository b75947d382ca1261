"""Contacts (encounters) and what follows from them: billed acts, diagnoses, prescriptions.

Why encounters first: in an EHR, diagnoses, prescriptions and billed acts hang off a contact
(consultation G, home visit VG, teleconsultation TCG, nurse care AMI/AIS, physiotherapy AMK...).
Everything is drawn per chunk with numpy:

- GP contacts (consultations de médecine générale): a Poisson number per patient over the days
  followed, at a rate by age and sex plus extra visits per chronic condition, times a personal
  frailty; home visits for the very old, teleconsultations a few %, the long consultation GL for
  patients aged 80+ from 2026. A contact is a chronic follow-up (renewal of treatments, condition
  coded) often enough for about 4-5 renewals a year, otherwise an acute problem (motif aigu);
- nurse care series for dependent or chronically ill patients; episodes with physiotherapists,
  midwives, psychologists, advanced-practice nurses and dietitians;
- acts: the encounter's NGAP key at the tariff in force on that date (``parameters.yaml``), plus an
  ECG (CCAM DEQP003) sometimes, split by payer: AMO (assurance maladie) and the rest paid by the
  mutuelle (AMC), the C2S, or the patient; AME and ALD (exonération du ticket modérateur) fully
  covered;
- diagnoses: the problem list (one row per chronic condition) plus coded contacts;
- prescriptions: chronic drug lines renewed for 3 months at follow-up contacts, acute drugs
  (antibiotics, analgesics, short benzodiazepine courses) at acute contacts.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from proxisante.synth.chunk import (
    ACUTE,
    EPISODE,
    FOLLOW_UP,
    NURSE,
    PAYERS,
    SAMPLING,
    Chunk,
    avoid_sunday,
    choice_values,
    periodic,
)
from proxisante.synth.frames import Arrays, Cat, Frame, concat, expand
from proxisante.synth.parameters import day_number
from proxisante.synth.timeline import DAYS_PER_YEAR, NEVER, age_at, month_of, uniform_days, year_of


def _part(p: np.ndarray, days: np.ndarray, code: np.ndarray | int, pro: np.ndarray, kind: int) -> Arrays:
    n = len(p)
    return {
        "p": p.astype(np.int64),
        "date": days.astype(np.int64),
        "code": np.broadcast_to(np.asarray(code, dtype=np.int64), (n,)).copy(),
        "pro": pro.astype(np.int64),
        "kind": np.full(n, kind, dtype=np.int64),
    }


def _code(chunk: Chunk, name: str) -> int:
    return chunk.ctx.vocab.acts.index(name)


def drug_lines(chunk: Chunk) -> np.ndarray:
    """(n, drugs): day from which each patient takes each chronic drug, NEVER if not."""
    rng = chunk.rng("drug_lines")
    params = chunk.params
    lines = np.full((chunk.n, len(params.drugs)), NEVER, dtype=np.int64)
    drug_of = {d.key: i for i, d in enumerate(params.drugs)}
    for j, condition in enumerate(params.conditions):
        has = chunk.has_condition[:, j]
        for group in condition.treatments:
            takes = np.flatnonzero(has & (rng.random(chunk.n) < group.probability))
            if len(takes) == 0:
                continue
            options = np.array([drug_of[k] for k in group.choose.options])
            drug = options[group.choose.draw(rng, len(takes))]
            np.minimum.at(lines, (takes, drug), chunk.onset[takes, j])
    return lines


def ald_rows(chunk: Chunk) -> tuple[Arrays, np.ndarray]:
    """ALD coverage rows (exonération pour affection de longue durée) and each patient's first ALD day."""
    rng = chunk.rng("ald")
    params = chunk.params
    delay = params.value("insurance", "ald_delay_days")
    last = np.minimum(chunk.exit - 1, chunk.ctx.end)
    parts = []
    for j, condition in enumerate(params.conditions):
        if condition.ald_probability <= 0:
            continue
        has = chunk.has_condition[:, j] & (rng.random(chunk.n) < condition.ald_probability)
        p = np.flatnonzero(has)
        start = np.maximum(chunk.birth[p], chunk.onset[p, j] + np.floor(rng.random(len(p)) * delay))
        keep = start <= last[p]
        p, start = p[keep], start[keep].astype(np.int64)
        code = chunk.cim_code(p, np.full(len(p), j))
        numbers = np.array([condition.ald_number_of(c) or -1 for c in chunk.ctx.vocab.cim10])
        parts.append({"p": p, "start": start, "cim": code, "ald": numbers[code]})
    # Severe hypertension (ALD 12) left the list in 2011; exemptions granted before remain.
    hta = params.condition_index("hypertension")
    removed = day_number(params.value("insurance", "ald_hta_removed_on"))
    legacy = chunk.has_condition[:, hta] & (chunk.onset[:, hta] < removed)
    legacy &= rng.random(chunk.n) < params.value("insurance", "ald_hta_legacy_share")
    p = np.flatnonzero(legacy)
    start = uniform_days(rng, chunk.onset[p, hta], np.full(len(p), removed))
    code = chunk.cim_code(p, np.full(len(p), hta))
    hta_number = params.conditions[hta].ald_number or -1
    parts.append({"p": p, "start": start.astype(np.int64), "cim": code, "ald": np.full(len(p), hta_number)})
    rows = concat(parts)
    first = np.full(chunk.n, NEVER, dtype=np.int64)
    if rows:
        np.minimum.at(first, rows["p"], rows["start"])
    return rows, first


def gp_contacts(chunk: Chunk) -> Arrays:
    """Consultations, home visits and teleconsultations with the centre's GPs."""
    rng = chunk.rng("gp")
    params = chunk.params
    enc = params.section("encounters")
    n = chunk.n
    span = chunk.exit - chunk.entry
    base = params.table("encounters", "gp_rate_per_year").at(chunk.age_mid, chunk.female)
    after = np.clip(chunk.exit[:, None] - np.maximum(chunk.onset, chunk.entry[:, None]), 0, None) / span[:, None]
    extra_visits = np.array([c.extra_gp_visits for c in params.conditions])
    extra = (np.where(chunk.has_condition, after, 0.0) * extra_visits).sum(axis=1)
    rate = (base + extra) * chunk.cohort("frailty")
    occasional = params.choice("population", "occasional_visits")
    count = np.where(
        chunk.regular,
        rng.poisson(rate * span / DAYS_PER_YEAR),
        choice_values(occasional.options, occasional.draw(rng, n)).astype(np.int64),
    )
    p, _ = expand(count)
    days = avoid_sunday(uniform_days(rng, chunk.entry[p], chunk.exit[p]), chunk.entry[p], chunk.exit[p])

    # Follow-up of a chronic condition, often enough for ~4-5 renewals a year.
    active = (chunk.onset[p] <= days[:, None]).any(axis=1)
    renew = np.minimum(1.0, enc["chronic_renewals_per_year"]["value"] / np.maximum(rate[p], 1e-9))
    follow = active & (rng.random(len(p)) < renew)

    age = age_at(chunk.birth[p], days)
    female = chunk.female[p]
    home = chunk.regular[p] & (rng.random(len(p)) < params.table("encounters", "home_visit_share").at(age, female))
    tele_by_year = enc["teleconsultation_share_by_year"]["values"]
    years = np.array(sorted(tele_by_year))
    shares = np.array([tele_by_year[y] for y in years])
    tele_share = shares[np.clip(np.searchsorted(years, year_of(days)), 0, len(years) - 1)]
    tele = ~home & (rng.random(len(p)) < tele_share)
    long_ = enc["long_consultation"]
    gl = ~home & ~tele & (days >= day_number(long_["from"])) & (age >= long_["min_age"])
    gl &= chunk.cohort("has_mt")[p] & (rng.random(len(p)) < long_["share"])
    code = np.full(len(p), _code(chunk, "G"))
    code[home] = _code(chunk, "VG")
    code[tele] = _code(chunk, "TCG")
    code[gl] = _code(chunk, "GL")
    pro = chunk.gp_holder(p, days, params.value("medecin_traitant", "own_gp_share"))
    part = _part(p, days, code, pro, ACUTE)
    part["kind"][follow] = FOLLOW_UP
    return part


def nurse_care(chunk: Chunk) -> Arrays:
    """Series of nurse visits (soins infirmiers) for dependent or chronically ill patients."""
    staff = chunk.ctx.staff
    if not staff.has("IDE"):
        return {}
    rng = chunk.rng("nurse")
    params = chunk.params
    nurse = params.section("encounters", "nurse")
    by_age = params.table("encounters", "nurse", "probability").at(chunk.age_mid, chunk.female)
    by_condition = np.where(chunk.has_condition, np.array([c.nurse_probability for c in params.conditions]), 0.0)
    probability = np.maximum(by_age, by_condition.max(axis=1))
    care = chunk.regular & (rng.random(chunk.n) < probability)
    patients = np.flatnonzero(care)
    start = uniform_days(rng, chunk.entry[patients], chunk.exit[patients])
    intervals = params.choice("encounters", "nurse", "interval_days")
    interval = choice_values(intervals.options, intervals.draw(rng, len(patients))).astype(np.int64)
    series, days = periodic(rng, start, chunk.exit[patients], interval, nurse["jitter"])
    p = patients[series]
    days = avoid_sunday(days, chunk.entry[p], chunk.exit[p])
    home_patient = (age_at(chunk.birth, chunk.exit) >= nurse["home_min_age"]) & (
        rng.random(chunk.n) < nurse["home_share"]
    )
    code = np.where(home_patient[p], _code(chunk, "AIS"), _code(chunk, "AMI"))
    slot = staff.slots["IDE"].draw(rng, chunk.n)
    pro = chunk.profession_holder("IDE", slot[p], days)
    return _part(p, days, code, pro, NURSE)


def episodes(chunk: Chunk) -> list[Arrays]:
    """Episodes of care with the other professionals (MK, SF, PSY, IPA, DIET)."""
    staff = chunk.ctx.staff
    params = chunk.params
    parts = []
    for spec in params.episodes:
        if not staff.has(spec.profession):
            continue
        rng = chunk.rng(f"episode:{spec.name}")
        eligible = chunk.regular & (chunk.age_mid >= spec.min_age)
        if spec.sex is not None:
            eligible &= chunk.female == (spec.sex == "F")
        window = chunk.entry.copy()
        if spec.conditions:
            columns = chunk.condition_columns(spec.conditions)
            eligible &= chunk.has_condition[:, columns].any(axis=1)
            window = np.maximum(window, chunk.onset[:, columns].min(axis=1))
        eligible &= window < chunk.exit
        rate = spec.rate.at(chunk.age_mid, chunk.female)
        count = np.where(eligible, rng.poisson(rate * np.maximum(chunk.exit - window, 0) / DAYS_PER_YEAR), 0)
        owner, _ = expand(count)
        start = uniform_days(rng, window[owner], chunk.exit[owner])
        sessions = rng.integers(spec.sessions[0], spec.sessions[1] + 1, len(owner))
        spacing = rng.integers(spec.spacing_days[0], spec.spacing_days[1] + 1, len(owner))
        slot = staff.slots[spec.profession].draw(rng, len(owner))
        episode, k = expand(sessions)
        p = owner[episode]
        days = start[episode] + k * spacing[episode]
        keep = days < chunk.exit[p]
        p, days, episode = p[keep], days[keep], episode[keep]
        days = avoid_sunday(days, chunk.entry[p], chunk.exit[p])
        pro = chunk.profession_holder(spec.profession, slot[episode], days)
        parts.append(_part(p, days, _code(chunk, spec.code), pro, EPISODE))
    return parts


def sampling_encounters(chunk: Chunk, p: np.ndarray, days: np.ndarray) -> Arrays:
    """Contacts where a cervical sample is taken (by a GP, or a midwife when the centre has one)."""
    rng = chunk.rng("sampling")
    days = avoid_sunday(days, chunk.entry[p], chunk.exit[p])
    by_gp = chunk.gp_holder(p, days, chunk.params.value("medecin_traitant", "own_gp_share"))
    code = np.full(len(p), _code(chunk, "G"))
    pro = by_gp
    if chunk.ctx.staff.has("SF"):
        midwife = rng.random(len(p)) < chunk.params.section("screening", "cervical")["sampled_by_midwife"]
        slot = chunk.ctx.staff.slots["SF"].draw(rng, len(p))
        pro = np.where(midwife, chunk.profession_holder("SF", slot, days), by_gp)
        code = np.where(midwife, _code(chunk, "SF"), code)
    return _part(p, days, code, pro, SAMPLING)


def finalise_encounters(chunk: Chunk, parts: list[Arrays], first_id: int) -> Arrays:
    """All contacts of the chunk, ordered by patient and date, with their ids."""
    frame = concat(parts)
    if not frame:
        frame = _part(np.zeros(0, np.int64), np.zeros(0, np.int64), 0, np.zeros(0, np.int64), ACUTE)
    order = np.lexsort((frame["code"], frame["date"], frame["p"]))
    frame = {k: v[order] for k, v in frame.items()}
    frame["id"] = first_id + np.arange(len(order), dtype=np.int64)
    return frame


def encounter_table(chunk: Chunk, enc: Arrays) -> Frame:
    staff = chunk.ctx.staff
    return {
        "encounter_id": enc["id"],
        "patient_id": chunk.patient_id[enc["p"]],
        "rpps": Cat.of(enc["pro"], chunk.ctx.vocab.rpps),
        "date": enc["date"],
        "encounter_type": Cat.of(enc["code"], chunk.ctx.vocab.acts),
        "site_id": staff.site_id[staff.site[enc["pro"]]].astype(np.int64),
    }


def _acute_problems(chunk: Chunk, p: np.ndarray, days: np.ndarray) -> np.ndarray:
    """An acute problem per contact, by age group, sex and season."""
    rng = chunk.rng("acute")
    params = chunk.params
    problems = params.acute
    months = np.array(params.section("encounters", "winter_months")["values"])
    age = age_at(chunk.birth[p], days)
    child = (age < params.section("acute")["child_max_age"]).astype(np.int64)
    elderly = (age >= params.section("acute")["elderly_min_age"]).astype(np.int64)
    female = chunk.female[p].astype(np.int64)
    winter = np.isin(month_of(days), months).astype(np.int64)
    group = ((child * 2 + elderly) * 2 + female) * 2 + winter  # 16 combinations (child & elderly exclusive)
    weights = np.zeros((16, len(problems)))
    for g in range(16):
        c, e, f, w = (g >> 3) & 1, (g >> 2) & 1, (g >> 1) & 1, g & 1
        for k, a in enumerate(problems):
            value = a.weight * (a.child if c else 1.0) * (a.elderly if e else 1.0) * (a.winter if w else 1.0)
            if a.sex is not None and (a.sex == "F") != bool(f):
                value = 0.0
            weights[g, k] = value
    cumulative = np.cumsum(weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12), axis=1)
    u = rng.random(len(p))
    pick = (cumulative[group] < u[:, None]).sum(axis=1)
    return np.minimum(pick, len(problems) - 1)


class DerivedTables(TypedDict):
    """What follows from the contacts: three tables, and procedure rows not yet numbered."""

    acts: Frame
    diagnoses: Frame
    prescriptions: Frame
    procedures: Arrays


def derived_tables(
    chunk: Chunk, enc: Arrays, lines: np.ndarray, ald_first: np.ndarray, first_ids: dict[str, int]
) -> DerivedTables:
    """Acts, diagnoses, prescriptions (with their ids) and in-centre procedure rows (ids given later,
    with the screening procedures) of the chunk's contacts."""
    acute_mask = enc["kind"] == ACUTE
    problem = np.full(len(enc["p"]), -1, dtype=np.int64)
    problem[acute_mask] = _acute_problems(chunk, enc["p"][acute_mask], enc["date"][acute_mask])
    procedures, extra_acts = _in_centre_procedures(chunk, enc)
    return {
        "acts": _acts(chunk, enc, extra_acts, ald_first, first_ids["acts"]),
        "diagnoses": _diagnoses(chunk, enc, problem, first_ids["diagnoses"]),
        "prescriptions": _prescriptions(chunk, enc, problem, lines, first_ids["prescriptions"]),
        "procedures": procedures,
    }


def _in_centre_procedures(chunk: Chunk, enc: Arrays) -> tuple[Arrays, Arrays]:
    """ECGs at GP consultations and cervical samplings: procedure rows and the extra billed acts."""
    rng = chunk.rng("ecg")
    params = chunk.params
    vocab = chunk.ctx.vocab
    ecg = params.section("encounters", "ecg")
    office = np.isin(enc["code"], [_code(chunk, "G"), _code(chunk, "GL")]) & (enc["kind"] <= FOLLOW_UP)
    p, days = enc["p"], enc["date"]
    cardiac_columns = [j for j, c in enumerate(params.conditions) if c.cardiac]
    cardiac = (chunk.onset[p][:, cardiac_columns] <= days[:, None]).any(axis=1)
    age = age_at(chunk.birth[p], days)
    older = age >= ecg["older_min_age"]
    share = np.where(cardiac, ecg["cardiac_share"], np.where(older, ecg["older_share"], ecg["base_share"]))
    with_ecg = office & (rng.random(len(p)) < share)
    sampled = enc["kind"] == SAMPLING
    rows = np.concatenate([np.flatnonzero(with_ecg), np.flatnonzero(sampled)])
    ccam = np.concatenate(
        [
            np.full(with_ecg.sum(), vocab.ccam.index(ecg["ccam"])),
            np.full(sampled.sum(), vocab.ccam.index(params.section("screening", "cervical")["sampling_ccam"])),
        ]
    )
    order = np.lexsort((ccam, rows))
    rows, ccam = rows[order], ccam[order]
    procedures = {
        "p": p[rows],
        "date": days[rows],
        "ccam": ccam,
        "pro": enc["pro"][rows],
        "encounter": enc["id"][rows],
    }
    act_codes = np.array([vocab.acts.index(vocab.ccam[c]) for c in ccam], dtype=np.int64)
    extra = {"row": rows, "code": act_codes}
    return procedures, extra


def procedure_table(chunk: Chunk, rows: Arrays, first_id: int) -> Frame:
    n = len(rows["p"])
    return {
        "procedure_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[rows["p"]],
        "date": rows["date"],
        "ccam": Cat.of(rows["ccam"], chunk.ctx.vocab.ccam),
        "rpps": Cat.of(rows["pro"], chunk.ctx.vocab.rpps),
        "encounter_id": rows["encounter"],
    }


def _acts(chunk: Chunk, enc: Arrays, extra: Arrays, ald_first: np.ndarray, first_id: int) -> Frame:
    params = chunk.params
    vocab = chunk.ctx.vocab
    row = np.concatenate([np.arange(len(enc["p"])), extra["row"]])
    code = np.concatenate([enc["code"], extra["code"]])
    p, days = enc["p"][row], enc["date"][row]
    amount = np.full(len(row), np.nan)
    rate = np.full(len(row), params.amo_rate_default)
    for c, name in enumerate(vocab.acts):
        mask = code == c
        if not mask.any():
            continue
        tariff = params.tariffs.get(name)
        if tariff is not None:
            amount[mask] = tariff.at(days[mask])
        rate[mask] = params.amo_rate_by_code.get(name, params.amo_rate_default)
    billed = ~np.isnan(amount)
    row, code, p, days, amount, rate = row[billed], code[billed], p[billed], days[billed], amount[billed], rate[billed]

    period = params.value("insurance", "c2s_period_days")
    ame_start, c2s_start = chunk.cohort("ame_start")[p], chunk.cohort("c2s_start")[p]
    ame = (ame_start <= days) & (days < ame_start + chunk.cohort("ame_periods")[p] * period)
    c2s = (c2s_start <= days) & (days < c2s_start + chunk.cohort("c2s_periods")[p] * period)
    ald = days >= ald_first[p]
    reimbursed = rate > 0
    amo = np.where(ame, 0.0, np.where(ald & reimbursed, amount, np.round(amount * rate, 2)))
    rest = np.round(amount - amo, 2)
    payer_rest = np.where(
        ame & reimbursed,
        PAYERS.index("AME"),
        np.where(
            c2s & reimbursed,
            PAYERS.index("C2S"),
            np.where(chunk.cohort("amc")[p], PAYERS.index("AMC"), PAYERS.index("PATIENT")),
        ),
    )
    has_amo, has_rest = amo > 0, rest > 0.004
    which = np.concatenate([np.flatnonzero(has_amo), np.flatnonzero(has_rest)])
    part = np.concatenate([np.zeros(has_amo.sum(), np.int64), np.ones(has_rest.sum(), np.int64)])
    order = np.lexsort((part, code[which], row[which]))
    which, part = which[order], part[order]
    n = len(which)
    return {
        "act_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[p[which]],
        "rpps": Cat.of(enc["pro"][row[which]], vocab.rpps),
        "date": days[which],
        "code": Cat.of(code[which], vocab.acts),
        "amount": np.where(part == 0, amo[which], rest[which]),
        "payer": Cat.of(np.where(part == 0, PAYERS.index("AMO"), payer_rest[which]), PAYERS),
        "encounter_id": enc["id"][row[which]],
    }


def _diagnoses(chunk: Chunk, enc: Arrays, problem: np.ndarray, first_id: int) -> Frame:
    rng = chunk.rng("diagnoses")
    params = chunk.params
    vocab = chunk.ctx.vocab
    # Problem list: each chronic condition once, from the first day it is known to the centre.
    patients, condition = np.nonzero(chunk.has_condition)
    listed = {
        "p": patients,
        "date": np.maximum(chunk.onset[patients, condition], chunk.entry[patients]),
        "cim": chunk.cim_code(patients, condition),
        "pro": np.full(len(patients), -1, dtype=np.int64),
        "encounter": np.full(len(patients), -1, dtype=np.int64),
    }
    # Follow-up contacts: one of the conditions active that day, coded with some probability.
    follow = np.flatnonzero(
        (enc["kind"] == FOLLOW_UP) & (rng.random(len(enc["p"])) < params.value("diagnoses", "chronic_coded_share"))
    )
    p = enc["p"][follow]
    active = chunk.onset[p] <= enc["date"][follow][:, None]
    score = np.where(active, rng.random(active.shape), -1.0)
    which = score.argmax(axis=1)
    chronic = {
        "p": p,
        "date": enc["date"][follow],
        "cim": chunk.cim_code(p, which),
        "pro": enc["pro"][follow],
        "encounter": enc["id"][follow],
    }
    coded = np.flatnonzero((problem >= 0) & (rng.random(len(problem)) < params.value("diagnoses", "acute_coded_share")))
    acute = {
        "p": enc["p"][coded],
        "date": enc["date"][coded],
        "cim": vocab.acute_codes[problem[coded]],
        "pro": enc["pro"][coded],
        "encounter": enc["id"][coded],
    }
    rows = concat([listed, chronic, acute])
    order = np.lexsort((rows["encounter"], rows["date"], rows["p"]))
    rows = {k: v[order] for k, v in rows.items()}
    n = len(order)
    return {
        "diagnosis_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[rows["p"]],
        "encounter_id": rows["encounter"],
        "date": rows["date"],
        "cim10": Cat.of(rows["cim"], vocab.cim10),
        "rpps": Cat.of(rows["pro"], vocab.rpps),
    }


def _prescriptions(chunk: Chunk, enc: Arrays, problem: np.ndarray, lines: np.ndarray, first_id: int) -> Frame:
    rng = chunk.rng("prescriptions")
    params = chunk.params
    drugs = params.drugs
    renewal = params.value("prescriptions", "renewal_days")
    max_duration = np.array([d.max_duration_days for d in drugs])
    acute_duration = np.array([d.acute_duration_days for d in drugs])
    per_pack = np.array([max(d.days_per_pack, 1) for d in drugs])

    follow = np.flatnonzero(enc["kind"] == FOLLOW_UP)
    on = lines[enc["p"][follow]] <= enc["date"][follow][:, None]
    rows, drug = np.nonzero(on)
    chronic = {"e": follow[rows], "drug": drug, "duration": np.minimum(renewal, max_duration[drug])}

    parts = [chronic]
    for k, a in enumerate(params.acute):
        at = np.flatnonzero(problem == k)
        for group in a.prescriptions:
            given = at[rng.random(len(at)) < group.probability]
            options = np.array([params.drug_index(key) for key in group.choose.options])
            drug = options[group.choose.draw(rng, len(given))]
            parts.append({"e": given, "drug": drug, "duration": acute_duration[drug]})
    acute = np.flatnonzero(problem >= 0)
    analgesic = acute[rng.random(len(acute)) < params.value("diagnoses", "paracetamol_share")]
    paracetamol = params.drug_index("paracetamol")
    parts.append(
        {
            "e": analgesic,
            "drug": np.full(len(analgesic), paracetamol),
            "duration": np.full(len(analgesic), acute_duration[paracetamol]),
        }
    )
    rows_ = concat(parts)
    order = np.lexsort((rows_["drug"], rows_["e"]))
    e, drug, duration = rows_["e"][order], rows_["drug"][order], rows_["duration"][order]
    duration = np.maximum(duration, 1)
    n = len(e)
    vocab = chunk.ctx.vocab
    return {
        "prescription_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[enc["p"][e]],
        "encounter_id": enc["id"][e],
        "rpps": Cat.of(enc["pro"][e], vocab.rpps),
        "date": enc["date"][e],
        "cip13": Cat.of(drug, vocab.cip13),
        "atc": Cat.of(drug, vocab.atc),
        "label": Cat.of(drug, vocab.drug_label),
        "quantity": np.ceil(duration / per_pack[drug]).astype(np.float64),
        "duration_days": duration.astype(np.int64),
    }


def encounter_parts(chunk: Chunk) -> list[Arrays]:
    """Every contact of the chunk except cervical samplings (drawn with the screening)."""
    return [gp_contacts(chunk), nurse_care(chunk), *episodes(chunk)]


__all__ = [
    "ald_rows",
    "derived_tables",
    "drug_lines",
    "encounter_parts",
    "encounter_table",
    "finalise_encounters",
    "procedure_table",
    "sampling_encounters",
]
