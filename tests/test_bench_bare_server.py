"""The read path's limit server (bench/bare_server.py) serves the stored bytes it was given,
with an ETag, and a 304 only to a client that holds exactly those bytes."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from starlette.testclient import TestClient


def test_the_bare_endpoint_serves_the_given_bytes_and_revalidates_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = tmp_path / "board.json"
    body.write_bytes(b'{"rows": [1, 2, 3]}')
    monkeypatch.setenv("MLIPM_BENCH_BODY", str(body))
    import bench.bare_server as bare

    bare = importlib.reload(bare)  # it reads the file once, at import
    client = TestClient(bare.app)
    first = client.get("/body")
    assert first.status_code == 200
    assert first.content == body.read_bytes()
    etag = first.headers["etag"]
    held = client.get("/body", headers={"If-None-Match": etag})
    assert held.status_code == 304
    assert held.content == b""
    stale = client.get("/body", headers={"If-None-Match": '"another"'})
    assert stale.status_code == 200
    assert stale.content == body.read_bytes()
