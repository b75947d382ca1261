"""The use cases that the command line and the web application share, each written once.

As in ehrQL's ``main.py``, there is one plain function per use case. ``cli/`` parses its options, calls
one of these functions and prints the answer; ``web/services.py`` calls the same function under its
lock and cache, and the routes present the answer. So the CLI and the web cannot drift apart: before
this module, "the profile of the last full year" and "the APL with the centre's own GPs" were each
written twice, and a fix to one copy would have left the other giving another figure for the same
question.

What belongs here: a use case that both sides need and that takes more than one call to a domain
package (a default, a combination, a check before a long computation). A use case only one side has
(the signed report, research extracts, the care-gap lists with names) stays with its caller, and so
does a single call to one domain package (``warehouse_status``, ``results.run``), which would gain nothing from
a wrapper.

The functions take the :class:`~proxisante.installation.Installation` (or what they compute on) and
return the domain packages' own objects. They print nothing, know nothing of HTTP or roles, cache nothing,
and their errors are the domain packages' errors (French messages), for each caller to present.
This module sits above the domain packages and below ``cli/`` and ``web/``: it imports neither.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from proxisante.economics.costs import load_costs
from proxisante.economics.profile import Profile, ProfileError
from proxisante.economics.profile_warehouse import last_full_year, profile_from_warehouse
from proxisante.economics.uncertainty import DEFAULT_DRAWS, DEFAULT_SEED, Simulation, simulate
from proxisante.installation import Installation
from proxisante.measures.periods import Period
from proxisante.network.scope import Scope, ScopedTables
from proxisante.population.patientele import Patientele
from proxisante.reporting.counts import WithoutPersons
from proxisante.territory.apl import Accessibility, compute_apl
from proxisante.territory.supply import Supply, combined, synthetic_supply, warehouse_supply

# -- scope ----------------------------------------------------------------------------------------------------


def scoped(installation: Installation, scope: Scope) -> ScopedTables:
    """The installation's warehouse as ``scope`` sees it: what every use case below reads, so that none
    can see further than the structures its caller may (``network.scope``)."""
    return ScopedTables(installation.warehouse, scope)


# -- economics ----------------------------------------------------------------------------------------------


class NoBilledActs(ProfileError):
    """The warehouse holds no billed act, so it has no year to profile. The message is French and ends
    where each caller adds what to do (the CLI: give a profile file; the web: load an export first)."""


def warehouse_profile(
    installation: Installation, year: int | None = None, excluded: Iterable[int] = (), *, scope: Scope
) -> Profile:
    """The economic profile of ``scope`` read from the warehouse: for ``year``, or by default the last full
    calendar year of its acts (``economics.profile_warehouse.last_full_year``), panel on 31 December.

    ``excluded`` persons (the patients who objected, for an audience outside the care team) are in none
    of the tables the profile reads. The profile of a scope narrower than the network carries the scope's
    name (a structure's name from the registry, a CPTS), so that two profiles cannot be mistaken for one
    another. Raises :class:`NoBilledActs` for an empty warehouse and ``ProfileError`` for a profile the
    economic model refuses. Runs the ROSP measures: seconds."""
    visible = scoped(installation, scope)
    chosen = year or last_full_year(visible)
    if chosen is None:
        raise NoBilledActs("l'entrepôt ne contient aucun acte facturé : chargez un export")
    persons = frozenset(excluded)
    tables = WithoutPersons(visible, persons) if persons else visible
    if scope.is_network:
        return profile_from_warehouse(tables, chosen)
    return profile_from_warehouse(tables, chosen, centre=scope.name)


def payment_simulation(
    profile: Profile,
    costs_file: Path | None = None,
    years: Iterable[int] = (),
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    tornado_model: str = "acte",
) -> Simulation:
    """Every payment model for ``years`` (default: the profile's year), with its Monte Carlo bands and
    the tornado of ``tornado_model``, under the centre's costs (``costs_file``; default: the EXAMPLE).

    The costs are read and checked against the profile first (a salary line of a profession the profile
    does not have is a ``ProfileError``), so that a wrong file is refused before the draws."""
    costs = load_costs(costs_file)
    costs.by_item(profile)
    return simulate(profile, costs, list(years) or [profile.year], draws=draws, seed=seed, tornado_model=tornado_model)


# -- population ---------------------------------------------------------------------------------------------


def patientele(
    installation: Installation,
    on: dt.date,
    period: Period,
    *,
    scope: Scope,
    by_provider: bool = False,
    excluded: Iterable[int] = (),
) -> dict[str, pd.DataFrame]:
    """The patientèle médecin traitant on ``on``, as the tables both sides show:

    ``pyramid`` (age and sex), ``composition`` (registries, C2S, ALD: whole structure), ``by_provider``
    (the same per médecin traitant), ``access`` (patients seen with and without a médecin traitant),
    ``risk`` (risk levels) and ``flows`` (declarations over ``period``, per médecin traitant when
    ``by_provider``). ``excluded`` persons (objectors) are left out of every table but the flows."""
    with Patientele(scoped(installation, scope), on, exclude_person_ids=excluded) as p:
        return {
            "pyramid": p.pyramid(by_provider=False),
            "composition": p.composition(by_provider=False),
            "by_provider": p.composition(by_provider=True),
            "access": p.access(),
            "risk": p.risk_levels(by_provider=False),
            "flows": p.flows(period, by_provider=by_provider),
        }


# -- territory ----------------------------------------------------------------------------------------------


def centre_supply(installation: Installation, on: dt.date | None = None, *, scope: Scope) -> Supply:
    """The general practitioners of ``scope``'s structures as APL supply: FTE by the commune of their site,
    on ``on`` (default: today, the staff they have now)."""
    return warehouse_supply(scoped(installation, scope), on or dt.date.today())


def accessibility(
    communes: pd.DataFrame,
    supply: Supply | None = None,
    variant: str | None = None,
    *,
    travel: Path | None = None,
    ages: pd.DataFrame | None = None,
    centre: Supply | None = None,
) -> Accessibility:
    """The APL of every commune of the reference: ``supply`` (default: the synthetic national supply,
    marked as such in the notes), plus the ``centre``'s own GPs when given (:func:`centre_supply`);
    ``variant``, ``travel`` (a time matrix) and ``ages`` as ``territory.apl.compute_apl`` takes them."""
    offer = supply if supply is not None else synthetic_supply(communes)
    if centre is not None:
        offer = combined(offer, centre)
    return compute_apl(communes, offer, variant, matrix=travel, ages=ages)


def centre_accessibility(installation: Installation, communes: pd.DataFrame, *, scope: Scope) -> Accessibility:
    """The APL the territory page shows and ``proxisante territoire apl --centre`` prints without a supply
    file: the synthetic national supply with the GPs of ``scope``'s structures today."""
    return accessibility(communes, centre=centre_supply(installation, scope=scope))
