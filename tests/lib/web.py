"""Helpers of the web tests: an application over its own installation, and signing in through the form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from proxisante.installation import open_installation
from proxisante.settings import Settings
from proxisante.web.app import create_app

PASSWORD = "Web-tests-2026!"


def make_app(settings: Settings):
    """An application over an installation the test owns: the server's shutdown (a TestClient or uvicorn
    leaving) must not close the warehouse under the other tests."""
    return create_app(settings, open_installation(settings))


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs in through the form; returns the session's CSRF token (read from the page)."""
    page = client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    response = client.post(
        "/connexion",
        data={"username": username, "password": password, "csrf_token": token, "suite": "/administration"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    me = client.get("/api/me")
    assert me.status_code == 200
    return me.json()["csrf_token"]
