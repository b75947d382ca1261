"""The pivot format: the tables a structure's export fills (:mod:`.format`), their checks (:mod:`.validation`),
their mapping to OMOP rows (:mod:`.mapping`) and the loader (:mod:`.load`) that FHIR reuses."""
