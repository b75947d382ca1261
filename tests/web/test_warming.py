"""The background recomputation of a structure's default views after its load (``web/warming.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from proxisante.ingest import FORMATS
from proxisante.measures.definition import library
from proxisante.network.scope import Scope
from proxisante.network.structures import load_source
from proxisante.settings import Settings
from proxisante.synth.network import generate_network
from proxisante.web import services as services_module
from proxisante.web.security.scopes import Registry, registry_of, scope_of
from proxisante.web.services import Services, period_of, trend_months
from proxisante.web.warming import Warmer, scopes_to_warm
from tests.lib.network import LoadedNetwork


def test_scopes_of_a_changed_structure_come_before_its_cpts_and_the_network(network: LoadedNetwork) -> None:
    registry = registry_of(Settings(home=network.home))
    first, second, _ = network.finess
    cpts = {s.finess: s.cpts for s in registry.structures}

    scopes = scopes_to_warm({second, first}, registry)

    expected = [scope_of(finess, None, registry) for finess in sorted((first, second))]
    expected += [scope_of(None, name, registry) for name in sorted({cpts[first], cpts[second]} - {None})]
    assert scopes == [*expected, Scope.network()]


def test_a_single_centre_warms_the_network_only_and_nothing_without_a_change() -> None:
    assert scopes_to_warm({""}, Registry(())) == [Scope.network()]
    assert scopes_to_warm(set(), Registry(())) == []


def test_a_load_of_one_structure_warms_its_views_and_only_those_it_made_stale(
    network: LoadedNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installation = network.open()
    services = Services(installation)
    warmer = Warmer(services, installation.settings, interval=0, trends=False)  # trends: the test below
    registry = registry_of(installation.settings)
    first, second, third = network.finess
    try:
        assert len(warmer.run_once()) >= 4  # each structure, its CPTS if any, the network
        assert warmer.run_once() == []  # nothing loaded since

        # the second structure's next extract: the same network three months further
        options = replace(network.summary.options, out=tmp_path / "next", end=date(2026, 9, 30))
        plan = generate_network(options).plans[1]
        FORMATS[plan.source.drop_format].load(plan.folder(options), installation, load_source(second), structure=second)
        services._shared.batches = (0.0, {})  # read the last batches now rather than in two seconds

        warmed = warmer.run_once()

        assert warmed[0] == scope_of(second, None, registry)
        assert warmed[-1] == Scope.network()
        assert scope_of(first, None, registry) not in warmed
        assert scope_of(third, None, registry) not in warmed
        # the page's first view after the load is served from what was computed in the background
        computed: list[object] = []
        real_run = services_module.run
        monkeypatch.setattr(services_module, "run", lambda *a, **k: computed.append(a) or real_run(*a, **k))
        view = services.for_scope(scope_of(second, None, registry))
        view.results(period_of(str(view.default_year())))
        assert computed == []
    finally:
        services.close()


def test_trend_months_never_run_after_the_last_data() -> None:
    year = period_of("2025")
    assert trend_months(year, date(2026, 6, 30), False) == (date(2025, 1, 1), date(2025, 12, 1))
    assert trend_months(year, date(2025, 6, 30), False) == (date(2024, 7, 1), date(2025, 6, 1))
    assert trend_months(year, date(2025, 6, 30), True) == (date(2023, 1, 1), date(2025, 6, 1))
    assert trend_months(year, None, False) == (date(2025, 1, 1), date(2025, 12, 1))


def test_warm_computes_every_indicator_page_trend(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    installation = network.open()
    services = Services(installation)
    smallest = network.finess[-1]
    view = services.for_scope(Scope.of([smallest]))
    computed: list[str] = []
    real_series = services_module.series
    monkeypatch.setattr(
        services_module, "series", lambda t, m, *a, **k: computed.append(m.id) or real_series(t, m, *a, **k)
    )
    try:
        view.warm(trends=False)
        assert computed == []
        view.warm()
        assert sorted(computed) == sorted(library())  # each indicator's page, once
        first, last = trend_months(period_of(str(view.default_year())), view.last_data(), False)
        view.series(library()[computed[0]], first, last)  # what the page asks: served from the cache
        assert len(computed) == len(library())
    finally:
        services.close()
