"""Data leaving the structure for research: OMOP CDM exports (:mod:`.omop_export`) and governed
research extracts of declared projects (:mod:`.projects`, :mod:`.anonymity`, :mod:`.extract`)."""
