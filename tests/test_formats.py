"""French number formats have one home, ``proxisante.formats``, and their output is pinned byte for byte.

The command line, the web pages, the reports and the maps once each wrote the narrow no-break space and
the decimal comma themselves; now they all call ``formats``. The pinned strings are the outputs each
caller gave before the move (the report's whole numbers round half to even and never show "-0", the
command line's thousands of euros keep Python's "-0")."""

from __future__ import annotations

import math
import re

from proxisante import formats
from proxisante.reporting import formats as report_formats
from tests.lib.paths import SRC

SRC = SRC
# `.replace(",", <anything but ".">)`: writing a thousands separator (parsing a decimal comma is `(",", ".")`)
WRITES_SEPARATOR = re.compile(r"""\.replace\(",", (?!"\.")""")


def test_only_formats_writes_french_number_separators() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "formats.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRITES_SEPARATOR.search(line)
    ]
    assert not offenders, f"French number formats belong in proxisante/formats.py: {offenders}"


def test_shared_formats_are_unchanged() -> None:
    assert formats.french("12,345.6") == "12\u202f345,6"
    assert formats.fixed(1234.567, 2) == "1\u202f234,57"
    assert formats.fixed(math.nan, 2) == "nan"  # the maps' hover text for a commune without APL
    assert formats.number(1234567.9) == "1\u202f234\u202f567"
    assert formats.number(None) == formats.number(math.nan) == ""
    assert formats.decimal(61.25, 1) == "61,2"
    assert formats.decimal(None) == "—"
    assert formats.percent(0.6124) == "61,2\u00a0%"
    assert formats.keuros(-248_400) == "-248\u00a0k€"
    assert formats.keuros(-300) == "-0\u00a0k€"
    assert formats.keuros(12_345_678, unit=False) == "12\u202f346"


def test_report_formats_are_unchanged() -> None:
    assert report_formats.number(1234.5) == "1\u202f234"  # half to even
    assert report_formats.number(-0.3) == "0"
    assert report_formats.number(1234.56, 1) == "1\u202f234,6"
    assert report_formats.number(None) == report_formats.number(math.nan) == "—"
    assert report_formats.percent(0.6124) == "61,2\u00a0%"
    assert report_formats.percent(None) == "—"
    assert report_formats.euros(-248_400) == "-248\u00a0k€"
    assert report_formats.euros(None) == "—"
