"""Scanning a warehouse and text output for direct identifiers taken from the input files."""

from __future__ import annotations

import re
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from proxisante.warehouse.schema import TABLES

# Public or vocabulary text that may share words with patients' names (a doctor named Martin).
NAME_TOKENS_EXEMPT = {("provider", "provider_name"), ("concept", "concept_name"), ("care_site", "care_site_name")}
NUMBERS = r"[0-9][0-9AB]{12,14}"  # NIR/INS, also inside longer text
PHONES = r"0[1-9](?:[ .]?[0-9]{2}){4}"


def _digits(value: str) -> str:
    return re.sub(r"[ .]", "", value)


def warehouse_leaks(
    con: duckdb.DuckDBPyConnection, numbers: Iterable[str], phones: Iterable[str], names: Iterable[str]
) -> list[tuple[str, str, str]]:
    """``(table, column, identifier)`` for every identifier found in any warehouse value."""
    kinds = {"number": list(numbers), "phone": [_digits(p) for p in phones if p], "name": list(names)}
    ids = pa.table(
        {
            "ident": [i for values in kinds.values() for i in values],
            "kind": [kind for kind, values in kinds.items() for _ in values],
        }
    )
    con.register("identifiers", ids)
    leaks = []
    for table in TABLES:
        for column in table.columns:
            value = f"CAST({column} AS VARCHAR)"
            token_kinds = (
                "('number', 'phone')" if (table.name, column) in NAME_TOKENS_EXEMPT else "('number', 'phone', 'name')"
            )
            found = con.execute(
                f"""
                WITH v AS (SELECT DISTINCT {value} AS v FROM {table.name} WHERE {column} IS NOT NULL),
                tokens AS (
                    SELECT v AS token FROM v
                    UNION SELECT unnest(regexp_extract_all(v, '{NUMBERS}')) FROM v
                    UNION SELECT replace(replace(unnest(regexp_extract_all(v, '{PHONES}')), ' ', ''), '.', '') FROM v
                    UNION SELECT unnest(regexp_split_to_array(v, '[^[:alpha:]''-]+')) FROM v)
                SELECT DISTINCT i.ident FROM tokens JOIN identifiers i ON i.ident = tokens.token
                WHERE i.kind IN {token_kinds}
                """
            ).fetchall()
            leaks += [(table.name, column, ident) for (ident,) in found]
    con.unregister("identifiers")
    return leaks


def text_leaks(text: str, numbers: Iterable[str], phones: Iterable[str], names: Iterable[str]) -> list[str]:
    words = set(re.split(r"[^\w'-]+", text))
    flat = _digits(text)
    return (
        [n for n in numbers if n in flat]
        + [p for p in phones if p and _digits(p) in flat]
        + [n for n in names if n in words]
    )
