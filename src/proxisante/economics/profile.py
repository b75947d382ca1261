"""The profile of a centre for one year: its patientèle MT, its activity and its staff.

A profile is read from the warehouse (:func:`profile_from_warehouse`) or from a YAML or XLSX file
for a centre that has no warehouse yet (:func:`.profile_files.load_profile`); all are checked
by the same model, and a bad profile is refused with a message naming the field.

- ``panel``: the patientèle médecin traitant on 31 December, one cell per age band × ALD × C2S with
  its patients, how many of them are diabetics, and how many were not seen for 24 months. Every
  age band of the model (``modelling.age_bands``) must be present.
- ``acts``: acts of the year by code and profession: for MT patients of the structure (and among
  them, aged 65 and more, and diabetics: the populations of the PEPS variants) and for other
  patients; ``amount_observed`` is what was billed (every payer), for a code without a tariff
  parameter.
- ``staff``: FTE by profession in post on 31 December.
- ``measures``: the results of the library's ROSP, FMT and IPEP measures for the year, with the
  previous year's rate (optional in a file): the ROSP points (level and progression), the FMT
  prevention part and the IPEP quality score then come from them (:mod:`.quality`).
- ``communes``: MT patients by commune of residence, with the commune's poverty rate once a
  user file gives it (:mod:`.communes`): the PEPS poverty supplement.
- ``gp_sites``: GP FTE by commune of practice (and aged 67+), flagged when the commune is a ZIP: the
  FMT +10 %.
- ``ipep_indicators``, ``ipep_patient_experience``: IPEP quality indicators that no measure computes.
- ``ancs_engagements``: the engagements of the accord national the centre meets (count per engagement).
"""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proxisante.definitions import DefinitionError, explain
from proxisante.economics.catalogue import parameter, tariff_of_code
from proxisante.vocab import codes, mapping


class ProfileError(DefinitionError):
    """A profile or a cost file that cannot be used, with the field at fault."""


def age_bands() -> list[str]:
    bounds = parameter("modelling.age_bands").values[-1][1]
    return [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(bounds)] + [f"{bounds[-1]}+"]


def band_lower(band: str) -> int:
    return int(band.rstrip("+").split("-")[0])


class PanelCell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    age_band: str
    ald: bool
    c2s: bool
    patients: int = Field(ge=0)
    diabetics: int = Field(default=0, ge=0)
    unseen: int = Field(default=0, ge=0)
    ame: int = Field(default=0, ge=0, description="patients with AME (never in a C2S cell)")

    @model_validator(mode="after")
    def _check(self) -> PanelCell:
        if self.age_band not in age_bands():
            raise ValueError(f"age_band {self.age_band!r} is not a band of the model ({', '.join(age_bands())})")
        if self.diabetics > self.patients or self.unseen > self.patients or self.ame > self.patients:
            raise ValueError("diabetics, unseen and ame cannot exceed patients")
        if self.c2s and self.ame:
            raise ValueError("ame: a C2S cell has no AME patient (the two coverages exclude each other)")
        return self


class ActLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    profession: str | None = None
    acts_mt: float = Field(default=0.0, ge=0)
    acts_mt_65: float = Field(default=0.0, ge=0)
    acts_mt_diabetic: float = Field(default=0.0, ge=0)
    acts_other: float = Field(default=0.0, ge=0)
    amount_observed: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ActLine:
        if self.code not in codes("ngap") | codes("ccam"):
            raise ValueError(f"code {self.code!r}: unknown act code (neither NGAP nor CCAM)")
        if self.profession is None:
            self.profession = mapping("ngap", "profession").get(self.code)
        if self.profession is None:
            raise ValueError(f"code {self.code!r}: give the profession that performs this CCAM act")
        if self.profession not in codes("professions"):
            raise ValueError(f"profession {self.profession!r} unknown (vocab/data/professions.csv)")
        if self.acts_mt_65 > self.acts_mt or self.acts_mt_diabetic > self.acts_mt:
            raise ValueError("acts_mt_65 and acts_mt_diabetic are parts of acts_mt and cannot exceed it")
        if self.code not in tariff_of_code() and self.amount_observed is None:
            raise ValueError(f"code {self.code!r}: no tariff parameter; give amount_observed (€ billed)")
        return self

    @property
    def acts(self) -> float:
        return self.acts_mt + self.acts_other


class StaffLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profession: str
    fte: float = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> StaffLine:
        if self.profession not in codes("professions"):
            raise ValueError(f"profession {self.profession!r} unknown (vocab/data/professions.csv)")
        return self


class MeasureLine(BaseModel):
    """The result of one measure of the library for the profile's year (ROSP points, FMT prevention)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    eligible: int = Field(ge=0, description="denominator − exclusions")
    numerator: int = Field(ge=0)
    rate: float | None = Field(default=None, ge=0, description="default: numerator / eligible")
    reportable: bool = True
    previous_rate: float | None = Field(default=None, ge=0, description="the year before, when reportable")

    @model_validator(mode="after")
    def _check(self) -> MeasureLine:
        from proxisante.measures.definition import library

        if self.id not in library():
            raise ValueError(f"measure {self.id!r} unknown (measures/library/)")
        if self.numerator > self.eligible:
            raise ValueError("numerator cannot exceed eligible")
        if self.rate is None and self.eligible:
            self.rate = self.numerator / self.eligible
        return self


class CommuneLine(BaseModel):
    """MT patients living in one commune, and the commune's poverty rate once a file gives it."""

    model_config = ConfigDict(extra="forbid")

    commune: str = Field(min_length=1, description="INSEE code")
    patients: int = Field(ge=0)
    poverty_rate: float | None = Field(default=None, ge=0, le=1)


class GpSite(BaseModel):
    """GP FTE practising in one commune, those aged 67 or more, and whether the commune is a ZIP."""

    model_config = ConfigDict(extra="forbid")

    commune: str = Field(min_length=1, description="INSEE code")
    fte: float = Field(ge=0)
    fte_67_plus: float = Field(default=0.0, ge=0)
    zip: bool = False

    @model_validator(mode="after")
    def _check(self) -> GpSite:
        if self.fte_67_plus > self.fte:
            raise ValueError("fte_67_plus cannot exceed fte")
        return self


class IpepIndicatorLine(BaseModel):
    """An IPEP quality indicator's value for the year (and the year before) when no measure computes it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    value: float = Field(ge=0)
    previous: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> IpepIndicatorLine:
        known = latest("ipep.quality_indicators")
        if self.id not in known:
            raise ValueError(f"IPEP indicator {self.id!r} unknown (ipep.quality_indicators: {', '.join(known)})")
        return self


def latest(name: str) -> dict:
    """The last dated value of a table parameter (the ids a profile may name)."""
    return next(v for _, v in reversed(parameter(name).values) if v is not None)


class Profile(BaseModel):
    """One centre, one year."""

    model_config = ConfigDict(extra="forbid")

    centre: str = "Centre"
    year: int = Field(ge=2015, le=2100)
    source: str = "fichier"
    panel: list[PanelCell] = Field(min_length=1)
    acts: list[ActLine] = Field(default_factory=list)
    staff: list[StaffLine] = Field(min_length=1)
    poverty_share: float = Field(default=0.0, ge=0, le=1, description="share of the panel in poor communes")
    zip_share: float = Field(default=0.0, ge=0, le=1, description="share of GPs in a ZIP or aged 67+")
    ancs_forfait: float = Field(default=0.0, ge=0, description="forfait of the accord national, € per year")
    measures: list[MeasureLine] = Field(default_factory=list, description="ROSP, FMT, IPEP measure results")
    communes: list[CommuneLine] = Field(default_factory=list, description="MT patients by commune")
    poverty_source: str | None = Field(default=None, description="the file that gave the communes' poverty rates")
    gp_sites: list[GpSite] = Field(default_factory=list, description="GP FTE by commune of practice")
    ipep_indicators: list[IpepIndicatorLine] = Field(default_factory=list)
    ipep_patient_experience: float = Field(default=0.0, ge=0, description="IPEP patient-experience points")
    ancs_engagements: dict[str, int] | None = Field(default=None, description="engagement → count met")
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        present = {cell.age_band for cell in self.panel}
        missing = [band for band in age_bands() if band not in present]
        if missing:
            raise ValueError(f"panel: age band {', '.join(missing)} missing (give every band, even with 0 patients)")
        keys = [(c.age_band, c.ald, c.c2s) for c in self.panel]
        if len(set(keys)) != len(keys):
            raise ValueError("panel: a cell (age_band, ald, c2s) is given twice")
        ids = [m.id for m in self.measures]
        if len(set(ids)) != len(ids):
            raise ValueError("measures: a measure is given twice")
        if not any(s.profession == "MG" and s.fte > 0 for s in self.staff):
            raise ValueError("staff: no GP (MG) FTE: the model needs médecins traitants")
        self._check_optional_parts()
        return self

    def _check_optional_parts(self) -> None:
        for name, items in (("communes", [c.commune for c in self.communes]),
                            ("gp_sites", [s.commune for s in self.gp_sites]),
                            ("ipep_indicators", [i.id for i in self.ipep_indicators])):  # fmt: skip
            if len(set(items)) != len(items):
                raise ValueError(f"{name}: an entry is given twice")
        if sum(c.patients for c in self.communes) > self.patients:
            raise ValueError("communes: more patients than the panel")
        experience = latest("ipep.quality_scoring")["experience_max"]
        if self.ipep_patient_experience > experience:
            raise ValueError(f"ipep_patient_experience: at most {experience:g} points")
        if self.ancs_engagements is not None:
            known = latest("centre.ancs_engagements")
            unknown = [e for e in self.ancs_engagements if e not in known]
            if unknown:
                raise ValueError(f"ancs_engagements: {', '.join(unknown)} unknown (centre.ancs_engagements: "
                                 f"{', '.join(known)})")  # fmt: skip
            if any(n < 0 for n in self.ancs_engagements.values()):
                raise ValueError("ancs_engagements: a count cannot be negative")
            if self.ancs_forfait:
                raise ValueError("give ancs_forfait (the amount notified) or ancs_engagements, not both")

    @property
    def patients(self) -> int:
        return sum(c.patients for c in self.panel)

    def fte(self, profession: str) -> float:
        return sum(s.fte for s in self.staff if s.profession == profession)


def parse_profile(data: object, origin: object = "profile") -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        raise ProfileError(str(explain(origin, error))) from error


# -- from the warehouse -----------------------------------------------------------------------------


def profile_from_warehouse(
    warehouse: object, year: int, centre: str = "Centre (entrepôt)", measures: bool = True
) -> Profile:
    """The profile of the centre loaded in ``warehouse`` for a calendar year (panel on 31 December).

    With ``measures``, the ROSP and FMT measures of the library are run on the year
    (:func:`measure_lines`): the ROSP points and FMT prevention criteria then come from them.
    """
    from proxisante.measures.context import Context
    from proxisante.measures.definition import Window
    from proxisante.population.registries import members

    reference = dt.date(year, 12, 31)
    context = Context(warehouse, reference)  # type: ignore[arg-type]
    try:
        persons = context.persons
        diabetics = members(context, "diabetes").select(diabetic_person="person_id").distinct()
        seen = context.seen(Window(months=int(parameter("modelling.unseen_months").at(reference))))
        seen = seen.select(seen_person="person_id")
        ame = _ame(warehouse, reference)
        mt = persons.filter(persons.mt_provider_id.notnull())
        mt = mt.left_join(diabetics, mt.person_id == diabetics.diabetic_person)
        mt = mt.left_join(seen, mt.person_id == seen.seen_person)
        mt = mt.left_join(ame, mt.person_id == ame.ame_person)
        mt = mt.mutate(age_band=_band(mt.age), diabetic=mt.diabetic_person.notnull(), is_seen=mt.seen_person.notnull(),
                       is_ame=mt.ame_person.notnull() & ~mt.c2s)  # fmt: skip
        panel = warehouse.execute(  # type: ignore[attr-defined]
            mt.group_by("age_band", "ald", "c2s").agg(
                patients=mt.person_id.count(),
                diabetics=ibis.ifelse(mt.diabetic, 1, 0).sum(),
                unseen=ibis.ifelse(mt.is_seen, 0, 1).sum(),
                ame=ibis.ifelse(mt.is_ame, 1, 0).sum(),
            )
        )
        communes = warehouse.execute(  # type: ignore[attr-defined]
            mt.filter(mt.commune.notnull()).group_by("commune").agg(patients=mt.person_id.count()).order_by("commune")
        )
        acts = warehouse.execute(_acts(warehouse, mt, year))  # type: ignore[attr-defined]
        staff = warehouse.execute(_staff(warehouse, reference))  # type: ignore[attr-defined]
        sites = warehouse.execute(_gp_sites(warehouse, reference))  # type: ignore[attr-defined]
    finally:
        context.release()
    cells = {(r.age_band, bool(r.ald), bool(r.c2s)): r for r in panel.itertuples()}
    known = codes("ngap") | codes("ccam")
    unknown = acts[~acts.code.isin(known)]
    notes = [
        f"code {r.code} hors des référentiels NGAP/CCAM : {r.acts_mt + r.acts_other:.0f} actes ignorés"
        for r in unknown.itertuples()
    ]
    data = {
        "centre": centre,
        "year": year,
        "source": "entrepôt",
        "panel": [
            {
                "age_band": band,
                "ald": ald,
                "c2s": c2s,
                "patients": int(row.patients) if row else 0,
                "diabetics": int(row.diabetics) if row else 0,
                "unseen": int(row.unseen) if row else 0,
                "ame": int(row.ame) if row else 0,
            }
            for band in age_bands()
            for ald in (False, True)
            for c2s in (False, True)
            for row in [cells.get((band, ald, c2s))]
        ],
        "acts": [
            {
                "code": r.code,
                "profession": r.profession or None,
                "acts_mt": float(r.acts_mt),
                "acts_mt_65": float(r.acts_mt_65),
                "acts_mt_diabetic": float(r.acts_mt_diabetic),
                "acts_other": float(r.acts_other),
                "amount_observed": float(r.amount),
            }
            for r in acts.sort_values(["code", "profession"]).itertuples()
            if r.code in known
        ],
        "staff": [{"profession": r.profession, "fte": float(r.fte)} for r in staff.itertuples() if r.fte > 0],
        "measures": measure_lines(warehouse, year) if measures else [],
        "communes": [{"commune": str(r.commune), "patients": int(r.patients)} for r in communes.itertuples()],
        "gp_sites": [
            {"commune": str(r.commune), "fte": float(r.fte), "fte_67_plus": float(r.fte_67_plus)}
            for r in sites.itertuples()
            if r.fte > 0
        ],
        "notes": notes,
    }
    return parse_profile(data, f"warehouse profile {year}")


def quality_measures() -> list:
    """The library's measures that pay: ROSP, FMT or IPEP in their programme, or an IPEP quality indicator."""
    from proxisante.measures.definition import library

    ipep = {i["measure"] for i in latest("ipep.quality_indicators").values() if i.get("measure")}
    return [m for m in library().values() if {"ROSP", "FMT", "IPEP"} & set(m.programme) or m.id in ipep]


def measure_lines(warehouse: object, year: int) -> list[dict]:
    """The paying measures run on the calendar year (structure total), with the previous year's rate.

    The previous rate (ROSP progression, IPEP progress) is kept only when reportable that year.
    """
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import run

    chosen = quality_measures()
    table = run(warehouse, parse_period(str(year)), chosen).table  # type: ignore[arg-type]
    before = run(warehouse, parse_period(str(year - 1)), chosen).table  # type: ignore[arg-type]
    previous = {r.measure_id: float(r.rate) for r in before.itertuples() if r.reportable and r.rate == r.rate}
    return [
        {
            "id": r.measure_id,
            "eligible": int(r.eligible),
            "numerator": int(r.numerator),
            "rate": None if r.rate != r.rate else float(r.rate),
            "reportable": bool(r.reportable),
            "previous_rate": previous.get(r.measure_id),
        }
        for r in table.itertuples()
    ]


def _band(age: ir.IntegerValue) -> ir.StringValue:
    bounds = parameter("modelling.age_bands").values[-1][1]
    labels = age_bands()
    return ibis.cases(*[(age >= lo, label) for lo, label in reversed(list(zip(bounds, labels, strict=True)))])


def _acts(warehouse: object, mt: ir.Table, year: int) -> ir.Table:
    """Acts of the year by code and profession: one act = the payer rows of one code on one visit."""
    billed = warehouse.table("fr_billed_act")  # type: ignore[attr-defined]
    billed = billed.filter(billed.act_date >= dt.date(year, 1, 1), billed.act_date <= dt.date(year, 12, 31))
    one = billed.group_by("person_id", "provider_id", "visit_occurrence_id", "act_date", "code").agg(
        amount=billed.amount.cast("float64").sum()
    )
    flags = mt.select(mt_person="person_id", over_65=mt.age >= 65, is_diabetic=mt.diabetic)
    activity = warehouse.table("fr_provider_activity").select(  # type: ignore[attr-defined]
        activity_provider="provider_id", profession="profession"
    )
    joined = one.left_join(flags, one.person_id == flags.mt_person)
    joined = joined.left_join(activity, joined.provider_id == activity.activity_provider)
    in_mt = joined.mt_person.notnull()
    profession = joined.profession.fill_null("")
    return (
        joined.mutate(profession=profession)
        .group_by("code", "profession")
        .agg(
            acts_mt=ibis.ifelse(in_mt, 1, 0).sum(),
            acts_mt_65=ibis.ifelse(in_mt & joined.over_65.fill_null(False), 1, 0).sum(),
            acts_mt_diabetic=ibis.ifelse(in_mt & joined.is_diabetic.fill_null(False), 1, 0).sum(),
            acts_other=ibis.ifelse(in_mt, 0, 1).sum(),
            amount=joined.amount.sum(),
        )
    )


def _ame(warehouse: object, reference: dt.date) -> ir.Table:
    """Persons with an AME coverage in force on the reference date (the PEPS C2S/AME weight)."""
    cov = warehouse.table("fr_coverage_period")  # type: ignore[attr-defined]
    active = cov.filter(
        cov.coverage_type == "AME", cov.start_date <= reference, cov.end_date.isnull() | (cov.end_date >= reference)
    )
    return active.select(ame_person="person_id").distinct()


def _gp_sites(warehouse: object, reference: dt.date) -> ir.Table:
    """GP FTE in post on the reference date by commune of their care site, and those aged 67 or more."""
    activity = warehouse.table("fr_provider_activity")  # type: ignore[attr-defined]
    active = activity.filter(
        activity.profession == "MG",
        activity.start_date.isnull() | (activity.start_date <= reference),
        activity.end_date.isnull() | (activity.end_date >= reference),
    )
    provider = warehouse.table("provider").select("provider_id", "care_site_id", "year_of_birth")  # type: ignore[attr-defined]
    site = warehouse.table("care_site").select("care_site_id", site_location="location_id")  # type: ignore[attr-defined]
    location = warehouse.table("location").select(  # type: ignore[attr-defined]
        site_location="location_id", commune="location_source_value"
    )
    joined = (
        active.left_join(provider, "provider_id").left_join(site, "care_site_id").left_join(location, "site_location")
    )
    older = (reference.year - joined.year_of_birth) >= int(parameter("fmt.zip_age_from").at(reference))
    joined = joined.mutate(commune=joined.commune.fill_null("inconnue"), older=older.fill_null(False))
    return (
        joined.group_by("commune")
        .agg(fte=joined.fte.sum(), fte_67_plus=ibis.ifelse(joined.older, joined.fte, 0).sum())
        .order_by("commune")
    )


def _staff(warehouse: object, reference: dt.date) -> ir.Table:
    activity = warehouse.table("fr_provider_activity")  # type: ignore[attr-defined]
    active = activity.filter(
        activity.start_date.isnull() | (activity.start_date <= reference),
        activity.end_date.isnull() | (activity.end_date >= reference),
    )
    return active.group_by("profession").agg(fte=active.fte.sum()).order_by("profession")


def last_full_year(warehouse: object) -> int | None:
    """The last calendar year whose acts run to 31 December (the year before the last act otherwise)."""
    billed = warehouse.table("fr_billed_act")  # type: ignore[attr-defined]
    last = warehouse.execute(billed.act_date.max())  # type: ignore[attr-defined]
    if last is None or last != last:
        return None
    last = dt.date.fromisoformat(str(last)[:10])
    return last.year if (last.month, last.day) == (12, 31) else last.year - 1
