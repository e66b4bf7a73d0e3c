"""Failure taxonomy shared by adapters, benchmarks and the task layer.

Mirrors ASE's split between ``CalculatorSetupError`` (before a run) and
``CalculationFailed`` (during it). Pure: imports nothing beyond the standard library.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class FailureClass(StrEnum):
    """Why a run did not produce a result. A timeout is never a scientific failure."""

    NAN_OR_INF = "nan_or_inf"
    EXCEPTION = "exception"
    ATOMS_TOO_CLOSE = "atoms_too_close"
    TEMPERATURE_RUNAWAY = "temperature_runaway"
    CELL_COLLAPSE = "cell_collapse"
    NO_CONVERGENCE = "no_convergence"
    # imaginary phonon modes of a crystal that is stable in reality
    DYNAMICALLY_UNSTABLE = "dynamically_unstable"
    # the model exerts no force between the atoms (e.g. every neighbour beyond its cutoff)
    NO_INTERACTION = "no_interaction"
    # the model has no per-atom embedding to read (classical potentials): the run is skipped
    NO_REPRESENTATION = "no_representation"
    TIMEOUT = "timeout"
    UNSUPPORTED_ELEMENTS = "unsupported_elements"
    SETUP_ERROR = "setup_error"
    CANCELLED = "cancelled"
    # Refused before running: the platform's state, never the model's behaviour.
    MODEL_NOT_APPROVED = "model_not_approved"
    MODEL_CHANGED = "model_changed"
    ENVIRONMENT_MISMATCH = "environment_mismatch"
    # The infrastructure, after the attempts it was given (MLIPM_RUN_MAX_ATTEMPTS).
    WORKER_LOST = "worker_lost"
    WORKER_STALLED = "worker_stalled"


class BenchmarkError(Exception):
    """Base of the errors a benchmark or adapter raises on purpose."""

    failure_class: FailureClass = FailureClass.EXCEPTION

    def __init__(
        self,
        message: str,
        *,
        failure_class: FailureClass | None = None,
        series: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(message)
        if failure_class is not None:
            self.failure_class = failure_class
        # Curves computed before the failure (e.g. an E(V) scan whose minimum lies outside the
        # sampled range) are kept so that the failure can be inspected, not just counted.
        self.series = series


class BenchmarkSetupError(BenchmarkError):
    """Permanent problem before any science ran: bad structure, package or weights missing."""

    failure_class = FailureClass.SETUP_ERROR


class UnsupportedElementsError(BenchmarkSetupError):
    """The model does not cover every element of the structure: the run is skipped, not failed."""

    failure_class = FailureClass.UNSUPPORTED_ELEMENTS


class NoRepresentationError(UnsupportedElementsError):
    """The model exposes no latent representation (EMT, LJ, Morse): the ``representation``
    benchmark does not apply to it, so the run is skipped, not failed."""

    failure_class = FailureClass.NO_REPRESENTATION


class BenchmarkFailed(BenchmarkError):
    """The simulation ran and the model failed it (NaN, no convergence, explosion): a result."""

    failure_class = FailureClass.NO_CONVERGENCE


class RunCancelled(BenchmarkError):
    """Raised by an observer when the run's campaign was cancelled: stop at the next step."""

    failure_class = FailureClass.CANCELLED
