"""The scope options of every command that reads the warehouse, and their resolution against the registry.

Issue 15: in a network warehouse a command reads one structure (``--structure FINESS``, repeatable), the
members of a CPTS (``--cpts NOM``) or the whole network (``--reseau``, also the default, which is the
behaviour of a single centre); ``--rattaches`` chooses the *attributed* view on the command's reference
date instead of the default *seen here* view (``network.scope``). The options and their checks live here
once, so that every command accepts the same words and refuses the same mistakes the same way: in French,
with exit code 2, before anything is computed.

A structure that left the network stays in the registry with its ``depart`` date and stays readable: its
rows are in the warehouse until they are purged, and a report on a period before its departure needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from proxisante.cli.common import console, date
from proxisante.network.scope import Scope, ScopeError
from proxisante.network.structures import Structure, StructureError, StructureRegistry, cpts_members, known_cpts
from proxisante.settings import Settings, get_settings

__all__ = [
    "AttributedOption",
    "CptsOption",
    "NetworkOption",
    "StructureOption",
    "print_scope",
    "scope_from_options",
    "scope_label",
]

StructureOption = Annotated[
    list[str] | None,
    typer.Option("--structure", help="FINESS d'une structure du registre (répétable)", show_default=False),
]
NetworkOption = Annotated[bool, typer.Option("--reseau", help="tout le réseau (le défaut)")]
CptsOption = Annotated[
    str | None,
    typer.Option("--cpts", help="les structures membres de cette CPTS (nom du registre)", show_default=False),
]
AttributedOption = Annotated[
    bool,
    typer.Option(
        "--rattaches",
        help="seulement les patients rattachés au périmètre à la date de référence (défaut : les patients vus ici)",
    ),
]


def scope_from_options(
    structures: Sequence[str] | None,
    network: bool,
    cpts: str | None,
    attributed: bool = False,
    on: dt.date | None = None,
    settings: Settings | None = None,
) -> Scope:
    """The scope the options ask for, the *attributed* view on ``on`` (default: today) when ``attributed``.

    Conflicting options, a FINESS or a CPTS the registry does not know, or an unreadable registry: a French
    message and exit code 2 (``typer.Exit``), so that a command that calls this first computes nothing."""
    try:
        scope = _resolved(list(structures or ()), network, cpts, settings or get_settings())
    except (ScopeError, StructureError) as error:
        _refuse(str(error))
    return scope.attributed(on or dt.date.today()) if attributed else scope


def _resolved(structures: list[str], network: bool, cpts: str | None, settings: Settings) -> Scope:
    if structures and (network or cpts is not None):
        raise ScopeError("--structure ne se combine ni avec --reseau ni avec --cpts : choisissez un seul périmètre")
    if network and cpts is not None:
        raise ScopeError("--reseau et --cpts s'excluent : choisissez un seul périmètre")
    if structures:
        return _of_structures(structures, StructureRegistry.installed(settings))
    if cpts is not None:
        return _of_cpts(cpts, StructureRegistry.installed(settings))
    return Scope.network()


def _of_structures(finess: list[str], registry: StructureRegistry) -> Scope:
    """The structures named by FINESS; every unknown one is named in the refusal."""
    known = {structure.finess: structure for structure in registry.all()}
    wanted = list(dict.fromkeys(value.strip().upper() for value in finess))
    unknown = [value for value in wanted if value not in known]
    if unknown:
        raise StructureError(
            f"structure inconnue du registre : FINESS {', '.join(unknown)} ({registry.path} ; "
            "voir « proxisante structures list »)"
        )
    chosen = [known[value] for value in wanted]
    return Scope.of([s.finess for s in chosen], " + ".join(s.name for s in chosen))


def _of_cpts(name: str, registry: StructureRegistry) -> Scope:
    """The registered members of the CPTS ``name`` (``network.structures.cpts_members``: case and
    surrounding spaces ignored), those that left included: their rows stay in the warehouse."""
    structures = registry.all()
    members = cpts_members(structures, name)
    if not members:
        names = known_cpts(structures)
        known = f"CPTS du registre : {', '.join(names)}" if names else "aucune CPTS dans le registre"
        raise StructureError(f"CPTS inconnue : « {name} » n'a aucune structure membre dans le registre ({known})")
    spelt = next((n for n in known_cpts(structures) if n.strip().casefold() == name.strip().casefold()), name)
    return Scope.of(members, spelt)


def _refuse(message: str) -> NoReturn:
    console.print(f"[red]Périmètre refusé :[/red] {message}")
    raise typer.Exit(code=2)


def scope_label(scope: Scope, registry: Sequence[Structure] = ()) -> str:
    """The scope in French, as outputs name it: « Centre X (FINESS 123456789) », a CPTS with its members'
    FINESS, « réseau »; with the view when it is the attributed one."""
    if scope.structures is None:
        label = scope.name
    elif scope.single is not None:
        label = f"{scope.name} (FINESS {scope.single}{_left(scope.single, registry)})"
    else:
        label = f"{scope.name} ({len(scope.structures)} structures : FINESS {', '.join(sorted(scope.structures))})"
    if scope.attributed_on is not None:
        label += f", patients rattachés au {date(scope.attributed_on)}"
    return label


def _left(finess: str, registry: Sequence[Structure]) -> str:
    found = next((s for s in registry if s.finess == finess), None)
    return f", a quitté le réseau le {date(found.left)}" if found is not None and found.left is not None else ""


def print_scope(scope: Scope, settings: Settings | None = None) -> None:
    """« Périmètre : ... » near the top of a command's output, unless the scope is the whole network seen
    here (the single centre's output stays as it was)."""
    if scope.is_network and scope.attributed_on is None:
        return
    try:
        registry = StructureRegistry.installed(settings or get_settings()).all() if scope.single else []
    except StructureError:
        registry = []
    console.print(f"[bold]Périmètre :[/bold] {scope_label(scope, registry)}")
