"""One typed settings object, read from the environment (prefix ``PROXISANTE_``).

Everything a deployment may change lives here: where the data home is, which engine holds the
warehouse, where the pseudonymisation key and the identity vault are. The key and the vault are kept
*outside* the warehouse on purpose: whoever can read the analytic store cannot re-identify anyone.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from proxisante.identity.keys import owner_only_umask, restrict


class Settings(BaseSettings):
    """Settings of a proxisante installation.

    ``warehouse_url`` picks the engine: ``duckdb://<path>`` (the embedded default),
    ``postgres://user:pass@host/db`` or ``pyspark://`` as later engines land.
    """

    model_config = SettingsConfigDict(env_prefix="PROXISANTE_", extra="ignore")

    home: Path = Field(default=Path("~/.proxisante"), description="data home")
    warehouse_url: str | None = Field(default=None, description="Ibis connection URL of the warehouse")
    key_file: Path | None = Field(default=None, description="secret key of the pseudonymisation")
    vault_path: Path | None = Field(default=None, description="identity vault (DuckDB file)")
    accounts_path: Path | None = Field(default=None, description="web accounts and audit log (DuckDB file)")
    structures_path: Path | None = Field(default=None, description="registry of the network's member structures (YAML)")
    audit_dir: Path | None = Field(
        default=None, description="keys and anchors of the audit logs, kept apart from the logs themselves"
    )
    secure_cookies: bool = Field(
        default=True, description="Secure flag on session cookies (False: plain-HTTP loopback)"
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(), description="reverse proxies whose X-Forwarded-For is believed (JSON list; default none)"
    )

    @cached_property
    def home_dir(self) -> Path:
        """The data home, 0700; from here on the process creates owner-only files (``identity.keys``)."""
        owner_only_umask()
        path = self.home.expanduser()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        restrict(path)
        return path

    @property
    def warehouse(self) -> str:
        return self.warehouse_url or f"duckdb://{self.home_dir / 'warehouse.duckdb'}"

    @property
    def key_path(self) -> Path:
        return (self.key_file or self.home_dir / "secrets" / "pseudonymisation.key").expanduser()

    @property
    def vault(self) -> Path:
        return (self.vault_path or self.home_dir / "identity" / "vault.duckdb").expanduser()

    @property
    def audit(self) -> Path:
        """The audit logs' keys and anchors (:mod:`proxisante.identity.chain`): the secrets folder by default,
        apart from the vault and the accounts file whose logs they anchor."""
        return (self.audit_dir or self.key_path.parent).expanduser()

    @property
    def structures(self) -> Path:
        """The registry of the network's member structures (:mod:`proxisante.network.structures`)."""
        return (self.structures_path or self.home_dir / "reseau" / "structures.yaml").expanduser()

    @property
    def accounts(self) -> Path:
        """Accounts of the web application and its audit log: a file of their own, apart from the warehouse."""
        return (self.accounts_path or self.home_dir / "web" / "accounts.duckdb").expanduser()


def get_settings() -> Settings:
    """Settings from the current environment (not cached: tests change the environment)."""
    return Settings()
