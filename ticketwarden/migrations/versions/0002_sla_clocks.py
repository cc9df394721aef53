"""SLA clocks: one row per (ticket, policy, cycle) with its history; due moments indexed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime),
        sa.Column("next_check", UTCDateTime),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("tracker", "ticket_id", "policy", "cycle", name="uq_sla_clocks_cycle"),
    )
    op.create_index("ix_sla_clocks_next_check", "sla_clocks", ["next_check"])
    op.create_index("ix_sla_clocks_due_at", "sla_clocks", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_due_at", "sla_clocks")
    op.drop_index("ix_sla_clocks_next_check", "sla_clocks")
    op.drop_table("sla_clocks")
