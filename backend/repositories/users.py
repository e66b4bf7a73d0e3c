"""SQL for users and API tokens."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ApiToken, Role, User


def get_user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def add_user(session: Session, *, name: str, role: Role, email: str | None = None) -> User:
    user = User(name=name, role=role, email=email)
    session.add(user)
    session.flush()
    return user


def add_token(
    session: Session, *, user_id: uuid.UUID, token_hash: str, prefix: str, name: str
) -> ApiToken:
    token = ApiToken(user_id=user_id, token_hash=token_hash, prefix=prefix, name=name)
    session.add(token)
    session.flush()
    return token


def get_active_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )
