"""Writing a report folder: the chosen renderings of one built report, then the signed manifest.

The files are written to a temporary folder next to the destination and moved in place only once
all of them and the signature exist, so that a failure never leaves a half-written, or unsigned,
report where a payer might pick it up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proxisante.identity.keys import make_private
from proxisante.reporting import signing
from proxisante.reporting.model import REPORT_KIND, Report, to_document
from proxisante.reporting.render_json import render_json
from proxisante.reporting.render_pdf import render_pdf
from proxisante.reporting.render_xlsx import render_xlsx

FORMATS = ("pdf", "xlsx", "json")


class ReportFolderError(ValueError):
    """The destination cannot take the report (not empty, not a folder)."""


def renderers() -> dict[str, Callable[[Report], bytes]]:
    return {"pdf": render_pdf, "xlsx": render_xlsx, "json": render_json}


def file_name(report: Report, fmt: str) -> str:
    period = report.period.label.replace(":", "_")
    return f"rapport-{REPORT_KIND}-{period}.{fmt}"


def own_files(folder: Path) -> set[str]:
    """The names in ``folder`` that a report wrote: its manifest, its signature and the renderings the
    manifest lists under the report's own names (``rapport-<kind>-<period>.<format>``)."""
    try:
        manifest = json.loads((folder / signing.MANIFEST).read_text(encoding="utf-8"))
        listed = {str(entry["name"]) for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    pattern = re.compile(rf"rapport-{re.escape(REPORT_KIND)}-[A-Za-z0-9_.-]+\.({'|'.join(FORMATS)})")
    return {name for name in listed if pattern.fullmatch(name)} | {signing.MANIFEST, signing.SIGNATURE}


def check_destination(out: Path, replace: bool) -> None:
    """Refuse a destination that is a file, or a folder with files unless ``replace`` (before any work);
    ``replace`` only ever replaces a report: a folder holding anything else is refused, nothing deleted."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ReportFolderError(f"{out} existe et n'est pas un dossier")
    if not out.exists() or not any(out.iterdir()):
        return
    if not replace:
        raise ReportFolderError(f"{out} n'est pas vide : choisissez un autre --out ou ajoutez --replace")
    owned = own_files(out)
    others = sorted(p.name for p in out.iterdir() if p.name not in owned or p.is_symlink() or not p.is_file())
    if others:
        shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        raise ReportFolderError(
            f"{out} contient des fichiers qui ne sont pas ceux d'un rapport ({shown}) : --replace ne remplace "
            "qu'un rapport, rien n'a été supprimé ; choisissez un autre --out"
        )


def write_report(
    report: Report,
    out: Path,
    key: Ed25519PrivateKey,
    formats: Iterable[str] = FORMATS,
    *,
    replace: bool = False,
    audit_heads: dict | None = None,
) -> list[str]:
    """Render ``report`` in ``formats`` into ``out`` with a signed manifest (witnessing ``audit_heads``, see
    :func:`~proxisante.reporting.signing.manifest_bytes`); the names written."""
    chosen = [f for f in FORMATS if f in set(formats)]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not chosen:
        raise ReportFolderError(f"format inconnu : {', '.join(unknown) or '(aucun)'} (attendu pdf, xlsx ou json)")
    check_destination(out, replace)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rapport-", dir=out.parent))
    try:
        render = renderers()
        names = []
        for fmt in chosen:
            name = file_name(report, fmt)
            (staging / name).write_bytes(render[fmt](report))
            names.append(name)
        document = to_document(report)
        signing.sign_folder(
            staging,
            names,
            key,
            period=document["period"],
            structure=document["structure"],
            generated_at=report.generated_at,
            schema_version=report.schema_version,
            audit_heads=audit_heads,
        )
        make_private(staging)  # 0600 files in a 0700 folder, whatever the umask
        check_destination(out, replace)
        if out.exists() and any(out.iterdir()):
            _replace(out, staging)
        else:
            os.replace(staging, out)  # absent, or an empty folder
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return names


def _replace(out: Path, staging: Path) -> None:
    """Swap the old report for the new one (two renames), then delete only the old report's own files."""
    old = Path(tempfile.mkdtemp(prefix=".rapport-ancien-", dir=out.parent))
    os.replace(out, old)  # ``old`` is an empty folder: replaced
    os.replace(staging, out)
    for name in own_files(old):
        (old / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # something appeared meanwhile: kept, never deleted
        old.rmdir()
