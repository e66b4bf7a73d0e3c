"""Request dependencies: a session per request (committed before the response), auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.db.models import Role, User
from backend.db.session import session_scope
from backend.domain.errors import NotAuthenticated, PermissionDenied
from backend.services import users


def get_session() -> Iterator[Session]:
    """Unit of work of one request: commit when the route returns, roll back on error."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a client reads its own writes.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer ...`")


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise NotAuthenticated("this endpoint needs an API token", where="Authorization")
    return users.authenticate(session, credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise PermissionDenied("only admins may do this", where="Authorization")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
