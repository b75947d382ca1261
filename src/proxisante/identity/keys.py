"""Secrets created on first use with owner-only permissions: the pseudonymisation key, the signing key."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

KEY_BYTES = 32


def create_secret(path: Path, generate: Callable[[], bytes]) -> None:
    """Write ``generate()`` to ``path`` (0600, in a 0700 folder) unless the file exists already.

    Creation uses ``O_EXCL`` so that two processes starting together cannot write two secrets: the
    second one keeps the first's. ``generate`` is only called when the file is really created.
    """
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate())


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (see :func:`create_secret`) if it does not exist yet: losing
    the key would make every future load produce different ``person_id`` values."""
    path = path.expanduser()
    create_secret(path, lambda: secrets.token_hex(KEY_BYTES).encode("ascii"))
    text = path.read_text().strip()
    key = bytes.fromhex(text)
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path}: the pseudonymisation key must hold at least {KEY_BYTES} bytes in hex")
    return key
