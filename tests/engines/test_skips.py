"""The PostgreSQL and Spark tests skip, saying why, when their extra or binaries are absent.

``make test`` and CI install both engines, so there these tests run; a developer who installed only
the base package gets a skip with the command to install the missing piece instead of an error.
The absence is simulated: a child pytest whose imports of psycopg and pyspark fail, and a PATH/JAVA_HOME
without the binaries for the helpers that decide."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tests.lib.engines as engines
from tests.lib.paths import ROOT

BLOCKED_RUN = """
import importlib.abc, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "pyspark"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_engine_tests_skip_with_reason_without_their_extras(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.lib.engines import postgres_url, spark_session  # noqa\n")
    (tmp_path / "test_needs_engines.py").write_text(
        textwrap.dedent("""
        def test_postgres(postgres_url):
            raise AssertionError("must not run")

        def test_spark(spark_session):
            raise AssertionError("must not run")
        """)
    )
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, str(tmp_path), "-q", "-rs", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "2 skipped" in output
    assert "PostgreSQL tests skipped: the Python module psycopg is not installed" in output
    assert '.[postgres]"' in output
    assert "Spark tests skipped: the Python module pyspark is not installed" in output
    assert '.[spark]"' in output


def test_missing_binaries_are_reasons_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines.shutil, "which", lambda name: None)
    monkeypatch.setattr(engines.glob, "glob", lambda pattern: [])
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert engines.missing_postgres() == engines.INSTALL_HINT
    assert "Java runtime" in (engines.missing_spark() or "")


def test_nothing_missing_when_everything_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the extras and binaries present (as in ``make test`` and CI) the engine tests run."""
    monkeypatch.setattr(engines.importlib, "import_module", lambda name: object())
    monkeypatch.setattr(engines.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert engines.missing_postgres() is None
    assert engines.missing_spark() is None
