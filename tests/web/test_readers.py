"""Connections that read side by side (``web/readers.py``) and the computations of ``Services`` on them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings
from proxisante.web.readers import Readers, ReadersClosed
from proxisante.web.services import Services

WAIT = 60.0  # seconds a test waits for another thread before calling it stuck


@pytest.fixture()
def installation(tmp_path: Path) -> Iterator[Installation]:
    opened = open_installation(Settings(home=tmp_path / "home"))
    yield opened
    opened.close()


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def _person_count(services: Services) -> int:
    return int(services.warehouse.execute(services.warehouse.table("person").count()))


def test_a_short_computation_does_not_wait_for_a_long_one(installation: Installation) -> None:
    services = Services(installation, readers=2)
    started, release = threading.Event(), threading.Event()

    def long() -> int:
        started.set()
        release.wait(WAIT)
        return _person_count(services)

    slow, _ = _in_thread(lambda: services.cached("long", (), long))
    assert started.wait(WAIT)
    quick, answer = _in_thread(lambda: services.cached("short", (), lambda: _person_count(services)))
    quick.join(WAIT)
    try:
        assert not quick.is_alive() and answer == [0]  # answered while the long one still runs
        assert slow.is_alive()
    finally:
        release.set()
        slow.join(WAIT)


def test_two_requests_for_one_key_compute_it_once(installation: Installation) -> None:
    services = Services(installation, readers=3)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        started.set()
        release.wait(WAIT)
        return [_person_count(services)]

    first, one = _in_thread(lambda: services.cached("k", (), compute))
    assert started.wait(WAIT)
    second, other = _in_thread(lambda: services.cached("k", (), compute))
    release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert calls == [1]
    assert one[0] is other[0]


def test_a_computation_and_those_it_calls_read_on_one_connection_of_their_own(installation: Installation) -> None:
    services = Services(installation, readers=2)
    seen: dict[str, int] = {}

    def inner() -> int:
        seen["inner"] = id(services.installation.warehouse.backend)
        return _person_count(services)

    def outer() -> int:
        seen["outer"] = id(services.installation.warehouse.backend)
        return services.cached("inner", (), inner)

    assert services.cached("outer", (), outer) == 0
    assert seen["outer"] == seen["inner"]
    assert seen["outer"] != id(installation.warehouse.backend)  # not the server's own connection


def test_the_pool_hands_out_at_most_its_size(installation: Installation) -> None:
    readers = Readers(installation, 2)
    held, release = threading.Barrier(3), threading.Event()

    def hold() -> None:
        with readers.reading() as reader:
            assert reader is not None
            held.wait(WAIT)
            release.wait(WAIT)

    threads = [_in_thread(hold)[0] for _ in range(2)]
    held.wait(WAIT)
    with readers.reading(blocking=False) as none:
        assert none is None  # both taken
    release.set()
    for thread in threads:
        thread.join(WAIT)
    with readers.reading(blocking=False) as reader:
        assert reader is not None and reader is not installation
    readers.close()
    with pytest.raises(ReadersClosed), readers.reading():
        pass
