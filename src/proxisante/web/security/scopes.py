"""Where a signed-in account reads: the scope of a request, derived from the account only, checked in one place.

An account belongs to one structure of the registry (its FINESS), to a CPTS (``cpts`` role: the registry's
structures whose ``cpts`` is its name), or to the network. :func:`scope_of` turns that into a
:class:`~proxisante.network.scope.Scope`; :func:`request_scope` (called by ``auth.authorize`` on every
route, before the route runs) narrows it to the ``structure`` a network or CPTS account asks for, and refuses
(:class:`ScopeError`, French; 403) a structure account asking for another structure, a care account without a
structure in a registry that has structures, and a nominative route outside the account's own structure. Every route
then reads through ``ScopedTables(warehouse, scope)`` (``web.services``): no route can read further.

With an empty registry (a single centre) every account is a network account and sees what it saw before
structures existed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from proxisante.network.scope import Scope, ScopeError
from proxisante.network.structures import Structure, StructureError, StructureRegistry, cpts_members
from proxisante.settings import Settings
from proxisante.web.security.permissions import CARE_TEAM, NOMINATIVE_ROUTES

# Routes a misplaced account may still call: who am I, and leaving.
ALWAYS = frozenset({"api_me", "logout"})


@dataclass(frozen=True)
class Registry:
    """The structures of the registry as a request sees them, or the French reason it cannot be read."""

    structures: tuple[Structure, ...]
    error: str | None = None

    @property
    def has_structures(self) -> bool:
        """Structures exist (an unreadable registry counts as having some: care accounts then fail closed)."""
        return bool(self.structures) or self.error is not None

    def name(self, finess: str) -> str:
        found = next((s for s in self.structures if s.finess == finess), None)
        return found.name if found else finess


_seen: dict[Path, tuple[tuple[int, int], Registry]] = {}
_lock = threading.Lock()


def registry_of(settings: Settings) -> Registry:
    """The installation's registry, read again only when the file changes (each request needs it)."""
    registry = StructureRegistry.installed(settings)
    try:
        stat = registry.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return Registry(())
    with _lock:
        seen = _seen.get(registry.path)
    if seen and seen[0] == stamp:
        return seen[1]
    try:
        found = Registry(tuple(registry.all()))
    except StructureError as error:
        found = Registry((), str(error))
    with _lock:
        _seen[registry.path] = (stamp, found)
    return found


def scope_of(structure: str | None, cpts: str | None, registry: Registry) -> Scope:
    """The scope of an account: its structure, its CPTS's members, or the network."""
    if structure:
        return Scope.of([structure], registry.name(structure))
    if cpts:
        if registry.error:
            raise ScopeError(f"Registre des structures illisible : périmètre de la CPTS inconnu. {registry.error}")
        members = cpts_members(registry.structures, cpts)
        if not members:
            raise ScopeError(f"La CPTS « {cpts} » n'a aucune structure membre au registre : aucune donnée à montrer.")
        return Scope.of(members, cpts)
    return Scope.network()


def request_scope(
    roles: Sequence[str], structure: str | None, cpts: str | None, route: str, wanted: str | None, registry: Registry
) -> Scope:
    """The scope a request reads: the account's, narrowed to ``wanted`` (a FINESS) when asked; 403 in French
    for anything outside it. ``route`` decides whether names may be read (own structure only)."""
    always = route in ALWAYS  # no data read: a misplaced account may still say who it is and leave
    if not always and CARE_TEAM & set(roles) and not structure and registry.has_structures:
        raise ScopeError(
            "Compte de soin sans structure : le registre compte des structures, un compte soignant ou coordinateur "
            "doit appartenir à la sienne (proxisante users add --structure FINESS)."
        )
    try:
        scope = scope_of(structure, cpts, registry)
    except ScopeError:
        if not always or wanted:
            raise
        return Scope.network()
    chosen = (wanted or "").strip().upper()
    if chosen:
        if structure and chosen != structure:
            raise ScopeError(
                f"Votre compte appartient à la structure {registry.name(structure)} ({structure}) : "
                f"les données de la structure {chosen} ne vous sont pas accessibles."
            )
        try:
            scope = scope.narrowed(Scope.of([chosen], registry.name(chosen)))
        except ScopeError as error:
            raise ScopeError(f"Accès refusé : {error}.") from error
    if route in NOMINATIVE_ROUTES and registry.has_structures and (scope.single is None or scope.single != structure):
        raise ScopeError("Les listes nominatives ne se lisent que dans la structure de votre compte.")
    return scope


def shown_name(scope: Scope, registry: Registry) -> str | None:
    """The scope's French name for the page header (None for a single centre: nothing to say)."""
    if not registry.structures:
        return None
    if scope.is_network:
        return "Réseau (toutes les structures)"
    if scope.single:
        return f"{scope.name} ({scope.single})"
    return f"{scope.name} ({len(scope.structures or ())} structures)"
