"""Training sets uploaded with a model: the platform's own counts and structure hashes.

Reading the file needs ASE, which the web tier never imports: the reader is a plain function
handed to the app at creation (``backend.main``), and this module only records its summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from backend.db.models import MlipModel, ModelStatus, Role, User
from backend.domain.errors import InvalidInput
from backend.repositories import models as model_repo
from backend.schemas.models import LeakageRead, LeakedStructure
from backend.services import models
from backend.services.models import KNOWN_SYMBOLS


class TrainingSetSummary(Protocol):
    """What a reader returns (``workers.training_sets.TrainingSetSummary`` fits)."""

    @property
    def n_structures(self) -> int: ...
    @property
    def element_counts(self) -> Mapping[str, int]: ...
    @property
    def content_hashes(self) -> Sequence[str]: ...


#: Reads a stored file; raises InvalidInput (422) when it is not a readable training set.
TrainingSetReader = Callable[[Path], TrainingSetSummary]


def attach_training_set(
    session: Session,
    model_id: uuid.UUID,
    *,
    path: str,
    sha256: str,
    summary: TrainingSetSummary,
    user: User,
) -> MlipModel:
    """Record an uploaded training set's summary and structure hashes on the model.

    Everything is checked before anything is written, so a refused file leaves no rows. A
    submitter's model goes back to review, as for a new model file.
    """
    model = models.model_for_upload(session, model_id, user=user)
    unknown = sorted(set(summary.element_counts) - KNOWN_SYMBOLS)
    if unknown:
        raise InvalidInput(f"unknown element symbol(s) {unknown} in the training set", where="body")
    model.training_set_path, model.training_set_sha256 = path, sha256
    model.training_n_structures = summary.n_structures
    model.training_element_counts = dict(summary.element_counts)
    model_repo.replace_training_hashes(session, model.id, summary.content_hashes)
    if user.role != Role.ADMIN:
        model.status = ModelStatus.PENDING
    session.flush()
    return model


def leakage(session: Session, model_id: uuid.UUID, *, user: User | None) -> LeakageRead:
    """Benchmark structures that appear, byte for byte as ASE JSON, in the model's training set."""
    model = models.visible_model(session, model_id, user=user)
    leaked = [
        LeakedStructure(
            structure_id=s.id,
            structure_set=set_name,
            label=s.label,
            formula=s.formula,
            content_hash=s.content_hash,
        )
        for s, set_name in model_repo.leaked_structures(session, model.id)
    ]
    return LeakageRead(
        model_id=model.id, training_n_structures=model.training_n_structures, leaked=leaked
    )
