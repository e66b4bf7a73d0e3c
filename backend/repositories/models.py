"""SQL for model records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import MlipModel


def get_model(session: Session, model_id: uuid.UUID) -> MlipModel | None:
    return session.get(MlipModel, model_id)


def get_model_by_name(session: Session, name: str, version: str | None = None) -> MlipModel | None:
    query = select(MlipModel).where(MlipModel.name == name)
    if version is not None:
        query = query.where(MlipModel.version == version)
    return session.scalars(query.order_by(MlipModel.created_at.desc())).first()


def list_models(session: Session, *, limit: int = 100, offset: int = 0) -> list[MlipModel]:
    query = select(MlipModel).order_by(MlipModel.name, MlipModel.version)
    return list(session.scalars(query.limit(limit).offset(offset)))


def add_model(session: Session, **fields: Any) -> MlipModel:
    model = MlipModel(**fields)
    session.add(model)
    session.flush()
    return model
