"""The pivot format: the flat tables a centre's EHR/billing export is mapped to.

One file per table, named ``<table>.csv`` (or ``.parquet``), in one folder. The format is deliberately
close to what French exports already contain, so mapping an export is renaming columns, not
computing anything. ``docs/pivot-format.md`` is the human version of this module and is tested to
list the same columns.

Each column has a *kind* that says how it is parsed and checked:

- ``key``: the export's own identifier of the row (a local id, never shown outside the structure);
- ``ref:<table>``: a reference to the key of another pivot table (referential integrity);
- ``date``: ``dd/mm/yyyy`` or ISO ``yyyy-mm-dd`` (a time part is accepted and ignored);
- ``decimal`` / ``integer``: decimal comma or point;
- ``code:<system>``: a code checked for its format (and key digit where the system has one), or
  against a closed list for small vocabularies (see ``proxisante.vocab``);
- ``text``: free text.

Columns marked ``identifying`` (names, NIR/INS, address, phone) are direct identifiers: they go to the
identity vault only and never reach the warehouse, the quarantine or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column of a pivot table."""

    name: str
    kind: str
    required: bool = False
    identifying: bool = False
    description: str = ""
    bounds: str | None = None  # name of a plausible range in ``pivot_rules.yaml``
    # A date that may lie after the extract: the planned end of a right, a contract, a declaration.
    future_allowed: bool = False

    @property
    def code_system(self) -> str | None:
        return self.kind.removeprefix("code:") if self.kind.startswith("code:") else None

    @property
    def referenced_table(self) -> str | None:
        return self.kind.removeprefix("ref:") if self.kind.startswith("ref:") else None


@dataclass(frozen=True)
class Check:
    """A rule across columns: when ``violated`` (SQL over the parsed columns) holds, ``field`` is
    quarantined with ``reason`` (French: the user reads it)."""

    field: str
    violated: str
    reason: str


@dataclass(frozen=True)
class PivotTable:
    """One pivot table: its columns, the column(s) that identify a row, and cross-column rules."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: str
    # Groups of columns of which at least one must be filled (e.g. INS or NIR).
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # The date that must fall within the patient's life (after birth, not after death).
    event_date: str | None = None
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(
    name: str,
    kind: str,
    required: bool = False,
    identifying: bool = False,
    doc: str = "",
    bounds: str | None = None,
) -> Column:
    return Column(name, kind, required, identifying, doc, bounds, future_allowed=name == "end_date")


SITES = PivotTable(
    "sites",
    "The structure's sites (centre de santé, MSP, antenne).",
    (
        _c("site_id", "key", True, doc="local id of the site"),
        _c("name", "text", True, doc="name of the site"),
        _c("finess", "code:finess", doc="FINESS number (9 characters)"),
        _c("structure_type", "code:structure_type", doc="CDS, MSP, ESP or CPTS"),
        _c("commune_insee", "code:commune", doc="INSEE code of the commune"),
        _c("postcode", "code:postcode"),
    ),
    key="site_id",
)

PROFESSIONALS = PivotTable(
    "professionals",
    "The structure's professionals (public RPPS directory data, not patient data).",
    (
        _c("rpps", "code:rpps", True, doc="RPPS number, 11 digits with a Luhn key"),
        _c("family_name", "text", True),
        _c("given_name", "text"),
        _c("profession", "code:profession", True, doc="MG, IDE, MK, SF, CD, PSY, DIET, IPA, SPE, PHARM..."),
        _c("fte", "decimal", True, doc="equivalent full time (ETP)", bounds="fte"),
        _c("birth_year", "integer", doc="year of birth (APL counts GPs aged 65 or less)", bounds="birth_year"),
        _c("site_id", "ref:sites"),
        _c("start_date", "date", doc="first day in the structure"),
        _c("end_date", "date", doc="last day in the structure"),
    ),
    key="rpps",
)

PATIENTS = PivotTable(
    "patients",
    "Patients known to the structure. Identifying columns go to the identity vault only.",
    (
        _c("patient_id", "key", True, doc="the EHR's local patient id"),
        _c("ins", "code:nir", identifying=True, doc="matricule INS (15 characters, qualified identity)"),
        _c("nir", "code:nir", identifying=True, doc="NIR from the carte Vitale (may be the insured parent's)"),
        _c("family_name", "text", identifying=True),
        _c("birth_name", "text", identifying=True, doc="nom de naissance"),
        _c("given_names", "text", identifying=True),
        _c("birth_date", "date", True),
        _c("sex", "code:sex", True, doc="M/H/1 (male), F/2 (female), I (unknown)"),
        _c("address", "text", identifying=True),
        _c("postcode", "code:postcode"),
        _c("commune_insee", "code:commune", doc="INSEE code of the commune of residence"),
        _c("phone", "text", identifying=True),
        _c("death_date", "date"),
    ),
    key="patient_id",
    one_of=(("ins", "nir"),),
)

COVERAGE = PivotTable(
    "coverage",
    "Coverage periods: ALD (with its CIM-10 code), C2S, AME.",
    (
        _c("coverage_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("coverage_type", "code:coverage_type", True, doc="ALD, C2S or AME"),
        _c("start_date", "date", True),
        _c("end_date", "date"),
        _c("cim10", "code:cim10", doc="the ALD's condition (required for ALD)"),
        _c("ald_number", "integer", doc="number of the ALD on the list of 30", bounds="ald_number"),
    ),
    key="coverage_id",
    event_date="start_date",
    checks=(Check("cim10", "coverage_type = 'ALD' AND cim10 IS NULL", "une ALD exige son code CIM-10"),),
)

MT_DECLARATIONS = PivotTable(
    "mt_declarations",
    "Médecin traitant declarations: which patient declared which doctor of the structure, when.",
    (
        _c("declaration_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("rpps", "ref:professionals", True, doc="the declared médecin traitant"),
        _c("start_date", "date", True),
        _c("end_date", "date"),
    ),
    key="declaration_id",
    event_date="start_date",
)

ENCOUNTERS = PivotTable(
    "encounters",
    "Contacts: consultations, home visits, teleconsultations, nurse care...",
    (
        _c("encounter_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("rpps", "ref:professionals", True),
        _c("date", "date", True),
        _c("encounter_type", "code:ngap", True, doc="NGAP letter key: G, VG, TCG, AMI, AMK..."),
        _c("site_id", "ref:sites"),
    ),
    key="encounter_id",
    event_date="date",
)

DIAGNOSES = PivotTable(
    "diagnoses",
    "Diagnoses coded in CIM-10 (French ICD-10).",
    (
        _c("diagnosis_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("encounter_id", "ref:encounters"),
        _c("date", "date", True),
        _c("cim10", "code:cim10", True),
        _c("rpps", "ref:professionals"),
    ),
    key="diagnosis_id",
    event_date="date",
)

PRESCRIPTIONS = PivotTable(
    "prescriptions",
    "Drug prescriptions: CIP13 pack and/or ATC class, with a duration.",
    (
        _c("prescription_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("encounter_id", "ref:encounters"),
        _c("rpps", "ref:professionals"),
        _c("date", "date", True),
        _c("cip13", "code:cip13"),
        _c("atc", "code:atc"),
        _c("label", "text", doc="drug name as printed"),
        _c("quantity", "decimal", doc="number of packs", bounds="quantity"),
        _c("duration_days", "integer", doc="prescribed duration in days", bounds="duration_days"),
    ),
    key="prescription_id",
    one_of=(("cip13", "atc"),),
    event_date="date",
)

LAB_RESULTS = PivotTable(
    "lab_results",
    "Laboratory results: NABM act and/or LOINC test, value and unit.",
    (
        _c("result_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("date", "date", True),
        _c("nabm", "code:nabm"),
        _c("loinc", "code:loinc"),
        _c("value", "decimal"),
        _c("unit", "text"),
        _c("value_text", "text", doc="non-numeric result"),
    ),
    key="result_id",
    one_of=(("nabm", "loinc"),),
    event_date="date",
)

VACCINATIONS = PivotTable(
    "vaccinations",
    "Vaccinations given or recorded (vaccine as ATC J07 class and/or CIP13).",
    (
        _c("vaccination_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("date", "date", True),
        _c("atc", "code:atc"),
        _c("cip13", "code:cip13"),
        _c("rpps", "ref:professionals"),
    ),
    key="vaccination_id",
    one_of=(("atc", "cip13"),),
    event_date="date",
)

PROCEDURES = PivotTable(
    "procedures",
    "Technical procedures (CCAM), done in the structure or reported (mammography, colonoscopy...).",
    (
        _c("procedure_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("date", "date", True),
        _c("ccam", "code:ccam", True),
        _c("rpps", "ref:professionals"),
        _c("encounter_id", "ref:encounters"),
    ),
    key="procedure_id",
    event_date="date",
)

ACTS = PivotTable(
    "acts",
    "Billed acts (NGAP or CCAM) with the amount and the payer.",
    (
        _c("act_id", "key", True),
        _c("patient_id", "ref:patients", True),
        _c("rpps", "ref:professionals", True),
        _c("date", "date", True),
        _c("code", "code:act", True, doc="NGAP letter key (G, VG, AMI...) or CCAM code"),
        _c("amount", "decimal", True, doc="billed amount in euros", bounds="amount"),
        _c("payer", "code:payer", True, doc="AMO, AMC, PATIENT, AME"),
        _c("encounter_id", "ref:encounters"),
    ),
    key="act_id",
    event_date="date",
)

# In load order: a table comes after every table it references.
TABLES: tuple[PivotTable, ...] = (
    SITES,
    PROFESSIONALS,
    PATIENTS,
    COVERAGE,
    MT_DECLARATIONS,
    ENCOUNTERS,
    DIAGNOSES,
    PRESCRIPTIONS,
    LAB_RESULTS,
    VACCINATIONS,
    PROCEDURES,
    ACTS,
)
TABLES_BY_NAME: dict[str, PivotTable] = {t.name: t for t in TABLES}
