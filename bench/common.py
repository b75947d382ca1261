"""What every bench shares: peak memory, a phase run in its own process, a server's readiness.

The benches run as scripts (``python bench/x.py``), so this file is imported as ``common``, beside them.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from queue import Empty
from typing import Any

import httpx


def peak_mib() -> float:
    """The peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_process(target: Any, *args: Any) -> dict[str, Any]:
    """``target(*args, queue)`` in a fresh process (its own peak memory), and what it put in ``queue``.
    A phase that dies says so instead of leaving the bench waiting."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result: dict[str, Any] = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} ended with code {process.exitcode}") from None
    process.join()
    return result


def wait_until_up(base: str, seconds: float = 60.0) -> None:
    """Wait until the server at ``base`` answers its login page."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        try:
            httpx.get(f"{base}/connexion", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"le serveur {base} ne répond pas après {seconds:.0f} s")
