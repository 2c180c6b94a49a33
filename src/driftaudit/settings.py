"""The one settings object (pydantic-settings, env prefix ``DRIFTAUDIT_``).

Every default is the embedded local one: no broker URL means "start Tansu",
the chDB DSN points at the per-user data directory (:func:`default_history_dsn`),
whatever the working directory. Adapters never read the
environment themselves; they get typed values from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "DEV_MASKING_KEY", "default_history_dir", "default_history_dsn"]

#: Used when no key is configured, so a local demo works; production must set
#: ``DRIFTAUDIT_MASKING_KEY`` (fingerprints made with a public key can be brute-forced).
DEV_MASKING_KEY = "driftaudit-dev-masking-key-change-me"


def default_history_dir() -> Path:
    """Where the embedded history lives by default: ``$XDG_DATA_HOME/driftaudit/history``.

    ``XDG_DATA_HOME`` counts only when it is an absolute path (the XDG base
    directory rule); otherwise ``~/.local/share/driftaudit/history``. Never
    relative to the working directory, so a worker, the history CLI and the
    API started from different directories find the same store.
    """
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "driftaudit" / "history"


def default_history_dsn() -> str:
    """The chDB DSN of :func:`default_history_dir` (``chdb:///`` + the absolute path)."""
    return f"chdb:///{default_history_dir()}"


class Settings(BaseSettings):
    """Configuration of a driftaudit process."""

    model_config = SettingsConfigDict(env_prefix="DRIFTAUDIT_", env_file=None, extra="ignore")

    # Kafka / Faust
    kafka_broker: str | None = Field(default=None, description="host:port; unset starts Tansu")
    topic_prefix: str = "driftaudit."
    topic_partitions: int = Field(default=4, ge=1)
    app_id: str = "driftaudit"
    worker_web_port: int = 6066
    broker_session_timeout_s: float = 10.0
    max_message_bytes: int = Field(default=1_048_576, ge=1024)

    # Fetching
    batch_size: int = Field(default=50, ge=1, description="max fetches in flight per worker")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    total_timeout_s: float = Field(default=60.0, gt=0)
    max_config_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    ssh_known_hosts: Path | None = Field(default=None, description="None: ~/.ssh/known_hosts")
    ssh_verify_host_keys: bool = True
    ssh_pool_idle_s: float = 300.0
    ssh_pool_per_host: int = Field(default=2, ge=1)
    rest_scheme: Literal["http", "https"] = Field(default="https", description="device REST APIs")
    rest_verify_tls: bool = True
    rest_ca_bundle: Path | None = Field(default=None, description="CA bundle for device REST APIs")
    rest_path_prefix: str = Field(default="", description="before the API path; {device_id} is replaced")

    # Inventory, intended configs, credentials, NMS tenants
    inventory_path: Path = Path("inventory.yaml")
    intended_dir: Path = Path("intended")
    credentials_path: Path | None = None
    tenants_path: Path | None = None

    # Masking
    masking_key: SecretStr = SecretStr(DEV_MASKING_KEY)
    patterns_path: Path | None = Field(default=None, description="YAML file of extra patterns")

    # History
    clickhouse_dsn: str = Field(
        default_factory=default_history_dsn, description="default: chDB under $XDG_DATA_HOME/driftaudit"
    )
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    history_ttl_days: int = Field(default=365, ge=1)
    history_batch_size: int = Field(default=500, ge=1)
    history_flush_s: float = Field(default=1.0, gt=0)

    # Fleet score window
    score_window_s: float = Field(default=3600.0, gt=0)
    score_step_s: float | None = Field(default=None, description="None: tumbling windows")
    score_retention_s: float = Field(default=7 * 86400.0, gt=0)

    # Pre-flight and API
    preflight_timeout_s: float = Field(default=30.0, gt=0)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_token: SecretStr | None = None

    # Worker operations: where its web server listens (issue 14)
    worker_web_bind: str = Field(
        default="127.0.0.1", description="loopback unless DRIFTAUDIT_API_TOKEN protects the views"
    )
