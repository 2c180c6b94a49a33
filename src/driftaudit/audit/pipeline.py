"""The fleet audit in one process: the stream topology's steps, called in order.

``trigger_fleet_audit`` is what ``driftaudit audit --no-broker``, the demo and
the integration tests run. It goes through the same intermediate values as
the Faust topology, and the same functions produce them:

==============  ==========================  =================================
stream agent    helper here                 step underneath
==============  ==========================  =================================
split           :func:`resolve_audit`       ``Inventory.select``
fetch           ``fetch_fleet_configs``     ``IConfigClient``, ``outcome_from_error``
fetch (emit)    :func:`to_device_config`    ``steps.redact_outcome``
analyze         :func:`analyze_config`      ``steps.analyze_outcome``
fleet score     :func:`score_events`        ``FleetHealthScorer``
==============  ==========================  =================================

Every device crosses the ``DeviceConfig`` wire contract with its secrets
already redacted, exactly as it would on ``device-configs``, so the two paths
cannot disagree on what a device's status is.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from driftaudit.audit.fleet import fetch_fleet_configs, utc_now
from driftaudit.audit.steps import analyze_outcome, redact_outcome
from driftaudit.audit.summary import AuditSummary, top_sections
from driftaudit.domain.errors import DriftAuditError, HistoryError, InputError
from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.models import (
    AuditRequest,
    AuditRun,
    Device,
    DeviceConfig,
    DeviceStatus,
    DriftEvent,
    FetchFailure,
    FetchOutcome,
    FleetScore,
)
from driftaudit.domain.ports import VersionedIntendedSource
from driftaudit.domain.scoring import FleetHealthScorer

if TYPE_CHECKING:
    from driftaudit.domain.masking import GrammarMemo, MaskingRegistry
    from driftaudit.domain.ports import (
        ComplianceRulesSource,
        HistoryRepository,
        IConfigClient,
        IntendedConfigSource,
        Inventory,
    )

__all__ = [
    "AuditSummary",
    "analyze_config",
    "device_config_message",
    "analyze_outcomes",
    "fetch_and_analyze",
    "resolve_audit",
    "score_events",
    "summarize",
    "summarize_reported",
    "too_large",
    "to_device_config",
    "top_sections",
    "trigger_fleet_audit",
    "utc_now",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


def resolve_audit(request: AuditRequest, inventory: Inventory) -> tuple[AuditRun, list[Device]]:
    """Resolve a request's selector into the audit run to record and the devices to fetch.

    An audit of nothing is refused rather than reported as an empty success:
    a selector that matches no device is almost always a typo in a tenant,
    site or role, and both the stream topology and the in-process audit must
    say so the same way.

    Raises:
        UnknownDeviceError: the selector names ids the inventory does not know.
        InputError: the selector matches no device.
    """
    devices = inventory.select(request.selector)
    if not devices:
        raise InputError("selector matches no device (unknown tenant, site, role, platform or tags?)")
    run = AuditRun(
        audit_id=request.audit_id,
        requested_at=request.requested_at,
        requested_by=request.requested_by,
        device_ids=tuple(device.device_id for device in devices),
        selector=request.selector,
    )
    return run, devices


def to_device_config(
    outcome: FetchOutcome,
    *,
    audit_id: str,
    device: Device,
    requested_at: datetime,
    registry: MaskingRegistry,
    max_message_bytes: int | None = None,
    grammar_memo: GrammarMemo | None = None,
) -> DeviceConfig:
    """The ``device-configs`` message for one fetch outcome, secrets redacted.

    The raw text of a fetched config stops here: only the redacted text (or
    the failure) goes on. With ``max_message_bytes``, a message that would be
    larger becomes an ``error`` result (:func:`too_large`), on every path alike.
    ``grammar_memo``: a fresh dict to pass on to :func:`analyze_config` of
    this message (see :func:`~driftaudit.domain.masking.redact_secrets`).
    """
    return device_config_message(
        outcome,
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        registry=registry,
        max_message_bytes=max_message_bytes,
        grammar_memo=grammar_memo,
    )[0]


def device_config_message(
    outcome: FetchOutcome,
    *,
    audit_id: str,
    device: Device,
    requested_at: datetime,
    registry: MaskingRegistry,
    max_message_bytes: int | None = None,
    grammar_memo: GrammarMemo | None = None,
) -> tuple[DeviceConfig, bytes]:
    """:func:`to_device_config` and its JSON bytes, serialized once (the size check needs them anyway)."""
    failure = outcome if isinstance(outcome, FetchFailure) else None
    redacted = redact_outcome(outcome, registry.for_platform(device.platform), grammar_memo)
    config = DeviceConfig(
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        fetched_at=outcome.timestamp,
        fetch_ms=outcome.fetch_ms,
        redacted_text=redacted,
        failure=failure,
    )
    data = _json(config)
    if max_message_bytes is not None and len(data) > max_message_bytes:
        config = too_large(config, len(data), max_message_bytes)
        data = _json(config)
    return config, data


def _json(config: DeviceConfig) -> bytes:
    """``model_dump_json().encode()`` without its two copies of a config-sized text."""
    data: bytes = config.__pydantic_serializer__.to_json(config)
    return data


def too_large(config: DeviceConfig, size: int, limit: int) -> DeviceConfig:
    """The oversize rule: a config whose message (``size`` bytes) is over ``limit`` is an ``error`` result."""
    failure = FetchFailure(
        device_id=config.device.device_id,
        status=DeviceStatus.ERROR,
        reason=f"config message of {size} bytes exceeds max_message_bytes={limit}",
        error_type="ConfigTooLargeError",
        timestamp=config.fetched_at,
        fetch_ms=config.fetch_ms,
    )
    return config.model_copy(update={"redacted_text": None, "failure": failure})


def _intended_failure(config: DeviceConfig, exc: DriftAuditError) -> FetchFailure:
    return FetchFailure(
        device_id=config.device.device_id,
        status=DeviceStatus.ERROR,
        reason=f"intended config unavailable: {exc}",
        error_type=type(exc).__name__,
        timestamp=config.fetched_at,
        fetch_ms=config.fetch_ms,
    )


def analyze_config(
    config: DeviceConfig,
    *,
    intended: IntendedConfigSource,
    registry: MaskingRegistry,
    rules: ComplianceRulesSource | None = None,
    just_redacted: bool = False,
    intended_cache: MaskCache | None = None,
    grammar_memo: GrammarMemo | None = None,
) -> DriftEvent:
    """The drift event of one ``device-configs`` message.

    ``just_redacted``: the message was made here by :func:`to_device_config`
    with ``registry``, so its text is known redacted and only its volatile
    values are left to mask. A message read from a topic is not (its text is
    masked whole). ``intended_cache`` keeps masked intended configs between
    audits. ``grammar_memo``: the one :func:`to_device_config` filled when it
    made this message here (the intended config's shared lines are then not
    read by the grammar again).

    The event names the intended version it was compared with when the
    source offers versions (:class:`~driftaudit.domain.ports.VersionedIntendedSource`).
    The lookup may read a file: callers on an event loop run this in a thread.
    An intended config that cannot be read (an unreadable file, an id that
    would escape the directory) makes the device ``error`` with the reason,
    instead of failing the whole audit.
    """
    device = config.device
    failure = config.failure
    text: str | None = None
    version: str | None = None
    try:
        if isinstance(intended, VersionedIntendedSource):
            found = intended.get_intended_config(device.device_id)
            text, version = (None, None) if found is None else (found.text, found.version)
        else:
            text = intended.get_intended(device.device_id)
    except DriftAuditError as exc:
        if failure is None:
            failure = _intended_failure(config, exc)
    event = analyze_outcome(
        audit_id=config.audit_id,
        device=device,
        requested_at=config.requested_at,
        observed_at=config.fetched_at,
        redacted_text=config.redacted_text if failure is None else None,
        failure=failure,
        intended=text,
        patterns=registry.for_platform(device.platform),
        fetch_ms=config.fetch_ms,
        rules=rules.current() if rules is not None else None,
        just_redacted=just_redacted,
        intended_cache=intended_cache,
        grammar_memo=grammar_memo,
    )
    if version is not None and event.status in (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED):
        return event.model_copy(update={"intended_version": version})
    return event


def analyze_outcomes(
    outcomes: Iterable[FetchOutcome],
    *,
    devices: Mapping[str, Device],
    audit_id: str,
    requested_at: datetime,
    intended: IntendedConfigSource,
    registry: MaskingRegistry,
    rules: ComplianceRulesSource | None = None,
    max_message_bytes: int | None = None,
) -> list[DriftEvent]:
    """One drift event per fetch outcome, in order: :func:`to_device_config`, then :func:`analyze_config`.

    Called in a worker thread, so it checks whether the rules file changed first.
    """
    if rules is not None:
        rules.refresh()
    events = []
    for outcome in outcomes:
        memo: GrammarMemo = {}  # one device's: its config and its intended config share most lines
        config = to_device_config(
            outcome,
            audit_id=audit_id,
            device=devices[outcome.device_id],
            requested_at=requested_at,
            registry=registry,
            max_message_bytes=max_message_bytes,
            grammar_memo=memo,
        )
        events.append(
            analyze_config(config, intended=intended, registry=registry, rules=rules, grammar_memo=memo)
        )
    return events


def score_events(
    events: Iterable[DriftEvent], expected: Sequence[Device]
) -> tuple[FleetScore, dict[str, FleetScore]]:
    """The fleet score and one score per tenant, each counting every expected device once.

    Raises:
        MissingDeviceError: an expected device has no event (the score would lie).
    """
    scorer = FleetHealthScorer()
    statuses = {event.device_id: event.status for event in events}
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for device in expected:
        by_tenant[device.tenant].append(device.device_id)
    fleet = scorer.score(statuses, expected=[device.device_id for device in expected])
    tenants = {
        tenant: scorer.score({i: statuses[i] for i in ids if i in statuses}, expected=ids, tenant=tenant)
        for tenant, ids in sorted(by_tenant.items())
    }
    return fleet, tenants


def summarize(
    *,
    audit_id: str,
    requested_at: datetime,
    devices: Sequence[Device],
    events: Iterable[DriftEvent],
    started_at: datetime,
    finished_at: datetime,
    top: int = 10,
    stored: bool = False,
    history_error: str | None = None,
) -> AuditSummary:
    """The summary of an audit from its devices and their events.

    A consumer of ``drift-events`` (the broker-mode CLI) builds its summary
    here too, so both paths report the same figures.

    Raises:
        MissingDeviceError: a device has no event.
    """
    collected = tuple(events)
    fleet, tenants = score_events(collected, devices)
    return AuditSummary(
        audit_id=audit_id,
        requested_at=requested_at,
        started_at=started_at,
        finished_at=finished_at,
        device_ids=tuple(device.device_id for device in devices),
        events=collected,
        score=fleet,
        tenant_scores=tenants,
        top_sections=top_sections(collected, top),
        stored=stored,
        history_error=history_error,
    )


def summarize_reported(
    *,
    audit_id: str,
    requested_at: datetime,
    events: Iterable[DriftEvent],
    started_at: datetime,
    finished_at: datetime,
    top: int = 10,
) -> AuditSummary:
    """The summary of an audit from its events alone (a client that holds no inventory).

    The devices are those that reported, each counted once in its tenant; the
    caller has checked against the audit's status that none is missing.
    """
    collected = tuple(events)
    scorer = FleetHealthScorer()
    statuses = {event.device_id: event.status for event in collected}
    by_tenant: dict[str, dict[str, DeviceStatus]] = defaultdict(dict)
    for event in collected:
        by_tenant[event.tenant][event.device_id] = event.status
    return AuditSummary(
        audit_id=audit_id,
        requested_at=requested_at,
        started_at=started_at,
        finished_at=finished_at,
        device_ids=tuple(statuses),
        events=collected,
        score=scorer.score(statuses, expected=list(statuses)),
        tenant_scores={
            tenant: scorer.score(found, expected=list(found), tenant=tenant)
            for tenant, found in sorted(by_tenant.items())
        },
        top_sections=top_sections(collected, top),
    )


async def _store(write: Callable[[_T], None], value: _T) -> str | None:
    """Run one history write in a worker thread; a failure is reported, not raised."""
    try:
        await asyncio.to_thread(write, value)
    except HistoryError as exc:
        _log.warning("history write failed: %s", exc)
        return str(exc)
    return None


async def fetch_and_analyze(
    device_ids: Sequence[str],
    devices: Mapping[str, Device],
    client: IConfigClient,
    *,
    audit_id: str,
    requested_at: datetime,
    intended: IntendedConfigSource,
    registry: MaskingRegistry,
    rules: ComplianceRulesSource | None,
    batch_size: int,
    now: Callable[[], datetime] = utc_now,
    timeout_s: float | None = None,
    deadline: float | None = None,
    max_message_bytes: int | None = None,
) -> list[DriftEvent]:
    """Fetch every device's config, then analyze each outcome: one drift event per device, in order.

    The steps an in-process audit and a pre-flight check share. Fetches run
    with at most ``batch_size`` in flight, bounded by ``timeout_s`` or the loop
    time ``deadline``; the CPU-bound analysis runs in a worker thread, off the
    event loop, so a serving API keeps answering meanwhile.
    """
    outcomes = await fetch_fleet_configs(
        list(device_ids),
        client,
        resolve=devices.__getitem__,
        batch_size=batch_size,
        now=now,
        timeout_s=timeout_s,
        deadline=deadline,
    )
    return await asyncio.to_thread(
        analyze_outcomes,
        outcomes,
        devices=devices,
        audit_id=audit_id,
        requested_at=requested_at,
        intended=intended,
        registry=registry,
        rules=rules,
        max_message_bytes=max_message_bytes,
    )


async def trigger_fleet_audit(
    request: AuditRequest,
    *,
    inventory: Inventory,
    intended: IntendedConfigSource,
    client: IConfigClient,
    registry: MaskingRegistry,
    history: HistoryRepository | None,
    batch_size: int,
    now: Callable[[], datetime] = utc_now,
    top: int = 10,
    rules: ComplianceRulesSource | None = None,
    timeout_s: float | None = None,
    max_message_bytes: int | None = None,
) -> AuditSummary:
    """Audit every device the request selects, in this process, and summarize the result.

    Steps: resolve the selector, record the run, fetch with at most
    ``batch_size`` fetches in flight, redact, analyze against the intended
    configs, store the events, score with every selected device expected.
    Unreachable or failing devices become events with their status, never
    exceptions. A failing history does not lose the results: the summary
    comes back with ``stored=False`` and ``history_error`` set.

    Raises:
        UnknownDeviceError: the selector names ids the inventory does not know.
        InputError: the selector matches no device.
    """
    started_at = now()
    run, devices = resolve_audit(request, inventory)
    by_id = {device.device_id: device for device in devices}
    history_error = None if history is None else await _store(history.record_audit_run, run)

    events = await fetch_and_analyze(
        list(run.device_ids),
        by_id,
        client,
        audit_id=run.audit_id,
        requested_at=run.requested_at,
        intended=intended,
        registry=registry,
        rules=rules,
        batch_size=batch_size,
        now=now,
        timeout_s=timeout_s,
        max_message_bytes=max_message_bytes,
    )
    if history is not None and history_error is None and events:
        history_error = await _store(history.write_events, events)
    return summarize(
        audit_id=run.audit_id,
        requested_at=run.requested_at,
        devices=devices,
        events=events,
        started_at=started_at,
        finished_at=now(),
        top=top,
        stored=history is not None and history_error is None,
        history_error=history_error,
    )
