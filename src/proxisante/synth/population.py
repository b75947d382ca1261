"""The patients of the synthetic centre (patientèle): who they are and when they are followed.

Why a global "cohort" before any event: the staff is sized from the panel (1 GP FTE per ~1,100
médecin traitant patients), so the panel must exist first. It is a few numpy arrays per patient
(tens of MB for a million patients); events are then generated chunk by chunk from slices of it.

The model, every figure of which is in ``parameters.yaml``:

- age and sex drawn from INSEE's pyramid (age as on the extract's last day);
- an open cohort: most patients are followed from the first day, the others arrive during the
  period; some move away (départ), some die at age- and sex-specific rates (décès);
- regular patients (patients suivis) versus occasional ones (patients de passage, seen once or twice);
- chronic conditions (maladies chroniques) at age- and sex-specific prevalences, most present
  before the first day, some starting during the period (incidence);
- C2S (complémentaire santé solidaire) and AME (aide médicale de l'État) rights as chains of
  12-month periods, a complementary insurer (mutuelle) for most of the others;
- médecin traitant declarations: see :func:`assign_medecin_traitant`, once the staff exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proxisante.synth.geography import Catchment
from proxisante.synth.parameters import Parameters, day_number
from proxisante.synth.timeline import DAYS_PER_YEAR, NEVER, age_at, uniform_days


@dataclass
class Cohort:
    """One entry per patient (arrays aligned); day numbers, ``exit`` exclusive."""

    start: int
    end: int  # last day of the extract (inclusive)
    female: np.ndarray
    birth: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    death: np.ndarray  # NEVER unless the patient died while followed
    left: np.ndarray  # moved away before the end
    regular: np.ndarray
    commune: np.ndarray  # index into geography.Communes
    onset: np.ndarray  # (n, conditions) day numbers, NEVER if absent
    cim: np.ndarray  # (n, conditions) index of the CIM-10 code in the condition's list
    frailty: np.ndarray
    c2s_start: np.ndarray
    c2s_periods: np.ndarray
    ame_start: np.ndarray
    ame_periods: np.ndarray
    amc: np.ndarray
    has_mt: np.ndarray
    mt_start: np.ndarray
    mt_switch: np.ndarray  # NEVER when the patient keeps the same GP position
    slot0: np.ndarray  # GP position (staff slot) declared first
    slot1: np.ndarray  # GP position after a voluntary change

    @property
    def n(self) -> int:
        return len(self.birth)


@dataclass(frozen=True)
class Imposed:
    """Patients whose sex, birth day and commune are given rather than drawn: in a synthetic network, people
    followed by another structure and seen here occasionally (``synth/network.py``). Cohort positions and
    their values, aligned; these patients are occasional here (a few contacts within a year)."""

    index: np.ndarray
    female: np.ndarray
    birth: np.ndarray
    commune: np.ndarray


def _ages(params: Parameters, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sex and age in years (fractional), from the pyramid's 5-year bands."""
    pyramid = params.pyramid
    counts = np.concatenate([pyramid.male, pyramid.female])
    cell = np.searchsorted(np.cumsum(counts / counts.sum()), rng.random(n))
    cell = np.minimum(cell, len(counts) - 1)
    bands = len(pyramid.ages)
    female = cell >= bands
    band = cell % bands
    upper = np.append(pyramid.ages[1:], float(params.value("population", "max_age")) + 1)
    low, high = pyramid.ages[band], upper[band]
    return female, low + rng.random(n) * (high - low)


def build_cohort(
    params: Parameters,
    rng: np.random.Generator,
    n: int,
    start: int,
    end: int,
    area: Catchment,
    imposed: Imposed | None = None,
) -> Cohort:
    """Draw ``n`` patients followed at some time between ``start`` and ``end`` (day numbers). The
    ``imposed`` patients take the given sex, birth day and commune and are occasional; the random draws
    are the same with or without them, so the other patients do not change."""
    value = params.value
    female, age_at_end = _ages(params, rng, n)
    birth = (end - np.floor(age_at_end * DAYS_PER_YEAR)).astype(np.int64)
    if imposed is not None:
        female[imposed.index] = imposed.female
        birth[imposed.index] = imposed.birth
    first = np.maximum(birth, start)

    regular = rng.random(n) >= value("population", "occasional_share")
    if imposed is not None:
        regular[imposed.index] = False
    at_start = (rng.random(n) < value("population", "in_file_at_start_share")) & (birth <= start) & regular
    entry = np.where(at_start, start, uniform_days(rng, first, end + 1))

    # Leaving and dying, as competing exponential times from the first day followed.
    leave_rate = value("population", "leave_rate_per_year")
    t_leave = entry + rng.exponential(DAYS_PER_YEAR / leave_rate, n)
    # The death rate of the age at mid-follow-up (people age by up to 5 years over the extract).
    q = params.mortality.at(age_at(birth, (entry + end + 1) // 2), female) / 1000.0
    hazard = -np.log1p(-np.minimum(q, 0.999))
    t_death = entry + rng.exponential(1.0, n) * DAYS_PER_YEAR / np.maximum(hazard, 1e-9)
    window = value("population", "occasional_window_days")
    occasional_exit = np.minimum(entry + window, end + 1)
    died = regular & (t_death < t_leave) & (t_death < end + 1)
    death = np.where(died, np.floor(t_death), NEVER).astype(np.int64)
    exit_ = np.where(regular, np.minimum(np.minimum(np.floor(t_leave), death + 1), end + 1), occasional_exit).astype(
        np.int64
    )
    exit_ = np.maximum(exit_, entry + 1)
    left = regular & ~died & (exit_ <= end)

    onset, cim = _conditions(params, rng, female, birth, entry, exit_, end)
    c2s_start, c2s_periods, ame_start, ame_periods = _rights(params, rng, female, birth, entry, end)
    amc = (c2s_periods == 0) & (ame_periods == 0) & (rng.random(n) < value("insurance", "amc_share"))
    shape = value("encounters", "frailty_shape")
    frailty = rng.gamma(shape, 1.0 / shape, n)

    has_mt, mt_start = _declaration_dates(params, rng, female, birth, entry, exit_, regular, start)
    none = np.full(n, -1, dtype=np.int64)
    commune = area.draw(rng, n)
    if imposed is not None:
        commune[imposed.index] = imposed.commune
    return Cohort(
        start=start,
        end=end,
        female=female,
        birth=birth,
        entry=entry,
        exit=exit_,
        death=death,
        left=left,
        regular=regular,
        commune=commune,
        onset=onset,
        cim=cim,
        frailty=frailty.astype(np.float32),
        c2s_start=c2s_start,
        c2s_periods=c2s_periods,
        ame_start=ame_start,
        ame_periods=ame_periods,
        amc=amc,
        has_mt=has_mt,
        mt_start=mt_start,
        mt_switch=np.full(n, NEVER, dtype=np.int64),
        slot0=none,
        slot1=none.copy(),
    )


def _conditions(
    params: Parameters,
    rng: np.random.Generator,
    female: np.ndarray,
    birth: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    end: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(birth)
    age = age_at(birth, end)
    lookback = params.value("population", "onset_lookback_years") * DAYS_PER_YEAR
    onset = np.full((n, len(params.conditions)), NEVER, dtype=np.int32)
    cim = np.zeros((n, len(params.conditions)), dtype=np.int16)
    for j, condition in enumerate(params.conditions):
        p = condition.prevalence.at(age, female)
        if condition.sex == "F":
            p = np.where(female, p, 0.0)
        elif condition.sex == "M":
            p = np.where(female, 0.0, p)
        has = rng.random(n) < p
        incident = rng.random(n) < condition.incident_share
        before = np.maximum(birth, entry - np.floor(rng.random(n) * lookback)).astype(np.int64)
        during = uniform_days(rng, entry, exit_)
        onset[:, j] = np.where(has, np.where(incident, during, before), NEVER)
        cim[:, j] = condition.cim10.draw(rng, n)
    return onset, cim


def _chain(
    rng: np.random.Generator, has: np.ndarray, birth: np.ndarray, entry: np.ndarray, lookback: float, renew: float
) -> tuple[np.ndarray, np.ndarray]:
    """Start and number of consecutive 12-month periods of a right (0 periods: no right)."""
    n = len(birth)
    start = np.maximum(birth, entry - np.floor(rng.random(n) * lookback)).astype(np.int64)
    periods = rng.geometric(1.0 - renew, n) if renew < 1 else np.full(n, 50)
    return np.where(has, start, NEVER), np.where(has, periods, 0).astype(np.int64)


def _rights(
    params: Parameters,
    rng: np.random.Generator,
    female: np.ndarray,
    birth: np.ndarray,
    entry: np.ndarray,
    end: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(birth)
    age = age_at(birth, end)
    ame = rng.random(n) < params.table("insurance", "ame_share").at(age, female)
    c2s = ~ame & (rng.random(n) < params.table("insurance", "c2s_share").at(age, female))
    lookback = params.value("insurance", "c2s_lookback_years") * DAYS_PER_YEAR
    c2s_start, c2s_periods = _chain(
        rng, c2s, birth, entry, lookback, params.value("insurance", "c2s_renewal_probability")
    )
    ame_start, ame_periods = _chain(
        rng, ame, birth, entry, lookback, params.value("insurance", "ame_renewal_probability")
    )
    return c2s_start, c2s_periods, ame_start, ame_periods


def _declaration_dates(
    params: Parameters,
    rng: np.random.Generator,
    female: np.ndarray,
    birth: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    regular: np.ndarray,
    start: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Who declares a médecin traitant of the centre, and from when (before knowing the GPs)."""
    n = len(birth)
    mt = params.section("medecin_traitant")
    first = np.maximum(entry, start)
    share = params.table("medecin_traitant", "declared_share").at(age_at(birth, first), female)
    has = regular & (rng.random(n) < share)
    lookback = mt["declaration_lookback_years"]["value"] * DAYS_PER_YEAR
    prevalent = entry <= start
    declared = np.where(
        prevalent,
        start - np.floor(rng.random(n) * lookback),
        entry + np.floor(rng.random(n) * mt["declaration_delay_days"]["value"]),
    ).astype(np.int64)
    declared = np.maximum(declared, birth + 1)
    # Children under 16 could only declare a médecin traitant from 2016.
    children_from = day_number(mt["children_allowed_from"]["value"])
    child = age_at(birth, declared) < 16
    declared = np.where(child & (declared < children_from), np.maximum(children_from, birth + 1), declared)
    has &= declared < exit_
    return has, np.where(has, declared, NEVER)


def assign_medecin_traitant(
    params: Parameters, rng: np.random.Generator, cohort: Cohort, slot_fte: np.ndarray, slot_start: np.ndarray
) -> None:
    """Give each declaring patient a GP position, and a later voluntary change for some.

    ``slot_start`` is the day the position's first holder joined: a declaration cannot predate it.
    """
    n = cohort.n
    weights = slot_fte / slot_fte.sum()
    cumulative = np.cumsum(weights)
    slot0 = np.minimum(np.searchsorted(cumulative, rng.random(n)), len(weights) - 1)
    mt_start = np.where(cohort.has_mt, np.maximum(cohort.mt_start, slot_start[slot0]), NEVER)
    has = cohort.has_mt & (mt_start < cohort.exit)
    rate = params.value("medecin_traitant", "voluntary_change_per_year")
    switch = np.maximum(mt_start, cohort.start) + np.floor(rng.exponential(DAYS_PER_YEAR / rate, n))
    slot1 = np.minimum(np.searchsorted(cumulative, rng.random(n)), len(weights) - 1)
    slot1 = np.where(slot1 == slot0, (slot1 + 1) % len(weights), slot1)
    changes = has & (switch < cohort.exit) & (switch <= cohort.end) & (len(weights) > 1)
    cohort.has_mt = has
    cohort.mt_start = np.where(has, mt_start, NEVER).astype(np.int64)
    cohort.slot0 = np.where(has, slot0, -1)
    cohort.mt_switch = np.where(changes, switch, NEVER).astype(np.int64)
    cohort.slot1 = np.where(changes, slot1, -1)


def mean_mt_patients(cohort: Cohort) -> float:
    """Average number of patients with a médecin traitant of the centre over the extract."""
    lo = np.maximum(cohort.mt_start, cohort.start)
    hi = np.minimum(cohort.exit, cohort.end + 1)
    days = np.where(cohort.has_mt, np.maximum(hi - lo, 0), 0)
    return float(days.sum()) / (cohort.end + 1 - cohort.start)
