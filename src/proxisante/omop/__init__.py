"""The OMOP CDM 5.4: official table and column list, shared by OMOP import (:mod:`proxisante.ingest.omop`) and export
(:mod:`proxisante.research.export`)."""
