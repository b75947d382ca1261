"""The default views of a structure computed again in the background as soon as one of its loads commits.

A load of structure B makes the cached figures of B, of B's CPTS and of the network stale
(``Services._version``); without this thread the first visitor of each of those pages after the load waited
for their computation (seconds at 40,000 patients: the p99 of ``bench/network_serving.py`` in issue 15).
:class:`Warmer` watches the last committed batch of every structure (whatever loaded it: the drop folders,
an upload, ``proxisante ingest`` sent to the server, another process on PostgreSQL) and, for each structure
whose batch changed, computes the default views of the scopes its accounts read (``Services.warm``, and the
economics page's default simulation): the structure's own, then its CPTS's, then the network's, each on a
reading connection of its own so that the pages keep answering meanwhile. At start every scope is warmed
once.
"""

from __future__ import annotations

import logging
import threading

from proxisante.definitions import ParameterFile
from proxisante.economics.costs import load_costs, stored_costs
from proxisante.network.scope import Scope, ScopeError
from proxisante.settings import Settings
from proxisante.web.economics_view import CostsRefused, ScenarioIn, costs_key, simulation_for
from proxisante.web.security.scopes import Registry, registry_of, scope_of
from proxisante.web.services import InputError, Services, Unavailable

log = logging.getLogger(__name__)
SECURITY = ParameterFile("proxisante.web.security", "security.yaml")


def scopes_to_warm(changed: set[str], registry: Registry) -> list[Scope]:
    """The scopes whose default views a load of the ``changed`` structures made stale, as the accounts of
    those scopes read them: each structure's, each CPTS holding one, then the network. A warehouse without
    a registry (a single centre) has the network's only: every account reads it."""
    known = {structure.finess: structure for structure in registry.structures}
    scopes: list[Scope] = []
    for finess in sorted(changed & known.keys()):
        scopes.append(scope_of(finess, None, registry))
    for cpts in sorted({cpts for f in changed & known.keys() if (cpts := known[f].cpts)}):
        try:
            scopes.append(scope_of(None, cpts, registry))
        except ScopeError:  # a CPTS without an active member: no account reads it
            continue
    if changed:
        scopes.append(Scope.network())
    return scopes


class Warmer:
    """A background thread that keeps the default views of every scope computed (see the module)."""

    def __init__(
        self, services: Services, settings: Settings, interval: float | None = None, *, trends: bool = True
    ) -> None:
        self.services = services
        self.trends = trends  # each indicator's trend too (the longest of the default views)
        self.settings = settings
        self.interval = float(interval if interval is not None else SECURITY.value("warm_poll_seconds"))
        self._warmed: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.warmed_scopes: list[Scope] = []  # every scope warmed so far, in order (for tests and logs)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="warm-cache", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop; the view under way finishes (``Services.warm`` stops once closed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> list[Scope]:
        """Warm the scopes of the structures whose last batch changed since the last pass; the scopes warmed."""
        batches = self.services.last_batches()
        changed = {finess for finess, batch in batches.items() if self._warmed.get(finess) != batch}
        if not changed:
            return []
        done: list[Scope] = []
        for scope in scopes_to_warm(changed, registry_of(self.settings)):
            if self._stop.is_set() or self.services.closed:
                return done
            try:
                view = self.services.for_scope(scope)
                view.warm(self.trends)
                self.economics(view)
            except Exception:  # a page computes it on demand instead; the next load tries again
                log.exception("background computation of the views of %s failed", scope.name)
                continue
            done.append(scope)
        self.warmed_scopes.extend(done)
        self._warmed.update(batches)
        return done

    def economics(self, view: Services) -> None:
        """The economics page's default simulation, with the scope's own costs if its managers gave them
        (else the example, as the page shows it): seconds of random draws the first visitor would wait for."""
        costs = stored_costs(self.settings.home_dir, costs_key(view.scope)) or load_costs()
        try:
            simulation_for(view, ScenarioIn(), costs, frozenset())
        except (CostsRefused, Unavailable, InputError):  # the page says why; nothing to compute ahead
            return

    def _run(self) -> None:
        while not self._stop.is_set() and not self.services.closed:
            try:
                self.run_once()
            except Exception:
                log.exception("background computation: pass failed")
            self._stop.wait(self.interval)
