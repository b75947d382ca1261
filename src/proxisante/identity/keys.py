"""The secret key of the pseudonymisation, created on first use with owner-only permissions."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (0600, in a 0700 folder) if it does not exist yet.

    Creation uses ``O_EXCL`` so that two processes starting together cannot write two keys: losing
    the key would make every future load produce different ``person_id`` values.
    """
    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES))
    text = path.read_text().strip()
    key = bytes.fromhex(text)
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path}: the pseudonymisation key must hold at least {KEY_BYTES} bytes in hex")
    return key
