"""What a ``speed`` timing was measured on: the machine, the calculator's device and the
process's peak memory. Nothing heavy is imported here (torch is only read if already loaded)."""

from __future__ import annotations

import os
import platform
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

from ase.calculators.calculator import Calculator


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    """The machine a timing was measured on.

    CPU model (``/proc/cpuinfo``, else ``platform``), logical CPUs and those this process may
    use (affinity), Python, the calculator's ``device`` attribute if any, and torch's version,
    threads and CUDA device if the calculator already imported torch (it is never imported
    here: that alone would add hundreds of MB to the process being measured).
    """

    processor: str
    cpu_count: int
    usable_cpus: int
    python: str
    calculator_device: str | None
    torch: str | None


def peak_rss_mib() -> float:
    """Resident-set high-water mark of this process (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def hardware_info(calc: Calculator) -> HardwareInfo:
    """Describe this machine and the calculator's device, importing nothing heavy."""
    torch = sys.modules.get("torch")
    torch_text = None
    if torch is not None:
        cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA"
        torch_text = f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cuda}"
    device, cpus = getattr(calc, "device", None), os.cpu_count() or 1
    return HardwareInfo(
        processor=_cpu_model(),
        cpu_count=cpus,
        usable_cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        calculator_device=None if device is None else str(device),
        torch=torch_text,
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or platform.machine()
