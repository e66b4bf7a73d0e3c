"""Names vulture reports as unused that are used from outside the Python call graph.

``make lint`` runs vulture over the code and the tests with this file (``[tool.vulture]`` in
pyproject.toml). Functions registered by a decorator (routes, exception handlers, Typer
commands, Dash callbacks, pydantic validators, adapter and benchmark registries, Celery tasks
and signals, pytest fixtures) are skipped there with ``ignore_decorators``; what is listed here
is read by a framework, a serializer or a database. Each ``_.name`` marks every definition of
that name as used, so keep names specific, and never import a module here (an import would hide
the unused imports of that name elsewhere).
"""


class _Used:
    def __getattr__(self, name: str) -> None:
        return None


_ = _Used()

# pydantic: model settings, and response fields that only the JSON the API returns reads.
_.model_config
_.run_status  # backend/schemas/landscapes.py
_.max_abs_difference_mev_atom  # backend/schemas/landscapes.py
_.computed_at  # backend/schemas/representations.py (the summary body)
_.structure_map
_.failure_rate  # backend/schemas/leaderboard.py
_.scored_on  # backend/schemas/leaderboard.py
_.license  # backend/schemas/model_card.py (model card fields)
_.training_data
_.hyperparameters
_.requirements
_.caveat
_.reference_unit  # backend/schemas/runs.py
_.uncertainty  # backend/schemas/references.py, ORM column, workers/reference_data.py
_.n_in_file  # backend/schemas/structures.py (upload report)
_.skipped_duplicates
_.found_in_other_sets

# SQLAlchemy: the declarative base's type map, and columns written but read only by SQL
# (triggers, exports) or kept as a record.
_.type_annotation_map
_.cancelled_at
_.sum_abs_error
_.sum_abs_rel_error
_.sum_value

# Fields of typed result documents, stored whole (dataclasses.asdict) with the run.
_.calculator_device  # workers/benchmarks/_hardware.py
_.atom_energy_ev  # workers/benchmarks/diatomics.py
_.monomer_b_energy_ev  # workers/benchmarks/s22.py

# Methods and attributes a framework calls or reads.
_.url_path_for  # starlette BaseRoute (backend/api/security.py)
_.load_config  # gunicorn BaseApplication (frontend/app.py)
_.on_failure  # celery Task (workers/tasks/runs.py)
_.requires  # celery bootstep dependencies (workers/tasks/sweeper.py)
_.scale_positions_and_cell  # ase NPTBerendsen's step calls it (workers/benchmarks/_md.py)
_.nolabel  # `ase run` reads it with getattr (workers/adapters/baselines.py)
_.handle_request  # httpx BaseTransport (tests/backend/test_leaderboard_api.py)
_.pytestmark
_.pytest_plugins
_.pytest_collection_modifyitems  # a pytest hook (tests/conftest.py)

# Arguments a caller's signature fixes: signal handlers, a SQLAlchemy "do_connect" listener,
# celery's on_failure, a MACE-like get_descriptors; and fixtures requested for their effect.
_.signum
_.dialect
_.conn_rec
_.cargs
_.task_id
_.einfo
_.invariants_only
_.bootstrapped

# Attributes set on other libraries' objects (read by those libraries).
_.texttemplate  # plotly traces (frontend/figures/elements.py)
_.textfont
_.__qualname__  # a generated calculator class (workers/adapters/orb.py)
_._config_original  # sevenn's SevenNetCheckpoint (workers/adapters/sevennet_checkpoint.py)
_._config
_._model_state_dict
_._optimizer_state_dict
_._scheduler_state_dict
_._epoch
_._time
_._hash
_._loaded
_.should_exit  # uvicorn Server (tests)
_.linkname  # tarfile.TarInfo (tests)
_.binary_location  # selenium ChromeOptions (tests)
_.bias  # torch layers (tests/make_random_orb_mattersim.py)
