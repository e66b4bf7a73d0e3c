"""A model whose cutoff is shorter than a crystal's nearest-neighbour distance exerts no force
there: phonons and elastic fail as ``no_interaction``, naming the distance, instead of
crashing in phonopy (a zero-width DOS) or numpy (inverting a zero elastic tensor) as a generic
``exception`` (the solids campaign saw it on bcc Cs, 5.24 Å apart, with SevenNet-0 and DIEP)."""

from __future__ import annotations

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks.base import get_benchmark

#: fcc Cu's neighbours are 2.55 Å apart; this Lennard-Jones stops at 2.0 Å.
SHORT_SIGHTED = {"sigma": 1.0, "epsilon": 0.1, "rc": 2.0}


@pytest.mark.parametrize("key", ["phonons", "elastic"])
def test_a_model_that_sees_no_neighbour_fails_as_no_interaction(key: str) -> None:
    benchmark = get_benchmark(key)
    with pytest.raises(BenchmarkFailed, match=r"2\.55 Å apart") as failed:
        benchmark.func(
            bulk("Cu", "fcc", a=3.61), LennardJones(**SHORT_SIGHTED), benchmark.make_params()
        )
    assert failed.value.failure_class == FailureClass.NO_INTERACTION


@pytest.mark.parametrize("key", ["phonons", "elastic"])
def test_a_model_that_sees_its_neighbours_passes_the_check(key: str) -> None:
    benchmark = get_benchmark(key)
    result = benchmark.func(bulk("Cu", "fcc", a=3.61), EMT(), benchmark.make_params())
    assert result.metrics()


@pytest.mark.mlip
def test_sevennet_on_bcc_cesium_beyond_its_cutoff() -> None:
    pytest.importorskip("sevenn")
    from workers.adapters.pretrained import pretrained_models
    from workers.adapters.registry import load_all, make_calculator

    load_all()
    [record] = [m for m in pretrained_models() if m.name == "SevenNet-0"]
    calc = make_calculator(record.spec())
    benchmark = get_benchmark("phonons")
    cesium = bulk("Cs", "bcc", a=6.05)  # neighbours 5.24 Å apart; SevenNet-0's cutoff is 5 Å
    with pytest.raises(BenchmarkFailed, match=r"5\.24 Å apart") as failed:
        benchmark.func(cesium, calc, benchmark.make_params())
    assert failed.value.failure_class == FailureClass.NO_INTERACTION
