"""Every file holding health data is the owner's only (0600 files, 0700 folders), whatever the umask the
command started with: after a load, an OMOP export, a research extract and a report; and a warehouse an
older version left readable by others is closed when the installation opens."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.synth import SynthOptions, generate_centre
from tests.research.test_research import PROJECT


@pytest.fixture()
def loose_umask() -> Iterator[None]:
    """The usual umask of a login shell (022: new files 0644), put back afterwards."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _open_to_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


def _invoke(runner: CliRunner, *args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_load_export_extract_and_report_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    generate_centre(SynthOptions(patients=150, seed=3, out=tmp_path / "centre", file_format="csv", defects=False))
    os.umask(0o022)  # whatever generating did
    home = tmp_path / "home"
    monkeypatch.setenv("PROXISANTE_HOME", str(home))
    for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    _invoke(runner, "ingest", str(tmp_path / "centre"), "--source", "demo")
    assert (home / "warehouse.duckdb").exists() and (home / "identity" / "vault.duckdb").exists()
    assert _open_to_others(home) == []

    os.umask(0o022)
    _invoke(runner, "export", "omop", str(tmp_path / "livraisons" / "omop"), "--by", "dpo")
    assert _open_to_others(tmp_path / "livraisons" / "omop") == []

    os.umask(0o022)
    spec = tmp_path / "projet.yaml"
    spec.write_text(yaml.safe_dump({**PROJECT, "k": 2}, allow_unicode=True), encoding="utf-8")
    _invoke(runner, "research", "declare", str(spec), "--by", "dpo")
    _invoke(runner, "research", "extract", PROJECT["id"], "--out", str(tmp_path / "livraisons" / "extrait"),
            "--by", "chercheur")  # fmt: skip
    assert _open_to_others(tmp_path / "livraisons" / "extrait") == []

    os.umask(0o022)
    _invoke(runner, "report", "--period", "2025", "--out", str(tmp_path / "livraisons" / "rapport"), "--format",
            "xlsx", "--trend", "0", "--no-economics")  # fmt: skip
    assert _open_to_others(tmp_path / "livraisons" / "rapport") == []
    assert _open_to_others(home) == []


def test_an_old_world_readable_warehouse_is_closed_on_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    from proxisante.installation import open_installation
    from proxisante.settings import Settings

    home = tmp_path / "home"
    open_installation(Settings(home=home)).close()
    for path in [home, *home.rglob("*")]:  # as an older version left them
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert _open_to_others(home)
    open_installation(Settings(home=home)).close()
    assert _open_to_others(home) == []
