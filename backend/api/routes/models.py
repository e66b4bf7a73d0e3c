from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AdminUser, CurrentUser, SessionDep
from backend.domain.errors import InvalidInput
from backend.repositories import models as model_repo
from backend.schemas.common import Page
from backend.schemas.models import ModelCreate, ModelRead, ModelTrust
from backend.services import artifacts, models
from backend.settings import get_settings

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


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The model file's bytes, as the raw request body.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/{model_id}/file", operation_id="models-upload_model_file", openapi_extra=_RAW_BODY)
async def upload_model_file(
    model_id: uuid.UUID, request: Request, session: SessionDep, user: CurrentUser
) -> ModelRead:
    """Upload (or replace) the model's file; owner or admin.

    The body is the file itself (``Content-Type: application/octet-stream``, e.g.
    ``curl -T model.pth``), not a multipart form: it is streamed to the content-addressed
    artifact store and hashed on the way, so the size limit (``MLIPM_MAX_MODEL_FILE_MB``,
    413) holds while reading and no copy is spooled first. A new file is never trusted, and
    a submitter's model goes back to review.
    """
    settings = get_settings()
    max_bytes = int(settings.max_model_file_mb * artifacts.MIB)
    await run_in_threadpool(models.model_for_upload, session, model_id, user=user)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise artifacts.too_large(max_bytes)
    stored = await artifacts.store_stream(
        request.stream(), root=settings.artifact_dir, max_bytes=max_bytes
    )
    try:
        if stored.size_bytes == 0:
            raise InvalidInput("the request body is empty; send the model file", where="body")
        model = await run_in_threadpool(
            models.attach_model_file,
            session,
            model_id,
            path=str(stored.path.resolve()),
            sha256=stored.sha256,
            user=user,
        )
    except BaseException:
        artifacts.discard(stored)
        raise
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
