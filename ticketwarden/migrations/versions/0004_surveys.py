"""Satisfaction surveys: one per survey effect, found by the hash of its personal token.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("effect_key", sa.String(64), nullable=False, unique=True),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("ticket_key", sa.String(64), nullable=False),
        sa.Column("ticket_url", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("field_ref", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("answered_at", UTCDateTime),
        sa.Column("score", sa.Integer),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_surveys_answered_at", "surveys", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_surveys_answered_at", "surveys")
    op.drop_table("surveys")
