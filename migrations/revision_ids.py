"""The revision ids before they followed the chain, and the rewrite of a database stamped so.

Revision ids were four digits out of chain order (0001-0004, 0007, 0010, 0005, 0008, 0009,
0006, 0011-0015). They are now ``<position>_<slug>`` (the file name without ``.py``). No new
id equals an old one, but Alembic resolves an unknown id by prefix, so a database stamped
with an old id would otherwise be read as the new revision that starts with those digits
(old ``0007`` as ``0007_store_relative_error``, which is two steps later).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

logger = logging.getLogger("alembic.env")

OLD_REVISION_IDS: dict[str, str] = {
    "0001": "0001_create_initial_schema",
    "0002": "0002_add_run_leases_and_limits",
    "0003": "0003_add_mlip_model_is_trusted",
    "0004": "0004_add_model_training_sets",
    "0007": "0005_add_leaderboard_summaries",
    "0010": "0006_store_artifact_keys",
    "0005": "0007_store_relative_error",
    "0008": "0008_add_projection_table",
    "0009": "0009_add_structure_fingerprints",
    "0006": "0010_add_structure_set_owner",
    "0011": "0011_add_run_status_summary",
    "0012": "0012_add_value_summary",
    "0013": "0013_add_run_artifact_table",
    "0014": "0014_bind_runs_to_model_versions",
    "0015": "0015_add_user_disabled_at",
}


def remap_old_revision_id(connection: Connection) -> None:
    """Rewrite an old id in ``alembic_version`` to the new id of the same migration.

    One UPDATE in the caller's transaction, before Alembic reads the version; a database
    without the table, at base, or stamped with a new id is left as it is.
    """
    if connection.scalar(sa.text("SELECT to_regclass('alembic_version')")) is None:
        return
    version = sa.table("alembic_version", sa.column("version_num", sa.String))
    remap = sa.values(sa.column("old", sa.String), sa.column("new", sa.String), name="remap").data(
        list(OLD_REVISION_IDS.items())
    )
    rows = connection.execute(
        version.update()
        .values(version_num=remap.c.new)
        .where(version.c.version_num == remap.c.old)
        .returning(remap.c.old, remap.c.new)
    ).all()
    for old, new in rows:
        logger.info("Rewrote the old revision id %s in alembic_version to %s", old, new)
