"""Domain values and wire contracts.

Every model is frozen and forbids unknown fields: a value built once is never
changed, and a typo in a producer's message is an error instead of a silently
ignored field. Wire contracts (``AuditRequest``, ``DeviceFetchTask``,
``DeviceConfig``, ``DriftEvent``, ``DeadLetter``) carry ``schema_version`` so
consumers can reject what they do not understand.

Nothing here reads a clock or generates ids: callers pass timestamps and ids,
so the domain stays deterministic and testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "SCHEMA_VERSION",
    "AuditRequest",
    "AuditRun",
    "AuthScheme",
    "ChangeType",
    "ConfigResult",
    "Credential",
    "DeadLetter",
    "Device",
    "DeviceConfig",
    "DeviceFetchTask",
    "DeviceSelector",
    "DeviceStatus",
    "DriftEvent",
    "DriftLine",
    "DriftReport",
    "EnvelopeSpec",
    "FetchFailure",
    "FetchOutcome",
    "FleetScore",
    "MaskingPattern",
    "NMSTenant",
    "PatternKind",
    "Platform",
    "Transport",
    "FeatureResult",
    "FeatureStatus",
    "PolicyKind",
    "PolicyResult",
]

SCHEMA_VERSION: Literal[1] = 1

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Platform(StrEnum):
    """Network OS families; each has a masking pack and a fetch profile."""

    IOS = "cisco_ios"  # IOS and IOS-XE
    NXOS = "cisco_nxos"
    IOSXR = "cisco_iosxr"
    EOS = "arista_eos"
    JUNOS = "juniper_junos"  # curly-brace format
    JUNOS_SET = "juniper_junos_set"  # `show configuration | display set`
    ASA = "cisco_asa"


class Transport(StrEnum):
    """How a running config is pulled."""

    SSH = "ssh"
    REST = "rest"  # the device's own API: eAPI, NX-API, Junos REST
    NMS = "nms"  # a Network Management System's REST API


class AuthScheme(StrEnum):
    """How a tenant's NMS hands out tokens."""

    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    TOKEN_EXCHANGE = "token_exchange"  # username/password -> token (Catalyst Center style)
    STATIC_TOKEN = "static_token"


class DeviceStatus(StrEnum):
    """The outcome for one device in one audit."""

    COMPLIANT = "compliant"
    DRIFTED = "drifted"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class PatternKind(StrEnum):
    """``volatile`` never shows as drift; ``secret`` never leaves the process."""

    VOLATILE = "volatile"
    SECRET = "secret"


class ChangeType(StrEnum):
    """Direction of a drift line, seen from the intended config."""

    ADDED = "added"  # on the device, not intended
    REMOVED = "removed"  # intended, missing on the device


class EnvelopeSpec(_Frozen):
    """Where an NMS keeps the config text in its responses.

    ``config_path`` is a key path into the decoded document (list indexes as
    decimal strings); for ``xml`` it is a path of element names. Keys named in
    ``metadata_keys`` (and ``json_metadata``, ``envelope_id``, ``api_version``
    always) are dropped at any depth before anything else is read.
    """

    name: str
    format: Literal["json", "xml", "text"] = "json"
    config_path: tuple[str, ...] = ()
    metadata_keys: frozenset[str] = frozenset()


class NMSTenant(_Frozen):
    """One tenant of one NMS: where it lives, how it authenticates, its envelope."""

    tenant_id: str = Field(pattern=_ID_PATTERN)
    base_url: str
    auth_scheme: AuthScheme
    envelope: EnvelopeSpec
    token_path: str = "/oauth/token"
    config_path: str = "/api/v1/devices/{device_id}/config"
    credentials_file: str | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True


class Credential(_Frozen):
    """Secrets for a device or a tenant; values never appear in repr or logs."""

    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_token: SecretStr | None = None
    private_key: SecretStr | None = Field(default=None, description="PEM text")


class Device(_Frozen):
    """One network device as the inventory knows it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    device_id: str = Field(pattern=_ID_PATTERN, validation_alias=AliasChoices("device_id", "id"))
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    platform: Platform
    transport: Transport = Transport.SSH
    tenant: str = "default"
    site: str = ""
    role: str = ""
    tags: frozenset[str] = frozenset()
    credential_ref: str | None = None


class ConfigResult(_Frozen):
    """A fetched config: the raw output (in process only) and its cleaned text."""

    device_id: str
    raw_text: str = Field(repr=False)
    cleaned_text: str = Field(repr=False)
    timestamp: datetime
    fetch_ms: float = 0.0


class FetchFailure(_Frozen):
    """A device that produced no config; the reason never carries a secret."""

    device_id: str
    status: Literal[DeviceStatus.UNREACHABLE, DeviceStatus.ERROR]
    reason: str
    error_type: str
    timestamp: datetime
    fetch_ms: float = 0.0


FetchOutcome = ConfigResult | FetchFailure


class MaskingPattern(_Frozen):
    """One compiled-on-load masking rule.

    The span masked is the named group ``value`` when the regex has one, else
    the whole match. ``platforms`` empty means every platform. For a secret,
    ``ignore_changes`` trades drift detection of that secret for a constant
    token (an operator's choice, per pattern).
    """

    name: str
    regex: str
    kind: PatternKind
    platforms: frozenset[Platform] = frozenset()
    ignore_changes: bool = False
    description: str = ""


class DriftLine(_Frozen):
    """One line on one side only, with the section path it lives under."""

    change: ChangeType
    line: str
    path: tuple[str, ...] = ()


class DriftReport(_Frozen):
    """The comparison of one masked actual config with its masked intended config."""

    compliant: bool
    added: tuple[DriftLine, ...] = ()
    removed: tuple[DriftLine, ...] = ()
    unified_diff: str = ""
    actual_hash: str
    intended_hash: str
    mask_counts: Mapping[str, int] = Field(default_factory=dict)


class FleetScore(_Frozen):
    """Health of a fleet (or one tenant): ``score`` is None when nothing is reachable."""

    tenant: str | None = None
    score: float | None
    compliant: int = 0
    drifted: int = 0
    unreachable: int = 0
    error: int = 0

    @property
    def reachable(self) -> int:
        """Devices whose config was fetched (compliant or drifted)."""
        return self.compliant + self.drifted

    @property
    def total(self) -> int:
        """Every device accounted for."""
        return self.compliant + self.drifted + self.unreachable + self.error


class DeviceSelector(_Frozen):
    """Which devices an audit covers: explicit ids, or filters that all must match."""

    device_ids: tuple[str, ...] = ()
    tenant: str | None = None
    site: str | None = None
    role: str | None = None
    platform: Platform | None = None
    tags: frozenset[str] = frozenset()


class AuditRequest(_Frozen):
    """Wire contract on ``audit-requests`` (key: audit_id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str = Field(pattern=_ID_PATTERN)
    requested_at: datetime
    requested_by: str = ""
    selector: DeviceSelector = DeviceSelector()


class AuditRun(_Frozen):
    """The record of one audit once its selector is resolved."""

    audit_id: str
    requested_at: datetime
    requested_by: str = ""
    device_ids: tuple[str, ...]
    selector: DeviceSelector = DeviceSelector()


class DeviceFetchTask(_Frozen):
    """Wire contract on ``device-fetch`` (key: device_id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str
    device: Device
    requested_at: datetime
    attempt: int = 1


class DeviceConfig(_Frozen):
    """Wire contract on ``device-configs`` (key: device_id).

    ``redacted_text`` is the normalized config with every secret already
    replaced by its fingerprint token; ``failure`` is set instead when the
    fetch failed.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str
    device: Device
    requested_at: datetime
    fetched_at: datetime
    fetch_ms: float = 0.0
    redacted_text: str | None = None
    failure: FetchFailure | None = None


class DriftEvent(_Frozen):
    """Wire contract on ``drift-events`` (key: device_id): one device in one audit."""

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str
    device_id: str
    tenant: str
    site: str = ""
    role: str = ""
    platform: Platform
    status: DeviceStatus
    reason: str | None = None
    added: tuple[DriftLine, ...] = ()
    removed: tuple[DriftLine, ...] = ()
    unified_diff: str = ""
    actual_hash: str = ""
    intended_hash: str = ""
    requested_at: datetime
    observed_at: datetime
    fetch_ms: float = 0.0
    analyze_ms: float = 0.0
    features: tuple[FeatureResult, ...] = ()
    remediation: tuple[str, ...] = ()

    @property
    def added_count(self) -> int:
        """Lines on the device that are not intended."""
        return len(self.added)

    @property
    def removed_count(self) -> int:
        """Intended lines missing on the device."""
        return len(self.removed)


class DeadLetter(_Frozen):
    """Wire contract on ``dead-letter``: what failed, where, why, and the original bytes."""

    schema_version: Literal[1] = SCHEMA_VERSION
    stage: str
    reason: str
    topic: str = ""
    key_b64: str | None = None
    payload_b64: str
    received_at: datetime


# -- compliance features and remediation (per-feature results of a drift event) -------------------


class FeatureStatus(StrEnum):
    """One feature's verdict on one device."""

    COMPLIANT = "compliant"
    DRIFTED = "drifted"
    NOT_APPLICABLE = "not_applicable"  # in scope, but neither config nor any policy has it


class PolicyKind(StrEnum):
    """What a policy demands of a device's lines."""

    PRESENT = "present"  # every listed line (or a line matching every pattern) is there
    ABSENT = "absent"  # no listed line and no line matching a pattern is there
    EXACTLY = "exactly"  # the lines a policy covers are exactly the listed ones


class PolicyResult(_Frozen):
    """One policy's verdict; ``missing`` and ``unexpected`` are masked lines, never a secret."""

    name: str
    kind: PolicyKind
    passed: bool
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()


class FeatureResult(_Frozen):
    """One compliance feature on one device in one audit.

    ``added`` and ``removed`` are the device's drift lines that belong to the
    feature (plus policy violations), masked; the counts are carried as fields
    so consumers of the JSON need not count. ``remediation`` is the feature's
    share of the device remediation, secrets withheld.
    """

    feature: str
    status: FeatureStatus
    added: tuple[DriftLine, ...] = ()
    removed: tuple[DriftLine, ...] = ()
    added_count: int = 0
    removed_count: int = 0
    policies: tuple[PolicyResult, ...] = ()
    remediation: tuple[str, ...] = ()


DriftEvent.model_rebuild()
