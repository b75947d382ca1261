"""The text of a PDF written by reportlab, read from its bytes (no PDF library in the project): each
page's content stream decoded, each string shown mapped through its font's ToUnicode map (reportlab's
TrueType subsets) or read as Latin-1 (the standard fonts), one line per text operation."""

from __future__ import annotations

import base64
import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\n?endstream", re.S)
_TOKEN = re.compile(rb"/([^\s/\[\]()<>]+)\s+[\d.]+\s+Tf|\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|T[dD*mJj]|'|\"|ET")


def _stream(body: bytes) -> bytes | None:
    match = _STREAM.search(body)
    if match is None:
        return None
    raw = match.group(1)
    if b"/ASCII85Decode" in body:
        raw = base64.a85decode(raw.strip(), adobe=True)
    if b"/FlateDecode" in body:
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            return None
    return raw


def _cmap(text: bytes) -> dict[int, str]:
    """A ToUnicode CMap's single codes (bfchar) and ranges (bfrange) as code → text."""
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for code, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int(uni, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                out[code] = chr(first + offset)
    return out


def _literal(token: bytes) -> bytes:
    """A PDF literal string's bytes, its escapes undone."""
    body = token[1:-1]
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def undo(match: re.Match[bytes]) -> bytes:
        x = match.group(1)
        if x[:1].isdigit():
            return bytes([int(x, 8) & 0xFF])
        return escapes.get(x, x)

    return re.sub(rb"\\([0-7]{1,3}|.)", undo, body, flags=re.S)


def pdf_text(data: bytes) -> str:
    """Every string the PDF shows, one text operation's strings per line."""
    objects = {int(n): body for n, body in _OBJECT.findall(data)}
    maps: dict[str, dict[int, str]] = {}
    for body in objects.values():
        name = re.search(rb"/Name\s*/(\S+)", body)
        to_unicode = re.search(rb"/ToUnicode\s+(\d+)\s+0\s+R", body)
        if b"/Type /Font" in body and name and to_unicode:
            cmap = _stream(objects[int(to_unicode.group(1))]) or b""
            maps[name.group(1).decode()] = _cmap(cmap)
    lines: list[str] = []
    for body in objects.values():
        content = _stream(body)
        if content is None or b"BT" not in content:
            continue
        font: dict[int, str] | None = None
        line = ""
        for token in _TOKEN.finditer(content):
            t = token.group(0)
            if token.group(1):
                font = maps.get(token.group(1).decode())
            elif t[:1] in (b"(", b"<"):
                raw = _literal(t) if t[:1] == b"(" else bytes.fromhex(re.sub(rb"\s", b"", t[1:-1]).decode())
                line += "".join(font.get(b, "") for b in raw) if font is not None else raw.decode("latin-1")
            elif line:
                lines.append(line)
                line = ""
        if line:
            lines.append(line)
    return "\n".join(lines)
