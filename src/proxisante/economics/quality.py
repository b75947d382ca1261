"""ROSP points and FMT prevention criteria from the centre's own measure results.

A profile read from a warehouse carries the results of the library's ROSP and FMT measures for its
year (``Profile.measures``; a profile file may give them too). Then:

- **ROSP**: an indicator of ``rosp.measure_points`` whose measure file gives both objectives and
  whose rate is reportable earns its points × the better of the share of ``rosp.level_scoring`` for
  the level reached and the share of ``rosp.progression_scoring`` for the progression from the
  previous year's rate (when that rate was below the intermediate objective); every other point of
  ``rosp.points_max`` keeps the working share ``rosp.achievement``.
- **IPEP quality score**: each indicator of ``ipep.quality_indicators`` is scored from the centre's
  measure when a measure of the library computes it, otherwise from the profile's
  ``ipep_indicators``, otherwise at ``ipep.quality_unscored``: 1 at its target (8th decile), linear
  from the progress threshold (3rd decile), below it the progress from the previous year.
- **FMT prevention**: a criterion the library computes (a measure with FMT in its programme) pays
  each patient in its numerator (for a lower-is-better measure: each eligible patient not in it);
  the criteria it does not compute keep ``fmt.prevention_met_per_patient`` pro rata.

Without measure results (a profile file without ``measures``) the flat parameters apply, as before.
The split is reported in French by :func:`proxisante.economics.explain.describe`, shown in the CLI and the
workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from proxisante.economics.profile import MeasureLine, Profile
from proxisante.measures.definition import Measure, library


@dataclass
class RospIndicator:
    id: str
    points: float
    rate: float
    share: float
    progression: bool = False  # the share comes from the progression from the previous year

    @property
    def earned(self) -> float:
        return self.points * self.share


@dataclass
class RospFromMeasures:
    """Indicators scored from the centre's rates, and why the other ROSP measures were not."""

    scored: list[RospIndicator] = field(default_factory=list)
    not_scored: dict[str, str] = field(default_factory=dict)

    @property
    def points_covered(self) -> float:
        return sum(i.points for i in self.scored)

    @property
    def points_earned(self) -> float:
        return sum(i.earned for i in self.scored)


@dataclass
class FmtFromMeasures:
    """FMT prevention criteria counted from the centre's numerators."""

    met: dict[str, int] = field(default_factory=dict)  # measure id → patients meeting the criterion
    patients: int = 0

    @property
    def criteria(self) -> int:
        return len(self.met)

    @property
    def met_per_patient(self) -> float:
        return sum(self.met.values()) / self.patients if self.patients else 0.0


def level_share(rate: float, intermediate: float, target: float, scoring: dict[str, float], lower: bool) -> float:
    """Share of an indicator's points at ``rate``: the step at the intermediate objective, then linear to the target."""
    if lower:  # lower is better: mirror the scale
        rate, intermediate, target = -rate, -intermediate, -target
    if rate >= target:
        return float(scoring["at_target"])
    if rate < intermediate:
        return float(scoring["below_intermediate"])
    span = target - intermediate
    progress = (rate - intermediate) / span if span else 1.0
    return float(scoring["at_intermediate"] + progress * (scoring["at_target"] - scoring["at_intermediate"]))


def progression_share(
    rate: float, previous: float | None, objectives: Any, progression: dict | None, lower: bool
) -> float:
    """Share of an indicator's points for the progression from ``previous`` toward the target (0 if none)."""
    if previous is None or not progression:
        return 0.0
    intermediate, target = objectives.intermediate, objectives.target
    if lower:  # lower is better: mirror the scale
        rate, previous, intermediate, target = -rate, -previous, -intermediate, -target
    if progression.get("only_below_intermediate", True) and previous >= intermediate:
        return 0.0
    if previous >= target:
        return 0.0
    covered = (rate - previous) / (target - previous)
    return float(progression["weight"]) * min(max(covered, 0.0), 1.0)


def _lines(profile: Profile, programme: str) -> list[tuple[MeasureLine, Measure]]:
    return [(line, library()[line.id]) for line in profile.measures if programme in library()[line.id].programme]


def rosp_from_measures(
    profile: Profile, points: dict[str, Any] | None, scoring: dict[str, Any] | None, progression: dict | None = None
) -> RospFromMeasures:
    """The ROSP indicators of the profile's measures scored against their objectives (level or progression)."""
    found = RospFromMeasures()
    for line, measure in _lines(profile, "ROSP"):
        objectives = measure.objectives
        if objectives.intermediate is None or objectives.target is None:
            found.not_scored[line.id] = "pas d'objectifs dans le fichier de la mesure"
        elif not points or line.id not in points:
            found.not_scored[line.id] = "points de l'indicateur absents de rosp.measure_points"
        elif not line.reportable or line.rate is None:
            found.not_scored[line.id] = "taux non publiable (effectif sous le minimum)"
        else:
            lower = measure.direction == "lower"
            level = level_share(line.rate, objectives.intermediate, objectives.target, scoring or {}, lower)
            progress = progression_share(line.rate, line.previous_rate, objectives, progression, lower)
            found.scored.append(
                RospIndicator(line.id, float(points[line.id]), line.rate, max(level, progress), progress > level)
            )
    return found


# -- IPEP quality score ------------------------------------------------------------------------------


@dataclass
class IpepIndicator:
    id: str
    source: str  # "mesure", "profil" or "sans donnée"
    value: float | None = None
    previous: float | None = None
    score: Any = None  # 0 to 1; an array of draws for an indicator without data


@dataclass
class IpepScore:
    indicators: list[IpepIndicator]
    experience: float
    scoring: dict[str, Any]

    @property
    def score(self) -> Any:
        """Indicator points × the mean indicator score + the patient-experience points."""
        mean = sum((i.score for i in self.indicators), 0.0) / max(len(self.indicators), 1)
        return self.scoring["indicator_points"] * mean + self.experience

    @property
    def share_paid(self) -> Any:
        full = self.scoring["full_payment_score"]
        return np.minimum(self.score, full) / full


def ipep_indicator_score(value: float, previous: float | None, spec: dict[str, Any]) -> float:
    """1 at or beyond the target; linear from the progress threshold; below it, the progress made."""
    threshold, target = float(spec["progress_threshold"]), float(spec["target"])
    if spec["direction"] == "lower":
        value, threshold, target = -value, -threshold, -target
        previous = None if previous is None else -previous
    if value >= target:
        return 1.0
    if value >= threshold:
        return (value - threshold) / (target - threshold) if target > threshold else 1.0
    if previous is None or previous >= target:
        return 0.0
    return min(max((value - previous) / (target - previous), 0.0), 1.0)


def ipep_score(profile: Profile, indicators: dict[str, Any], scoring: dict[str, Any], unscored: Any) -> IpepScore:
    """Each IPEP indicator from the centre's measure, else the profile, else the unscored share."""
    measured = {m.id: m for m in profile.measures if m.reportable and m.rate is not None}
    given = {i.id: i for i in profile.ipep_indicators}
    found = []
    for key, spec in indicators.items():
        line = measured.get(spec.get("measure") or "")
        if line is not None and line.rate is not None:  # measured holds rated lines only: the test narrows the type
            value, previous, source = float(line.rate), line.previous_rate, "mesure"
        elif key in given:
            value, previous, source = given[key].value, given[key].previous, "profil"
        else:
            found.append(IpepIndicator(key, "sans donnée", score=unscored))
            continue
        found.append(IpepIndicator(key, source, value, previous, ipep_indicator_score(value, previous, spec)))
    return IpepScore(found, profile.ipep_patient_experience, scoring)


def fmt_from_measures(profile: Profile) -> FmtFromMeasures:
    """Patients meeting each FMT prevention criterion the library computes."""
    found = FmtFromMeasures(patients=profile.patients)
    for line, measure in _lines(profile, "FMT"):
        found.met[line.id] = line.eligible - line.numerator if measure.direction == "lower" else line.numerator
    return found
