"""OMOP CDM 5.4 datasets into the warehouse (:mod:`.importer`), with the official table list (:mod:`.cdm`)."""

from proxisante.sources.omop.importer import OmopFileError, load_omop

__all__ = ["OmopFileError", "load_omop"]
