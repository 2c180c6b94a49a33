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

import contextlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "SCHEMA_VERSION",
    "AuditRequest",
    "AuditRun",
    "AuditStatus",
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
    "IntendedConfig",
    "MaskingPattern",
    "NMSTenant",
    "PatternKind",
    "Platform",
    "Transport",
    "DATETIME_ERROR",
    "UtcDatetime",
    "FeatureResult",
    "FeatureStatus",
    "PolicyKind",
    "PolicyResult",
]

SCHEMA_VERSION: Literal[1] = 1

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"


#: RFC 3339 ``date-time`` (section 5.6): date, ``T``, time, offset. The one rule for every
#: timestamp on the wire, the same one a JSON Schema validator applies to ``format: date-time``.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")

#: The pydantic error type of a refused timestamp; its message names the rule, never the value,
#: so the stream layer can put it into a dead letter's reason.
DATETIME_ERROR = "rfc3339_datetime"

_DATETIME_RULE = (
    "an RFC 3339 date-time with a 'T' and a UTC offset ('Z' or '+hh:mm'), e.g. 2026-12-01T19:40:00Z"
)


def _refused(problem: str) -> PydanticCustomError:
    return PydanticCustomError(
        DATETIME_ERROR, "{problem}: expected {rule}", {"problem": problem, "rule": _DATETIME_RULE}
    )


def _rfc3339_only(value: object) -> object:
    """Refuse every timestamp that is not an aware RFC 3339 date-time, saying which rule it broke.

    Pydantic's lax parsing would take epoch numbers, a space for ``T``, bare
    dates and naive values; a naive value then travels on and breaks the
    published schema downstream. The message names the rule, never the value.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _refused("naive datetime (no UTC offset)")
        return value
    if isinstance(value, bool | int | float):
        raise _refused("epoch numbers are not accepted")
    if not isinstance(value, str):
        raise _refused("not a string")
    if _RFC3339.fullmatch(value):
        return value
    if _DATE_ONLY.fullmatch(value):
        problem = "a bare date is not a date-time"
    elif " " in value.strip() and _RFC3339.fullmatch(value.replace(" ", "T", 1)):
        problem = "a space instead of 'T' between date and time"
    elif _NAIVE.fullmatch(value) or _NAIVE.fullmatch(value.replace(" ", "T", 1)):
        problem = "naive date-time (no UTC offset)"
    elif value.strip().lstrip("-").replace(".", "", 1).isdigit():
        problem = "epoch numbers are not accepted"
    else:
        problem = "not an RFC 3339 date-time"
    raise _refused(problem)


def _to_utc(value: datetime) -> datetime:
    """Every accepted timestamp is kept, and so re-emitted, in UTC (``...Z``).

    A valid date-time can fall outside the years a ``datetime`` holds once in
    UTC (``0001-01-01T00:00:00+14:00``): that is refused like any other bad
    timestamp, never an ``OverflowError`` out of validation.
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _refused("out of the years 1-9999 once converted to UTC") from None


#: The form every timestamp this code writes has (pydantic's UTC output): whole seconds or six digits.
_CANONICAL_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?Z")


def _utc_datetime(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    """:func:`_rfc3339_only`, pydantic's datetime validation, then :func:`_to_utc`, in one Python call.

    A timestamp in the canonical UTC form (what every worker writes, so nearly
    every one on the wire) is read by ``datetime.fromisoformat``, whose result
    for that form is what the three steps give (UTC, same microseconds); any
    other value, or one ``fromisoformat`` refuses (Feb 30, a leap second),
    takes the three steps, so every refusal keeps its error. A UTC datetime is
    kept as it is. Two Python validators cost a decode about 3 µs per timestamp.
    """
    if type(value) is str and value.isascii() and _CANONICAL_UTC.fullmatch(value):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    elif type(value) is datetime and value.tzinfo is UTC:
        return value
    return _to_utc(handler(_rfc3339_only(value)))


#: Every timestamp of every wire contract: timezone-aware, RFC 3339 on the wire, normalized to UTC.
UtcDatetime = Annotated[
    datetime,
    WrapValidator(_utc_datetime),
    Field(
        json_schema_extra={"format": "date-time"},
        description=(
            f"{_DATETIME_RULE[0].upper()}{_DATETIME_RULE[1:]}. Naive values, a space instead of 'T', "
            "bare dates and epoch numbers are refused (dead-letter); the worker re-emits every "
            "timestamp in UTC."
        ),
    ),
]


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
    enable_secret: SecretStr | None = Field(default=None, description="for devices that log in unprivileged")


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
    timestamp: UtcDatetime
    fetch_ms: float = 0.0


class FetchFailure(_Frozen):
    """A device that produced no config; the reason never carries a secret."""

    device_id: str
    status: Literal[DeviceStatus.UNREACHABLE, DeviceStatus.ERROR]
    reason: str
    error_type: str
    timestamp: UtcDatetime
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
    """Which devices an audit covers: explicit ids, or filters that all must match.

    Non-empty ``device_ids`` win: exactly those devices, and any unknown id
    refuses the whole request (dead-letter). Without ids, every filter that is
    set must match. An empty selector (``{}``, or no ``selector`` at all)
    selects the whole fleet. A selector that matches no device is refused.
    """

    device_ids: tuple[str, ...] = Field(
        default=(),
        description="Explicit device ids; when non-empty the filters are ignored and every id must exist.",
    )
    tenant: str | None = Field(default=None, description="Only devices of this tenant (unset: any).")
    site: str | None = Field(default=None, description="Only devices at this site (unset: any).")
    role: str | None = Field(default=None, description="Only devices with this role (unset: any).")
    platform: Platform | None = Field(default=None, description="Only this platform (unset: any).")
    tags: frozenset[str] = Field(
        default=frozenset(), description="Only devices carrying every one of these tags (empty: any)."
    )


class AuditRequest(_Frozen):
    """Wire contract on ``audit-requests`` (key: audit_id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str = Field(pattern=_ID_PATTERN)
    requested_at: UtcDatetime
    requested_by: str = ""
    selector: DeviceSelector = Field(
        default=DeviceSelector(),
        description=(
            "Which devices to audit. Missing or empty ({}) means the WHOLE FLEET; explicit "
            "device_ids win over filters; a selector that matches nothing is refused (dead-letter)."
        ),
    )


class AuditRun(_Frozen):
    """The record of one audit once its selector is resolved."""

    audit_id: str
    requested_at: UtcDatetime
    requested_by: str = ""
    device_ids: tuple[str, ...]
    selector: DeviceSelector = DeviceSelector()


class DeviceFetchTask(_Frozen):
    """Wire contract on ``device-fetch`` (key: device_id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str
    device: Device
    requested_at: UtcDatetime
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
    requested_at: UtcDatetime
    fetched_at: UtcDatetime
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
    requested_at: UtcDatetime
    observed_at: UtcDatetime
    fetch_ms: float = 0.0
    analyze_ms: float = 0.0
    #: set when the event was cut to fit its topic: what was cut (the counts below stay whole)
    truncated: str | None = None
    #: lines added / removed before a cut (None: nothing was cut)
    added_total: int | None = None
    removed_total: int | None = None
    intended_version: str | None = Field(
        default=None,
        description=(
            "The intended config this result was compared with: 'git:<commit>' when the intended "
            "directory is a git checkout and the file is committed unmodified, else 'sha256:<hex>' "
            "of the file. Null when nothing was compared (no config fetched, no intended file)."
        ),
    )
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
    received_at: UtcDatetime
    #: the original payload's full size and sha256 (``payload_b64`` keeps at most a bounded prefix)
    payload_size: int | None = None
    payload_sha256: str | None = None
    payload_truncated: bool = False


class AuditStatus(_Frozen):
    """Wire contract on ``audit-status`` (key: audit_id): how one audit ended.

    Published once every expected device has reported (``complete``) or when
    the audit's deadline passed (``complete`` False, ``missing`` names the
    devices that never reported). The counts cover the reported devices; the
    score is compliant / reachable x 100 over them (None when none is reachable).
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    audit_id: str
    requested_at: UtcDatetime
    complete: bool
    expected: int
    reported: int
    missing: tuple[str, ...] = ()
    compliant: int = 0
    drifted: int = 0
    unreachable: int = 0
    error: int = 0
    score: float | None = None
    deadline_at: UtcDatetime
    closed_at: UtcDatetime
    #: set when ``missing`` was cut to fit the topic (``expected - reported`` stays the true count)
    truncated: str | None = None


class IntendedConfig(_Frozen):
    """An intended config's text and the version it was read at (``git:<commit>`` or ``sha256:<hex>``)."""

    text: str = Field(repr=False)
    version: str


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
