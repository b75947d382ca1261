"""What every table generator of a chunk shares: the patients' slice, vocabularies, helpers.

Why chunks: events are generated for ~50,000 patients at a time, with numpy only (no loop over
patients), and written before the next chunk, so that a million patients fit in memory. Each chunk
draws from its own random streams (seed, chunk number, table), which makes the output independent
of how fast anything runs and identical for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from proxisante.synth.geography import Catchment
from proxisante.synth.parameters import Parameters
from proxisante.synth.population import Cohort
from proxisante.synth.staff import Slots, Staff
from proxisante.synth.timeline import NEVER, age_at, rng, weekday

# Encounter types (NGAP letter keys of vocab/data/ngap.csv) and billed CCAM codes the generator uses.
ENCOUNTER_CODES = ("G", "VG", "TCG", "GL", "AMI", "AIS", "AMK", "SF", "PSY", "CIP", "DIET")
CCAM_ACTS = ("DEQP003", "JKHD001")
PAYERS = ("AMO", "AMC", "PATIENT", "AME", "C2S")
SEXES = ("M", "F")
COVERAGE_TYPES = ("ALD", "C2S", "AME")

# Kinds of encounters, to derive diagnoses, prescriptions and acts.
ACUTE, FOLLOW_UP, NURSE, EPISODE, SAMPLING = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Vocab:
    """Code vocabularies shared by all chunks (categorical columns index into them)."""

    cim10: tuple[str, ...]
    condition_codes: np.ndarray  # (conditions, max codes) index into cim10
    acute_codes: np.ndarray  # index into cim10, per acute problem
    atc: tuple[str, ...]
    cip13: tuple[str, ...]
    drug_label: tuple[str, ...]
    rpps: tuple[str, ...]
    ccam: tuple[str, ...]
    acts: tuple[str, ...]

    @classmethod
    def build(cls, params: Parameters, staff: Staff) -> Vocab:
        cim: list[str] = []

        def add(code: str) -> int:
            if code not in cim:
                cim.append(code)
            return cim.index(code)

        width = max(len(c.cim10.options) for c in params.conditions)
        condition_codes = np.zeros((len(params.conditions), width), dtype=np.int32)
        for j, condition in enumerate(params.conditions):
            for k, code in enumerate(condition.cim10.options):
                condition_codes[j, k] = add(str(code))
        acute_codes = np.array([add(a.cim10) for a in params.acute], dtype=np.int32)
        screening = params.section("screening")
        ccam: list[str] = []
        for code in (
            screening["mammography"]["ccam"],
            screening["cervical"]["sampling_ccam"],
            *screening["colorectal"]["colonoscopy"],
            *screening["fundus"]["ccam"],
            params.section("encounters", "ecg")["ccam"],
        ):
            if code not in ccam:
                ccam.append(code)
        return cls(
            cim10=tuple(cim),
            condition_codes=condition_codes,
            acute_codes=acute_codes,
            atc=tuple(d.atc for d in params.drugs),
            cip13=tuple(d.cip13 for d in params.drugs),
            drug_label=tuple(d.label for d in params.drugs),
            rpps=tuple(str(r) for r in staff.rpps),
            ccam=tuple(ccam),
            acts=ENCOUNTER_CODES + tuple(c for c in CCAM_ACTS if c not in ENCOUNTER_CODES),
        )


@dataclass(frozen=True)
class Context:
    """Everything fixed for the whole run."""

    params: Parameters
    cohort: Cohort
    staff: Staff
    area: Catchment
    vocab: Vocab
    seed: int
    start: int
    end: int


@dataclass
class Chunk:
    """Patients ``lo``..``hi - 1`` of the cohort, and helpers to draw their events."""

    ctx: Context
    index: int
    lo: int
    hi: int
    _streams: dict[str, np.random.Generator] = field(default_factory=dict)

    def rng(self, name: str) -> np.random.Generator:
        if name not in self._streams:
            self._streams[name] = rng(self.ctx.seed, "chunk", self.index, name)
        return self._streams[name]

    @property
    def params(self) -> Parameters:
        return self.ctx.params

    @property
    def n(self) -> int:
        return self.hi - self.lo

    def _slice(self, array: np.ndarray) -> np.ndarray:
        return array[self.lo : self.hi]

    @cached_property
    def female(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.female)

    @cached_property
    def birth(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.birth)

    @cached_property
    def entry(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.entry)

    @cached_property
    def exit(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.exit)

    @cached_property
    def death(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.death)

    @cached_property
    def regular(self) -> np.ndarray:
        return self._slice(self.ctx.cohort.regular)

    @cached_property
    def onset(self) -> np.ndarray:
        """(n, conditions) onset day, NEVER if absent or if the patient is not followed regularly."""
        onset = self._slice(self.ctx.cohort.onset).astype(np.int64)
        return np.where(self.regular[:, None], onset, NEVER)

    @cached_property
    def has_condition(self) -> np.ndarray:
        """(n, conditions): the condition starts before the patient's last day followed."""
        return self.onset < self.exit[:, None]

    @cached_property
    def patient_id(self) -> np.ndarray:
        return np.arange(self.lo, self.hi, dtype=np.int64) + 1

    @cached_property
    def age_mid(self) -> np.ndarray:
        return age_at(self.birth, (self.entry + self.exit) // 2)

    def cohort(self, name: str) -> np.ndarray:
        return self._slice(getattr(self.ctx.cohort, name))

    def condition_columns(self, names: tuple[str, ...]) -> list[int]:
        return [self.params.condition_index(n) for n in names]

    def cim_code(self, patients: np.ndarray, condition: np.ndarray) -> np.ndarray:
        """Global CIM-10 index of each (patient, condition) pair."""
        local = self._slice(self.ctx.cohort.cim)[patients, condition]
        return self.ctx.vocab.condition_codes[condition, local]

    def gp(self) -> Slots:
        return self.ctx.staff.slots["MG"]

    def gp_holder(self, patients: np.ndarray, days: np.ndarray, own_share: float) -> np.ndarray:
        """The GP seen: the declared médecin traitant's position with ``own_share``, else any GP."""
        gp = self.gp()
        r = self.rng("gp_holder")
        has_mt = self.cohort("has_mt")[patients] & (days >= self.cohort("mt_start")[patients])
        own = has_mt & (r.random(len(days)) < own_share)
        mine = np.where(
            days < self.cohort("mt_switch")[patients], self.cohort("slot0")[patients], self.cohort("slot1")[patients]
        )
        slot = np.where(own, mine, gp.draw(r, len(days)))
        return gp.holder_at(slot, days)

    def profession_holder(self, profession: str, slot: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.ctx.staff.slots[profession].holder_at(slot, days)


def avoid_sunday(days: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Move Sunday contacts to Monday (or Saturday when Monday is past the patient's last day)."""
    sunday = weekday(days) == 6
    monday, saturday = days + 1, days - 1
    moved = np.where(monday < high, monday, np.where(saturday >= low, saturday, days))
    return np.where(sunday, moved, days)


def periodic(
    rng: np.random.Generator, first: np.ndarray, stop: np.ndarray, interval: np.ndarray, jitter: float
) -> tuple[np.ndarray, np.ndarray]:
    """Series of dates ``first + k * interval`` (+- ``jitter`` x interval / 2) before ``stop``.

    Returns (series index, date) for every event; dates stay within [first, stop).
    """
    first = np.asarray(first, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.int64)
    interval = np.maximum(np.asarray(interval, dtype=np.int64), 1)
    count = np.where(first < stop, (stop - 1 - first) // interval + 1, 0)
    owner = np.repeat(np.arange(len(first)), count)
    starts = np.cumsum(count) - count
    k = np.arange(len(owner)) - np.repeat(starts, count)
    noise = np.rint((rng.random(len(owner)) - 0.5) * jitter * interval[owner]).astype(np.int64)
    days = np.clip(first[owner] + k * interval[owner] + noise, first[owner], stop[owner] - 1)
    return owner, days


def choice_values(options: tuple, weights_draw: np.ndarray) -> np.ndarray:
    """Numeric option values for drawn indices (options given as YAML keys)."""
    return np.array([float(o) for o in options])[weights_draw]
