"""The command line's framing in French: help panels, usage line, option types, defaults, the error box and
its hint, usage errors (an unknown option, a wrong value, a missing one).

Typer writes this framing in English. Its vendored Click has no gettext catalogue to install (unlike Click's
own), so the French comes from the hooks Typer and Click expose: the constants of ``typer.rich_utils``
(panel titles, ``[default: …]``, ``[required]``, the error box's title and hint, "Aborted."), each
command's ``context_class`` (whose ``formatter_class`` writes the usage line), its help option, its options'
``metavar`` (the type column, ``<bool>`` and ``<str>`` otherwise) and the ``subcommand_metavar`` of
groups. Usage errors are raised again as French :class:`UsageError` by the root group
(:class:`proxisante.cli.common.BusyAwareGroup`), which also calls :func:`frenchify` on the command tree
when Typer builds it. ``tests/cli/test_chrome.py`` holds the framing to French if Typer changes.
"""

from __future__ import annotations

import re
from typing import Any

import typer
import typer.rich_utils as rich_utils
from typer._click import Context, HelpFormatter
from typer._click.decorators import help_option
from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError, NoSuchOption, UsageError

from proxisante.messages import french_validation_message

HELP = "affiche cette aide et quitte"
USAGE = "Utilisation : "
SUBCOMMANDS = "COMMANDE [ARGUMENTS]..."
# Typer's constants, read when the help or an error is printed.
RICH_TEXTS = {
    "DEPRECATED_STRING": "(obsolète) ",
    "DEFAULT_STRING": "[défaut : {}]",
    "ENVVAR_STRING": "[variable d'environnement : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
    "ERRORS_PANEL_TITLE": "Erreur",
    "ABORTED_TEXT": "Abandon.",
    "RICH_HELP": "Aide : [blue]'{command_path} {help_option}'[/]",
}
# Typer's shell-completion options, by parameter name.
COMPLETION_HELP = {
    "install_completion": "installe l'auto-complétion pour le shell courant",
    "show_completion": "affiche l'auto-complétion du shell courant, pour la copier ou adapter l'installation",
}
# The type column of the help: a Python type name, in words a user reads (a flag shows nothing).
TYPE_WORDS = {
    "bool": "",
    "str": "TEXTE",
    "int": "ENTIER",
    "float": "NOMBRE",
    "Path": "CHEMIN",
    "path": "CHEMIN",
    "date": "DATE",
    "datetime": "DATE",
}
# Usage errors Typer words in English (the whole message), with their French.
_ERRORS: tuple[tuple[str, str], ...] = (
    (r"No such command '(.+)'\. Did you mean (.+)\?", r"commande inconnue : '\1'. Vouliez-vous dire \2 ?"),
    (r"No such command '(.+)'\.", r"commande inconnue : '\1'"),
    (r"Missing command\.", "commande manquante"),
    (r"Got unexpected extra arguments? \((.+)\)", r"argument(s) en trop : \1"),
    (r"Option '(.+)' requires an argument\.", r"l'option '\1' attend une valeur"),
    (r"Option '(.+)' requires (\d+) arguments\.", r"l'option '\1' attend \2 valeurs"),
    (r"Option '(.+)' does not take a value\.", r"l'option '\1' ne prend pas de valeur"),
    (r"Argument '(.+)' takes (\d+) values\.", r"l'argument '\1' attend \2 valeurs"),
)
# Value errors of Typer's own conversions, with their French.
_VALUES: tuple[tuple[str, str], ...] = (
    (r"(.*)Invalid isoformat string: (.+)", r"\1date attendue au format AAAA-MM-JJ (reçu \2)"),
    (r"(.*)month must be in 1\.\.12", r"\1le mois va de 1 à 12"),
    (r"(.*)day is out of range for month", r"\1ce jour n'existe pas dans ce mois"),
    (r"(.*)year (-?\d+) is out of range", r"\1année \2 hors limites"),
    (r"Value (.+) is not a valid (\w+)\.", r"valeur \1 invalide"),
    (r"(?:File|Path|Directory) '?(.+?)'? does not exist\.", r"'\1' n'existe pas"),
    (r"(?:File|Path|Directory) '?(.+?)'? is a file\.", r"'\1' est un fichier (un dossier est attendu)"),
    (r"(?:File|Path|Directory) '?(.+?)'? is a directory\.", r"'\1' est un dossier (un fichier est attendu)"),
    (r"(?:File|Path|Directory) '?(.+?)'? is not readable\.", r"'\1' n'est pas lisible"),
    (r"(?:File|Path|Directory) '?(.+?)'? is not writable\.", r"'\1' n'est pas accessible en écriture"),
    (r"(?:Input should|String should|Value error|Field required).*", ""),  # pydantic: from its errors
)


class FrenchFormatter(HelpFormatter):
    """Click's help formatter whose usage line starts ``Utilisation :``."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE if prefix is None else prefix)


class FrenchContext(Context):
    """A command's context that formats its usage line in French."""

    formatter_class = FrenchFormatter


def install() -> None:
    """Typer's printed constants in French (idempotent)."""
    for name, text in RICH_TEXTS.items():
        setattr(rich_utils, name, text)


def frenchify(command: Any) -> None:
    """A command and every command below it framed in French (see the module's docstring)."""
    command.context_class = FrenchContext
    _french_help_option(command)
    french_options(command)
    if isinstance(command, typer.core.TyperGroup):
        command.subcommand_metavar = SUBCOMMANDS
        for sub in command.commands.values():
            frenchify(sub)


def french_options(command: Any) -> None:
    """A command's options with French types and help (again for the root: Typer adds its completion
    options after building it)."""
    probe = FrenchContext(command)
    for param in command.params:
        if param.name in COMPLETION_HELP:
            param.help = COMPLETION_HELP[param.name]
        if param.param_type_name == "option" and param.metavar is None:
            param.metavar = type_words(param.display_type(probe))
        elif param.param_type_name == "argument":  # its metavar is its name in the usage line: keep it
            words = type_words(param.display_type(probe))
            param.display_type_rich = lambda ctx=None, shown=words: shown


def _french_help_option(command: Any) -> None:
    """The ``--help`` option built now, with a French help, and kept by the command (Click caches it)."""
    if not command.add_help_option:
        return
    help_option(["--help"])(command)
    option = command.params.pop()
    option.help = HELP
    option.metavar = ""
    command._help_option = option


def type_words(shown: str) -> str:
    """``<bool>`` → nothing, ``<str>`` → ``TEXTE``, ``<list[str]>`` → ``TEXTE...``; choices (``<a|b>``) as
    ``a|b``."""
    match = re.fullmatch(r"<(?:list\[)?(\w+)\]?>", shown)
    if match is None:
        return shown[1:-1] if shown.startswith("<") and shown.endswith(">") else shown
    words = TYPE_WORDS.get(match.group(1), match.group(1).upper())
    return f"{words}..." if words and shown.startswith("<list[") else words


def french_usage_error(error: UsageError) -> UsageError:
    """A usage error Typer raised in English, as a French one (same context); a project's own French
    error, and the no-argument help, unchanged."""
    if isinstance(error, NoArgsIsHelpError):
        return error
    if isinstance(error, MissingParameter):
        text = f"{_kind(error)} {_hint(error)} manquant{'e' if _kind(error) == 'option' else ''}".strip()
    elif isinstance(error, BadParameter):
        hint = _hint(error)
        text = (
            f"valeur invalide pour {hint} : {_value_words(error)}"
            if hint
            else f"valeur invalide : {_value_words(error)}"
        )
    elif isinstance(error, NoSuchOption):
        text = f"option inconnue : {error.option_name}"
        if error.possibilities:
            text += f" (vouliez-vous dire {', '.join(sorted(error.possibilities))} ?)"
    else:
        text = _translated(error.format_message(), _ERRORS)
    french = UsageError(text, error.ctx)
    french.exit_code = error.exit_code
    return french


def _kind(error: MissingParameter) -> str:
    kind = error.param_type or (error.param.param_type_name if error.param is not None else "paramètre")
    return {"option": "option", "argument": "argument", "parameter": "paramètre"}.get(kind, kind)


def _hint(error: BadParameter) -> str:
    if error.param_hint is not None:
        hints = [error.param_hint] if isinstance(error.param_hint, str) else list(error.param_hint)
        return " / ".join(hints)
    return str(error.param.get_error_hint()) if error.param is not None else ""


def _value_words(error: BadParameter) -> str:
    """The reason a value was refused: pydantic's first error in French, Typer's own words translated, a
    project's own French message as it is."""
    cause = error.__cause__
    if cause is not None and hasattr(cause, "errors"):
        errors = cause.errors()
        if errors:
            return french_validation_message(errors[0])
    return _translated(error.message, _VALUES) or "valeur invalide"


def _translated(text: str, table: tuple[tuple[str, str], ...]) -> str:
    for pattern, french in table:
        match = re.fullmatch(pattern, text, flags=re.DOTALL)
        if match:
            return match.expand(french)
    return text
