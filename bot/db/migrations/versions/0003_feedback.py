"""feedback on findings (issue 16): signals per finding, outcome, repository rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("findings", sa.Column("replacement", sa.Text(), nullable=True))
    op.add_column("findings", sa.Column("outcome", sa.String(16), nullable=True))
    op.create_table(
        "finding_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("forge", sa.String(16), nullable=False),
        sa.Column("repo", sa.String(512), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint(
            "forge", "repo", "number", "fingerprint", "key", name="uq_finding_feedback_key"
        ),
    )
    op.create_index("ix_finding_feedback_repo", "finding_feedback", ["forge", "repo"])
    op.create_table(
        "repo_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("forge", sa.String(16), nullable=False),
        sa.Column("repo", sa.String(512), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("source_comment", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("forge", "repo", "source_comment", name="uq_repo_rules_source"),
    )
    op.create_index("ix_repo_rules_repo", "repo_rules", ["forge", "repo"])


def downgrade() -> None:
    op.drop_index("ix_repo_rules_repo", table_name="repo_rules")
    op.drop_table("repo_rules")
    op.drop_index("ix_finding_feedback_repo", table_name="finding_feedback")
    op.drop_table("finding_feedback")
    op.drop_column("findings", "outcome")
    op.drop_column("findings", "replacement")
