"""What the OpenAPI document says that FastAPI does not see.

- A route that reads its own body (``POST /models`` takes JSON or YAML, parsed in
  ``api.deps.model_create_body``) declares it with ``openapi_extra`` and a ``$ref``; the
  schema it refers to is added to ``components`` here, so the document describes what the
  route accepts rather than "any object".
- Postgres text and JSONB cannot hold the NUL character, so no input the API stores or
  looks up may contain one (Postgres refuses it: a 422). Every string of a request's
  parameters and bodies says so, and so does every free-form JSON value (:data:`JSON_VALUE`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF = "#/components/schemas/{model}"
NO_NUL = "^[^\\x00]*$"
#: Any JSON value without NUL, in keys or strings at any depth.
JSON_VALUE = "JsonValue"
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "any JSON value; no string or key holds NUL (Postgres cannot store it)",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": REF.format(model=JSON_VALUE)}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": REF.format(model=JSON_VALUE)},
        },
    ],
}


def body_ref(model: type[BaseModel]) -> dict[str, str]:
    """A ``$ref`` to ``model``'s schema in the document's components."""
    return {"$ref": REF.format(model=model.__name__)}


def install_body_schemas(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add ``models`` (and the schemas they use) to the document's components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            found = model.model_json_schema(ref_template=REF, mode="validation")
            for name, definition in found.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, found)
        components[JSON_VALUE] = JSON_VALUE_SCHEMA
        forbid_nul_in_requests(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def forbid_nul_in_requests(document: dict[str, Any]) -> None:
    """Add "no NUL" to every string and free-form value that a request may send: parameters,
    request bodies and the component schemas they use."""
    components = document.get("components", {}).get("schemas", {})
    pending: list[Any] = []
    for path in document.get("paths", {}).values():
        for operation in path.values():
            pending += [p.get("schema") for p in operation.get("parameters", [])]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                pending.append(media.get("schema"))
    seen: set[str] = {JSON_VALUE}
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF.format(model="")):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen and name in components:
                    seen.add(name)
                    pending.append(components[name])
                continue
            _no_nul(node)
            pending += [v for k, v in node.items() if k not in ("examples", "example", "default")]


def _no_nul(node: dict[str, Any]) -> None:
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
        node["pattern"] = NO_NUL
    if node.get("type") == "object" or "additionalProperties" in node:
        if node.get("additionalProperties") in (True, {}):
            node["additionalProperties"] = {"$ref": REF.format(model=JSON_VALUE)}
        node.setdefault("propertyNames", {"pattern": NO_NUL})
    if node.get("type") == "array" and node.get("items") in (None, {}):
        node["items"] = {"$ref": REF.format(model=JSON_VALUE)}
