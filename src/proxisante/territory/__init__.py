"""Territory: communes of France, supply, travel times, APL (2SFCA), deserts, CPTS sizing, siting.

Independent of the warehouse: it reads a communes reference (``communes``), a supply (``supply``),
computes sparse travel times (``travel``) and the DREES APL (``apl``), sizes a CPTS (``cpts``) and
answers "where should a new centre go?" (``siting``). Every figure comes from ``parameters.yaml``.
"""
