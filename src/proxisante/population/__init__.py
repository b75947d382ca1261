"""Patientèle médecin traitant: composition, registries, flows, risk levels, prevention plans."""
