"""Users: the caller's own record; admins create and list users."""

from __future__ import annotations

from fastapi import APIRouter, Query

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
