"""Where the tests find the project's folders and the read-only shared data, whatever their own depth."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "proxisante"
DOCS = ROOT / "docs"
TEST_DATA = ROOT / "tests" / "data"
# ../shared: read by tests only (the OMOP Synthea set, the SQL-on-FHIR suite), never by the product.
SHARED = ROOT.parent / "shared"
