"""SQL for users and API tokens."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.tables import ApiToken, User
from backend.domain.statuses import Role


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


def page_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    items = list(session.scalars(select(User).order_by(User.name).limit(limit).offset(offset)))
    return items, session.scalar(select(func.count()).select_from(User)) or 0


def page_tokens(
    session: Session, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[ApiToken], int]:
    """One user's tokens, newest first (revoked ones too), and how many there are."""
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    ordered = query.order_by(ApiToken.created_at.desc(), ApiToken.id)
    items = list(session.scalars(ordered.limit(limit).offset(offset)))
    return items, session.scalar(select(func.count()).select_from(query.subquery())) or 0


def get_token(session: Session, token_id: uuid.UUID) -> ApiToken | None:
    return session.get(ApiToken, token_id)
