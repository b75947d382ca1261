"""A small synthetic network, generated and loaded once per test session, copied for each test.

Three structures of different sizes (``SIZES`` patient files), a few persons seen by two of them,
each loaded with ``--structure`` through the loader of its export's format, exactly as ``ingest``
does. A test gets its own copy of the data home (warehouse, vault, keys, registry), so it may change
anything.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxisante.ingest import FORMATS
from proxisante.installation import Installation, open_installation
from proxisante.network.structures import load_source
from proxisante.settings import Settings
from proxisante.synth.network import REGISTRY_FILE, NetworkOptions, NetworkSummary, generate_network

SIZES = (160, 110, 70)


@dataclass(frozen=True)
class LoadedNetwork:
    """A data home holding the loaded network, and what the generator wrote."""

    home: Path
    summary: NetworkSummary

    @property
    def finess(self) -> list[str]:
        return [plan.finess for plan in self.summary.plans]

    def open(self) -> Installation:
        return open_installation(Settings(home=self.home))


def build_network(root: Path, sizes: tuple[int, ...] = SIZES, seed: int = 11) -> LoadedNetwork:
    """Generate a network under ``root/synth`` and load it into the data home ``root/home``."""
    summary = generate_network(NetworkOptions(structures=len(sizes), sizes=sizes, seed=seed, out=root / "synth"))
    settings = Settings(home=root / "home")
    settings.structures.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "synth" / REGISTRY_FILE, settings.structures)
    inst = open_installation(settings)
    try:
        for plan in summary.plans:
            folder = plan.folder(summary.options)
            FORMATS[plan.source.drop_format].load(folder, inst, load_source(plan.finess), structure=plan.finess)
    finally:
        inst.close()
    return LoadedNetwork(root / "home", summary)


@pytest.fixture(scope="session")
def network_template(tmp_path_factory: pytest.TempPathFactory) -> LoadedNetwork:
    return build_network(tmp_path_factory.mktemp("network"))


@pytest.fixture()
def network(network_template: LoadedNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoadedNetwork:
    """A copy of the loaded network for one test; ``PROXISANTE_HOME`` points at it."""
    home = tmp_path / "home"
    shutil.copytree(network_template.home, home)
    monkeypatch.setenv("PROXISANTE_HOME", str(home))
    for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
        monkeypatch.delenv(name, raising=False)
    return LoadedNetwork(home, network_template.summary)
