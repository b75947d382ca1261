"""k-anonymity of the quasi-identifiers of a research extract: age band × sex × commune.

A person is released at the first step of the generalisation ladder (``parameters.yaml``) where the
group of persons sharing their released values holds at least k persons: first with their commune
and a 5-year age band, then with the département, then with wider age bands. Groups are counted among
the persons still to release at that step (local recoding), so every released combination is shared
by at least k persons of the extract. Whoever is still in a smaller group after the last step is
suppressed: left out of every table of the extract.

Pure pandas over one row per person: nothing here touches the warehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from proxisante.definitions import ParameterFile

PARAMETERS = ParameterFile(__package__)
_COMMUNE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
RELEASED = ["year_of_birth", "gender_concept_id", "geography"]
OPEN_END = 999  # upper bound of the top age band (90 and over)


@dataclass(frozen=True)
class Step:
    age_band_years: int
    geography: str  # "commune", "departement" or "none"


@dataclass
class Anonymised:
    """Released values per person (``year_of_birth`` standing for the age band), and what was done."""

    released: pd.DataFrame  # person_id, year_of_birth, age_low, age_high, gender_concept_id, geography, geo_level, step
    suppressed: list[int]
    k: int
    reference_year: int
    steps: list[Step]
    released_by_step: list[int] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        """What was generalised and suppressed, in counts only."""
        groups = self.released.groupby(RELEASED, dropna=False).size() if len(self.released) else pd.Series([])
        return {
            "k": self.k,
            "reference_year": self.reference_year,
            "quasi_identifiers": ["age_band", "sex", "commune"],
            "persons_in": len(self.released) + len(self.suppressed),
            "persons_released": len(self.released),
            "persons_suppressed": len(self.suppressed),
            "released_by_step": [
                {"age_band_years": s.age_band_years, "geography": s.geography, "persons": n}
                for s, n in zip(self.steps, self.released_by_step, strict=True)
            ],
            "persons_generalised": int(sum(self.released_by_step[1:])),
            "groups": len(groups),
            "smallest_group": int(groups.min()) if len(groups) else None,
        }


def ladder(with_geography: bool = True) -> list[Step]:
    steps = [Step(int(s["age_band_years"]), str(s["geography"])) for s in PARAMETERS.value("generalisation_ladder")]
    if not with_geography:
        steps = [Step(s.age_band_years, "none") for s in steps]
        steps = [s for i, s in enumerate(steps) if s not in steps[:i]]
    return steps


def departement(commune: object) -> str | None:
    """The département of an INSEE commune code (three characters overseas: 971 to 976)."""
    if not isinstance(commune, str) or not _COMMUNE.match(commune):
        return None
    return commune[:3] if commune.startswith("97") else commune[:2]


def anonymise(
    persons: pd.DataFrame,
    k: int,
    reference_year: int,
    steps: list[Step] | None = None,
    top_age: int | None = None,
) -> Anonymised:
    """Generalise or suppress the persons (``person_id``, ``year_of_birth``, ``gender_concept_id``,
    ``commune``, optional ``departement``) so that every released combination holds ≥ k persons."""
    if k < 1:
        raise ValueError("k must be at least 1")
    steps = steps or ladder()
    top = int(top_age if top_age is not None else PARAMETERS.value("top_age"))
    data = persons.copy()
    data["commune"] = data["commune"].astype(object).where(data["commune"].notna(), None)
    if "departement" not in data:
        data["departement"] = data["commune"].map(departement)
    data["age"] = (reference_year - data["year_of_birth"].astype("int64")).clip(lower=0)
    remaining = data
    released: list[pd.DataFrame] = []
    counts: list[int] = []
    for index, step in enumerate(steps):
        candidate = _generalise(remaining, step, reference_year, top)
        size = candidate.groupby(RELEASED, dropna=False)["person_id"].transform("size")
        kept = candidate[size >= k].assign(step=index)
        released.append(kept)
        counts.append(len(kept))
        remaining = remaining[~remaining["person_id"].isin(kept["person_id"])]
    columns = ["person_id", *RELEASED, "age_low", "age_high", "geo_level", "step"]
    frames = [f[columns] for f in released if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return Anonymised(out, [int(p) for p in remaining["person_id"]], k, reference_year, steps, counts)


def _generalise(data: pd.DataFrame, step: Step, reference_year: int, top: int) -> pd.DataFrame:
    """Released values at one step: the band's middle birth year, sex, the commune or département."""
    width = step.age_band_years
    is_top = data["age"] >= top
    low = (data["age"] // width) * width
    high = (low + width - 1).clip(upper=top - 1)
    middle = (low + (high - low) // 2).where(~is_top, top)
    low, high = low.where(~is_top, top), high.where(~is_top, OPEN_END)
    geography = {"commune": data["commune"], "departement": data["departement"]}.get(step.geography)
    if geography is None:
        geography = pd.Series(None, index=data.index, dtype=object)
    out = pd.DataFrame(
        {
            "person_id": data["person_id"],
            "year_of_birth": (reference_year - middle).astype("int64"),
            "age_low": low.astype("int64"),
            "age_high": high.astype("int64"),
            "gender_concept_id": data["gender_concept_id"].astype("int64"),
            "geography": geography.fillna(""),
            "geo_level": step.geography,
        }
    )
    return out


def smallest_group(released: pd.DataFrame) -> int | None:
    """Size of the smallest group of persons sharing released values (None for no person)."""
    if not len(released):
        return None
    return int(released.groupby(RELEASED, dropna=False).size().min())
