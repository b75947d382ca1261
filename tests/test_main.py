"""``proxisante.main``: each use case the CLI and the web share, on a small installation; then one figure
asked through ``proxisante territoire apl`` and through ``/api/territory/apl`` to check both give it."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from proxisante import main
from proxisante.cli import app as cli
from proxisante.economics.costs import CostsError
from proxisante.economics.profile import ProfileError
from proxisante.installation import Installation, open_installation
from proxisante.measures.periods import parse_period
from proxisante.network.scope import Scope, ScopedTables
from proxisante.settings import Settings
from proxisante.territory.communes import load_reference, reference_path
from proxisante.territory.supply import synthetic_supply
from proxisante.warehouse.schema import TABLES_BY_NAME
from proxisante.web.security.accounts import AccountStore
from tests.economics.test_profile import hand_written_centre
from tests.lib.paths import TEST_DATA
from tests.lib.web import PASSWORD, login, make_app

COMMUNES = TEST_DATA / "territory" / "communes-23-87.csv"
NETWORK = Scope.network()
SITE = "23096"  # the commune of the centre's site (Guéret), inside the communes fixture


def insert(warehouse, name: str, rows: list[dict]) -> None:
    schema = TABLES_BY_NAME[name].schema.to_pyarrow()
    full = [{c: row.get(c) for c in schema.names} for row in rows]
    warehouse.backend.insert(name, pa.Table.from_pylist(full, schema=schema))


def small_centre(installation: Installation) -> None:
    """Three patients, a GP (0.8 FTE) and a nurse, acts of 2024 and 2025; their site is in Guéret."""
    hand_written_centre(installation.warehouse)
    insert(installation.warehouse, "location", [{"location_id": int(SITE), "location_source_value": SITE}])
    insert(installation.warehouse, "care_site", [{"care_site_id": 1, "location_id": int(SITE)}])


@pytest.fixture
def centre(installation: Installation) -> Installation:
    small_centre(installation)
    return installation


def test_warehouse_profile_defaults_to_the_last_full_year(centre: Installation, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(main, "profile_from_warehouse", lambda tables, year: asked.append((tables, year)))
    main.warehouse_profile(centre, scope=NETWORK)
    main.warehouse_profile(centre, 2023, scope=NETWORK)
    # the last act is on 1 May 2025: 2025 is not over in the data
    assert [year for _, year in asked] == [2024, 2023]
    for tables, _ in asked:  # read through the scope's view, never the raw warehouse
        assert isinstance(tables, ScopedTables) and tables.scope == NETWORK


def test_warehouse_profile_leaves_the_excluded_persons_out(centre: Installation, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(main, "profile_from_warehouse", lambda tables, year: asked.append((tables, year)))
    main.warehouse_profile(centre, 2025, excluded=[1], scope=NETWORK)  # the diabetic of 75 years
    ((tables, year),) = asked
    persons = tables.execute(tables.table("person").person_id)
    assert year == 2025 and sorted(persons) == [2, 3]
    assert len(tables.execute(tables.table("fr_billed_act"))) == 2  # the acts of the two others only


def test_an_empty_warehouse_has_no_profile(installation: Installation) -> None:
    with pytest.raises(main.NoBilledActs, match="aucun acte facturé") as refused:
        main.warehouse_profile(installation, scope=NETWORK)
    assert isinstance(refused.value, ProfileError)  # the CLI refuses it with the other profile errors


def test_profile_then_payment_simulation(centre: Installation, tmp_path: Path) -> None:
    profile = main.warehouse_profile(centre, 2025, scope=NETWORK)
    assert profile.year == 2025 and profile.centre == "Centre (entrepôt)" and profile.patients == 2
    simulation = main.payment_simulation(profile, draws=100, seed=1)
    assert simulation.years == [2025] and simulation.costs.example and simulation.draws == 100
    assert main.payment_simulation(profile, None, (2025, 2026), draws=100).years == [2025, 2026]
    with pytest.raises(CostsError, match="introuvable"):  # the costs are read before any draw
        main.payment_simulation(profile, tmp_path / "missing.yaml", draws=100)


def test_patientele_gives_every_table_both_sides_show(centre: Installation) -> None:
    on, period = dt.date(2025, 12, 31), parse_period("2025")
    tables = main.patientele(centre, on, period, scope=NETWORK)
    assert set(tables) == {"pyramid", "composition", "by_provider", "access", "risk", "flows"}
    assert int(tables["pyramid"].patients.sum()) == 2  # two patients have their médecin traitant here
    gp = "10000000001"  # the médecin traitant of both
    assert set(tables["composition"].mt_rpps) == {"Total"} and set(tables["by_provider"].mt_rpps) == {gp, "Total"}
    assert set(tables["flows"].mt_rpps) == {"Total"}
    per_gp = main.patientele(centre, on, period, scope=NETWORK, by_provider=True, excluded=[1])
    assert set(per_gp["flows"].mt_rpps) == {gp, "Total"}
    assert int(per_gp["pyramid"].patients.sum()) == 1  # the objector is left out


def test_centre_supply_and_accessibility(centre: Installation) -> None:
    communes = load_reference(COMMUNES)
    assert main.centre_supply(centre, dt.date(2025, 12, 31), scope=NETWORK).fte.to_dict() == {SITE: 0.8}
    national = main.accessibility(communes)
    with_centre = main.centre_accessibility(centre, communes, scope=NETWORK)
    fte = dict(zip(national.communes.code, national.communes.fte, strict=True))
    fte_centre = dict(zip(with_centre.communes.code, with_centre.communes.fte, strict=True))
    assert fte_centre[SITE] == pytest.approx(fte[SITE] + 0.8)
    assert {c: f for c, f in fte_centre.items() if c != SITE} == {c: f for c, f in fte.items() if c != SITE}
    assert with_centre.supply.synthetic and "centre" in with_centre.supply.label
    given = main.accessibility(communes, synthetic_supply(communes, seed=1))
    assert not given.communes.fte.equals(national.communes.fte)


def test_the_cli_and_the_web_give_the_same_apl(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``territoire apl --centre`` and ``/api/territory/apl``, each through its own entry point, over the
    same installation and communes reference: the same APL for every commune of the Creuse."""
    settings = Settings()
    installation = open_installation(settings)
    try:
        small_centre(installation)
    finally:
        installation.close()
    target = reference_path(settings.home_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    load_reference(COMMUNES).to_parquet(target)

    printed = CliRunner().invoke(cli, ["territoire", "apl", "--centre", "--departement", "23", "--format", "csv"])
    assert printed.exit_code == 0, printed.output
    by_cli = pd.read_csv(io.StringIO(printed.stdout), sep=";", decimal=",", dtype={"code": str})

    AccountStore(settings.accounts).add("coordinateur", PASSWORD, ["coordinateur"])
    web = make_app(Settings(secure_cookies=False))
    try:
        client = TestClient(web, base_url="http://127.0.0.1")
        login(client, "coordinateur")
        answer = client.get("/api/territory/apl", params={"departement": "23", "limit": 10_000})
    finally:
        web.state.web.installation.close()
    assert answer.status_code == 200, answer.text
    by_web = pd.DataFrame(answer.json()["rows"])

    assert len(by_cli) == len(by_web) == answer.json()["communes"] > 0
    cli_apl = dict(zip(by_cli.code, by_cli.apl, strict=True))
    web_apl = dict(zip(by_web.code, by_web.apl, strict=True))
    assert cli_apl == pytest.approx(web_apl)
    site = by_web[by_web.code == SITE].iloc[0]
    assert site.fte == pytest.approx(float(by_cli[by_cli.code == SITE].fte.iloc[0])) and site.fte >= 0.8
