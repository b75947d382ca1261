"""What a role may see of the domain packages' outputs, decided here once for the JSON API and the pages.

Two audiences see aggregates:

- the **care team** (an account with a ``soignant`` or ``coordinateur`` role): the domain packages' figures as
  they are, every period and date;
- everyone else, a **protected audience** (``chercheur``, and ``gestionnaire`` or ``admin`` without a
  care role): every aggregate leaves the domain packages through this module only, which (1) refuses the
  periods and dates outside the published set (``protected_periods`` of ``measures/disclosure.yaml``:
  closed calendar years), against differencing; (2) leaves out the patients who objected to any use of
  their data outside the care team (``identity.objection``), in every count, so that no figure
  changes with them (which would reveal their number and traits); (3) applies disclosure control
  (``measures.disclosure``) to each table, and masks with a count every value computed from it (share,
  rate, interval, eligible, events), so that no field rebuilds a masked count.

Nominative reads (own patients for clinicians, within the account's structure) and their audit are here
too, and the scope every route reads through (:func:`services`: the installation's services as the
request's scope sees them, decided once by ``auth.authorize`` with ``security.scopes``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException, Request

from proxisante.disclosure import (
    TOTAL,
    PeriodRefused,
    mask_derived,
    period_policy,
    protect_parts,
    suppress,
    with_margins,
)
from proxisante.measures.definition import Measure
from proxisante.measures.gaps import nominative
from proxisante.measures.periods import Period, data_coverage, no_data_message, partial_message
from proxisante.network.scope import Scope
from proxisante.territory.departements import DepartementError, departement_code, departement_mask
from proxisante.web.security.auth import Forbidden, User, route_name
from proxisante.web.security.permissions import protected_audience
from proxisante.web.security.scopes import Registry
from proxisante.web.security.scopes import scope_of as _account_scope
from proxisante.web.services import InputError, Services, period_of

SHARES = ("share",)


def user_of(request: Request) -> User:
    return request.state.user


def scope_of(user: User, registry: Registry) -> Scope:
    """The scope of an account, from the account only: its structure, its CPTS's members, or the network."""
    return _account_scope(user.structure, user.cpts, registry)


def request_scope(request: Request) -> Scope:
    """The scope the request reads (the account's, narrowed by ``?structure=``), set by ``auth.authorize``."""
    return request.state.scope


def services(request: Request) -> Services:
    """The installation's services as the request's scope sees them: what every page and API route reads."""
    return request.app.state.web.services.for_scope(request_scope(request))


def protected(user: User) -> bool:
    """Does the account see protected aggregates only (no care role)?"""
    return protected_audience(user.roles)


def today() -> dt.date:
    return dt.date.today()


# -- periods and dates ------------------------------------------------------------------------------------


def published_year(user: User, svc: Services) -> int:
    """The default year of a page: the centre's last full year, and for a protected audience a published one."""
    year = svc.default_year()
    return min(year, period_policy().last_year(today())) if protected(user) else year


def last_data(svc: Services) -> dt.date | None:
    """The day of the last data of the scope's warehouse, once per batch (``measures.periods.last_data_date``)."""
    return svc.last_data()


def period_notes(svc: Services, period: Period) -> tuple[str | None, str | None]:
    """(no data, incomplete): the French sentence a page shows instead of its figures for a period after the
    last data, or beside them for a period that ends after it; None when it does not apply."""
    last = last_data(svc)
    coverage = data_coverage(period, last)
    if coverage == "none":
        return no_data_message(last), None
    return None, partial_message(last) if coverage == "partial" and last is not None else None


def departement_of(communes: pd.DataFrame, text: str) -> tuple[str, np.ndarray]:
    """A département asked by a page or the API (``territory.departements``): a code that is none is a 422, one
    no commune of the reference has a 404, each naming it in French; never another département instead."""
    try:
        code = departement_code(text)
    except DepartementError as error:
        raise InputError(str(error)) from error
    try:
        return departement_mask(communes, code)
    except DepartementError as error:
        raise HTTPException(404, str(error)) from error


def published_period(user: User, svc: Services, text: str | None) -> Period:
    """The period asked (default: the last published year); refused in French outside the published set."""
    if not text:
        return period_of(str(published_year(user, svc)))
    period = period_of(text)
    if not protected(user):
        return period
    try:
        period_policy().check(period.start, period.end, today(), f"période {text!r}")
    except PeriodRefused as error:
        raise InputError(str(error)) from error
    if period.start == dt.date(period.end.year, 1, 1) and period.end == dt.date(period.end.year, 12, 31):
        return period_of(str(period.end.year))  # 12M:2025-12-31 is the year 2025: one table, one label
    return period


def published_date(user: User, svc: Services, day: dt.date | None) -> dt.date:
    """A reference date (default: 31/12 of the last published year); refused outside the published set."""
    if day is None:
        return dt.date(published_year(user, svc), 12, 31)
    if not 1900 <= day.year <= 2100:
        raise InputError("date hors des années 1900 à 2100")
    if protected(user):
        try:
            period_policy().check_date(day, today())
        except PeriodRefused as error:
            raise InputError(str(error)) from error
    return day


def excluded(user: User, svc: Services) -> frozenset[int]:
    """Persons left out of what the account sees: the objecting patients, for a protected audience."""
    return svc.objections() if protected(user) else frozenset()


# -- aggregates -------------------------------------------------------------------------------------------


def patientele_for(user: User, svc: Services, on: dt.date, period: Period) -> dict[str, pd.DataFrame]:
    """The patientèle tables the account may see: pyramid (with its margins), composition, risk levels,
    and, for the care team only, the panel per médecin traitant and the flows."""
    if not protected(user):
        data = svc.patientele(on, period)
        return {**data, "pyramid": with_pyramid_margins(data["pyramid"])}
    gone = excluded(user, svc)
    return svc.cached("protected_patientele", (on, period, gone), lambda: _protect_patientele(svc, on, period, gone))


def _protect_patientele(svc: Services, on: dt.date, period: Period, gone: frozenset[int]) -> dict[str, pd.DataFrame]:
    data = svc.patientele(on, period, gone)
    pyramid = suppress(with_pyramid_margins(data["pyramid"]), dims=["age_band", "sex"], counts=["patients"])
    whole = pyramid[(pyramid.age_band == TOTAL) & (pyramid.sex == TOTAL)].patients
    panel = whole.iloc[0] if len(whole) else pd.NA
    composition = protect_parts(data["composition"], part="patients", whole="panel", derived=SHARES)
    risk = data["risk"]
    margin = pd.DataFrame({"level": [TOTAL], "patients": [int(risk.panel.iloc[0]) if len(risk) else 0]})
    levels = suppress(
        pd.concat([risk[["level", "patients"]], margin], ignore_index=True), dims=["level"], counts=["patients"]
    )
    risk = risk.assign(
        patients=levels.patients.iloc[: len(risk)].to_numpy(), suppressed=levels.suppressed.iloc[: len(risk)].to_numpy()
    )
    risk = mask_derived(risk, SHARES)
    if pd.isna(panel):  # a share would give the masked panel back (patients / share): nothing of it
        composition = _all_masked(composition, "patients", SHARES)
        risk = _all_masked(risk, "patients", SHARES)
    # The panel column repeats the pyramid's grand total, protected once there.
    composition = composition.assign(panel=pd.array([panel] * len(composition), dtype="Int64"))
    risk = risk.assign(panel=pd.array([panel] * len(risk), dtype="Int64"))
    empty = data["flows"].iloc[0:0]
    return {"pyramid": pyramid, "composition": composition, "risk": risk, "flows": empty, "panel": panel}


def _all_masked(frame: pd.DataFrame, count: str, derived: Sequence[str]) -> pd.DataFrame:
    hidden = frame.suppressed.where(frame.suppressed != "", "secondary")
    return mask_derived(frame.assign(suppressed=hidden), derived).assign(
        **{count: pd.array([pd.NA] * len(frame), dtype="Int64")}
    )


def with_pyramid_margins(pyramid: pd.DataFrame) -> pd.DataFrame:
    """The age × sex pyramid with its margins (age band Total, sex Total and the grand total: the panel)."""
    cells = pyramid[(pyramid.age_band != TOTAL) & (pyramid.sex != TOTAL)][["age_band", "sex", "patients"]]
    return with_margins(cells, ["age_band", "sex"], ["patients"], sort=False)


def panel_size(data: dict[str, pd.DataFrame]) -> object:
    """The panel (grand total of the pyramid; masked, i.e. NA, in a protected view of a tiny centre)."""
    pyramid = data["pyramid"]
    whole = pyramid[(pyramid.age_band == TOTAL) & (pyramid.sex == TOTAL)].patients
    return whole.iloc[0] if len(whole) else 0


def results_for(user: User, svc: Services, period: Period, by: str | None) -> pd.DataFrame:
    """Measure results: as computed for the care team, protected and without objectors otherwise."""
    if not protected(user):
        return svc.results(period, by)
    return svc.protected_results(period, by, excluded(user, svc))


def series_for(user: User, svc: Services, measure: Measure, first: dt.date, last: dt.date) -> pd.DataFrame:
    """A measure over time. The care team: 12 rolling months ending each month. A protected audience:
    one point per published calendar year whose December falls between ``first`` and ``last``, each the
    year's total row exactly as the results of that year publish it."""
    if not protected(user):
        return svc.series(measure, first, last)
    policy = period_policy()
    years = [
        y
        for y in range(first.year, last.year + 1)
        if first <= dt.date(y, 12, 1) <= last and policy.allowed(dt.date(y, 1, 1), dt.date(y, 12, 31), today())
    ]
    if not years:
        raise InputError(f"série de {first:%Y-%m} à {last:%Y-%m} : {policy.describe()}")
    gone = excluded(user, svc)
    points = [svc.protected_year_point(measure, year, gone) for year in years]
    return pd.concat(points, ignore_index=True)


# -- nominative reads -------------------------------------------------------------------------------------


def own_provider(user: User, provider: str | None) -> str | None:
    """The médecin traitant whose patients the account may list: its own RPPS for a clinician."""
    if user.whole_structure:
        return provider
    if user.rpps is None:
        raise Forbidden("Compte soignant sans RPPS : aucune liste nominative.")
    if provider not in (None, "", user.rpps):
        raise Forbidden("Un soignant ne voit que les patients dont il est le médecin traitant.")
    return user.rpps


def check_own_patient(user: User, services: Services, person_id: int) -> None:
    """A clinician opens the plan of a patient who has them as médecin traitant *today*: a former
    médecin traitant does not get it back by asking for a period when they still were. In a network, the
    patient must be one the account's structure has seen: another structure's patient gets a 403, and the
    identity vault is never asked for their name."""
    if not services.scope.is_network and int(person_id) not in services.persons():
        raise Forbidden("Ce patient n'est pas connu de votre structure.")
    if user.whole_structure:
        return
    if services.médecin_traitant(person_id, today()) != user.rpps:
        raise Forbidden("Ce patient n'a pas déclaré ce soignant comme médecin traitant.")


def audited(request: Request, action: str, detail: str, person_ids: Sequence[int]) -> None:
    """Append the read to the audit log before the data leaves the server (the application refuses to send
    the response of a nominative route that did not come here: ``api.app``)."""
    user = user_of(request)
    request.app.state.web.audit.append(user.username, user.roles, action, route_name(request), detail, person_ids)
    request.state.audited = True


def with_names(request: Request, frame: pd.DataFrame, list_name: str) -> pd.DataFrame:
    """Names, birth date and phone from the identity vault (the vault logs the lookup too)."""
    web = request.app.state.web
    user = user_of(request)
    if frame.empty:
        return frame.assign(
            family_name=pd.Series(dtype="string"),
            given_names=pd.Series(dtype="string"),
            birth_date=pd.Series(dtype="object"),
            phone=pd.Series(dtype="string"),
        )
    return nominative(frame, web.installation.vault, reader=f"web:{user.username}", list_name=list_name)


# -- administration: a structure's admin manages its own structure ------------------------------------------


def manages(user: User, account: Any) -> bool:
    """Whether an admin may see and change ``account``: a network admin every account, a structure's admin
    the accounts of its structure only."""
    return user.structure is None or account.structure == user.structure


def managed_accounts(request: Request) -> list[Any]:
    """The accounts the signed-in admin manages."""
    user = user_of(request)
    return [a for a in request.app.state.web.accounts.list() if manages(user, a)]


def managed_audit(request: Request, limit: int) -> pd.DataFrame:
    """The audit log as the admin may read it: a structure's admin the rows of its structure's accounts."""
    frame = request.app.state.web.audit.entries(limit)
    if user_of(request).structure is None:
        return frame
    names = {a.username for a in managed_accounts(request)}
    return frame[frame.username.isin(names)].reset_index(drop=True)


def managed_vault_log(request: Request, limit: int) -> pd.DataFrame:
    """The identity vault's access log as the admin may read it: a structure's admin the web reads of its
    structure's accounts."""
    frame = request.app.state.web.installation.vault.access_log(limit=limit).to_pandas()
    if user_of(request).structure is None:
        return frame
    readers = {f"web:{a.username}" for a in managed_accounts(request)}
    return frame[frame.reader.isin(readers)].reset_index(drop=True)
