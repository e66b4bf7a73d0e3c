"""Model records: submissions and the built-in baselines."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import MlipModel, ModelStatus, Role, User
from backend.domain.elements import chemical_symbols
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.repositories import models as model_repo
from backend.schemas.models import ModelCreate

KNOWN_SYMBOLS = frozenset(chemical_symbols[1:])
#: Params the platform sets itself: the worker passes the record's ``is_trusted`` as
#: ``params["trusted"]``, so a submitter must not be able to write it.
RESERVED_PARAMS = frozenset({"trusted"})


def submit_model(session: Session, body: ModelCreate, *, owner: User) -> MlipModel:
    """Register a model; an admin's is approved at once, a submitter's waits for review."""
    if model_repo.get_model_by_name(session, body.name, body.version) is not None:
        raise Conflict(f"model {body.name!r} version {body.version!r} exists", where="name")
    reserved = sorted(RESERVED_PARAMS & set(body.params))
    if reserved:
        raise InvalidInput(
            f"params {reserved} are set by the platform (an admin trusts a model with "
            "POST /models/{model_id}/trust)",
            where=f"params.{reserved[0]}",
        )
    if body.elements is not None:
        unknown = sorted(set(body.elements) - KNOWN_SYMBOLS)
        if unknown:
            raise InvalidInput(f"unknown element symbol(s) {unknown}", where="elements")
    status = ModelStatus.APPROVED if owner.role == Role.ADMIN else ModelStatus.PENDING
    return model_repo.add_model(
        session,
        **body.model_dump(),
        status=status,
        owner_id=owner.id,
        is_baseline=False,
    )


def upsert_builtin(session: Session, **fields: Any) -> tuple[MlipModel, bool]:
    """Register a built-in model (baseline or packaged MLIP) once; an existing one is kept."""
    existing = model_repo.get_model_by_name(session, fields["name"], fields["version"])
    if existing is not None:
        return existing, False
    model = model_repo.add_model(session, **fields, status=ModelStatus.APPROVED, owner_id=None)
    return model, True


def read_model(session: Session, model_id: uuid.UUID) -> MlipModel:
    model = model_repo.get_model(session, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    return model


def model_for_upload(session: Session, model_id: uuid.UUID, *, user: User) -> MlipModel:
    """The model whose file ``user`` may replace: their own, or any for an admin."""
    model = read_model(session, model_id)
    if user.role != Role.ADMIN and model.owner_id != user.id:
        raise PermissionDenied(
            "only the model's owner or an admin may upload its file", where="model_id"
        )
    return model


def attach_model_file(
    session: Session, model_id: uuid.UUID, *, path: str, sha256: str, user: User
) -> MlipModel:
    """Record an uploaded file on the model.

    A new file is not trusted (trust is given to one reviewed file), and a submitter's model
    goes back to review, since its weights changed.
    """
    model = model_for_upload(session, model_id, user=user)
    model.artifact_path, model.artifact_sha256 = path, sha256
    model.is_trusted = False
    if user.role != Role.ADMIN:
        model.status = ModelStatus.PENDING
    session.flush()
    return model


def set_model_trust(session: Session, model_id: uuid.UUID, *, is_trusted: bool) -> MlipModel:
    """Mark (or unmark) a model's uploaded file as trusted; admins only, checked by the route."""
    model = read_model(session, model_id)
    if is_trusted and model.artifact_sha256 is None:
        raise Conflict(
            f"model {model.name!r} has no uploaded file to trust; upload it first "
            "(PUT /models/{model_id}/file)",
            where="model_id",
        )
    model.is_trusted = is_trusted
    session.flush()
    return model
