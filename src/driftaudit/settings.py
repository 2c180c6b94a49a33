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

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "Settings",
    "DEV_MASKING_KEY",
    "SSHAlgorithmSettings",
    "default_history_dir",
    "default_history_dsn",
]

#: Used when no key is configured, so a local demo works; production must set
#: ``DRIFTAUDIT_MASKING_KEY`` (fingerprints made with a public key can be brute-forced).
DEV_MASKING_KEY = "driftaudit-dev-masking-key-change-me"


class SSHAlgorithmSettings(BaseModel):
    """SSH algorithms of one scope, passed to asyncssh; unset kinds keep the wider scope's.

    Each kind is a list of names (replacing asyncssh's defaults) or one
    OpenSSH-style string: ``"+diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"``
    appends to the defaults, ``"-name"`` removes, ``"^name"`` puts first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kex: str | list[str] | None = None
    ciphers: str | list[str] | None = None
    macs: str | list[str] | None = None
    host_key: str | list[str] | None = None


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
    batch_size: int = Field(default=200, ge=1, description="max fetches in flight per worker (make bench)")
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

    # Stream delivery and audit completion (issue 11)
    dead_letter_payload_bytes: int = Field(
        default=65536, ge=0, description="the most bytes of a bad message a dead letter keeps"
    )
    audit_deadline_s: float = Field(
        default=600.0, gt=0, description="an audit's status is published by then, naming missing devices"
    )
    broker_rebalance_timeout_s: float | None = Field(
        default=None, gt=0, description="None: above the fetch deadline (total_timeout_s + 10 s)"
    )
    analysis_processes: int | None = Field(
        default=None,
        ge=0,
        description="child processes of a stream worker for redact/normalize/mask/diff; "
        "None: one per CPU core, at most 8; 0: threads of the worker",
    )
    # SSH algorithms, for legacy devices (JSON in the environment, e.g.
    # DRIFTAUDIT_SSH_ALGORITHMS_BY_PLATFORM='{"cisco_asa": {"kex": "+diffie-hellman-group14-sha1"}}');
    # the narrowest scope wins, kind by kind: device, then platform, then global.
    ssh_algorithms: SSHAlgorithmSettings = SSHAlgorithmSettings()
    ssh_algorithms_by_platform: dict[str, SSHAlgorithmSettings] = Field(default_factory=dict)
    ssh_algorithms_by_device: dict[str, SSHAlgorithmSettings] = Field(default_factory=dict)
    ssh_use_exec: bool = Field(
        default=True, description="fetch over an exec channel where the platform allows it, else a shell"
    )
    # Access: tenant-scoped API tokens (see adapters/access.py for the file's format)
    api_tokens_path: Path | None = Field(
        default=None, description="YAML file of bearer tokens (by sha256) and the tenants each may see"
    )
    # Compliance features, policies and remediation
    rules_path: Path | None = Field(default=None, description="YAML rules file; None: no features")
    rules_check_s: float = Field(default=1.0, gt=0, description="how often the rules file's mtime is checked")
    # Worker operations: where its web server listens (issue 14)
    worker_web_bind: str = Field(
        default="127.0.0.1", description="loopback unless DRIFTAUDIT_API_TOKEN protects the views"
    )
    # Stream throughput (issue 11): how much the worker's Kafka clients gather per request.
    # Every fetch and produce request is encoded and decoded in Python (aiokafka) and handled by
    # the broker: asking for one record at a time made both busy with requests, not with records.
    broker_fetch_min_bytes: int = Field(
        default=65536, ge=1, description="a stage's fetch waits for this many bytes (or the wait below)"
    )
    broker_fetch_max_wait_ms: int = Field(
        default=25, ge=0, description="the longest a fetch waits for fetch_min_bytes: the added hop latency"
    )
    producer_linger_ms: int = Field(
        default=5, ge=0, description="how long a produced record waits for others of its partition"
    )
    # Analysis between audits (issue 11): intended configs change far less often than they are audited
    intended_mask_cache_mb: float = Field(
        default=64.0,
        ge=0,
        description="per analysis process: masked intended configs kept between audits (0: none)",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="a stream worker's event loop: uvloop runs its sockets in C"
    )
