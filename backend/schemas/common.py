from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["models[0]: no model named 'EMTX'"])
    where: str | None = Field(None, examples=["models[0]"])
    request_id: str


class ErrorBody(BaseModel):
    """The one shape of every 4xx/5xx response."""

    error: ErrorDetail
