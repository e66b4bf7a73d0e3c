"""Model records: submissions and the built-in baselines."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import MlipModel, ModelStatus, Role, User
from backend.domain.elements import chemical_symbols
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.repositories import models as model_repo
from backend.schemas.model_card import ModelCard
from backend.schemas.models import ModelCreate, ModelUpdate

KNOWN_SYMBOLS = frozenset(chemical_symbols[1:])
#: Params the platform sets itself: the worker passes the record's ``is_trusted`` as
#: ``params["trusted"]``, so a submitter must not be able to write it.
RESERVED_PARAMS = frozenset({"trusted"})


def submit_model(session: Session, body: ModelCreate, *, owner: User) -> MlipModel:
    """Register a model; an admin's is approved at once, a submitter's waits for review."""
    if model_repo.get_model_by_name(session, body.name, body.version) is not None:
        raise Conflict(f"model {body.name!r} version {body.version!r} exists", where="name")
    _check_params(body.params)
    _check_elements(body.elements)
    status = ModelStatus.APPROVED if owner.role == Role.ADMIN else ModelStatus.PENDING
    return model_repo.add_model(
        session,
        **body.model_dump(mode="json", exclude={"card"}),
        card=_card_json(body.card),
        status=status,
        owner_id=owner.id,
        is_baseline=False,
    )


def _card_json(card: ModelCard) -> dict[str, Any]:
    return card.model_dump(mode="json", exclude_none=True)


def _check_params(params: dict[str, Any]) -> None:
    reserved = sorted(RESERVED_PARAMS & set(params))
    if reserved:
        raise InvalidInput(
            f"params {reserved} are set by the platform (an admin trusts a model with "
            "POST /models/{model_id}/trust)",
            where=f"params.{reserved[0]}",
        )


def _check_elements(elements: list[str] | None) -> None:
    if elements is not None:
        unknown = sorted(set(elements) - KNOWN_SYMBOLS)
        if unknown:
            raise InvalidInput(f"unknown element symbol(s) {unknown}", where="elements")


def upsert_builtin(session: Session, **fields: Any) -> tuple[MlipModel, bool]:
    """Register a built-in model (baseline or packaged MLIP) once; an existing one is kept."""
    existing = model_repo.get_model_by_name(session, fields["name"], fields["version"])
    if existing is not None:
        return existing, False
    # Built-in cards go through the same schema as submitted ones (raises if one does not fit).
    checked = ModelCreate.model_validate(
        {k: fields[k] for k in ("name", "version", "family", "params", "card", "elements")}
    )
    fields = {**fields, "card": _card_json(checked.card)}
    model = model_repo.add_model(session, **fields, status=ModelStatus.APPROVED, owner_id=None)
    return model, True


def read_model(session: Session, model_id: uuid.UUID) -> MlipModel:
    model = model_repo.get_model(session, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    return model


def can_see(model: MlipModel, user: User | None) -> bool:
    """Approved models are public; others only to their owner and admins."""
    if model.status == ModelStatus.APPROVED:
        return True
    return user is not None and (user.role == Role.ADMIN or model.owner_id == user.id)


def visible_model(session: Session, model_id: uuid.UUID, *, user: User | None) -> MlipModel:
    """The model if ``user`` may see it; someone else's unapproved model is 'not found'."""
    model = model_repo.get_model(session, model_id)
    if model is None or not can_see(model, user):
        raise NotFound(f"no model with id {model_id}")
    return model


def list_visible_models(
    session: Session, *, user: User | None, limit: int, offset: int
) -> tuple[list[MlipModel], int]:
    """One page of approved models, plus the caller's own (admins: every model), and the count."""
    visible_to = None if user is None else user.id
    everything = user is not None and user.role == Role.ADMIN
    page = model_repo.list_models(
        session, visible_to=visible_to, everything=everything, limit=limit, offset=offset
    )
    return page, model_repo.count_models(session, visible_to=visible_to, everything=everything)


def update_model(
    session: Session, model_id: uuid.UUID, body: ModelUpdate, *, user: User
) -> MlipModel:
    """Change a model's card, params or elements; a submitter's edit goes back to review."""
    model = model_for_upload(session, model_id, user=user)
    if body.params is not None:
        _check_params(body.params)
        model.params = body.params
    if body.elements is not None:
        _check_elements(body.elements)
        model.elements = body.elements
    if body.card is not None:
        model.card = _card_json(_card_of(model, body.card))
    if user.role != Role.ADMIN:
        model.status = ModelStatus.PENDING
    session.flush()
    return model


def _card_of(model: MlipModel, card: ModelCard) -> ModelCard:
    """``card`` with the record's name, version and family, which an edit cannot change."""
    for field in ("name", "version", "family"):
        value, on_card = getattr(model, field), getattr(card, field)
        if on_card is not None and on_card != value:
            raise InvalidInput(
                f"card.{field} {on_card!r} differs from the model's {field} {value!r}",
                where=f"card.{field}",
            )
    names = {"name": model.name, "version": model.version, "family": model.family}
    return card.model_copy(update=names)


def review_model(session: Session, model_id: uuid.UUID, *, status: ModelStatus) -> MlipModel:
    """Approve or reject a model; admins only, checked by the route."""
    model = read_model(session, model_id)
    model.status = status
    session.flush()
    return model


def model_for_upload(session: Session, model_id: uuid.UUID, *, user: User) -> MlipModel:
    """The model whose file ``user`` may replace: their own, or any for an admin."""
    model = read_model(session, model_id)
    if user.role != Role.ADMIN and model.owner_id != user.id:
        raise PermissionDenied("only the model's owner or an admin may change it", where="model_id")
    return model


def attach_model_file(
    session: Session, model_id: uuid.UUID, *, key: str, sha256: str, user: User
) -> MlipModel:
    """Record an uploaded file (its artifact-store key) on the model.

    A new file is not trusted (trust is given to one reviewed file), and a submitter's model
    goes back to review, since its weights changed.
    """
    model = model_for_upload(session, model_id, user=user)
    model.artifact_key, model.artifact_sha256 = key, sha256
    model.is_trusted = False
    if user.role != Role.ADMIN:
        model.status = ModelStatus.PENDING
    session.flush()
    return model


def set_model_trust(session: Session, model_id: uuid.UUID, *, is_trusted: bool) -> MlipModel:
    """Mark (or unmark) a model's uploaded file as trusted; admins only, checked by the route."""
    model = read_model(session, model_id)
    if is_trusted and model.artifact_sha256 is None:
        raise Conflict(
            f"model {model.name!r} has no uploaded file to trust; upload it first "
            "(PUT /models/{model_id}/file)",
            where="model_id",
        )
    model.is_trusted = is_trusted
    session.flush()
    return model
