"""Run an upload parser in a child process with limits on memory and time.

A parser is handed hostile files (a 150-byte extxyz header can ask for millions of columns, a
130-byte ASE JSON for gigabytes of strings). Run in the API process, such a file grows it and
holds the GIL until ``/health`` stops answering. Here every parse runs in a fresh child forked
from a ``forkserver`` (which has the parser modules imported once, so a fork costs
milliseconds), whose address space may grow by at most ``memory_mb`` (``RLIMIT_AS``) and which
is killed after ``timeout_s``; the calling thread only waits on a pipe. Out of memory and out of
time are both ``PayloadTooLarge`` (413); what the parser raises is raised here unchanged.

The parser and its arguments cross the process boundary by pickle, so a parser must be a
module-level function. The forkserver is one per process (``multiprocessing``'s own); its
preloaded modules are fixed by the first call.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from shared_kernel.errors import DomainError, InvalidInput, PayloadTooLarge

log = logging.getLogger(__name__)
MIB = 1024 * 1024
_T = TypeVar("_T")
_CONTEXT = multiprocessing.get_context("forkserver")
_gate_lock = threading.Lock()
_gates: dict[int, threading.BoundedSemaphore] = {}
_preloaded = False


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one parse may use: ``memory_mb`` more address space (MiB), ``timeout_s`` seconds."""

    memory_mb: float
    timeout_s: float
    max_concurrent: int = 2
    #: how the limits are set, named in the 413 message (settings names)
    memory_setting: str = "MLIPM_PARSE_MEMORY_MB"
    timeout_setting: str = "MLIPM_PARSE_TIMEOUT_S"


def run_bounded(
    fn: Callable[..., _T],
    *args: Any,
    limits: ParseLimits,
    preload: Sequence[str] = (),
    what: str = "the file",
) -> _T:
    """``fn(*args)`` in a child process under ``limits``; its result, or what it raised.

    ``preload`` names modules the forkserver imports once (the parser's heavy imports), so
    that a child does not import them again; it only counts on the first call in a process.
    """
    _start_forkserver(preload)
    with _gate(limits.max_concurrent):
        return _run_child(fn, args, limits=limits, what=what)


def warm_up(preload: Sequence[str]) -> float:
    """Start the forkserver with ``preload`` imported, and fork one child from it, now rather
    than at the first upload (about 5 s of importing ASE on 2 cores); the seconds it took."""
    started = time.monotonic()
    run_bounded(
        _nothing,
        limits=ParseLimits(memory_mb=256, timeout_s=300, max_concurrent=1),
        preload=preload,
        what="the parser warm-up",
    )
    return time.monotonic() - started


def _nothing() -> None:
    return None


def _start_forkserver(preload: Sequence[str]) -> None:
    global _preloaded
    with _gate_lock:
        if not _preloaded:
            _CONTEXT.set_forkserver_preload(list(preload))
            _preloaded = True


def _gate(max_concurrent: int) -> threading.BoundedSemaphore:
    with _gate_lock:
        return _gates.setdefault(max_concurrent, threading.BoundedSemaphore(max_concurrent))


def _run_child(
    fn: Callable[..., _T], args: tuple[Any, ...], *, limits: ParseLimits, what: str
) -> _T:
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    memory_bytes = int(limits.memory_mb * MIB)
    process = _CONTEXT.Process(
        target=_child_main,
        args=(sender, fn, args, memory_bytes, limits.timeout_s),
        name="mlipm-parse",
        daemon=True,
    )
    try:
        process.start()
        sender.close()
        if not receiver.poll(limits.timeout_s):
            raise PayloadTooLarge(
                f"{what} could not be read within {limits.timeout_s:g} s (setting "
                f"{limits.timeout_setting})",
                where="body",
            )
        try:
            status, payload = receiver.recv()
        except (EOFError, OSError):  # killed by the kernel or died: out of memory
            raise _out_of_memory(limits, what) from None
    finally:
        receiver.close()
        if process.pid is not None:  # started
            if process.is_alive():
                process.kill()
            process.join(5)
    if status == "ok":
        return payload
    if status == "memory":
        raise _out_of_memory(limits, what)
    if status == "nested":
        raise InvalidInput(f"{what} is nested too deeply", where="body")
    if status == "failed":
        log.warning("parsing %s failed unexpectedly: %s", what, payload)
        raise InvalidInput(f"cannot read {what}: {payload}", where="body")
    raise payload


def _out_of_memory(limits: ParseLimits, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"reading {what} needs more than {limits.memory_mb:g} MiB of memory (setting "
        f"{limits.memory_setting})",
        where="body",
    )


def _child_main(
    sender: Connection,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    memory_bytes: int,
    timeout_s: float,
) -> None:
    """In the child: limit memory, core dumps and CPU time, call ``fn``, send the outcome."""
    # RLIMIT_AS bounds growth beyond what the forkserver's imports already mapped.
    ceiling = _address_space_bytes() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu_s = int(timeout_s) + 5  # a child whose parent died still ends
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", fn(*args))
    except MemoryError:
        outcome = ("memory", None)
    except RecursionError:
        outcome = ("nested", None)
    except DomainError as exc:
        outcome = ("raised", exc)
    except Exception as exc:  # sent as text: its class may live in a module the API never loads
        outcome = ("failed", f"{type(exc).__name__}: {exc}"[:300])
    try:
        sender.send(outcome)
    except MemoryError:
        sender.send(("memory", None))
    except Exception as exc:  # an exception or result that does not pickle
        sender.send(("raised", InvalidInput(f"cannot read the file: {exc}", where="body")))
    finally:
        sender.close()
        os._exit(0)  # skip interpreter teardown: the parent has its answer


def _address_space_bytes() -> int:
    """This process's virtual memory size (``VmSize``), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
