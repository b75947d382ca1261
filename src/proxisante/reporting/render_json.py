"""The JSON rendering of the report: the document of ``docs/report-schema.json``, checked before it is written.

A payer validates the file with any JSON Schema draft 2020-12 validator (``jsonschema`` in Python); the
schema ships in the package (``reporting/report-schema.json``, the same file as the documentation's).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from proxisante.reporting.model import Report, to_document

SCHEMA_FILE = resources.files(__package__) / "report-schema.json"


@cache
def schema() -> dict[str, Any]:
    """The report's JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_errors(document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, one line each with its JSON path (empty when valid)."""
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def render_json(report: Report) -> bytes:
    """UTF-8 JSON, indented; refused if it would not validate (a bug, never a file a payer rejects)."""
    document = to_document(report)
    errors = schema_errors(document)
    if errors:
        raise ValueError("the report does not follow its schema: " + "; ".join(errors[:5]))
    return (json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")
