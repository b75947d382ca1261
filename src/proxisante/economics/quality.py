"""ROSP points and FMT prevention criteria from the centre's own measure results.

A profile read from a warehouse carries the results of the library's ROSP and FMT measures for its
year (``Profile.measures``; a profile file may give them too). Then:

- **ROSP**: an indicator of ``rosp.measure_points`` whose measure file gives both objectives and
  whose rate is reportable earns its points × the share of ``rosp.level_scoring`` for the level
  reached; every other point of ``rosp.points_max`` keeps the working share ``rosp.achievement``.
- **FMT prevention**: a criterion the library computes (a measure with FMT in its programme) pays
  each patient in its numerator (for a lower-is-better measure: each eligible patient not in it);
  the criteria it does not compute keep ``fmt.prevention_met_per_patient`` pro rata.

Without measure results (a profile file without ``measures``) the flat parameters apply, as before.
The split is reported by :func:`describe`, shown in the CLI and the workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxisante.economics.profile import MeasureLine, Profile


@dataclass
class RospIndicator:
    id: str
    points: float
    rate: float
    share: float

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


def _lines(profile: Profile, programme: str) -> list[tuple[MeasureLine, Any]]:
    from proxisante.measures.definition import library

    return [(line, library()[line.id]) for line in profile.measures if programme in library()[line.id].programme]


def rosp_from_measures(profile: Profile, points: dict[str, Any] | None, scoring: dict[str, Any] | None):
    """The ROSP indicators of the profile's measures scored against their objectives."""
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
            share = level_share(line.rate, objectives.intermediate, objectives.target, scoring or {},
                                measure.direction == "lower")  # fmt: skip
            found.scored.append(RospIndicator(line.id, float(points[line.id]), line.rate, share))
    return found


def fmt_from_measures(profile: Profile) -> FmtFromMeasures:
    """Patients meeting each FMT prevention criterion the library computes."""
    found = FmtFromMeasures(patients=profile.patients)
    for line, measure in _lines(profile, "FMT"):
        found.met[line.id] = line.eligible - line.numerator if measure.direction == "lower" else line.numerator
    return found


def describe(profile: Profile, year: int | None = None) -> list[str]:
    """Which source the ROSP points and the FMT prevention part come from, in French, for every output."""
    rosp_year, fmt_year = profile.year, max(year or profile.year, 2026)
    achievement = _value("rosp.achievement", rosp_year)
    met_default = _value("fmt.prevention_met_per_patient", fmt_year)
    criteria = int(_value("fmt.prevention_criteria", fmt_year))
    if not profile.measures:
        return [
            f"ROSP : part des points au paramètre rosp.achievement ({achievement:.0%}, non confirmé) — "
            "profil sans résultats de mesures.".replace("%", " %"),
            f"FMT prévention : {met_default:g} critère(s) rempli(s) par patient au paramètre "
            "fmt.prevention_met_per_patient (non confirmé) — profil sans résultats de mesures.",
        ]
    points, scoring = _value("rosp.measure_points", rosp_year), _value("rosp.level_scoring", rosp_year)
    rosp = rosp_from_measures(profile, points, scoring)
    total = _value("rosp.points_max", rosp_year)
    scored = ", ".join(f"{i.id} {i.rate:.0%} → {i.earned:g}/{i.points:g} pts" for i in rosp.scored) or "aucun"
    lines = [
        f"ROSP ({profile.year}) : {rosp.points_covered:g} points sur {total} calculés depuis les mesures du centre "
        f"({scored}) ; les {total - rosp.points_covered:g} autres au paramètre rosp.achievement "
        f"({achievement:.0%}, non confirmé) — {len(rosp.not_scored)} mesures ROSP sans objectifs ou sans points "
        "connus.".replace("%", " %")
    ]
    fmt = fmt_from_measures(profile)
    rest = max(criteria - fmt.criteria, 0)
    per_patient = f"{fmt.met_per_patient:.2f}".replace(".", ",")
    lines.append(
        f"FMT prévention : {fmt.criteria} critères sur {criteria} comptés depuis les mesures du centre "
        f"({per_patient} critère rempli par patient MT) ; les {rest} autres au paramètre "
        f"fmt.prevention_met_per_patient pro rata ({met_default:g} × {rest}/{criteria}, non confirmé)."
    )
    return lines


def _value(name: str, year: int) -> Any:
    """The value in force in the middle of ``year``, or the last one before it ended (ROSP after 2025)."""
    import datetime as dt

    from proxisante.economics.catalogue import parameter

    p = parameter(name)
    value = p.at(dt.date(year, 7, 1))
    return value if value is not None else next(v for _, v in reversed(p.values) if v is not None)
