"""Settings: command-line flags, then ``VISIONFLOW_*`` environment variables, then a YAML file.

``GPU_ACCELERATION=true`` asks for CUDA physics unless ``physics`` is set explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from visionflow.errors import ConfigError
from visionflow.ops.alert_http import validate_url
from visionflow.physics.select import PhysicsChoice

__all__ = ["Settings", "load_settings"]


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``VISIONFLOW_CONFIG`` (or ``--config``)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except OSError as exc:
                raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                raise ConfigError("config", f"{path} is not valid YAML: {exc}") from None
            if not isinstance(loaded, dict):
                raise ConfigError("config", f"{path} must hold a mapping of settings")
            self._data = {str(k).replace("-", "_"): v for k, v in loaded.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """Everything ``visionflow serve`` can be told."""

    model_config = SettingsConfigDict(env_prefix="VISIONFLOW_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    ws_port: int = Field(3002, ge=0, le=65535)
    ws_path: str = "/ws"
    source: Literal["simulated", "mcp", "push", "otlp"] = "simulated"
    agents: int = Field(200, ge=1, le=100_000)
    seed: int = Field(0, ge=0)
    tick_hz: float = Field(60.0, gt=0, le=1000)
    physics: PhysicsChoice = "auto"
    physics_thread_threshold: int = Field(20_000, ge=0)
    delta_threshold: float = Field(0.01, ge=0)
    full_frame_every: int = Field(60, ge=1)
    metadata_hz: float = Field(10.0, gt=0, le=1000)
    max_connections: int = Field(1000, ge=1)
    max_buffer_bytes: int = Field(1 << 20, ge=1024)
    stall_timeout_s: float = Field(10.0, gt=0)
    compression: bool = False
    log: str = "info"
    mcp_command: str | None = None
    mcp_url: str | None = None
    mcp_transport: Literal["auto", "http", "sse"] = "auto"
    mcp_profile: str = "claude-flow"
    mcp_env: dict[str, str] = Field(default_factory=dict)
    """Variables set for a spawned orchestrator: ``--mcp-env KEY=VALUE`` (repeatable), a JSON object in
    ``VISIONFLOW_MCP_ENV``, a mapping in the file; the layers merge by key, flags first."""
    mcp_cwd: Path | None = None
    """Working directory of a spawned orchestrator (default: the server's)."""
    mcp_inherit_env: bool = True
    """A spawned orchestrator gets the server's environment (less ``VISIONFLOW_*``) under ``mcp_env``;
    false: only the SDK's few (HOME, LOGNAME, PATH, SHELL, TERM, USER)."""
    mcp_poll_busy_s: float = Field(1.0, gt=0, le=3600)
    mcp_poll_idle_s: float = Field(5.0, gt=0, le=3600)
    mcp_poll_max_s: float = Field(30.0, gt=0, le=3600)
    """Polls that change nothing double the interval, up to this."""
    mcp_timeout_s: float = Field(30.0, gt=0, le=3600)
    mcp_backoff_max_s: float = Field(30.0, gt=0, le=3600)
    mcp_stale_s: float = Field(300.0, gt=0)
    ingest: bool = True
    ingest_token: str | None = None
    ingest_max_batch: int = Field(5000, ge=1, le=100_000)
    ingest_max_body_bytes: int = Field(4 << 20, ge=1024, le=256 << 20)
    otlp: bool = True
    """Receive OpenTelemetry traces on ``POST /v1/traces`` beside any source (``--source otlp``: alone)."""
    otlp_idle_s: float = Field(30.0, gt=0, le=86_400)
    """An agent with no span for this long turns idle."""
    otlp_expire_s: float = Field(300.0, gt=0, le=86_400)
    """An agent with no span for this long turns offline, and is removed ``otlp_idle_s`` later."""
    otlp_max_body_bytes: int = Field(8 << 20, ge=1024, le=256 << 20)
    """Largest OTLP request, as sent and once decompressed."""
    log_file: Path | None = None
    """Also write the JSON log lines here, rotated by size (``visionflow logs`` reads these files)."""
    log_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    log_backups: int = Field(5, ge=0, le=100)
    slow_tick_ms: float = Field(10.0, gt=0)
    """Ticks at least this slow are logged as ``slow_tick`` (at most one line a second)."""
    trace_tick_every: int = Field(60, ge=1)
    """With tracing on (``OTEL_EXPORTER_OTLP_ENDPOINT``), trace every N-th tick plus every slow one."""
    alert_health_urls: tuple[str, ...] = ()
    """Health endpoints the ServiceDown playbook probes (JSON list in the environment)."""
    alert_known_instances: dict[str, str] = Field(default_factory=dict)
    """Alert ``instance`` label -> health URL to probe for it, or ``self`` for this server (JSON object).

    The label is only looked up here; it never becomes part of a URL."""
    alert_restart_command: str | None = None
    """Command the playbook runs to restart the service (split like a shell line, run without a shell)."""
    alert_restart_wait_s: float = Field(5.0, ge=0, le=600)
    alert_error_restart_threshold: int = Field(20, ge=1)
    """HighErrorRate restarts the service when the log holds more errors than this in 5 minutes."""
    alert_escalation_url: str | None = None
    """Webhook that receives escalations (alerts the playbook could not resolve)."""
    alert_restart_max_per_hour: int = Field(3, ge=0, le=1000)
    """Restart-command runs allowed in any hour, whatever alerts ask (0: never restart)."""
    alert_escalation_max_per_hour: int = Field(10, ge=0, le=1000)
    alert_http_timeout_s: float = Field(5.0, gt=0, le=120)
    """Deadline of one health probe or escalation post, from queueing to the status line."""
    alert_webhook_token: str | None = Field(None, min_length=16)
    """Bearer token Alertmanager must send to ``POST /api/alerts``; unset, only loopback clients may post."""
    alert_max_alerts_per_post: int = Field(1000, ge=1, le=100_000)
    alert_max_value_chars: int = Field(4096, ge=64, le=1 << 20)
    """Longest label or annotation name or value (and any other string) an alert may carry."""
    alert_max_body_bytes: int = Field(2 << 20, ge=1024, le=256 << 20)
    alerts_kept: int = Field(1000, ge=1, le=1_000_000)
    alert_store_max_bytes: int = Field(16 << 20, ge=64 << 10, le=1 << 30)
    """Received alerts are forgotten, oldest first, beyond ``alerts_kept`` or this many bytes of JSON."""
    store: bool = True
    """Keep history and restore the swarm on start (SQLite in ``data_dir``, or ``database_url``)."""
    data_dir: Path = Path("data")
    """Where the SQLite database and the store's spool live."""
    database_url: str | None = None
    """A PostgreSQL URL (``postgresql://user@host:5432/db``) to use instead of SQLite."""
    store_timeout_s: float = Field(5.0, gt=0, le=300)
    """A database connect, lock wait or write that takes longer counts as failed (its records are spooled)."""
    store_queue_rows: int = Field(500_000, ge=1000, le=100_000_000)
    """Position rows held while the database is away or slow; the oldest are dropped beyond it."""
    history_hz: float = Field(1.0, gt=0, le=60)
    """Position samples a second (only nodes that moved more than ``delta_threshold`` are written)."""
    history_keyframe_s: float = Field(3600.0, ge=1, le=86_400)
    """Every node's position is written at least this often, moved or not."""
    positions_retention_days: float = Field(7.0, gt=0, le=3650)
    history_max_window_s: float = Field(86_400.0, gt=0)
    """Longest window ``GET /api/bots/history`` covers in one request."""
    history_max_points: int = Field(250_000, ge=100, le=10_000_000)
    """Points (agents x steps) one history page holds."""
    history_max_agents: int = Field(1000, ge=1, le=100_000)
    """Agent ids one history request may name."""
    max_replays: int = Field(8, ge=0, le=1000)
    """Stream clients replaying history at once."""

    @field_validator("ws_path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_known(cls, value: str | None) -> str | None:
        if value and value.split("://", 1)[0].split("+", 1)[0] not in ("postgresql", "postgres", "sqlite"):
            raise ValueError("must be a postgresql:// or sqlite:// URL")
        return value or None

    @field_validator("alert_health_urls")
    @classmethod
    def _health_urls_are_http(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            validate_url(url)
        return value

    @field_validator("alert_escalation_url")
    @classmethod
    def _escalation_url_is_http(cls, value: str | None) -> str | None:
        return None if value is None else validate_url(value)

    @field_validator("alert_known_instances")
    @classmethod
    def _known_instances_name_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for instance, target in value.items():
            if not instance:
                raise ValueError("instance names must not be empty")
            if target != "self":
                validate_url(target)
        return value

    @model_validator(mode="after")
    def _mcp_needs_a_target(self) -> Settings:
        if self.source == "mcp" and bool(self.mcp_command) == bool(self.mcp_url):
            raise ValueError("--source mcp needs exactly one of --mcp-command and --mcp-url")
        if self.mcp_poll_busy_s > self.mcp_poll_idle_s:
            raise ValueError("mcp_poll_busy_s must not exceed mcp_poll_idle_s")
        if self.source == "otlp" and not self.otlp:
            raise ValueError("--source otlp needs the OTLP receiver (otlp: true)")
        if self.otlp_idle_s >= self.otlp_expire_s:
            raise ValueError("otlp_idle_s must be less than otlp_expire_s")
        if self.mcp_poll_idle_s > self.mcp_poll_max_s:
            raise ValueError("mcp_poll_idle_s must not exceed mcp_poll_max_s")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = os.environ.get("VISIONFLOW_CONFIG")
        return init_settings, env_settings, _YamlSource(settings_cls, Path(path) if path else None)


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


def load_settings(flags: dict[str, Any] | None = None, config: Path | None = None) -> Settings:
    """Build settings from flags (None values ignored), the environment and ``config``.

    Raises ``ConfigError`` naming the first bad setting.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    if (
        "physics" not in given
        and "VISIONFLOW_PHYSICS" not in os.environ
        and _truthy(os.environ.get("GPU_ACCELERATION"))
    ):
        given["physics"] = "cuda"
    previous = os.environ.get("VISIONFLOW_CONFIG")
    try:
        if config is not None:
            os.environ["VISIONFLOW_CONFIG"] = str(config)
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(name, first["msg"]) from None
    finally:
        if config is not None:
            if previous is None:
                os.environ.pop("VISIONFLOW_CONFIG", None)
            else:
                os.environ["VISIONFLOW_CONFIG"] = previous
