"""From validated pivot rows to warehouse rows (OMOP CDM 5.4 + French extension).

Each pivot table maps to one or more warehouse tables through a dictionary ``column -> SQL``;
columns not named are NULL. Identifiers are deterministic, so that loading the same row twice gives
the same row: ``stable_id(namespace, key)`` (63 bits of MD5) for the export's own keys, scoped by
source so that two EHRs of a CPTS never collide; ``provider_id`` is scoped by the national RPPS;
``person_id`` is the keyed hash computed before (see :mod:`proxisante.identity`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ibis.backends.sql.datatypes import DuckDBType

from proxisante import vocab
from proxisante.warehouse import schema

ID_MACROS = """
CREATE OR REPLACE TEMP MACRO stable_id(ns, k) AS (md5_number(ns || '|' || k) >> 65)::BIGINT;
CREATE OR REPLACE TEMP MACRO local_concept_id(vocabulary, code) AS
    (CASE WHEN code IS NULL THEN 0
          ELSE {base} + (md5_number(vocabulary || '|' || code) >> 66)::BIGINT END);
"""


omop = vocab.omop_concept


def id_macros() -> str:
    return ID_MACROS.format(base=omop("local_concept_base"))


@dataclass(frozen=True)
class Target:
    """One warehouse table filled from one validated pivot table."""

    table: schema.TableDef
    columns: dict[str, str]
    where: str = "TRUE"
    # Validation makes pivot keys unique; only targets keyed otherwise (a commune, a person with two
    # local ids) can receive one key twice and must keep one row per key.
    dedupe: bool = False


def select_sql(target: Target, source: str) -> str:
    """``SELECT`` of every column of the target, in the official order, from a validated table."""
    exprs = []
    for name, dtype in target.table.schema.items():
        sql_type = DuckDBType.to_string(dtype)
        expr = target.columns.get(name, "NULL")
        exprs.append(f"CAST({expr} AS {sql_type}) AS {name}")
    return f'SELECT {", ".join(exprs)} FROM "{source}" WHERE {target.where}'


def _case(list_name: str, column: str, value: str, default: str = "0") -> str:
    pairs = " ".join(f"WHEN '{k.upper()}' THEN {v or default}" for k, v in vocab.mapping(list_name, column).items())
    return f"CASE upper({value}) {pairs} ELSE {default} END"


def namespace(source: str, table: str) -> str:
    return f"'{source.replace(chr(39), '')}/{table}'"


def targets(pivot_table: str, source: str) -> list[Target]:
    """The warehouse tables a pivot table fills, and how."""
    builder = _TARGETS.get(pivot_table)
    return builder(source) if builder else []


def _sites(source: str) -> list[Target]:
    site_id = f"stable_id({namespace(source, 'sites')}, site_id)"
    return [
        Target(
            schema.CARE_SITE,
            {
                "care_site_id": site_id,
                "care_site_name": "name",
                "location_id": "stable_id('commune', commune_insee)",
                "care_site_source_value": "site_id",
                "place_of_service_source_value": "structure_type",
            },
        ),
        Target(schema.CARE_SITE_FR, {"care_site_id": site_id, "finess": "finess", "structure_type": "structure_type"}),
        Target(schema.LOCATION, _location_columns(), where="commune_insee IS NOT NULL", dedupe=True),
    ]


def _location_columns() -> dict[str, str]:
    return {
        "location_id": "stable_id('commune', commune_insee)",
        "zip": "postcode",
        "county": "CASE WHEN commune_insee LIKE '97%' THEN substr(commune_insee, 1, 3) "
        "ELSE substr(commune_insee, 1, 2) END",
        "location_source_value": "commune_insee",
        "country_source_value": "'FR'",
    }


def _professionals(source: str) -> list[Target]:
    provider_id = "stable_id('rpps', rpps)"
    return [
        Target(
            schema.PROVIDER,
            {
                "provider_id": provider_id,
                "provider_name": "trim(coalesce(given_name || ' ', '') || family_name)",
                "care_site_id": f"stable_id({namespace(source, 'sites')}, site_id)",
                "year_of_birth": "birth_year",
                "provider_source_value": "rpps",
                "specialty_source_value": "profession",
            },
        ),
        Target(
            schema.PROVIDER_ACTIVITY,
            {
                "provider_id": provider_id,
                "profession": "profession",
                "fte": "fte",
                "start_date": "start_date",
                "end_date": "end_date",
            },
        ),
    ]


def _patients(source: str) -> list[Target]:
    return [
        Target(
            schema.PERSON,
            {
                "person_id": "person_id",
                "gender_concept_id": _case("sex", "gender_concept_id", "sex"),
                "year_of_birth": "year(birth_date)",
                "month_of_birth": "month(birth_date)",
                "day_of_birth": "day(birth_date)",
                "birth_datetime": "birth_date",
                "race_concept_id": "0",
                "ethnicity_concept_id": "0",
                "location_id": "CASE WHEN commune_insee IS NOT NULL THEN stable_id('commune', commune_insee) END",
                "gender_source_value": "sex",
            },
            dedupe=True,
        ),
        Target(
            schema.DEATH,
            {
                "person_id": "person_id",
                "death_date": "death_date",
                "death_datetime": "death_date",
                "death_type_concept_id": str(omop("type_ehr")),
            },
            where="death_date IS NOT NULL",
            dedupe=True,
        ),
        Target(schema.LOCATION, _location_columns(), where="commune_insee IS NOT NULL", dedupe=True),
    ]


def _coverage(source: str) -> list[Target]:
    period_id = f"stable_id({namespace(source, 'coverage')}, coverage_id)"
    return [
        Target(
            schema.COVERAGE_PERIOD,
            {
                "coverage_period_id": period_id,
                "person_id": "person_id",
                "coverage_type": "coverage_type",
                "start_date": "start_date",
                "end_date": "end_date",
                "cim10": "cim10",
                "ald_number": "ald_number",
            },
        ),
        Target(
            schema.PAYER_PLAN_PERIOD,
            {
                "payer_plan_period_id": period_id,
                "person_id": "person_id",
                "payer_plan_period_start_date": "start_date",
                "payer_plan_period_end_date": "coalesce(end_date, DATE '2099-12-31')",
                "payer_concept_id": "0",
                "payer_source_value": "'AMO'",
                "plan_concept_id": "0",
                "plan_source_value": "coverage_type",
            },
            where="coverage_type IN ('C2S', 'AME')",
        ),
    ]


def _mt_declarations(source: str) -> list[Target]:
    return [
        Target(
            schema.MT_DECLARATION,
            {
                "mt_declaration_id": f"stable_id({namespace(source, 'mt_declarations')}, declaration_id)",
                "person_id": "person_id",
                "provider_id": "stable_id('rpps', rpps)",
                "start_date": "start_date",
                "end_date": "end_date",
            },
        )
    ]


def _visit_of(source: str) -> str:
    return f"CASE WHEN encounter_id IS NOT NULL THEN stable_id({namespace(source, 'encounters')}, encounter_id) END"


def _provider_of() -> str:
    return "CASE WHEN rpps IS NOT NULL THEN stable_id('rpps', rpps) END"


def _encounters(source: str) -> list[Target]:
    return [
        Target(
            schema.VISIT_OCCURRENCE,
            {
                "visit_occurrence_id": f"stable_id({namespace(source, 'encounters')}, encounter_id)",
                "person_id": "person_id",
                "visit_concept_id": _case("ngap", "visit_concept_id", "encounter_type"),
                "visit_start_date": "date",
                "visit_start_datetime": "date",
                "visit_end_date": "date",
                "visit_end_datetime": "date",
                "visit_type_concept_id": str(omop("type_ehr")),
                "provider_id": "stable_id('rpps', rpps)",
                "care_site_id": (
                    f"CASE WHEN site_id IS NOT NULL THEN stable_id({namespace(source, 'sites')}, site_id) END"
                ),
                "visit_source_value": "encounter_type",
                "visit_source_concept_id": "local_concept_id('NGAP', encounter_type)",
            },
        )
    ]


def _diagnoses(source: str) -> list[Target]:
    return [
        Target(
            schema.CONDITION_OCCURRENCE,
            {
                "condition_occurrence_id": f"stable_id({namespace(source, 'diagnoses')}, diagnosis_id)",
                "person_id": "person_id",
                "condition_concept_id": "0",
                "condition_start_date": "date",
                "condition_start_datetime": "date",
                "condition_type_concept_id": str(omop("type_ehr")),
                "provider_id": _provider_of(),
                "visit_occurrence_id": _visit_of(source),
                "condition_source_value": "cim10",
                "condition_source_concept_id": "local_concept_id('CIM10', cim10)",
            },
        )
    ]


def _prescriptions(source: str) -> list[Target]:
    return [
        Target(
            schema.DRUG_EXPOSURE,
            {
                "drug_exposure_id": f"stable_id({namespace(source, 'prescriptions')}, prescription_id)",
                "person_id": "person_id",
                "drug_concept_id": "local_concept_id('ATC', atc)",
                "drug_exposure_start_date": "date",
                "drug_exposure_start_datetime": "date",
                "drug_exposure_end_date": "date + CAST(coalesce(duration_days, 1) - 1 AS INTEGER)",
                "drug_type_concept_id": str(omop("type_ehr_prescription")),
                "quantity": "quantity",
                "days_supply": "duration_days",
                "sig": "label",
                "provider_id": _provider_of(),
                "visit_occurrence_id": _visit_of(source),
                "drug_source_value": "coalesce(cip13, atc)",
                "drug_source_concept_id": "CASE WHEN cip13 IS NOT NULL THEN local_concept_id('CIP13', cip13) "
                "ELSE local_concept_id('ATC', atc) END",
            },
        )
    ]


def _vaccinations(source: str) -> list[Target]:
    return [
        Target(
            schema.DRUG_EXPOSURE,
            {
                "drug_exposure_id": f"stable_id({namespace(source, 'vaccinations')}, vaccination_id)",
                "person_id": "person_id",
                "drug_concept_id": "local_concept_id('ATC', atc)",
                "drug_exposure_start_date": "date",
                "drug_exposure_start_datetime": "date",
                "drug_exposure_end_date": "date",
                "drug_type_concept_id": str(omop("type_ehr")),
                "quantity": "1",
                "days_supply": "1",
                "provider_id": _provider_of(),
                "drug_source_value": "coalesce(cip13, atc)",
                "drug_source_concept_id": "CASE WHEN cip13 IS NOT NULL THEN local_concept_id('CIP13', cip13) "
                "ELSE local_concept_id('ATC', atc) END",
            },
        )
    ]


def _lab_results(source: str) -> list[Target]:
    return [
        Target(
            schema.MEASUREMENT,
            {
                "measurement_id": f"stable_id({namespace(source, 'lab_results')}, result_id)",
                "person_id": "person_id",
                "measurement_concept_id": "local_concept_id('LOINC', loinc)",
                "measurement_date": "date",
                "measurement_datetime": "date",
                "measurement_type_concept_id": str(omop("type_ehr")),
                "value_as_number": "value",
                "measurement_source_value": "coalesce(nabm, loinc)",
                "measurement_source_concept_id": "CASE WHEN nabm IS NOT NULL THEN local_concept_id('NABM', nabm) "
                "ELSE local_concept_id('LOINC', loinc) END",
                "unit_source_value": "unit",
                "value_source_value": "coalesce(value_text, CAST(value AS VARCHAR))",
            },
        )
    ]


def _procedures(source: str) -> list[Target]:
    return [
        Target(
            schema.PROCEDURE_OCCURRENCE,
            {
                "procedure_occurrence_id": f"stable_id({namespace(source, 'procedures')}, procedure_id)",
                "person_id": "person_id",
                "procedure_concept_id": "0",
                "procedure_date": "date",
                "procedure_datetime": "date",
                "procedure_type_concept_id": str(omop("type_ehr")),
                "quantity": "1",
                "provider_id": _provider_of(),
                "visit_occurrence_id": _visit_of(source),
                "procedure_source_value": "ccam",
                "procedure_source_concept_id": "local_concept_id('CCAM', ccam)",
            },
        )
    ]


def _acts(source: str) -> list[Target]:
    act_id = f"stable_id({namespace(source, 'acts')}, act_id)"
    ngap = ", ".join(f"'{c}'" for c in sorted(vocab.codes("ngap")))
    paid_by_payer = "CASE WHEN payer <> 'PATIENT' THEN amount ELSE 0 END"
    return [
        Target(
            schema.BILLED_ACT,
            {
                "billed_act_id": act_id,
                "person_id": "person_id",
                "provider_id": "stable_id('rpps', rpps)",
                "visit_occurrence_id": _visit_of(source),
                "act_date": "date",
                "code": "code",
                "coding_system": f"CASE WHEN code IN ({ngap}) THEN 'NGAP' ELSE 'CCAM' END",
                "amount": "amount",
                "payer": "payer",
            },
        ),
        Target(
            schema.COST,
            {
                "cost_id": act_id,
                "cost_event_id": _visit_of(source),
                "cost_domain_id": "'Visit'",
                "cost_type_concept_id": str(omop("type_claim")),
                "currency_concept_id": str(omop("currency_eur")),
                "total_charge": "amount",
                "total_paid": "amount",
                "paid_by_payer": paid_by_payer,
                "paid_by_patient": "CASE WHEN payer = 'PATIENT' THEN amount ELSE 0 END",
                "paid_by_primary": "CASE WHEN payer IN ('AMO', 'AME') THEN amount ELSE 0 END",
                "revenue_code_source_value": "code",
            },
            where="encounter_id IS NOT NULL",
        ),
    ]


_TARGETS: dict[str, Callable[[str], list[Target]]] = {
    "sites": _sites,
    "professionals": _professionals,
    "patients": _patients,
    "coverage": _coverage,
    "mt_declarations": _mt_declarations,
    "encounters": _encounters,
    "diagnoses": _diagnoses,
    "prescriptions": _prescriptions,
    "lab_results": _lab_results,
    "vaccinations": _vaccinations,
    "procedures": _procedures,
    "acts": _acts,
}

# Which validated column holds a code of which vocabulary, to fill the concept table.
CODED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "encounters": (("NGAP", "encounter_type"),),
    "diagnoses": (("CIM10", "cim10"),),
    "prescriptions": (("ATC", "atc"), ("CIP13", "cip13")),
    "vaccinations": (("ATC", "atc"), ("CIP13", "cip13")),
    "lab_results": (("NABM", "nabm"), ("LOINC", "loinc")),
    "procedures": (("CCAM", "ccam"),),
}
