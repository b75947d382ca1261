"""The one permission table of the web application: which role may call which route.

Every route of the application (pages and JSON API) has a *name*; ``PERMISSIONS`` maps each name to
the roles allowed, and ``auth.authorize`` (a dependency of every router) looks the current route up
here, so that no route can be added without a decision. A route missing from the table is refused
to everyone, and ``tests/web/test_permissions.py`` checks every route against every role.

Roles (an account may hold several; it may call a route if one of its roles may):

- ``soignant``: a clinician of the structure, linked to their RPPS; aggregates of the structure and
  nominative lists of the patients whose médecin traitant they are, and of no one else;
- ``coordinateur``: coordination of the whole structure, nominative lists of every patient;
- ``gestionnaire``: management, aggregates and the economic model, never a name;
- ``chercheur``: aggregates after disclosure control (small cells masked), never a name;
- ``reseau``: the network's analysts (EDS): aggregates across the structures, each structure named (a
  ``?structure=`` narrows to one), after disclosure control, never a name;
- ``cpts``: the coordination of a CPTS: aggregates over the member structures of its CPTS, after
  disclosure control, never a name;
- ``admin``: accounts, audit log, data quality and status; aggregates, never a name.

Where an account reads (its *scope*, ``security.scopes``): an account belongs to one structure (its FINESS)
or to the network; a ``cpts`` account to its CPTS (the registry's members of it). Care roles read only in
their own structure once the registry has structures; ``reseau`` reads the network, ``cpts`` its CPTS;
the other roles read where their account belongs. ``MEMBERSHIP`` says which belonging each role may have,
checked when an account is created (``check_membership``) and again on every request.

The **care team** (``soignant``, ``coordinateur``) reads names and sees the domain packages' figures as they
are. Every other account is a *protected audience* (``protected_audience``): its aggregates go through
``api.access`` (published periods only, objecting patients left out, disclosure control).

Separation of duties: an account that reads names cannot also administer accounts (``check_roles``
refuses ``admin`` with ``soignant`` or ``coordinateur``), and the web administration creates no
account that reads names (``web_may_create``): those are created on the server, by whoever runs it,
with ``proxisante users add`` (who can already read the identity vault's file).
"""

from __future__ import annotations

from collections.abc import Iterable

ROLES: dict[str, str] = {
    "soignant": "Soignant (ses patients)",
    "coordinateur": "Coordinateur (toute la structure)",
    "gestionnaire": "Gestionnaire (agrégats, économie)",
    "chercheur": "Chercheur (agrégats protégés)",
    "reseau": "Analyste du réseau (agrégats protégés, par structure)",
    "cpts": "Coordination CPTS (agrégats protégés des structures membres)",
    "admin": "Administrateur",
}

# Where an account holding the role may belong: "structure" (one FINESS), "network" (no structure, no
# CPTS), "cpts" (a CPTS of the registry). A care role's "network" is only for a single centre (empty registry).
MEMBERSHIP: dict[str, frozenset[str]] = {
    "soignant": frozenset({"structure", "network"}),
    "coordinateur": frozenset({"structure", "network"}),
    "gestionnaire": frozenset({"structure", "network"}),
    "chercheur": frozenset({"structure", "network"}),
    "reseau": frozenset({"network"}),
    "cpts": frozenset({"cpts"}),
    "admin": frozenset({"structure", "network"}),
}

_ALL = frozenset(ROLES)
_NOMINATIVE = frozenset({"soignant", "coordinateur"})
CARE_TEAM = _NOMINATIVE  # the roles that read names, and see figures unprotected
_WAREHOUSE = _ALL - {"chercheur"}  # operational metadata of the warehouse (row counts of files and tables)
_ECONOMICS = frozenset({"coordinateur", "gestionnaire", "admin"})
_QUALITY = frozenset({"coordinateur", "gestionnaire", "reseau", "cpts", "admin"})
_ADMIN = frozenset({"admin"})

# Routes anyone may call, signed in or not: the login form and the static files; and the door of the server's
# own command line, which no session opens: its guard is the token of serveur.json and the loopback
# (``web/internal.py``).
PUBLIC = frozenset(
    {"login_form", "login", "static", "plotly_js", "openapi", "swagger_ui_html", "swagger_ui_redirect", "redoc_html"}
    | {"internal_command"}
)

PERMISSIONS: dict[str, frozenset[str]] = {
    # pages
    "page_dashboard": _ALL,
    "home_own_actions": frozenset({"soignant"}),  # counts of his own work list, for his home page
    "page_patientele": _ALL,
    "page_indicators": _ALL,
    "page_indicator": _ALL,
    "page_indicator_patients": _NOMINATIVE,
    "page_actions": _NOMINATIVE,
    "export_actions": _NOMINATIVE,
    "page_prevention_plan": _NOMINATIVE,
    "page_economics": _ECONOMICS,
    "economics_run": _ECONOMICS,
    "economics_workbook": _ECONOMICS,
    "economics_costs": _ECONOMICS,  # the structure's costs: upload, entry, back to the example (audited)
    "economics_costs_csv": _ECONOMICS,
    "page_territory": _ALL,
    "territory_whatif": _ALL,
    "page_quality": _QUALITY,
    "page_admin": _ADMIN,
    "admin_add_account": _ADMIN,
    "admin_disable_account": _ADMIN,
    "admin_unlock_account": _ADMIN,
    "admin_add_structure": _ADMIN,
    "admin_leave_structure": _ADMIN,
    "admin_upload_extract": _ADMIN,
    "admin_extract_status": _ADMIN,
    "logout": _ALL,
    # JSON API
    "api_me": _ALL,
    "api_status": _WAREHOUSE,
    "api_patientele": _ALL,
    "api_measures": _ALL,
    "api_measure_results": _ALL,
    "api_measure_series": _ALL,
    "api_gaps": _NOMINATIVE,
    "api_prevention": _NOMINATIVE,
    "api_economics": _ECONOMICS,
    "api_territory_apl": _ALL,
    "api_territory_cpts": _ALL,
    "api_territory_siting": _ALL,
    "api_quality": _QUALITY,
    "api_audit": _ADMIN,
    "api_accounts": _ADMIN,
}

# Routes of the network's administration: the registry of structures is the network's, so a structure's admin
# (an admin account with a structure) is refused them (``auth.authorize``, 403 in French).
NETWORK_ADMIN_ROUTES = frozenset({"admin_add_structure", "admin_leave_structure"})

# Routes that show named patients (or pseudonymised per-person rows): every call is audited, and a response
# of one of them that wrote no audit row is withheld by the application (``api.app.unaudited_read_withheld``).
NOMINATIVE_ROUTES = frozenset(name for name, roles in PERMISSIONS.items() if roles == _NOMINATIVE)


def allowed(roles: Iterable[str], route: str) -> bool:
    """May an account holding ``roles`` call ``route``? Unknown routes are refused."""
    permitted = PERMISSIONS.get(route, frozenset())
    return any(role in permitted for role in roles)


def network_admin_only(route: str, structure: str | None, cpts: str | None) -> str | None:
    """The French refusal of a network route (the registry of structures) to an account of a structure or a
    CPTS; None when the account may call it."""
    if route in NETWORK_ADMIN_ROUTES and (structure or cpts):
        return (
            "Les structures du réseau (adhésions et départs) sont gérées par l'administrateur du réseau, "
            "pas par celui d'une structure."
        )
    return None


# Roles that see professionals (doctors' results compared) under a pseudonym, never a name or an RPPS
# (``security.pseudonyms``): research needs to tell two doctors apart, not who they are.
PSEUDONYMOUS_PROFESSIONALS = frozenset({"chercheur"})


def names_professionals(roles: Iterable[str]) -> bool:
    """Whether an account sees professionals by name: one of its roles does (the roles add up, as for routes)."""
    return bool(set(roles) - PSEUDONYMOUS_PROFESSIONALS)


def protected_audience(roles: Iterable[str]) -> bool:
    """An account without a care role sees aggregates through disclosure control only (``api.access``)."""
    return not CARE_TEAM & set(roles)


def check_roles(roles: Iterable[str]) -> list[str]:
    """The roles, checked against the known ones (a typo must not silently grant nothing), and against
    separation of duties: whoever administers the accounts does not read names."""
    chosen = sorted({r.strip() for r in roles if r.strip()})
    unknown = [r for r in chosen if r not in ROLES]
    if unknown or not chosen:
        raise ValueError(f"rôle inconnu : {', '.join(unknown) or '(aucun)'} ; rôles : {', '.join(ROLES)}")
    if "admin" in chosen and CARE_TEAM & set(chosen):
        raise ValueError(
            "séparation des tâches : un compte admin ne peut pas être aussi soignant ou coordinateur "
            "(il lirait les noms des patients)"
        )
    return chosen


def check_membership(
    roles: Iterable[str], structure: str | None, cpts: str | None, registry_has_structures: bool
) -> None:
    """Refuse (``ValueError``, French) an account whose belonging does not fit its roles: ``reseau`` belongs
    to the network, ``cpts`` to a CPTS, an account belongs to a structure or a CPTS, not both, and a care role
    to a structure as soon as the registry has structures (a single centre keeps network accounts)."""
    if structure and cpts:
        raise ValueError("un compte appartient à une structure (--structure) ou à une CPTS (--cpts), pas aux deux")
    kind = "structure" if structure else "cpts" if cpts else "network"
    labels = {"structure": "à une structure", "network": "au réseau", "cpts": "à une CPTS"}
    for role in sorted(set(roles)):
        if kind not in MEMBERSHIP.get(role, frozenset()):
            where = " ou ".join(labels[k] for k in sorted(MEMBERSHIP.get(role, frozenset())))
            raise ValueError(f"un compte {role} appartient {where}, pas {labels[kind]}")
        if role in CARE_TEAM and kind == "network" and registry_has_structures:
            raise ValueError(
                f"le rôle {role} lit les noms des patients d'une structure : donnez sa structure (--structure FINESS) "
                "puisque le registre compte des structures"
            )


def web_may_create(roles: Iterable[str]) -> bool:
    """The web administration creates accounts that do not read names; the others are created on the
    server with ``proxisante users add``."""
    return not CARE_TEAM & set(roles)


def markdown_matrix() -> str:
    """The table as Markdown (docs/web.md includes it; a test checks that it is current)."""
    roles = list(ROLES)
    lines = ["| route | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for name, permitted in PERMISSIONS.items():
        lines.append(f"| `{name}` | " + " | ".join("✔" if r in permitted else "—" for r in roles) + " |")
    return "\n".join(lines)
