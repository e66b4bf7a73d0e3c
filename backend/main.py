"""The FastAPI application."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI

from backend.api.board_fast_path import BoardFastPath
from backend.api.body_limit import BodyLimitMiddleware
from backend.api.deps import json_without_nul
from backend.api.docs import DOCS_PATHS, install_docs
from backend.api.errors import install_error_handlers
from backend.api.openapi_schemas import install_body_schemas
from backend.api.routes import (
    benchmarks,
    campaigns,
    exports,
    health,
    landscapes,
    leaderboards,
    models,
    references,
    representations,
    runs,
    structures,
    tokens,
    users,
)
from backend.api.security import (
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    StaticPathGuard,
    install_optional_auth_in_openapi,
)
from backend.domain.phases import SpaceGroupReader
from backend.schemas.common import ErrorBody
from backend.schemas.models import ModelCreate
from backend.services.exports import StructureWriter
from backend.services.extxyz import write_extxyz
from backend.services.structures import ParsedFile, StructureParser, UploadLimits
from backend.services.training_sets import TrainingSetReader, TrainingSetSummary
from shared_kernel.errors import InvalidInput


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


def parse_structures(
    path: Path, fmt: str | None, filename: str | None, limits: UploadLimits
) -> ParsedFile:
    """Read and check an uploaded structure file with the science core (ASE), lazily imported."""
    from workers.structure_files import StructureFileError, read_structure_upload

    try:
        return read_structure_upload(
            path,
            fmt=fmt,
            filename=filename,
            max_atoms=limits.max_atoms,
            max_structures=limits.max_structures,
        )
    except StructureFileError as exc:
        hint = ""
        if "structures per upload" in exc.message:
            hint = " (setting MLIPM_MAX_STRUCTURES_PER_UPLOAD)"
        elif "more than the limit" in exc.message:
            hint = " (setting MLIPM_MAX_STRUCTURE_ATOMS)"
        raise InvalidInput(exc.message + hint, where=exc.where) from exc


def read_space_group(data: str) -> int | None:
    """The space group of a stored structure (spglib through the science core, lazily
    imported); None when it is not a crystal."""
    from workers.phases import space_group_of_data

    return space_group_of_data(data)


def create_app(
    *,
    training_set_reader: TrainingSetReader = read_training_set,
    structure_writer: StructureWriter = write_extxyz,
    structure_parser: StructureParser = parse_structures,
    space_group_reader: SpaceGroupReader = read_space_group,
) -> FastAPI:
    app = FastAPI(
        title="MLIP Metrology",
        dependencies=[Depends(json_without_nul)],
        docs_url=None,  # served by install_docs, with assets from the API instead of a CDN
        redoc_url=None,
        version="0.1.0",
        description="Standardized simulations of machine-learning interatomic potentials, "
        "compared with experimental and CCSD(T) references.",
        responses={
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            404: {"model": ErrorBody},
            409: {"model": ErrorBody},
            413: {"model": ErrorBody},
            422: {
                "model": ErrorBody,
                "description": "Invalid input: a value out of range, a missing field, or a "
                "malformed body (not valid JSON, not UTF-8, nested too deeply).",
            },
        },
    )
    app.state.training_set_reader = training_set_reader
    app.state.structure_writer = structure_writer
    app.state.structure_parser = structure_parser
    app.state.space_group_reader = space_group_reader
    install_error_handlers(app)
    # innermost of ours: a board's repeat read or revalidation is answered before routing,
    # with the request id and security headers the outer ones add
    app.add_middleware(BoardFastPath)
    # outermost: an oversized body is refused before anything reads it
    app.add_middleware(BodyLimitMiddleware, router=app.router)
    # outside the body limit, so its 413 carries a checked request id and the headers too
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, router=app.router, docs_paths=DOCS_PATHS)
    for module in (health, models, benchmarks, campaigns, runs, leaderboards, exports, landscapes):
        app.include_router(module.router)
    for module in (tokens, users, structures, references, representations):
        app.include_router(module.router)
    app.router.routes.insert(0, StaticPathGuard(app.router))
    install_optional_auth_in_openapi(app)
    install_body_schemas(app, [ModelCreate])
    install_docs(app)
    return app


app = create_app()
