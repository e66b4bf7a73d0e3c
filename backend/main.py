"""The FastAPI application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from backend.api.errors import install_error_handlers
from backend.api.routes import benchmarks, campaigns, health, leaderboards, models, runs
from backend.domain.errors import InvalidInput
from backend.schemas.common import ErrorBody
from backend.services.training_sets import TrainingSetReader, TrainingSetSummary


def read_training_set(path: Path) -> TrainingSetSummary:
    """Summarize an uploaded extxyz file with the science core's reader.

    The composition root is the one place where the API reaches ``workers`` code: the web
    tier's layers (routes, services) only see a ``TrainingSetReader`` given to the app, so
    they never import ASE, and ASE is imported on the first upload, not at start-up.
    """
    from workers.training_sets import TrainingSetError, summarize_extxyz

    try:
        return summarize_extxyz(path)
    except TrainingSetError as exc:
        raise InvalidInput(str(exc), where="body") from exc


def create_app(*, training_set_reader: TrainingSetReader = read_training_set) -> FastAPI:
    app = FastAPI(
        title="MLIP Metrology",
        version="0.1.0",
        description="Standardized simulations of machine-learning interatomic potentials, "
        "compared with experimental and CCSD(T) references.",
        responses={
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            404: {"model": ErrorBody},
            409: {"model": ErrorBody},
            422: {"model": ErrorBody},
        },
    )
    app.state.training_set_reader = training_set_reader
    install_error_handlers(app)
    for module in (health, models, benchmarks, campaigns, runs, leaderboards):
        app.include_router(module.router)
    return app


app = create_app()
