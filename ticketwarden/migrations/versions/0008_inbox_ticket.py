"""Inbox items name their ticket: one worker at a time decides on a ticket.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("ticket", sa.String(96)))
    op.create_index("ix_inbox_ticket_state", "inbox", ["ticket", "state"])


def downgrade() -> None:
    op.drop_index("ix_inbox_ticket_state", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("ticket")
