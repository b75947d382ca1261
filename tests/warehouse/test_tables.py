"""The ``Tables`` protocol: the warehouse and reporting's view without some persons both read tables."""

from __future__ import annotations

from proxisante.reporting.counts import WithoutPersons
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.tables import Tables


def test_the_warehouse_and_a_view_without_persons_are_tables() -> None:
    warehouse = Warehouse.connect("duckdb://")
    try:
        view = WithoutPersons(warehouse, [1])
        assert isinstance(warehouse, Tables) and isinstance(view, Tables)
        assert int(view.execute(view.table("person").count())) == 0
        assert list(view.execute(view.table("person").limit(1)).columns) == list(warehouse.table("person").columns)
    finally:
        warehouse.close()
