"""The one comparison path: redact a fetched config, then analyze it into a DriftEvent.

The Faust agents (``fetch`` emits :func:`redact_outcome`, ``analyze`` calls
:func:`analyze_outcome`), the in-process audit and the pre-flight check all go
through these two functions, so they cannot disagree on a device's status.

Secrets leave the fetch step already redacted, and everything an event carries
(drift lines, unified diff, hashes, the failure reason) is built from masked
text only.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from driftaudit.domain.compliance import assess
from driftaudit.domain.diff import MaskedPair, compare_masked, mask_pair
from driftaudit.domain.features import CompiledRules
from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import CompiledPatterns, GrammarMemo, redact_secrets
from driftaudit.domain.models import (
    ConfigResult,
    Device,
    DeviceStatus,
    DriftEvent,
    DriftReport,
    FetchFailure,
    FetchOutcome,
)

__all__ = ["NO_INTENDED_REASON", "analyze_outcome", "redact_outcome"]

#: the reason of an ``error`` event for a device whose intended config is unknown
NO_INTENDED_REASON = "no intended config for device"


def redact_outcome(
    outcome: FetchOutcome, patterns: CompiledPatterns, memo: GrammarMemo | None = None
) -> str | None:
    """The cleaned config with every secret fingerprinted, or None for a failed fetch.

    This is what may cross a topic (``device-configs``): the raw output never
    leaves the fetching process. ``memo``: see :func:`~driftaudit.domain.masking.redact_secrets`.
    """
    if isinstance(outcome, ConfigResult):
        return redact_secrets(outcome.cleaned_text, patterns, memo=memo)
    return None


def analyze_outcome(
    *,
    audit_id: str,
    device: Device,
    requested_at: datetime,
    observed_at: datetime,
    redacted_text: str | None,
    failure: FetchFailure | None,
    intended: str | None,
    patterns: CompiledPatterns,
    fetch_ms: float = 0.0,
    rules: CompiledRules | None = None,
    just_redacted: bool = False,
    intended_cache: MaskCache | None = None,
    grammar_memo: GrammarMemo | None = None,
) -> DriftEvent:
    """Turn one device's fetch result into its DriftEvent.

    Args:
        audit_id: the audit the device belongs to.
        device: the device, as the inventory knows it.
        requested_at: when the audit was requested.
        observed_at: when the config was fetched (or the fetch failed).
        redacted_text: the secret-redacted cleaned config; ignored when
            ``failure`` is set.
        failure: why no config was fetched, if so.
        intended: the device's intended config (may hold secrets: it is masked
            before anything is compared or reported), or None when unknown.
        patterns: the device platform's compiled masking patterns.
        fetch_ms: how long the fetch took.
        rules: the compliance features (None: none configured). With rules,
            the event carries one result per feature in scope of the device,
            the overall verdict follows the rules' ``unmatched`` mode and
            policies, and a device with no intended config is judged by its
            policies alone when it has any in scope.
        just_redacted: ``redacted_text`` is what :func:`redact_outcome` made
            with ``patterns`` in this very process, so only its volatile
            values are left to mask (see :func:`~driftaudit.domain.diff.mask_pair`).
        intended_cache: masked intended configs kept between audits.
        grammar_memo: the memo :func:`redact_outcome` filled with ``patterns``
            when it redacted this very config, so the intended config's lines
            it shares are not read by the grammar again.

    Returns:
        ``unreachable``/``error`` with the failure's reason when the fetch
        failed; ``error`` when there is no config or no intended config;
        otherwise ``compliant`` or ``drifted`` with the masked drift lines,
        unified diff and hashes. ``analyze_ms`` is the comparison's own time.
    """
    started = time.perf_counter()
    common = {
        "audit_id": audit_id,
        "device_id": device.device_id,
        "tenant": device.tenant,
        "site": device.site,
        "role": device.role,
        "platform": device.platform,
        "requested_at": requested_at,
        "observed_at": observed_at,
        "fetch_ms": fetch_ms,
    }
    if failure is not None:
        return DriftEvent(
            **common,
            status=DeviceStatus(failure.status),
            reason=redact_secrets(failure.reason, patterns),
            analyze_ms=_elapsed_ms(started),
        )
    if redacted_text is None:
        return DriftEvent(
            **common,
            status=DeviceStatus.ERROR,
            reason="no config and no failure reported for device",
            analyze_ms=_elapsed_ms(started),
        )
    features = rules.for_device(device) if rules is not None else ()
    if intended is None and not any(feature.policies for feature in features):
        return DriftEvent(
            **common,
            status=DeviceStatus.ERROR,
            reason=NO_INTENDED_REASON,
            analyze_ms=_elapsed_ms(started),
        )
    masked = (
        None
        if intended is None
        else mask_pair(
            redacted_text,
            intended,
            patterns,
            actual_redacted=just_redacted,
            intended_cache=intended_cache,
            memo=grammar_memo,
        )
    )
    if masked is None or rules is not None:
        return _with_features(common, redacted_text, intended, patterns, device, rules, started, masked)
    report = compare_masked(
        masked.actual, masked.intended, platform=device.platform, mask_counts=masked.counts
    )
    if not report.compliant:  # the remediation, from the comparison already made
        return _with_features(
            common, redacted_text, intended, patterns, device, None, started, masked, report
        )
    return DriftEvent(
        **common,
        status=DeviceStatus.COMPLIANT if report.compliant else DeviceStatus.DRIFTED,
        added=report.added,
        removed=report.removed,
        unified_diff=report.unified_diff,
        actual_hash=report.actual_hash,
        intended_hash=report.intended_hash,
        analyze_ms=_elapsed_ms(started),
    )


def _with_features(
    common: dict[str, Any],
    redacted_text: str,
    intended: str | None,
    patterns: CompiledPatterns,
    device: Device,
    rules: CompiledRules | None,
    started: float,
    masked: MaskedPair | None,
    report: DriftReport | None = None,
) -> DriftEvent:
    """The event of a device judged with its features and remediation (see ``domain.compliance``).

    ``masked`` holds both texts masked (None without an intended config);
    ``report`` is their comparison when the caller made it already.
    """
    if report is None and masked is not None:
        report = compare_masked(
            masked.actual, masked.intended, platform=device.platform, mask_counts=masked.counts
        )
    verdict = assess(
        report=report,
        redacted_actual=redacted_text,
        intended=intended,
        patterns=patterns,
        platform=device.platform,
        features=rules.for_device(device) if rules is not None else (),
        unmatched=rules.unmatched if rules is not None else "report",
        masked=None if masked is None else (masked.actual, masked.intended),
    )
    return DriftEvent(
        **common,
        status=DeviceStatus.COMPLIANT if verdict.compliant else DeviceStatus.DRIFTED,
        added=verdict.added,
        removed=verdict.removed,
        unified_diff=verdict.unified_diff,
        actual_hash=report.actual_hash if report is not None else "",
        intended_hash=report.intended_hash if report is not None else "",
        analyze_ms=_elapsed_ms(started),
        features=verdict.features,
        remediation=verdict.remediation,
    )


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
