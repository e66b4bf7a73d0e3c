"""Domain errors; mapped to HTTP once, in backend/api/errors.py."""

from __future__ import annotations


class DomainError(Exception):
    """An expected error with a code, a message and where the problem is (a field, a line)."""

    code = "error"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid_input"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class PermissionDenied(DomainError):
    code = "permission_denied"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class PhaseMismatch(InvalidInput):
    """A reference of another phase than the structure it would be compared with."""

    code = "phase_mismatch"
