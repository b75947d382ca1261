"""Table definitions of the warehouse: OMOP CDM 5.4 (the subset we use), a French extension, and the
bookkeeping of loads.

Column names and order follow the official OMOP CDM 5.4 DDL, so that OHDSI tools read our tables;
every ``*_id`` is BIGINT (the official DDL uses 32-bit integers, too small for keyed hashes). French
codes (CIM-10, ATC/CIP13, NABM, CCAM, NGAP) are kept in the ``*_source_value`` columns, their local
concept in ``*_source_concept_id``. ``docs/warehouse.md`` documents the French extension.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
from ibis.expr.schema import Schema

ID = "int64"
CONCEPT = "int64"
DATE = "date"
TS = "timestamp"
TEXT = "string"
NUM = "float64"
MONEY = "decimal(12, 2)"


@dataclass(frozen=True)
class TableDef:
    """One warehouse table: its schema, the column that identifies a row, and what it is for."""

    name: str
    columns: dict[str, str]
    key: str | None
    description: str
    group: str  # "omop", "fr" (French extension) or "etl" (load bookkeeping)

    @property
    def schema(self) -> Schema:
        return ibis.schema(self.columns)


def _omop(name: str, key: str | None, description: str, columns: dict[str, str]) -> TableDef:
    return TableDef(name, columns, key, description, "omop")


def _fr(name: str, key: str, description: str, columns: dict[str, str]) -> TableDef:
    return TableDef(name, columns, key, description, "fr")


def _etl(name: str, description: str, columns: dict[str, str]) -> TableDef:
    return TableDef(name, columns, None, description, "etl")


PERSON = _omop("person", "person_id", "One row per pseudonymised patient.", {
    "person_id": ID, "gender_concept_id": CONCEPT, "year_of_birth": "int32", "month_of_birth": "int32",
    "day_of_birth": "int32", "birth_datetime": TS, "race_concept_id": CONCEPT,
    "ethnicity_concept_id": CONCEPT, "location_id": ID, "provider_id": ID, "care_site_id": ID,
    "person_source_value": TEXT, "gender_source_value": TEXT, "gender_source_concept_id": CONCEPT,
    "race_source_value": TEXT, "race_source_concept_id": CONCEPT, "ethnicity_source_value": TEXT,
    "ethnicity_source_concept_id": CONCEPT,
})  # fmt: skip

OBSERVATION_PERIOD = _omop(
    "observation_period", "observation_period_id",
    "Span during which the structure records a person's care (first to last recorded event).", {
    "observation_period_id": ID, "person_id": ID, "observation_period_start_date": DATE,
    "observation_period_end_date": DATE, "period_type_concept_id": CONCEPT,
})  # fmt: skip

VISIT_OCCURRENCE = _omop("visit_occurrence", "visit_occurrence_id", "Encounters (G, VG, TCG, AMI...).", {
    "visit_occurrence_id": ID, "person_id": ID, "visit_concept_id": CONCEPT, "visit_start_date": DATE,
    "visit_start_datetime": TS, "visit_end_date": DATE, "visit_end_datetime": TS,
    "visit_type_concept_id": CONCEPT, "provider_id": ID, "care_site_id": ID, "visit_source_value": TEXT,
    "visit_source_concept_id": CONCEPT, "admitted_from_concept_id": CONCEPT,
    "admitted_from_source_value": TEXT, "discharged_to_concept_id": CONCEPT,
    "discharged_to_source_value": TEXT, "preceding_visit_occurrence_id": ID,
})  # fmt: skip

CONDITION_OCCURRENCE = _omop("condition_occurrence", "condition_occurrence_id", "Diagnoses (CIM-10).", {
    "condition_occurrence_id": ID, "person_id": ID, "condition_concept_id": CONCEPT,
    "condition_start_date": DATE, "condition_start_datetime": TS, "condition_end_date": DATE,
    "condition_end_datetime": TS, "condition_type_concept_id": CONCEPT,
    "condition_status_concept_id": CONCEPT, "stop_reason": TEXT, "provider_id": ID,
    "visit_occurrence_id": ID, "visit_detail_id": ID, "condition_source_value": TEXT,
    "condition_source_concept_id": CONCEPT, "condition_status_source_value": TEXT,
})  # fmt: skip

DRUG_EXPOSURE = _omop("drug_exposure", "drug_exposure_id", "Prescriptions and vaccinations.", {
    "drug_exposure_id": ID, "person_id": ID, "drug_concept_id": CONCEPT,
    "drug_exposure_start_date": DATE, "drug_exposure_start_datetime": TS, "drug_exposure_end_date": DATE,
    "drug_exposure_end_datetime": TS, "verbatim_end_date": DATE, "drug_type_concept_id": CONCEPT,
    "stop_reason": TEXT, "refills": "int32", "quantity": NUM, "days_supply": "int32", "sig": TEXT,
    "route_concept_id": CONCEPT, "lot_number": TEXT, "provider_id": ID, "visit_occurrence_id": ID,
    "visit_detail_id": ID, "drug_source_value": TEXT, "drug_source_concept_id": CONCEPT,
    "route_source_value": TEXT, "dose_unit_source_value": TEXT,
})  # fmt: skip

PROCEDURE_OCCURRENCE = _omop("procedure_occurrence", "procedure_occurrence_id", "Procedures (CCAM).", {
    "procedure_occurrence_id": ID, "person_id": ID, "procedure_concept_id": CONCEPT, "procedure_date": DATE,
    "procedure_datetime": TS, "procedure_end_date": DATE, "procedure_end_datetime": TS,
    "procedure_type_concept_id": CONCEPT, "modifier_concept_id": CONCEPT, "quantity": "int32",
    "provider_id": ID, "visit_occurrence_id": ID, "visit_detail_id": ID, "procedure_source_value": TEXT,
    "procedure_source_concept_id": CONCEPT, "modifier_source_value": TEXT,
})  # fmt: skip

MEASUREMENT = _omop("measurement", "measurement_id", "Laboratory results (NABM / LOINC).", {
    "measurement_id": ID, "person_id": ID, "measurement_concept_id": CONCEPT, "measurement_date": DATE,
    "measurement_datetime": TS, "measurement_time": TEXT, "measurement_type_concept_id": CONCEPT,
    "operator_concept_id": CONCEPT, "value_as_number": NUM, "value_as_concept_id": CONCEPT,
    "unit_concept_id": CONCEPT, "range_low": NUM, "range_high": NUM, "provider_id": ID,
    "visit_occurrence_id": ID, "visit_detail_id": ID, "measurement_source_value": TEXT,
    "measurement_source_concept_id": CONCEPT, "unit_source_value": TEXT, "unit_source_concept_id": CONCEPT,
    "value_source_value": TEXT, "measurement_event_id": ID, "meas_event_field_concept_id": CONCEPT,
})  # fmt: skip

OBSERVATION = _omop("observation", "observation_id", "Other facts (filled by later sources).", {
    "observation_id": ID, "person_id": ID, "observation_concept_id": CONCEPT, "observation_date": DATE,
    "observation_datetime": TS, "observation_type_concept_id": CONCEPT, "value_as_number": NUM,
    "value_as_string": TEXT, "value_as_concept_id": CONCEPT, "qualifier_concept_id": CONCEPT,
    "unit_concept_id": CONCEPT, "provider_id": ID, "visit_occurrence_id": ID, "visit_detail_id": ID,
    "observation_source_value": TEXT, "observation_source_concept_id": CONCEPT, "unit_source_value": TEXT,
    "qualifier_source_value": TEXT, "value_source_value": TEXT, "observation_event_id": ID,
    "obs_event_field_concept_id": CONCEPT,
})  # fmt: skip

DEATH = _omop("death", "person_id", "Deaths.", {
    "person_id": ID, "death_date": DATE, "death_datetime": TS, "death_type_concept_id": CONCEPT,
    "cause_concept_id": CONCEPT, "cause_source_value": TEXT, "cause_source_concept_id": CONCEPT,
})  # fmt: skip

PROVIDER = _omop("provider", "provider_id", "Professionals (RPPS is public directory data).", {
    "provider_id": ID, "provider_name": TEXT, "npi": TEXT, "dea": TEXT, "specialty_concept_id": CONCEPT,
    "care_site_id": ID, "year_of_birth": "int32", "gender_concept_id": CONCEPT,
    "provider_source_value": TEXT, "specialty_source_value": TEXT, "specialty_source_concept_id": CONCEPT,
    "gender_source_value": TEXT, "gender_source_concept_id": CONCEPT,
})  # fmt: skip

CARE_SITE = _omop("care_site", "care_site_id", "Sites of the structure (FINESS in the source value).", {
    "care_site_id": ID, "care_site_name": TEXT, "place_of_service_concept_id": CONCEPT, "location_id": ID,
    "care_site_source_value": TEXT, "place_of_service_source_value": TEXT,
})  # fmt: skip

LOCATION = _omop("location", "location_id", "Communes (INSEE code), never a street address.", {
    "location_id": ID, "address_1": TEXT, "address_2": TEXT, "city": TEXT, "state": TEXT, "zip": TEXT,
    "county": TEXT, "location_source_value": TEXT, "country_concept_id": CONCEPT,
    "country_source_value": TEXT, "latitude": NUM, "longitude": NUM,
})  # fmt: skip

COST = _omop("cost", "cost_id", "Cost of billed acts linked to a visit (one row per act).", {
    "cost_id": ID, "cost_event_id": ID, "cost_domain_id": TEXT, "cost_type_concept_id": CONCEPT,
    "currency_concept_id": CONCEPT, "total_charge": MONEY, "total_cost": MONEY, "total_paid": MONEY,
    "paid_by_payer": MONEY, "paid_by_patient": MONEY, "paid_patient_copay": MONEY,
    "paid_patient_coinsurance": MONEY, "paid_patient_deductible": MONEY, "paid_by_primary": MONEY,
    "paid_ingredient_cost": MONEY, "paid_dispensing_fee": MONEY, "payer_plan_period_id": ID,
    "amount_allowed": MONEY, "revenue_code_concept_id": CONCEPT, "revenue_code_source_value": TEXT,
    "drg_concept_id": CONCEPT, "drg_source_value": TEXT,
})  # fmt: skip

PAYER_PLAN_PERIOD = _omop("payer_plan_period", "payer_plan_period_id", "C2S and AME periods as plans.", {
    "payer_plan_period_id": ID, "person_id": ID, "payer_plan_period_start_date": DATE,
    "payer_plan_period_end_date": DATE, "payer_concept_id": CONCEPT, "payer_source_value": TEXT,
    "payer_source_concept_id": CONCEPT, "plan_concept_id": CONCEPT, "plan_source_value": TEXT,
    "plan_source_concept_id": CONCEPT, "sponsor_concept_id": CONCEPT, "sponsor_source_value": TEXT,
    "sponsor_source_concept_id": CONCEPT, "family_source_value": TEXT, "stop_reason_concept_id": CONCEPT,
    "stop_reason_source_value": TEXT, "stop_reason_source_concept_id": CONCEPT,
})  # fmt: skip

CONCEPT_TABLE = _omop("concept", "concept_id", "Local concepts for the French codes in use (id >= 2e9).", {
    "concept_id": CONCEPT, "concept_name": TEXT, "domain_id": TEXT, "vocabulary_id": TEXT,
    "concept_class_id": TEXT, "standard_concept": TEXT, "concept_code": TEXT, "valid_start_date": DATE,
    "valid_end_date": DATE, "invalid_reason": TEXT,
})  # fmt: skip

VOCABULARY = _omop("vocabulary", "vocabulary_id", "The vocabularies of the local concepts.", {
    "vocabulary_id": TEXT, "vocabulary_name": TEXT, "vocabulary_reference": TEXT,
    "vocabulary_version": TEXT, "vocabulary_concept_id": CONCEPT,
})  # fmt: skip

VISIT_DETAIL = _omop("visit_detail", "visit_detail_id", "Parts of a visit (filled by OMOP imports).", {
    "visit_detail_id": ID, "person_id": ID, "visit_detail_concept_id": CONCEPT, "visit_detail_start_date": DATE,
    "visit_detail_start_datetime": TS, "visit_detail_end_date": DATE, "visit_detail_end_datetime": TS,
    "visit_detail_type_concept_id": CONCEPT, "provider_id": ID, "care_site_id": ID,
    "visit_detail_source_value": TEXT, "visit_detail_source_concept_id": CONCEPT,
    "admitted_from_concept_id": CONCEPT, "admitted_from_source_value": TEXT, "discharged_to_source_value": TEXT,
    "discharged_to_concept_id": CONCEPT, "preceding_visit_detail_id": ID, "parent_visit_detail_id": ID,
    "visit_occurrence_id": ID,
})  # fmt: skip

DEVICE_EXPOSURE = _omop("device_exposure", "device_exposure_id",
    "Devices (filled by OMOP imports; the serial numbers unique_device_id and production_id are never kept).", {
    "device_exposure_id": ID, "person_id": ID, "device_concept_id": CONCEPT, "device_exposure_start_date": DATE,
    "device_exposure_start_datetime": TS, "device_exposure_end_date": DATE, "device_exposure_end_datetime": TS,
    "device_type_concept_id": CONCEPT, "unique_device_id": TEXT, "production_id": TEXT, "quantity": "int32",
    "provider_id": ID, "visit_occurrence_id": ID, "visit_detail_id": ID, "device_source_value": TEXT,
    "device_source_concept_id": CONCEPT, "unit_concept_id": CONCEPT, "unit_source_value": TEXT,
    "unit_source_concept_id": CONCEPT,
})  # fmt: skip

CONDITION_ERA = _omop("condition_era", "condition_era_id", "Condition eras (as delivered by an OMOP source).", {
    "condition_era_id": ID, "person_id": ID, "condition_concept_id": CONCEPT, "condition_era_start_date": DATE,
    "condition_era_end_date": DATE, "condition_occurrence_count": "int32",
})  # fmt: skip

DRUG_ERA = _omop("drug_era", "drug_era_id", "Drug eras (as delivered by an OMOP source).", {
    "drug_era_id": ID, "person_id": ID, "drug_concept_id": CONCEPT, "drug_era_start_date": DATE,
    "drug_era_end_date": DATE, "drug_exposure_count": "int32", "gap_days": "int32",
})  # fmt: skip

DOSE_ERA = _omop("dose_era", "dose_era_id", "Dose eras (as delivered by an OMOP source).", {
    "dose_era_id": ID, "person_id": ID, "drug_concept_id": CONCEPT, "unit_concept_id": CONCEPT, "dose_value": NUM,
    "dose_era_start_date": DATE, "dose_era_end_date": DATE,
})  # fmt: skip

DOMAIN = _omop("domain", "domain_id", "OMOP domains (vocabulary subset of an OMOP source).", {
    "domain_id": TEXT, "domain_name": TEXT, "domain_concept_id": CONCEPT,
})  # fmt: skip

CONCEPT_CLASS = _omop("concept_class", "concept_class_id", "Concept classes (vocabulary subset).", {
    "concept_class_id": TEXT, "concept_class_name": TEXT, "concept_class_concept_id": CONCEPT,
})  # fmt: skip

RELATIONSHIP = _omop("relationship", "relationship_id", "Kinds of concept relationship (vocabulary subset).", {
    "relationship_id": TEXT, "relationship_name": TEXT, "is_hierarchical": TEXT, "defines_ancestry": TEXT,
    "reverse_relationship_id": TEXT, "relationship_concept_id": CONCEPT,
})  # fmt: skip

# The vocabulary tables below have no single-column key: a row is its whole content (loads add the
# rows not already there).
CONCEPT_RELATIONSHIP = _omop("concept_relationship", None, "Relationships between concepts (Maps to...).", {
    "concept_id_1": CONCEPT, "concept_id_2": CONCEPT, "relationship_id": TEXT, "valid_start_date": DATE,
    "valid_end_date": DATE, "invalid_reason": TEXT,
})  # fmt: skip

CONCEPT_SYNONYM = _omop("concept_synonym", None, "Other names of concepts (vocabulary subset).", {
    "concept_id": CONCEPT, "concept_synonym_name": TEXT, "language_concept_id": CONCEPT,
})  # fmt: skip

CONCEPT_ANCESTOR = _omop("concept_ancestor", None, "Hierarchy of concepts (vocabulary subset).", {
    "ancestor_concept_id": CONCEPT, "descendant_concept_id": CONCEPT, "min_levels_of_separation": "int32",
    "max_levels_of_separation": "int32",
})  # fmt: skip

SOURCE_TO_CONCEPT_MAP = _omop("source_to_concept_map", None, "Local source codes mapped to concepts.", {
    "source_code": TEXT, "source_concept_id": CONCEPT, "source_vocabulary_id": TEXT,
    "source_code_description": TEXT, "target_concept_id": CONCEPT, "target_vocabulary_id": TEXT,
    "valid_start_date": DATE, "valid_end_date": DATE, "invalid_reason": TEXT,
})  # fmt: skip

DRUG_STRENGTH = _omop("drug_strength", None, "Strength of drugs by ingredient (vocabulary subset).", {
    "drug_concept_id": CONCEPT, "ingredient_concept_id": CONCEPT, "amount_value": NUM,
    "amount_unit_concept_id": CONCEPT, "numerator_value": NUM, "numerator_unit_concept_id": CONCEPT,
    "denominator_value": NUM, "denominator_unit_concept_id": CONCEPT, "box_size": "int32",
    "valid_start_date": DATE, "valid_end_date": DATE, "invalid_reason": TEXT,
})  # fmt: skip

MT_DECLARATION = _fr("fr_mt_declaration", "mt_declaration_id",
    "Déclarations de médecin traitant: which person declared which provider, from when to when.", {
    "mt_declaration_id": ID, "person_id": ID, "provider_id": ID, "start_date": DATE, "end_date": DATE,
})  # fmt: skip

COVERAGE_PERIOD = _fr("fr_coverage_period", "coverage_period_id",
    "Coverage periods: ALD (with its CIM-10 code), C2S, AME.", {
    "coverage_period_id": ID, "person_id": ID, "coverage_type": TEXT, "start_date": DATE,
    "end_date": DATE, "cim10": TEXT, "ald_number": "int32",
})  # fmt: skip

BILLED_ACT = _fr("fr_billed_act", "billed_act_id", "Billed acts: NGAP or CCAM code, amount, payer.", {
    "billed_act_id": ID, "person_id": ID, "provider_id": ID, "visit_occurrence_id": ID, "act_date": DATE,
    "code": TEXT, "coding_system": TEXT, "amount": MONEY, "payer": TEXT,
})  # fmt: skip

PROVIDER_ACTIVITY = _fr("fr_provider_activity", "provider_id",
    "Profession, full-time equivalent (ETP) and dates of presence of each professional.", {
    "provider_id": ID, "profession": TEXT, "fte": NUM, "start_date": DATE, "end_date": DATE,
})  # fmt: skip

CARE_SITE_FR = _fr("fr_care_site", "care_site_id", "FINESS number and kind of structure of each site.", {
    "care_site_id": ID, "finess": TEXT, "structure_type": TEXT,
})  # fmt: skip

LOAD_BATCH = _etl("etl_batch", "One row per committed batch.", {
    "batch_id": TEXT, "source": TEXT, "started_at": TS, "committed_at": TS, "files": "int64",
    "rows_read": "int64", "rows_loaded": "int64", "rows_quarantined": "int64",
})  # fmt: skip

LOAD_MANIFEST = _etl("etl_manifest", "One row per file loaded: what, when, checksum, counts.", {
    "batch_id": TEXT, "source": TEXT, "pivot_table": TEXT, "file_name": TEXT, "sha256": TEXT,
    "size_bytes": "int64", "encoding": TEXT, "delimiter": TEXT, "rows_read": "int64",
    "rows_loaded": "int64", "rows_quarantined": "int64", "loaded_at": TS,
})  # fmt: skip

QUARANTINE = _etl("etl_quarantine", "Rejected rows: file, line, field, reason (identifiers masked).", {
    "batch_id": TEXT, "source": TEXT, "pivot_table": TEXT, "file_name": TEXT, "line": "int64",
    "field": TEXT, "reason": TEXT, "value": TEXT, "record": TEXT,
})  # fmt: skip

WAITING = _etl("etl_waiting", "Rows set aside for a reference not loaded yet: read again at each load of the source.", {
    "batch_id": TEXT, "source": TEXT, "pivot_table": TEXT, "file_name": TEXT, "line": "int64", "record": TEXT,
})  # fmt: skip

TABLES: tuple[TableDef, ...] = (
    PERSON, OBSERVATION_PERIOD, VISIT_OCCURRENCE, CONDITION_OCCURRENCE, DRUG_EXPOSURE,
    PROCEDURE_OCCURRENCE, MEASUREMENT, OBSERVATION, DEATH, PROVIDER, CARE_SITE, LOCATION, COST,
    PAYER_PLAN_PERIOD, CONCEPT_TABLE, VOCABULARY, MT_DECLARATION, COVERAGE_PERIOD, BILLED_ACT,
    PROVIDER_ACTIVITY, CARE_SITE_FR, LOAD_BATCH, LOAD_MANIFEST, QUARANTINE, WAITING,
    # Added for OMOP imports (sources/omop): the other clinical and vocabulary tables of CDM 5.4.
    VISIT_DETAIL, DEVICE_EXPOSURE, CONDITION_ERA, DRUG_ERA, DOSE_ERA, DOMAIN, CONCEPT_CLASS, RELATIONSHIP,
    CONCEPT_RELATIONSHIP, CONCEPT_SYNONYM, CONCEPT_ANCESTOR, SOURCE_TO_CONCEPT_MAP, DRUG_STRENGTH,
)  # fmt: skip
TABLES_BY_NAME: dict[str, TableDef] = {t.name: t for t in TABLES}
