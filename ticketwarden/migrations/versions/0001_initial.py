"""Inbox, outbox (effect ledger), audit log and named values.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("shape", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("available_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("processed_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("source", "dedup_key", name="uq_inbox_source_dedup_key"),
    )
    op.create_index("ix_inbox_state_available_at", "inbox", ["state", "available_at"])
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("effect_key", sa.String(64), nullable=False, unique=True),
        sa.Column("inbox_id", BigId, sa.ForeignKey("inbox.id", name="fk_outbox_inbox_id")),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("available_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("applied_at", UTCDateTime),
        sa.Column("outcome", sa.Text),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_state_available_at", "outbox", ["state", "available_at"])
    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_ticket", "audit", ["tracker", "ticket_id"])
    op.create_table(
        "named_values",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("named_values")
    op.drop_index("ix_audit_ticket", "audit")
    op.drop_table("audit")
    op.drop_index("ix_outbox_state_available_at", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbox_state_available_at", "inbox")
    op.drop_table("inbox")
