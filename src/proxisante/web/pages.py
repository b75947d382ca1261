"""The French pages: one route per page (named in the permission table), Jinja2 templates, htmx forms.

Pages read the same cached results as the JSON API (``web.services``) and apply the same
role rules (``api.access``): researchers see aggregates after disclosure control, clinicians the
names of their own patients only, and every nominative page or export is written to the audit log
before it is sent.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from importlib import resources
from itertools import zip_longest
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from proxisante import formats
from proxisante.definitions import ParameterFile
from proxisante.disclosure import TOTAL
from proxisante.economics.costs import (
    CostsError,
    costs_csv,
    forget_costs,
    load_costs,
    parse_costs,
    read_costs,
    store_costs,
)
from proxisante.economics.payments import MODELS
from proxisante.economics.workbook import write_workbook
from proxisante.ingest import FORMATS, dropfolders
from proxisante.ingest.files import os_error_words
from proxisante.measures.context import age_band_labels
from proxisante.measures.definition import GROUPS, Measure, library
from proxisante.measures.periods import FORMS, Period
from proxisante.network.structures import (
    Structure,
    StructureError,
    StructureRegistry,
    cpts_members,
    known_cpts,
    structure_types,
)
from proxisante.network.structures import parse as parse_structure
from proxisante.population import worklist
from proxisante.population.risk import levels as risk_levels
from proxisante.territory.maps import map_data, plotly_figure
from proxisante.territory.siting import add_supply
from proxisante.web import charts, tables_view, worklist_view
from proxisante.web.access import (
    audited,
    check_own_patient,
    departement_of,
    excluded,
    last_data,
    managed_accounts,
    managed_audit,
    managed_vault_log,
    manages,
    own_provider,
    panel_size,
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
from proxisante.web.economics_view import (
    CostsRefused,
    ScenarioIn,
    costs_key,
    costs_of,
    costs_rows,
    home,
    simulate,
    simulation_summary,
    write_refusal,
)
from proxisante.web.security.accounts import AccountError
from proxisante.web.security.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Forbidden,
    User,
    authorize,
    client_address,
)
from proxisante.web.security.permissions import CARE_TEAM, ROLES, web_may_create
from proxisante.web.security.pseudonyms import providers_shown
from proxisante.web.security.scopes import registry_of, shown_name
from proxisante.web.services import InputError, Services, Unavailable, measure_of, period_of, trend_months

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
NAV = (
    ("page_dashboard", "/", "Tableau de bord"),
    ("page_patientele", "/patientele", "Patientèle"),
    ("page_indicators", "/indicateurs", "Indicateurs"),
    ("page_actions", "/actions", "Actions"),
    ("page_economics", "/economie", "Modèle économique"),
    ("page_territory", "/territoire", "Territoire"),
    ("page_quality", "/qualite", "Qualité des données"),
    ("page_admin", "/administration", "Administration"),
)
PAGE_ROWS = 200  # rows of a nominative list shown on the page; the CSV export has them all

router = APIRouter(dependencies=[Depends(authorize)], include_in_schema=False)


def _rate(measure: Measure, value: Any) -> str:
    return formats.rate(value, measure.scoring)  # 61,2 % or 34,7 pour 100, as the command line and the PDF


def _goal(measure: Measure, value: float | None) -> str:
    return formats.goal(value, measure.scoring)


def _interval(measure: Measure, bounds: tuple[Any, Any]) -> str:
    return formats.interval(bounds[0], bounds[1], measure.scoring)


# An export is the page's own route with ?format=csv|xlsx (and tableau= for one table): same roles, same figures.
ExportFormat = Annotated[str | None, Query(alias="format", pattern="^(csv|xlsx)$")]
TableId = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_-]+$")]


templates.env.filters.update(
    number=formats.number, decimal=formats.decimal, percent=formats.percent, date=formats.date, rate=_rate, goal=_goal
)
templates.env.filters.update(interval=_interval, month=formats.month, signed=formats.signed)
templates.env.globals.update(
    export_url=tables_view.export_url, denominator_note=formats.DENOMINATOR_NOTE, total_label=TOTAL
)
templates.env.filters["blank"] = worklist_view.blank  # never "nan" on a page (phone, name, date)
templates.env.globals.update(roles_labels=ROLES, groups=GROUPS, period_forms=FORMS)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user: User | None = getattr(request.state, "user", None)
    nav = [(href, label) for route, href, label in NAV if user and user.may(route)]
    scope, registry = getattr(request.state, "scope", None), getattr(request.state, "registry", None)
    where = shown_name(scope, registry) if user and scope is not None and registry is not None else None
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "nav": nav, "path": request.url.path, "scope_name": where, **context},
        status_code=status_code,
    )


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, message=message)


def _period(request: Request, text: str | None):
    return period_of(text) if text else period_of(str(services(request).default_year()))


# -- login ------------------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return bool(request.app.state.web.settings.secure_cookies)


@router.get("/connexion", name="login_form")
def login_form(request: Request, suite: str = "/", erreur: str | None = None) -> HTMLResponse:
    cookie, token = request.app.state.web.sessions.login_token()
    response = render(request, "login.html", title="Connexion", next=_safe_next(suite), error=erreur, token=token)
    response.set_cookie(LOGIN_COOKIE, cookie, httponly=True, samesite="strict", secure=_secure(request), path="/")
    return response


def _safe_next(target: str) -> str:
    """Only a path of this site (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.post("/connexion", name="login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    suite: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    web = request.app.state.web
    if not web.sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
        return error_page(request, 403, "Requête refusée", "Formulaire expiré : rechargez la page de connexion.")
    address = client_address(request)
    wait = web.limiter.blocked_for(username, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        message = (
            f"Trop d'échecs de connexion pour ce compte ou depuis cette adresse : réessayez dans {minutes} minute(s), "
            "ou demandez à un administrateur de débloquer le compte. Un autre compte peut se connecter ci-dessous."
        )
        return _login_again(request, 429, "Trop de tentatives", message, suite)
    account = web.accounts.verify(username, password)
    if account is None:
        web.limiter.failed(username, address)
        return _login_again(
            request, 401, "Connexion", "Identifiant ou mot de passe incorrect, ou compte désactivé.", suite
        )
    web.limiter.succeeded(username)
    web.forget(username)
    cookie, _ = web.sessions.open(account.username)
    response = RedirectResponse(_safe_next(suite), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
        max_age=int(web.sessions.hours * 3600),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _login_again(request: Request, status: int, title: str, error: str, suite: str) -> Response:
    """The login form again, with the reason and a new form token: after a wrong password, and after too many
    failures (429), so that another person may sign in from the same page."""
    cookie, token = request.app.state.web.sessions.login_token()
    response = render(
        request, "login.html", status_code=status, title=title, next=_safe_next(suite), error=error, token=token
    )
    response.set_cookie(LOGIN_COOKIE, cookie, httponly=True, samesite="strict", secure=_secure(request), path="/")
    return response


@router.post("/deconnexion", name="logout")
def logout(request: Request) -> Response:
    request.app.state.web.sessions.close(request.state.session_id)
    response = RedirectResponse("/connexion", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- dashboard, patientèle ----------------------------------------------------------------------------


@router.get("/", name="page_dashboard")
def dashboard(request: Request) -> HTMLResponse:
    svc, user = services(request), user_of(request)
    year = published_year(user, svc)
    span = period_of(str(year))
    gone = excluded(user, svc)
    data = patientele_for(user, svc, dt.date(year, 12, 31), span)
    panel = panel_size(data)
    results = results_for(user, svc, span, None)
    totals = results[results.stratifier == ""]
    status_counts = totals.objective.value_counts().to_dict()
    below = totals[totals.objective == "sous l'objectif"]
    snapshot = svc.status()
    last = snapshot.last_batches.iloc[0] if len(snapshot.last_batches) else None
    return render(
        request,
        "dashboard.html",
        title="Tableau de bord",
        year=year,
        panel=panel,
        providers=len(svc.patientele(dt.date(year, 12, 31), span, gone)["by_provider"].mt_rpps.unique()) - 1,
        status_counts=status_counts,
        below=below,
        measures=library(),
        last=last,
        # Every person of the warehouse, objectors included: not for a protected audience (which sees them nowhere).
        persons=None if protected(user) else snapshot.counts.get("person", ("", 0))[1],
        # Month-to-month panel sizes give the net flows back, which the API withholds from a protected audience.
        trend=None if protected(user) else svc.figure("chart_trend", year, lambda: charts.panel_trend(data["flows"])),
        researcher=protected(user),
        scope_structures=_scope_structures(request),
        own=_own_home(svc, user, span, data),
    )


def _own_home(svc: Services, user: User, span: Any, data: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    """What a soignant acts on, for the top of his home page: his patientèle médecin traitant and his rate beside
    the structure's for each indicator (his work list's figures come in a fragment, ``home_own_actions``). None
    for the other accounts, whose home is the structure's."""
    if "soignant" not in user.roles or not user.rpps or protected(user):
        return None
    rpps = user.rpps
    by_provider = data.get("by_provider", pd.DataFrame(columns=["mt_rpps", "panel"]))
    mine = by_provider[by_provider.mt_rpps == rpps]
    results = svc.results(span, "provider")
    rows = results[results.stratifier == ""]
    own = {r.measure_id: r for r in rows[rows.provider == rpps].itertuples()}
    whole = {r.measure_id: r for r in rows[rows.provider == TOTAL].itertuples()}
    measures = library()
    compared = [(measures[m], own.get(m), row) for m, row in whole.items() if m in measures]
    return {
        "rpps": rpps,
        "panel": int(mine.panel.iloc[0]) if len(mine) else 0,
        "compared": compared,
        "below": sum(1 for _, r, _ in compared if r is not None and r.objective == "sous l'objectif"),
    }


@router.get("/accueil/mes-actions", name="home_own_actions")
def home_own_actions(request: Request) -> HTMLResponse:
    """The soignant's work list in two figures (actions due for his patients, patients late), on the list's
    default period, as ``/actions?medecin=RPPS`` shows it: a fragment the home page asks for once shown, since
    the list of one doctor takes seconds to compute the first time after a load (counts only: no name, no audit)."""
    svc, user = services(request), user_of(request)
    if not user.rpps:
        raise Forbidden("Compte soignant sans RPPS : pas de liste de travail.")
    period = worklist_view.default_period(svc)
    work = worklist_view.patients(svc, period, user.rpps, False)
    due = work[work.n_actions > 0] if len(work) else work
    return render(
        request,
        "_own_actions.html",
        rpps=user.rpps,
        period=period,
        actions=int(due.n_actions.sum()) if len(due) else 0,
        patients=len(due),
        overdue=int((due.urgency == worklist.OVERDUE).sum()) if len(due) else 0,
    )


def _scope_structures(request: Request) -> list[Structure]:
    """The registry's structures of a scope over several (a CPTS, the network), each named with a link that
    narrows the pages to it; none for one structure or a single centre."""
    scope = request.state.scope
    if scope.single is not None:
        return []
    return [s for s in request.state.registry.structures if scope.allows(s.finess)]


@router.get("/patientele", name="page_patientele")
def patientele(
    request: Request,
    date: Annotated[dt.date | None, Query()] = None,
    export: ExportFormat = None,
    tableau: TableId = None,
) -> Response:
    svc, user = services(request), user_of(request)
    on = published_date(user, svc, date)
    data = patientele_for(user, svc, on, period_of(str(on.year)))
    if export:
        exports = tables_view.patientele_exports(data, svc.provider_names(), not protected(user))
        return tables_view.respond(exports, export, tableau, f"patientele-{on.isoformat()}")
    pyramid = data["pyramid"]
    cells = pyramid[(pyramid.age_band != TOTAL) & (pyramid.sex != TOTAL)]
    by_provider = tables_view.by_provider(data)
    return render(
        request,
        "patientele.html",
        title="Patientèle",
        on=on,
        composition=data["composition"],
        risk=data["risk"],
        flows=data["flows"],
        access=data.get("access"),
        access_title=formats.ACCESS_TITLE,
        by_provider=by_provider,
        names=svc.provider_names(),
        pyramid=svc.figure(
            "chart_pyramid",
            (on, protected(user), excluded(user, svc)),
            lambda: charts.pyramid(cells.fillna(0)),
        ),
        researcher=protected(user),
    )


# -- indicators -------------------------------------------------------------------------------------------


@router.get("/indicateurs", name="page_indicators")
def indicators(
    request: Request,
    periode: Annotated[str | None, Query(max_length=40)] = None,
    export: ExportFormat = None,
    tableau: TableId = None,
) -> Response:
    svc, user = services(request), user_of(request)
    span = published_period(user, svc, periode)
    no_data, partial = period_notes(svc, span)
    if no_data:  # computed on nothing, every rate would read 0 % « sous l'objectif »
        return _no_data(request, "Indicateurs", span, no_data)
    frame = results_for(user, svc, span, None)
    rows = frame[frame.stratifier == ""]
    known = library()
    before_span = tables_view.previous_period(span)
    before_missing, _ = period_notes(svc, before_span)  # before the first data: nothing to compare with
    before = None if before_missing else results_for(user, svc, before_span, None)
    if export:
        title = f"Indicateurs {span.label}"
        exports = tables_view.indicator_exports(rows, known, before, None, protected(user), "indicateurs", title)
        return tables_view.respond(exports, export, tableau, tables_view.today_name("indicateurs", span.label))
    by_group: dict[str, list] = {g: [] for g in GROUPS}
    for row in rows.itertuples():
        by_group[known[row.measure_id].group].append((known[row.measure_id], row))
    compared = {} if before is None else tables_view.comparisons(rows, before, known, before_span.label)
    return render(
        request,
        "indicators.html",
        title="Indicateurs",
        period=span,
        by_group=by_group,
        partial=partial,
        no_data=None,
        previous=before_span,
        compared=compared,
    )


def _no_data(request: Request, title: str, span: Period, message: str) -> HTMLResponse:
    """The indicators' page for a period after the last data: the period form and the sentence, no figure."""
    return render(
        request,
        "indicators.html",
        title=title,
        period=span,
        by_group={},
        partial=None,
        no_data=message,
        previous=None,
        compared={},
    )


def _measure(measure_id: str) -> Measure:
    try:
        return measure_of(measure_id)
    except KeyError as error:
        raise HTTPException(404, f"indicateur inconnu : {measure_id}") from error


@router.get("/indicateurs/{measure_id}", name="page_indicator")
def indicator(
    request: Request,
    measure_id: Annotated[str, PathParam(max_length=80)],
    periode: Annotated[str | None, Query(max_length=40)] = None,
    export: ExportFormat = None,
    tableau: TableId = None,
) -> Response:
    svc, user, measure = services(request), user_of(request), _measure(measure_id)
    span = published_period(user, svc, periode)
    no_data, partial = period_notes(svc, span)
    if no_data:
        return _no_data(request, measure.short_label, span, no_data)
    frame = results_for(user, svc, span, "provider")
    rows = providers_shown(request, frame[(frame.measure_id == measure.id) & (frame.stratifier == "")])
    total = rows[rows.provider == TOTAL].iloc[0]
    providers = rows[rows.provider != TOTAL]
    if export:  # the doctors' names for the care team only
        names = None if protected(user) else svc.provider_names()
        title = f"{measure.short_label} {span.label}"[:31]
        chosen = {measure.id: measure}
        exports = tables_view.indicator_exports(rows, chosen, None, names, protected(user), "medecins", title)
        return tables_view.respond(exports, export, tableau, tables_view.today_name(measure.id, span.label))
    first, last = trend_months(span, last_data(svc), protected(user))
    trend = series_for(user, svc, measure, first, last)
    chart = svc.figure(
        "chart_series",
        (measure.id, first, last, protected(user), excluded(user, svc)),
        lambda: charts.series(
            trend,
            measure.short_label,
            measure.scoring != "events_per_100",
            measure.objectives.target,
            measure.objectives.intermediate,
            "années civiles" if protected(user) else "12 mois glissants",
        ),
    )
    return render(
        request,
        "indicator.html",
        title=measure.short_label,
        measure=measure,
        period=span,
        total=total,
        providers=providers,
        names=svc.provider_names(),
        chart=chart,
        trend=trend,
        drill=user.may("page_indicator_patients"),
        researcher=protected(user),
        own=user.rpps,
        whole=user.whole_structure,
        partial=partial,
    )


@router.get("/indicateurs/{measure_id}/medecins/{rpps}", name="page_indicator_patients")
def indicator_patients(
    request: Request,
    measure_id: Annotated[str, PathParam(max_length=80)],
    rpps: Annotated[str, PathParam(pattern=r"^[0-9]{11}$")],
    periode: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    measure, span = _measure(measure_id), _period(request, periode)
    no_data, _ = period_notes(services(request), span)
    if no_data:  # a nominative route: its (empty) read is audited all the same
        audited(request, "liste nominative", f"{measure.short_label} {span.label}, médecin {rpps} : pas de données", [])
        return _no_data(request, f"{measure.short_label} — patients à revoir", span, no_data)
    provider = own_provider(user_of(request), rpps)
    gaps = services(request).gaps(span, (measure.id,), provider)
    detail = f"{measure.short_label} {span.label}, médecin {provider}"
    audited(request, "liste nominative", detail, gaps.person_id.tolist()[:PAGE_ROWS])
    shown = with_names(request, gaps.head(PAGE_ROWS), detail)
    return render(
        request,
        "gaps.html",
        title=f"{measure.short_label} — patients à revoir",
        measure=measure,
        period=span,
        rows=shown,
        total=len(gaps),
        provider=provider,
        provider_name=None if provider is None else services(request).provider_names().get(provider, provider),
    )


# -- actions: the work list ------------------------------------------------------------------------------------


def _worklist_filters(
    indicateur: Annotated[str | None, Query(max_length=80)] = None,
    echeance: Annotated[str | None, Query(pattern=r"^(retard|mois|fait)?$")] = None,
    age: Annotated[str | None, Query(max_length=12)] = None,
    risque: Annotated[str | None, Query(max_length=30)] = None,
    site: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
    q: Annotated[str | None, Query(max_length=80)] = None,
    tri: Annotated[str | None, Query(pattern=r"^(echeance|nom|age|actions|risque)?$")] = None,
    ordre: Annotated[str | None, Query(pattern=r"^(asc|desc)?$")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> worklist_view.Filters:
    return worklist_view.Filters(
        indicateur=_measure(indicateur).id if indicateur else "",
        echeance=echeance or "",
        age=age or "",
        risque=risque or "",
        site=site,
        q=(q or "").strip(),
        tri=tri or "echeance",
        ordre=ordre or "asc",
        page=page,
    )


WorklistFilters = Annotated[worklist_view.Filters, Depends(_worklist_filters)]


def _work_list(request: Request, periode: str | None, medecin: str | None, sans_medecin: bool):
    """The period (default: 12 months to the last data), the médecin traitant the account may list, and the
    cached list of the scope. The patients without a médecin traitant are the coordination's list."""
    svc, user = services(request), user_of(request)
    span = period_of(periode) if periode else worklist_view.default_period(svc)
    if sans_medecin and not user.whole_structure:
        raise Forbidden("La liste des patients vus sans médecin traitant est celle de la coordination.")
    provider = None if sans_medecin else own_provider(user, medecin or None)
    return svc, span, provider, worklist_view.patients(svc, span, provider, sans_medecin)


def _detail(kind: str, span: Any, provider: str | None, sans_medecin: bool, chosen: worklist_view.Filters) -> str:
    parts = [f"{kind} {span.label}"]
    parts += [f"médecin {provider}"] if provider else []
    parts += ["sans médecin traitant"] if sans_medecin else []
    parts += [f"{k}={v}" for k, v in chosen.query(page="", tri="", ordre="").items()]
    return ", ".join(parts)


def _named_rows(
    request: Request,
    frame: pd.DataFrame,
    chosen: worklist_view.Filters,
    detail: str,
    size: int | None,
    action: str = "liste nominative",
):
    """The filtered, searched, sorted rows with names: the page asked (``size``) or all of them (None).

    Names are read (vault, audit) for the rows sent only, unless a search or a sort by name needs those of
    the whole filtered list: then that read is the one audited."""
    rows = worklist_view.filtered(frame, chosen)
    if chosen.needs_names or size is None:
        audited(request, action, detail, rows.person_id.tolist())
        named = worklist.search(with_names(request, rows, detail), chosen.q)
        named = worklist_view.sorted_rows(named, chosen)
        if size is None:
            return named, len(named), 1
        shown, pages = worklist.page(named, chosen.page, size)
        return shown, len(named), pages
    rows = worklist_view.sorted_rows(rows, chosen)
    shown, pages = worklist.page(rows, chosen.page, size)
    audited(request, action, detail, shown.person_id.tolist())
    return with_names(request, shown, detail), len(rows), pages


@router.get("/actions", name="page_actions")
def actions(
    request: Request,
    chosen: WorklistFilters,
    periode: Annotated[str | None, Query(max_length=40)] = None,
    medecin: Annotated[str | None, Query(pattern=r"^([0-9]{11})?$")] = None,
    sans_medecin: Annotated[bool, Query()] = False,
    imprimer: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    svc, span, provider, frame = _work_list(request, periode, medecin, sans_medecin)
    user = user_of(request)
    detail = _detail("liste de travail", span, provider, sans_medecin, chosen)
    if imprimer:
        chosen.page = 1
    size = worklist_view.print_rows() if imprimer else worklist_view.page_rows()
    shown, total, pages = _named_rows(request, frame, chosen, detail, size)
    chosen.extra = {
        "periode": span.label if periode else "",
        "medecin": (provider or "") if user.whole_structure else "",
        "sans_medecin": "1" if sans_medecin else "",
    }
    names = svc.provider_names()
    open_actions = frame.explode("measure_ids").measure_ids.dropna() if len(frame) else pd.Series(dtype="object")
    known = library()
    return render(
        request,
        "actions.html",
        title="Patients sans médecin traitant — liste de travail" if sans_medecin else "Liste de travail",
        period=span,
        last=worklist_view.data_end(svc),
        rows=shown,
        total=total,
        all_patients=len(frame),
        actions_total=int(frame.n_actions.sum()) if len(frame) else 0,
        pages=pages,
        chosen=chosen,
        by_measure=open_actions.value_counts(),
        measures=known,
        actionable=sorted((m for m in known.values() if m.actionable), key=lambda m: m.short_label),
        medecin=provider or "",
        doctor=names.get(provider or "", provider) if provider else None,
        names=names,
        sites=worklist_view.sites(svc),
        age_bands=age_band_labels(),
        risk_levels=risk_levels(),
        due_choices=worklist_view.DUE_CHOICES,
        whole=user.whole_structure,
        sans_medecin=sans_medecin,
        printing=imprimer,
        today=dt.date.today(),
    )


def _export(
    request: Request,
    chosen: worklist_view.Filters,
    periode: str | None,
    medecin: str | None,
    sans_medecin: bool,
    extension: str,
) -> Response:
    svc, span, provider, frame = _work_list(request, periode, medecin, sans_medecin)
    detail = _detail(f"export {extension.upper()} liste de travail", span, provider, sans_medecin, chosen)
    named, _, _ = _named_rows(request, frame, chosen, detail, None, "export nominatif")
    names = svc.provider_names()
    name = worklist_view.export_name(span, extension, sans_medecin)
    if extension == "xlsx":
        title = f"Liste de travail {span.label}" + (f" — {names.get(provider, provider)}" if provider else "")
        body = worklist_view.xlsx_bytes(named, names, title)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, media = worklist_view.csv_bytes(named, names), "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/actions/export.csv", name="export_actions")
def export_actions(
    request: Request,
    chosen: WorklistFilters,
    periode: Annotated[str | None, Query(max_length=40)] = None,
    medecin: Annotated[str | None, Query(pattern=r"^([0-9]{11})?$")] = None,
    sans_medecin: Annotated[bool, Query()] = False,
) -> Response:
    return _export(request, chosen, periode, medecin, sans_medecin, "csv")


@router.get("/actions/export.xlsx", name="export_actions")
def export_actions_xlsx(
    request: Request,
    chosen: WorklistFilters,
    periode: Annotated[str | None, Query(max_length=40)] = None,
    medecin: Annotated[str | None, Query(pattern=r"^([0-9]{11})?$")] = None,
    sans_medecin: Annotated[bool, Query()] = False,
) -> Response:
    return _export(request, chosen, periode, medecin, sans_medecin, "xlsx")


@router.get("/actions/patients/{person_id}", name="page_prevention_plan")
def prevention_plan(
    request: Request,
    person_id: Annotated[int, PathParam(ge=-(2**63), le=2**63 - 1)],
    periode: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    svc, user = services(request), user_of(request)
    span = period_of(periode) if periode else worklist_view.default_period(svc)
    worklist_view.check_known_patient(svc, person_id)
    check_own_patient(user, svc, person_id)
    audited(request, "plan de prévention", f"plan de prévention au {span.end.isoformat()}", [person_id])
    plan = svc.plan(span, person_id)
    provider = None if user.whole_structure else user.rpps
    items: tuple = ()
    for without_mt in (False, True) if user.whole_structure else (False,):
        frame = worklist_view.patients(svc, span, provider, without_mt)
        row = frame[frame.person_id == person_id]
        if len(row):
            items = row.iloc[0]["items"]
            break
    person = with_names(request, pd.DataFrame({"person_id": [person_id]}), f"plan de prévention {span.label}")
    mt = svc.médecin_traitant(person_id, span.end)
    return render(
        request,
        "plan.html",
        title="Plan personnalisé de prévention",
        period=span,
        last=worklist_view.data_end(svc),
        plan=plan,
        items=items,
        person=person.iloc[0],
        doctor=svc.provider_names().get(mt, mt) if mt else None,
        today=dt.date.today(),
    )


# -- economics --------------------------------------------------------------------------------------------
# The page is one block (#economie): the structure's costs, then the scenario form and its result. Each form
# swaps back its own block, errors included, in French beside the field at fault: htmx does not swap an
# error status, so a refusal answers 200 to htmx (the block with the message) and 422 to a plain request.

SCENARIO_HINTS = {
    "draws": "tirages Monte Carlo : un nombre entier de 100 à 20 000",
    "seed": "graine : un nombre entier de 0 à 2 147 483 647",
    "tornado_model": "modèle de la sensibilité inconnu",
    "profile_year": "année du profil : un nombre entier",
}
SCENARIO_FIELDS = {"years": "years", "draws": "draws", "seed": "seed", "tornado_model": "tornado"}


def _scenario_form(years: str, draws: str, seed: str, tornado: str) -> tuple[ScenarioIn, dict[str, str]]:
    """The scenario of the form, or the default one with the French error of each field at fault."""
    try:
        return ScenarioIn.model_validate(
            {"years": years, "draws": draws.strip(), "seed": seed.strip(), "tornado_model": tornado.strip()}
        ), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "years"
            message = str(item["msg"]).removeprefix("Value error, ") if field == "years" else SCENARIO_HINTS[field]
            errors.setdefault(SCENARIO_FIELDS.get(field, field), message)
        return ScenarioIn(), errors


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _economics_context(
    request: Request,
    scenario: ScenarioIn,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    costs_errors: dict[str, str] | None = None,
    costs_message: str | None = None,
) -> dict[str, Any]:
    """What the economics templates show: the scope's costs (and the rows of the entry form), the scenario as
    typed, the errors beside their fields, the result and one chart per simulated year (none while a field
    is at fault: the previous result must not stay under the new input)."""
    svc = services(request)
    gone = excluded(user_of(request), svc)
    costs_errors = dict(costs_errors or {})
    costs = costs_of_or_refusal(request, costs_errors)
    context: dict[str, Any] = {
        "models": MODELS,
        "scenario": scenario,
        "values": values
        or {
            "years": scenario.years_text,
            "draws": str(scenario.draws),
            "seed": str(scenario.seed),
            "tornado": scenario.tornado_model,
        },
        "errors": errors or {},
        "costs": costs,
        "costs_rows": costs_rows(costs, svc.profile(scenario.profile_year, gone)),
        "costs_message": costs_message,
        "costs_errors": costs_errors,
        "summary": None,
        "charts": [],
    }
    if errors or "stored" in costs_errors:
        return context
    try:
        summary = simulation_summary(simulate(request, scenario, costs))
    except CostsRefused as error:
        costs_errors.setdefault("stored", str(error))
        return context
    context["summary"] = summary
    context["charts"] = [(year["year"], _year_chart(svc, scenario, gone, costs, year)) for year in summary["years"]]
    return context


def _year_chart(svc, scenario: ScenarioIn, gone: frozenset[int], costs, year: dict[str, Any]) -> str:
    """The result of every model in one simulated year, with its P5–P95 bars (one chart per year)."""
    return svc.figure(
        "chart_economics",
        (scenario.model_dump_json(), gone, costs.model_dump_json(), year["year"]),
        lambda: charts.economics(year["models"], year["year"]),
    )


def costs_of_or_refusal(request: Request, costs_errors: dict[str, str]):
    """The scope's costs; the example, with the refusal beside the costs, when the kept file is unreadable."""
    try:
        return costs_of(request)
    except CostsError as error:
        costs_errors.setdefault("stored", f"charges enregistrées illisibles : {error}")
        return load_costs()


def _economics_answer(request: Request, template: str, context: dict[str, Any], failed: bool) -> HTMLResponse:
    """A block of the page for htmx (200 even for a refusal, so that it is swapped), the whole page else."""
    if _is_htmx(request):
        return render(request, template, **context)
    return render(request, "economics.html", 422 if failed else 200, title="Modèle économique", **context)


@router.get("/economie", name="page_economics")
def economics_page(request: Request) -> HTMLResponse:
    return render(request, "economics.html", title="Modèle économique", **_economics_context(request, ScenarioIn()))


@router.post("/economie/simulation", name="economics_run")
def economics_run(
    request: Request,
    years: Annotated[str, Form(max_length=60)] = "",
    draws: Annotated[str, Form(max_length=12)] = "2000",
    seed: Annotated[str, Form(max_length=12)] = "2026",
    tornado: Annotated[str, Form(max_length=20)] = "acte",
) -> HTMLResponse:
    scenario, errors = _scenario_form(years, draws, seed, tornado)
    values = {"years": years, "draws": draws, "seed": seed, "tornado": tornado}
    context = _economics_context(request, scenario, values, errors)
    return _economics_answer(request, "_economics_simulation.html", context, bool(errors))


@router.post("/economie/charges", name="economics_costs")
def economics_costs(
    request: Request,
    action: Annotated[str, Form(max_length=20)] = "fichier",
    fichier: Annotated[UploadFile | None, File()] = None,
    label: Annotated[str, Form(max_length=200)] = "",
    profession: Annotated[list[str] | None, Form()] = None,
    line_label: Annotated[list[str] | None, Form()] = None,
    fte: Annotated[list[str] | None, Form()] = None,
    gross_per_fte: Annotated[list[str] | None, Form()] = None,
    employer_charge_rate: Annotated[list[str] | None, Form()] = None,
    premises: Annotated[str, Form(max_length=20)] = "",
    it: Annotated[str, Form(max_length=20)] = "",
    coordination: Annotated[str, Form(max_length=20)] = "",
    other: Annotated[str, Form(max_length=20)] = "",
    years: Annotated[str, Form(max_length=60)] = "",
    draws: Annotated[str, Form(max_length=12)] = "2000",
    seed: Annotated[str, Form(max_length=12)] = "2026",
    tornado: Annotated[str, Form(max_length=20)] = "acte",
) -> HTMLResponse:
    """The structure's costs: a file (YAML, CSV or XLSX, as ``economie simulate --costs`` reads), the entry
    form, or back to the example. Checked against the profile's staff before they are kept (per scope, under
    the data home), audited; the page block comes back with the new result or the refusal beside the field."""
    scenario, errors = _scenario_form(years, draws, seed, tornado)
    entered = {
        "label": label,
        "lines": list(
            zip_longest(
                profession or [],
                line_label or [],
                fte or [],
                gross_per_fte or [],
                employer_charge_rate or [],
                fillvalue="",
            )
        ),
        "premises": premises,
        "it": it,
        "coordination": coordination,
        "other": other,
    }
    field, message = _store_costs(request, action, fichier, entered)
    context = _economics_context(
        request,
        scenario,
        None if not errors else {"years": years, "draws": draws, "seed": seed, "tornado": tornado},
        errors,
        {field: message} if field else None,
        None if field else message,
    )
    return _economics_answer(request, "_economics.html", context, field is not None)


def _store_costs(
    request: Request, action: str, upload: UploadFile | None, entered: dict[str, Any]
) -> tuple[str | None, str]:
    """Keep (or forget) the scope's costs: (None, what was done) or (the field at fault, the refusal)."""
    svc = services(request)
    user, web = user_of(request), request.app.state.web
    key = costs_key(svc.scope)
    refusal = write_refusal(request)
    if refusal:
        return ("saisie" if action == "saisie" else "fichier"), refusal
    if action == "exemple":
        forget_costs(home(request), key)
        web.audit.append(user.username, user.roles, "charges retirées", "economics_costs", f"{key} : exemple")
        return None, "Charges de la structure retirées : la simulation reprend les charges d'EXEMPLE."
    field = "fichier" if action == "fichier" else "saisie"
    try:
        if action == "fichier":
            if upload is None or not upload.filename:
                return field, "choisissez un fichier de charges (.yaml, .csv ou .xlsx)"
            costs = read_costs(upload.file.read(), upload.filename)
        elif action == "saisie":
            costs = parse_costs(entered_costs(entered), "saisie")
        else:
            return "fichier", f"action « {action} » inconnue"
        costs.by_item(svc.profile(None, excluded(user, svc)))
        store_costs(home(request), key, costs)
    except CostsError as error:
        return field, str(error)
    except OSError as error:
        return field, f"charges non enregistrées : {os_error_words(error)}"
    web.audit.append(user.username, user.roles, "charges enregistrées", "economics_costs", f"{key} : {costs.label}")
    return None, f"Charges « {costs.label} » enregistrées pour {svc.scope.name} : la simulation les utilise."


def entered_costs(entered: dict[str, Any]) -> dict[str, Any]:
    """The costs mapping from the entry form: a line without a profession is left out, a decimal comma and
    spaces in numbers are read as the CSV reads them."""

    def number(text: str) -> str:
        return re.sub(r"\s", "", text).replace(",", ".")

    salaries = []
    for profession, line_label, fte, gross, rate in entered["lines"]:
        if not profession.strip():
            continue
        line = {
            "profession": profession.strip(),
            "gross_per_fte": number(gross) or None,
            "employer_charge_rate": number(rate) or None,
        }
        if line_label.strip():
            line["label"] = line_label.strip()
        if number(fte):
            line["fte"] = number(fte)
        salaries.append({k: v for k, v in line.items() if v is not None})
    data: dict[str, Any] = {"label": entered["label"].strip() or "Charges saisies", "salaries": salaries}
    for item in ("premises", "it", "coordination", "other"):
        data[item] = number(entered[item]) or 0
    return data


@router.get("/economie/charges.csv", name="economics_costs_csv")
def economics_costs_csv(request: Request) -> Response:
    """The costs in use as the CSV the reader takes: the template to fill in (the example's, labelled so)."""
    costs = costs_of_or_refusal(request, {})
    name = "charges-exemple.csv" if costs.example else f"charges-{costs_key(services(request).scope)}.csv"
    return Response(
        "\ufeff" + costs_csv(costs),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/economie/classeur.xlsx", name="economics_workbook")
def economics_workbook(
    request: Request,
    years: Annotated[str, Query(max_length=60)] = "",
    draws: Annotated[str, Query(max_length=12)] = "2000",
    seed: Annotated[str, Query(max_length=12)] = "2026",
    tornado: Annotated[str, Query(max_length=20)] = "acte",
) -> Response:
    scenario, errors = _scenario_form(years, draws, seed, tornado)
    if errors:
        raise InputError("scénario invalide : " + " ; ".join(errors.values()))
    simulation = simulate(request, scenario)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "modele-economique.xlsx"
        services(request).call(lambda: write_workbook(simulation, path))
        data = path.read_bytes()
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="modele-economique.xlsx"'},
    )


# -- territory ------------------------------------------------------------------------------------------------


@router.get("/territoire", name="page_territory")
def territory(
    request: Request,
    departement: Annotated[str | None, Query(max_length=12)] = None,
    export: ExportFormat = None,
    tableau: TableId = None,
) -> Response:
    svc = services(request)
    try:
        result = svc.accessibility()
    except Unavailable as error:
        return render(request, "territory.html", title="Territoire", missing=str(error))
    codes = sorted(result.communes.departement.dropna().unique())
    if departement:  # asked: that one or a French refusal naming it, never another
        chosen, mask = departement_of(result.communes, departement)
    else:  # not asked: the centre's, else the reference's first
        found = svc.centre_departement()
        chosen = found if found is not None and found in codes else str(codes[0])
        mask = (result.communes.departement == chosen).to_numpy()
    scoped = result.communes[mask].sort_values(["apl", "code"], ignore_index=True)
    if export:  # every commune of the département, not only the 30 the page lists
        exports = tables_view.territory_exports(scoped, result.threshold, chosen)
        return tables_view.respond(exports, export, tableau, f"territoire-apl-{chosen}")
    figure = svc.figure("apl_map", chosen, lambda: _map_json(svc, result, mask, chosen))
    under = scoped.apl < result.threshold
    return render(
        request,
        "territory.html",
        title="Territoire",
        missing=None,
        departement=chosen,
        codes=codes,
        communes=scoped,
        threshold=result.threshold,
        under=under,
        figure=figure,
        notes=result.notes(),
    )


def _map_json(svc: Services, result, mask, departement: str) -> str:
    names = result.communes.loc[mask, "departement_name"]
    label = f"{names.iloc[0]} ({departement})" if len(names) else departement
    data = map_data(result, mask, label, svc.communes())
    return plotly_figure(data, width=820, height=700).to_json()


@router.post("/territoire/simulation", name="territory_whatif")
def territory_whatif(
    request: Request,
    commune: Annotated[str, Form(pattern=r"^[0-9][0-9AB][0-9]{3}$")],
    etp: Annotated[float, Form(gt=0, le=50)] = 3.0,
) -> HTMLResponse:
    svc = services(request)
    result = svc.accessibility()
    try:
        what_if = svc.call(lambda: add_supply(result, commune, etp))
    except KeyError as error:
        raise InputError(str(error.args[0])) from error
    return render(request, "territory_whatif.html", what_if=what_if, etp=etp, commune=commune)


# -- data quality ---------------------------------------------------------------------------------------------


@router.get("/qualite", name="page_quality")
def quality(request: Request, export: ExportFormat = None, tableau: TableId = None) -> Response:
    svc = services(request)
    snapshot = svc.status()
    frame = svc.completeness()
    recent = frame.sort_values("month").groupby("table").tail(12)
    if export:  # the quarantine rows to send back to the software vendor, among others
        exports = tables_view.quality_exports(snapshot, svc.quarantine(), recent)
        return tables_view.respond(exports, export, tableau, tables_view.today_name("qualite", dt.date.today()))
    structures, structures_error = network_structures(request.app.state.web)
    mine = tuple(s for s in structures if svc.scope.allows(s.finess))
    return render(
        request,
        "quality.html",
        title="Qualité des données",
        snapshot=snapshot,
        freshness=svc.freshness(dt.date.today(), mine),
        structures_error=structures_error,
        quarantine=svc.quarantine(),
        completeness=frame,
        chart=svc.figure("chart_completeness", (), lambda: charts.completeness(frame)) if len(frame) else None,
        recent=recent,
    )


# -- administration ---------------------------------------------------------------------------------------------


def network_structures(web: Any) -> tuple[list[Structure], str | None]:
    """The registry of the network's structures, or the French reason it cannot be read (shown on the page)."""
    try:
        return StructureRegistry.installed(web.settings).all(), None
    except StructureError as error:
        return [], str(error)


@router.get("/administration", name="page_admin")
def administration(
    request: Request,
    message: str | None = None,
    erreur: str | None = None,
    depot: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    return _admin_page(request, message=message, error=erreur, depot=depot)


def _admin_page(
    request: Request,
    status_code: int = 200,
    *,
    message: str | None = None,
    error: str | None = None,
    depot: str | None = None,
    structure_error: str | None = None,
    structure_form: dict[str, str] | None = None,
    leave_error: str | None = None,
) -> HTMLResponse:
    """The administration page; ``structure_error`` and ``structure_form`` show a refused structure form again,
    with the French reason beside it and what was typed; ``leave_error`` a refused departure beside the table."""
    web, user = request.app.state.web, user_of(request)
    structures, structures_error = network_structures(web)
    today = dt.date.today()
    deposited = _deposited(depot)
    scope = request.state.scope
    if deposited and not scope.allows(deposited["finess"]):
        raise Forbidden(f"L'extrait déposé pour la structure {deposited['finess']} est hors de votre périmètre.")
    mine = [s for s in structures if scope.allows(s.finess)]
    network_admin = user.structure is None
    accounts = managed_accounts(request)
    known = {a.username for a in accounts}
    return render(
        request,
        "admin.html",
        status_code=status_code,
        title="Administration",
        accounts=accounts,
        blocked={
            name: max(1, round(wait / 60)) for name, wait in web.limiter.blocked_accounts().items() if name in known
        },
        audit=managed_audit(request, 200),
        audit_check=web.audit.check(),
        vault_check=web.installation.vault.verify_access_log(),
        vault_log=managed_vault_log(request, 50),
        message=message,
        error=error,
        roles={
            name: label
            for name, label in ROLES.items()
            if name not in CARE_TEAM and (network_admin or name not in ("reseau", "cpts"))
        },
        network_admin=network_admin,
        cpts_names=known_cpts(structures) if network_admin else [],
        structures=mine,
        structures_error=structures_error,
        structure_types=structure_types(),
        structure_error=structure_error,
        structure_form=structure_form or {},
        leave_error=leave_error,
        today=today,
        active_structures=[s for s in mine if s.active_on(today)],
        formats=list(FORMATS),
        extract=_extract_context(web, deposited) if deposited else None,
        upload_limit_mib=int(SECURITY.value("max_upload_bytes")) // (1 << 20),
    )


# -- administration: the network's structures (the registry, as ``proxisante structures add|leave``) -------------


@router.post("/administration/structures", name="admin_add_structure")
def add_structure(
    request: Request,
    finess: Annotated[str, Form(max_length=20)],
    nom: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(alias="type", max_length=10)],
    commune: Annotated[str, Form(max_length=10)] = "",
    cpts: Annotated[str, Form(max_length=200)] = "",
    adhesion: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A structure joins the network: the registry's own checks and journal, as ``proxisante structures add``
    (network admin only: ``permissions.NETWORK_ADMIN_ROUTES``). A refusal shows the form again with the reason."""
    web, user = request.app.state.web, user_of(request)
    typed = {"finess": finess, "nom": nom, "type": kind, "commune": commune, "cpts": cpts, "adhesion": adhesion}
    entry = {
        "finess": finess.strip(),
        "nom": nom,
        "type": kind,
        "commune": commune.strip() or None,
        "cpts": cpts.strip() or None,
        "adhesion": adhesion.strip() or dt.date.today(),
    }
    try:
        structure = StructureRegistry.installed(web.settings).add(
            parse_structure(entry, f"FINESS {finess.strip()}"), by=f"web:{user.username}"
        )
    except StructureError as error:
        return _admin_page(request, 422, structure_error=str(error), structure_form=typed)
    web.audit.append(
        user.username,
        user.roles,
        "structure inscrite",
        "admin_add_structure",
        f"{structure.finess} : {structure.name} ({structure.type}), adhésion le {formats.date(structure.joined)}",
    )
    message = (
        f"Structure {structure.name} ({structure.type_label}, FINESS {structure.finess}) inscrite au réseau "
        f"le {formats.date(structure.joined)}."
    )
    return RedirectResponse(f"/administration?message={_q(message)}#structures", status_code=303)


@router.post("/administration/structures/{finess}/depart", name="admin_leave_structure")
def leave_structure(
    request: Request,
    finess: Annotated[str, PathParam(max_length=20)],
    depart: Annotated[str, Form(alias="date", max_length=10)] = "",
    confirmer: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A structure leaves the network on the day given (today by default), as ``proxisante structures leave``:
    it stays in the registry (the network's history) and can no longer load. The box « je confirme » must be
    ticked: a departure is not undone from here."""
    web, user = request.app.state.web, user_of(request)
    try:
        if confirmer != "oui":
            raise StructureError(f"départ de la structure {finess} non confirmé : cochez « je confirme le départ »")
        day = _form_day(depart)
        structure = StructureRegistry.installed(web.settings).leave(finess, day, by=f"web:{user.username}")
    except StructureError as error:
        return _admin_page(request, 422, leave_error=str(error))
    assert structure.left is not None
    web.audit.append(
        user.username,
        user.roles,
        "départ de structure",
        "admin_leave_structure",
        f"{structure.finess} : {structure.name}, départ le {formats.date(structure.left)}",
    )
    message = (
        f"Structure {structure.name} (FINESS {structure.finess}) : départ du réseau le {formats.date(structure.left)}."
    )
    return RedirectResponse(f"/administration?message={_q(message)}#structures", status_code=303)


def _form_day(text: str) -> dt.date | None:
    """A date typed in a form (AAAA-MM-JJ, what ``<input type=date>`` sends, or JJ/MM/AAAA); empty: None."""
    text = text.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise StructureError(f"champ « depart » : date invalide « {text} » (attendu AAAA-MM-JJ)")


# -- administration: upload of an extract (zip) into a structure's drop folder -------------------------------------

UPLOAD_PATH = "/administration/depot"  # its own request body limit: max_upload_bytes (web/app.py, BodyLimit)
SECURITY = ParameterFile("proxisante.web.security", "security.yaml")
_EXTRACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_FINESS_SHAPE = re.compile(r"^[0-9AB]{9}$")


def _deposited(text: str | None) -> dict[str, str] | None:
    """``FINESS/extract`` of the query string (after an upload), checked so that it names one folder of one
    drop folder and nothing else."""
    if not text or "/" not in text:
        return None
    finess, name = text.split("/", 1)
    if not _FINESS_SHAPE.match(finess) or not _EXTRACT_NAME.match(name) or ".." in name:
        return None
    return {"finess": finess, "name": name}


@router.post(UPLOAD_PATH, name="admin_upload_extract")
def upload_extract(
    request: Request,
    structure: Annotated[str, Form(max_length=9)],
    fichier: Annotated[UploadFile, File()],
    chosen_format: Annotated[str, Form(alias="format", max_length=10)] = "pivot",
) -> Response:
    """An extract uploaded as a zip: checked (structure active today, format, the archive itself), unpacked
    into the structure's drop folder as ``dropfolders.deposit_zip`` does, audited; the page then follows
    its state (``admin_extract_status``). A refusal is said on the page; nothing is deposited."""
    web, user = request.app.state.web, user_of(request)
    label = (fichier.filename or "")[:200]
    size = fichier.size or 0
    file_format = chosen_format.strip().lower()

    def refused(reason: str) -> Response:
        web.audit.append(
            user.username,
            user.roles,
            "dépôt d'extrait refusé",
            "admin_upload_extract",
            f"{structure} : {label} ({size} octets) : {reason}",
        )
        message = f"Dépôt refusé, rien n'a été déposé : {reason}."
        return RedirectResponse(f"/administration?erreur={_q(message)}#depot", status_code=303)

    try:
        StructureRegistry.installed(web.settings).check_active(structure.strip(), dt.date.today())
    except StructureError as error:
        return refused(str(error).rstrip("."))
    if file_format not in FORMATS:
        return refused(f"format inconnu « {chosen_format} » (formats : {', '.join(FORMATS)})")
    if not size:
        return refused("le fichier envoyé est vide")
    try:
        extract = dropfolders.deposit_zip(
            web.settings, fichier.file, label, structure.strip(), file_format, dropfolders.upload_limits()
        )
    except dropfolders.ZipRefused as error:
        return refused(str(error))
    web.audit.append(
        user.username,
        user.roles,
        "extrait déposé",
        "admin_upload_extract",
        f"{extract.parent.name} : {label} ({size} octets), format {file_format}, extrait {extract.name}",
    )
    message = f"Extrait « {label} » déposé pour la structure {extract.parent.name} ; il sera chargé par le serveur."
    target = f"/administration?message={_q(message)}&depot={_q(extract.parent.name + '/' + extract.name)}#depot"
    return RedirectResponse(target, status_code=303)


EXTRACT_STATES = {
    "waiting": "en attente",
    "running": "en cours",
    "loaded": "chargé",
    "nothing_new": "chargé (rien de nouveau)",
    "rejected": "refusé",
    "retry": "en attente",
}


@router.get(f"{UPLOAD_PATH}/etat", name="admin_extract_status")
def extract_status(
    request: Request,
    structure: Annotated[str, Query(max_length=9)],
    extrait: Annotated[str, Query(max_length=200)],
) -> HTMLResponse:
    """The state of a deposited extract, a small fragment that htmx polls until the report is there."""
    web = request.app.state.web
    deposited = _deposited(f"{structure}/{extrait}")
    if deposited is None:
        raise InputError("extrait inconnu : structure (FINESS) et nom d'extrait attendus")
    return render(request, "_extract_status.html", **_extract_context(web, deposited))


def _extract_context(web: Any, deposited: dict[str, str]) -> dict[str, Any]:
    """What the status fragment shows: the state in French, the report once there, whether to poll again."""
    found = dropfolders.state_of(dropfolders.depot_root(web.settings) / deposited["finess"] / deposited["name"])
    return {
        "deposited": deposited,
        "state": found.state if found else None,
        "label": EXTRACT_STATES.get(found.state, found.state) if found else "introuvable",
        "report": found.report.text() if found and found.report else None,
        "poll": found is not None and not found.done,
    }


@router.post("/administration/comptes", name="admin_add_account")
def add_account(
    request: Request,
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form()],
    display_name: Annotated[str, Form(max_length=100)] = "",
    rpps: Annotated[str, Form(max_length=11)] = "",
    structure: Annotated[str, Form(max_length=9)] = "",
    cpts: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new account that reads no names. A structure's admin creates accounts of its own structure (a
    ``structure`` field naming another one was refused by ``authorize``); a network admin chooses the
    structure (none: the network) or, for a ``cpts`` account, the CPTS."""
    web, user = request.app.state.web, user_of(request)
    if not web_may_create(roles):
        message = (
            "Séparation des tâches : un compte qui lit les noms des patients (soignant, coordinateur) se crée "
            "sur le serveur avec « proxisante users add », pas depuis l'administration web."
        )
        return RedirectResponse(f"/administration?erreur={_q(message)}", status_code=303)
    try:
        home, chosen_cpts, has_structures = _belonging(request, user, structure, cpts)
        web.accounts.add(
            username,
            password,
            roles,
            rpps=rpps or None,
            display_name=display_name or None,
            structure=home,
            cpts=chosen_cpts,
            registry_has_structures=has_structures,
        )
    except AccountError as error:
        return RedirectResponse(f"/administration?erreur={_q(str(error))}", status_code=303)
    where = f", structure {home}" if home else f", CPTS {chosen_cpts}" if chosen_cpts else ""
    web.audit.append(
        user.username, user.roles, "compte créé", "admin_add_account", f"{username} : {', '.join(roles)}{where}"
    )
    return RedirectResponse(f"/administration?message={_q(f'Compte {username} créé.')}", status_code=303)


def _belonging(request: Request, user: User, structure: str, cpts: str) -> tuple[str | None, str | None, bool]:
    """The structure and CPTS of an account created from the web, checked against the registry: a structure's
    admin's own structure, or what the network admin chose."""
    registry = registry_of(request.app.state.web.settings)
    if registry.error:
        raise AccountError(f"registre des structures illisible : {registry.error}")
    home = user.structure or structure.strip().upper() or None
    if home and all(s.finess != home for s in registry.structures):
        raise AccountError(f"structure inconnue : FINESS {home} n'est pas dans le registre")
    chosen = cpts.strip() or None
    if chosen and (user.structure or not cpts_members(registry.structures, chosen)):
        raise AccountError(f"CPTS inconnue du registre : « {chosen} »")
    return home, chosen, registry.has_structures


@router.post("/administration/comptes/{username}/desactiver", name="admin_disable_account")
def disable_account(request: Request, username: Annotated[str, PathParam(max_length=40)]) -> Response:
    web, user = request.app.state.web, user_of(request)
    account = web.accounts.get(username)
    if account is not None and not manages(user, account):
        raise Forbidden(
            "Ce compte appartient à une autre structure : seul son administrateur ou celui du réseau le gère."
        )
    try:
        web.accounts.disable(username)
    except AccountError as error:
        return RedirectResponse(f"/administration?erreur={_q(str(error))}", status_code=303)
    web.sessions.close_user(username)
    web.forget(username)
    web.audit.append(user.username, user.roles, "compte désactivé", "admin_disable_account", username)
    return RedirectResponse(f"/administration?message={_q(f'Compte {username} désactivé.')}", status_code=303)


@router.post("/administration/comptes/{username}/debloquer", name="admin_unlock_account")
def unlock_account(request: Request, username: Annotated[str, PathParam(max_length=40)]) -> Response:
    """Forget the failed logins of an account blocked by the rate limiter (``auth.RateLimiter.unlock``): its owner
    may sign in again at once. A structure's admin unlocks the accounts of its structure only."""
    web, user = request.app.state.web, user_of(request)
    account = web.accounts.get(username)
    if account is None:
        return RedirectResponse(f"/administration?erreur={_q(f'Compte inconnu : {username}.')}", status_code=303)
    if not manages(user, account):
        raise Forbidden(
            "Ce compte appartient à une autre structure : seul son administrateur ou celui du réseau le gère."
        )
    was_blocked = web.limiter.unlock(username)
    web.audit.append(user.username, user.roles, "compte débloqué", "admin_unlock_account", username)
    message = f"Compte {username} débloqué." if was_blocked else f"Le compte {username} n'était pas bloqué."
    return RedirectResponse(f"/administration?message={_q(message)}", status_code=303)


def _q(text: str) -> str:
    return quote(text)


# -- mounting ---------------------------------------------------------------------------------------------------


def plotly_js_path() -> Path:
    """plotly.min.js of the installed ``plotly`` package (served as is: no CDN, no copy to keep in sync)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def mount_pages(app: FastAPI) -> None:
    @app.get("/static/vendor/plotly.min.js", name="plotly_js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
