"""What a role may see of the engines' outputs: disclosure control for researchers, own patients for
clinicians, and the audit of every nominative read. Shared by the JSON API and the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from fastapi import Request

from proxisante.api.auth import Forbidden, User, route_name
from proxisante.api.permissions import only_aggregates
from proxisante.api.services import Services
from proxisante.measures.disclosure import protect_measure_results, suppress
from proxisante.measures.periods import Period


def user_of(request: Request) -> User:
    return request.state.user


def protect_counts(user: User, frame: pd.DataFrame, dims: Sequence[str], counts: Sequence[str]) -> pd.DataFrame:
    """Small counts masked (with their complements) when the account sees protected aggregates only."""
    if not only_aggregates(user.roles) or frame.empty:
        return frame
    return suppress(frame, dims=list(dims), counts=list(counts))


def protect_series(user: User, frame: pd.DataFrame) -> pd.DataFrame:
    """Each month of a series is its own table (windows overlap): protected month by month."""
    if not only_aggregates(user.roles) or frame.empty:
        return frame
    rows = [
        protect_measure_results(frame.iloc[[i]].assign(stratum="Total"), dims=["stratum"]).drop(columns="stratum")
        for i in range(len(frame))
    ]
    return pd.concat(rows, ignore_index=True)


def results_for(user: User, services: Services, period: Period, by: str | None) -> pd.DataFrame:
    return services.protected_results(period, by) if only_aggregates(user.roles) else services.results(period, by)


def own_provider(user: User, provider: str | None) -> str | None:
    """The médecin traitant whose patients the account may list: its own RPPS for a clinician."""
    if user.whole_structure:
        return provider
    if user.rpps is None:
        raise Forbidden("Compte soignant sans RPPS : aucune liste nominative.")
    if provider not in (None, "", user.rpps):
        raise Forbidden("Un soignant ne voit que les patients dont il est le médecin traitant.")
    return user.rpps


def check_own_patient(user: User, services: Services, person_id: int, on: dt.date) -> None:
    if user.whole_structure:
        return
    if services.médecin_traitant(person_id, on) != user.rpps:
        raise Forbidden("Ce patient n'a pas déclaré ce soignant comme médecin traitant.")


def audited(request: Request, action: str, detail: str, person_ids: Sequence[int]) -> None:
    """Append the read to the audit log before the data leaves the server."""
    user = user_of(request)
    request.app.state.web.audit.append(user.username, user.roles, action, route_name(request), detail, person_ids)


def with_names(request: Request, frame: pd.DataFrame, list_name: str) -> pd.DataFrame:
    """Names, birth date and phone from the identity vault (the vault logs the lookup too)."""
    from proxisante.measures.gaps import nominative

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
