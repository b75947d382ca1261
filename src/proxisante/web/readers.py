"""Warehouse connections that read side by side, so that a short page does not queue behind a long one.

One DuckDB connection runs one query at a time; before this pool every computation of the server ran in
turn on the installation's connection, and the first view of a structure's pages after its load waited
behind the others' (issue 15: p99 4.8 s at 40,000 patients). A :class:`Readers` pool hands each thread a
connection of its own (:meth:`Installation.another_connection`: a DuckDB cursor of the same database, which
sees the last commit; a second PostgreSQL connection), at most ``size`` at once: DuckDB's memory limit is
the database's, shared by its cursors, so more readers do not mean more memory. A thread that already
reads keeps its connection for the calls it makes meanwhile (a cached result computed from another).
On an engine whose connection cannot be doubled (Spark), the pool has one reader, the installation.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

from proxisante.installation import Installation


class ReadersClosed(RuntimeError):
    """The server is shutting down: no connection is handed out any more."""


class Readers:
    """At most ``size`` connections to one installation's warehouse, each used by one thread at a time."""

    def __init__(self, installation: Installation, size: int) -> None:
        self.installation = installation
        self.size = max(1, size)
        self._free: queue.LifoQueue[Installation] = queue.LifoQueue()
        self._opened: list[Installation] = []
        self._guard = threading.Lock()
        self._local = threading.local()
        self._closed = False

    @contextlib.contextmanager
    def reading(self, *, blocking: bool = True) -> Iterator[Installation | None]:
        """A connection for this thread (the one it holds already, if any); None when ``blocking`` is false
        and every connection is taken."""
        held: Installation | None = getattr(self._local, "installation", None)
        if held is not None:
            yield held
            return
        taken = self._take(blocking)
        if taken is None:
            yield None
            return
        self._local.installation = taken
        try:
            yield taken
        finally:
            self._local.installation = None
            self._free.put(taken)

    def current(self) -> Installation | None:
        """The connection this thread reads on, None outside :meth:`reading`."""
        held: Installation | None = getattr(self._local, "installation", None)
        return held

    def _take(self, blocking: bool) -> Installation | None:
        if self._closed:
            raise ReadersClosed("le serveur s'arrête")
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._guard:
            if len(self._opened) < self.size:
                opened = self._open()
                self._opened.append(opened)
                return opened
        if not blocking:
            return None
        taken = self._free.get()
        if self._closed:
            self._free.put(taken)
            raise ReadersClosed("le serveur s'arrête")
        return taken

    def _open(self) -> Installation:
        if self.installation.warehouse.engine not in ("duckdb", "postgres"):
            self.size = 1  # Spark: the session is the process's, shared as it is
            return self.installation
        other = self.installation.another_connection()
        return other or self.installation

    def close(self, timeout: float = 30.0) -> None:
        """Close every connection once returned (the queries under way finish, for at most ``timeout``
        seconds each); the installation's own connection is its owner's to close."""
        self._closed = True
        with self._guard:
            opened, self._opened = self._opened, []
        for _ in opened:
            try:
                reader = self._free.get(timeout=timeout)
            except queue.Empty:
                break
            if reader is not self.installation:
                reader.close()
