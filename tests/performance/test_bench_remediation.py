"""Remediation against hier_config's ``WorkflowRemediation`` on the same drifted pairs.

The pairs are the analysis benchmark's drifted ones (every real sample with a
real change injected, plus the real before/after pairs), normalized and
masked once, so both tools see exactly the same texts. Figures:

* **agreement**: the share of pairs where both produce the same remediation
  lines after normalisation (each line as its full path of parent lines,
  indentation and order ignored), and every disagreement counted by class
  (see :func:`_classify`);
* **speed**: pairs per second of ``remediate`` + ``render`` against
  ``get_hconfig`` x 2 + ``remediation_config``, and their ratio.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import pytest
from hier_config import WorkflowRemediation, get_hconfig
from hier_config.exceptions import DuplicateChildError

from driftaudit.domain.compliance import assess
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.features import RuleSet, compile_rules
from driftaudit.domain.masking import MaskingRegistry, mask_content
from driftaudit.domain.models import Device, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.remediation import idempotent_key, remediate, render
from tests.performance.test_bench_analysis import HIER_PLATFORM, REAL_PAIRS, _rates
from tests.samples_path import PAIRS
from tests.unit.test_false_positive_kpi import KINDS, corpus, inject_change, refetch

Pair = tuple[Platform, str, str]  # platform, masked running, masked intended
Paths = set[tuple[str, ...]]


def _pairs() -> list[Pair]:
    rng = random.Random(11)
    registry = MaskingRegistry.builtin(key=b"bench-remediation")
    normalizer = ConfigNormalizer()
    raw: list[tuple[Platform, str, str]] = [
        (p, (PAIRS / a).read_text(), (PAIRS / i).read_text()) for p, a, i in REAL_PAIRS
    ]
    raw += [(p, (PAIRS / i).read_text(), (PAIRS / a).read_text()) for p, a, i in REAL_PAIRS]
    for sample in corpus():
        patterns = registry.for_platform(sample.platform)
        for kind in KINDS[:3]:
            earlier = refetch(sample, rng)
            injected = inject_change(refetch(sample, rng), sample, patterns, kind, rng)
            assert injected is not None
            raw.append((sample.platform, injected[0], earlier))
    pairs = []
    for platform, running, intended in raw:
        patterns = registry.for_platform(platform)
        pairs.append(
            (
                platform,
                mask_content(normalizer.normalize_text(running), patterns),
                mask_content(normalizer.normalize_text(intended), patterns),
            )
        )
    return pairs


def _ours(pair: Pair) -> tuple[str, ...]:
    platform, running, intended = pair
    return render(remediate(running, intended, platform))


_PATTERNS = MaskingRegistry([], key=b"bench-remediation")
_RULES = compile_rules(
    RuleSet.model_validate(
        {
            "features": [
                {"name": "interfaces", "sections": ["interface ", "interfaces"]},
                {"name": "routing", "sections": ["router ", "protocols", "route-map ", "policy-options"]},
                {"name": "acl", "sections": ["ip access-list ", "access-list ", "firewall"]},
                {"name": "ntp", "sections": ["ntp ", "system ntp"]},
            ]
        }
    )
)


def _diff_only(pair: Pair) -> bool:
    platform, running, intended = pair
    return calculate_diff(running, intended, _PATTERNS.for_platform(platform), platform=platform).compliant


def _assessed(pair: Pair) -> int:
    platform, running, intended = pair
    patterns = _PATTERNS.for_platform(platform)
    report = calculate_diff(running, intended, patterns, platform=platform)
    device = Device(device_id="d", host="h", platform=platform)
    verdict = assess(
        report=report,
        redacted_actual=running,
        intended=intended,
        patterns=patterns,
        platform=platform,
        features=_RULES.for_device(device),
    )
    return len(verdict.remediation)


def _theirs(pair: Pair) -> list[tuple[str, ...]]:
    platform, running, intended = pair
    hier = HIER_PLATFORM[platform]
    workflow = WorkflowRemediation(get_hconfig(hier, running), get_hconfig(hier, intended))
    return [tuple(child.path()) for child in workflow.remediation_config.all_children_sorted()]


def _paths(lines: Iterable[str]) -> Paths:
    """Indented lines as the set of their full paths (``[parent, ..., line]``)."""
    stack: list[tuple[int, str]] = []
    paths: Paths = set()
    for line in lines:
        text = line.strip()
        if not text:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, " ".join(text.split())))
        paths.add(tuple(item[1] for item in stack))
    return paths


def _normal(paths: Iterable[Sequence[str]]) -> Paths:
    return {tuple(" ".join(part.split()) for part in path) for path in paths}


_ACL_SEQ = re.compile(r"^(?:no )?\d+ (?:permit|deny|remark) ")

#: the disagreement classes, as printed
IDEM_OURS = (
    "idempotent (ours): we overwrite a value in place; hier_config's table for this platform negates first"
)
IDEM_THEIRS = "idempotent (theirs): hier_config overwrites in place; we negate first"
ACL_SEQ = "ordered ACL: hier_config numbers IOS ACL entries and patches by sequence; we rewrite the ACL"
JUNOS_DEPTH = "junos depth: we delete the largest container the intent lacks, hier_config each statement"
DUPLICATE = "duplicate line: the device holds a line twice; we remove the surplus copy, hier_config does not"
COMMENT = "comments: hier_config takes Junos `#` comment lines for statements and deletes them"
MISSED = (
    "missed negation: a line only on the device (absent from the intent) that hier_config leaves in place"
)
OTHER_OURS = "ours only (other)"
OTHER_THEIRS = "theirs only (other)"


def _classify(ours: Paths, theirs: Paths, running: str, intended: str) -> set[str]:
    """Why two remediations differ (a pair can show several classes)."""
    classes: set[str] = set()
    only_ours, only_theirs = ours - theirs, theirs - ours
    both = ours & theirs
    counts = Counter(line.strip() for line in running.splitlines())
    wanted = {line.strip() for line in intended.splitlines()}

    def keyed(path: tuple[str, ...], among: Paths) -> bool:
        key = idempotent_key(path[-1][3:] if path[-1].startswith("no ") else path[-1])
        return key is not None and any(
            other[:-1] == path[:-1] and idempotent_key(other[-1]) == key for other in among
        )

    for path in only_theirs:
        last = path[-1]
        if last.startswith(("delete #", "set #", "#")):
            classes.add(COMMENT)
        elif any(_ACL_SEQ.match(part) for part in path):
            classes.add(ACL_SEQ)
        elif last.startswith("no ") and keyed(path, both):
            classes.add(IDEM_OURS)
        elif last.startswith("delete "):
            classes.add(JUNOS_DEPTH)
        elif len(path) > 1 and (path[:-1] in both or path[:-1] in only_theirs):
            classes.add(OTHER_THEIRS)
        elif len(path) == 1 and not any(other[:1] == path for other in only_theirs if len(other) > 1):
            classes.add(OTHER_THEIRS)
    for path in only_ours:
        last = path[-1]
        if last.startswith("no ") and keyed(path, both):
            classes.add(IDEM_THEIRS)
        elif last.startswith("no ") and counts[last[3:]] > 1:
            classes.add(DUPLICATE)
        elif last.startswith("no ") and counts[last[3:]] == 1 and last[3:] not in wanted:
            classes.add(MISSED)
        elif last.startswith("delete ") and any(p[-1].startswith(last + " ") for p in only_theirs):
            classes.add(JUNOS_DEPTH)
        elif any(_ACL_SEQ.match(part) for p in only_theirs for part in p) and len(path) <= 2:
            classes.add(ACL_SEQ)
        elif not any(
            other[: len(path)] == path and other != path for other in only_ours
        ):  # a context line only counts through its children
            classes.add(OTHER_OURS)
    return classes


@pytest.mark.bench
def test_bench_remediation_against_hier_config(capsys: pytest.CaptureFixture[str]) -> None:
    pairs = []
    skipped = 0
    for pair in _pairs():
        try:
            _theirs(pair)
        except DuplicateChildError:
            skipped += 1
            continue
        pairs.append(pair)
    agree = 0
    classes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for pair in pairs:
        ours, theirs = _paths(_ours(pair)), _normal(_theirs(pair))
        if ours == theirs:
            agree += 1
            continue
        for name in _classify(ours, theirs, pair[1], pair[2]):
            classes[name] += 1
            shown = f"ours-only {sorted(ours - theirs)[:2]} theirs-only {sorted(theirs - ours)[:2]}"
            examples.setdefault(name, f"{pair[0].value}: {shown}")
    ours_rate, theirs_rate = _rates(pairs, _ours, _theirs)
    diff_rate, assess_rate = _rates(pairs, _diff_only, _assessed)
    with capsys.disabled():
        print("\n\nremediation vs hier_config WorkflowRemediation, same masked drifted pairs")
        print(f"pairs: {len(pairs)} (skipped {skipped}: hier_config DuplicateChildError)")
        print(f"agreement: {agree}/{len(pairs)} = {agree / len(pairs) * 100:.1f}% identical line sets")
        for name, count in classes.most_common():
            print(f"  {count:>4} pairs  {name}\n         e.g. {examples[name][:400]}")
        print(
            f"speed: driftaudit {ours_rate:.0f} pairs/s, hier_config {theirs_rate:.0f} pairs/s,"
            f" ratio {ours_rate / theirs_rate:.2f}x"
        )
        print(
            f"cost in the comparison path: diff alone {diff_rate:.0f} pairs/s, diff + 4 features +"
            f" remediation {assess_rate:.0f} pairs/s ({diff_rate / assess_rate:.2f}x the time)\n"
        )
    assert agree > 0
