"""Looks, dashboards and their tiles

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "looks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("folder_id", sa.Integer, sa.ForeignKey("folders.id"), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("chart", sa.String(32), nullable=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_looks_folder_id", "looks", ["folder_id"])
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("folder_id", sa.Integer, sa.ForeignKey("folders.id"), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("refresh_seconds", sa.Integer, nullable=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dashboards_folder_id", "dashboards", ["folder_id"])
    op.create_table(
        "dashboard_tiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dashboard_id", sa.Integer, sa.ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("look_id", sa.Integer, sa.ForeignKey("looks.id", ondelete="CASCADE"), nullable=True),
        sa.Column("spec", sa.JSON, nullable=True),
        sa.Column("chart", sa.String(32), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("x", sa.Integer, nullable=False),
        sa.Column("y", sa.Integer, nullable=False),
        sa.Column("w", sa.Integer, nullable=False),
        sa.Column("h", sa.Integer, nullable=False),
    )
    op.create_index("ix_dashboard_tiles_dashboard_id", "dashboard_tiles", ["dashboard_id"])
    op.create_index("ix_dashboard_tiles_look_id", "dashboard_tiles", ["look_id"])


def downgrade() -> None:
    for table in ("dashboard_tiles", "dashboards", "looks"):
        op.drop_table(table)
