"""operator console: API keys, and the indexes its pages need at 100k deliveries and jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (index, table, columns): every page filters by some of these and orders newest first.
INDEXES = (
    ("ix_deliveries_repo_id", "deliveries", ["repo", "id"]),
    ("ix_deliveries_outcome_id", "deliveries", ["outcome", "id"]),
    ("ix_deliveries_forge_id", "deliveries", ["forge", "id"]),
    ("ix_job_runs_repo_id", "job_runs", ["repo", "id"]),
    ("ix_job_runs_status_id", "job_runs", ["status", "id"]),
    ("ix_job_runs_change", "job_runs", ["forge", "repo", "number"]),
    ("ix_job_runs_started_at", "job_runs", ["started_at"]),
    ("ix_job_runs_finished_at", "job_runs", ["finished_at"]),
)


def upgrade() -> None:
    op.create_table(
        "console_api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("console_api_keys")
