"""Training sets uploaded with a model: the platform's own counts and structure hashes.

Reading the file needs ASE, which the web tier never imports: the reader is a plain function
handed to the app at creation (``backend.main``), and this module only records its summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, User
from backend.domain.statuses import ModelStatus, Role
from backend.repositories import models as model_repo
from backend.schemas.models import LeakageRead, LeakedStructure
from backend.services import models
from backend.services.models import KNOWN_SYMBOLS
from shared_kernel.errors import InvalidInput

#: Two structures whose fingerprints (``workers.fingerprints``) have equal keys and differ by
#: at most this much in every entry (bond lengths and the cube root of the volume per atom,
#: Å) are the same structure for the leakage check: far above extxyz's 8-decimal rounding
#: and a 1e-6 Å perturbation, far below the 0.05 Å a 2 % strain moves a bond.
FINGERPRINT_TOLERANCE_A = 1e-3


class StructureFingerprint(Protocol):
    """``workers.fingerprints.Fingerprint``: equal ``key`` and close ``values`` (Å)."""

    @property
    def key(self) -> str: ...
    @property
    def values(self) -> Sequence[float]: ...


class TrainingSetSummary(Protocol):
    """What a reader returns (``workers.training_sets.TrainingSetSummary`` fits)."""

    @property
    def n_structures(self) -> int: ...
    @property
    def element_counts(self) -> Mapping[str, int]: ...
    @property
    def content_hashes(self) -> Sequence[str]: ...
    @property
    def fingerprints(self) -> Sequence[StructureFingerprint | None]: ...


@dataclass(frozen=True, slots=True)
class FingerprintData:
    """A ``StructureFingerprint`` as plain data."""

    key: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class TrainingSetSummaryData:
    """A ``TrainingSetSummary`` as plain data: what crosses back from the bounded parse
    process (``backend.services.bounded``) without the parent importing the reader's modules."""

    n_structures: int
    element_counts: dict[str, int]
    content_hashes: tuple[str, ...]
    fingerprints: tuple[FingerprintData | None, ...]

    @classmethod
    def of(cls, summary: TrainingSetSummary) -> TrainingSetSummaryData:
        return cls(
            n_structures=int(summary.n_structures),
            element_counts={str(k): int(v) for k, v in summary.element_counts.items()},
            content_hashes=tuple(str(h) for h in summary.content_hashes),
            fingerprints=tuple(
                None
                if f is None
                else FingerprintData(str(f.key), tuple(float(v) for v in f.values))
                for f in summary.fingerprints
            ),
        )


#: Reads a stored file; raises InvalidInput (422) when it is not a readable training set.
TrainingSetReader = Callable[[Path], TrainingSetSummary]


def attach_training_set(
    session: Session,
    model_id: uuid.UUID,
    *,
    key: str,
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
    model.training_set_key, model.training_set_sha256 = key, sha256
    model.training_n_structures = summary.n_structures
    model.training_element_counts = dict(summary.element_counts)
    fingerprints = {
        h: (f.key, tuple(f.values))
        for h, f in zip(summary.content_hashes, summary.fingerprints, strict=False)
        if f is not None
    }
    model_repo.replace_training_hashes(session, model.id, summary.content_hashes, fingerprints)
    if user.role != Role.ADMIN:
        model.status = ModelStatus.PENDING
    session.flush()
    return model


def leakage(session: Session, model_id: uuid.UUID, *, user: User | None) -> LeakageRead:
    """Benchmark structures that appear in the model's training set: byte for byte as ASE
    JSON (``identical``), or as the same structure within ``FINGERPRINT_TOLERANCE_A``
    (``within_tolerance``: rotated, translated, re-ordered, rounded by extxyz, a supercell)."""
    model = models.visible_model(session, model_id, user=user)
    found: dict[uuid.UUID, LeakedStructure] = {}
    matches = (
        ("identical", model_repo.leaked_structures(session, model.id)),
        (
            "within_tolerance",
            model_repo.near_leaked_structures(session, model.id, tolerance=FINGERPRINT_TOLERANCE_A),
        ),
    )
    for match, rows in matches:
        for s, set_name in rows:
            found.setdefault(
                s.id,
                LeakedStructure(
                    structure_id=s.id,
                    structure_set=set_name,
                    label=s.label,
                    formula=s.formula,
                    content_hash=s.content_hash,
                    match=match,
                ),
            )
    leaked = sorted(found.values(), key=lambda s: (s.structure_set, s.label))
    return LeakageRead(
        model_id=model.id, training_n_structures=model.training_n_structures, leaked=leaked
    )
