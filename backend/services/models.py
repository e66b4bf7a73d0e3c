"""Model records: submissions and the built-in baselines.

A record is one model version. What its runs depend on (family, params, file, elements) is
hashed into ``version_hash``. The version is sealed (``sealed_at``) when an admin approves it
after review, or when a campaign first asks for it (an admin's own submission is approved
without review, so that its file can still be uploaded): from then on those inputs never
change, so every result stays bound to what produced it. Changing them means a new version
(``create_version``), reviewed and evaluated afresh; card and training-set edits do not change
what runs compute and stay possible.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.tables import MlipModel, User
from backend.domain.elements import chemical_symbols
from backend.domain.statuses import ModelStatus, Role
from backend.repositories import models as model_repo
from backend.schemas.model_card import ModelCard
from backend.schemas.models import ModelCreate, ModelUpdate, ModelVersionCreate
from shared_kernel.errors import (
    Conflict,
    Inconsistent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from shared_kernel.hashing import model_version_hash

KNOWN_SYMBOLS = frozenset(chemical_symbols[1:])
#: Params the platform sets itself: the worker passes the record's ``is_trusted`` as
#: ``params["trusted"]``, so a submitter must not be able to write it.
RESERVED_PARAMS = frozenset({"trusted"})
#: Params adapters resolve as paths on the worker's disk (workers/adapters/weights.py): only
#: an admin may set them, so nothing a submitter sends reaches a host path.
PATH_PARAMS = frozenset({"weights_path"})
#: Params adapters use as a file or directory name (a checkpoint's name, a cache entry): a
#: plain name, never a path.
NAME_PARAMS = frozenset({"model"})


def submit_model(session: Session, body: ModelCreate, *, owner: User) -> MlipModel:
    """Register a model; an admin's is approved at once, a submitter's waits for review."""
    if model_repo.get_model_by_name(session, body.name, body.version) is not None:
        raise Conflict(f"model {body.name!r} version {body.version!r} exists", where="name")
    _check_params(body.params, user=owner)
    _check_elements(body.elements)
    fields = body.model_dump(mode="json", exclude={"card"})
    return model_repo.add_model(
        session,
        **fields,
        **_review_fields(owner),
        version_hash=model_version_hash(body.family, body.params, None, body.elements),
        card=_card_json(body.card),
        owner_id=owner.id,
        is_baseline=False,
    )


def _review_fields(user: User) -> dict[str, Any]:
    """An admin's version is approved at once; a submitter's waits for review."""
    if user.role == Role.ADMIN:
        return {"status": ModelStatus.APPROVED}
    return {"status": ModelStatus.PENDING}


def seal(models: list[MlipModel]) -> None:
    """Seal the versions a campaign is about to use (see the module docstring)."""
    for model in models:
        if model.sealed_at is None:
            model.sealed_at = utcnow()


def rehash(model: MlipModel) -> None:
    """Recompute the version hash after an edit of an unsealed version."""
    model.version_hash = model_version_hash(
        model.family, model.params, model.artifact_sha256, model.elements
    )


def _refuse_if_sealed(model: MlipModel, *, what: str, where: str) -> None:
    if model.sealed_at is not None:
        raise Conflict(
            f"model {model.name!r} version {model.version!r} is sealed (approved after review, "
            f"or used by a campaign): its {what} cannot change, its results are bound to them. "
            "Create a new version with "
            f"POST /models/{model.id}/versions (it is reviewed and evaluated afresh)",
            where=where,
        )


def _card_json(card: ModelCard) -> dict[str, Any]:
    return card.model_dump(mode="json", exclude_none=True)


def _check_params(
    params: dict[str, Any], *, user: User, previous: dict[str, Any] | None = None
) -> None:
    """Refuse params the platform sets, path params from a submitter (unless kept unchanged
    from ``previous``, the version's or the source's params) and names that are paths."""
    reserved = sorted(RESERVED_PARAMS & set(params))
    if reserved:
        raise InvalidInput(
            f"params {reserved} are set by the platform (an admin trusts a model with "
            "POST /models/{model_id}/trust)",
            where=f"params.{reserved[0]}",
        )
    if user.role != Role.ADMIN:
        _check_path_params(params, previous or {})
    for key in sorted(NAME_PARAMS & set(params)):
        _check_plain_name(key, params[key])


def _check_path_params(params: dict[str, Any], previous: dict[str, Any]) -> None:
    changed = sorted(k for k in PATH_PARAMS & set(params) if params[k] != previous.get(k))
    if changed:
        raise InvalidInput(
            f"params.{changed[0]} is a path on the workers' disk and only an admin may set it; "
            "upload the weights instead (PUT /models/{model_id}/file: the file, or a "
            ".tar.gz/.zip of a weights directory)",
            where=f"params.{changed[0]}",
        )


def _check_plain_name(key: str, value: Any) -> None:
    text = str(value)
    if "/" in text or "\\" in text or text.startswith(".") or "\x00" in text:
        raise InvalidInput(
            f"params.{key} = {text[:100]!r} must be a plain name (no '/', '\\', leading '.')",
            where=f"params.{key}",
        )


def _check_elements(elements: list[str] | None) -> None:
    if elements is not None:
        unknown = sorted(set(elements) - KNOWN_SYMBOLS)
        if unknown:
            raise InvalidInput(f"unknown element symbol(s) {unknown}", where="elements")


def upsert_builtin(session: Session, **fields: Any) -> tuple[MlipModel, bool]:
    """Register a built-in model (baseline or packaged MLIP) once; an existing one is kept,
    its card brought up to date (the card is metadata, not what runs depend on: a newer
    release may complete it, e.g. with published training-set counts)."""
    # Built-in cards go through the same schema as submitted ones (raises if one does not fit).
    checked = ModelCreate.model_validate(
        {k: fields[k] for k in ("name", "version", "family", "params", "card", "elements")}
    )
    card = _card_json(checked.card)
    existing = model_repo.get_model_by_name(session, fields["name"], fields["version"])
    if existing is not None:
        if existing.card != card:
            existing.card = card
            session.flush()
        return existing, False
    fields = {
        **fields,
        "card": card,
        "version_hash": model_version_hash(
            checked.family, checked.params, fields.get("artifact_sha256"), checked.elements
        ),
    }
    model = model_repo.add_model(
        session, **fields, status=ModelStatus.APPROVED, sealed_at=utcnow(), owner_id=None
    )  # built-ins are what the platform ships: sealed from the start
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
    """Change a model's card, params or elements; a submitter's edit goes back to review.

    Params and elements of a sealed version cannot change (Conflict): see ``create_version``.
    """
    model = model_for_upload(session, model_id, user=user)
    if body.params is not None:
        _refuse_if_sealed(model, what="params", where="params")
        _check_params(body.params, user=user, previous=model.params)
        model.params = body.params
    if body.elements is not None:
        _refuse_if_sealed(model, what="elements", where="elements")
        _check_elements(body.elements)
        model.elements = body.elements
    rehash(model)
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
            raise Inconsistent(
                f"card.{field} {on_card!r} differs from the model's {field} {value!r}",
                where=f"card.{field}",
            )
    names = {"name": model.name, "version": model.version, "family": model.family}
    return card.model_copy(update=names)


def review_model(session: Session, model_id: uuid.UUID, *, status: ModelStatus) -> MlipModel:
    """Approve or reject a model; admins only, checked by the route. Approval seals the
    version's inputs."""
    model = read_model(session, model_id)
    model.status = status
    if status == ModelStatus.APPROVED and model.sealed_at is None:
        model.sealed_at = utcnow()
    session.flush()
    return model


def model_for_upload(session: Session, model_id: uuid.UUID, *, user: User) -> MlipModel:
    """The model ``user`` may change: their own, or any for an admin."""
    model = read_model(session, model_id)
    if user.role != Role.ADMIN and model.owner_id != user.id:
        raise PermissionDenied("only the model's owner or an admin may change it", where="model_id")
    return model


def model_for_file_upload(session: Session, model_id: uuid.UUID, *, user: User) -> MlipModel:
    """The model whose file ``user`` may replace: as ``model_for_upload``, and not sealed."""
    model = model_for_upload(session, model_id, user=user)
    _refuse_if_sealed(model, what="file", where="model_id")
    return model


def attach_model_file(
    session: Session, model_id: uuid.UUID, *, key: str, sha256: str, user: User
) -> MlipModel:
    """Record an uploaded file (its artifact-store key) on the model.

    A new file is not trusted (trust is given to one reviewed file), and a submitter's model
    goes back to review, since its weights changed.
    """
    model = model_for_file_upload(session, model_id, user=user)
    model.artifact_key, model.artifact_sha256 = key, sha256
    model.is_trusted = False
    rehash(model)
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


def create_version(
    session: Session, model_id: uuid.UUID, body: ModelVersionCreate, *, user: User
) -> MlipModel:
    """A new version of a model (owner or admin): the source's family, file, card and training
    set, with the params, elements and card of ``body`` where given.

    It starts untrusted; an admin's is approved at once, a submitter's waits for review. The
    source version and its results are untouched.
    """
    source = model_for_upload(session, model_id, user=user)
    version = body.version or _next_version(session, source)
    if model_repo.get_model_by_name(session, source.name, version) is not None:
        raise Conflict(f"model {source.name!r} version {version!r} exists", where="version")
    params = source.params if body.params is None else body.params
    elements = source.elements if body.elements is None else body.elements
    _check_params(params, user=user, previous=source.params)
    _check_elements(elements)
    card = ModelCard.model_validate(source.card) if body.card is None else body.card
    card = card.model_copy(update={"name": source.name, "version": version})
    file_key, file_sha = (
        (source.artifact_key, source.artifact_sha256) if body.keep_file else (None, None)
    )
    model = model_repo.add_model(
        session,
        name=source.name,
        version=version,
        family=source.family,
        params=params,
        elements=elements,
        card=_card_json(card),
        artifact_key=file_key,
        artifact_sha256=file_sha,
        version_hash=model_version_hash(source.family, params, file_sha, elements),
        is_baseline=source.is_baseline,
        owner_id=source.owner_id,
        training_set_key=source.training_set_key,
        training_set_sha256=source.training_set_sha256,
        training_n_structures=source.training_n_structures,
        training_element_counts=source.training_element_counts,
        **_review_fields(user),
    )
    model_repo.copy_training_hashes(session, source.id, model.id)
    return model


def _next_version(session: Session, source: MlipModel) -> str:
    """The source's version + 1 if it is a number, else ``<version>-2``, ``-3``, ... unused."""
    taken = set(model_repo.versions_of(session, source.name))
    if source.version.isdigit():
        number = int(source.version) + 1
        while str(number) in taken:
            number += 1
        return str(number)
    suffix = 2
    while f"{source.version}-{suffix}" in taken:
        suffix += 1
    return f"{source.version}-{suffix}"
