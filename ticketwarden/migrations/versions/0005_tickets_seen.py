"""The newest state seen of each ticket, so deliveries that are not stale need no tracker read.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets_seen",
        sa.Column("tracker", sa.String(16), primary_key=True),
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("issue", sa.Text, nullable=False),
        sa.Column("stale", sa.Boolean, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tickets_seen")
