"""FHIR R4 sources: SQL-on-FHIR v2 ViewDefinitions run set-based on DuckDB.

A ViewDefinition (the declarative, standard FHIR-to-table mapping) is compiled to one SQL query over
a table of resources held as JSON (:func:`compile_view`), then run on a DuckDB connection
(:func:`run_view`). Invalid views raise :class:`ViewDefinitionError`, whose message names the path of
the bad element. See ``docs/sql-on-fhir.md``.
"""

from proxisante.ingest.fhir.views import ViewDefinitionError, compile_view, run_view

__all__ = ["ViewDefinitionError", "compile_view", "run_view"]
