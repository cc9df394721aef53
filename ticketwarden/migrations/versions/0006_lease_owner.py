"""Claims name their owner: a restarted process takes its own back at once, and a ticket's
effects held by one process are not taken by another.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("lease_owner", sa.String(128)))
    op.add_column("outbox", sa.Column("lease_owner", sa.String(128)))
    op.create_index("ix_outbox_ticket_state", "outbox", ["tracker", "ticket_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_ticket_state", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_owner")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("lease_owner")
