"""Where each structure's drop folder is, and the lock that lets one process at a time work in them.

The drop folders (``$PROXISANTE_HOME/depot/<FINESS>/``) are the network's: loads take extracts from them
(``ingest.dropfolders``), and the purge of a structure that left removes its folder
(``network.purge``). Both need the same layout and the same lock, so they live here, below both.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

from proxisante.settings import Settings

DEPOT = "depot"
LOCK_FILE = ".traitement.verrou"

_PROCESS_LOCK = threading.Lock()


def depot_root(settings: Settings) -> Path:
    """``$PROXISANTE_HOME/depot``, where each structure has its drop folder ``depot/<FINESS>/``."""
    return settings.home_dir / DEPOT


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """One pass at a time per installation: a thread lock within the process, a lock file across processes
    (a cron ``proxisante depot traiter`` and a server)."""
    with _PROCESS_LOCK:
        if not root.is_dir():
            yield
            return
        with open(root / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
