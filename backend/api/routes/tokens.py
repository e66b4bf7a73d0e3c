"""API tokens of the caller: create (secret shown once), list, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from backend.api.deps import CurrentUser, SessionDep
from backend.schemas.auth import TokenCreate, TokenCreated, TokenRead
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.services import users

router = APIRouter(prefix="/tokens", tags=["auth"])


@router.post("", status_code=201, operation_id="auth-create_token")
def create_token(body: TokenCreate, session: SessionDep, user: CurrentUser) -> TokenCreated:
    """Issue a token for the caller; ``token`` is the secret, shown only in this response."""
    issued = users.issue_token(session, user, name=body.name)
    record = users.token_record(session, issued)
    return TokenCreated(**TokenRead.model_validate(record).model_dump(), token=issued.token)


@router.get("", operation_id="auth-list_tokens")
def list_tokens(
    session: SessionDep,
    user: CurrentUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[TokenRead]:
    """The caller's tokens, newest first, revoked ones included; never their secrets."""
    items, total = users.list_tokens(session, user, limit=limit, offset=offset)
    return Page(
        items=[TokenRead.model_validate(t) for t in items], limit=limit, offset=offset, total=total
    )


@router.delete("/{token_id}", status_code=204, operation_id="auth-revoke_token")
def revoke_token(token_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke a token (its owner or an admin); it gives 401 from then on. Idempotent."""
    users.revoke_token(session, token_id, user=user)
    return Response(status_code=204)
