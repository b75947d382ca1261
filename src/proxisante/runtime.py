"""The objects of one installation, built from its settings: warehouse, vault, pseudonymiser.

Kept apart from the CLI and the web layer so that both (and scripts) open an installation the same
way.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxisante.identity import IdentityVault, Pseudonymiser, load_or_create_key
from proxisante.identity.chain import AuditChain
from proxisante.identity.objection import ObjectionRegistry
from proxisante.settings import Settings, get_settings
from proxisante.warehouse.connection import Warehouse


@dataclass
class Installation:
    settings: Settings
    warehouse: Warehouse
    vault: IdentityVault
    pseudonymiser: Pseudonymiser

    @property
    def objections(self) -> ObjectionRegistry:
        """Patients who objected to research and external reports (droit d'opposition)."""
        return ObjectionRegistry(self.vault, self.pseudonymiser)

    def close(self) -> None:
        self.warehouse.close()


def open_installation(settings: Settings | None = None) -> Installation:
    settings = settings or get_settings()
    return Installation(
        settings,
        Warehouse.connect(settings.warehouse),
        IdentityVault(settings.vault, AuditChain(settings.audit, "vault")),
        Pseudonymiser(load_or_create_key(settings.key_path)),
    )
