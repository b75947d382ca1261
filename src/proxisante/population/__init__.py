"""The patientèle of a structure: composition, access to care, chronic registries, flows, risk levels.

``api.Patientele(warehouse, date)`` is the entry point (docs/population.md). The modules: ``panel``
(patientèle médecin traitant, pyramid, composition, patients seen without a médecin traitant),
``registries`` (chronic diseases as data, compiled by the measures compiler), ``flows`` (arrivals,
departures, deaths month by month), ``risk`` (points and levels with their reasons), ``parameters``
(the dated values of ``parameters.yaml``).
"""
