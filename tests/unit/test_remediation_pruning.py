"""Remediation prunes the top-level blocks both configs share: the steps must be those of the whole walk.

The reference is the walk over both whole trees (what ``remediate`` did before
it pruned), on every real sample against its re-fetch with each kind of real
change, and on hand-made levels where pruning could matter: a key counted over
the whole level, ordered groups, repeated heads, banners.
"""

from __future__ import annotations

import random

import pytest

from driftaudit.domain.masking import MaskingRegistry, mask_content
from driftaudit.domain.models import Platform
from driftaudit.domain.remediation import RemediationStep, _children, remediate
from driftaudit.domain.sections import ConfigShape, detect_shape, parse_indented, rules_for
from tests.unit.test_false_positive_kpi import KINDS, corpus, inject_change, refetch


def _whole_walk(running: str, intended: str, platform: Platform | None) -> tuple[RemediationStep, ...]:
    rules = rules_for(platform)
    out: list[RemediationStep] = []
    leaders = rules.comment_leaders
    _children(parse_indented(running, leaders), parse_indented(intended, leaders), (), rules, out)
    return tuple(out)


def _pairs() -> list[tuple[Platform, str, str]]:
    rng = random.Random(11)
    registry = MaskingRegistry.builtin(key=b"pruning")
    found = []
    for sample in corpus():
        patterns = registry.for_platform(sample.platform)
        earlier, later = refetch(sample, rng), refetch(sample, rng)
        for kind in KINDS:
            injected = inject_change(later, sample, patterns, kind, rng)
            if injected is None:
                continue
            running, intended = mask_content(injected[0], patterns), mask_content(earlier, patterns)
            if detect_shape(running, sample.platform) is ConfigShape.INDENTED:
                found.append((sample.platform, running, intended))
    return found


def test_pruned_remediation_equals_the_whole_walk_on_every_real_sample() -> None:
    pairs = _pairs()
    assert len(pairs) > 100
    stepped = 0
    for platform, running, intended in pairs:
        steps = remediate(running, intended, platform).steps
        assert steps == _whole_walk(running, intended, platform)
        stepped += bool(steps)
    assert stepped > len(pairs) // 2  # the changes are real: most pairs need steps


@pytest.mark.parametrize(
    ("running", "intended"),
    [
        # a key listed twice in the intended level is ambiguous: no overwrite, with or without pruning
        ("hostname a\nhostname r\nntp server 1\n", "hostname a\nhostname b\nntp server 1\n"),
        # an idempotent leaf the intended level lists once: overwritten in place
        ("hostname r\nntp server 1\nlogging host 2\n", "hostname b\nntp server 1\nlogging host 2\n"),
        # ordered groups keep their whole sequence, shared entries included
        (
            "access-list 10 permit 1.1.1.1\naccess-list 10 permit 2.2.2.2\nntp server 1\n",
            "access-list 10 permit 3.3.3.3\naccess-list 10 permit 2.2.2.2\nntp server 1\n",
        ),
        # a head repeated on one side is never pruned
        (
            "interface e1\n description a\ninterface e1\n description b\nntp server 1\n",
            "interface e1\n description a\nntp server 1\n",
        ),
        # a banner body holding what looks like heads stays whole
        (
            "banner motd ^C\nhostname x\n^C\ninterface e1\n mtu 9000\n",
            "banner motd ^C\nhostname y\n^C\ninterface e1\n mtu 9000\n",
        ),
    ],
)
def test_pruned_remediation_equals_the_whole_walk_where_pruning_could_matter(
    running: str, intended: str
) -> None:
    steps = remediate(running, intended, Platform.IOS).steps
    assert steps
    assert steps == _whole_walk(running, intended, Platform.IOS)
