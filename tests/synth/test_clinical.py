"""Vaccinations of the synthetic centre, measured as the indicators measure them: shingles (65+, two doses)
and Covid-19 (65+, and adults under 65 at risk) at plausible French levels, never the 0 % of a generator
that writes the wrong codes, one dose where two are counted, or nothing for a population.

The centre is the demo's seed at a smaller size, loaded by the real loader and measured by the real
library on the demo's period (2025).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.measures.definition import measure
from proxisante.measures.periods import parse_period
from proxisante.measures.results import run
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre

# Plausible bands for a centre's rate in 2025 (national levels in parameters.yaml, section vaccinations):
# shingles a few percent (SPF: about 4 % of people aged 65-74 in 2024), Covid-19 about 30 % of people
# aged 65+ in the 2023-2024 campaign, and low among adults under 65 at risk (10 % assumed, [U]).
BANDS = {"vax_zoster_65": (0.01, 0.10), "fmt_covid_65": (0.15, 0.40), "fmt_covid_at_risk": (0.03, 0.20)}


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    root = tmp_path_factory.mktemp("vaccinations")
    generate_centre(SynthOptions(patients=8_000, seed=2026, out=root / "centre"))
    settings = Settings(
        home=root / "home", warehouse_url=f"duckdb://{root / 'warehouse.duckdb'}",
        key_file=root / "key", vault_path=root / "vault.duckdb",
    )  # fmt: skip
    inst = open_installation(settings)
    try:
        load_pivot(root / "centre", inst, source="centre")
        result = run(inst.warehouse, parse_period("2025"), [measure(name) for name in BANDS])
        table = result.table
        yield table[table.stratifier == ""].set_index("measure_id")
    finally:
        inst.close()


@pytest.mark.parametrize("name", sorted(BANDS))
def test_vaccination_rates_are_at_plausible_national_levels(rates: pd.DataFrame, name: str) -> None:
    row = rates.loc[name]
    low, high = BANDS[name]
    print(f"{name}: {int(row.numerator)} / {int(row.eligible)} = {row.rate:.3f}")
    assert row.eligible >= 150
    assert low <= row.rate <= high
