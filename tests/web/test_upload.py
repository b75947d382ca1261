"""Upload of an extract (zip) on the administration page (issue 15, item 4): the zip is checked, unpacked into
the structure's drop folder as ``dropfolders.deposit_zip`` does (hidden folder, ``format.txt`` and ``COMPLET``
last, one rename), audited, then loaded by the server's worker while the page polls its state. Every
refusal is said in French and deposits nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
import re
import stat
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

import tests.lib.pivot_fixture as fx
from proxisante.ingest import dropfolders
from proxisante.ingest.dropfolders import ARCHIVE, ZipLimits, depot_root
from proxisante.installation import open_installation
from proxisante.network.structures import Structure, StructureRegistry, with_key
from proxisante.settings import Settings
from proxisante.web.app import SECURITY, BodyLimit, create_app
from proxisante.web.pages import UPLOAD_PATH
from proxisante.web.security.accounts import AccountStore
from tests.lib.web import PASSWORD, login

FINESS = with_key("87000002")
LEFT = with_key("87000003")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("upload-home"), secure_cookies=False)
    registry = StructureRegistry.installed(settings)
    registry.add(Structure(finess=FINESS, name="CDS de Limoges", type="CDS", joined=dt.date(2024, 1, 1)), by="test")
    registry.add(Structure(finess=LEFT, name="MSP partie", type="MSP", joined=dt.date(2024, 1, 1)), by="test")
    registry.leave(LEFT, dt.date(2025, 1, 1), by="test")
    store = AccountStore(settings.accounts)
    store.add("admin", PASSWORD, ["admin"], display_name="Admin")
    for role in ("coordinateur", "gestionnaire", "chercheur", "soignant"):
        store.add(role, PASSWORD, [role], rpps=fx.GP1 if role == "soignant" else None, display_name=role.title())
    return settings


@pytest.fixture(scope="module")
def app(settings: Settings):
    """The application without its lifespan (no worker): the refusal tests need no load."""
    installation = open_installation(settings)
    application = create_app(settings, installation)
    yield application
    installation.close()


@pytest.fixture(scope="module")
def admin(app) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="http://127.0.0.1")
    return client, login(client, "admin")


def export_zip(tmp_path: Path, folder: str = "export") -> bytes:
    """The hand-written pivot centre as a zip, its files inside one folder (as a zip of a folder is)."""
    source = fx.write(tmp_path / "export")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.iterdir()):
            archive.write(path, f"{folder}/{path.name}" if folder else path.name)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def upload(
    client: TestClient, csrf: str | None, data: bytes, *, structure: str = FINESS, fmt: str = "pivot", name="export.zip"
):
    fields = {"structure": structure, "format": fmt}
    if csrf is not None:
        fields["csrf_token"] = csrf
    return client.post(
        UPLOAD_PATH, data=fields, files={"fichier": (name, data, "application/zip")}, follow_redirects=False
    )


def depot_content(settings: Settings) -> list[Path]:
    """Everything under the drop folders but the processing lock file."""
    root = depot_root(settings)
    return sorted(p for p in root.rglob("*") if p.name != dropfolders.LOCK_FILE) if root.exists() else []


def audit_details(app, action: str) -> list[str]:
    frame = app.state.web.audit.entries(500)
    return list(frame.loc[frame["action"] == action, "detail"])


# -- a good zip ----------------------------------------------------------------------------------------------


def test_a_good_zip_is_loaded_by_the_server_and_its_report_appears(settings: Settings, tmp_path: Path) -> None:
    installation = open_installation(settings)
    application = create_app(settings, installation, poll_seconds=0.05)
    data = export_zip(tmp_path)
    try:
        with TestClient(application, base_url="http://127.0.0.1") as client:
            csrf = login(client, "admin")
            form = client.get("/administration")
            assert "Déposer un extrait" in form.text and 'enctype="multipart/form-data"' in form.text
            assert f'<option value="{FINESS}">' in form.text and f'<option value="{LEFT}">' not in form.text

            response = upload(client, csrf, data, name="export-mars.zip")
            assert response.status_code == 303, response.text
            location = unquote(response.headers["location"])
            assert "Extrait « export-mars.zip » déposé" in location
            deposited = re.search(r"depot=([^/]+)/([^#&]+)", location)
            assert deposited and deposited[1] == FINESS and deposited[2].endswith("-export-mars")

            page = client.get(response.headers["location"])
            assert 'id="extract-status"' in page.text
            status_url = f"{UPLOAD_PATH}/etat?structure={FINESS}&extrait={deposited[2]}"
            deadline = time.monotonic() + 60
            while True:
                fragment = client.get(status_url)
                assert fragment.status_code == 200
                if 'data-state="loaded"' in fragment.text or time.monotonic() > deadline:
                    break
                assert re.search(r'data-state="(waiting|running)"', fragment.text), fragment.text
                assert 'hx-trigger="every 2s"' in fragment.text
                time.sleep(0.1)
            assert 'data-state="loaded"' in fragment.text, fragment.text
            assert "chargé" in fragment.text and "hx-get" not in fragment.text  # polling stops once done
            assert f"Extrait {deposited[2]} de la structure {FINESS} : chargé." in fragment.text
            assert "Lignes lues" in fragment.text and "patients.csv" in fragment.text
            # the page itself shows the report too once done
            assert "Lignes lues" in client.get(response.headers["location"]).text
    finally:
        installation.close()

    archived = depot_root(settings) / FINESS / ARCHIVE / deposited[2]
    assert (archived / "patients.csv").is_file()  # the zip's one folder was unpacked as the extract itself
    assert (archived / "format.txt").read_text().strip() == "pivot"
    assert not [p for p in (depot_root(settings) / FINESS).iterdir() if p.name.startswith(".")]
    details = audit_details(application, "extrait déposé")
    assert any(
        d.startswith(f"{FINESS} : export-mars.zip ({len(data)} octets), format pivot, extrait {deposited[2]}")
        for d in details
    ), details


def test_the_status_of_a_waiting_extract_then_process(app, admin, settings: Settings, tmp_path: Path) -> None:
    """Without the worker the extract waits; ``dropfolders.process`` loads it and the fragment says so."""
    client, csrf = admin
    before = set(depot_content(settings))
    response = upload(client, csrf, export_zip(tmp_path, folder=""), name="plat.zip")
    assert response.status_code == 303
    name = re.search(r"depot=[^/]+%2F([^#&]+)|depot=[^/]+/([^#&]+)", response.headers["location"])
    extract = unquote(next(g for g in name.groups() if g))  # type: ignore[union-attr]
    url = f"{UPLOAD_PATH}/etat?structure={FINESS}&extrait={extract}"
    assert 'data-state="waiting"' in client.get(url).text and "en attente" in client.get(url).text
    assert set(depot_content(settings)) > before
    result = dropfolders.process(app.state.web.installation)
    assert [r.status for r in result.reports] == ["nothing_new"]  # the same files as the first test's
    fragment = client.get(url).text
    assert 'data-state="nothing_new"' in fragment and "rien de nouveau" in fragment and "hx-get" not in fragment


def test_a_bad_status_query_is_refused(admin) -> None:
    client, _ = admin
    assert client.get(f"{UPLOAD_PATH}/etat?structure={FINESS}&extrait=../../secrets").status_code == 422
    unknown = client.get(f"{UPLOAD_PATH}/etat?structure={FINESS}&extrait=absent")
    assert unknown.status_code == 200 and "introuvable" in unknown.text and "hx-get" not in unknown.text


# -- refusals: nothing deposited ------------------------------------------------------------------------------

GOOD = {"patients.csv": b"patient_id;ins\n"}
REFUSALS = {
    "zip slip": (zip_of({"../evil.csv": b"x"}), {}, "chemin sortant du dossier"),
    "zip slip deep": (zip_of({"export/../../evil.csv": b"x"}), {}, "chemin sortant du dossier"),
    "absolute path": (zip_of({"/tmp/evil.csv": b"x"}), {}, "chemin absolu"),
    "windows path": (zip_of({"C:/evil.csv": b"x"}), {}, "chemin absolu"),
    "symbolic link": (zip_of(GOOD, links=("lien.csv",)), {}, "lien symbolique"),
    "reserved name": (zip_of({**GOOD, "rapport.json": b"{}"}), {}, "nom réservé"),
    "not a zip": (b"patient_id;ins\nP1;1\n", {}, "pas une archive zip"),
    "empty zip": (zip_of({}), {}, "archive est vide"),
    "empty file": (b"", {}, "fichier envoyé est vide"),
    "bad format": (zip_of(GOOD), {"fmt": "hl7"}, "format inconnu « hl7 »"),
    "unknown structure": (zip_of(GOOD), {"structure": with_key("87000099")}, "n'est pas dans le registre"),
    "left structure": (zip_of(GOOD), {"structure": LEFT}, "quitté le réseau"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_uploads_deposit_nothing(app, admin, settings: Settings, case: str) -> None:
    client, csrf = admin
    data, options, reason = REFUSALS[case]
    before = depot_content(settings)
    response = upload(client, csrf, data, **options)
    assert response.status_code == 303
    location = unquote(response.headers["location"])
    assert "Dépôt refusé, rien n'a été déposé" in location and reason in location, location
    page = client.get(response.headers["location"])
    assert "Dépôt refusé, rien n'a été déposé" in html.unescape(page.text)
    assert depot_content(settings) == before
    assert not (depot_root(settings).parent / "evil.csv").exists() and not Path("/tmp/evil.csv").exists()
    assert any(reason in d for d in audit_details(app, "dépôt d'extrait refusé"))


@pytest.mark.parametrize(
    ("limits", "entries", "reason"),
    [
        (ZipLimits(max_bytes=10**6, max_files=2), {"a.csv": b"1", "b.csv": b"2", "c.csv": b"3"}, "trop de fichiers"),
        (ZipLimits(max_bytes=1000, max_files=10), {"a.csv": b"0" * 1001}, "trop volumineuse une fois décompressée"),
    ],
)
def test_too_big_or_too_many_files_is_refused(
    admin, settings: Settings, monkeypatch: pytest.MonkeyPatch, limits: ZipLimits, entries, reason: str
) -> None:
    monkeypatch.setattr(dropfolders, "upload_limits", lambda: limits)
    client, csrf = admin
    before = depot_content(settings)
    response = upload(client, csrf, zip_of(entries))
    assert reason in unquote(response.headers["location"])
    assert depot_content(settings) == before


def test_an_entry_lying_about_its_size_is_stopped_while_unpacking(settings: Settings) -> None:
    """The uncompressed size is counted while unpacking, not only as the archive declares it."""
    data = bytearray(zip_of({"a.csv": b"0" * 5000}))
    # the declared size in the central directory says 10 bytes; the data is 5000
    offset = data.rfind(b"PK\x01\x02")
    data[offset + 24 : offset + 28] = (10).to_bytes(4, "little")
    before = depot_content(settings)
    with pytest.raises(dropfolders.ZipRefused):
        dropfolders.deposit_zip(settings, io.BytesIO(bytes(data)), "menteur.zip", FINESS, limits=ZipLimits(1000, 10))
    assert depot_content(settings) == before


def test_without_the_csrf_token_nothing_is_deposited(admin, settings: Settings) -> None:
    client, _ = admin
    before = depot_content(settings)
    response = upload(client, None, zip_of(GOOD))
    assert response.status_code == 403 and "Jeton CSRF" in response.text
    assert upload(client, "faux", zip_of(GOOD)).status_code == 403
    assert depot_content(settings) == before


@pytest.mark.parametrize("role", ["coordinateur", "gestionnaire", "chercheur", "soignant"])
def test_other_roles_are_refused(app, settings: Settings, role: str) -> None:
    client = TestClient(app, base_url="http://127.0.0.1")
    csrf = login(client, role)
    before = depot_content(settings)
    assert upload(client, csrf, zip_of(GOOD)).status_code == 403
    assert client.get(f"{UPLOAD_PATH}/etat?structure={FINESS}&extrait=x").status_code == 403
    assert "Déposer un extrait" not in client.get("/").text
    assert depot_content(settings) == before


# -- the request body limit: larger on this route only -------------------------------------------------------


def test_the_upload_route_has_its_own_body_limit(admin, settings: Settings) -> None:
    client, csrf = admin
    default, upload_limit = int(SECURITY.value("max_request_bytes")), int(SECURITY.value("max_upload_bytes"))
    assert upload_limit > default
    big = b"0" * (default + 1024)
    # over the default limit: refused on another POST of the administration, read on the upload route
    assert client.post("/administration/comptes", content=big, headers={"X-CSRF-Token": csrf}).status_code == 413
    response = upload(client, csrf, zip_of({"a.csv": big}))
    assert response.status_code == 303 and "Extrait" in unquote(response.headers["location"])


def _status_for(limit_app: BodyLimit, path: str, length: int) -> int:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": [(b"content-length", str(length).encode())], "method": "POST"}
    asyncio.run(limit_app(scope, receive, send))  # type: ignore[arg-type]
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_over_the_upload_limit_is_answered_413() -> None:
    async def accept(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodyLimit(accept, limit=100, per_path={UPLOAD_PATH: 1000})
    assert _status_for(limited, UPLOAD_PATH, 999) == 204
    assert _status_for(limited, UPLOAD_PATH, 1001) == 413
    assert _status_for(limited, "/administration/comptes", 101) == 413
    assert _status_for(limited, UPLOAD_PATH + "/etat", 101) == 413  # the limit is the route's alone
