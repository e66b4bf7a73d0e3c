"""store artifact keys, not host paths

Model files and training sets were recorded by the absolute path of the API host's artifact
directory (``<dir>/<sha[:2]>/<sha>``), which a worker on another host cannot read. Records now
hold the store-relative key ``<sha[:2]>/<sha>``, resolved by every process against its own
MLIPM_ARTIFACT_URL. Existing content-addressed paths become their keys (the default store URL,
``file://<MLIPM_ARTIFACT_DIR>``, still finds those files); a path that is not content-addressed
is kept as it was, and a run of that model fails with setup_error naming it until the file is
uploaded again. Downgrading keeps the relative keys (the host directory is not known here).

Revision ID: 0006_store_artifact_keys
Revises: 0005_add_leaderboard_summaries
Create Date: 2026-11-25 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_store_artifact_keys"
down_revision: str | None = "0005_add_leaderboard_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("artifact_path", "artifact_key", "artifact_sha256"),
            ("training_set_path", "training_set_key", "training_set_sha256"))


def upgrade() -> None:
    for old, new, sha in _COLUMNS:
        op.alter_column('mlip_model', old, new_column_name=new)
        op.execute(sa.text(
            f"UPDATE mlip_model SET {new} = substr({sha}, 1, 2) || '/' || {sha} "
            f"WHERE {sha} IS NOT NULL "
            f"AND right({new}, 68) = '/' || substr({sha}, 1, 2) || '/' || {sha}"
        ))


def downgrade() -> None:
    for old, new, _sha in _COLUMNS:
        op.alter_column('mlip_model', new, new_column_name=old)
