"""Metadata: users, keys, content and settings, kept in SQLAlchemy (SQLite by default, PostgreSQL too)."""
