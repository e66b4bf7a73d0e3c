"""The formulas of the dashboard seed (``seed.py``): its materials, models, and what each
model's run on each material gives, fails or flags.

Every number a seeded page shows follows from these functions, so the tests
(``seeded_values.py``) can predict it without the dashboard's own arithmetic.
"""

from __future__ import annotations

from shared_kernel.hashing import model_version_hash

SEED_SET = "dashboard seed metals"
MATERIALS = ("Cu", "Al", "Ag", "Ni", "Pt")
#: The S22 complexes the ``s22`` benchmark runs on instead of the metals (same indices).
S22_MATERIALS = (
    "Ammonia_dimer",
    "Water_dimer",
    "Formic_acid_dimer",
    "Formamide_dimer",
    "Uracil_dimer_h-bonded",
)
S22_LEVEL = "ccsd(t)/cbs"
#: The last N models also ran eos with these parameters (the standard set otherwise).
N_ALT_PROTOCOL_MODELS = 3
ALT_EOS_PARAMS = {"n_points": 7}
#: Model index -> the board metrics its card says it was fitted to.
FITTED_TO = {3: ["bulk_modulus"]}
OPENNESS = ("OSOD", "OSCD", "CSOD", "CSCD")
TRAINING_SETS = ("MPtrj", "OMat24", "Alexandria")
FAILURE_CLASSES = ("nan_or_inf", "atoms_too_close", "temperature_runaway", "no_convergence")
#: A failed phonons run on this metal failed as dynamically unstable (on the others, with one of
#: ``FAILURE_CLASSES``); with six models, model 2's run on Ag.
UNSTABLE_PHONONS_MATERIAL = "Ag"
UNSTABLE = "dynamically_unstable"
#: The frequency (THz) of the lowest band at X of a dynamically unstable run: imaginary.
SOFT_MODE_THZ = -1.0
ELEMENTS_PER_SET = {
    "MPtrj": {"Cu": 5000, "Al": 12000, "Ag": 800, "Ni": 9000, "Pt": 300, "O": 60000},
    "OMat24": {"Cu": 90000, "Al": 150000, "Ag": 40000, "Ni": 120000, "Pt": 30000},
    "Alexandria": {"Cu": 20000, "Al": 25000, "Ag": 9000, "Ni": 18000, "Pt": 7000, "Fe": 30000},
}


# Every seeded model is an EMT with default params: one version hash.
SEEDED_MODEL_HASH = model_version_hash("emt", {}, None, None)


def model_name(index: int) -> str:
    return f"seed-{index:03d}"


def materials_of(key: str) -> tuple[str, ...]:
    """The materials a benchmark's seeded runs are on: S22 complexes for s22, else metals."""
    return S22_MATERIALS if key == "s22" else MATERIALS


def is_flagged(model: int, material: int) -> bool:
    """A succeeded run raises a quality flag (and is then penalised on the boards)."""
    return (model + material) % 5 == 0


def alt_protocol_models(n_models: int) -> range:
    """Indices of the models that also ran eos with ``ALT_EOS_PARAMS``."""
    return range(max(0, n_models - N_ALT_PROTOCOL_MODELS), n_models)


def alt_relative_error(model: int, material: int, metric: int) -> float:
    """(value - reference) / reference of the second eos protocol: other numbers, no failure."""
    return 0.005 * (1 + (3 * model + material + metric) % 4)


def relative_error(model: int, material: int, metric: int, benchmark: int = 0) -> float:
    """(value - reference) / reference of model ``model`` on a material, metric and benchmark
    (indices; benchmarks in key order): each benchmark ranks the models differently. The
    modulus (12) leaves two models tied on the combined score over today's 13 benchmarks
    (``test_equal_combined_scores_are_ranked_by_model_name``) and no two of the openness-
    filtered models tied on eos (``test_csv_export_follows_the_tables_sort_and_filter``)."""
    sign = 1 if (model + material + metric) % 2 == 0 else -1
    return sign * 0.01 * (1 + (model * (benchmark + 1)) % 12 + material)


def is_failed(model: int, material: int, benchmark: int) -> bool:
    return (model + 2 * material + benchmark) % 13 == 0


def speed_us(model: int) -> float:
    """Time per atom-step of model ``model`` in µs: grows with the index, so index 0 is fastest."""
    return 2.0 * (1 + model) ** 1.3


def is_unstable(key: str, model: int, material: int, benchmark: int) -> bool:
    """A failed run that failed as dynamically unstable (and keeps its phonon series)."""
    on = MATERIALS[material] == UNSTABLE_PHONONS_MATERIAL
    return key == "phonons" and on and is_failed(model, material, benchmark)
