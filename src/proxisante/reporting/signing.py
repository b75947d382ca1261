"""The structure's signing key, the manifest of a report folder and its verification.

Each structure (one data home) has an Ed25519 key pair, created on first use under the data home
(``secrets/report_signing_ed25519.pem``, 0600 in a 0700 folder, like the pseudonymisation key). A
report folder holds the report files, ``manifest.json`` (each file's name, size and SHA-256, the
period, the structure, the time, the schema version and the public key) and ``manifest.json.sig``
(the detached Ed25519 signature of the manifest's exact bytes, in base64). Changing any byte of any
file changes its hash; changing any byte of the manifest breaks the signature.

The public key inside the manifest proves integrity, not origin: a payer checks origin by comparing
it with the key the structure gave through another channel (``proxisante report public-key``,
``verify --public-key``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from proxisante.identity.keys import create_secret

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
MANIFEST_VERSION = 1
KEY_FILE = Path("secrets") / "report_signing_ed25519.pem"


def key_path(home: Path) -> Path:
    return home / KEY_FILE


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The structure's private key, created (0600, ``O_EXCL``: two processes cannot write two keys) if absent."""
    path = path.expanduser()
    create_secret(path, _new_private_pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, in hex: what two people read to each other on the phone."""
    return hashlib.sha256(public_raw(key)).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_bytes(
    folder: Path,
    files: list[str],
    key: Ed25519PrivateKey,
    *,
    period: dict,
    structure: dict,
    generated_at: dt.datetime,
    schema_version: str,
    audit_heads: dict | None = None,
) -> bytes:
    """The manifest of ``files`` (names inside ``folder``), as the exact bytes that get signed.

    ``audit_heads`` (length and head hash of each audit log when the report was made) make every report
    that leaves the structure a witness of its audit logs: a log rolled back or rewritten later, even with
    its anchor, no longer holds what a signed report saw (``proxisante audit verify --rapport``)."""
    public = key.public_key()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "proxisante-report",
        "schema_version": schema_version,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "period": period,
        "structure": structure,
        "files": [
            {"name": name, "bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
            for name in sorted(files)
        ],
        **({"audit_heads": audit_heads} if audit_heads else {}),
        "public_key": {
            "algorithm": "Ed25519",
            "raw_base64": base64.b64encode(public_raw(public)).decode(),
            "sha256": fingerprint(public),
        },
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sign_folder(folder: Path, files: list[str], key: Ed25519PrivateKey, **about: Any) -> None:
    """Write ``manifest.json`` and ``manifest.json.sig`` for ``files`` of ``folder``."""
    data = manifest_bytes(folder, files, key, **about)
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(base64.b64encode(key.sign(data)) + b"\n")


@dataclass
class Verification:
    """What ``verify_folder`` found: problems make it fail, warnings do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_folder(folder: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Check the signature of the manifest, then every file's size and hash; French messages.

    With ``trusted`` (the key the structure gave), the manifest's key must be that one.
    """
    result = Verification()
    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    for path in (manifest_path, signature_path):
        if not path.is_file():
            result.problems.append(f"fichier manquant : {path.name}")
    if result.problems:
        return result
    data = manifest_path.read_bytes()
    manifest = _parse_manifest(data, result)
    if manifest is None:
        return result
    key = _manifest_key(manifest, result)
    if key is None:
        return result
    result.fingerprint = fingerprint(key)
    if trusted is not None and public_raw(trusted) != public_raw(key):
        result.problems.append(
            "clé publique différente de la clé de confiance : le rapport n'a pas été signé par cette structure "
            f"(empreinte du manifeste {result.fingerprint[:16]}…, attendue {fingerprint(trusted)[:16]}…)"
        )
    try:
        key.verify(base64.b64decode(signature_path.read_bytes().strip(), validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        result.problems.append("signature invalide : le manifeste ou sa signature a été modifié")
    if trusted is None:
        result.warnings.append(
            "clé publique lue dans le manifeste lui-même : l'intégrité est vérifiée, pas l'origine "
            "(comparez l'empreinte avec celle donnée par la structure, ou passez --public-key)"
        )
    _check_files(folder, manifest, result)
    return result


def witnessed_heads(folder: Path) -> dict[str, dict[int, str]]:
    """The audit heads a verified report witnessed, by log: ``{log: {rows: head}}``."""
    manifest = json.loads((folder / MANIFEST).read_bytes().decode("utf-8"))
    heads = manifest.get("audit_heads") or {}
    return {str(log): {int(h["rows"]): str(h["head"])} for log, h in heads.items()}


def _parse_manifest(data: bytes, result: Verification) -> dict | None:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        result.problems.append(f"manifeste illisible (JSON invalide : {error}) : il a été modifié")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        result.problems.append("manifeste incomplet : liste des fichiers absente")
        return None
    return manifest


def _manifest_key(manifest: dict, result: Verification) -> Ed25519PublicKey | None:
    try:
        raw = base64.b64decode(manifest["public_key"]["raw_base64"], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, TypeError, binascii.Error, ValueError):
        result.problems.append("clé publique du manifeste absente ou invalide")
        return None


def _check_files(folder: Path, manifest: dict, result: Verification) -> None:
    listed = set()
    for entry in manifest["files"]:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        path = folder / name
        if not name or Path(name).name != name:
            result.problems.append(f"entrée de manifeste invalide : {name!r}")
            continue
        listed.add(name)
        if not path.is_file():
            result.problems.append(f"fichier manquant : {name}")
        elif sha256_file(path) != entry.get("sha256") or path.stat().st_size != entry.get("bytes"):
            result.problems.append(f"fichier modifié : {name} (empreinte SHA-256 différente de celle du manifeste)")
        else:
            result.files.append(name)
    # Whatever else is in the folder was not signed: a reader could take it for part of the report.
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed | {MANIFEST, SIGNATURE})
    for name in extra:
        result.problems.append(f"fichier non couvert par la signature : {name} (absent du manifeste signé)")


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file written by ``proxisante report public-key`` (PEM)."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key
