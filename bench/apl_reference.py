"""The reference the APL engine is checked against: PySAL ``access``'s 2SFCA on the same inputs.

Used by the tests (equality) and the bench (ratio), never by the engine; ``access`` comes with the
``territory-check`` extra and is imported only here, when called.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proxisante.territory.travel import Pairs


def access_2sfca(
    communes: pd.DataFrame, demand: np.ndarray, supply: np.ndarray, pairs: Pairs, variant: Any
) -> np.ndarray:
    """PySAL access's two-step floating catchment with the variant's step weights, in commune order."""
    import access

    codes = communes["code"].astype(str).to_numpy()
    demand_df = pd.DataFrame({"demand": demand}, index=pd.Index(codes, name="geoid"))
    supply_df = pd.DataFrame({"supply": supply}, index=pd.Index(codes, name="geoid"))
    cost_df = pd.DataFrame({"origin": codes[pairs.origin], "dest": codes[pairs.dest], "cost": pairs.minutes})
    model = access.Access(demand_df=demand_df, demand_value="demand", supply_df=supply_df, supply_value="supply",
                          cost_df=cost_df, cost_origin="origin", cost_dest="dest", cost_name="cost")  # fmt: skip
    step = access.weights.step_fn(dict(zip(variant.bounds, variant.weights, strict=True)))
    out = model.two_stage_fca(name="fca", weight_fn=step, max_cost=pairs.max_minutes)
    return out["fca_supply"].reindex(codes).fillna(0.0).to_numpy()
