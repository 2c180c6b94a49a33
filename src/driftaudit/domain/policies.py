"""Policies: what a feature's lines must contain, lack, or be exactly.

A policy compares *section paths* (see :func:`driftaudit.domain.features.line_key`)
of the device's masked lines with the policy's own lines, masked with the
same patterns: a secret in a policy line compares by its keyed fingerprint
and never shows in a verdict, and a volatile value is a placeholder on both
sides, so it never makes a policy fail.

* ``present``: every listed line is on the device, and every pattern matches
  at least one line;
* ``absent``: no listed line is on the device, and no line matches a pattern;
* ``exactly``: the lines the policy covers (those matching ``match``, or every
  line of the feature) are exactly the listed lines, as a multiset, and each
  pattern matches at least one of them; a covered line that is neither listed
  nor matched by a pattern is unexpected.

A violation becomes drift lines of the feature: a missing line is ``removed``
(intended, missing on the device), an unexpected or forbidden one is
``added`` (on the device, not intended).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from driftaudit.domain.features import ConfigLine, line_key
from driftaudit.domain.masking import CompiledPatterns, mask_content
from driftaudit.domain.models import ChangeType, DriftLine, PolicyKind, PolicyResult

__all__ = ["evaluate_policy", "policy_key"]


def policy_key(line: str, patterns: CompiledPatterns) -> str:
    """A policy line as the section path it names, masked like the device's lines."""
    text = " ".join(mask_content(line.strip(), patterns).split())
    return line_key((), text)


def _normal(key: str) -> str:
    return " ".join(key.split())


def evaluate_policy(
    policy_index: int,
    *,
    name: str,
    kind: PolicyKind,
    lines: Sequence[str],
    compiled_patterns: Sequence[Any],
    scope: Any,
    feature_lines: Sequence[ConfigLine],
    patterns: CompiledPatterns,
) -> tuple[PolicyResult, list[DriftLine], list[DriftLine]]:
    """One policy's verdict over the device's masked lines of one feature.

    Returns:
        The verdict, and the drift lines it adds to the feature (added, removed).
    """
    label = name or f"{kind.value}-{policy_index + 1}"
    wanted = [policy_key(line, patterns) for line in lines]
    device: dict[str, ConfigLine] = {}
    for line in feature_lines:
        device.setdefault(_normal(line.key), line)
    added: list[DriftLine] = []
    removed: list[DriftLine] = []
    missing: list[str] = []
    unexpected: list[str] = []

    def offend(line: ConfigLine) -> None:
        unexpected.append(line.key)
        added.append(DriftLine(change=ChangeType.ADDED, line=line.line, path=line.path))

    def lack(key: str) -> None:
        missing.append(key)
        removed.append(DriftLine(change=ChangeType.REMOVED, line=key))

    if kind is PolicyKind.PRESENT:
        for key in wanted:
            if key not in device:
                lack(key)
        for pattern in compiled_patterns:
            if not any(pattern.search(line.key) for line in feature_lines):
                lack(f"<pattern {pattern.pattern}>")
    elif kind is PolicyKind.ABSENT:
        forbidden = set(wanted)
        for line in feature_lines:
            if _normal(line.key) in forbidden or any(p.search(line.key) for p in compiled_patterns):
                offend(line)
    else:
        covered = [line for line in feature_lines if scope is None or scope.search(line.key)]
        remaining = Counter(wanted)
        for line in covered:
            key = _normal(line.key)
            if remaining[key] > 0:
                remaining[key] -= 1
            elif not any(p.search(line.key) for p in compiled_patterns):
                offend(line)
        for key in wanted:
            if remaining[key] > 0:
                remaining[key] -= 1
                lack(key)
        for pattern in compiled_patterns:
            if not any(pattern.search(line.key) for line in covered):
                lack(f"<pattern {pattern.pattern}>")
    result = PolicyResult(
        name=label,
        kind=kind,
        passed=not missing and not unexpected,
        missing=tuple(missing),
        unexpected=tuple(unexpected),
    )
    return result, added, removed
