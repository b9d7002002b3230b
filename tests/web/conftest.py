"""An in-process app over a fresh data dir, and a helper that uploads and waits for the index."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_upload_bytes=8 << 20)


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def upload(client: TestClient, path: Path, name: str | None = None, wait: bool = True) -> dict:
    """Upload a file through the API like the page does; wait until indexing has finished."""
    with open(path, "rb") as f:
        r = client.post("/api/captures", files={"file": (name or path.name, f, "application/octet-stream")})
    assert r.status_code == 201, r.text
    capture = r.json()
    while wait and capture["status"] == "indexing":
        capture = client.get(f"/api/captures/{capture['id']}", params={"wait": 30}).json()
    return capture
