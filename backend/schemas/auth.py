"""Users and API tokens at the HTTP boundary; a token's secret appears only in TokenCreated."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.statuses import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$", examples=["alice"]
    )
    email: str | None = Field(
        None, max_length=255, pattern=r"^[^\x00]*$", examples=["alice@example.org"]
    )
    role: Role = Field(Role.SUBMITTER, description="`submitter` (default) or `admin`")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str | None
    role: Role
    created_at: datetime
    disabled_at: datetime | None = Field(
        None, description="when an admin disabled the user (null: enabled)"
    )


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        "default", min_length=1, max_length=100, pattern=r"^[^\x00]*$", examples=["laptop"]
    )


class TokenRead(BaseModel):
    """A token without its secret: only its first characters identify it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="the secret's first 12 characters", examples=["mlipm_AbCdEf"])
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    """A new token; ``token`` is the secret, shown this once and stored only as its sha256."""

    token: str = Field(examples=["mlipm_AbCdEf..."])


class UserCreated(BaseModel):
    """A new user and a first token for them (its secret shown this once)."""

    user: UserRead
    token: TokenCreated
