"""FHIR types as the SQL generator sees them: which DuckDB type holds a value, how JSON encodes it.

FHIR JSON does not say a value's type (``"1970-06"`` is a string in JSON, a date in FHIR), so the
generator tracks types statically where the expression tells them (literals, constants,
``ofType()``, column ``type``) and otherwise keeps values as JSON nodes decided at run time.
"""

from __future__ import annotations

BOOLEAN = frozenset({"boolean"})
INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})
DECIMALS = frozenset({"decimal"})
TEMPORALS = frozenset({"date", "dateTime", "instant", "time"})
STRINGS = (
    frozenset({"string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "xhtml"})
    | TEMPORALS
)
PRIMITIVES = BOOLEAN | INTEGERS | DECIMALS | STRINGS

# FHIR R4 complex data types (the suffixes a choice element ``value[x]`` may take, with the primitives).
COMPLEX = frozenset(
    [
        "Address",
        "Age",
        "Annotation",
        "Attachment",
        "CodeableConcept",
        "Coding",
        "ContactDetail",
        "ContactPoint",
        "Contributor",
        "Count",
        "DataRequirement",
        "Distance",
        "Dosage",
        "Duration",
        "Expression",
        "Extension",
        "HumanName",
        "Identifier",
        "Meta",
        "Money",
        "ParameterDefinition",
        "Period",
        "Quantity",
        "Range",
        "Ratio",
        "Reference",
        "RelatedArtifact",
        "SampledData",
        "Signature",
        "Timing",
        "TriggerDefinition",
        "UsageContext",
        "Narrative",
        "BackboneElement",
        "Element",
    ]
)

# The JSON type (DuckDB ``json_type``) of each family, for ``ofType()`` on values that are not choices.
_NUMBER_JSON = ("BIGINT", "UBIGINT", "DOUBLE")


_SYSTEM = {"String": "string", "Boolean": "boolean", "Integer": "integer", "Decimal": "decimal"} | {
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
}


def normalise(name: str) -> str:
    """``http://hl7.org/fhir/StructureDefinition/string``, ``FHIR.string`` → ``string``; FHIRPath
    system types (``System.String``, ``http://hl7.org/fhirpath/System.Integer``) → the FHIR primitive."""
    last = name.rsplit("/", 1)[-1]
    if last.startswith("System."):
        return _SYSTEM.get(last[7:], last[7:])
    return last.rsplit(".", 1)[-1]


def duckdb_type(fhir_type: str | None) -> str:
    """The DuckDB type of a column or value of FHIR type `fhir_type` (JSON when unknown or complex).

    Dates and times stay text: FHIR allows partial precision (``1970-06``) that DATE cannot hold."""
    if fhir_type in BOOLEAN:
        return "BOOLEAN"
    if fhir_type in INTEGERS:
        return "BIGINT"
    if fhir_type in DECIMALS:
        return "DOUBLE"
    if fhir_type in STRINGS:
        return "VARCHAR"
    return "JSON"


def family(fhir_type: str | None) -> str | None:
    """The comparison family: ``boolean``, ``integer``, ``decimal``, ``string`` or None (complex/unknown)."""
    if fhir_type in BOOLEAN:
        return "boolean"
    if fhir_type in INTEGERS:
        return "integer"
    if fhir_type in DECIMALS:
        return "decimal"
    if fhir_type in STRINGS:
        return "string"
    return None


def json_types(fhir_type: str) -> tuple[str, ...] | None:
    """The DuckDB ``json_type`` values a JSON node of `fhir_type` can have; None for resource types."""
    fam = family(fhir_type)
    if fam == "boolean":
        return ("BOOLEAN",)
    if fam == "integer":
        return ("BIGINT", "UBIGINT")
    if fam == "decimal":
        return _NUMBER_JSON
    if fam == "string":
        return ("VARCHAR",)
    if fhir_type in COMPLEX:
        return ("OBJECT",)
    return None


def choice_suffix(fhir_type: str) -> str:
    """The suffix of a choice element of that type: ``dateTime`` → ``DateTime`` (``valueDateTime``)."""
    return fhir_type[:1].upper() + fhir_type[1:]


def is_known(fhir_type: str) -> bool:
    """A primitive or complex FHIR data type (anything else capitalised is taken as a resource type)."""
    return fhir_type in PRIMITIVES or fhir_type in COMPLEX
