"""The ``proxisante`` command line: the Typer app, assembled from the commands and sub-apps of ``cli/``.

Each module holds its commands, thin over the domain packages, with French output: :mod:`.demo` (synth,
demo), :mod:`.ingest` (ingest, every format of :data:`proxisante.ingest.FORMATS`), :mod:`.warehouse`
(status, quarantine), and one module per sub-app. Imports of heavy modules stay inside the commands that
need them, so that ``proxisante --help`` starts fast.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from proxisante.cli.audit import audit_app
from proxisante.cli.common import BusyAwareGroup
from proxisante.cli.demo import DEMO_PASSWORD, DEMO_USER, demo, synth
from proxisante.cli.depot import depot_app
from proxisante.cli.economics import economie_app
from proxisante.cli.ingest import ingest
from proxisante.cli.measures import gaps, measures_app
from proxisante.cli.objection import objection_app
from proxisante.cli.omop import export_app
from proxisante.cli.population import patientele
from proxisante.cli.report import report_app
from proxisante.cli.research import research_app
from proxisante.cli.structures import structures_app
from proxisante.cli.territory import territoire_app
from proxisante.cli.warehouse import quarantine, status
from proxisante.cli.web import serve, users_app

__all__ = ["DEMO_PASSWORD", "DEMO_USER", "app"]

app = typer.Typer(
    help="proxisante — entrepôt de données de santé de proximité.", no_args_is_help=True, cls=BusyAwareGroup
)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="journal détaillé")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


app.command("synth")(synth)
app.command("ingest")(ingest)
app.command("status")(status)
app.command("quarantine")(quarantine)
app.command("demo")(demo)
app.add_typer(measures_app, name="measures")
app.add_typer(economie_app, name="economie")
app.add_typer(territoire_app, name="territoire")
app.add_typer(objection_app, name="objection")
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")
app.add_typer(research_app, name="research")
app.command("gaps")(gaps)
app.command("patientele")(patientele)
app.add_typer(structures_app, name="structures")
app.add_typer(depot_app, name="depot")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve)


if __name__ == "__main__":  # pragma: no cover
    app()
