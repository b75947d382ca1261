"""Roles per structure (issue 15, item 3) on a loaded synthetic network of three structures A, B, C.

Every route × role × where (the account's own structure, another structure asked with ``?structure=``, no
structure asked) answers as the permission table and the scope rules say: allowed, or 403 without data.
A structure account's answers depend on its structure's rows only: changing B's data (hypothesis-chosen
edits) changes no answer to an account of A, while the network's figures seen by a ``reseau`` account do
change. The ``users add`` rules (``--cpts``, care roles need a structure) are checked through the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from typer.testing import CliRunner

from proxisante.cli import app as command_line
from proxisante.cli.common import console
from proxisante.network.scope import Scope
from proxisante.settings import Settings
from proxisante.territory.communes import load_reference, reference_path
from proxisante.web.security.accounts import AccountError, AccountStore
from proxisante.web.security.permissions import NETWORK_ADMIN_ROUTES, NOMINATIVE_ROUTES, allowed
from tests.lib.network import LoadedNetwork
from tests.lib.web import PASSWORD, login, make_app
from tests.web.conftest import COMMUNES
from tests.web.test_permissions import _routes

CPTS = "CPTS des Tests"


@dataclass(frozen=True)
class Member:
    """A test account: its roles and where it belongs."""

    username: str
    roles: tuple[str, ...]
    structure: str | None = None
    cpts: str | None = None


@dataclass
class Net:
    settings: Settings
    a: str
    b: str
    c: str
    rpps: str  # a GP of A, médecin traitant of ``patient`` today
    patient: int  # a patient of A
    b_only: int  # a patient of B never seen by A
    shared: list[int]  # persons seen by A and B


def _with_cpts(path: Path, members: set[str]) -> None:
    """The registry with ``members`` in the CPTS and the others outside any."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in data["structures"]:
        entry["cpts"] = CPTS if entry["finess"] in members else None
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def net(network_template: LoadedNetwork, tmp_path_factory: pytest.TempPathFactory) -> Net:
    home = tmp_path_factory.mktemp("scopes") / "home"
    shutil.copytree(network_template.home, home)
    settings = Settings(home=home, secure_cookies=False)
    a, b, c = network_template.finess
    _with_cpts(settings.structures, {a, c})
    target = reference_path(settings.home_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    load_reference(COMMUNES).to_parquet(target)
    inst = network_template.open()
    try:
        con = inst.warehouse.duckdb

        def persons(sql: str, *args: str) -> list[int]:
            return [int(p) for (p,) in con.execute(sql, list(args)).fetchall()]

        shared = persons(
            "SELECT person_id FROM person WHERE structure = ? INTERSECT SELECT person_id FROM person "
            "WHERE structure = ? ORDER BY 1",
            a,
            b,
        )
        b_only = persons(
            "SELECT person_id FROM person WHERE structure = ? EXCEPT SELECT person_id FROM person "
            "WHERE structure = ? ORDER BY 1",
            b,
            a,
        )
    finally:
        inst.close()
    return Net(settings, a, b, c, "", 0, b_only[0], shared)


def members(net: Net) -> list[Member]:
    a = net.a
    return [
        Member("a-soignant", ("soignant",), a),
        Member("a-coordinateur", ("coordinateur",), a),
        Member("a-gestionnaire", ("gestionnaire",), a),
        Member("a-chercheur", ("chercheur",), a),
        Member("a-admin", ("admin",), a),
        Member("analyste", ("reseau",)),
        Member("cpts", ("cpts",), cpts=CPTS),
        Member("admin-reseau", ("admin",)),
        Member("chercheur-reseau", ("chercheur",)),
    ]


@pytest.fixture(scope="module")
def app(net: Net):
    application = make_app(net.settings)
    svc = application.state.web.services.for_scope(Scope.of([net.a]))
    panel = svc.panel_mt(dt.date.today())
    counts: dict[str, int] = {}
    for rpps in panel.values():
        counts[rpps] = counts.get(rpps, 0) + 1
    net.rpps = max(counts, key=lambda r: counts[r])
    net.patient = next(p for p, r in sorted(panel.items()) if r == net.rpps)
    store = AccountStore(net.settings.accounts)
    for m in members(net):
        rpps = net.rpps if "soignant" in m.roles else None
        store.add(
            m.username,
            PASSWORD,
            list(m.roles),
            rpps=rpps,
            structure=m.structure,
            cpts=m.cpts,
            registry_has_structures=True,
        )
    yield application
    application.state.web.installation.close()


@pytest.fixture(scope="module")
def clients(app, net: Net) -> dict[str, tuple[TestClient, str]]:
    out = {}
    for m in members(net):
        client = TestClient(app, base_url="http://127.0.0.1")
        out[m.username] = (client, login(client, m.username))
    return out


# -- every route × role × where ------------------------------------------------------------------------------------


def _request(client: TestClient, route: APIRoute, net: Net, csrf: str, structure: str | None):
    values = {
        "measure_id": "rosp_diabetes_hba1c",
        "rpps": net.rpps,
        "person_id": str(net.patient),
        "username": "x",
        "finess": "inconnu",
    }
    path = route.path_format.format(**{k: v for k, v in values.items() if "{" + k + "}" in route.path_format})
    params = {"structure": structure} if structure else {}
    if route.name == "admin_extract_status":
        params = {"structure": structure or net.a, "extrait": "absent"}
    method = sorted(route.methods)[0]
    headers = {"X-CSRF-Token": csrf}
    if method == "GET":
        return client.get(path, params=params, headers=headers, follow_redirects=False)
    bodies = {
        "api_economics": {"json": {"draws": 200}},
        "economics_run": {"data": {"draws": "200"}},
        "territory_whatif": {"data": {"commune": "23096", "etp": "2"}},
        "admin_add_account": {"data": {"username": "nouveau", "password": "x", "roles": ["gestionnaire"]}},
        "admin_disable_account": {"data": {}},
    }
    return client.post(path, params=params, headers=headers, follow_redirects=False, **bodies.get(route.name, {}))


def expected_allowed(member: Member, route: str, asked: str | None, net: Net) -> bool:
    """The rules, written again here: the permission table, then the scope (a structure account only its own
    structure, a CPTS account its members, nominative routes in the account's own structure only)."""
    if not allowed(member.roles, route):
        return False
    if asked and member.structure and asked != member.structure:
        return False
    if asked and member.cpts and asked not in {net.a, net.c}:
        return False
    if route in NOMINATIVE_ROUTES and member.structure is None:
        return False
    if route in NETWORK_ADMIN_ROUTES and (member.structure or member.cpts):
        return False
    return not (route == "admin_extract_status" and member.structure and (asked or net.a) != member.structure)


WHERE = ("own", "other", "none")


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(
    "username",
    [
        "a-soignant",
        "a-coordinateur",
        "a-gestionnaire",
        "a-chercheur",
        "a-admin",
        "analyste",
        "cpts",
        "admin-reseau",
        "chercheur-reseau",
    ],
)
def test_route_role_scope_matrix(app, clients, net: Net, username: str, where: str) -> None:
    member = next(m for m in members(net) if m.username == username)
    own = member.structure or (net.a if member.cpts else net.b)
    asked = {"own": own, "other": net.b if own != net.b else net.a, "none": None}[where]
    client, csrf = clients[username]
    failures = []
    for route in _routes(app):
        if route.name in ("logout", "internal_command"):
            continue
        response = _request(client, route, net, csrf, asked)
        code = response.status_code
        if expected_allowed(member, route.name, asked, net):
            if code in (401, 403) or (code >= 500 and code != 503):
                failures.append(f"{route.name} ?structure={asked}: {code} {response.text[:200]}")
        elif code != 403:
            failures.append(f"{route.name} ?structure={asked}: expected 403, got {code}")
    assert not failures, "\n".join(failures)


def test_a_structure_account_asking_for_another_structure_gets_a_french_403(clients, net: Net) -> None:
    client, _ = clients["a-gestionnaire"]
    response = client.get(f"/api/measures/results?structure={net.b}")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Votre compte appartient à la structure {_plain(net, net.a)} ({net.a}) : "
        f"les données de la structure {net.b} ne vous sont pas accessibles."
    )
    page = client.get(f"/patientele?structure={net.b}")
    assert page.status_code == 403 and "ne vous sont pas accessibles" in page.text and "pyramid" not in page.text


def test_a_cpts_account_sees_its_members_only(clients, net: Net) -> None:
    client, _ = clients["cpts"]
    me = client.get("/api/me").json()
    assert me["scope"] == {"name": CPTS, "structures": sorted([net.a, net.c])}
    assert client.get(f"/api/status?structure={net.c}").status_code == 200
    refused = client.get(f"/api/status?structure={net.b}")
    assert refused.status_code == 403 and net.b in refused.json()["detail"] and CPTS in refused.json()["detail"]


def _plain(net: Net, finess: str) -> str:
    data = yaml.safe_load(net.settings.structures.read_text(encoding="utf-8"))
    return str(next(e["nom"] for e in data["structures"] if e["finess"] == finess))


def _name(net: Net, finess: str) -> str:
    """The structure's name as a page writes it (HTML-escaped)."""
    return str(escape(_plain(net, finess)))


def test_the_header_names_the_scope(clients, net: Net) -> None:
    assert f"Périmètre : {_name(net, net.a)} ({net.a})" in clients["a-chercheur"][0].get("/").text
    assert "Périmètre : Réseau (toutes les structures)" in clients["analyste"][0].get("/").text
    narrowed = clients["analyste"][0].get(f"/?structure={net.c}").text
    assert f"Périmètre : {_name(net, net.c)} ({net.c})" in narrowed
    cpts_page = clients["cpts"][0].get("/").text
    assert f"Périmètre : {CPTS} (2 structures)" in cpts_page
    links = re.findall(r'href="/\?structure=([0-9AB]{9})"', cpts_page)
    assert sorted(links) == sorted([net.a, net.c])
    assert "?structure=" not in clients["a-chercheur"][0].get("/").text


def test_scoped_figures_are_the_structures_own(clients, net: Net) -> None:
    """The row counts a structure account sees are its structure's; the network's are larger; narrowing a
    network account to A gives A's."""
    inst_counts = {}
    for who, query in (("a-gestionnaire", ""), ("analyste", ""), ("analyste", f"?structure={net.a}")):
        tables = clients[who][0].get(f"/api/status{query}").json()["tables"]
        inst_counts[(who, query)] = {t["table"]: t["rows"] for t in tables}
    own = inst_counts[("a-gestionnaire", "")]
    assert own == inst_counts[("analyste", f"?structure={net.a}")]
    assert inst_counts[("analyste", "")]["visit_occurrence"] > own["visit_occurrence"] > 0


def test_another_structures_patient_is_refused_before_the_vault(app, clients, net: Net) -> None:
    client, _ = clients["a-coordinateur"]
    before = len(app.state.web.audit.entries(10_000))
    response = client.get(f"/api/prevention/{net.b_only}")
    assert response.status_code == 403 and response.json()["detail"] == "Ce patient n'est pas connu de votre structure."
    assert client.get(f"/actions/patients/{net.b_only}").status_code == 403
    assert len(app.state.web.audit.entries(10_000)) == before  # nothing read, nothing audited
    assert client.get(f"/api/prevention/{net.patient}").status_code == 200
    gaps = client.get("/api/gaps?limit=10000").json()["rows"]
    assert gaps and not {int(r["person_id"]) for r in gaps} & {net.b_only}


def test_a_care_account_without_a_structure_is_refused_in_a_network(app, net: Net) -> None:
    store = AccountStore(net.settings.accounts)
    with pytest.raises(AccountError, match="donnez sa structure"):
        store.add("coord-reseau", PASSWORD, ["coordinateur"], registry_has_structures=True)
    store.add("ancien-coord", PASSWORD, ["coordinateur"])  # created before the registry had structures
    client = TestClient(app, base_url="http://127.0.0.1")
    login(client, "ancien-coord")
    refused = client.get("/api/gaps")
    assert refused.status_code == 403 and "Compte de soin sans structure" in refused.json()["detail"]
    assert client.get("/").status_code == 403


def test_a_structure_admin_manages_its_own_structure(app, clients, net: Net) -> None:
    client, csrf = clients["a-admin"]
    listed = {a["username"] for a in client.get("/api/accounts").json()}
    assert listed == {"a-soignant", "a-coordinateur", "a-gestionnaire", "a-chercheur", "a-admin"}
    page = client.get("/administration").text
    assert "admin-reseau" not in page and "analyste" not in page
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/administration/comptes/analyste/desactiver", headers=headers).status_code == 403
    assert AccountStore(net.settings.accounts).get("analyste").active  # type: ignore[union-attr]
    form = {"username": "a-nouveau", "password": PASSWORD, "roles": ["chercheur"]}
    assert client.post("/administration/comptes", data=form, headers=headers, follow_redirects=False).status_code == 303
    assert AccountStore(net.settings.accounts).get("a-nouveau").structure == net.a  # type: ignore[union-attr]
    other = {**form, "username": "b-nouveau", "structure": net.b}
    assert client.post("/administration/comptes", data=other, headers=headers).status_code == 403
    assert AccountStore(net.settings.accounts).get("b-nouveau") is None
    audit = client.get("/api/audit?limit=1000").json()["rows"]
    assert audit and {r["username"] for r in audit} <= listed | {"a-nouveau"}


def test_a_network_admin_creates_reseau_and_cpts_accounts(app, clients, net: Net) -> None:
    client, csrf = clients["admin-reseau"]
    headers = {"X-CSRF-Token": csrf}
    page = client.get("/administration").text
    assert 'name="cpts"' in page and CPTS in page and f'value="{net.b}"' in page
    form = {"username": "cpts-2", "password": PASSWORD, "roles": ["cpts"], "cpts": CPTS}
    assert client.post("/administration/comptes", data=form, headers=headers, follow_redirects=False).status_code == 303
    assert AccountStore(net.settings.accounts).get("cpts-2").cpts == CPTS  # type: ignore[union-attr]
    wrong = {**form, "username": "cpts-3", "cpts": "CPTS inconnue"}
    response = client.post("/administration/comptes", data=wrong, headers=headers, follow_redirects=False)
    assert "CPTS%20inconnue%20du%20registre" in response.headers["location"]
    assert client.get("/api/accounts").json().__len__() > 6


# -- changing B never changes what A sees -----------------------------------------------------------------------------

JSON_ROUTES = (
    "/api/status",
    "/api/patientele",
    "/api/measures/results",
    "/api/measures/results?by=provider",
    "/api/measures/rosp_diabetes_hba1c/series",
    "/api/quality/completeness",
    "/api/gaps?limit=10000",
)
# Not /qualite: it lists the rejects by reason, whose order among ties is not fixed (warehouse.status); the
# same data is compared through /api/status and /api/quality/completeness, order aside.
PAGES = ("/", "/patientele", "/indicateurs", "/actions")
PROTECTED = ("/api/patientele", "/api/measures/results?by=provider", "/", "/indicateurs")


def _answers(client: TestClient, paths: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        if path.startswith("/api"):
            body = response.json()
            if isinstance(body, dict):
                body.pop("batch_id", None)
            out[path] = json.dumps(_unordered(body), sort_keys=True)
        else:
            out[path] = re.sub(r'value="[^"]{30,}"|"X-CSRF-Token": "[^"]+"', "", response.text)
    return out


def _unordered(value: object) -> object:
    """A JSON answer with every list sorted: the rows, not their order among ties, are compared."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


EDITS = st.lists(
    st.sampled_from(["delete_visits", "delete_conditions", "birth_year", "gender", "visit_for_shared"]),
    min_size=1,
    max_size=3,
).map(lambda edits: ["visit_for_shared", *edits])  # at least one edit that changes the network's row counts


def _edit_b(con, net: Net, edit: str, seed: int) -> None:
    b = net.b
    if edit == "delete_visits":
        con.execute("DELETE FROM visit_occurrence WHERE structure = ? AND visit_occurrence_id % 7 = ?", [b, seed % 7])
    elif edit == "delete_conditions":
        con.execute(
            "DELETE FROM condition_occurrence WHERE structure = ? AND condition_occurrence_id % 5 = ?", [b, seed % 5]
        )
    elif edit == "birth_year":
        con.execute(
            "UPDATE person SET year_of_birth = year_of_birth - 1 - ? WHERE structure = ? AND person_id % 3 = ?",
            [seed % 4, b, seed % 3],
        )
    elif edit == "gender":
        con.execute(
            "UPDATE person SET gender_concept_id = CASE gender_concept_id WHEN 8507 THEN 8532 ELSE 8507 END "
            "WHERE structure = ? AND person_id % 2 = ?",
            [b, seed % 2],
        )
    elif edit == "visit_for_shared":
        (top,) = con.execute("SELECT coalesce(max(visit_occurrence_id), 0) FROM visit_occurrence").fetchone()
        template = con.execute(
            "SELECT * FROM visit_occurrence WHERE structure = ? ORDER BY visit_occurrence_id LIMIT 1", [b]
        ).df()
        for offset, person in enumerate(net.shared[: 3 + seed % 3]):
            row = template.assign(
                visit_occurrence_id=top + 1 + offset,
                person_id=person,
                visit_start_date=dt.date(2025, 3, 1 + offset),
                visit_end_date=dt.date(2025, 3, 1 + offset),
            )
            con.register("new_visit", row)
            con.execute("INSERT INTO visit_occurrence SELECT * FROM new_visit")
            con.unregister("new_visit")


def test_changing_b_never_changes_what_a_sees(app, clients, net: Net) -> None:
    svc = app.state.web.services
    con = app.state.web.installation.warehouse.duckdb
    a_client = clients["a-coordinateur"][0]
    a_protected = clients["a-chercheur"][0]
    network = clients["analyste"][0]
    before_a = _answers(a_client, JSON_ROUTES + PAGES)
    before_protected = _answers(a_protected, PROTECTED)
    network_before = next(
        t["rows"] for t in network.get("/api/status").json()["tables"] if t["table"] == "visit_occurrence"
    )
    assert net.shared, "the network must have persons seen by A and B"

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    @given(edits=EDITS, seed=st.integers(0, 1000))
    def changing_b(edits: list[str], seed: int) -> None:
        for edit in edits:
            _edit_b(con, net, edit, seed)
        svc.forget()  # the edits bypass the loads (no new batch): forget what was computed
        (visits,) = con.execute("SELECT count(DISTINCT visit_occurrence_id) FROM visit_occurrence").fetchone()
        seen = _answers(a_client, JSON_ROUTES + PAGES)
        assert [p for p in seen if seen[p] != before_a[p]] == [], edits
        seen = _answers(a_protected, PROTECTED)
        assert [p for p in seen if seen[p] != before_protected[p]] == [], edits
        # The network's figures follow B's edits (one visit per id over the structures): the test can fail.
        network_visits = {t["table"]: t["rows"] for t in network.get("/api/status").json()["tables"]}
        assert network_visits["visit_occurrence"] == visits != network_before, edits

    changing_b()


# -- proxisante users add: --cpts, and where each role belongs ------------------------------------------------------


def test_users_add_checks_the_cpts_and_where_each_role_belongs(
    network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = network.finess
    _with_cpts(Settings().structures, {a, b})
    monkeypatch.setattr(console, "_width", 200)
    monkeypatch.setenv("PASSWORD_FOR_TEST", PASSWORD)
    runner = CliRunner()

    def add(username: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(command_line, ["users", "add", username, *args, "--password-env", "PASSWORD_FOR_TEST"])
        assert result.exit_code == code, result.output
        return result.output

    assert f"(cpts ; CPTS {CPTS})" in add("coord-cpts", "--role", "cpts", "--cpts", CPTS.upper())
    unknown = add("x1", "--role", "cpts", "--cpts", "CPTS du Nord", code=2)
    assert "CPTS inconnue du registre « CPTS du Nord »" in unknown and f"CPTS connues : {CPTS}" in unknown
    assert "un compte cpts appartient à une CPTS, pas au réseau" in add("x2", "--role", "cpts", code=2)
    assert "un compte reseau appartient au réseau, pas à une structure" in add(
        "x3", "--role", "reseau", "--structure", a, code=2
    )
    assert "donnez sa structure (--structure FINESS)" in add("x4", "--role", "coordinateur", code=2)
    assert "pas aux deux" in add("x5", "--role", "gestionnaire", "--structure", a, "--cpts", CPTS, code=2)
    assert f"structure {a}" in add("x6", "--role", "coordinateur", "--structure", a)
    assert "(reseau ; réseau)" in add("x7", "--role", "reseau")
    store = AccountStore(Settings().accounts)
    assert store.get("coord-cpts").cpts == CPTS and store.get("x7").cpts is None  # type: ignore[union-attr]
    assert [a.username for a in store.list()] == ["coord-cpts", "x6", "x7"]
    listing = runner.invoke(command_line, ["users", "list"]).output
    assert f"CPTS {CPTS}" in listing
