"""Where the payment figures come from, in French: the lines the CLI and the workbook print under a simulation;
and what each payment model is (``models.yaml``: a short explanation per model and a glossary, for the web page).

It sits above both the scoring (:mod:`.quality`) and the payment models (:mod:`.engine`), which it explains.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from proxisante.economics.catalogue import parameter
from proxisante.economics.payments import Rates, ancs_points, ipep_quality_share, poverty_share, zip_share
from proxisante.economics.profile import Profile
from proxisante.economics.quality import fmt_from_measures, ipep_score, rosp_from_measures
from proxisante.formats import decimal

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


def describe(profile: Profile, year: int | None = None) -> list[str]:
    """Which source the ROSP points and the FMT prevention part come from, in French, for every output."""
    rosp_year, fmt_year = profile.year, max(year or profile.year, 2026)
    achievement = _value("rosp.achievement", rosp_year)
    met_default = _value("fmt.prevention_met_per_patient", fmt_year)
    criteria = int(_value("fmt.prevention_criteria", fmt_year))
    if not profile.measures:
        return [
            f"ROSP : part des points au paramètre {_named('rosp.achievement')} ({achievement:.0%}, non confirmé) — "
            "profil sans résultats de mesures.".replace("%", " %"),
            f"FMT prévention : {met_default:g} critère(s) rempli(s) par patient au paramètre "
            f"{_named('fmt.prevention_met_per_patient')} (non confirmé) — profil sans résultats de mesures.",
        ]
    points, scoring = _value("rosp.measure_points", rosp_year), _value("rosp.level_scoring", rosp_year)
    rosp = rosp_from_measures(profile, points, scoring, _value("rosp.progression_scoring", rosp_year))
    total = _value("rosp.points_max", rosp_year)
    if len(rosp.scored) <= 3:
        scored = ", ".join(f"{i.id} {i.rate:.0%} → {i.earned:g}/{i.points:g} pts" for i in rosp.scored) or "aucun"
    else:
        progressed = sum(i.progression for i in rosp.scored)
        scored = (
            f"{len(rosp.scored)} indicateurs, {rosp.points_earned:.0f}/{rosp.points_covered:g} pts, "
            f"dont {progressed} payés pour leur progression depuis l'année précédente"
        )
    lines = [
        f"ROSP ({profile.year}) : {rosp.points_covered:g} points sur {total} calculés depuis les mesures du centre "
        f"({scored}) ; les {total - rosp.points_covered:g} autres au paramètre {_named('rosp.achievement')} "
        f"({achievement:.0%}, non confirmé) — {len(rosp.not_scored)} mesures ROSP sans objectifs ou sans points "
        "connus.".replace("%", " %")
    ]
    fmt = fmt_from_measures(profile)
    rest = max(criteria - fmt.criteria, 0)
    per_patient = f"{fmt.met_per_patient:.2f}".replace(".", ",")
    lines.append(
        f"FMT prévention : {fmt.criteria} critères sur {criteria} comptés depuis les mesures du centre "
        f"({per_patient} critère rempli par patient MT) ; les {rest} autres au paramètre "
        f"{_named('fmt.prevention_met_per_patient')} pro rata ({met_default:g} × {rest}/{criteria}, non confirmé)."
    )
    return lines


def describe_centre(profile: Profile, year: int) -> list[str]:
    """Where the IPEP quality score, the PEPS poverty share, the ZIP share and the ANCS forfait come from."""
    rates = Rates(year)
    score = ipep_score(
        profile, rates("ipep.quality_indicators"), rates("ipep.quality_scoring"), rates("ipep.quality_unscored")
    )
    count = {s: sum(i.source == s for i in score.indicators) for s in ("mesure", "profil", "sans donnée")}
    lines = [
        f"IPEP qualité : score {float(score.score):.0f} (dont {score.experience:g} points d'expérience patient) → "
        f"{float(ipep_quality_share(profile, rates)):.0%} de l'intéressement versé ; {count['mesure']} indicateurs "
        f"depuis les mesures du centre, {count['profil']} du profil, {count['sans donnée']} sans donnée "
        f"(au paramètre {_named('ipep.quality_unscored')}) ; indicateurs et déciles non confirmés.".replace("%", " %")
    ]
    if profile.poverty_source is not None or any(c.poverty_rate is not None for c in profile.communes):
        lines.append(
            f"PEPS pauvreté : {float(poverty_share(profile, rates)):.1%} des patients MT dans une commune au "
            f"taux de pauvreté ≥ {rates('peps.poverty_threshold'):.0%} (taux : "
            f"{profile.poverty_source or 'profil'} ; seuil non confirmé).".replace("%", " %")
        )
    else:
        lines.append(
            f"PEPS pauvreté : part déclarée du profil ({profile.poverty_share:.0%}) — donnez --pauvrete "
            "FICHIER pour la calculer par commune.".replace("%", " %")
        )
    source = "sites des généralistes" if profile.gp_sites else "part déclarée du profil"
    zips = sum(s.zip for s in profile.gp_sites)
    sites = f", {zips} site(s) en ZIP" if profile.gp_sites else ""
    lines.append(
        f"FMT ZIP/67 ans : {zip_share(profile):.0%} des ETP de généraliste ({source}{sites}) : majoration "
        "de 10% du socle sur cette part.".replace("%", " %")
    )
    if profile.ancs_forfait:
        lines.append(f"ANCS : montant notifié du profil ({decimal(profile.ancs_forfait, 0)} €).")
    elif profile.ancs_engagements is not None:
        fixed, variable, socle = ancs_points(profile, rates)
        lines.append(
            f"ANCS : {fixed:.0f} points fixes + {float(variable):.0f} points variables × "
            f"{rates('centre.ancs_point_value'):g} € (engagements du profil ; barème non confirmé)"
            if socle
            else "ANCS : un engagement socle manque, aucun point versé."
        )
    else:
        lines.append("ANCS : ni montant notifié ni engagements dans le profil : pas de forfait.")
    return lines


def _named(name: str) -> str:
    """A parameter as a manager reads it: its French label, quoted (its key is for the files)."""
    return f"« {parameter(name).label} »"


def _value(name: str, year: int) -> Any:
    """The value in force in the middle of ``year``, or the last one before it ended (ROSP after 2025)."""
    p = parameter(name)
    value = p.at(dt.date(year, 7, 1))
    return value if value is not None else next(v for _, v in reversed(p.values) if v is not None)


class ModelText(BaseModel):
    """What a payment model is, in French: its name, a short explanation and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    source: str = Field(min_length=1)


class ModelTexts(BaseModel):
    """``economics/models.yaml``: the explanation of every model of ``payments.MODELS`` and the glossary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    current: str
    models: dict[str, ModelText]
    glossary: dict[str, str]


@cache
def model_texts() -> ModelTexts:
    """The explanations of the payment models, read once; every model of ``MODELS`` must have one."""
    from proxisante.definitions import load_yaml
    from proxisante.economics.payments import MODELS

    path = resources_folder() / "models.yaml"
    texts = ModelTexts.model_validate(load_yaml(path))
    missing = sorted(set(MODELS) - set(texts.models))
    if missing or texts.current not in MODELS:
        raise ValueError(f"{path}: models without an explanation: {missing}, or unknown current {texts.current!r}")
    return texts


def resources_folder() -> Traversable:
    """The folder of ``models.yaml`` (the package's own)."""
    from importlib import resources

    return resources.files(__package__)
