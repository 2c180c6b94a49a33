"""Section-aware comparison of a device's config with its intended config.

``calculate_diff`` masks both texts with the platform's compiled patterns and
compares their *structure* (see :mod:`driftaudit.domain.sections`): reordering
siblings the platform treats as unordered is not drift, ordered sections still
compare in order, blank lines and comment lines never count (a device
discards comments when it loads a config; masking still governs the hashes and
the unified diff, which are of the masked text). A changed
line shows up as one ``removed`` and one ``added`` line with the same path;
duplicated lines count as many times as they occur (multiset semantics), so a
line present twice on the device and once in the intent is one added line.

Only masked text ever reaches the report: drift lines, the unified diff and the
hashes are all computed from the masked texts.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final, NamedTuple

from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import (
    CompiledPatterns,
    GrammarMemo,
    mask_content,
    mask_redacted,
    mask_with_counts,
)
from driftaudit.domain.models import ChangeType, DriftLine, DriftReport, Platform
from driftaudit.domain.prune import differ_only_in_comments, prune_shared_blocks
from driftaudit.domain.sections import (
    ConfigShape,
    JunosStatement,
    SectionNode,
    SectionRules,
    detect_shape,
    parse_indented,
    parse_junos,
    rules_for,
)
from driftaudit.domain.unified import unified_lines

__all__ = [
    "MAX_UNIFIED_DIFF_CHARS",
    "MaskedPair",
    "calculate_diff",
    "compare_masked",
    "mask_pair",
    "text_hash",
]

#: default cap of a report's unified diff (the drift lines themselves are never cut)
MAX_UNIFIED_DIFF_CHARS: Final = 256 * 1024

_JUNOS_SHAPES: Final = (ConfigShape.JUNOS_BRACES, ConfigShape.JUNOS_SET)
_DIFF_CONTEXT: Final = 3


def text_hash(text: str) -> str:
    """The sha256 hex digest of ``text`` (UTF-8), as stored in reports and history."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def calculate_diff(
    actual: str,
    intended: str,
    patterns: CompiledPatterns,
    *,
    platform: Platform | None = None,
    max_unified_diff_chars: int = MAX_UNIFIED_DIFF_CHARS,
) -> DriftReport:
    """Compare a device's config with its intended config, both masked.

    Args:
        actual: the device's normalized running config (already secret-redacted
            or not: masking redacts secrets again, idempotently).
        intended: the intended config of the device.
        patterns: the device platform's compiled masking patterns.
        platform: selects the section rules (which sections are ordered) and
            the parser; None guesses the shape from the text and applies every
            ordered rule.
        max_unified_diff_chars: the unified diff is cut after this many
            characters (with a note saying how many lines were left out), so one
            pathological device cannot make an event too large for its topic;
            ``added`` and ``removed`` are never cut.

    Returns:
        The report: ``compliant``, the added and removed lines with their
        section paths, a unified diff of the masked texts (empty when
        compliant), the sha256 of each masked text, and how many spans each
        pattern masked in the device's config.
    """
    masked = mask_pair(actual, intended, patterns)
    return compare_masked(
        masked.actual,
        masked.intended,
        platform=platform,
        mask_counts=masked.counts,
        max_unified_diff_chars=max_unified_diff_chars,
    )


class MaskedPair(NamedTuple):
    """Both texts of a comparison, masked, and how many spans each pattern masked in the device's."""

    actual: str
    intended: str
    counts: dict[str, int]


def mask_pair(
    actual: str,
    intended: str,
    patterns: CompiledPatterns,
    *,
    actual_redacted: bool = False,
    intended_cache: MaskCache | None = None,
    memo: GrammarMemo | None = None,
) -> MaskedPair:
    """Mask the two texts of a comparison (what :func:`calculate_diff` compares).

    Args:
        actual: the device's config.
        intended: its intended config.
        patterns: the platform's compiled patterns.
        actual_redacted: ``actual`` is what :func:`redact_secrets` made of the
            device's config with these patterns, so only its volatile values
            are left to mask (:func:`mask_redacted`). Never set it for any
            other text: a secret in it would stay in clear.
        intended_cache: where the masked intended config is kept between
            comparisons (it changes far less often than it is compared).
        memo: the grammar's answers per line with these ``patterns`` so far
            (the redaction of the device's config filled it); a fresh one by
            default. The lines both texts share are read by the grammar once.
    """
    if memo is None:
        memo = {}  # this comparison's only
    if actual_redacted:
        masked_actual, counts = mask_redacted(actual, patterns)
    else:
        masked_actual, counts = mask_with_counts(actual, patterns, memo=memo)
    if intended == actual:
        masked_intended = masked_actual
    elif intended_cache is not None:
        masked_intended = intended_cache.masked(
            intended, patterns, partial(mask_content, patterns=patterns, memo=memo)
        )
    else:
        masked_intended = mask_with_counts(intended, patterns, memo=memo)[0]
    return MaskedPair(masked_actual, masked_intended, counts)


def compare_masked(
    masked_actual: str,
    masked_intended: str,
    *,
    platform: Platform | None = None,
    mask_counts: dict[str, int] | None = None,
    max_unified_diff_chars: int = MAX_UNIFIED_DIFF_CHARS,
) -> DriftReport:
    """Compare two texts that are already masked; see :func:`calculate_diff`."""
    actual_hash = text_hash(masked_actual)
    intended_hash = text_hash(masked_intended)
    counts = dict(mask_counts or {})
    if masked_actual == masked_intended:
        return DriftReport(
            compliant=True, actual_hash=actual_hash, intended_hash=intended_hash, mask_counts=counts
        )
    if platform is not None and differ_only_in_comments(masked_actual, masked_intended, _leaders(platform)):
        return DriftReport(
            compliant=True, actual_hash=actual_hash, intended_hash=intended_hash, mask_counts=counts
        )
    added, removed = _structural_diff(masked_actual, masked_intended, platform)
    compliant = not added and not removed
    return DriftReport(
        compliant=compliant,
        added=tuple(added),
        removed=tuple(removed),
        unified_diff="" if compliant else _unified(masked_actual, masked_intended, max_unified_diff_chars),
        actual_hash=actual_hash,
        intended_hash=intended_hash,
        mask_counts=counts,
    )


def _leaders(platform: Platform) -> str:
    """The characters that start a whole-line comment the platform's parser drops."""
    return "#" if platform in (Platform.JUNOS, Platform.JUNOS_SET) else rules_for(platform).comment_leaders


def _unified(masked_actual: str, masked_intended: str, limit: int) -> str:
    """A unified diff from the intended config (``-``) to the device (``+``), cut at ``limit`` characters."""
    lines = _unified_lines(masked_intended.splitlines(), masked_actual.splitlines())
    if sum(map(len, lines)) + len(lines) <= limit:
        return "\n".join(lines)
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > limit:
            kept.append(f"... unified diff cut at {limit} characters: {len(lines) - len(kept)} more lines")
            break
        kept.append(line)
    return "\n".join(kept)


def _unified_lines(before: list[str], after: list[str]) -> list[str]:
    """The unified diff lines of ``before`` to ``after`` (see :mod:`driftaudit.domain.unified`)."""
    return unified_lines(before, after, _DIFF_CONTEXT)


def _structural_diff(
    actual: str, intended: str, platform: Platform | None
) -> tuple[list[DriftLine], list[DriftLine]]:
    rules = rules_for(platform)
    shape_actual = detect_shape(actual, platform)
    shape_intended = detect_shape(intended, platform)
    out = _Collector()
    if shape_actual in _JUNOS_SHAPES and shape_intended in _JUNOS_SHAPES:
        _compare_junos(parse_junos(actual, shape_actual), parse_junos(intended, shape_intended), rules, out)
    else:
        leaders = rules.comment_leaders
        actual, intended = prune_shared_blocks(actual, intended, rules)
        _compare_children(
            parse_indented(actual, leaders), parse_indented(intended, leaders), (), rules, out, ordered=False
        )
    return out.added, out.removed


@dataclass(slots=True)
class _Collector:
    added: list[DriftLine] = field(default_factory=list)
    removed: list[DriftLine] = field(default_factory=list)

    def add(self, change: ChangeType, line: str, path: tuple[str, ...]) -> None:
        target = self.added if change is ChangeType.ADDED else self.removed
        target.append(DriftLine(change=change, line=line, path=path))

    def subtree(self, change: ChangeType, node: SectionNode, path: tuple[str, ...]) -> None:
        """A section present on one side only: its head and every line under it."""
        pending: list[tuple[SectionNode, tuple[str, ...]]] = [(node, path)]
        while pending:
            current, where = pending.pop()
            self.add(change, current.text, where)
            below = (*where, current.text)
            pending.extend((child, below) for child in reversed(current.children))


# -- indented configs ---------------------------------------------------------------------


def _compare_children(
    actual: Sequence[SectionNode],
    intended: Sequence[SectionNode],
    path: tuple[str, ...],
    rules: SectionRules,
    out: _Collector,
    *,
    ordered: bool,
    deep: bool = False,
) -> None:
    """Compare the children of one section (or the top level).

    Ordered sections compare as sequences; unordered ones as multisets keyed by
    line text, except siblings in one ordered group (``access-list 101`` lines),
    which keep their relative order.
    """
    if ordered:
        _compare_sequence(actual, intended, path, rules, out, deep=deep)
        return
    free_actual, groups_actual = _partition(actual, rules)
    free_intended, groups_intended = _partition(intended, rules)
    for text, nodes in free_actual.items():
        others = free_intended.get(text, [])
        for mine, theirs in zip(nodes, others, strict=False):
            _compare_pair(mine, theirs, path, rules, out, inherited_deep=False)
        for extra in nodes[len(others) :]:
            out.subtree(ChangeType.ADDED, extra, path)
    for text, nodes in free_intended.items():
        for missing in nodes[len(free_actual.get(text, [])) :]:
            out.subtree(ChangeType.REMOVED, missing, path)
    for key in {**groups_intended, **groups_actual}:
        _compare_sequence(
            groups_actual.get(key, []), groups_intended.get(key, []), path, rules, out, deep=False
        )


def _partition(
    nodes: Sequence[SectionNode], rules: SectionRules
) -> tuple[dict[str, list[SectionNode]], dict[str, list[SectionNode]]]:
    free: dict[str, list[SectionNode]] = {}
    groups: dict[str, list[SectionNode]] = {}
    for node in nodes:
        group = rules.group_key(node.text)
        if group is None:
            free.setdefault(node.text, []).append(node)
        else:
            groups.setdefault(group, []).append(node)
    return free, groups


def _compare_sequence(
    actual: Sequence[SectionNode],
    intended: Sequence[SectionNode],
    path: tuple[str, ...],
    rules: SectionRules,
    out: _Collector,
    *,
    deep: bool,
) -> None:
    matcher = difflib.SequenceMatcher(
        None, [node.text for node in intended], [node.text for node in actual], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for theirs, mine in zip(intended[i1:i2], actual[j1:j2], strict=True):
                _compare_pair(mine, theirs, path, rules, out, inherited_deep=deep)
            continue
        for missing in intended[i1:i2]:
            out.subtree(ChangeType.REMOVED, missing, path)
        for extra in actual[j1:j2]:
            out.subtree(ChangeType.ADDED, extra, path)


def _compare_pair(
    mine: SectionNode,
    theirs: SectionNode,
    path: tuple[str, ...],
    rules: SectionRules,
    out: _Collector,
    *,
    inherited_deep: bool,
) -> None:
    """Two lines with the same text: compare what is nested under them."""
    if not mine.children and not theirs.children:
        return
    if inherited_deep:
        ordered, deep = True, True
    else:
        rule = rules.ordered_head(mine.text)
        ordered, deep = rule is not None, rule is not None and rule.deep
    _compare_children(
        mine.children, theirs.children, (*path, mine.text), rules, out, ordered=ordered, deep=deep
    )


# -- Junos (braces or set lines, flattened) --------------------------------------------------


def _compare_junos(
    actual: Sequence[JunosStatement],
    intended: Sequence[JunosStatement],
    rules: SectionRules,
    out: _Collector,
) -> None:
    """Statements compare as a multiset; ordered containers compare their element order."""
    keys_actual = [statement.key for statement in actual]
    keys_intended = [statement.key for statement in intended]
    counts_actual = Counter(keys_actual)
    counts_intended = Counter(keys_intended)
    surplus_actual = counts_actual - counts_intended
    surplus_intended = counts_intended - counts_actual
    # a surplus holds positive counts only: the statements of other keys are skipped by one lookup
    for statement in actual:
        if statement.key in surplus_actual and surplus_actual[statement.key] > 0:
            surplus_actual[statement.key] -= 1
            out.add(ChangeType.ADDED, statement.line, statement.path)
    for statement in intended:
        if statement.key in surplus_intended and surplus_intended[statement.key] > 0:
            surplus_intended[statement.key] -= 1
            out.add(ChangeType.REMOVED, statement.line, statement.path)
    if not rules.junos_ordered:
        return
    # only statements some ordered pattern matches take part in any order: found in one pass
    ordered_actual = _ordered_candidates(actual, keys_actual, rules)
    ordered_intended = _ordered_candidates(intended, keys_intended, rules)
    for pattern_index in range(len(rules.junos_ordered)):
        _compare_junos_order(ordered_actual, ordered_intended, rules, pattern_index, out)


def _ordered_candidates(
    statements: Sequence[JunosStatement], keys: list[str], rules: SectionRules
) -> list[JunosStatement]:
    """The statements (in order) whose key one of the ordered patterns matches.

    The other statements never appear in an element sequence, so leaving them
    out changes no sequence; one match of all the patterns at once per
    statement replaces one match per pattern.
    """
    # the method called on ``rules`` (compiled, a direct call; a bound method kept aside is a Python call)
    if len(rules.junos_ordered) == 1:
        pairs = zip(statements, keys, strict=True)
        return [statement for statement, key in pairs if rules.may_be_ordered(key)]
    combined = rules.junos_ordered_any
    if combined is None:  # pragma: no cover - set whenever there are ordered patterns
        return list(statements)
    match = combined.match
    return [
        statement
        for statement, key in zip(statements, keys, strict=True)
        if rules.may_be_ordered(key) and match(key)
    ]


def _element_sequences(
    statements: Sequence[JunosStatement], rules: SectionRules, pattern_index: int
) -> dict[str, dict[str, JunosStatement]]:
    """Per ordered container, its distinct elements in first-appearance order."""
    pattern = rules.junos_ordered[pattern_index]
    sequences: dict[str, dict[str, JunosStatement]] = {}
    for statement in statements:
        match = pattern.match(statement.key)
        if match:
            elements = sequences.setdefault(match.group("container"), {})
            elements.setdefault(match.group("element"), statement)
    return sequences


def _compare_junos_order(
    actual: Sequence[JunosStatement],
    intended: Sequence[JunosStatement],
    rules: SectionRules,
    pattern_index: int,
    out: _Collector,
) -> None:
    sequences_actual = _element_sequences(actual, rules, pattern_index)
    sequences_intended = _element_sequences(intended, rules, pattern_index)
    for container, elements_intended in sequences_intended.items():
        elements_actual = sequences_actual.get(container)
        if not elements_actual:
            continue
        # membership differences are already reported statement by statement
        order_actual = [element for element in elements_actual if element in elements_intended]
        order_intended = [element for element in elements_intended if element in elements_actual]
        if order_actual == order_intended:
            continue
        matcher = difflib.SequenceMatcher(None, order_intended, order_actual, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            for element in order_intended[i1:i2]:
                line, path = _junos_locate(elements_intended[element], f"{container} {element}")
                out.add(ChangeType.REMOVED, line, path)
            for element in order_actual[j1:j2]:
                line, path = _junos_locate(elements_actual[element], f"{container} {element}")
                out.add(ChangeType.ADDED, line, path)


def _junos_locate(statement: JunosStatement, full: str) -> tuple[str, tuple[str, ...]]:
    """Split a flattened element into the brace path above it and the rest."""
    depth = 0
    prefix = ""
    for index, head in enumerate(statement.path, start=1):
        candidate = f"{prefix} {head}" if prefix else head
        if not full.startswith(candidate + " "):
            break
        prefix, depth = candidate, index
    return (full[len(prefix) + 1 :] if depth else full), statement.path[:depth]
