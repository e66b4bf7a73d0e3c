"""How a board ranks models: one definition, used by the API, every page and the exports.

Pure functions over plain numbers (numpy only); docs/metrics.md says the same in words.

- Each benchmark has one **rank metric** (:data:`RANK_SPECS`): a headline metric and the
  per-material *loss* it is ranked on: the absolute error against the reference in the
  metric's unit (``abs_error``), the absolute relative error in percent (``abs_rel_error``)
  or, for physics benchmarks without a reference, the value itself (``value``; lower is
  better unless ``higher_is_better``).
- The board's **materials** are those on which at least one model has a scored result.
- A model's result on a material is *scored* (a finished run, no quality flag, a loss), or
  *penalised*: failed, flagged, skipped, pending or never run. A penalised result counts
  with the worst loss any model scored on that material, so failing, or not running, is
  never better than the worst answer given.
- **score** = mean over the board's materials of the (penalised) loss; the rank orders the
  scores (ties share the smaller rank). Models with nothing scored are not ranked.
- **Uncertainty**: a paired bootstrap over materials (:data:`N_BOOTSTRAP` resamples, a fixed
  seed so a board is reproducible) gives every score and MAE a 95 % percentile interval and
  every rank a 95 % interval; a **tier** is a run of models, in score order, that the leader of
  the tier does not beat in at least 95 % of the resamples: statistically tied models.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

N_BOOTSTRAP = 1000
#: Two-sided confidence of every interval, and of "beats" in the tiers.
CONFIDENCE = 0.95
#: Resamples are drawn from a fixed seed (per number of materials): a board is reproducible.
SEED = 20261203


@dataclass(frozen=True, slots=True)
class RankSpec:
    """The metric a benchmark's boards rank on, and how its per-material loss is taken."""

    metric: str
    loss: str
    higher_is_better: bool = False
    #: The level of theory a board of this benchmark opens on.
    default_level: str = "experiment"

    @property
    def description(self) -> str:
        what = {
            "abs_error": f"absolute error of {self.metric} against the reference, in its unit",
            "abs_rel_error": f"absolute percentage error of {self.metric} against the reference",
            "value": f"{self.metric} itself ({'higher' if self.higher_is_better else 'lower'} "
            "is better)",
        }[self.loss]
        return what


RANK_SPECS: dict[str, RankSpec] = {
    "eos": RankSpec("bulk_modulus", "abs_rel_error"),
    "relax": RankSpec("volume_per_atom", "abs_rel_error"),
    "cohesive": RankSpec("cohesive_energy", "abs_error"),
    "elastic": RankSpec("bulk_modulus", "abs_rel_error"),
    "thermal_expansion": RankSpec("linear_thermal_expansion_coefficient", "abs_rel_error"),
    "s22": RankSpec("interaction_energy", "abs_error", default_level="ccsd(t)/cbs"),
    "diatomics": RankSpec("force_energy_deviation", "value"),
    "nve": RankSpec("energy_drift_abs", "value"),
    "md_stability": RankSpec("nvt_ramp_survival_fraction", "value", higher_is_better=True),
    "speed": RankSpec("time_per_atom_step", "value"),
    "landscape": RankSpec("path_rmse_vs_reference", "value"),
    "phonons": RankSpec("debye_temperature", "abs_rel_error"),
    "representation": RankSpec("strain_resolution", "value", higher_is_better=True),
}


def rank_spec(key: str, first_metric: str | None) -> RankSpec | None:
    """The benchmark's rank spec; a benchmark not listed ranks on its first metric's error."""
    if key in RANK_SPECS:
        return RANK_SPECS[key]
    return RankSpec(first_metric, "abs_error") if first_metric else None


def losses_of(
    spec: RankSpec,
    *,
    values: list[float],
    errors: list[float | None],
    rel_errors: list[float | None],
) -> list[float | None]:
    """The loss of each scored value (aligned lists; lower is better), None where it cannot
    be taken (no reference of the board's level)."""
    if spec.loss == "abs_error":
        return [None if e is None else abs(e) for e in errors]
    if spec.loss == "abs_rel_error":
        return [None if r is None else 100.0 * abs(r) for r in rel_errors]
    return [-v for v in values] if spec.higher_is_better else list(values)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Ranked:
    """One model's place on a board."""

    score: float | None
    score_interval: Interval | None
    rank: int | None
    rank_interval: tuple[int, int] | None
    tier: int | None
    n_penalised: int


@functools.lru_cache(maxsize=64)
def _resample_indices(n_items: int) -> np.ndarray:
    """(N_BOOTSTRAP, n_items) item indices of the bootstrap resamples; the same for every n."""
    rng = np.random.default_rng(SEED + n_items)
    indices = rng.integers(0, n_items, size=(N_BOOTSTRAP, n_items))
    indices.setflags(write=False)
    return indices


@functools.lru_cache(maxsize=64)
def _resample_counts(n_items: int) -> np.ndarray:
    """(N_BOOTSTRAP, n_items) multiplicities of each item in each resample (the resamples of
    :func:`_resample_indices`), as floats for a matrix product."""
    idx = _resample_indices(n_items)
    flat = (np.arange(N_BOOTSTRAP)[:, None] * n_items + idx).ravel()
    counts = np.bincount(flat, minlength=N_BOOTSTRAP * n_items).reshape(N_BOOTSTRAP, n_items)
    counts = counts.astype(float)
    counts.setflags(write=False)
    return counts


def _percentiles(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper 95 % percentiles along the resamples (axis 0), never interpolated."""
    tail = 100 * (1 - CONFIDENCE) / 2
    low = np.percentile(samples, tail, axis=0, method="lower")
    high = np.percentile(samples, 100 - tail, axis=0, method="higher")
    return low, high


def mean_interval(values: list[float]) -> Interval | None:
    """95 % bootstrap percentile interval of the mean of ``values`` (None when empty)."""
    return mean_intervals([values])[0]


def mean_intervals(samples: list[list[float]]) -> list[Interval | None]:
    """:func:`mean_interval` of each list, with one matrix product per list length."""
    out: list[Interval | None] = [None] * len(samples)
    by_length: dict[int, list[int]] = {}
    for i, values in enumerate(samples):
        if values:
            by_length.setdefault(len(values), []).append(i)
    for n, which in by_length.items():
        table = np.array([samples[i] for i in which], dtype=float)  # (k, n)
        means = _resample_counts(n) @ table.T / n  # (N_BOOTSTRAP, k)
        low, high = _percentiles(means)
        for j, i in enumerate(which):
            out[i] = Interval(float(low[j]), float(high[j]))
    return out


def rank_models(losses: dict[str, dict[str, float]]) -> dict[str, Ranked]:
    """Rank models on the materials any of them scored, penalising what they did not score.

    Parameters
    ----------
    losses
        model key -> material -> loss (lower is better) of its scored results only.

    Returns
    -------
    model key -> its score (mean penalised loss), interval, rank, rank interval and tier;
    a model with no scored material is not ranked (``score`` None).
    """
    materials = sorted({m for per in losses.values() for m in per})
    scored = [k for k, per in losses.items() if per]
    unranked = Ranked(None, None, None, None, None, len(materials))
    out = dict.fromkeys((k for k in losses if not losses[k]), unranked)
    if not materials or not scored:
        return out
    table = np.array([[losses[k].get(m, np.nan) for m in materials] for k in scored])
    penalised = np.isnan(table)
    # every material has a scored loss (that is what makes it a board material)
    table = np.where(penalised, np.nanmax(table, axis=0)[None, :], table)
    n = len(materials)
    scores = table.mean(axis=1)
    counts = _resample_counts(n)
    boot = counts @ table.T / n  # (n_boot, n_models)
    low, high = _percentiles(boot)
    rounded = np.round(scores, 12)
    ranks = {k: 1 + int(np.sum(rounded < rounded[i])) for i, k in enumerate(scored)}
    rank_low, rank_high = _percentiles(_min_ranks(np.round(boot, 12)))
    tiers = _tiers(scores, boot)
    for i, k in enumerate(scored):
        out[k] = Ranked(
            score=float(scores[i]),
            score_interval=Interval(float(low[i]), float(high[i])),
            rank=ranks[k],
            rank_interval=(int(rank_low[i]), int(rank_high[i])),
            tier=tiers[i],
            n_penalised=int(penalised[i].sum()),
        )
    return out


def _min_ranks(samples: np.ndarray) -> np.ndarray:
    """Per row, each value's rank: 1 + how many values of its row are smaller (ties share the
    smaller rank), from one sort per row instead of comparing every pair."""
    order = np.argsort(samples, axis=1, kind="stable")
    ordered = np.take_along_axis(samples, order, axis=1)
    position = np.broadcast_to(np.arange(samples.shape[1]), samples.shape)
    starts = np.ones(samples.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    # the position where each run of equal values starts: how many values are smaller
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    ranks = np.empty(samples.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, first + 1, axis=1)
    return ranks


def _tiers(scores: np.ndarray, boot: np.ndarray) -> list[int]:
    """Tier of each model: a new tier starts at the first model its leader beats reliably."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    tiers = [0] * len(scores)
    tier, leader = 0, None
    for i in order:
        if leader is None or np.mean(boot[:, leader] < boot[:, i]) >= CONFIDENCE:
            tier, leader = tier + 1, i
        tiers[i] = tier
    return tiers
