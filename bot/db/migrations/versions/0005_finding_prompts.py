"""findings.prompt: the exact messages of the review request each finding came from

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON text: [{"role": ..., "content": ...}, ...] (`assist export feedback` reads it).
    op.add_column("findings", sa.Column("prompt", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("findings", "prompt")
