"""What every command shares: the console and the French formats of numbers, rates and dates."""

from __future__ import annotations

from rich.console import Console

from proxisante.formats import NARROW_SPACE, date, decimal, number, percent

console = Console()

__all__ = ["NARROW_SPACE", "console", "date", "decimal", "number", "percent"]
