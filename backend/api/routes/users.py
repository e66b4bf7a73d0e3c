"""Users: the caller's own record; admins create, list, disable and enable users, and list and
revoke anyone's tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from backend.api.deps import AdminUser, CurrentUser, SessionDep
from backend.schemas.auth import TokenCreated, TokenRead, UserCreate, UserCreated, UserRead
from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, Page
from backend.services import users

router = APIRouter(prefix="/users", tags=["auth"])


@router.get("/me", operation_id="auth-read_me")
def read_me(user: CurrentUser) -> UserRead:
    """The user the token belongs to."""
    return UserRead.model_validate(user)


@router.post("", status_code=201, operation_id="auth-create_user")
def create_user(body: UserCreate, session: SessionDep, admin: AdminUser) -> UserCreated:
    """Create a submitter or an admin (admins only), with a first token shown this once."""
    issued = users.create_user_with_token(session, name=body.name, role=body.role, email=body.email)
    record = users.token_record(session, issued)
    token = TokenCreated(**TokenRead.model_validate(record).model_dump(), token=issued.token)
    return UserCreated(user=UserRead.model_validate(issued.user), token=token)


@router.get("", operation_id="auth-list_users")
def list_users(
    session: SessionDep,
    admin: AdminUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[UserRead]:
    """Every user, by name (admins only)."""
    items, total = users.list_users(session, limit=limit, offset=offset)
    return Page(
        items=[UserRead.model_validate(u) for u in items], limit=limit, offset=offset, total=total
    )


@router.get("/{user_id}/tokens", operation_id="auth-list_user_tokens")
def list_user_tokens(
    user_id: uuid.UUID,
    session: SessionDep,
    admin: AdminUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Page[TokenRead]:
    """A user's tokens, newest first, revoked ones included; never their secrets (admins only)."""
    items, total = users.list_user_tokens(session, user_id, limit=limit, offset=offset)
    return Page(
        items=[TokenRead.model_validate(t) for t in items], limit=limit, offset=offset, total=total
    )


@router.delete(
    "/{user_id}/tokens/{token_id}", status_code=204, operation_id="auth-revoke_user_token"
)
def revoke_user_token(
    user_id: uuid.UUID, token_id: uuid.UUID, session: SessionDep, admin: AdminUser
) -> Response:
    """Revoke one of a user's tokens (admins only); it gives 401 from then on. Idempotent."""
    users.revoke_user_token(session, user_id, token_id)
    return Response(status_code=204)


@router.post("/{user_id}/disable", operation_id="auth-disable_user")
def disable_user(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> UserRead:
    """Disable a user (admins only, not themselves): all their tokens give 401 at once."""
    return UserRead.model_validate(
        users.set_disabled_by_id(session, user_id, disabled=True, by=admin)
    )


@router.post("/{user_id}/enable", operation_id="auth-enable_user")
def enable_user(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> UserRead:
    """Enable a disabled user again (admins only); their unrevoked tokens work again."""
    return UserRead.model_validate(
        users.set_disabled_by_id(session, user_id, disabled=False, by=admin)
    )
