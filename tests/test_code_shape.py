"""Code shape: no function outside migrations and tests is longer than 80 lines, and no module
anywhere (migrations, tests and bench included) is longer than 500.

A function's length runs from its ``def`` line to the last line of its body (decorators not
counted); nested functions count in their parent and are checked on their own as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backend", "workers", "frontend", "bench")
EXCLUDED = {"migrations", "tests"}
MAX_LINES = 80
#: Every module, wherever it is: past this, split it by concern.
MAX_MODULE_LINES = 500
MODULE_DIRS = (*PACKAGES, "shared_kernel", "migrations", "tests")


def long_functions(root: Path, *, max_lines: int = MAX_LINES) -> list[str]:
    """``path:line name (n lines)`` for each function under ``root``'s packages longer than
    ``max_lines``."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if EXCLUDED & set(path.relative_to(root).parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert node.end_lineno is not None
                    n_lines = node.end_lineno - node.lineno + 1
                    if n_lines > max_lines:
                        where = f"{path.relative_to(root)}:{node.lineno}"
                        found.append(f"{where} {node.name} ({n_lines} lines)")
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    assert long_functions(ROOT) == []


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "workers").mkdir()
    (tmp_path / "workers" / "long.py").write_text(f"@decorator\ndef f():\n{body}")
    (tmp_path / "workers" / "migrations").mkdir()
    (tmp_path / "workers" / "migrations" / "skipped.py").write_text(f"def g():\n{body}")
    assert long_functions(tmp_path) == ["workers/long.py:2 f (81 lines)"]
    assert long_functions(tmp_path, max_lines=81) == []


def long_modules(root: Path, *, max_lines: int = MAX_MODULE_LINES) -> list[str]:
    """``path (n lines)`` for each module under ``root``'s directories longer than
    ``max_lines``."""
    found = []
    for directory in MODULE_DIRS:
        for path in sorted((root / directory).rglob("*.py")):
            n_lines = len(path.read_text().splitlines())
            if n_lines > max_lines:
                found.append(f"{path.relative_to(root)} ({n_lines} lines)")
    return found


def test_no_module_is_longer_than_500_lines() -> None:
    assert long_modules(ROOT) == []


def test_the_check_sees_a_long_module_in_migrations_too(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "migrations" / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert long_modules(tmp_path) == ["migrations/long.py (501 lines)"]
