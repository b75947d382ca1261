"""The synthetic supply of general practitioners: credible accessibility where the demo is looked at.

A professional who knows the Creuse or the Cher must not see villages at APL 0,00 nor a rural
département emptied of GPs by a rule that only staffs towns of 1,000 inhabitants: GPs sit in local
centres (towns and the bourgs of rural areas) and serve the communes around them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proxisante.definitions import ParameterFile
from proxisante.synth.geography import load_communes
from proxisante.territory.apl import compute_apl
from proxisante.territory.communes import load_reference
from proxisante.territory.supply import local_centres, synthetic_supply
from proxisante.territory.travel import haversine_km
from tests.lib.paths import TEST_DATA

PARAMS = ParameterFile("proxisante.territory")
FIXTURE = TEST_DATA / "territory" / "communes-23-87.csv"
DEMO_COMMUNE = "18197"  # Saint-Amand-Montrond, the synthetic centre's default commune (synth/parameters.yaml)
# A credible APL for a commune of mainland France (DREES 2021: national mean 3.4 consultations a year per
# inhabitant, 1.5 for the 10 % least served, 5.7 for the 10 % best served).
CREDIBLE = (1.0, 7.0)


@pytest.fixture(scope="module")
def creuse_and_haute_vienne() -> pd.DataFrame:
    return load_reference(FIXTURE)


@pytest.fixture(scope="module")
def around_the_demo_centre() -> pd.DataFrame:
    """The communes the synthetic centre draws its patients from (shipped with the generator), as a reference."""
    extract = load_communes()
    frame = pd.DataFrame(
        {
            "code": extract.insee.astype(str),
            "name": extract.name.astype(str),
            "departement": extract.department.astype(str),
            "population": extract.population.astype("int64"),
            "lat": extract.latitude.astype("float64"),
            "lon": extract.longitude.astype("float64"),
        }
    )
    centre = frame[frame.code == DEMO_COMMUNE].iloc[0]
    km = haversine_km(np.full(len(frame), centre.lat), np.full(len(frame), centre.lon), frame.lat, frame.lon)
    return frame[km <= 40].reset_index(drop=True)


def test_rural_communes_are_served_by_their_local_centre(creuse_and_haute_vienne: pd.DataFrame) -> None:
    communes = creuse_and_haute_vienne
    centre, served = local_centres(communes)
    population = communes.population.to_numpy()
    small = population < PARAMS.value("synthetic_min_population")
    assert centre[small].any() and not centre[small].all()  # bourgs, not every village
    assert served.sum() == population.sum()  # every inhabitant is served by one centre
    assert (served[~centre] == 0).all() and (served[centre] >= population[centre]).all()
    gueret = communes.index[communes.code == "23096"][0]
    assert centre[gueret] and served[gueret] > population[gueret]


def test_no_commune_of_the_creuse_is_left_at_apl_zero(creuse_and_haute_vienne: pd.DataFrame) -> None:
    communes = creuse_and_haute_vienne
    supply = synthetic_supply(communes)
    result = compute_apl(communes, supply).communes
    creuse = result[result.departement == "23"]
    print(f"Creuse: APL min {creuse.apl.min():.2f}, {len(creuse[creuse.apl == 0])} communes at 0")
    assert (creuse.apl > 0).all()
    # The rural département keeps GPs in proportion to its people (within a factor 2), not a third of them.
    fte_share = creuse.fte.sum() / result.fte.sum()
    population_share = creuse.population.sum() / result.population.sum()
    assert 0.5 * population_share <= fte_share <= 2 * population_share
    mean = float((creuse.apl * creuse.population).sum() / creuse.population.sum())
    assert CREDIBLE[0] <= mean <= CREDIBLE[1]


def test_the_demo_centre_commune_and_its_neighbours_have_a_credible_apl(around_the_demo_centre: pd.DataFrame) -> None:
    communes = around_the_demo_centre
    result = compute_apl(communes, synthetic_supply(communes)).communes
    centre = result[result.code == DEMO_COMMUNE].iloc[0]
    km = haversine_km(np.full(len(result), centre.lat), np.full(len(result), centre.lon), result.lat, result.lon)
    neighbours = result[km <= 15]
    low, high = neighbours.apl.min(), neighbours.apl.max()
    print(f"{centre['name']}: APL {centre.apl:.2f}; {len(neighbours)} communes within 15 km, APL {low:.2f}-{high:.2f}")
    assert len(neighbours) > 20
    assert centre.fte > 0
    assert neighbours.apl.between(*CREDIBLE).all()
