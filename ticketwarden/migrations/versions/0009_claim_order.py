"""The queues' rows by state in claim order: a claim reads the oldest due rows first and stops
at its limit, however long the backlog. The index by state and availability goes: SQLite's
planner chose it for the claim, and then sorted every pending row.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("inbox", "outbox"):
        op.drop_index(f"ix_{table}_state_available_at", table_name=table)
        op.create_index(f"ix_{table}_state_id", table, ["state", "id"])


def downgrade() -> None:
    for table in ("inbox", "outbox"):
        op.drop_index(f"ix_{table}_state_id", table_name=table)
        op.create_index(f"ix_{table}_state_available_at", table, ["state", "available_at"])
