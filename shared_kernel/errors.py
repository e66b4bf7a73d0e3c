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


class NotStored(InvalidInput):
    """A well-formed request that names something the platform does not hold (a model, a
    benchmark, a structure set, a material, a parameter set, a column of a board) or not in
    a state that allows the request (a model awaiting approval)."""

    code = "not_stored"


class Inconsistent(InvalidInput):
    """A request whose parts contradict each other in a way its JSON Schema cannot state (a
    benchmark listed twice, a card naming another model than the record it comes with)."""

    code = "inconsistent_input"
