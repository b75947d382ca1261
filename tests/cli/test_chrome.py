"""The command line's framing reads French: help panels, usage line, option types, defaults, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.chrome import type_words

ENGLISH = (
    "Usage:",
    "Commands",
    "Show this message",
    "Install completion",
    "[default:",
    "[required]",
    "Try '",
    "Error",
    "Invalid value",
    "Missing ",
    "No such",
    "<bool>",
    "<str>",
    "<int>",
    "<path>",
    "list[",
)


def _run(*words: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(words), prog_name="proxisante", terminal_width=200)
    return result.exit_code, _flat(result.output)


def _flat(text: str) -> str:
    """The output without Rich's boxes and line wrapping (a phrase may span two lines of a panel)."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize(
    "words", [("--help",), ("gaps", "--help"), ("report", "--help"), ("measures", "run", "--help")]
)
def test_help_reads_french(words: tuple[str, ...]) -> None:
    code, text = _run(*words)
    assert code == 0
    assert "Utilisation : proxisante" in text
    assert "affiche cette aide et quitte" in text
    assert [e for e in ENGLISH if e in text] == []


def test_the_root_help_names_its_commands_and_completion_in_french() -> None:
    # The real command: Typer's test runner leaves out the completion options.
    answer = subprocess.run(
        [str(Path(sys.executable).parent / "proxisante"), "--help"], capture_output=True, text=True, check=True
    )
    text = _flat(answer.stdout)
    assert "Commandes" in text and "COMMANDE [ARGUMENTS]..." in text
    assert "installe l'auto-complétion pour le shell courant" in text


def test_option_types_and_defaults_read_french() -> None:
    text = _run("report", "--help")[1]
    assert "TEXTE" in text and "CHEMIN" in text and "[défaut : 2025]" in text


@pytest.mark.parametrize(
    ("words", "french"),
    [
        (("gaps", "--limit", "abc"), "valeur invalide pour '--limit' : nombre entier attendu"),
        (("gapz",), "commande inconnue : 'gapz'. Vouliez-vous dire 'gaps' ?"),
        (("gaps", "--bogus"), "option inconnue : --bogus"),
        (("gaps", "--period"), "l'option '--period' attend une valeur"),
        (("research", "declare", "projet.yaml"), "option '--by' manquante"),
        (("research", "declare"), "argument 'file' manquant"),
    ],
)
def test_usage_errors_read_french(words: tuple[str, ...], french: str) -> None:
    code, text = _run(*words)
    assert code == 2
    assert french in text
    assert "Erreur" in text
    assert [e for e in ENGLISH if e in text] == []


def test_type_words() -> None:
    assert [type_words(t) for t in ("<bool>", "<str>", "<list[str]>", "<int>", "<pivot|fhir>")] == [
        "",
        "TEXTE",
        "TEXTE...",
        "ENTIER",
        "pivot|fhir",
    ]
