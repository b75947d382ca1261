"""Ingestion: a structure's export files (pivot CSV, FHIR R4, OMOP CDM 5.4) into the warehouse, one atomic batch
at a time."""
