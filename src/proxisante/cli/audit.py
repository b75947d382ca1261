"""``proxisante audit verify``: whether the audit logs are whole and unedited, for an administrator or a script."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from proxisante.cli.common import console
from proxisante.identity.chain import VAULT_LOG, WEB_LOG, ChainCheck
from proxisante.installation import open_installation

audit_app = typer.Typer(help="Journaux d'audit des lectures nominatives.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    reports: Annotated[
        list[Path] | None, typer.Option("--rapport", help="rapport signé témoin de l'état des journaux (répétable)")
    ] = None,
) -> None:
    """Vérifie la chaîne et l'ancre des journaux (application web, coffre d'identités, registre des structures),
    et qu'ils contiennent encore ce que chaque rapport signé donné a vu ; code 1 si l'un d'eux a été modifié,
    tronqué ou effacé."""
    from proxisante.network.structures import StructureRegistry
    from proxisante.web.security.audit import AuditLog

    witnesses = _witnesses(reports or [])
    installation = open_installation()
    try:
        settings = installation.settings
        checks = {
            "journal de l'application web": AuditLog.installed(settings).check(witnesses[WEB_LOG]),
            "journal d'accès du coffre d'identités": installation.vault.verify_access_log(witnesses[VAULT_LOG]),
            "journal du registre des structures": StructureRegistry.installed(settings).verify_journal(),
        }
    finally:
        installation.close()
    table = Table(title="Intégrité des journaux d'audit")
    for column in ("journal", "entrées", "ancrées", "état"):
        table.add_column(column)
    for name, check in checks.items():
        table.add_row(name, str(check.rows), _anchored(check), _state(check))
    console.print(table)
    if not all(check.intact for check in checks.values()):
        raise typer.Exit(code=1)


def _witnesses(reports: list[Path]) -> dict[str, dict[int, str]]:
    """``{log: {rows: head}}`` from signed reports; a report that does not verify is refused."""
    from proxisante.reporting.signing import verify_folder, witnessed_heads

    witnesses: dict[str, dict[int, str]] = {WEB_LOG: {}, VAULT_LOG: {}}
    for folder in reports:
        if not verify_folder(folder).ok:
            console.print(f"[red]Rapport non vérifié, il ne peut pas servir de témoin :[/red] {folder}")
            raise typer.Exit(code=2)
        for log, heads in witnessed_heads(folder).items():
            for rows, head in heads.items():
                seen = witnesses.setdefault(log, {}).setdefault(rows, head)
                if seen != head:  # two signed reports disagree: one log was rewritten between them
                    witnesses[log][rows] = ""
    return witnesses


def _anchored(check: ChainCheck) -> str:
    return "—" if check.anchored_rows is None else str(check.anchored_rows)


def _state(check: ChainCheck) -> str:
    return "[green]intact[/green]" if check.intact else f"[red]{check.reason}[/red]"
