"""The profile of a centre for one year: its patientèle MT, its activity and its staff.

A profile is read from the warehouse (:func:`.profile_warehouse.profile_from_warehouse`) or from a YAML or
XLSX file for a centre that has no warehouse yet (:func:`.profile_files.load_profile`); all are checked
by the same model (this module), and a bad profile is refused with a message naming the field.

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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proxisante.definitions import DefinitionError, explain
from proxisante.economics.catalogue import parameter, tariff_of_code
from proxisante.measures.definition import library
from proxisante.vocab import codes, mapping
from proxisante.warehouse.expr import band_labels


class ProfileError(DefinitionError):
    """A profile or a cost file that cannot be used, with the field at fault."""


def age_bands() -> list[str]:
    """The labels of the model's age bands (``modelling.age_bands``, its last dated bounds): ``0-6`` ... ``80+``."""
    return band_labels(parameter("modelling.age_bands").values[-1][1])


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
        for name, items in (
            ("communes", [c.commune for c in self.communes]),
            ("gp_sites", [s.commune for s in self.gp_sites]),
            ("ipep_indicators", [i.id for i in self.ipep_indicators]),
        ):
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
                raise ValueError(
                    f"ancs_engagements: {', '.join(unknown)} unknown (centre.ancs_engagements: {', '.join(known)})"
                )
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
