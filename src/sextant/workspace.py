"""An opened project: its settings, its warehouse (migrated) and its metadata database (upgraded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from sextant.auth.keys import CreatedKey, create_key
from sextant.metadata import database
from sextant.metadata.models import KeyKind
from sextant.project import Project
from sextant.warehouse import migrations
from sextant.warehouse.engine import Engine, connect


@dataclass
class Workspace:
    project: Project
    warehouse: Engine
    metadata: sessionmaker[Session]

    @classmethod
    def open(cls, directory: str | Path) -> Workspace:
        """Open a project for writing: this process becomes the warehouse's one writer."""
        project = Project.load(directory)
        database.upgrade(project.metadata_url)
        warehouse = connect(project.warehouse_url)
        migrations.migrate(warehouse)
        return cls(project, warehouse, database.connect(project.metadata_url))

    @classmethod
    def initialize(
        cls,
        directory: str | Path,
        *,
        name: str | None = None,
        timezone: str = "UTC",
        warehouse: str | None = None,
    ) -> tuple[Workspace, CreatedKey]:
        """Create a project and its first (admin) ingest key."""
        Project.create(directory, name=name, timezone=timezone, warehouse=warehouse)
        workspace = cls.open(directory)
        key = create_key(workspace.metadata, KeyKind.INGEST, "admin ingest key")
        return workspace, key

    def close(self) -> None:
        self.warehouse.close()
        self.metadata.kw["bind"].dispose()
