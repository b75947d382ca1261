"""The economic model of a centre: revenue under each payment model, costs, result and uncertainty.

Every tariff and rule is a dated parameter of ``economics/parameters/*.yaml`` (``catalogue.py``).
"""
