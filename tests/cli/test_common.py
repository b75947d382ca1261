"""What every command shares (``cli/common.py``)."""

from __future__ import annotations

import io
import time

from rich.console import Console

from proxisante.cli.common import working


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=80), out


def test_a_long_computation_shows_a_sign_of_life_on_a_terminal_only() -> None:
    terminal, shown = _console(True)
    with working("Calcul des indicateurs…", terminal):
        time.sleep(0.3)
    assert "Calcul des indicateurs…" in shown.getvalue()
    piped, written = _console(False)
    with working("Calcul des indicateurs…", piped):
        time.sleep(0.3)
    assert written.getvalue() == ""  # a log or a pipe reads as before
