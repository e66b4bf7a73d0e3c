from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from backend.api.deps import CurrentUser, SessionDep
from backend.repositories import models as model_repo
from backend.schemas.common import Page
from backend.schemas.models import ModelCreate, ModelRead
from backend.services import models

router = APIRouter(prefix="/models", tags=["models"])


@router.post("", status_code=201, operation_id="models-create_model")
def create_model(body: ModelCreate, session: SessionDep, user: CurrentUser) -> ModelRead:
    """Submit a model card; an admin's model is approved at once, others wait for review."""
    return ModelRead.model_validate(models.submit_model(session, body, owner=user))


@router.get("", operation_id="models-list_models")
def list_models(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> Page[ModelRead]:
    """Every model record."""
    items = model_repo.list_models(session, limit=limit, offset=offset)
    return Page(items=[ModelRead.model_validate(m) for m in items], limit=limit, offset=offset)


@router.get("/{model_id}", operation_id="models-read_model")
def read_model(model_id: uuid.UUID, session: SessionDep) -> ModelRead:
    """One model record with its card."""
    return ModelRead.model_validate(models.read_model(session, model_id))
