"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from backend.api.errors import install_error_handlers
from backend.api.routes import benchmarks, campaigns, health, leaderboards, models, runs
from backend.schemas.common import ErrorBody


def create_app() -> FastAPI:
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
    install_error_handlers(app)
    for module in (health, models, benchmarks, campaigns, runs, leaderboards):
        app.include_router(module.router)
    return app


app = create_app()
