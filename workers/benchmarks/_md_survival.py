"""Outcomes of the ``md_stability`` trajectories and what they add up to: survival curves
(Kaplan-Meier, a timeout censored), failure counts per class, and the failure flags."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workers.benchmarks._md import COMPLETED, TIMEOUT, kaplan_meier
from workers.benchmarks.base import FrameSet, MetricValue, SeriesData, finite

PROTOCOLS = ("nvt_ramp", "npt_compression")


@dataclass(frozen=True, slots=True)
class TrajectoryOutcome:
    """How one trajectory ended (``completed``, ``timeout`` or a failure class) and when.

    ``ramp_value`` is the target temperature (K) or pressure (GPa) reached at ``time_ps``.
    """

    protocol: str
    seed: int
    status: str
    time_ps: float
    ramp_value: float
    message: str

    @property
    def failed(self) -> bool:
        """True for a failure of the model; a timeout is not one."""
        return self.status not in (COMPLETED, TIMEOUT)


@dataclass(frozen=True, slots=True)
class MdStabilityResult:
    """Per-trajectory outcomes, their survival curves and the traces of the first seed.

    Parameters
    ----------
    outcomes
        One per (protocol, seed).
    durations_ps
        Full duration of each protocol, in the order of ``PROTOCOLS`` (ps).
    n_atoms
        Atoms in the simulated supercell.
    bulk_modulus_gpa
        The model's bulk modulus that set the barostat (GPa, clamped).
    traces
        First seed: temperature (K) against time (ps) during the ramp; volume per atom
        (Å³/atom) against target pressure (GPa) during the compression.
    frame_sets
        First seed: each protocol's subsampled trajectory (``<protocol>_trajectory``), ending
        with the state in which it stopped (the failing step of a failed trajectory).
    """

    outcomes: tuple[TrajectoryOutcome, ...]
    durations_ps: tuple[float, float]
    n_atoms: int
    bulk_modulus_gpa: float
    traces: tuple[SeriesData, ...]
    frame_sets: tuple[FrameSet, ...] = field(default=(), compare=False, repr=False)

    def metrics(self) -> tuple[MetricValue, ...]:
        """Per protocol: survival fraction, counts, mean time and ramp value reached; flags."""
        metrics = [m for protocol in PROTOCOLS for m in self._protocol_metrics(protocol)]
        timed_out = any(o.status == TIMEOUT for o in self.outcomes)
        metrics.append(MetricValue("flag_md_failure", float(self._failures() > 0), "1"))
        metrics.append(MetricValue("flag_timeout", float(timed_out), "1"))
        return finite(*metrics)

    def series(self) -> tuple[SeriesData, ...]:
        """Kaplan-Meier survival curve of each protocol, then the first seed's traces."""
        curves = []
        for protocol in PROTOCOLS:
            x, y, _ = self._survival(protocol)
            curves.append(
                SeriesData(f"{protocol}_survival", x, y, "time", "ps", "fraction alive", "1")
            )
        return (*curves, *self.traces)

    def frames(self) -> tuple[FrameSet, ...]:
        """The first seed's trajectory of each protocol."""
        return self.frame_sets

    def _survival(self, protocol: str) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        runs = [o for o in self.outcomes if o.protocol == protocol]
        duration = self.durations_ps[PROTOCOLS.index(protocol)]
        return kaplan_meier([o.time_ps for o in runs], [o.failed for o in runs], duration)

    def _failures(self, protocol: str | None = None) -> int:
        return sum(o.failed for o in self.outcomes if protocol in (None, o.protocol))

    def _protocol_metrics(self, protocol: str) -> list[MetricValue]:
        runs = [o for o in self.outcomes if o.protocol == protocol]
        statuses = [o.status for o in runs]
        metrics = [
            MetricValue(f"{protocol}_survival_fraction", self._survival(protocol)[2], "1"),
            MetricValue(f"{protocol}_n_failed", float(self._failures(protocol)), "1"),
            MetricValue(f"{protocol}_n_timeout", float(statuses.count(TIMEOUT)), "1"),
        ]
        metrics += [
            MetricValue(f"{protocol}_n_{status}", float(statuses.count(status)), "1")
            for status in sorted(set(statuses) - {COMPLETED, TIMEOUT})
        ]
        ran = [o for o in runs if o.status != TIMEOUT]
        if ran:  # a timeout says nothing about stability: it is left out of the means
            name, unit = ("temperature", "K") if protocol == "nvt_ramp" else ("pressure", "GPa")
            mean_time = float(np.mean([o.time_ps for o in ran]))
            mean_value = float(np.mean([o.ramp_value for o in ran]))
            metrics.append(MetricValue(f"{protocol}_mean_survival_time", mean_time, "ps"))
            metrics.append(MetricValue(f"{protocol}_mean_{name}_reached", mean_value, unit))
        return metrics
