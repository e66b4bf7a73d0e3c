"""Users and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.auth.security import hash_token, new_token
from backend.db.base import utcnow
from backend.db.models import Role, User
from backend.domain.errors import Conflict, NotAuthenticated
from backend.repositories import users as user_repo


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str  # the secret: shown once, never stored


def create_user(session: Session, *, name: str, role: Role, email: str | None = None) -> User:
    if user_repo.get_user_by_name(session, name) is not None:
        raise Conflict(f"a user named {name!r} exists", where="name")
    return user_repo.add_user(session, name=name, role=role, email=email)


def issue_token(session: Session, user: User, *, name: str = "default") -> IssuedToken:
    token = new_token()
    user_repo.add_token(
        session, user_id=user.id, token_hash=hash_token(token), prefix=token[:12], name=name
    )
    return IssuedToken(user, token)


def ensure_user_with_token(session: Session, *, name: str, role: Role) -> IssuedToken:
    """The named user (created if missing) with a fresh token; used by the demo and tests."""
    user = user_repo.get_user_by_name(session, name)
    if user is None:
        user = user_repo.add_user(session, name=name, role=role)
    return issue_token(session, user, name=f"{name}-session")


def authenticate(session: Session, token: str) -> User:
    record = user_repo.get_active_token(session, hash_token(token))
    if record is None:
        raise NotAuthenticated("invalid or revoked API token", where="Authorization")
    record.last_used_at = utcnow()
    user = user_repo.get_user(session, record.user_id)
    if user is None:  # pragma: no cover - FK cascade makes this impossible
        raise NotAuthenticated("token owner no longer exists", where="Authorization")
    return user
