"""The objects of one installation, built from its settings: warehouse, vault, pseudonymiser.

Kept apart from the CLI and the web layer so that both (and scripts) open an installation the same
way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from proxisante.identity import IdentityVault, Pseudonymiser, load_or_create_key
from proxisante.identity.chain import VAULT_LOG, AuditChain
from proxisante.identity.keys import make_private, owner_only_umask
from proxisante.identity.objection import ObjectionRegistry
from proxisante.settings import Settings, get_settings
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import reconcile_vault


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
    owner_only_umask()  # health data: every file created from here on is 0600, every folder 0700
    for path in (settings.home_dir, settings.vault, settings.accounts, settings.key_path.parent):
        make_private(path)  # files an older version created readable by others
    installation = Installation(
        settings,
        Warehouse.connect(settings.warehouse),
        IdentityVault(settings.vault, AuditChain(settings.audit, VAULT_LOG)),
        Pseudonymiser(load_or_create_key(settings.key_path)),
    )
    try:  # a batch killed between its two stores is completed or undone (every load does it too, strictly)
        reconcile_vault(installation.warehouse, installation.vault)
    except duckdb.Error:
        logging.getLogger(__name__).warning("the identity vault could not be reconciled now", exc_info=True)
    return installation
