"""Code shape: no function outside migrations and tests is longer than 80 lines.

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
