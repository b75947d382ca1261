"""Prints the SQL-on-FHIR v2 conformance count (passed/failed by file, and the total) after the run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

_OUTCOMES: dict[str, dict[str, str]] = defaultdict(dict)  # file → test id → outcome


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "test_conformance.py::" not in report.nodeid:
        return
    file = dict(report.user_properties).get("conformance_file")
    if file is None:
        if report.skipped:
            _OUTCOMES["(suite absent)"][report.nodeid] = "skipped"
        return
    tests = _OUTCOMES[file]
    if hasattr(report, "wasxfail"):
        tests[report.nodeid] = "xfailed"
    elif report.failed:
        tests[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        tests.setdefault(report.nodeid, "passed")
    elif report.skipped:
        tests[report.nodeid] = "skipped"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("SQL-on-FHIR v2 conformance")
    totals: dict[str, int] = defaultdict(int)
    for file in sorted(_OUTCOMES):
        counts: dict[str, int] = defaultdict(int)
        for outcome in _OUTCOMES[file].values():
            counts[outcome] += 1
            totals[outcome] += 1
        details = ", ".join(f"{counts[k]} {k}" for k in ("failed", "xfailed", "skipped") if counts[k])
        write(f"{file:<28} {counts['passed']:>3} passed" + (f", {details}" if details else ""))
    total = sum(totals.values())
    others = ", ".join(f"{totals[k]} {k}" for k in ("failed", "xfailed", "skipped") if totals[k])
    write(f"{'total':<28} {totals['passed']:>3}/{total} passed" + (f", {others}" if others else ""))
