"""Control model families that fail in known ways, registered through the plugin entry point.

- ``nan_model``: EMT whose energy turns NaN after ``params["after_calls"]`` calls;
- ``raising_model``: raises RuntimeError on every call;
- ``nul_raising_model``: raises RuntimeError whose message holds a NUL character (which
  Postgres text cannot store);
- ``hanging_model``: never returns (sleeps), to exercise time limits;
- ``stubborn_model``: never returns and swallows every exception, the soft time limit's
  included, so only the hard time limit stops it;
- ``slow_emt``: EMT that sleeps ``params["sleep_s"]`` per call, so a run lasts long enough to be
  interrupted at a chosen point.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from workers.adapters.registry import ModelSpec, register

EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"})


def _emt_elements(spec: ModelSpec) -> frozenset[str]:
    return EMT_ELEMENTS


class _Faulty(EMT):
    def __init__(self, mode: str, params: dict[str, Any]) -> None:
        super().__init__()
        self.mode, self.options, self.calls = mode, params, 0

    def calculate(
        self,
        atoms: Any = None,
        properties: Any = None,
        system_changes: Any = all_changes,
    ) -> None:
        self.calls += 1
        if self.mode == "raise":
            raise RuntimeError("raising_model always raises")
        if self.mode == "nul":
            raise RuntimeError("nul_raising_model says \x00 here")
        if self.mode == "hang":
            time.sleep(10_000)
        while self.mode == "stubborn":
            # ignoring the soft time limit (or any exception) is this control's defect
            with contextlib.suppress(BaseException):
                time.sleep(10_000)
        if self.mode == "slow":
            time.sleep(float(self.options.get("sleep_s", 0.5)))
        super().calculate(atoms, properties or ["energy"], system_changes)
        if self.mode == "nan" and self.calls > int(self.options.get("after_calls", 3)):
            self.results["energy"] = float("nan")


def _factory(mode: str) -> Callable[[ModelSpec], Calculator]:
    def make(spec: ModelSpec) -> Calculator:
        return _Faulty(mode, dict(spec.params))

    return make


for _family, _mode in (
    ("nan_model", "nan"),
    ("raising_model", "raise"),
    ("nul_raising_model", "nul"),
    ("hanging_model", "hang"),
    ("stubborn_model", "stubborn"),
    ("slow_emt", "slow"),
):
    register(
        _family,
        supported_elements=_emt_elements,
        provides_stress=True,
        description=f"control model: {_mode}",
    )(_factory(_mode))
