# ruff: noqa: E501  (JSON templates in SQL read best one member per line, however long)
"""Writing the synthetic centre as FHIR R4 bulk NDJSON (one resource per line, one file per type).

The resources are made from the very chunks the pivot writer formats (same generated rows, same
keys as resource ids), so that loading the FHIR output and the pivot output of one centre gives the
same warehouse: ``tests/test_synth_fhir.py`` proves it table by table. Identifiers follow FR Core
(INS-NIR and NSS on Patient, RPPS on Practitioner, FINESS on Organization); code systems are the
first of each vocabulary in ``sources/fhir/mapping.yaml``, the file the import reads too.

Why SQL: a chunk of a million rows becomes a million JSON lines in one DuckDB query over the typed
Arrow table (string concatenation, optional members dropped by NULL propagation), then one write;
no Python object per resource.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proxisante.ingest.fhir.load import mapping
from proxisante.ingest.pivot.format import PivotTable
from proxisante.synth.frames import Frame, length
from proxisante.synth.writer import to_parquet_table

# Pivot table -> resource type (and file name, as a bulk export names them).
RESOURCE_TYPES = {
    "sites": "Organization",
    "professionals": "Practitioner",
    "patients": "Patient",
    "coverage": "Coverage",
    "mt_declarations": "EpisodeOfCare",
    "encounters": "Encounter",
    "diagnoses": "Condition",
    "prescriptions": "MedicationRequest",
    "lab_results": "Observation",
    "vaccinations": "Immunization",
    "procedures": "Procedure",
    "acts": "ChargeItem",
}


@cache
def _systems() -> dict[str, str]:
    """Vocabulary -> the URI written (the first listed for it in mapping.yaml)."""
    out: dict[str, str] = {}
    for entry in mapping()["code_systems"]:
        if entry.get("vocabulary") and entry.get("pattern") is None:
            out.setdefault(entry["vocabulary"], entry["system"])
    return out


def _j(column: str) -> str:
    """A JSON string of a text column (NULL stays NULL)."""
    return f"to_json({column})::VARCHAR"


def _d(column: str) -> str:
    return f"'\"' || strftime({column}, '%Y-%m-%d') || '\"'"


def _opt(key: str, value: str) -> str:
    """``,"key":value``, or nothing when ``value`` is NULL."""
    return f"coalesce(',\"{key}\":' || {value}, '')"


def _ref(resource: str, column: str) -> str:
    return f"'{{\"reference\":\"{resource}/' || {column} || '\"}}'"


def _coding(vocabulary: str, column: str) -> str:
    return f'\'{{"system":"{_systems()[vocabulary]}","code":\' || {_j(column)} || \'}}\''


def _codings(*pairs: tuple[str, str]) -> str:
    """``{"coding":[…]}`` of the non-empty codes, NULL when all are empty."""
    items = ", ".join(_coding(v, c) for v, c in pairs)
    return f"'{{\"coding\":[' || nullif(concat_ws(',', {items}), '') || ']}}'"


def _identifier(key: str, column: str) -> str:
    ident = mapping()["identifiers"][key]
    typed = (
        f',"type":{{"coding":[{{"system":"{ident["type_system"]}","code":"{ident["type_code"]}"}}]}}'
        if "type_code" in ident
        else ""
    )
    use = ',"use":"official"' if key in ("ins_nir", "nir") else ""
    return f'\'{{"system":"{ident["system"]}"{use}{typed},"value":\' || {_j(column)} || \'}}\''


def _address(with_line: bool = True) -> str:
    ext = mapping()["extensions"]["insee_code"]
    insee = mapping()["writer"]["insee_code_system"]
    parts = ", ".join(
        [
            "',\"line\":[' || to_json(address)::VARCHAR || ']'" if with_line else "NULL",
            "',\"postalCode\":' || to_json(postcode)::VARCHAR",
            f'\',"extension":[{{"url":"{ext}","valueCoding":{{"system":"{insee}","code":\' '
            "|| to_json(commune_insee)::VARCHAR || '}}]'",
        ]
    )
    return f"'[{{' || nullif(ltrim(concat({parts}), ','), '') || '}}]'"


def _practitioner(column: str = "rpps") -> str:
    return f"CASE WHEN {column} IS NOT NULL THEN {_ref('Practitioner', column)} END"


def _templates() -> dict[str, str]:
    """Pivot table -> SQL expression of one resource's JSON over the typed chunk."""
    ext = mapping()["extensions"]
    writer = mapping()["writer"]
    encounter_class = mapping()["encounter_class"]
    gender = {v: k for k, v in reversed(list(mapping()["gender"].items()))}
    sex = " ".join(f"WHEN '{k}' THEN '\"{v}\"'" for k, v in gender.items())
    classes = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in encounter_class["by_ngap"].items())
    official = "'{\"use\":\"official\",\"family\":' || to_json(birth_name)::VARCHAR || coalesce(',\"given\":[' || to_json(given_names)::VARCHAR || ']', '') || '}'"
    usual = (
        '\'{"use":"usual","family":\' || to_json(family_name)::VARCHAR || CASE WHEN birth_name IS NULL '
        "THEN coalesce(',\"given\":[' || to_json(given_names)::VARCHAR || ']', '') ELSE '' END || '}'"
    )
    period = (
        "'{' || ltrim(concat(" + _opt("start", _d("start_date")) + ", " + _opt("end", _d("end_date")) + "), ',') || '}'"
    )
    q = "'\"'"
    birth_year = _opt("birthDate", q + " || CAST(birth_year AS VARCHAR) || " + q)
    telecom = _opt("telecom", '\'[{"system":"phone","value":\' || to_json(phone)::VARCHAR || \'}]\'')
    plan = (
        '\'[{"type":{"coding":[{"system":"'
        + writer["coverage_class_system"]
        + '","code":"plan"}]},"value":"\' || CAST(ald_number AS VARCHAR) || \'"}]\''
    )
    ald_class = _opt("class", plan)
    site = "CASE WHEN site_id IS NOT NULL THEN " + _ref("Organization", "site_id") + " END"
    encounter = "CASE WHEN encounter_id IS NOT NULL THEN " + _ref("Encounter", "encounter_id") + " END"
    fte = '\'{"url":"' + ext["fte"] + "\",\"valueDecimal\":' || CAST(fte AS VARCHAR) || '}'"
    site_ext = (
        'CASE WHEN site_id IS NOT NULL THEN \'{"url":"'
        + ext["practitioner_site"]
        + '","valueReference":\' || '
        + _ref("Organization", "site_id")
        + " || '}' END"
    )
    period_ext = (
        'CASE WHEN coalesce(start_date, end_date) IS NOT NULL THEN \'{"url":"'
        + ext["practitioner_period"]
        + '","valuePeriod":\' || '
        + period
        + " || '}' END"
    )
    return {
        "sites": '\'{"resourceType":"Organization","id":\' || to_json(site_id)::VARCHAR'
        f" || coalesce(',\"identifier\":[' || {_identifier('finess', 'finess')} || ']', '')"
        f" || coalesce(',\"type\":[' || {_codings(('STRUCTURE_TYPE', 'structure_type'))} || ']', '')"
        f" || ',\"name\":' || to_json(name)::VARCHAR || {_opt('address', _address(False))} || '}}'",
        "professionals": '\'{"resourceType":"Practitioner","id":\' || to_json(rpps)::VARCHAR'
        f" || ',\"identifier\":[' || {_identifier('rpps', 'rpps')} || ']'"
        " || ',\"name\":[{\"family\":' || to_json(family_name)::VARCHAR || coalesce(',\"given\":[' || to_json(given_name)::VARCHAR || ']', '') || '}]'"
        f" || {birth_year}"
        f" || ',\"qualification\":[{{\"code\":' || {_codings(('PROFESSION', 'profession'))} || '}}]'"
        f" || ',\"extension\":[' || concat_ws(',', {fte}, {site_ext}, {period_ext}) || ']}}'",
        "patients": '\'{"resourceType":"Patient","id":\' || to_json(patient_id)::VARCHAR'
        f" || coalesce(',\"identifier\":[' || nullif(concat_ws(',', CASE WHEN ins IS NOT NULL THEN {_identifier('ins_nir', 'ins')} END,"
        f" CASE WHEN nir IS NOT NULL THEN {_identifier('nir', 'nir')} END), '') || ']', '')"
        f" || coalesce(',\"name\":[' || nullif(concat_ws(',', CASE WHEN birth_name IS NOT NULL THEN {official} END,"
        f" CASE WHEN family_name IS NOT NULL THEN {usual} END), '') || ']', '')"
        f" || {telecom}"
        f" || ',\"gender\":' || CASE sex {sex} END"
        f" || ',\"birthDate\":' || {_d('birth_date')} || {_opt('deceasedDateTime', _d('death_date'))}"
        f" || {_opt('address', _address())} || '}}'",
        "coverage": '\'{"resourceType":"Coverage","id":\' || to_json(coverage_id)::VARCHAR || \',"status":"active"\''
        f" || ',\"type\":' || {_codings(('COVERAGE_TYPE', 'coverage_type'))}"
        f" || ',\"beneficiary\":' || {_ref('Patient', 'patient_id')}"
        f" || ',\"period\":' || {period}"
        f" || ',\"payor\":[' || {_ref('Patient', 'patient_id')} || ']'"
        f" || {ald_class}"
        f' || coalesce(\',"extension":[{{"url":"{ext["ald_condition"]}","valueCodeableConcept":\' || {_codings(("CIM10", "cim10"))} || \'}}]\', \'\')'
        " || '}'",
        "mt_declarations": '\'{"resourceType":"EpisodeOfCare","id":\' || to_json(declaration_id)::VARCHAR || \',"status":"active"\''
        f' || \',"type":[{{"coding":[{{"system":"{writer["episode_type_system"]}","code":"{writer["episode_type_code"]}"}}]}}]\''
        f" || ',\"patient\":' || {_ref('Patient', 'patient_id')} || ',\"careManager\":' || {_ref('Practitioner', 'rpps')}"
        f" || ',\"period\":' || {period} || '}}'",
        "encounters": '\'{"resourceType":"Encounter","id":\' || to_json(encounter_id)::VARCHAR || \',"status":"finished"\''
        f' || \',"class":{{"system":"{encounter_class["system"]}","code":"\' || CASE encounter_type {classes} ELSE \'{encounter_class["default"]}\' END || \'"}}\''
        f" || ',\"type\":[' || {_codings(('NGAP', 'encounter_type'))} || ']'"
        f" || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || ',\"participant\":[{{\"individual\":' || {_ref('Practitioner', 'rpps')} || '}}]'"
        f" || ',\"period\":{{\"start\":' || {_d('date')} || ',\"end\":' || {_d('date')} || '}}'"
        f" || {_opt('serviceProvider', site)} || '}}'",
        "diagnoses": '\'{"resourceType":"Condition","id":\' || to_json(diagnosis_id)::VARCHAR'
        f" || ',\"code\":' || {_codings(('CIM10', 'cim10'))} || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || {_opt('encounter', encounter)}"
        f" || ',\"recordedDate\":' || {_d('date')} || {_opt('recorder', _practitioner())} || '}}'",
        "prescriptions": '\'{"resourceType":"MedicationRequest","id":\' || to_json(prescription_id)::VARCHAR'
        ' || \',"status":"active","intent":"order"\''
        f" || ',\"medicationCodeableConcept\":' || rtrim({_codings(('CIP13', 'cip13'), ('ATC', 'atc'))}, '}}') || {_opt('text', _j('label'))} || '}}'"
        f" || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || {_opt('encounter', encounter)}"
        f" || ',\"authoredOn\":' || {_d('date')} || {_opt('requester', _practitioner())}"
        " || coalesce(',\"dispenseRequest\":{' || nullif(ltrim(concat("
        + _opt("quantity", "'{\"value\":' || CAST(quantity AS VARCHAR) || '}'")
        + ", "
        + _opt(
            "expectedSupplyDuration",
            f'\'{{"value":\' || CAST(duration_days AS VARCHAR) || \',"unit":"d","system":"{writer["ucum"]}","code":"d"}}\'',
        )
        + "), ','), '') || '}', '') || '}'",
        "lab_results": '\'{"resourceType":"Observation","id":\' || to_json(result_id)::VARCHAR || \',"status":"final"\''
        f' || \',"category":[{{"coding":[{{"system":"{writer["observation_category_system"]}","code":"laboratory"}}]}}]\''
        f" || ',\"code\":' || {_codings(('NABM', 'nabm'), ('LOINC', 'loinc'))} || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || ',\"effectiveDateTime\":' || {_d('date')}"
        " || coalesce(',\"valueQuantity\":{\"value\":' || CAST(value AS VARCHAR) || coalesce(',\"unit\":' || to_json(unit)::VARCHAR, '') || '}',"
        " ',\"valueString\":' || to_json(value_text)::VARCHAR, '') || '}'",
        "vaccinations": '\'{"resourceType":"Immunization","id":\' || to_json(vaccination_id)::VARCHAR || \',"status":"completed"\''
        f" || ',\"vaccineCode\":' || {_codings(('ATC', 'atc'), ('CIP13', 'cip13'))} || ',\"patient\":' || {_ref('Patient', 'patient_id')}"
        f" || ',\"occurrenceDateTime\":' || {_d('date')}"
        f" || coalesce(',\"performer\":[{{\"actor\":' || {_practitioner()} || '}}]', '') || '}}'",
        "procedures": '\'{"resourceType":"Procedure","id":\' || to_json(procedure_id)::VARCHAR || \',"status":"completed"\''
        f" || ',\"code\":' || {_codings(('CCAM', 'ccam'))} || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || {_opt('encounter', encounter)}"
        f" || ',\"performedDateTime\":' || {_d('date')}"
        f" || coalesce(',\"performer\":[{{\"actor\":' || {_practitioner()} || '}}]', '') || '}}'",
        "acts": '\'{"resourceType":"ChargeItem","id":\' || to_json(act_id)::VARCHAR || \',"status":"billable"\''
        " || ',\"code\":' || CASE WHEN regexp_full_match(code, '[A-Z]{4}[0-9]{3}') THEN "
        f"{_codings(('CCAM', 'code'))} ELSE {_codings(('NGAP', 'code'))} END"
        f" || ',\"subject\":' || {_ref('Patient', 'patient_id')}"
        f" || {_opt('context', encounter)}"
        f" || ',\"occurrenceDateTime\":' || {_d('date')}"
        f" || ',\"performer\":[{{\"actor\":' || {_ref('Practitioner', 'rpps')} || '}}]'"
        f' || \',"priceOverride":{{"value":\' || CAST(amount AS VARCHAR) || \',"currency":"{writer["currency"]}"}}\''
        f' || \',"extension":[{{"url":"{ext["payer"]}","valueCoding":\' || {_coding("PAYER", "payer")} || \'}}]\''
        " || '}'",
    }


class FhirTableWriter:
    """Appends chunks of one pivot table as ``<ResourceType>.ndjson`` (same interface as TableWriter)."""

    def __init__(self, folder: Path, spec: PivotTable) -> None:
        self.spec = spec
        self.rows = 0
        self.path = folder / f"{RESOURCE_TYPES[spec.name]}.ndjson"
        self._handle: BinaryIO | None = self.path.open("wb")
        self._sql = _templates()[spec.name]
        self._con = duckdb.connect()

    def write(self, frame: Frame, invalid_dates: tuple[str, ...] = ()) -> int:
        """Append one chunk; return the number of resources written so far."""
        if not frame or length(frame) == 0:
            return self.rows
        table = to_parquet_table(self.spec, frame)
        self._con.register("chunk", table)
        lines = self._con.execute(f"SELECT {self._sql} AS line FROM chunk").to_arrow_table().column("line")
        self._con.unregister("chunk")
        lines = pc.binary_join_element_wise(lines.combine_chunks(), pa.scalar(""), "\n")
        if lines.null_count:
            raise ValueError(f"{self.spec.name}: a row could not be written as FHIR (a required value is empty)")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
        assert self._handle is not None
        self._handle.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])
        self.rows += length(frame)
        return self.rows

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._con.close()
            self._handle = None
