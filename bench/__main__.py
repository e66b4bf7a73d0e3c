"""Run every performance harness with one command: ``python -m bench`` (``make bench``).

Each harness runs in its own process (they start private servers and switch databases), prints
its figures and writes them to JSON. The default sizes are quick (a few minutes in all) and
write to ``bench/results/quick/``; ``--full`` runs the sizes docs/performance.md publishes and
writes to ``bench/results/``. One harness with its own options::

    python -m bench                      # every harness, quick sizes
    python -m bench --full               # every harness, published sizes
    python -m bench --only campaign,write_path
    python -m bench campaign --workers 1,2 --out bench/results/campaign.json
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path("bench/results")

# harness -> (quick arguments, full arguments); "{out}" is the JSON file it writes.
HARNESSES: dict[str, tuple[list[str], list[str]]] = {
    "campaign": (
        ["--quick", "--workers", "1,2", "--out", "{out}"],
        ["--workers", "1,2", "--out", "{out}"],
    ),
    "write_path": (
        ["--quick", "--out", "{out}"],
        ["--runs", "2000", "--metrics", "20,100", "--writers", "1,2", "--out", "{out}"],
    ),
    "model_path": (
        ["--models", "EMT", "CHGNet-0.3.0", "--cells", "Cu-64", "--out", "{out}"],
        ["--out", "{out}"],
    ),
    "read_path": (
        ["--models", "50", "--runs", "10000", "--requests", "300", "--out", "{out}"],
        ["--out", "{out}"],
    ),
    "dashboard": (
        ["--models", "20", "--repeat", "1", "--out", "{out}"],
        ["--models", "200", "--benchmarks", "12", "--repeat", "3", "--out", "{out}"],
    ),
    "slow_clients": (
        ["--sockets", "64", "--requests", "5", "--out", "{out}"],
        ["--sockets", "600", "--requests", "20", "--out", "{out}"],
    ),
    "bare_ase": (
        ["--limit", "5", "--repeats", "2", "--out", "{out}"],
        ["--end-to-end", "--out", "{out}"],
    ),
    "frames": (
        ["--repeats", "3", "--loops", "10", "--out", "{out}"],
        ["--out", "{out}"],
    ),
    "suite_campaign": (
        ["--budget-min", "2", "--no-mlips", "--out", "{out}"],
        ["--out", "{out}"],
    ),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HARNESSES:
        return _run(argv[0], argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the published sizes (slow)")
    parser.add_argument("--only", default="", help="comma-separated harnesses to run")
    args = parser.parse_args(argv)
    names = [n for n in (args.only.split(",") if args.only else HARNESSES) if n]
    unknown = sorted(set(names) - set(HARNESSES))
    if unknown:
        parser.error(f"unknown harness(es) {unknown}; known: {sorted(HARNESSES)}")
    out_dir = RESULTS if args.full else RESULTS / "quick"
    out_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    for name in names:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"== {name}: no such harness here, skipped", flush=True)
            continue
        quick, full = HARNESSES[name]
        out = str(out_dir / f"{name}.json")
        if _run(name, [a.replace("{out}", out) for a in (full if args.full else quick)]):
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run(name: str, args: list[str]) -> int:
    print(f"== {name}: python -m bench.{name} {' '.join(args)}", flush=True)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", f"bench.{name}", *args])
    print(f"== {name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
