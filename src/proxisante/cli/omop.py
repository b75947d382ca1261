"""``proxisante export omop``: the warehouse as OMOP CDM 5.4 (loading an OMOP dataset is ``ingest --format omop``,
:mod:`.ingest`)."""

from __future__ import annotations

import getpass
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from proxisante.cli.common import console, number, os_error_text, print_row_counts, progress_bar
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.installation import open_installation
from proxisante.network.scope import ScopedTables
from proxisante.research.export import ExportError, ExportOptions, export_omop, scope_entry, selected_tables
from proxisante.research.projects import append_log

export_app = typer.Typer(help="Exports de l'entrepôt dans des formats standard.", no_args_is_help=True)


@export_app.command("omop")
def export_omop_command(
    out: Annotated[Path, typer.Argument(help="dossier de sortie (vide)")],
    file_format: Annotated[str, typer.Option("--format", help="csv ou parquet")] = "csv",
    date_shift: Annotated[bool, typer.Option("--date-shift", help="décaler les dates de chaque patient")] = False,
    tables: Annotated[str | None, typer.Option(help="tables CDM, séparées par des virgules (défaut : toutes)")] = None,
    start: Annotated[str | None, typer.Option(help="début de période AAAA-MM-JJ")] = None,
    end: Annotated[str | None, typer.Option(help="fin de période AAAA-MM-JJ")] = None,
    vocabulary: Annotated[bool, typer.Option(help="joindre les tables de vocabulaire")] = True,
    by: Annotated[str | None, typer.Option("--by", help="qui exporte (journal de la recherche)")] = None,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Exporte l'entrepôt en OMOP CDM 5.4 : ids recodés pour cet export, patients opposés exclus.

    Seules les lignes du périmètre choisi sont exportées ; avec --rattaches, les patients rattachés au
    périmètre à la fin de la période (--end, sinon aujourd'hui)."""
    try:
        period = (date.fromisoformat(start or "1900-01-01"), date.fromisoformat(end or "2999-12-31"))
    except ValueError as error:
        raise typer.BadParameter(f"date invalide : {error}") from error
    options = ExportOptions(
        file_format=file_format,
        date_shift=date_shift,
        vocabulary=vocabulary,
        tables=tuple(t.strip() for t in tables.split(",")) if tables else None,
        period=period if (start or end) else None,
    )
    scope = chosen_scope(structure, reseau, cpts, rattaches, period[1] if end else None)
    installation = open_installation()
    try:
        print_scope(scope, installation.settings)
        scoped = ScopedTables(installation.warehouse, scope)
        where = {"scope": scope_entry(scope)}
        with progress_bar() as bar:
            task = bar.add_task(
                "Export OMOP (lecture puis écriture des tables)", total=2 * len(selected_tables(options))
            )
            result = export_omop(
                scoped,
                out,
                options,
                installation.objections.person_ids(),
                extra=where,
                progress=lambda table: bar.update(task, advance=1, description=f"Export OMOP : {table}"),
            )
        try:
            append_log(
                installation.settings.home_dir,
                {
                    "event": "export omop",
                    "by": by or getpass.getuser(),
                    "out": str(out),
                    "tables": sorted(result.rows),
                    "rows": result.rows,
                    "manifest_sha256": result.manifest_sha256,
                    "options": options.described(),
                    **where,
                },
            )
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # an export is logged or not delivered
            raise
    except ExportError as error:
        console.print(f"[red]Export refusé :[/red] {error}")
        raise typer.Exit(code=2) from error
    except OSError as error:  # disk full, no permission: nothing was delivered nor logged
        console.print(f"[red]Export non écrit, rien n'a été livré ni journalisé :[/red] {out} ({os_error_text(error)})")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()
    print_row_counts(f"Export OMOP CDM 5.4 — {out}", result.rows)
    console.print(
        f"{number(result.excluded_persons)} patient(s) opposé(s) exclu(s). Manifeste : {out / 'manifest.json'}"
    )
