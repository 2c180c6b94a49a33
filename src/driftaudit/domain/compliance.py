"""Per-feature compliance of one device, and its remediation, from one comparison.

:func:`assess` takes what the diff found (a :class:`DriftReport` of the
masked configs, or None when the device has no intended config) and the
features in scope of the device, and decides:

* each feature's verdict: its share of the drift lines (by section path), an
  order check where the feature is ordered, and its policies; ``not
  applicable`` when neither config has a line of the feature and it has no
  policy;
* the device's overall verdict: every drift line (``unmatched: report``) or
  only those inside a feature in scope (``unmatched: ignore``, for partial
  intended configs), plus every failed policy;
* the remediation of a device that is not compliant, and each feature's share
  of it, rendered with secrets withheld.

Everything is computed from masked texts, so nothing here can carry a secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from driftaudit.domain.features import (
    CompiledFeature,
    ConfigLine,
    SectionSelector,
    config_lines,
    drift_key,
    select,
)
from driftaudit.domain.masking import CompiledPatterns, mask_content
from driftaudit.domain.models import (
    ChangeType,
    DriftLine,
    DriftReport,
    FeatureResult,
    FeatureStatus,
    Platform,
    PolicyResult,
)
from driftaudit.domain.policies import evaluate_policy
from driftaudit.domain.remediation import (
    Action,
    Remediation,
    RemediationStep,
    remediate,
    render,
    secret_sources,
    step_key,
)

__all__ = ["MAX_REMEDIATION_CHARS", "Assessment", "assess"]

#: a remediation in an event is cut after this many characters (with a note), like the unified diff,
#: so one pathological device cannot make an event too large for its topic
MAX_REMEDIATION_CHARS = 256 * 1024

_JUNOS = (Platform.JUNOS, Platform.JUNOS_SET)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The overall verdict, the lines behind it, per-feature results and the remediation."""

    compliant: bool
    added: tuple[DriftLine, ...]
    removed: tuple[DriftLine, ...]
    unified_diff: str
    features: tuple[FeatureResult, ...]
    remediation: tuple[str, ...]
    steps: Remediation | None = None


def _order_drift(
    actual: Sequence[ConfigLine], intended: Sequence[ConfigLine]
) -> tuple[list[DriftLine], list[DriftLine]]:
    """Lines of an ordered feature whose relative order differs (membership is the diff's job)."""
    common = {line.key for line in actual} & {line.key for line in intended}
    order_a = [line for line in actual if line.key in common]
    order_i = [line for line in intended if line.key in common]
    if [line.key for line in order_a] == [line.key for line in order_i]:
        return [], []
    added: list[DriftLine] = []
    removed: list[DriftLine] = []
    matcher = difflib.SequenceMatcher(
        None, [line.key for line in order_i], [line.key for line in order_a], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed.extend(DriftLine(change=ChangeType.REMOVED, line=x.line, path=x.path) for x in order_i[i1:i2])
        added.extend(DriftLine(change=ChangeType.ADDED, line=x.line, path=x.path) for x in order_a[j1:j2])
    return added, removed


def _order_steps(actual: Sequence[ConfigLine], intended: Sequence[ConfigLine]) -> list[RemediationStep]:
    """Remove the feature's lines from the first out-of-order one on, then add them back in order."""
    common = {line.key for line in actual} & {line.key for line in intended}
    order_a = [line for line in actual if line.key in common]
    order_i = [line for line in intended if line.key in common]
    start = 0
    while start < min(len(order_a), len(order_i)) and order_a[start].key == order_i[start].key:
        start += 1
    steps = [RemediationStep(Action.REMOVE, line.path, line.line) for line in order_a[start:]]
    steps.extend(RemediationStep(Action.ADD, line.path, line.line) for line in order_i[start:])
    return steps


def _policy_steps(
    added: Sequence[DriftLine], removed: Sequence[DriftLine], junos: bool, device: Sequence[ConfigLine]
) -> list[RemediationStep]:
    """Remove what a policy forbids, add what it requires (a pattern cannot be added)."""
    steps = [
        RemediationStep(Action.REMOVE, () if junos else line.path, drift_key(line) if junos else line.line)
        for line in added
    ]
    for line in removed:
        if line.line.startswith("<pattern "):
            continue
        path, text = ((), line.line) if junos else _placed(line.line, device)
        steps.append(RemediationStep(Action.ADD, path, text))
    return steps


def _placed(key: str, device: Sequence[ConfigLine]) -> tuple[tuple[str, ...], str]:
    """Where a required line written as a section path goes: under the longest section the device has."""
    best: ConfigLine | None = None
    for line in device:
        if key.startswith(line.key + " ") and (best is None or len(line.key) > len(best.key)):
            best = line
    if best is None:
        return (), key
    return (*best.path, best.line), key[len(best.key) + 1 :]


def _share_of(selector: SectionSelector, own: Sequence[RemediationStep]) -> Callable[[RemediationStep], bool]:
    """Which steps belong to one feature: those in its sections, and its own order and policy steps."""
    return lambda step: (not selector.empty and selector.matches(step_key(step))) or step in own


def _cap(lines: tuple[str, ...], limit: int = MAX_REMEDIATION_CHARS) -> tuple[str, ...]:
    size = 0
    for index, line in enumerate(lines):
        size += len(line) + 1
        if size > limit:
            note = f"! remediation cut at {limit} characters: {len(lines) - index} more lines"
            return (*lines[:index], note)
    return lines


def _listing(lines: Sequence[ConfigLine]) -> list[str]:
    return [" " * len(line.path) + line.line for line in lines]


def assess(
    *,
    report: DriftReport | None,
    redacted_actual: str,
    intended: str | None,
    patterns: CompiledPatterns,
    platform: Platform,
    features: Sequence[CompiledFeature],
    unmatched: str = "report",
    masked: tuple[str, str] | None = None,
) -> Assessment:
    """Decide the device's verdict, per feature and overall, and what to change.

    Args:
        report: the diff of the masked configs; None when there is no
            intended config (only policies can then decide).
        redacted_actual: the device's config with secrets already redacted.
        intended: the raw intended config (masked here), or None.
        patterns: the platform's masking patterns.
        platform: the device's platform (section rules, remediation style).
        features: the features in scope of the device.
        unmatched: ``report`` compares every line; ``ignore`` only the lines
            of the features in ``features``.
        masked: the two texts ``report`` compared, masked (the comparison's
            own :func:`~driftaudit.domain.diff.mask_pair`), so they are not
            masked twice; None masks them here.
    """
    masked_intended: str | None
    if masked is not None and intended is not None:
        masked_actual, masked_intended = masked
    else:
        masked_actual = mask_content(redacted_actual, patterns)
        masked_intended = mask_content(intended, patterns) if intended is not None else None
    # the section paths are only needed by features (a device without rules skips both parses)
    actual_lines = config_lines(masked_actual, platform) if features else []
    intended_lines = (
        config_lines(masked_intended, platform) if features and masked_intended is not None else []
    )
    selectors = [feature.selector for feature in features if not feature.selector.empty]
    junos = platform in _JUNOS

    def covered(line: DriftLine) -> bool:
        key = drift_key(line)
        return any(selector.matches(key) for selector in selectors)

    base_added = list(report.added) if report else []
    base_removed = list(report.removed) if report else []
    if unmatched == "ignore":
        base_added = [line for line in base_added if covered(line)]
        base_removed = [line for line in base_removed if covered(line)]
    device_added = list(base_added)
    device_removed = list(base_removed)
    extra_steps: list[RemediationStep] = []
    per_feature: list[
        tuple[CompiledFeature, list[DriftLine], list[DriftLine], list[PolicyResult], list[RemediationStep]]
    ] = []
    present: dict[str, bool] = {}
    for feature in features:
        selector = feature.selector
        mine_a = (
            []
            if selector.empty
            else [x for x in (report.added if report else ()) if selector.matches(drift_key(x))]
        )
        mine_r = (
            []
            if selector.empty
            else [x for x in (report.removed if report else ()) if selector.matches(drift_key(x))]
        )
        own_steps: list[RemediationStep] = []
        feature_actual = actual_lines if selector.empty else select(actual_lines, selector)
        feature_intended = intended_lines if selector.empty else select(intended_lines, selector)
        present[feature.name] = bool(feature_actual or feature_intended)
        if feature.ordered and report is not None and not selector.empty:
            order_a, order_r = _order_drift(feature_actual, feature_intended)
            if order_a or order_r:
                mine_a += order_a
                mine_r += order_r
                device_added += order_a
                device_removed += order_r
                own_steps += _order_steps(feature_actual, feature_intended)
        results: list[PolicyResult] = []
        for index, policy in enumerate(feature.policies):
            result, pol_a, pol_r = evaluate_policy(
                index,
                name=policy.name,
                kind=policy.kind,
                lines=policy.lines,
                compiled_patterns=feature.policy_matches[index],
                scope=feature.policy_scopes[index],
                feature_lines=feature_actual,
                patterns=patterns,
            )
            results.append(result)
            new_a = [x for x in pol_a if x not in mine_a]
            new_r = [x for x in pol_r if x not in mine_r]
            mine_a += new_a
            mine_r += new_r
            device_added += [x for x in new_a if x not in device_added]
            device_removed += [x for x in new_r if x not in device_removed]
            own_steps += _policy_steps(new_a, new_r, junos, actual_lines)
        extra_steps += own_steps
        per_feature.append((feature, mine_a, mine_r, results, own_steps))
    compliant = not device_added and not device_removed

    steps: Remediation | None = None
    if not compliant:
        style = "junos" if junos else "ios"
        found = (
            remediate(masked_actual, masked_intended, platform)
            if masked_intended is not None and (base_added or base_removed)
            else Remediation(style, ())
        )
        if unmatched == "ignore":
            found = found.only(lambda step: any(s.matches(step_key(step)) for s in selectors))
        merged = list(found.steps)
        merged += [step for step in extra_steps if step not in merged]
        steps = Remediation(found.style, tuple(merged))
    holds_secret = steps is not None and any(
        "<secret:" in step.line or any("<secret:" in text for _, text in step.below) for step in steps.steps
    )
    sources = secret_sources(intended, patterns) if intended is not None and holds_secret else {}

    results_out: list[FeatureResult] = []
    for feature, mine_a, mine_r, results, own_steps in per_feature:
        selector = feature.selector
        if mine_a or mine_r:
            status = FeatureStatus.DRIFTED
        elif results or (present[feature.name] and not selector.empty and report is not None):
            status = FeatureStatus.COMPLIANT
        else:
            status = FeatureStatus.NOT_APPLICABLE
        share: tuple[str, ...] = ()
        if steps is not None and status is FeatureStatus.DRIFTED:
            diff_part = steps.only(_share_of(selector, own_steps))
            share = _cap(render(diff_part, sources=sources))
        results_out.append(
            FeatureResult(
                feature=feature.name,
                status=status,
                added=tuple(mine_a),
                removed=tuple(mine_r),
                added_count=len(mine_a),
                removed_count=len(mine_r),
                policies=tuple(results),
                remediation=share,
            )
        )

    if unmatched == "ignore" or report is None:
        unified = ""
        if not compliant:
            chosen_a = [x for x in actual_lines if any(s.matches(x.key) for s in selectors)]
            chosen_i = [x for x in intended_lines if any(s.matches(x.key) for s in selectors)]
            unified = "\n".join(
                difflib.unified_diff(
                    _listing(chosen_i), _listing(chosen_a), "intended", "actual", lineterm="", n=3
                )
            )
    else:
        unified = report.unified_diff
    return Assessment(
        compliant=compliant,
        added=tuple(device_added),
        removed=tuple(device_removed),
        unified_diff=unified,
        features=tuple(results_out),
        remediation=_cap(render(steps, sources=sources)) if steps is not None else (),
        steps=steps,
    )
