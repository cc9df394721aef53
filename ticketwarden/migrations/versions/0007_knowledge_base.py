"""Knowledge base: the articles ticketwarden wrote (one per key, with the words they are found
by) and the incidents they helped (suggested to, or added to an article as a source).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from ticketwarden.store import BigId, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(16), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("product", sa.String(255), nullable=False),
        sa.Column("url", sa.String(512)),
        sa.Column("parts", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("tracker", "project", "key", name="uq_kb_articles_key"),
    )
    op.create_table(
        "kb_links",
        sa.Column("tracker", sa.String(16), primary_key=True),
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("article_id", BigId, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kb_links")
    op.drop_table("kb_articles")
