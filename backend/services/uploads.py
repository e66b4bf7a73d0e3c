"""What a submitter may store, and files nobody records any more.

Uploads are content-addressed (``shared_kernel.artifacts``): one key per distinct file,
shared by every model version that records it. A submitter's usage is the size of the distinct
files their models record; an upload may take what is left of ``MLIPM_USER_STORAGE_QUOTA_MB``
(admins: only the per-file limit). A file that a replacement left unrecorded by any model is
removed once the replacing transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.orm import Session

from backend.db.session import after_commit
from backend.db.tables import User
from backend.domain.statuses import Role
from backend.repositories import models as model_repo
from backend.settings import get_settings
from shared_kernel import artifacts
from shared_kernel.errors import PayloadTooLarge

log = logging.getLogger(__name__)
QUOTA_SETTING = "MLIPM_USER_STORAGE_QUOTA_MB"


def used_bytes(session: Session, user: User, *, store_url: str) -> int:
    """Bytes the distinct files of ``user``'s models take in the store."""
    store = artifacts.ArtifactStore(store_url)
    total = 0
    for key in model_repo.stored_keys_of_owner(session, user.id):
        try:
            total += int(store.fs.size(store.path(key)))
        except (FileNotFoundError, artifacts.ArtifactUnavailable):
            continue
    return total


def upload_limit(
    session: Session,
    user: User,
    *,
    per_file_bytes: int,
    per_file_setting: str,
    replaces: str | None,
    store_url: str,
) -> tuple[int, str]:
    """The largest upload ``user`` may send now, and the setting that limits it.

    ``replaces`` is the key of the file the upload would replace, which then no longer counts.

    Raises
    ------
    PayloadTooLarge
        When the quota is used up already (413 naming the quota and the usage).
    """
    if user.role == Role.ADMIN:
        return per_file_bytes, per_file_setting
    quota = int(get_settings().user_storage_quota_mb * artifacts.MIB)
    used = used_bytes(session, user, store_url=store_url)
    if replaces is not None and not _shared(session, replaces, user):
        try:
            store = artifacts.ArtifactStore(store_url)
            used -= int(store.fs.size(store.path(replaces)))
        except (FileNotFoundError, artifacts.ArtifactUnavailable):
            pass
    left = quota - used
    if left <= 0:
        raise PayloadTooLarge(
            f"your models' files take {used / artifacts.MIB:.1f} MiB of your "
            f"{quota / artifacts.MIB:.0f} MiB storage quota ({QUOTA_SETTING}); delete or "
            "replace files, or ask an admin",
            where="body",
        )
    if left < per_file_bytes:
        return left, QUOTA_SETTING
    return per_file_bytes, per_file_setting


def _shared(session: Session, key: str, user: User) -> bool:
    """Whether ``key`` is recorded by more than one of the user's model versions."""
    return len(model_repo.models_recording(session, key, owner_id=user.id)) > 1


def remove_unrecorded_after_commit(session: Session, keys: Iterable[str | None]) -> None:
    """Once ``session`` commits, remove the files of ``keys`` that no model records (checked
    in ``session``, after its changes)."""
    candidates = {key for key in keys if key}
    if not candidates:
        return
    session.flush()
    gone = candidates - model_repo.referenced_keys(session, candidates)
    if not gone:
        return
    store_url = get_settings().artifact_url

    def remove() -> None:
        store = artifacts.ArtifactStore(store_url)
        for key in sorted(gone):
            try:
                store.remove(key)
            except Exception:  # the file stays: it costs space, nothing else
                log.warning("could not remove the replaced upload %s", key, exc_info=True)
            else:
                log.info("removed the replaced upload %s (no model records it)", key)

    after_commit(session, remove)
