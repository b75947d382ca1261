"""The JSON API (``/api``): one route per output of a domain package, each named in the permission table.

Answers are JSON records (dates in ISO 8601, missing values as null). Malformed parameters get a
422 with the field and the reason; an unknown indicator a 404; a reference not built yet a 503.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from proxisante.measures.definition import library
from proxisante.measures.periods import FORMS, no_data_message
from proxisante.territory.cpts import size_cpts
from proxisante.territory.siting import add_supply, greedy_sites
from proxisante.web import worklist_view
from proxisante.web.access import (
    audited,
    check_own_patient,
    departement_of,
    excluded,
    last_data,
    managed_accounts,
    managed_audit,
    own_provider,
    patientele_for,
    period_notes,
    protected,
    published_date,
    published_period,
    published_year,
    results_for,
    series_for,
    services,
    user_of,
    with_names,
)
from proxisante.web.economics_view import ScenarioIn, simulate, simulation_summary
from proxisante.web.security.auth import authorize
from proxisante.web.security.pseudonyms import providers_shown, pseudonymised
from proxisante.web.services import InputError, Services, measure_of, period_of

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Connexion requise"},
    403: {"description": "Rôle insuffisant ou jeton CSRF absent"},
    422: {"description": "Paramètre invalide (champ et motif dans « detail »)"},
}
router = APIRouter(prefix="/api", dependencies=[Depends(authorize)], responses=ERRORS)

PeriodQuery = Annotated[str, Query(max_length=40, description=f"{FORMS} (défaut : dernière année complète)")]
MonthQuery = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="mois AAAA-MM")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
MAX_SERIES_MONTHS = 36


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON records (NaN → null, dates ISO)."""
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


def cached_json(svc: Services, name: str, params: Any, build: Any) -> Response:
    """Aggregates the same for every reader of a role class: serialised once per batch, not per request."""
    body = svc.cached(name, params, lambda: json.dumps(build(), ensure_ascii=False).encode(), lock=svc.figure_lock)
    return Response(body, media_type="application/json")


def _period(request: Request, text: str | None):
    return period_of(text) if text else period_of(str(services(request).default_year()))


def _month(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(f"{text}-01")
    except ValueError as error:
        raise InputError(f"mois {text!r} invalide : attendu AAAA-MM") from error
    if not 1900 <= day.year <= 2100:
        raise InputError(f"mois {text!r} hors des années 1900 à 2100")
    return day


def _measure(measure_id: str):
    try:
        return measure_of(measure_id)
    except KeyError as error:
        raise HTTPException(404, f"indicateur inconnu : {measure_id}") from error


@router.get("/me", name="api_me", summary="Le compte connecté et ses rôles")
def me(request: Request) -> dict[str, Any]:
    """The account, and its session's CSRF token for the POST requests of an API client (same origin only)."""
    user = user_of(request)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "rpps": user.rpps,
        "structure": user.structure,
        "cpts": user.cpts,
        "scope": _scope_json(request),
        "csrf_token": user.csrf,
    }


def _scope_json(request: Request) -> dict[str, Any]:
    """The scope the request reads: its name and structures (null: the whole network)."""
    scope = request.state.scope
    return {"name": scope.name, "structures": None if scope.is_network else sorted(scope.structures or ())}


@router.get("/status", name="api_status", summary="État de l'entrepôt : tables, derniers lots, rejets")
def status(request: Request) -> Response:
    svc = services(request)

    def build() -> dict[str, Any]:
        snapshot = svc.status()
        return {
            "engine": snapshot.engine,
            "batch_id": svc.batch_id(),
            "tables": [{"table": t, "group": g, "rows": n} for t, (g, n) in snapshot.counts.items()],
            "last_batches": records(snapshot.last_batches),
            "rejects_by_reason": records(snapshot.rejects_by_reason),
        }

    return cached_json(svc, "api_status", (), build)


@router.get("/patientele", name="api_patientele", summary="Patientèle médecin traitant : pyramide, composition, flux")
def patientele(
    request: Request,
    date: Annotated[
        dt.date | None, Query(description="date de référence (défaut : 31/12 de la dernière année complète)")
    ] = None,
    period: PeriodQuery | None = None,
) -> Response:
    svc, user = services(request), user_of(request)
    span = published_period(user, svc, period)
    on = published_date(user, svc, date)
    gone = excluded(user, svc)

    def build() -> dict[str, Any]:
        data = patientele_for(user, svc, on, span)
        return {
            "reference_date": on.isoformat(),
            "period": span.label,
            "pyramid": records(data["pyramid"]),
            "composition": records(data["composition"]),
            "risk_levels": records(data["risk"]),
            "flows": records(data["flows"]),
        }

    return cached_json(svc, "api_patientele", (on, span, protected(user), gone), build)


@router.get("/measures", name="api_measures", summary="Bibliothèque d'indicateurs")
def measures(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "label": m.label,
            "short_label": m.short_label,
            "group": m.group,
            "programme": list(m.programme),
            "direction": m.direction,
            "scoring": m.scoring,
            "intermediate": m.objectives.intermediate,
            "target": m.objectives.target,
            "source": m.source.text,
        }
        for m in library().values()
    ]


@router.get("/measures/results", name="api_measure_results", summary="Résultats des indicateurs sur une période")
def measure_results(
    request: Request,
    period: PeriodQuery | None = None,
    by: Annotated[
        Literal["provider", "care_site"] | None, Query(description="par médecin traitant ou par site")
    ] = None,
) -> Response:
    user, svc = user_of(request), services(request)
    span = published_period(user, svc, period)
    no_data, partial = period_notes(svc, span)
    last = last_data(svc)

    def build() -> dict[str, Any]:
        frame = None if no_data else results_for(user, svc, span, by)  # nothing computed after the last data
        return {
            "period": span.label,
            "start": span.start.isoformat(),
            "end": span.end.isoformat(),
            "last_data": None if last is None else last.isoformat(),
            "message": no_data or partial,
            "rows": [] if frame is None else records(providers_shown(request, frame)),
        }

    key = (span, by, protected(user), excluded(user, svc), pseudonymised(user))
    return cached_json(svc, "api_results", key, build)


@router.get(
    "/measures/{measure_id}/series",
    name="api_measure_series",
    summary="Série mensuelle (12 mois glissants) ; vue protégée : une valeur par année civile close",
)
def measure_series(
    request: Request,
    measure_id: Annotated[str, PathParam(max_length=80)],
    start: MonthQuery | None = None,
    end: MonthQuery | None = None,
) -> dict[str, Any]:
    measure = _measure(measure_id)
    year = published_year(user_of(request), services(request))
    first = _month(start) if start else dt.date(year, 1, 1)
    last = _month(end) if end else dt.date(year, 12, 1)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months < 1 or months > MAX_SERIES_MONTHS:
        raise InputError(f"de 1 à {MAX_SERIES_MONTHS} mois entre start et end (demandé : {months})")
    known = last_data(services(request))
    if known is None or first > known:  # computed on nothing: said, not 0 %
        return {"measure_id": measure.id, "rows": [], "message": no_data_message(known)}
    last = min(last, known.replace(day=1))  # no month after the last data
    frame = series_for(user_of(request), services(request), measure, first, last)
    return {"measure_id": measure.id, "rows": records(frame)}


@router.get("/gaps", name="api_gaps", summary="Liste de travail ou écarts de soins (liste d'appels) — nominatif, tracé")
def gaps(
    request: Request,
    period: PeriodQuery | None = None,
    measure: Annotated[list[str] | None, Query(description="seulement ces indicateurs")] = None,
    provider: Annotated[str | None, Query(pattern=r"^[0-9]{11}$", description="RPPS du médecin traitant")] = None,
    nominative: Annotated[bool, Query(description="avec nom, naissance et téléphone (coffre d'identités)")] = False,
    par_patient: Annotated[
        bool, Query(description="une ligne par patient avec toutes ses actions (indicateurs sur lesquels agir)")
    ] = False,
    limit: Limit = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Default period: the 12 months ending on the last data. One row per gap, or per patient (``par_patient``:
    the work list of the pages, actionable indicators only, "fait depuis" for the gaps closed since)."""
    user, svc = user_of(request), services(request)
    span = period_of(period) if period else worklist_view.default_period(svc)
    chosen = tuple(_measure(m).id for m in measure or ())
    rpps = own_provider(user, provider)
    if par_patient:
        frame = worklist_view.patients(svc, span, rpps, False)
        if chosen:
            frame = frame[frame.measure_ids.map(lambda ids: any(m in ids for m in chosen))]
    else:
        frame = svc.gaps(span, chosen, rpps)
    total = len(frame)
    page = frame.iloc[offset : offset + limit]
    detail = f"écarts de soins {span.label}" + (f", médecin {rpps}" if rpps else "") + (" (noms)" if nominative else "")
    audited(request, "liste nominative" if nominative else "liste pseudonymisée", detail, page.person_id.tolist())
    if nominative:
        page = with_names(request, page, detail)
    rows = worklist_view.records(page) if par_patient else records(page.astype({"person_id": "string"}))
    last = worklist_view.data_end(svc)
    return {
        "period": span.label,
        "data_end": last.isoformat() if last else None,
        "total": total,
        "offset": offset,
        "rows": rows,
    }


@router.get(
    "/prevention/{person_id}", name="api_prevention", summary="Plan personnalisé de prévention d'un patient — tracé"
)
def prevention(
    request: Request,
    person_id: Annotated[int, PathParam(ge=-(2**63), le=2**63 - 1)],
    period: PeriodQuery | None = None,
) -> dict[str, Any]:
    user, svc = user_of(request), services(request)
    span = period_of(period) if period else worklist_view.default_period(svc)
    worklist_view.check_known_patient(svc, person_id)
    check_own_patient(user, svc, person_id)
    audited(request, "plan de prévention", f"plan de prévention au {span.end.isoformat()}", [person_id])
    frame = svc.plan(span, person_id)
    return {
        "person_id": str(person_id),
        "reference_date": span.end.isoformat(),
        "items": records(frame.drop(columns="person_id")),
    }


@router.post("/economics/simulate", name="api_economics", summary="Modèle économique : scénarios de paiement")
def economics(request: Request, scenario: ScenarioIn) -> dict[str, Any]:
    return simulation_summary(simulate(request, scenario))


Code = Annotated[str | None, Query(max_length=12, description="code du département (23, 2A, 974)")]


@router.get("/territory/apl", name="api_territory_apl", summary="APL des communes (offre synthétique + centre)")
def territory_apl(request: Request, departement: Code = None, limit: Limit = 100) -> dict[str, Any]:
    result = services(request).accessibility()
    frame = result.communes
    if departement:
        frame = frame[departement_of(frame, departement)[1]]
    frame = frame.sort_values(["apl", "code"], ignore_index=True)
    shown = frame[["code", "name", "departement", "population", "fte", "apl"]].head(limit)
    under = frame.apl < result.threshold
    return {
        "threshold": result.threshold,
        "communes": len(frame),
        "population": int(frame.population.sum()),
        "population_under": int(frame.loc[under, "population"].sum()),
        "notes": result.notes(),
        "rows": records(shown),
    }


@router.get("/territory/cpts", name="api_territory_cpts", summary="Taille d'une CPTS et financement ACI")
def territory_cpts(
    request: Request,
    communes: Annotated[
        str | None, Query(max_length=20_000, description="codes INSEE séparés par des virgules")
    ] = None,
    epci: Annotated[str | None, Query(pattern=r"^\d{9}$", description="SIREN de l'EPCI")] = None,
) -> dict[str, Any]:
    codes = [c.strip() for c in (communes or "").split(",") if c.strip()]
    if not codes and not epci:
        raise InputError("donnez communes ou epci")
    try:
        sizing = size_cpts(services(request).communes(), codes, epci, None)
    except (KeyError, ValueError) as error:
        raise InputError(str(error.args[0] if error.args else error)) from error
    if sizing.communes.empty:  # never « 0 communes, taille 1 »
        asked = ", ".join([*codes, *([f"EPCI {epci}"] if epci else [])])
        raise HTTPException(404, f"aucune commune connue du référentiel parmi {asked}")
    return {
        "communes": len(sizing.communes),
        "population": int(sizing.population),
        "tier": sizing.tier,
        "max_funding_2019": sizing.max_funding_2019,
        "max_funding_avenant2": sizing.max_funding_avenant2,
        "running_costs": sizing.running_costs,
        "unknown_codes": list(sizing.unknown_codes),
        "missions": [{"name": m.name, "kind": m.kind} for m in sizing.missions],
    }


@router.get("/territory/siting", name="api_territory_siting", summary="Implantation : simulation ou meilleurs sites")
def territory_siting(
    request: Request,
    commune: Annotated[str | None, Query(pattern=r"^[0-9][0-9AB][0-9]{3}$", description="code INSEE simulé")] = None,
    departement: Code = None,
    sites: Annotated[int, Query(ge=1, le=10)] = 3,
    etp: Annotated[float, Query(gt=0, le=50)] = 3.0,
) -> dict[str, Any]:
    result = services(request).accessibility()
    if commune:
        try:
            what_if = services(request).call(lambda: add_supply(result, commune, etp))
        except KeyError as error:
            raise HTTPException(404, str(error.args[0])) from error
        return {
            "commune": commune,
            "name": what_if.name,
            "etp": etp,
            "population_lifted": int(what_if.population_lifted),
            "population_under_before": int(what_if.population_under_before),
            "population_under_after": int(what_if.population_under_after),
            "rows": records(what_if.communes.head(100)[["code", "name", "population", "apl", "apl_after", "lifted"]]),
        }
    if not departement:
        raise InputError("donnez commune (simulation) ou departement (meilleurs sites)")
    code, mask = departement_of(result.communes, departement)
    steps = services(request).call(lambda: greedy_sites(result, sites, etp, mask))
    return {
        "departement": code,
        "etp": etp,
        "steps": [
            {
                "rank": s.rank,
                "code": s.code,
                "name": s.name,
                "population_lifted": int(s.population_lifted),
                "cumulative_lifted": int(s.cumulative_lifted),
            }
            for s in steps
        ],
    }


@router.get("/quality/completeness", name="api_quality", summary="Complétude des tables cliniques par mois")
def quality(request: Request) -> dict[str, Any]:
    return {"rows": records(services(request).completeness())}


@router.get("/audit", name="api_audit", summary="Journal d'audit des lectures nominatives")
def audit(request: Request, limit: Limit = 200) -> dict[str, Any]:
    log = request.app.state.web.audit
    frame = managed_audit(request, limit)
    frame["person_ids"] = frame.person_ids.map(lambda ids: [str(i) for i in ids])
    check = log.check()
    return {"chain_broken_at": check.broken_at, "chain_problem": check.reason, "rows": records(frame)}


@router.get("/accounts", name="api_accounts", summary="Comptes et rôles")
def accounts(request: Request) -> list[dict[str, Any]]:
    """The accounts the admin manages; ``blocked_seconds``: how long a rate-limited account still waits (null when
    it is not blocked; an admin unlocks it on the administration page or with ``proxisante users unlock``)."""
    blocked = request.app.state.web.limiter.blocked_accounts()
    return [
        {
            "username": a.username,
            "display_name": a.display_name,
            "roles": list(a.roles),
            "rpps": a.rpps,
            "active": a.active,
            "created_at": a.created_at.isoformat(),
            "structure": a.structure,
            "cpts": a.cpts,
            "blocked_seconds": round(blocked[a.username]) if a.username in blocked else None,
        }
        for a in managed_accounts(request)
    ]
