"""Hostile uploads are refused with 413/422, store nothing, and cannot grow or stall the API.

Every structure file, training set and model card the issue found (a 150-byte extxyz header
asking for millions of columns, a 130-byte ASE JSON asking for gigabytes of strings, bodies
nested 100,000 deep, YAML aliases) is sent through the app; a live uvicorn process then shows
that its peak memory stays put and ``/health`` answers while a hostile parse runs in the
bounded child process. Nothing here asserts a wall-clock time: only that calls return.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from ase.build import bulk, molecule
from ase.io import write
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, StructureSet
from backend.domain.statuses import Role
from backend.services import users
from backend.settings import get_settings
from tests.live import _serve_api, _stop
from workers.atoms_json import atoms_to_json

CARD = {"authors": ["A. Author"], "license": "MIT"}
NDARRAY_U = '{"numbers": {"__ndarray__": [[4], "U100000000", ["1", "1", "1", "1"]]}, "positions": [[0,0,0]]}'  # noqa: E501

#: (name, format, content): every structure file must be refused with 413 or 422
HOSTILE_STRUCTURES: list[tuple[str, str, bytes]] = [
    (
        "extxyz 5e6 columns",
        "extxyz",
        b"1\nProperties=species:S:1:pos:R:3:junk:R:5000000\nH 0 0 0\n",
    ),
    (
        "extxyz 5e7 columns",
        "extxyz",
        b"1\nProperties=species:S:1:pos:R:3:junk:R:50000000\nH 0 0 0\n",
    ),
    (
        "extxyz 10^5 properties",
        "extxyz",
        b"1\nProperties=species:S:1:pos:R:3" + b":j:R:1" * 100_000 + b"\nH 0 0 0\n",
    ),
    (
        "extxyz quoted huge width",
        "extxyz",
        b'1\nProperties="species:S:1:pos:R:3:junk:I:99999999999999999999"\nH 0 0 0\n',
    ),
    ("extxyz 10^12 atoms", "extxyz", b"1000000000000\ncomment\nH 0 0 0\n"),
    ("extxyz 1 MB comment", "extxyz", b"1\n" + b"k=v " * 300_000 + b"\nH 0 0 0\n"),
    ("json U100000000 ndarray", "json", NDARRAY_U.encode()),
    (
        "json 10^12-element ndarray",
        "json",
        b'{"numbers": {"__ndarray__": [[1000000000000], "int64", [1]]}, "positions": [[0,0,0]]}',
    ),
    (
        "json 10^6 x 10^6 positions",
        "json",
        b'{"numbers": [1], "positions": {"__ndarray__": [[1000000, 1000000], "float64", []]}}',
    ),
    (
        "json object-dtype ndarray",
        "json",
        b'{"numbers": {"__ndarray__": [[1], "object", [1]]}, "positions": [[0,0,0]]}',
    ),
    (
        "json bandpath",
        "json",
        b'{"__ase_objtype__": "bandpath", "labelseq": "GX", "cell": {"__ase_objtype__": '
        b'"cell", "array": [[1,0,0],[0,1,0],[0,0,1]]}, "kpts": [], "special_points": {}}',
    ),
    ("json vibrationsdata", "json", b'{"__ase_objtype__": "vibrationsdata", "atoms": {}}'),
    ("json nested 10^5", "json", b"[" * 100_000 + b"]" * 100_000),
    ("json nested 500", "json", b'{"numbers": ' + b"[" * 500 + b"]" * 500 + b"}"),
    ("json bad ids", "json", b'{"ids": [[1]], "1": {}}'),
    ("poscar 10^9 atoms", "poscar", b"x\n1.0\n4 0 0\n0 4 0\n0 0 4\nCu\n1000000000\nDirect\n"),
    (
        "cif 20001-site loop",
        "cif",
        b"data_big\n_cell_length_a 100\n_cell_length_b 100\n_cell_length_c 100\n"
        b"_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        b"loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
        b"_atom_site_fract_y\n_atom_site_fract_z\n"
        + b"".join(b"H%d H 0.%05d 0.5 0.5\n" % (i, i) for i in range(20001)),
    ),
]

HOSTILE_TRAINING_SETS: list[tuple[str, bytes]] = [
    ("5e6 columns", b"1\nProperties=species:S:1:pos:R:3:junk:R:5000000\nH 0 0 0\n"),
    ("5e7 columns", b"1\nProperties=species:S:1:pos:R:3:junk:R:50000000\nH 0 0 0\n"),
    ("10^12 atoms", b"1000000000000\ncomment\nH 0 0 0\n"),
    ("truncated", b"3\ncomment\nH 0 0 0\n"),
]


def _nested_yaml(depth: int) -> bytes:
    return ("name: deep\nfamily: emt\ncard:\n  x: " + "[" * depth + "]" * depth + "\n").encode()


def _billion_laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines += ["name: laughs", "family: emt", "card:", "  license: MIT", "  notes: *i"]
    return "\n".join(lines).encode()


#: (name, content type, body) for POST /models
HOSTILE_CARDS: list[tuple[str, str, bytes]] = [
    ("json nested 10^5", "application/json", b"[" * 100_000 + b"]" * 100_000),
    (
        "json params nested 900",
        "application/json",
        b'{"name": "deep", "family": "emt", "params": {"x": '
        + b"[" * 900
        + b"]" * 900
        + b"}, "
        + b'"card": {"license": "MIT"}}',
    ),
    ("yaml nested 900", "application/yaml", _nested_yaml(900)),
    ("yaml nested 10^4", "application/yaml", _nested_yaml(10_000)),
    ("yaml billion laughs", "application/yaml", _billion_laughs()),
]


def _token(session: Session, role: Role) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        session, name=f"{role.value}-{uuid.uuid4().hex[:6]}", role=role
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def owner(db_session: Session) -> dict[str, str]:
    return _token(db_session, Role.SUBMITTER)


@pytest.fixture
def artifact_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MLIPM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    get_settings.cache_clear()
    yield tmp_path / "artifacts"
    monkeypatch.undo()
    get_settings.cache_clear()


def _new_set(client: TestClient, headers: dict[str, str]) -> str:
    body = {"name": f"hostile-{uuid.uuid4().hex[:8]}", "description": "tests"}
    response = client.post("/structure-sets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code in (413, 422), response.text[:500]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "where", "request_id"}
    assert error["code"] in ("invalid_input", "payload_too_large")
    assert error["message"]


@pytest.mark.parametrize(
    ("fmt", "content"),
    [pytest.param(fmt, content, id=name) for name, fmt, content in HOSTILE_STRUCTURES],
)
def test_hostile_structure_files_are_refused_and_store_nothing(
    client: TestClient, owner: dict[str, str], fmt: str, content: bytes
) -> None:
    set_id = _new_set(client, owner)
    response = client.post(
        f"/structure-sets/{set_id}/structures",
        content=content,
        params={"format": fmt},
        headers=owner,
    )
    _assert_refused(response)
    assert client.get(f"/structure-sets/{set_id}").json()["n_structures"] == 0


def _submit(client: TestClient, headers: dict[str, str]) -> str:
    body = {"name": f"hostile-{uuid.uuid4().hex[:8]}", "family": "emt", "card": CARD}
    response = client.post("/models", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(
    "content", [pytest.param(content, id=name) for name, content in HOSTILE_TRAINING_SETS]
)
def test_hostile_training_sets_are_refused_and_store_nothing(
    client: TestClient, owner: dict[str, str], artifact_dir: Path, content: bytes
) -> None:
    model_id = _submit(client, owner)
    response = client.put(f"/models/{model_id}/training-set", content=content, headers=owner)
    _assert_refused(response)
    model = client.get(f"/models/{model_id}", headers=owner).json()
    assert model["training_n_structures"] is None
    stored = [p for p in artifact_dir.rglob("*") if p.is_file()] if artifact_dir.exists() else []
    assert stored == []


@pytest.mark.parametrize(
    ("media", "body"),
    [pytest.param(media, body, id=name) for name, media, body in HOSTILE_CARDS],
)
def test_hostile_cards_are_refused_and_store_nothing(
    client: TestClient, db_session: Session, owner: dict[str, str], media: str, body: bytes
) -> None:
    before = db_session.scalar(select(func.count()).select_from(MlipModel))
    response = client.post("/models", content=body, headers={**owner, "Content-Type": media})
    _assert_refused(response)
    assert db_session.scalar(select(func.count()).select_from(MlipModel)) == before


def test_yaml_without_aliases_still_reads(client: TestClient, owner: dict[str, str]) -> None:
    text = f"name: plain-{uuid.uuid4().hex[:6]}\nfamily: emt\ncard:\n  license: MIT\n"
    response = client.post(
        "/models", content=text.encode(), headers={**owner, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", ["/structure-sets", "/campaigns", "/references"])
def test_deeply_nested_json_to_other_routes_is_422(
    client: TestClient, db_session: Session, owner: dict[str, str], path: str
) -> None:
    admin = _token(db_session, Role.ADMIN)
    before = db_session.scalar(select(func.count()).select_from(StructureSet))
    response = client.post(
        path,
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**admin, "Content-Type": "application/json"},
    )
    _assert_refused(response)
    assert db_session.scalar(select(func.count()).select_from(StructureSet)) == before


# --- bounded fuzz: mutations of valid files never give a 5xx ---------------------------


def _valid_files() -> list[tuple[str, bytes]]:
    cu, water = bulk("Cu", "fcc", a=3.6, cubic=True), molecule("H2O")
    files = []
    for fmt, images in (("extxyz", [cu, water]), ("cif", [cu]), ("vasp", [cu])):
        buffer: io.BytesIO | io.StringIO = io.BytesIO() if fmt == "cif" else io.StringIO()
        write(buffer, images if fmt == "extxyz" else images[0], format=fmt)
        value = buffer.getvalue()
        name = "poscar" if fmt == "vasp" else fmt
        files.append((name, value if isinstance(value, bytes) else value.encode()))
    files.append(("json", atoms_to_json(cu).encode()))
    return files


def _mutate(rng: random.Random, content: bytes) -> bytes:
    data = bytearray(content)
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(("flip", "insert", "delete", "digits", "duplicate", "brackets"))
        at = rng.randrange(len(data)) if data else 0
        if kind == "flip" and data:
            data[at] = rng.randrange(256)
        elif kind == "insert":
            data[at:at] = bytes(rng.choice(b"0123456789-.e:[]{}\"' \nTFHCu_") for _ in range(8))
        elif kind == "delete":
            del data[at : at + rng.randint(1, 40)]
        elif kind == "digits":
            data[at:at] = str(rng.choice((0, -1, 10**9, 10**12, 5_000_000, 2**63))).encode()
        elif kind == "duplicate":
            data[at:at] = data[at : at + rng.randint(1, 200)] * rng.randint(2, 20)
        elif kind == "brackets":
            data[at:at] = b"[" * rng.randint(1, 2000)
    return bytes(data)


def test_mutated_files_never_get_a_5xx(client: TestClient, owner: dict[str, str]) -> None:
    rng = random.Random(16)
    statuses: dict[int, int] = {}
    valid = _valid_files()
    for case in range(200):
        fmt, content = valid[case % len(valid)]
        set_id = _new_set(client, owner)
        response = client.post(
            f"/structure-sets/{set_id}/structures",
            content=_mutate(rng, content),
            params={"format": fmt},
            headers=owner,
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (201, 413, 422), (case, fmt, response.text[:300])
        if response.status_code != 201:
            _assert_refused(response)
            assert client.get(f"/structure-sets/{set_id}").json()["n_structures"] == 0
    assert statuses.get(201, 0) > 0, statuses
    assert statuses.get(422, 0) > 0, statuses


# --- a live API: memory and /health while hostile parses run ---------------------------


@dataclass
class LiveApi:
    url: str
    process: subprocess.Popen[bytes]
    headers: dict[str, str]
    timings: list[tuple[str, int, float, int, int]] = field(default_factory=list)


def _peak_rss_kib(pid: int) -> int:
    """``VmHWM`` (peak resident memory) of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def live_api(engine: Engine, bootstrapped: None) -> Iterator[LiveApi]:
    """A real uvicorn API with small parse limits: 3 s and 256 MiB per parse."""
    with Session(engine) as session:
        token = users.ensure_user_with_token(
            session, name=f"hostile-{uuid.uuid4().hex[:6]}", role=Role.SUBMITTER
        ).token
        session.commit()
    env = {"MLIPM_PARSE_TIMEOUT_S": "3", "MLIPM_PARSE_MEMORY_MB": "256"}
    url, process = _serve_api(Path(tempfile.mkdtemp(prefix="mlipm-hostile-")), env)
    try:
        yield LiveApi(url, process, {"Authorization": f"Bearer {token}"})
    finally:
        _stop(process)


class _HealthProbe(threading.Thread):
    """Calls /health every 0.1 s until stopped; records each call's status and latency."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.calls: list[tuple[int, float]] = []

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    status = http.get(f"{self.url}/health").status_code
                except httpx.HTTPError:
                    status = 0
                self.calls.append((status, time.monotonic() - started))
                self.stop.wait(0.1)


def _big_info_json(n: int) -> bytes:
    """A one-atom ASE JSON whose info holds an n-element array: parsing it needs ~3 x 8n bytes."""
    flat = ",".join("0" for _ in range(n))
    return (
        '{"numbers": [29], "positions": [[0, 0, 0]], "info": {"big": '
        f'{{"__ndarray__": [[{n}], "float64", [{flat}]]}}}}}}'
    ).encode()


def _slow_extxyz(n_structures: int) -> bytes:
    """Many valid, distinct structures: checking them takes well over 3 s."""
    rng = random.Random(3)
    images = []
    for _ in range(n_structures):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
        atoms.rattle(0.05, seed=rng.randrange(10**6))
        images.append(atoms)
    buffer = io.StringIO()
    write(buffer, images, format="extxyz")
    return buffer.getvalue().encode()


def test_live_api_stays_small_and_healthy_during_hostile_parses(live_api: LiveApi) -> None:
    http = httpx.Client(base_url=live_api.url, headers=live_api.headers, timeout=120)
    body = {"name": f"live-hostile-{uuid.uuid4().hex[:8]}", "description": "tests"}
    set_id = http.post("/structure-sets", json=body).json()["id"]
    upload = f"/structure-sets/{set_id}/structures"
    warm = http.post(upload, params={"format": "json"}, content=_valid_files()[3][1])
    assert warm.status_code == 201, warm.text  # starts the parse forkserver
    cases = [
        (name, fmt, content) for name, fmt, content in HOSTILE_STRUCTURES if len(content) < 2**20
    ]
    cases += [
        ("json 8e6-element info (memory)", "json", _big_info_json(8_000_000)),
        ("extxyz 1999 structures (time)", "extxyz", _slow_extxyz(1999)),
    ]
    probe = _HealthProbe(live_api.url)
    probe.start()
    try:
        for name, fmt, content in cases:
            before = _peak_rss_kib(live_api.process.pid)
            started = time.monotonic()
            response = http.post(upload, params={"format": fmt}, content=content)
            elapsed = time.monotonic() - started
            after = _peak_rss_kib(live_api.process.pid)
            live_api.timings.append((name, response.status_code, elapsed, before, after))
            _assert_refused(response)
    finally:
        probe.stop.set()
        probe.join(60)
    for name, status, elapsed, before, after in live_api.timings:
        print(f"{name:40s} {status} {elapsed:6.2f} s  peak RSS {before} -> {after} KiB")
    print(f"/health: {len(probe.calls)} calls, slowest {max(t for _, t in probe.calls):.3f} s")
    assert http.get(f"/structure-sets/{set_id}").json()["n_structures"] == 1  # the warm-up
    assert probe.calls
    assert all(status == 200 for status, _ in probe.calls), probe.calls
    peaks = [after for *_, after in live_api.timings]
    # the parses ran in children: the API's own peak grew by far less than one parse's memory
    assert max(peaks) - live_api.timings[0][3] < 128 * 1024, live_api.timings


def test_card_parsing_bounds_hold_in_the_live_api(live_api: LiveApi) -> None:
    http = httpx.Client(base_url=live_api.url, headers=live_api.headers, timeout=120)
    before = _peak_rss_kib(live_api.process.pid)
    for name, media, body in HOSTILE_CARDS:
        started = time.monotonic()
        response = http.post("/models", content=body, headers={"Content-Type": media})
        print(f"card {name:30s} {response.status_code} {time.monotonic() - started:6.2f} s")
        assert response.status_code in (413, 422), (name, response.text[:300])
        json.loads(response.text)["error"]["request_id"]  # the error shape
    assert _peak_rss_kib(live_api.process.pid) - before < 128 * 1024
    assert http.get("/health").status_code == 200
