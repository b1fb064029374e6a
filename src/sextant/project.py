"""A Sextant project directory: its `sextant.yaml` settings and the paths of everything it holds."""

from __future__ import annotations

import re
import secrets
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from sextant.errors import ConfigError

CONFIG_FILE = "sextant.yaml"

_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_quantity(value: object, units: dict[str, int], example: str) -> object:
    """Read `20MB` or `7d` style settings; plain numbers pass through."""
    if not isinstance(value, str):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match or match.group(2).lower() not in units:
        raise ValueError(f"{value!r} is not understood; write it like {example}")
    return int(float(match.group(1)) * units[match.group(2).lower()])


ByteSize = Annotated[int, BeforeValidator(lambda v: _parse_quantity(v, _SIZE_UNITS, "20MB"))]
Seconds = Annotated[int, BeforeValidator(lambda v: _parse_quantity(v, _DURATION_UNITS, "7d"))]


class IngestSettings(BaseModel):
    """Limits and tuning of the ingestion pipeline."""

    model_config = ConfigDict(extra="forbid")

    max_request_bytes: ByteSize = 20 * 1024**2
    max_event_bytes: ByteSize = 1024**2
    # Properties above this size are stored but flagged in ingestion_warnings.
    large_properties_bytes: ByteSize = 64 * 1024
    dedup_window: Seconds = 7 * 86400
    # Timestamps further ahead of the server clock than this are clamped to the receive time.
    future_tolerance: Seconds = 3600
    rate_limit_per_second: float = 1000.0
    rate_limit_burst: int = 2000
    # Events accepted but not yet written; above this, requests get 503 until the writer catches up.
    max_pending_events: int = 2_000_000
    flush_interval_ms: int = 200
    intake_threads: int = 2
    flush_max_events: int = 250_000
    # The server rebuilds the person timelines (ordered events for funnels, retention and active users) when
    # ingestion is idle and this many events arrived since the last build, or, idle or not, once any arrived
    # this long ago (ingest/compaction.py).
    timeline_min_events: int = 10_000
    timeline_max_age: Seconds = 600


class TelemetrySettings(BaseModel):
    """Self-hosted instances' pings."""

    model_config = ConfigDict(extra="forbid")

    # Released versions of the product; /updates tells instances about the newest.
    releases: list[str] = []
    # The only ping fields stored for instances with critical telemetry (billing, support, updates, security).
    critical_fields: list[str] = [
        "site_id",
        "version",
        "deployment_type",
        "total_users",
        "installer_email",
        "license_key",
        "timestamp",
        "telemetry_level",
    ]


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000


class ProjectConfig(BaseModel):
    """The contents of `sextant.yaml`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    timezone: str = "UTC"
    warehouse: str = "duckdb:///warehouse.duckdb"
    metadata: str = "sqlite:///metadata.db"
    secret_key: str | None = None
    server: ServerSettings = ServerSettings()
    ingest: IngestSettings = IngestSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value


@dataclass(frozen=True)
class Project:
    """A loaded project: its directory and settings."""

    directory: Path
    config: ProjectConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state_dir(self) -> Path:
        return self.directory / ".sextant"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def server_file(self) -> Path:
        """Written by a running server so that CLI commands send their writes to it."""
        return self.state_dir / "server.json"

    @property
    def warehouse_url(self) -> str:
        return _resolve_url(self.config.warehouse, self.directory)

    @property
    def metadata_url(self) -> str:
        return _resolve_url(self.config.metadata, self.directory)

    def save(self, config: ProjectConfig) -> Project:
        """Write new settings to `sextant.yaml`."""
        (self.directory / CONFIG_FILE).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        return Project(self.directory, config)

    @classmethod
    def load(cls, directory: str | Path) -> Project:
        directory = Path(directory).resolve()
        path = directory / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(
                f"{directory} is not a Sextant project (no {CONFIG_FILE}); create one with `sextant init {directory}`"
            )
        try:
            raw = yaml.safe_load(path.read_text()) or {}
            config = ProjectConfig.model_validate(raw)
        except (yaml.YAMLError, ValidationError) as error:
            raise ConfigError(f"{path} is invalid: {error}") from None
        return cls(directory, config)

    @classmethod
    def create(
        cls,
        directory: str | Path,
        *,
        name: str | None = None,
        timezone: str = "UTC",
        warehouse: str | None = None,
    ) -> Project:
        """Write a new project's files. The warehouse and metadata are created by `sextant.bootstrap`."""
        directory = Path(directory).resolve()
        if (directory / CONFIG_FILE).exists():
            raise ConfigError(f"{directory} already holds a Sextant project; open it with `sextant serve {directory}`")
        try:
            config = ProjectConfig(
                name=name or _name_from_directory(directory),
                timezone=timezone,
                warehouse=warehouse or "duckdb:///warehouse.duckdb",
                secret_key=secrets.token_urlsafe(32),
            )
        except ValidationError as error:
            raise ConfigError(f"cannot create the project: {error}") from None
        directory.mkdir(parents=True, exist_ok=True)
        for folder in ("models", "pipelines"):
            (directory / folder).mkdir(exist_ok=True)
        plan = directory / "tracking_plan.yaml"
        if not plan.exists():
            plan.write_text("# The tracking plan: events and properties this project expects.\nevents: {}\n")
        (directory / CONFIG_FILE).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        (directory / CONFIG_FILE).chmod(0o600)  # it holds the secret key
        return cls(directory, config)


def _name_from_directory(directory: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", directory.name).strip("-")[:64] or "project"


def _resolve_url(url: str, directory: Path) -> str:
    """Make `scheme:///relative/path` URLs relative to the project directory."""
    scheme, sep, rest = url.partition(":///")
    if not sep or rest.startswith("/") or scheme not in {"duckdb", "chdb", "sqlite"}:
        return url
    return f"{scheme}:///{directory / rest}"
