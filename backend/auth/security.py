"""API tokens: random secrets shown once, stored as sha256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "mlipm_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random secrets, so a fast hash is enough (no password stretching).
    return hashlib.sha256(token.encode()).hexdigest()
