"""Owner-only files: secrets created on first use (the pseudonymisation key, the signing key), and the
permissions of every file holding health data (the data home, the warehouse, the vault, the accounts,
extracts, exports and reports): 0600 files in 0700 folders.

Two mechanisms, both needed: :func:`owner_only_umask` once where an installation opens (the settings'
data home), so that whatever the process creates afterwards (DuckDB files and their write-ahead logs,
CSV, Parquet, workbooks) is the owner's only; and :func:`make_private` where a folder of health data is
delivered or an existing file may predate this rule (a warehouse created 0644 by an older version).
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

KEY_BYTES = 32
OWNER_ONLY_UMASK = 0o077  # no permission for the group or others on anything the process creates


def owner_only_umask() -> None:
    """From now on, files this process creates are 0600 and folders 0700 (a stricter umask is kept)."""
    current = os.umask(OWNER_ONLY_UMASK)
    os.umask(current | OWNER_ONLY_UMASK)


def write_whole(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, owner-only: a temporary file beside it (0600), flushed to
    disk, then renamed over it, so that a crash leaves the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_private(path: Path) -> None:
    """Take every permission of the group and others away from ``path`` and, for a folder, from everything
    under it (symbolic links are neither followed nor changed). A file that cannot be changed (another
    owner) is left as it is: the folders around it still close it."""
    path = path.expanduser()
    if not path.exists() or path.is_symlink():
        return
    restrict(path)
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                restrict(Path(folder) / name)


def restrict(path: Path) -> None:
    """``path`` itself (not what a folder holds) without permissions for the group and others."""
    try:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & OWNER_ONLY_UMASK:
            path.chmod(stat.S_IMODE(mode) & ~OWNER_ONLY_UMASK)
    except OSError:
        pass


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


_store_locks: dict[str, threading.RLock] = {}
_store_locks_guard = threading.Lock()


def _store_lock(path: Path) -> threading.RLock:
    key = str(path.expanduser().resolve())
    with _store_locks_guard:
        return _store_locks.setdefault(key, threading.RLock())


@contextmanager
def private_store(path: Path, ddl: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to one of the installation's own DuckDB files kept apart from the warehouse (the
    identity vault, the web accounts), its tables created by ``ddl`` if new; closed on leaving.

    One connection per file at a time in this process: the server's threads open these files at once (an
    audit row while another request reads the accounts), and DuckDB refuses to attach a file that another
    thread is closing (« Unique file handle conflict », seen at 20 users on 100,000 patients)."""
    with _store_lock(path):
        con = duckdb.connect(str(path))
        try:
            con.execute(ddl)
            yield con
        finally:
            con.close()
