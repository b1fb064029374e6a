"""Accounts: users, groups, folders with group grants, the audit log, and owners of personal keys

Revision ID: 0003
Revises: 0002

Also creates the built-in "All Users" group and a "Shared" folder that it may edit, so a new project has
one place where everyone's shared content goes (roles still decide who may edit: Viewers never do).
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    groups = op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    folders = op.create_table(
        "folders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    grants = op.create_table(
        "folder_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("folder_id", sa.Integer, sa.ForeignKey("folders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("access", sa.String(16), nullable=False),
        sa.UniqueConstraint("folder_id", "group_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_api_keys_user_id", "users", ["user_id"], ["id"])
        batch.create_index("ix_api_keys_user_id", ["user_id"])

    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(groups, [{"id": 1, "name": "All Users", "builtin": True, "created_at": now}])
    op.bulk_insert(folders, [{"id": 1, "name": "Shared", "kind": "SHARED", "owner_id": None, "created_at": now}])
    op.bulk_insert(grants, [{"id": 1, "folder_id": 1, "group_id": 1, "access": "EDIT"}])
    _restart_sequences()


def _restart_sequences() -> None:
    """PostgreSQL's id sequences do not see rows inserted with explicit ids; move them past those rows."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("groups", "folders", "folder_grants"):
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_user_id")
        batch.drop_constraint("fk_api_keys_user_id", type_="foreignkey")
        batch.drop_column("user_id")
    for table in ("audit_log", "folder_grants", "folders", "group_members", "groups", "users"):
        op.drop_table(table)
