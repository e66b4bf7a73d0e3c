from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from backend.domain.elements import chemical_symbols

T = TypeVar("T")

#: The pydantic error type of a check across fields (``PydanticCustomError``), which the API
#: answers with the code of ``domain.errors.Inconsistent``.
INCONSISTENT = "inconsistent_input"
#: The element symbols, H to Og (what ``ElementSymbol`` accepts).
ELEMENT_SYMBOLS = tuple(chemical_symbols[1:])
KNOWN_SYMBOLS = frozenset(ELEMENT_SYMBOLS)
#: The characters Python's ``str.strip()`` removes, spelled out: regex engines disagree on
#: ``\s`` (Python's counts ``\x1c``-``\x1f``, Rust's and JavaScript's do not), and the
#: OpenAPI patterns are read by all three.
WHITE_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Text with a character that ``strip()`` keeps, and no NUL (Postgres text cannot hold it).
NON_BLANK = rf"^[^\x00]*[^{WHITE_SPACE}\x00][^\x00]*$"


def _known_symbol(symbol: str) -> str:
    if symbol not in KNOWN_SYMBOLS:
        raise ValueError(f"unknown element symbol {symbol!r}")
    return symbol


SYMBOL_SCHEMA = WithJsonSchema({"type": "string", "enum": list(ELEMENT_SYMBOLS)})
#: An element symbol; the OpenAPI schema lists them, so an unknown one breaks the schema.
ElementSymbol = Annotated[str, AfterValidator(_known_symbol), SYMBOL_SCHEMA]
#: The same in the schema, checked by the service that takes it (which names the field).
CheckedLaterSymbol = Annotated[str, SYMBOL_SCHEMA]


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool | str):  # pydantic would read true as 1 and "5" as 5
        raise ValueError("must be an integer")
    return value


#: A JSON integer >= 0 (``3`` or ``3.0``; not ``true``, not ``"3"``).
Count = Annotated[int, Field(ge=0), BeforeValidator(_json_integer)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


#: A field of a PATCH body that may be left out (kept as it is) but not set to null: the
#: schema shows neither null nor a default.
Omittable = Annotated[T | SkipJsonSchema[None], Field(json_schema_extra=_no_default)]


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
