from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from backend.api.body_limit import streams_own_body
from backend.api.deps import (
    AdminUser,
    CurrentUser,
    OptionalUser,
    SessionDep,
    TrainingSetReaderDep,
    model_create_body,
)
from backend.api.openapi_schemas import body_ref
from backend.domain.statuses import ModelStatus
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.schemas.model_card import ModelCard
from backend.schemas.models import (
    LeakageRead,
    ModelCreate,
    ModelRead,
    ModelTrust,
    ModelUpdate,
    ModelVersionCreate,
)
from backend.services import model_uploads, models, training_sets

router = APIRouter(prefix="/models", tags=["models"])

_CARD_BODY = {
    "requestBody": {
        "required": True,
        "description": "A ModelCreate document (its `card` is a ModelCard) as JSON or YAML.",
        "content": {
            "application/json": {"schema": body_ref(ModelCreate)},
            "application/yaml": {"schema": body_ref(ModelCreate)},
        },
    }
}


@router.post("", status_code=201, operation_id="models-create_model", openapi_extra=_CARD_BODY)
def create_model(
    session: SessionDep,
    user: CurrentUser,
    body: Annotated[ModelCreate, Depends(model_create_body)],
) -> ModelRead:
    """Submit a model and its card (JSON, or YAML with ``Content-Type: application/yaml``).

    An admin's model is approved at once; a submitter's waits for review.
    """
    return ModelRead.model_validate(models.submit_model(session, body, owner=user))


@router.get("", operation_id="models-list_models")
def list_models(
    session: SessionDep,
    user: OptionalUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[ModelRead]:
    """Approved models, plus the caller's own pending or rejected ones (admins: all)."""
    items, total = models.list_visible_models(session, user=user, limit=limit, offset=offset)
    return Page(
        items=[ModelRead.model_validate(m) for m in items], limit=limit, offset=offset, total=total
    )


@router.get("/card-schema", operation_id="models-read_card_schema")
def read_card_schema() -> dict[str, object]:
    """The JSON Schema of a model card."""
    return ModelCard.model_json_schema()


@router.get("/{model_id}", operation_id="models-read_model")
def read_model(model_id: uuid.UUID, session: SessionDep, user: OptionalUser) -> ModelRead:
    """One model record with its card; someone else's unapproved model is 404."""
    return ModelRead.model_validate(models.visible_model(session, model_id, user=user))


@router.patch("/{model_id}", operation_id="models-update_model")
def update_model(
    model_id: uuid.UUID, body: ModelUpdate, session: SessionDep, user: CurrentUser
) -> ModelRead:
    """Edit card, params or elements (owner or admin); a submitter's edit goes back to review.

    Params and elements of a sealed version (approved after review, or used by a campaign)
    cannot change (409): its results are bound to them. Create a new version instead
    (``POST /models/{model_id}/versions``).
    """
    return ModelRead.model_validate(models.update_model(session, model_id, body, user=user))


@router.post("/{model_id}/versions", status_code=201, operation_id="models-create_version")
def create_version(
    model_id: uuid.UUID, body: ModelVersionCreate, session: SessionDep, user: CurrentUser
) -> ModelRead:
    """A new version of a model (owner or admin), starting from this one: its family, file,
    card and training set, with the given params, elements or card.

    The new version is untrusted and, for a submitter, pending review; the source version and
    its results stay as they are. Campaigns then evaluate it afresh.
    """
    return ModelRead.model_validate(models.create_version(session, model_id, body, user=user))


@router.post("/{model_id}/approve", operation_id="models-approve_model")
def approve_model(model_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> ModelRead:
    """Approve a model for campaigns (admins only)."""
    return ModelRead.model_validate(
        models.review_model(session, model_id, status=ModelStatus.APPROVED)
    )


@router.post("/{model_id}/reject", operation_id="models-reject_model")
def reject_model(model_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> ModelRead:
    """Reject a model (admins only); an edit by its owner sends it back to review."""
    return ModelRead.model_validate(
        models.review_model(session, model_id, status=ModelStatus.REJECTED)
    )


@router.get("/{model_id}/leakage", operation_id="models-read_leakage")
def read_leakage(model_id: uuid.UUID, session: SessionDep, user: OptionalUser) -> LeakageRead:
    """Benchmark structures whose exact content is in the model's uploaded training set."""
    return training_sets.leakage(session, model_id, user=user)


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The model file's bytes, as the raw request body.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/{model_id}/file", operation_id="models-upload_model_file", openapi_extra=_RAW_BODY)
@streams_own_body  # MLIPM_MAX_MODEL_FILE_MB, not the generic request limit
async def upload_model_file(
    model_id: uuid.UUID, request: Request, session: SessionDep, user: CurrentUser
) -> ModelRead:
    """Upload (or replace) the model's file; owner or admin.

    The body is the file itself (``Content-Type: application/octet-stream``, e.g.
    ``curl -T model.pth``), not a multipart form: it is streamed to the content-addressed
    artifact store and hashed on the way, so the size limit (``MLIPM_MAX_MODEL_FILE_MB``,
    413) holds while reading and no copy is spooled first. A new file is never trusted, and
    a submitter's model goes back to review. The file of a sealed version (approved after
    review, or used by a campaign) cannot change (409): upload it to a new version
    (``POST /models/{model_id}/versions``).
    """
    model = await model_uploads.upload_model_file(
        session,
        model_id,
        request.stream(),
        declared_length=request.headers.get("content-length", ""),
        user=user,
    )
    return ModelRead.model_validate(model)


_EXTXYZ_BODY = {
    "requestBody": {
        "required": True,
        "description": "The training set as extended XYZ text, as the raw request body.",
        "content": {"chemical/x-extxyz": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    "/{model_id}/training-set",
    operation_id="models-upload_training_set",
    openapi_extra=_EXTXYZ_BODY,
)
@streams_own_body  # MLIPM_MAX_TRAINING_SET_MB
async def upload_training_set(
    model_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    reader: TrainingSetReaderDep,
) -> ModelRead:
    """Upload (or replace) the model's training set (extxyz); owner or admin.

    Streamed like the model file (limit ``MLIPM_MAX_TRAINING_SET_MB``, 413), then read by the
    platform: structure count, per-element counts and per-structure content hashes (for the
    leakage check) come from the data. A file that cannot be read is 422 and leaves nothing.
    """
    model = await model_uploads.upload_training_set(
        session,
        model_id,
        request.stream(),
        declared_length=request.headers.get("content-length", ""),
        user=user,
        reader=reader,
    )
    return ModelRead.model_validate(model)


@router.post("/{model_id}/trust", operation_id="models-trust_model")
def trust_model(
    model_id: uuid.UUID, session: SessionDep, admin: AdminUser, body: ModelTrust | None = None
) -> ModelRead:
    """Mark the model's uploaded file trusted (admins only); ``{"is_trusted": false}`` revokes.

    Workers load uploaded files without running code from them (``torch.load(...,
    weights_only=True)``, TorchScript). Some formats (MACE ``.model`` files, checkpoints with
    arbitrary Python objects) can only be read by unpickling, which can execute any code the
    file carries; that happens only for a trusted model, after an admin has reviewed the file.
    Uploading a new file clears the flag.
    """
    is_trusted = True if body is None else body.is_trusted
    return ModelRead.model_validate(
        models.set_model_trust(session, model_id, is_trusted=is_trusted)
    )
