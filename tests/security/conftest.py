"""Fixtures of the security tests: in-process apps in each access mode, with one capture loaded."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.reference import CORPUS

SECRET_NAME = "SECRET-capture-name-4f1c.pcap"


def wait_ready(client: TestClient, capture: dict, headers: dict | None = None, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while capture["status"] == "indexing":
        assert time.monotonic() < deadline, f"indexing did not finish: {capture}"
        time.sleep(0.02)
        capture = client.get(f"/api/captures/{capture['id']}", headers=headers or {}).json()
    return capture


def upload(client: TestClient, name: str, data: bytes, headers: dict | None = None) -> dict:
    r = client.post("/api/captures", files={"file": (name, data, "application/octet-stream")},
                    headers=headers or {})
    assert r.status_code == 201, r.text
    return wait_ready(client, r.json(), headers)


@pytest.fixture
def token_app(tmp_path: Path):
    """An app listening beyond loopback (so the token is required), with one capture."""
    settings = Settings(data_dir=tmp_path / "data", host="0.0.0.0", auth="auto", token=None,
                        max_upload_bytes=8 << 20)
    app = create_app(settings)
    token = app.state.access.token
    with TestClient(app) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        capture = upload(client, SECRET_NAME, (CORPUS / "dpkt_http.pcap").read_bytes(), bearer)
        client.cookies.clear()
        yield app, client, token, capture


@pytest.fixture
def open_app(tmp_path: Path):
    """The default: loopback only, no token."""
    settings = Settings(data_dir=tmp_path / "data", auth="auto", token=None, max_upload_bytes=8 << 20)
    app = create_app(settings)
    with TestClient(app) as client:
        yield app, client


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory):
    """A real server (loopback, no token) holding the hostile captures: (server, captures)."""
    from tests.security import hostile  # noqa: PLC0415
    from tests.security.server import Server  # noqa: PLC0415
    from tests.security.server import upload as upload_real  # noqa: PLC0415

    server = Server(tmp_path_factory.mktemp("hostile") / "data").start()
    try:
        captures = [
            upload_real(server, hostile.FILE_NAME, hostile.pcapng()),
            upload_real(server, hostile.FILE_NAME.replace(".pcapng", ".pcap"), hostile.pcap()),
        ]
        for capture in captures:
            assert capture["status"] == "ready" and capture["packets"] == len(hostile.frames()), capture
        yield server, captures
    finally:
        server.stop()
