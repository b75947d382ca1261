"""Table definitions of the warehouse: OMOP CDM 5.4 (the subset we use), a French extension, and the
bookkeeping of loads.

Column names and order follow the official OMOP CDM 5.4 DDL, so that OHDSI tools read our tables;
every ``*_id`` is BIGINT (the official DDL uses 32-bit integers, too small for keyed hashes). French
codes (CIM-10, ATC/CIP13, NABM, CCAM, NGAP) are kept in the ``*_source_value`` columns, their local
concept in ``*_source_concept_id``. ``docs/warehouse.md`` documents the French extension.

The tables are data, in ``schema.yaml`` (one entry per table, in creation order): this module reads it
once and gives each table a typed :class:`TableDef`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import ibis
import yaml
from ibis.expr.schema import Schema

# The column types of schema.yaml, as Ibis types.
TYPES = {
    "id": "int64",
    "concept": "int64",
    "int32": "int32",
    "int64": "int64",
    "float": "float64",
    "date": "date",
    "timestamp": "timestamp",
    "text": "string",
    "money": "decimal(12, 2)",
}
GROUPS = ("omop", "fr", "etl")  # OMOP CDM, French extension, load bookkeeping
# How a table lives in a warehouse shared by several structures (the header of schema.yaml).
NETWORK_KINDS = ("rows", "one_per_key", "spans", "shared")
STRUCTURE = "structure"  # the last column of every table but the shared ones: the FINESS of its structure


@dataclass(frozen=True)
class TableDef:
    """One warehouse table: its schema, the column that identifies a row, and what it is for."""

    name: str
    columns: dict[str, str]
    key: str | None
    description: str
    group: str  # "omop", "fr" (French extension) or "etl" (load bookkeeping)
    network: str = "rows"  # one of NETWORK_KINDS

    @property
    def schema(self) -> Schema:
        return ibis.schema(self.columns)

    @property
    def per_structure(self) -> bool:
        """Whether each row says which structure it belongs to (every table but the vocabularies)."""
        return self.network != "shared"

    @property
    def upsert_key(self) -> list[str]:
        """The columns a load upserts on: the key, within the structure for a table that has one."""
        if self.key is None:
            return []
        return [self.key, STRUCTURE] if self.per_structure else [self.key]


def read_tables() -> tuple[TableDef, ...]:
    """The tables of ``schema.yaml``, in order; an unknown type or group is a packaging error."""
    entries = yaml.safe_load((resources.files(__package__) / "schema.yaml").read_text(encoding="utf-8"))
    tables = []
    for name, entry in entries.items():
        network = entry.get("network", "rows")
        if entry["group"] not in GROUPS or network not in NETWORK_KINDS:
            raise ValueError(f"schema.yaml: table {name}: unknown group or network kind")
        columns = {column: TYPES[kind] for column, kind in entry["columns"].items()}
        if network != "shared":
            columns[STRUCTURE] = TYPES["text"]
        tables.append(TableDef(name, columns, entry["key"], entry["description"], entry["group"], network))
    return tuple(tables)


TABLES: tuple[TableDef, ...] = read_tables()
TABLES_BY_NAME: dict[str, TableDef] = {t.name: t for t in TABLES}

# The tables the code names directly.
PERSON = TABLES_BY_NAME["person"]
VISIT_OCCURRENCE = TABLES_BY_NAME["visit_occurrence"]
CONDITION_OCCURRENCE = TABLES_BY_NAME["condition_occurrence"]
DRUG_EXPOSURE = TABLES_BY_NAME["drug_exposure"]
PROCEDURE_OCCURRENCE = TABLES_BY_NAME["procedure_occurrence"]
MEASUREMENT = TABLES_BY_NAME["measurement"]
DEATH = TABLES_BY_NAME["death"]
PROVIDER = TABLES_BY_NAME["provider"]
CARE_SITE = TABLES_BY_NAME["care_site"]
LOCATION = TABLES_BY_NAME["location"]
COST = TABLES_BY_NAME["cost"]
PAYER_PLAN_PERIOD = TABLES_BY_NAME["payer_plan_period"]
CONCEPT_TABLE = TABLES_BY_NAME["concept"]
VOCABULARY = TABLES_BY_NAME["vocabulary"]
MT_DECLARATION = TABLES_BY_NAME["fr_mt_declaration"]
COVERAGE_PERIOD = TABLES_BY_NAME["fr_coverage_period"]
BILLED_ACT = TABLES_BY_NAME["fr_billed_act"]
PROVIDER_ACTIVITY = TABLES_BY_NAME["fr_provider_activity"]
CARE_SITE_FR = TABLES_BY_NAME["fr_care_site"]
LOAD_BATCH = TABLES_BY_NAME["etl_batch"]
LOAD_MANIFEST = TABLES_BY_NAME["etl_manifest"]
QUARANTINE = TABLES_BY_NAME["etl_quarantine"]
WAITING = TABLES_BY_NAME["etl_waiting"]
