"""`make demo` starts its own Postgres and Redis when none answers at the configured URLs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from backend.cli.localservices import (
    ensure_services,
    free_port,
    postgres_bindir,
    postgres_reachable,
    redis_reachable,
)


@pytest.mark.skipif(postgres_bindir() is None, reason="Debian's postgresql binaries missing")
def test_local_servers_start_when_nothing_answers_and_stop_again() -> None:
    # Not pytest's tmp_path: that is private to root, and initdb runs as the postgres user.
    tmp_path = Path(tempfile.mkdtemp(prefix="mlipm-local-"))
    tmp_path.chmod(0o755)
    dead_pg = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/mlipm"
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    assert not postgres_reachable(dead_pg)
    assert not redis_reachable(dead_redis)
    services = ensure_services(dead_pg, dead_redis, tmp_path)
    try:
        assert len(services.started) == 2
        url = make_url(services.database_url)
        assert url.database == "mlipm"
        with psycopg.connect(
            host=url.host, port=url.port, user="postgres", dbname="postgres"
        ) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert redis.Redis.from_url(services.redis_url).ping()
    finally:
        services.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert not postgres_reachable(services.database_url)
    assert not redis_reachable(services.redis_url)


def test_reachable_servers_are_reused_not_restarted(tmp_path: Path) -> None:
    from tests.conftest import REDIS_URL, SERVER_URL

    services = ensure_services(SERVER_URL, REDIS_URL, tmp_path)
    assert services.started == []
    assert (services.database_url, services.redis_url) == (SERVER_URL, REDIS_URL)
