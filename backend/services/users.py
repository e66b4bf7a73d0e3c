"""Users and their API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.auth.security import hash_token, new_token
from backend.db.base import utcnow
from backend.db.tables import ApiToken, User
from backend.domain.statuses import Role
from backend.repositories import users as user_repo
from shared_kernel.errors import Conflict, NotAuthenticated, NotFound


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
    user = user_repo.get_user(session, record.user_id)
    if user is None:  # pragma: no cover - FK cascade makes this impossible
        raise NotAuthenticated("token owner no longer exists", where="Authorization")
    if user.disabled_at is not None:
        raise NotAuthenticated("the user of this token is disabled", where="Authorization")
    record.last_used_at = utcnow()
    return user


def create_user_with_token(
    session: Session, *, name: str, role: Role, email: str | None = None
) -> IssuedToken:
    """A new user (admins create them) and a first token to hand over."""
    user = create_user(session, name=name, role=role, email=email)
    return issue_token(session, user, name="initial")


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    return user_repo.page_users(session, limit=limit, offset=offset)


def list_tokens(
    session: Session, user: User, *, limit: int, offset: int
) -> tuple[list[ApiToken], int]:
    """The caller's own tokens, revoked ones included (without secrets)."""
    return user_repo.page_tokens(session, user.id, limit=limit, offset=offset)


def token_record(session: Session, token: IssuedToken) -> ApiToken:
    """The stored record of a token just issued."""
    record = user_repo.get_active_token(session, hash_token(token.token))
    if record is None:  # pragma: no cover - issued in this transaction
        raise NotFound("the token just issued is not stored")
    return record


def revoke_token(session: Session, token_id: uuid.UUID, *, user: User) -> None:
    """Revoke a token: its owner or an admin; someone else's is 404 (existence not revealed).

    Idempotent: revoking a revoked token changes nothing.
    """
    record = user_repo.get_token(session, token_id)
    if record is None or (record.user_id != user.id and user.role != Role.ADMIN):
        raise NotFound(f"no token {token_id}", where="token_id")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = user_repo.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", where="user_id")
    return user


def list_user_tokens(
    session: Session, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[ApiToken], int]:
    """Any user's tokens, revoked ones included (without secrets); for admins."""
    return user_repo.page_tokens(session, _user(session, user_id).id, limit=limit, offset=offset)


def revoke_user_token(session: Session, user_id: uuid.UUID, token_id: uuid.UUID) -> None:
    """Revoke one of a user's tokens (for admins); idempotent."""
    record = user_repo.get_token(session, token_id)
    if record is None or record.user_id != _user(session, user_id).id:
        raise NotFound(f"user {user_id} has no token {token_id}", where="token_id")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()


def set_disabled(session: Session, user: User, *, disabled: bool, by: User | None = None) -> User:
    """Disable a user (every token of theirs gives 401 from the next request) or enable them
    again (their unrevoked tokens work again). Idempotent. An admin cannot disable themselves,
    so the last admin cannot lock everyone out."""
    if disabled and by is not None and by.id == user.id:
        raise Conflict("an admin cannot disable themselves", where="user_id")
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
    elif not disabled:
        user.disabled_at = None
    session.flush()
    return user


def set_disabled_by_id(session: Session, user_id: uuid.UUID, *, disabled: bool, by: User) -> User:
    return set_disabled(session, _user(session, user_id), disabled=disabled, by=by)


def set_disabled_by_name(session: Session, name: str, *, disabled: bool) -> User:
    """The CLI's way (run by an operator on the database host)."""
    user = user_repo.get_user_by_name(session, name)
    if user is None:
        raise NotFound(f"no user named {name!r}", where="name")
    return set_disabled(session, user, disabled=disabled)
