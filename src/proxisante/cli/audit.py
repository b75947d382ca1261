"""``proxisante audit verify``: whether the audit logs are whole and unedited, for an administrator or a script."""

from __future__ import annotations

import typer
from rich.table import Table

from proxisante.cli.common import console
from proxisante.identity.chain import ChainCheck
from proxisante.runtime import open_installation

audit_app = typer.Typer(help="Journaux d'audit des lectures nominatives.", no_args_is_help=True)


@audit_app.command("verify")
def verify() -> None:
    """Vérifie la chaîne et l'ancre des deux journaux (application web, coffre d'identités) ; code 1 si l'un
    d'eux a été modifié, tronqué ou effacé."""
    from proxisante.api.audit import AuditLog

    installation = open_installation()
    try:
        settings = installation.settings
        checks = {
            "journal de l'application web": AuditLog.installed(settings).check(),
            "journal d'accès du coffre d'identités": installation.vault.verify_access_log(),
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


def _anchored(check: ChainCheck) -> str:
    return "—" if check.anchored_rows is None else str(check.anchored_rows)


def _state(check: ChainCheck) -> str:
    return "[green]intact[/green]" if check.intact else f"[red]{check.reason}[/red]"
