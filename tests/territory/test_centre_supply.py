"""The centre's own general practitioners as supply: FTE by the commune of their site, on a date."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from proxisante.territory.supply import Supply, combined, warehouse_supply
from proxisante.warehouse.schema import TABLES_BY_NAME
from tests.lib.measure_fixture import Centre


def insert(warehouse, name: str, rows: list[dict]) -> None:
    schema = TABLES_BY_NAME[name].schema.to_pyarrow()
    full = [{c: row.get(c) for c in schema.names} for row in rows]
    warehouse.backend.insert(name, pa.Table.from_pylist(full, schema=schema))


def test_centre_gps_by_commune_of_their_site() -> None:
    centre = Centre()
    centre.patient("p", "1950-01-01", commune="23096")
    warehouse = centre.warehouse()  # providers 1 and 2 work at care site 1
    insert(warehouse, "care_site", [{"care_site_id": 1, "location_id": 23096}])
    insert(warehouse, "fr_provider_activity", [
        {"provider_id": 1, "profession": "MG", "fte": 0.8, "start_date": dt.date(2020, 1, 1)},
        {"provider_id": 2, "profession": "MG", "fte": 0.5, "start_date": dt.date(2020, 1, 1),
         "end_date": dt.date(2025, 6, 30)},
    ])  # fmt: skip
    supply = warehouse_supply(warehouse, dt.date(2025, 12, 31))
    assert supply.fte.to_dict() == {"23096": 0.8} and not supply.synthetic
    earlier = warehouse_supply(warehouse, dt.date(2025, 1, 1))
    assert earlier.fte.to_dict() == {"23096": 1.3}
    file_supply = Supply(pa.array([2.0]).to_pandas().set_axis(["23096"]), "offre : fichier")
    both = combined(file_supply, supply)
    assert both.fte.to_dict() == {"23096": 2.8} and "centre" in both.label
