"""The OMOP CDM 5.4 tables as the official DDL declares them: names, order, types, NOT NULL.

The column lists are read from ``cdm54_ddl.sql``, a copy of OHDSI's DuckDB DDL, so that the import
checks and the export writes exactly the official columns. The same rules decide, for import and
export alike, which columns are identifiers to re-key and which hold concepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\);", re.DOTALL)
_COLUMN = re.compile(r'"?(\w+)"?\s+(\w+(?:\(\d+\))?)\s+(NOT NULL|NULL)', re.IGNORECASE)

# Tables whose rows describe concepts, not persons or events: their ids are concepts, never re-keyed.
VOCABULARY_TABLES = frozenset(
    {
        "concept",
        "vocabulary",
        "domain",
        "concept_class",
        "concept_relationship",
        "relationship",
        "concept_synonym",
        "concept_ancestor",
        "source_to_concept_map",
        "drug_strength",
    }
)


@dataclass(frozen=True)
class CdmColumn:
    name: str
    sql_type: str  # as written in the DDL: integer, date, TIMESTAMP, NUMERIC, varchar(50), TEXT
    required: bool

    @property
    def kind(self) -> str:
        """``integer``, ``numeric``, ``date``, ``timestamp`` or ``text``."""
        base = self.sql_type.lower().split("(")[0]
        return {"varchar": "text", "text": "text"}.get(base, base)

    @property
    def arrow_type(self) -> pa.DataType:
        return {
            "integer": pa.int32(),
            "numeric": pa.float64(),
            "date": pa.date32(),
            "timestamp": pa.timestamp("us"),
            "text": pa.string(),
        }[self.kind]

    @property
    def is_concept(self) -> bool:
        return self.kind == "integer" and (
            self.name.endswith("concept_id") or self.name in ("concept_id_1", "concept_id_2")
        )

    @property
    def is_person(self) -> bool:
        return self.name in ("person_id", "subject_id")


@dataclass(frozen=True)
class CdmTable:
    name: str
    columns: tuple[CdmColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> CdmColumn:
        return next(c for c in self.columns if c.name == name)

    @property
    def has_person(self) -> bool:
        return "person_id" in self.column_names

    def id_columns(self) -> list[str]:
        """Integer identifiers of rows (own key and references) other than persons and concepts.

        Event references whose table depends on another column (``measurement_event_id``,
        ``cost_event_id``...) are included: ids are re-keyed by one function for every table, so they
        stay right whatever table they point to.
        """
        if self.name in VOCABULARY_TABLES:
            return []
        return [
            c.name
            for c in self.columns
            if c.kind == "integer" and c.name.endswith("_id") and not c.is_concept and not c.is_person
        ]


@cache
def cdm_tables() -> dict[str, CdmTable]:
    """Every table of the CDM 5.4 DDL, by lower-case name, in the DDL's order."""
    text = resources.files(__package__).joinpath("cdm54_ddl.sql").read_text(encoding="utf-8")
    tables = {}
    for name, body in _TABLE.findall(text):
        columns = tuple(CdmColumn(n, t, flag.upper() == "NOT NULL") for n, t, flag in _COLUMN.findall(body))
        tables[name.lower()] = CdmTable(name.lower(), columns)
    return tables
