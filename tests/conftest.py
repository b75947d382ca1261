from __future__ import annotations

from pathlib import Path

import pytest

from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data home, used by every command of the test."""
    path = tmp_path / "home"
    monkeypatch.setenv("PROXISANTE_HOME", str(path))
    for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def installation(home: Path):
    inst: Installation = open_installation(Settings())
    yield inst
    inst.close()


from tests.lib.engines import postgres_url, spark_session  # noqa: E402, F401
from tests.lib.network import network, network_template  # noqa: E402, F401
