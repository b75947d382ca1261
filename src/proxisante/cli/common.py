"""What every command shares: the console, the French formats of numbers, rates and dates, the progress bar,
and the tables that several commands print (rows per table, a load's report)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer._click.exceptions import UsageError

from proxisante.cli import chrome
from proxisante.formats import NARROW_SPACE, date, decimal, number, percent
from proxisante.ingest.files import os_error_words
from proxisante.warehouse.connection import WarehouseBusy

if TYPE_CHECKING:
    from proxisante.ingest.batch import LoadReport

console = Console()

__all__ = [
    "NARROW_SPACE",
    "BusyAwareGroup",
    "console",
    "date",
    "decimal",
    "number",
    "os_error_text",
    "percent",
    "print_busy",
    "print_load_report",
    "print_row_counts",
    "progress_bar",
    "write_error_text",
]


def progress_bar() -> Progress:
    """The progress bar of long commands (synthesis, loads): step, bar, done/total, time elapsed."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def working(message: str, on: Console | None = None) -> Iterator[None]:
    """A spinner and ``message`` (French, « Calcul des indicateurs… ») while a command computes for more than a
    moment: on a terminal only, and gone once done, so that a log or a pipe reads as before."""
    with (on or console).status(message):
        yield


def os_error_text(error: OSError) -> str:
    """What went wrong with a file, in French (the system's own message is English)."""
    return os_error_words(error)


def write_error_text(error: OSError | duckdb.IOException) -> str:
    """A store that could not be written, in French (DuckDB's errors have no errno, only English text)."""
    if isinstance(error, OSError):
        return os_error_text(error)
    return "disque plein" if "No space left" in str(error) else "erreur d'écriture de l'entrepôt"


def print_row_counts(title: str, rows: Mapping[str, int]) -> None:
    """Rows written per table (a synthetic centre, an export, an extract)."""
    table = Table(title=title)
    table.add_column("table")
    table.add_column("lignes", justify="right")
    for name, count in rows.items():
        table.add_row(name, number(count))
    console.print(table)


def print_load_report(report: LoadReport, title: str, ignored: str) -> None:
    """What a load did with each file; ``title`` when a batch was committed, ``ignored`` before the files
    it left aside."""
    table = Table(title=title if report.committed else "Rien à charger (fichiers déjà chargés)")
    for column in ("table", "fichier", "lues", "chargées", "en quarantaine", ""):
        table.add_column(column, justify="right" if column in ("lues", "chargées", "en quarantaine") else "left")
    for f in report.files:
        table.add_row(
            f.pivot_table,
            f.file_name,
            number(f.rows_read),
            number(f.rows_loaded),
            number(f.rows_quarantined),
            "déjà chargé" if f.skipped else "",
        )
    console.print(table)
    if report.ignored_files:
        console.print(f"{ignored} : {', '.join(report.ignored_files)}")
    if report.rows_quarantined:
        console.print("Voir les lignes rejetées : [bold]proxisante quarantine[/bold]")


def print_busy(error: WarehouseBusy) -> None:
    """The warehouse held by another process (the web server, another command), in French."""
    console.print(f"[red]Entrepôt occupé :[/red] {error}")


class BusyAwareGroup(typer.core.TyperGroup):
    """The command line's root group: a command that finds the warehouse held by the running web server of its
    data home is run by that server (``cli/forward.py``); held by another process (another command), it says
    so in French and exits with code 2, never with a DuckDB traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chrome.install()
        chrome.frenchify(self)  # Typer builds the whole tree before the root: every command is here

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        chrome.french_options(self)
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as error:
            raise chrome.french_usage_error(error) from error

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context (vendored)
        try:
            return self._invoke(ctx)
        except UsageError as error:
            raise chrome.french_usage_error(error) from error

    def _invoke(self, ctx: Any) -> Any:
        words = [*ctx._protected_args, *ctx.args]  # the command line below the root, before the group takes it
        if words[:1] == ["demo"]:
            from proxisante.cli import forward

            code = forward.before(words, self._params(ctx, words))
            if code is not None:
                raise typer.Exit(code=code)
        try:
            return super().invoke(ctx)
        except WarehouseBusy as error:
            from proxisante.cli import forward

            code = forward.on_busy(error, words, console.width)
            if code is None:
                print_busy(error)
            raise typer.Exit(code=2 if code is None else code) from error

    def _params(self, ctx: Any, words: list[str]) -> dict[str, Any] | None:
        """The options of a command line, parsed without running it (None: not a command)."""
        command = self.get_command(ctx, words[0])
        if command is None:
            return None
        params: dict[str, Any] = command.make_context(words[0], words[1:], parent=ctx, resilient_parsing=True).params
        return params
