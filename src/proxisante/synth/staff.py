"""The centre's sites and professionals (sites, professionnels de santé).

Why positions ("slots") rather than people: a centre keeps its positions while people come and go.
Each position (a GP at 0.8 FTE, a nurse...) has a first holder and, for some, a successor from a
change date; a patient's médecin traitant is a GP position, so when a GP leaves, the patients see
the successor and most of them declare the successor (a new médecin traitant declaration). Finding
who held a position on a date is one vectorised comparison, whatever the number of events.

Team size follows the panel: ~1 GP FTE per ~1,100 médecin traitant patients, other professions as
FTE ratios per GP FTE (``parameters.yaml``, section ``staff``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proxisante.synth.codes import luhn_key, rpps_numbers
from proxisante.synth.geography import Catchment
from proxisante.synth.identities import professional_names
from proxisante.synth.parameters import Parameters
from proxisante.synth.timeline import DAYS_PER_YEAR, NEVER, day_of, uniform_days


@dataclass(frozen=True)
class Slots:
    """The positions of one profession."""

    profession: str
    fte: np.ndarray
    holder_a: np.ndarray  # index into Staff's professionals
    holder_b: np.ndarray  # successor, -1 if none
    change: np.ndarray  # day the successor starts, NEVER if none
    start: np.ndarray  # day the first holder started

    def __len__(self) -> int:
        return len(self.fte)

    def holder_at(self, slot: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Professional (index) holding each position on each day."""
        return np.where(days < self.change[slot], self.holder_a[slot], self.holder_b[slot])

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Positions drawn in proportion to their FTE."""
        cumulative = np.cumsum(self.fte / self.fte.sum())
        return np.minimum(np.searchsorted(cumulative, rng.random(size)), len(self.fte) - 1)


@dataclass(frozen=True)
class Staff:
    """Sites and professionals, as aligned arrays ready for the writer."""

    site_id: np.ndarray
    site_name: np.ndarray
    site_finess: np.ndarray
    site_commune: np.ndarray
    site_postcode: np.ndarray
    rpps: np.ndarray  # str, one per professional
    family_name: np.ndarray
    given_name: np.ndarray
    profession: np.ndarray
    fte: np.ndarray
    birth_year: np.ndarray
    site: np.ndarray  # index into the sites
    start: np.ndarray
    end: np.ndarray
    slots: dict[str, Slots]

    def has(self, profession: str) -> bool:
        return profession in self.slots and len(self.slots[profession]) > 0


def _finess(rng: np.random.Generator, department: str) -> str:
    """A 9-character FINESS number: department, 6 digits, a Luhn key over the 8 first characters."""
    body = rng.integers(0, 10, 6)
    digits = [int(c) for c in (department if department.isdigit() else "20")] + [int(d) for d in body]
    key = int(luhn_key(np.array([digits]))[0])
    return department[:2] + "".join(map(str, body)) + str(key)


def _sites(params: Parameters, rng: np.random.Generator, area: Catchment, n_gp: int) -> dict[str, np.ndarray]:
    communes = area.communes
    chosen = [area.centre]
    staff = params.section("staff")
    if n_gp >= staff["second_site_min_gp"]["value"]:
        others = [m for m in area.members[np.argsort(-area.weights, kind="stable")] if m != area.centre]
        if others:
            chosen.append(int(others[0]))
    names = [f"Centre de santé de {communes.name[chosen[0]]}"] + [f"Antenne de {communes.name[c]}" for c in chosen[1:]]
    return {
        "id": np.arange(1, len(chosen) + 1),
        "name": np.array(names, dtype=object),
        "finess": np.array([_finess(rng, str(communes.department[c])) for c in chosen], dtype=object),
        "commune": np.array([communes.insee[c] for c in chosen], dtype=object),
        "postcode": np.array([communes.postcode[c] for c in chosen], dtype=object),
    }


def _fte_draws(params: Parameters, rng: np.random.Generator, target: float, minimum: int) -> np.ndarray:
    choice = params.choice("staff", "fte_choices")
    values = np.array(choice.options, dtype=np.float64)
    out: list[float] = []
    while sum(out) < target or len(out) < minimum:
        out.append(float(values[choice.draw(rng, 1)[0]]))
    return np.array(out)


def build_staff(
    params: Parameters, rng: np.random.Generator, area: Catchment, mean_mt_patients: float, start: int, end: int
) -> Staff:
    """Positions, holders and sites for a panel of ``mean_mt_patients`` médecin traitant patients."""
    staff = params.section("staff")
    gp_fte_target = mean_mt_patients / staff["mt_patients_per_gp_fte"]["value"]
    fte_by_profession = {"MG": _fte_draws(params, rng, gp_fte_target, int(staff["min_gp"]["value"]))}
    gp_fte = fte_by_profession["MG"].sum()
    choice = params.choice("staff", "fte_choices")
    mean_fte = float(np.dot(np.array(choice.options, dtype=np.float64), choice.weights))
    for profession, spec in staff["professions"].items():
        count = max(int(spec["min_count"]), round(spec["fte_ratio"] * gp_fte / mean_fte))
        fte_by_profession[profession] = _fte_draws(params, rng, 0.0, count)[:count]

    sites = _sites(params, rng, area, len(fte_by_profession["MG"]))
    turnover = staff["turnover_probability"]["value"]
    tenure = staff["tenure_before_start_years"]["value"] * DAYS_PER_YEAR
    born_low, born_high = staff["birth_year_range"]["value"]
    second_site = staff["second_site_share"]["value"]
    margin = staff["turnover_margin_days"]["value"]
    min_age = staff["min_age_at_start"]["value"]

    # Holders: one per position, plus successors.
    rows: dict[str, list] = {k: [] for k in ("profession", "fte", "site", "start", "end", "birth_year")}
    slots: dict[str, Slots] = {}
    for profession, fte in fte_by_profession.items():
        k = len(fte)
        if k == 0:
            continue
        site = np.where((len(sites["id"]) > 1) & (rng.random(k) < second_site), 1, 0)
        changes = rng.random(k) < turnover
        change = np.where(changes, uniform_days(rng, np.full(k, start + margin), np.full(k, end - margin)), NEVER)
        birth_a = rng.integers(born_low, born_high + 1, k)
        birth_b = rng.integers(born_low, born_high + 1, k)
        earliest = np.array([day_of(int(y) + min_age, 1, 1) for y in birth_a])
        first_start = np.maximum(start - np.floor(rng.random(k) * tenure), np.minimum(earliest, start - 1))
        base = len(rows["profession"])
        holder_a = base + np.arange(k)
        holder_b = np.where(changes, base + k + np.cumsum(changes) - 1, -1)
        for i in range(k):
            rows["profession"].append(profession)
            rows["fte"].append(fte[i])
            rows["site"].append(site[i])
            rows["start"].append(int(first_start[i]))
            rows["end"].append(int(change[i] - 1) if changes[i] else int(NEVER))
            rows["birth_year"].append(int(birth_a[i]))
        for j in np.flatnonzero(changes):
            rows["profession"].append(profession)
            rows["fte"].append(fte[j])
            rows["site"].append(site[j])
            rows["start"].append(int(change[j]))
            rows["end"].append(int(NEVER))
            rows["birth_year"].append(int(birth_b[j]))
        slots[profession] = Slots(
            profession, fte, holder_a, holder_b, change.astype(np.int64), first_start.astype(np.int64)
        )

    total = len(rows["profession"])
    birth_year = np.array(rows["birth_year"])
    female = rng.random(total) < staff["female_share"]["value"]
    family, given = professional_names(rng, female, birth_year)
    return Staff(
        site_id=sites["id"],
        site_name=sites["name"],
        site_finess=sites["finess"],
        site_commune=sites["commune"],
        site_postcode=sites["postcode"],
        rpps=np.array(rpps_numbers(rng, total), dtype=object),
        family_name=family,
        given_name=given,
        profession=np.array(rows["profession"], dtype=object),
        fte=np.array(rows["fte"]),
        birth_year=birth_year,
        site=np.array(rows["site"]),
        start=np.array(rows["start"], dtype=np.int64),
        end=np.array(rows["end"], dtype=np.int64),
        slots=slots,
    )
