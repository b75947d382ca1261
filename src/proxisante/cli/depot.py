"""``proxisante depot traiter``: the drop folders (``$PROXISANTE_HOME/depot/<FINESS>/``) processed once, for a
scheduled job when the web server is not running (the server processes them itself while it serves)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from proxisante.cli.common import console

if TYPE_CHECKING:
    from proxisante.ingest.dropfolders import Pass
    from proxisante.settings import Settings

depot_app = typer.Typer(
    help="Dossiers de dépôt des structures ($PROXISANTE_HOME/depot/<FINESS>/) : extraits complets chargés "
    "dans l'ordre d'arrivée, puis rangés dans archive/ ou rejets/ avec leur rapport.",
    no_args_is_help=True,
)


@depot_app.command("traiter")
def process_once() -> None:
    """Charge une fois les extraits complets des dossiers de dépôt et affiche le rapport de chacun.

    Pour une tâche planifiée quand le serveur web ne tourne pas (il les traite lui-même pendant qu'il sert)."""
    from proxisante.ingest.dropfolders import PARAMETERS
    from proxisante.installation import running_server
    from proxisante.settings import get_settings

    settings = get_settings()
    server = running_server(settings)
    if server is not None:
        console.print(
            f"Le serveur web (processus {server.pid}, {server.url}) traite lui-même les dossiers de dépôt, "
            f"toutes les {PARAMETERS.value('poll_seconds')} secondes : rien à faire ici."
        )
        return
    result = process_and_print(settings)
    if any(r.status == "retry" for r in result.reports):
        raise typer.Exit(code=1)


def process_and_print(settings: Settings) -> Pass:
    """One pass over the drop folders of the installation (opened for it), each report printed in French."""
    from proxisante.ingest.dropfolders import depot_root, process
    from proxisante.installation import open_installation

    installation = open_installation(settings)
    try:
        result = process(installation)
    finally:
        installation.close()
    print_pass(result, depot_root(settings))
    return result


def print_pass(result: Pass, root: Path) -> None:
    """The French report of each extract a pass took, then those still waiting for their ``COMPLET``."""
    for report in result.reports:
        colour = {"loaded": "green", "nothing_new": "yellow", "rejected": "red", "retry": "red"}[report.status]
        console.print(f"[{colour}]{report.text().rstrip()}[/{colour}]", highlight=False)
        console.print()
    for extract in result.waiting:
        console.print(f"En attente (pas encore de fichier COMPLET) : {extract.path}")
    if not result.reports and not result.waiting:
        console.print(f"Aucun extrait à charger dans {root}.")
