"""A realistic synthetic French health centre (centre de santé) written in the pivot format.

Why: the warehouse, the loader, the indicators and the benchmarks need data that looks and behaves
like a real centre's exports (age pyramid, chronic conditions, médecin traitant panel, tariffs by
date, imperfect follow-up, real communes, the defects of real files) without a single real patient.

    from proxisante.synth import generate_centre, SynthOptions
    summary = generate_centre(SynthOptions(patients=20_000, seed=42, out=Path("centre")))

Every figure is a parameter with its source in ``parameters.yaml``; ``docs/synth.md`` describes the
model, the files and the defects.
"""

from proxisante.synth.defects import KINDS as DEFECT_KINDS
from proxisante.synth.defects import Defect
from proxisante.synth.generator import CHUNK_SIZE, Progress, SynthOptions, SynthSummary, generate_centre
from proxisante.synth.parameters import Parameters, load_parameters

__all__ = [
    "CHUNK_SIZE",
    "DEFECT_KINDS",
    "Defect",
    "Parameters",
    "Progress",
    "SynthOptions",
    "SynthSummary",
    "generate_centre",
    "load_parameters",
]
