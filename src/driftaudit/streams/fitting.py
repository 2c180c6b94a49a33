"""Making every output fit its topic: cut with a note, never drop.

A broker refuses a record above the topic's ``max.message.bytes``; the
producer refuses one above its own limit. The stages therefore send what fits:

* :func:`bounded_dead_letter` keeps at most ``max_payload_bytes`` of the
  original payload, with its full size and sha256, so any input the broker
  accepted yields a dead letter;
* :func:`fit_drift_event` cuts a drift event's diff and drift lines until the
  event encodes within a byte budget, saying what was cut and keeping the
  true line counts;
* :func:`fit_status` cuts the list of missing devices of an audit status.

The budget starts at the configured ``max_message_bytes``; a stage that still
gets "too large" from the broker halves it and tries again (:data:`MIN_BUDGET`
is the floor), so the topic's real limit never needs to be known in advance.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from driftaudit.domain.models import AuditStatus, DeadLetter, DriftEvent
from driftaudit.streams.codec import encode, to_bytes

__all__ = ["MIN_BUDGET", "bounded_dead_letter", "fit_drift_event", "fit_status", "halve"]

#: the smallest budget a stage tries before it gives up on a message
MIN_BUDGET = 512

#: bytes kept for the envelope of a record around its value (key, headers, batch overhead)
_OVERHEAD = 256

#: the longest dead-letter reason kept
_MAX_REASON = 2000


def halve(budget: int) -> int | None:
    """The next, smaller budget after a "too large", or None below the floor."""
    smaller = budget // 2
    return smaller if smaller >= MIN_BUDGET else None


def bounded_dead_letter(
    *,
    stage: str,
    reason: str,
    topic: str,
    key: bytes | str | None,
    payload: bytes | str | None,
    received_at: datetime,
    max_payload_bytes: int,
) -> DeadLetter:
    """A dead letter with at most ``max_payload_bytes`` of the payload, its size and sha256."""
    data = to_bytes(payload)
    raw_key = to_bytes(key)[:1024] if key is not None else None
    kept = data[: max(0, max_payload_bytes)]
    return DeadLetter(
        stage=stage,
        reason=reason[:_MAX_REASON],
        topic=topic,
        key_b64=base64.b64encode(raw_key).decode() if raw_key is not None else None,
        payload_b64=base64.b64encode(kept).decode(),
        received_at=received_at,
        payload_size=len(data),
        payload_sha256=hashlib.sha256(data).hexdigest(),
        payload_truncated=len(kept) < len(data),
    )


def fit_drift_event(event: DriftEvent, budget: int) -> DriftEvent:
    """``event`` itself when it encodes within ``budget`` bytes, else a cut copy that does.

    The unified diff goes first (it repeats the drift lines), then every list
    is halved together until the event fits: the drift lines from the end, the
    remediation, and each compliance feature's lines and remediation (a
    feature keeps its status and true counts). ``truncated`` says what was cut
    and ``added_total``/``removed_total`` keep the true counts.
    """
    limit = max(MIN_BUDGET, budget - _OVERHEAD)
    if len(encode(event)) <= limit:
        return event
    added, removed, steps = len(event.added), len(event.removed), len(event.remediation)
    diff_chars = len(event.unified_diff)
    shift = 0
    while True:
        keep_added, keep_removed, keep_steps = added >> shift, removed >> shift, steps >> shift
        note = (
            f"cut to fit {budget} bytes: unified_diff {diff_chars} -> 0 chars, "
            f"added {added} -> {keep_added} lines, removed {removed} -> {keep_removed} lines, "
            f"remediation {steps} -> {keep_steps} lines"
        )
        features = tuple(
            feature.model_copy(
                update={
                    "added": feature.added[: len(feature.added) >> shift],
                    "removed": feature.removed[: len(feature.removed) >> shift],
                    "remediation": feature.remediation[: len(feature.remediation) >> shift],
                }
            )
            for feature in event.features
        )
        if shift and event.features:
            note += f", each feature's lines and remediation cut to 1/{1 << shift}"
        cut = event.model_copy(
            update={
                "unified_diff": "",
                "added": event.added[:keep_added],
                "removed": event.removed[:keep_removed],
                "remediation": event.remediation[:keep_steps],
                "features": features,
                "truncated": note,
                "added_total": added,
                "removed_total": removed,
            }
        )
        longest = max(
            [added, removed, steps]
            + [max(len(f.added), len(f.removed), len(f.remediation)) for f in event.features]
        )
        if len(encode(cut)) <= limit or (longest >> shift) == 0:
            return cut
        shift += 1


def fit_status(status: AuditStatus, budget: int) -> AuditStatus:
    """``status`` itself when it fits ``budget`` bytes, else one naming fewer missing devices."""
    limit = max(MIN_BUDGET, budget - _OVERHEAD)
    if len(encode(status)) <= limit:
        return status
    total = len(status.missing)
    keep = total
    while True:
        keep //= 2
        cut = status.model_copy(
            update={
                "missing": status.missing[:keep],
                "truncated": f"cut to fit {budget} bytes: missing lists {keep} of {total} devices",
            }
        )
        if len(encode(cut)) <= limit or keep == 0:
            return cut
