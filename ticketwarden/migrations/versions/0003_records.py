"""Quality records (development issues, nonconformities, observations), failure-origin
history, and one row of facts per ticket for measures and indicators.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import BigId, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("target_id", sa.String(64)),
        sa.Column("target_key", sa.String(64)),
        sa.Column("target_url", sa.String(512)),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("action_due", UTCDateTime),
        sa.Column("review_due", UTCDateTime),
        sa.Column("fired", sa.Text, nullable=False, server_default="[]"),
        sa.Column("next_check", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.UniqueConstraint("tracker", "kind", "cause", name="uq_records_cause"),
    )
    op.create_index("ix_records_target", "records", ["tracker", "target_id"])
    op.create_index("ix_records_next_check", "records", ["next_check"])
    op.create_table(
        "origin_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("old", sa.String(128)),
        sa.Column("new", sa.String(128)),
        sa.Column("by_kind", sa.String(16), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("event", sa.String(255), nullable=False),
        sa.UniqueConstraint("tracker", "ticket_id", "event", name="uq_origin_history_event"),
    )
    op.create_index("ix_origin_history_ticket", "origin_history", ["tracker", "ticket_id"])
    op.create_table(
        "ticket_facts",
        sa.Column("tracker", sa.String(16), primary_key=True),
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(128), nullable=False),
        sa.Column("priority", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128)),
        sa.Column("customer", sa.String(255)),
        sa.Column("origin", sa.String(128)),
        sa.Column("incident", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("breaches", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_ticket_facts_created", "ticket_facts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_facts_created", "ticket_facts")
    op.drop_table("ticket_facts")
    op.drop_index("ix_origin_history_ticket", "origin_history")
    op.drop_table("origin_history")
    op.drop_index("ix_records_next_check", "records")
    op.drop_index("ix_records_target", "records")
    op.drop_table("records")
