"""The web services' cache in a network: a load of one structure makes only the figures of the scopes that
hold it stale; the network's and the attributed view's follow every load."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from proxisante.network.scope import Scope
from proxisante.web import services as services_module
from proxisante.web.services import Services
from tests.lib.network import LoadedNetwork


def add_batch(con, structure: str, batch_id: str) -> None:
    now = dt.datetime(2026, 12, 1, 8, 0)
    con.execute(
        "INSERT INTO etl_batch (batch_id, source, started_at, committed_at, files, rows_read, rows_loaded, "
        "rows_quarantined, structure) VALUES (?, ?, ?, ?, 0, 0, 0, 0, ?)",
        [batch_id, structure, now, now, structure],
    )


def test_a_load_of_b_leaves_a_cached(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services_module, "BATCH_TTL_SECONDS", 0.0)  # re-read the batches at every call
    a, b, _ = network.finess
    inst = network.open()
    try:
        whole = Services(inst)
        views = {
            "a": whole.for_scope(Scope.of([a])),
            "b": whole.for_scope(Scope.of([b])),
            "network": whole,
            "a_attributed": whole.for_scope(Scope.of([a]).attributed(dt.date(2026, 6, 30))),
        }
        counter = itertools.count()
        computed = {name: view.cached("figure", None, lambda: next(counter)) for name, view in views.items()}
        assert sorted(computed.values()) == [0, 1, 2, 3]
        add_batch(inst.warehouse.duckdb, b, "99991231T000000-bbbbbbbb")
        again = {name: view.cached("figure", None, lambda: next(counter)) for name, view in views.items()}
        assert again["a"] == computed["a"]  # A's figures do not depend on B's load
        assert again["b"] != computed["b"] and again["network"] != computed["network"]
        assert again["a_attributed"] != computed["a_attributed"]  # attribution reads every structure
        assert views["b"].batch_id() == "99991231T000000-bbbbbbbb" != views["a"].batch_id()
        add_batch(inst.warehouse.duckdb, a, "99991231T000001-aaaaaaaa")
        assert views["a"].cached("figure", None, lambda: next(counter)) != computed["a"]
    finally:
        inst.close()
