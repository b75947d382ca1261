"""Yearly revenue of a centre under each payment model, its costs, result, margin and break-even.

Models (``MODELS``):

- ``acte``: fee-for-service of every act, plus the médecin traitant forfaits in force that year
  (FPMT and ROSP up to 2025, FMT from 2026), the ANCS forfait and the Teulade subsidy;
- ``fmt``: the same with the FMT 2026 rules whatever the year (FMT 2026 "as if" before 2026);
- ``peps_all``, ``peps_65``, ``peps_diabetics``: PEPS capitation for the patientèle MT, the patients
  aged 65 and more, or the diabetics: their GP and nurse acts are replaced by a forfait per patient
  (risk-adjusted, calibrated on the national average, quality bonus, capped at +20 % of the acts it
  replaces); every other act stays fee-for-service;
- ``ipep``: ``acte`` plus the IPEP shared-savings payment.

Every amount is computed with numpy arithmetic only, so a parameter may be a number or an array of
Monte Carlo draws (:mod:`proxisante.economics.uncertainty`) and every line then is an array.
Revenue is linear in the size of the activity (panel and acts together), so the break-even panel is
found from the revenue at the actual size and at size zero (fixed revenue: ANCS, Teulade).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from proxisante.economics.catalogue import parameter, tariff_of_code
from proxisante.economics.costs import ITEM_LABELS, Costs
from proxisante.economics.profile import PanelCell, Profile, band_lower
from proxisante.economics.quality import fmt_from_measures, ipep_score, rosp_from_measures
from proxisante.vocab import mapping

MODELS = {
    "acte": "Acte + forfaits en vigueur",
    "fmt": "Acte + FMT 2026",
    "peps_all": "PEPS (patientèle MT)",
    "peps_65": "PEPS (MT ≥ 65 ans)",
    "peps_diabetics": "PEPS (MT diabétiques)",
    "ipep": "Acte + forfaits + IPEP",
}
PEPS_VARIANTS = {"peps_all": "all", "peps_65": "65", "peps_diabetics": "diabetics"}


class Rates:
    """Parameters for one year, with Monte Carlo or sensitivity overrides, recording what is used."""

    def __init__(self, year: int, values: dict[str, Any] | None = None, factors: dict[str, Any] | None = None):
        self.year = year
        self.values = values or {}
        self.factors = factors or {}
        self._used: list[set[str]] = []

    def __call__(self, name: str) -> Any:
        for used in self._used:
            used.add(name)
        if name in self.values:
            return self.values[name]
        value = parameter(name).average(self.year)
        factor = self.factors.get(name)
        return value if factor is None or value is None else _scale(value, factor)

    def at_year(self, year: int) -> Rates:
        """The same overrides for another year (the PEPS cap prices the prior acts at their own year)."""
        other = Rates(year, self.values, self.factors)
        other._used = self._used
        return other

    @contextlib.contextmanager
    def tracking(self) -> Iterator[set[str]]:
        used: set[str] = set()
        self._used.append(used)
        try:
            yield used
        finally:
            self._used.remove(used)


def _scale(value: Any, factor: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scale(v, factor) for k, v in value.items()}
    if isinstance(value, list | str | bool):  # labels and flags of a table are not scaled
        return value
    return value * factor


@dataclass
class ModelResult:
    key: str
    label: str
    year: int
    lines: dict[str, Any]
    costs: dict[str, Any]
    used: set[str] = field(default_factory=set)
    fixed_revenue: Any = 0.0
    patients: Any = 0.0
    gp_fte: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def revenue(self) -> Any:
        return sum(self.lines.values(), 0.0)

    @property
    def cost(self) -> Any:
        return sum(self.costs.values(), 0.0)

    @property
    def result(self) -> Any:
        return self.revenue - self.cost

    @property
    def margin(self) -> Any:
        return self.result / self.revenue

    @property
    def break_even_patients(self) -> Any:
        """The patientèle MT at which revenue equals costs, activity per patient unchanged."""
        variable = (self.revenue - self.fixed_revenue) / self.patients
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(variable > 0, (self.cost - self.fixed_revenue) / variable, np.inf)

    @property
    def break_even_per_gp_fte(self) -> Any:
        return self.break_even_patients / self.gp_fte


@dataclass(frozen=True)
class Volume:
    """Multipliers of the profile's year: panel and acts (growth, activity factor, break-even scale)."""

    panel: Any = 1.0
    acts: Any = 1.0
    costs: Any = 1.0


# -- pieces ---------------------------------------------------------------------------------------


def act_price(code: str, rates: Rates, observed: float | None, acts: float) -> tuple[Any, bool]:
    """The tariff of a code in the year, or its observed average amount when no parameter prices it."""
    name = tariff_of_code().get(code)
    if name is not None and rates(name) is not None:
        return rates(name), False
    return (observed or 0.0) / acts if acts else 0.0, True


def fee_for_service(profile: Profile, rates: Rates, volume: Volume, exclude: dict[str, str] | None = None) -> dict:
    """Fee-for-service by profession; ``exclude`` maps professions to the act column PEPS replaces."""
    labels = mapping("professions", "label_fr")
    lines: dict[str, Any] = {}
    for act in profile.acts:
        price, _ = act_price(act.code, rates, act.amount_observed, act.acts)
        count = act.acts
        if exclude and act.profession in exclude:
            count = count - getattr(act, exclude[act.profession])
        key = f"Actes — {labels.get(act.profession or '', act.profession)}"
        lines[key] = lines.get(key, 0.0) + count * price * volume.acts
    return lines


def replaced_acts(profile: Profile, rates: Rates, volume: Volume, column: str) -> Any:
    professions = rates("peps.replaced_professions")
    total = 0.0
    for act in profile.acts:
        if act.profession in professions:
            price, _ = act_price(act.code, rates, act.amount_observed, act.acts)
            total = total + getattr(act, column) * price * volume.acts
    return total


def prior_replaced_acts(profile: Profile, rates: Rates, volume: Volume, column: str) -> Any:
    """What the acts PEPS replaces earned before capitation: the profile's year's acts at that year's tariffs.

    The cap of the PEPS remuneration compares the forfait with this prior fee-for-service revenue of
    the capitated patients (scaled by the panel growth, not by the activity factor nor re-priced at
    the simulated year's tariffs).
    """
    return replaced_acts(profile, rates.at_year(profile.year), Volume(panel=volume.panel, acts=volume.panel), column)


def fpmt_rate(cell: PanelCell, rates: Rates) -> Any:
    table, limits = rates("fpmt.per_patient"), rates("fpmt.age_limits")
    lower = band_lower(cell.age_band)
    elderly = lower >= limits["elderly_from"]
    if cell.ald:
        return table["elderly_ald"] if elderly else table["elderly_or_ald"]
    if elderly:
        return table["elderly_or_ald"]
    return table["child"] if lower < limits["child_below"] else table["adult"]


def c2s_supplement(c2s_share: Any, rates: Rates) -> Any:
    """FPMT supplement for a panel with ``c2s_share`` of C2S patients: linear above the threshold, capped."""
    excess = c2s_share - rates("fpmt.c2s_threshold")
    return np.clip(excess * rates("fpmt.c2s_slope"), 0.0, rates("fpmt.c2s_cap"))


def fpmt(profile: Profile, rates: Rates, counts: list[Any]) -> Any:
    """FPMT of the patients ``counts`` (one per panel cell), with the C2S supplement of the whole panel."""
    base = sum((n * fpmt_rate(cell, rates) for cell, n in zip(profile.panel, counts, strict=True)), 0.0)
    share = sum(c.patients for c in profile.panel if c.c2s) / max(profile.patients, 1)
    return base * (1 + c2s_supplement(share, rates))


def rosp_points(profile: Profile, rates: Rates) -> Any:
    """Points reached: the indicators scored from the centre's measures, the others at ``rosp.achievement``."""
    if profile.measures:
        scored = rosp_from_measures(
            profile, rates("rosp.measure_points"), rates("rosp.level_scoring"), rates("rosp.progression_scoring")
        )
        earned, covered = scored.points_earned, scored.points_covered
    else:
        earned, covered = 0.0, 0.0
    return earned + (rates("rosp.points_max") - covered) * rates("rosp.achievement")


def rosp(profile: Profile, rates: Rates, counts: list[Any]) -> Any:
    """ROSP: points reached × point value × the adult panel / the reference panel."""
    child_below = rates("fpmt.age_limits")["child_below"]
    adults = sum((n for c, n in zip(profile.panel, counts, strict=True) if band_lower(c.age_band) >= child_below), 0.0)
    return rosp_points(profile, rates) * rates("rosp.point_value") * adults / rates("rosp.reference_panel")


def prevention_met(profile: Profile, rates: Rates) -> Any:
    """FMT prevention criteria met per MT patient: counted from the measures, the others pro rata of the parameter."""
    criteria = rates("fmt.prevention_criteria")
    measured = fmt_from_measures(profile) if profile.measures else None
    if measured is None or not measured.criteria:
        return np.minimum(rates("fmt.prevention_met_per_patient"), criteria)
    rest = max(criteria - measured.criteria, 0)
    return np.minimum(measured.met_per_patient + rates("fmt.prevention_met_per_patient") * rest / criteria, criteria)


def fmt_socle_rate(cell: PanelCell, rates: Rates) -> tuple[Any, Any]:
    """(rate of a seen patient, rate of a patient not seen for 2 years) of a panel cell."""
    table, limits = rates("fmt.socle"), rates("fmt.age_limits")
    lower = band_lower(cell.age_band)
    if cell.ald:
        seen = table["ald_80_plus"] if lower >= limits["elderly_from"] else table["ald_under_80"]
    elif lower >= limits["elderly_from"]:
        seen = table["age_80_plus"]
    elif lower >= limits["old_from"]:
        seen = table["age_75_79"]
    elif lower >= limits["child_below"]:
        seen = table["age_7_74"]
    else:
        seen = table["under_7"]
    return seen, table["unseen"]


def fmt(profile: Profile, rates: Rates, shares: list[Any]) -> dict[str, Any]:
    """FMT of a share of each panel cell (1 = the whole cell): socle, C2S supplement, prevention."""
    socle, c2s, patients = 0.0, 0.0, 0.0
    for cell, share in zip(profile.panel, shares, strict=True):
        seen_rate, unseen_rate = fmt_socle_rate(cell, rates)
        socle = socle + share * ((cell.patients - cell.unseen) * seen_rate + cell.unseen * unseen_rate)
        c2s = c2s + (share * cell.patients if cell.c2s else 0.0)
        patients = patients + share * cell.patients
    socle = socle * (1 + rates("fmt.zip_bonus") * zip_share(profile))
    met = prevention_met(profile, rates)
    return {
        "FMT — socle": socle,
        "FMT — majoration C2S": c2s * rates("fmt.c2s_supplement"),
        "FMT — prévention": patients * met * rates("fmt.prevention_per_criterion"),
    }


def zip_share(profile: Profile) -> float:
    """Share of GP FTE in a ZIP or aged 67+ (from ``gp_sites``), else the profile's declared share."""
    total = sum(s.fte for s in profile.gp_sites)
    if not total:
        return profile.zip_share
    return sum(s.fte if s.zip else s.fte_67_plus for s in profile.gp_sites) / total


def poverty_share(profile: Profile, rates: Rates) -> Any:
    """Share of the MT patients living in a commune whose poverty rate reaches ``peps.poverty_threshold``.

    From ``communes`` once a poverty file gave their rates (a commune without a rate is not poor),
    else the profile's declared ``poverty_share``.
    """
    if profile.poverty_source is None and not any(c.poverty_rate is not None for c in profile.communes):
        return profile.poverty_share
    threshold = rates("peps.poverty_threshold")
    poor = sum(
        (np.where(c.poverty_rate >= threshold, c.patients, 0) for c in profile.communes if c.poverty_rate is not None),
        0.0,
    )
    return poor / max(profile.patients, 1)


def peps_weights(rates: Rates) -> tuple[dict[str, Any], Any]:
    """(age weights, calibration factor): factor × weights average the national forfait on the reference mix."""
    weights, mix = rates("peps.age_weights"), rates("peps.reference_mix")
    ald_w, c2s_w = rates("peps.ald_weight"), rates("peps.c2s_weight")
    mean = 0.0
    for band, share in mix["age"].items():
        ald = mix["ald"][band]
        mean = mean + share * weights[band] * (1 - ald + ald * ald_w)
    mean = mean * (1 - mix["c2s"] + mix["c2s"] * c2s_w)
    return weights, rates("peps.average_forfait") / mean


def peps_forfait(cell: PanelCell, rates: Rates) -> Any:
    """Mean forfait per patient of one cell, before the poverty supplement and the quality bonus.

    C2S and AME patients take ``peps.c2s_weight``: the whole of a C2S cell, the ``ame`` patients of
    another cell (pro rata, so a PEPS variant taking part of the cell takes its share of AME).
    """
    weights, factor = peps_weights(rates)
    weight = weights[cell.age_band]
    if cell.ald:
        weight = weight * rates("peps.ald_weight")
    if cell.c2s:
        weight = weight * rates("peps.c2s_weight")
    elif cell.ame:
        weight = weight * (1 + (rates("peps.c2s_weight") - 1) * cell.ame / cell.patients)
    return factor * weight


def capitated(profile: Profile, variant: str, rates: Rates) -> tuple[list[float], str]:
    """Patients of each cell in the PEPS variant, and the act column that counts their acts."""
    if variant == "all":
        return [float(c.patients) for c in profile.panel], "acts_mt"
    if variant == "65":
        age = rates("peps.variant_age_from")
        return [float(c.patients) if band_lower(c.age_band) >= age else 0.0 for c in profile.panel], "acts_mt_65"
    if variant == "diabetics":
        return [float(c.diabetics) for c in profile.panel], "acts_mt_diabetic"
    raise ValueError(f"PEPS variant {variant!r}: expected all, 65 or diabetics")


def ipep_quality_share(profile: Profile, rates: Rates) -> Any:
    """Share of the IPEP savings part paid after the quality score (:func:`.quality.ipep_score`)."""
    score = ipep_score(
        profile, rates("ipep.quality_indicators"), rates("ipep.quality_scoring"), rates("ipep.quality_unscored")
    )
    return score.share_paid


def ipep(profile: Profile, rates: Rates, volume: Volume) -> Any:
    """IPEP: share × [gap weight × max(0, gap) + growth weight × max(0, growth gap)] × patients × quality."""
    spending = rates("ipep.spending_per_patient")
    gap = np.maximum(0.0, spending * rates("ipep.gap_ratio"))
    growth = np.maximum(0.0, spending * rates("ipep.growth_gap"))
    per_patient = rates("ipep.savings_share") * (rates("ipep.gap_weight") * gap + rates("ipep.growth_weight") * growth)
    return per_patient * profile.patients * volume.panel * ipep_quality_share(profile, rates)


def ancs_points(profile: Profile, rates: Rates) -> tuple[Any, Any, bool]:
    """(fixed points, variable points at the actual panel, socle met) of the engagements the centre meets.

    Each engagement counts ``count`` times (missions, protocols: up to ``centre.ancs_max_count``);
    variable points are for ``centre.ancs_reference_patients`` and scaled to the patientèle MT. No
    point at all when a socle engagement is missing: they are prerequisites.
    """
    table, limits = rates("centre.ancs_engagements"), rates("centre.ancs_max_count")
    met = {k: min(n, limits.get(k, 1)) for k, n in (profile.ancs_engagements or {}).items() if n > 0}
    socle = all(met.get(k, 0) >= 1 for k, e in table.items() if e["socle"])
    if not socle:
        return 0.0, 0.0, False
    fixed = sum((table[k]["fixed"] * n for k, n in met.items()), 0.0)
    variable = sum((table[k]["variable"] * n for k, n in met.items()), 0.0)
    return fixed, variable * profile.patients / rates("centre.ancs_reference_patients"), True


def centre_funding(profile: Profile, costs: Costs, rates: Rates, volume: Volume) -> tuple[dict, dict]:
    """(fixed, variable) revenue of the structure: the Teulade subsidy and the ANCS forfait.

    The ANCS forfait is the amount notified (``ancs_forfait``, fixed) or computed from the engagements
    met (``ancs_engagements``): fixed points, and variable points that grow with the panel.
    """
    eligible = set(rates("centre.teulade_professions"))
    gross = sum(g for line, _, g in costs.salary_lines(profile) if line.profession in eligible)
    fixed = {"Subvention Teulade": gross * rates("centre.teulade_rate") * volume.costs}
    variable: dict[str, Any] = {}
    if profile.ancs_forfait:
        fixed["Forfait ANCS (déclaré)"] = profile.ancs_forfait
    elif profile.ancs_engagements is not None:
        fixed_points, variable_points, _ = ancs_points(profile, rates)
        value = rates("centre.ancs_point_value")
        fixed["Forfait ANCS — points fixes"] = fixed_points * value
        variable["Forfait ANCS — points variables"] = variable_points * value * volume.panel
    return fixed, variable


# -- models ---------------------------------------------------------------------------------------


def mt_forfaits(profile: Profile, rates: Rates, volume: Volume, shares: list[Any], fmt_always: bool) -> dict:
    """The médecin traitant forfaits for a share of each panel cell: FPMT + ROSP, or the FMT."""
    if not fmt_always and rates("fpmt.per_patient") is not None:
        counts = [s * c.patients * volume.panel for s, c in zip(shares, profile.panel, strict=True)]
        return {"FPMT": fpmt(profile, rates, counts), "ROSP": rosp(profile, rates, counts)}
    return {k: v * volume.panel for k, v in fmt(profile, rates, shares).items()}


def model(key: str, profile: Profile, costs: Costs, rates: Rates, volume: Volume) -> ModelResult:
    """One model for one year at the given volume."""
    with rates.tracking() as used:
        whole = [1.0] * len(profile.panel)
        fixed, variable = centre_funding(profile, costs, rates, volume)
        if key in ("acte", "fmt", "ipep"):
            lines = fee_for_service(profile, rates, volume)
            lines.update(mt_forfaits(profile, rates, volume, whole, fmt_always=key == "fmt"))
            if key == "ipep":
                lines["IPEP — intéressement"] = ipep(profile, rates, volume)
        elif key in PEPS_VARIANTS:
            lines = _peps(profile, rates, volume, PEPS_VARIANTS[key])
        else:
            raise ValueError(f"model {key!r}: expected one of {', '.join(MODELS)}")
        lines.update(fixed)
        lines.update(variable)
        cost_items = {ITEM_LABELS[k]: v * volume.costs for k, v in costs.by_item(profile).items()}
    fixed_revenue = sum(fixed.values(), 0.0)
    return ModelResult(
        key,
        MODELS[key],
        rates.year,
        lines,
        cost_items,
        used,
        fixed_revenue,
        profile.patients * volume.panel,
        profile.fte("MG"),
    )


def _peps(profile: Profile, rates: Rates, volume: Volume, variant: str) -> dict[str, Any]:
    in_peps, column = capitated(profile, variant, rates)
    replaced = {p: column for p in rates("peps.replaced_professions")}
    lines = fee_for_service(profile, rates, volume, exclude=replaced)
    forfait = sum((n * peps_forfait(c, rates) for c, n in zip(profile.panel, in_peps, strict=True)), 0.0)
    forfait = forfait * (1 + rates("peps.poverty_supplement") * poverty_share(profile, rates))
    forfait = forfait * (1 + rates("peps.quality_bonus")) * volume.panel
    ceiling = (1 + rates("peps.cap")) * prior_replaced_acts(profile, rates, volume, column)
    lines["Forfait PEPS"] = forfait
    lines["Écrêtement PEPS (plafond)"] = np.minimum(0.0, ceiling - forfait)
    kept = rates("peps.replaces_mt_forfaits")
    shares = [1 - kept * (n / c.patients if c.patients else 0.0) for c, n in zip(profile.panel, in_peps, strict=True)]
    lines.update(mt_forfaits(profile, rates, volume, shares, fmt_always=False))
    return lines


def growth_volume(profile: Profile, rates: Rates, scale: Any = 1.0) -> Volume:
    years = rates.year - profile.year
    panel = (1 + rates("modelling.panel_growth")) ** years * scale
    return Volume(
        panel=panel,
        acts=panel * rates("modelling.activity_factor"),
        costs=(1 + rates("modelling.cost_growth")) ** years * rates("modelling.cost_factor"),
    )


def simulate_year(
    profile: Profile, costs: Costs, year: int, values: dict | None = None, factors: dict | None = None
) -> dict[str, ModelResult]:
    """Every model for one year (projected from the profile's year with growth and dated tariffs)."""
    rates = Rates(year, values, factors)
    volume = growth_volume(profile, rates)
    return {key: model(key, profile, costs, rates, volume) for key in MODELS}
