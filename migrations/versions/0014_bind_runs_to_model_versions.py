"""bind runs to immutable model versions; keep the history of run attempts

Revision ID: 0014_bind_runs_to_model_versions
Revises: 0013_add_run_artifact_table
Create Date: 2026-12-03 13:00:00.000000

- ``mlip_model.version_hash``: sha256 of what the model's runs depend on (family, params, file
  sha256, elements; ``shared_kernel.hashing.model_version_hash``). ``sealed_at``: its review's
  approval or its first campaign, after which those inputs never change (an edit is a new
  version). ``packages``:
  the adapter's package versions, pinned by the first worker that runs the version.
- ``run.model_hash``: the version hash the run was created for, part of the run key, so a new
  version is evaluated afresh and old results stay with the version that produced them.
  ``run.attempt_base``: attempts made before the last rerun (the attempt cap counts above it).
- ``run_attempt``: earlier attempts of a run (reruns, hard time limit kills, stalled workers).

Existing models get their hash computed here; approved ones are sealed at their creation time;
existing runs take their model's hash.
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_bind_runs_to_model_versions"
down_revision: str | None = "0013_add_run_artifact_table"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _version_hash(family: str, params: dict, file_sha256: str | None, elements: list | None) -> str:
    # Frozen copy of shared_kernel.hashing.model_version_hash (a migration must not change later).
    blob = json.dumps(
        {
            "family": family,
            "params": dict(params or {}),
            "file_sha256": file_sha256,
            "elements": sorted(elements) if elements is not None else None,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def upgrade() -> None:
    op.add_column("mlip_model", sa.Column("version_hash", sa.String(length=64), nullable=True))
    op.add_column("mlip_model", sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "mlip_model",
        sa.Column("packages", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, family, params, artifact_sha256, elements FROM mlip_model")
    ).all()
    for row in rows:
        conn.execute(
            sa.text("UPDATE mlip_model SET version_hash = :h WHERE id = :id"),
            {
                "h": _version_hash(row.family, row.params, row.artifact_sha256, row.elements),
                "id": row.id,
            },
        )
    conn.execute(
        sa.text("UPDATE mlip_model SET sealed_at = created_at WHERE status = 'approved'")
    )
    op.alter_column("mlip_model", "version_hash", nullable=False)

    op.add_column("run", sa.Column("model_hash", sa.String(length=64), nullable=True))
    op.add_column(
        "run", sa.Column("attempt_base", sa.Integer(), server_default="0", nullable=False)
    )
    conn.execute(
        sa.text(
            "UPDATE run SET model_hash = m.version_hash FROM mlip_model m "
            "WHERE m.id = run.mlip_model_id"
        )
    )
    op.alter_column("run", "model_hash", nullable=False)
    op.drop_constraint(
        "uq_run_mlip_model_id_benchmark_id_structure_id_params_hash", "run", type_="unique"
    )
    op.create_unique_constraint(
        "uq_run_key",
        "run",
        ["mlip_model_id", "model_hash", "benchmark_id", "structure_id", "params_hash"],
    )

    op.create_table(
        "run_attempt",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_class", sa.String(length=40), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wall_s", sa.Float(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_attempt_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_attempt")),
        sa.UniqueConstraint("run_id", "attempt", name=op.f("uq_run_attempt_run_id_attempt")),
    )


def downgrade() -> None:
    op.drop_table("run_attempt")
    # Runs of two versions of one model may share a key without the hash: keep the newest.
    op.execute(
        "DELETE FROM run r USING run s WHERE r.mlip_model_id = s.mlip_model_id "
        "AND r.benchmark_id = s.benchmark_id AND r.structure_id = s.structure_id "
        "AND r.params_hash = s.params_hash AND r.created_at < s.created_at"
    )
    op.drop_constraint("uq_run_key", "run", type_="unique")
    op.create_unique_constraint(
        "uq_run_mlip_model_id_benchmark_id_structure_id_params_hash",
        "run",
        ["mlip_model_id", "benchmark_id", "structure_id", "params_hash"],
    )
    op.drop_column("run", "attempt_base")
    op.drop_column("run", "model_hash")
    op.drop_column("mlip_model", "packages")
    op.drop_column("mlip_model", "sealed_at")
    op.drop_column("mlip_model", "version_hash")
