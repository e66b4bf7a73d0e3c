from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


#: The largest ``limit`` any list accepts (422 above it).
MAX_PAGE_LIMIT = 1000
#: The largest ``offset`` (422 above it; Postgres offsets are 64-bit).
MAX_OFFSET = 10**9


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items[0]`` is item number ``offset`` of ``total``."""

    items: list[T]
    limit: int = Field(description="the page size asked for", examples=[100])
    offset: int = Field(description="items skipped before this page", examples=[0])
    total: int = Field(description="items matching the query, over every page", examples=[1])


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["models[0]: no model named 'EMTX'"])
    where: str | None = Field(None, examples=["models[0]"])
    request_id: str


class ErrorBody(BaseModel):
    """The one shape of every 4xx/5xx response."""

    error: ErrorDetail
