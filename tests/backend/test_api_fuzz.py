"""Hostile and malformed structure files through the API: only 4xx, nothing stored, app alive.

Hand-written hostile files (billions of atoms declared, absurd cells, deep nesting, huge
numbers) plus hypothesis-generated junk, truncations and number mutations of valid files of
every format (bounded example counts, no example database). The app runs in the test process,
so a hang, a crash or a memory blow-up in a parser fails the test run itself.
"""

from __future__ import annotations

import io
import uuid

import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import write
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users
from workers.atoms_json import atoms_to_json

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _write(images: Atoms | list[Atoms], fmt: str) -> bytes:
    buffer: io.BytesIO | io.StringIO = io.BytesIO() if fmt == "cif" else io.StringIO()
    write(buffer, images, format=fmt)
    value = buffer.getvalue()
    return value if isinstance(value, bytes) else value.encode()


NACL = bulk("NaCl", "rocksalt", a=5.64)
VALID = {
    "extxyz": _write([bulk("Cu", "fcc", a=3.61), molecule("H2O")], "extxyz"),
    "cif": _write(NACL, "cif"),
    "poscar": _write(NACL, "vasp"),
    "json": atoms_to_json(NACL).encode(),
}
CIF_CELL = (
    "data_x\n_cell_length_a {a}\n_cell_length_b 3\n_cell_length_c 3\n_cell_angle_alpha {alpha}\n"
    "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
    "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nCu1 Cu 0 0 0\n"
)
HOSTILE = {
    "xyz declares 10^9 atoms": ("extxyz", b"1000000000\n\nCu 0 0 0\n"),
    "xyz declares 10^30 atoms": ("extxyz", b"1" + b"0" * 30 + b"\n\nCu 0 0 0\n"),
    "xyz negative count": ("extxyz", b"-3\n\nCu 0 0 0\n"),
    "xyz huge coordinate": ("extxyz", b"1\n\nCu 1e308 1e308 1e308\n"),
    "xyz overflowing coordinate": ("extxyz", b"1\n\nCu 1e999 0 0\n"),
    "xyz 5000-digit number": ("extxyz", b"1\n\nCu " + b"9" * 5000 + b" 0 0\n"),
    "xyz absurd lattice": (
        "extxyz",
        b'1\nLattice="1e300 0 0 0 1e300 0 0 0 1e300" pbc="T T T"\nCu 0 0 0\n',
    ),
    "xyz needle cell": (
        "extxyz",
        b'1\nLattice="1e-9 0 0 0 5 0 0 0 5" pbc="T T T"\nCu 0 0 0\n',
    ),
    "poscar declares 10^9 atoms": (
        "poscar",
        b"Cu\n1.0\n3 0 0\n0 3 0\n0 0 3\nCu\n1000000000\nDirect\n0 0 0\n",
    ),
    "poscar zero scale": ("poscar", b"Cu\n0.0\n3 0 0\n0 3 0\n0 0 3\nCu\n1\nDirect\n0 0 0\n"),
    "poscar no counts": ("poscar", b"Cu\n1.0\n3 0 0\n0 3 0\n0 0 3\n"),
    "cif infinite cell": ("cif", CIF_CELL.format(a="1e400", alpha=90).encode()),
    "cif zero angle": ("cif", CIF_CELL.format(a=3, alpha=0).encode()),
    "cif flat angle": ("cif", CIF_CELL.format(a=3, alpha=180).encode()),
    "cif huge cell": ("cif", CIF_CELL.format(a="1e200", alpha=90).encode()),
    "cif no atoms": ("cif", b"data_x\n_cell_length_a 3\n"),
    "json nested 10^5 deep": ("json", b"[" * 100_000 + b"]" * 100_000),
    "json nested objects": ("json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    "json huge integer": ("json", b'{"numbers": [' + b"9" * 5000 + b'], "positions": [[0,0,0]]}'),
    "json numbers without positions": ("json", b'{"numbers": [29]}'),
    "json ndarray bomb": (
        "json",
        b'{"numbers": {"__ndarray__": [[1000000000], "int64", []]}, "positions": [[0,0,0]]}',
    ),
    "json not atoms": ("json", b'"just a string"'),
    "binary junk": ("extxyz", bytes(range(256)) * 4),
    "utf-16 text": ("extxyz", "1\n\nCu 0 0 0\n".encode("utf-16")),
}


@pytest.fixture
def owner(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        db_session, name=f"fuzz-{uuid.uuid4().hex[:6]}", role=Role.SUBMITTER
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def set_id(client: TestClient, owner: dict[str, str]) -> str:
    response = client.post(
        "/structure-sets", json={"name": f"fuzz-{uuid.uuid4().hex}"}, headers=owner
    )
    return str(response.json()["id"])


def _count(client: TestClient, set_id: str) -> int:
    return int(client.get(f"/structure-sets/{set_id}").json()["n_structures"])


def _send(client: TestClient, set_id: str, owner: dict[str, str], fmt: str, content: bytes) -> int:
    """Upload; any answer but 201 must be a 4xx in the one error shape that stored nothing."""
    before = _count(client, set_id)
    response = client.post(
        f"/structure-sets/{set_id}/structures",
        content=content,
        params={"format": fmt},
        headers=owner,
    )
    status = response.status_code
    assert status == 201 or 400 <= status < 500, (status, response.text[:300])
    if status != 201:
        assert response.json()["error"]["message"]
        assert _count(client, set_id) == before
    return status


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_with_a_4xx(
    client: TestClient, owner: dict[str, str], set_id: str, name: str
) -> None:
    fmt, content = HOSTILE[name]
    assert _send(client, set_id, owner, fmt, content) in (413, 422)
    assert client.get("/health").status_code == 200


@FUZZ
@given(fmt=st.sampled_from(sorted(VALID)), junk=st.binary(min_size=1, max_size=3000))
def test_random_bytes_never_get_a_5xx(
    client: TestClient, owner: dict[str, str], set_id: str, fmt: str, junk: bytes
) -> None:
    assert _send(client, set_id, owner, fmt, junk) < 500
    assert client.get("/health").status_code == 200


@FUZZ
@given(fmt=st.sampled_from(sorted(VALID)), cut=st.floats(0.0, 1.0))
def test_truncated_files_never_get_a_5xx(
    client: TestClient, owner: dict[str, str], set_id: str, fmt: str, cut: float
) -> None:
    content = VALID[fmt]
    assert _send(client, set_id, owner, fmt, content[: int(len(content) * cut)]) < 500
    assert client.get("/health").status_code == 200


NUMBERS = st.sampled_from(
    [b"1e999", b"-1e999", b"nan", b"inf", b"9" * 400, b"0", b"-0", b"1e-320", b"1e308", b"1e5"]
)


@FUZZ
@given(fmt=st.sampled_from(sorted(VALID)), data=st.data(), replacement=NUMBERS)
def test_numbers_replaced_by_absurd_ones_never_get_a_5xx(
    client: TestClient,
    owner: dict[str, str],
    set_id: str,
    fmt: str,
    data: st.DataObject,
    replacement: bytes,
) -> None:
    tokens = VALID[fmt].split(b" ")
    numeric = [
        i
        for i, t in enumerate(tokens)
        if t.strip(b"\n,[]").replace(b".", b"").lstrip(b"-").isdigit()
    ]
    index = data.draw(st.sampled_from(numeric))
    tail = b"\n" if tokens[index].endswith(b"\n") else b""
    tokens[index] = replacement + tail
    assert _send(client, set_id, owner, fmt, b" ".join(tokens)) < 500
    assert client.get("/health").status_code == 200
