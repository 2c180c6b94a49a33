"""The grammar memo one comparison shares between its two texts never changes what is masked.

``calculate_diff`` masks the device's text and then the intended text with
one memo, so a secret line both hold is masked once. The memo may only
return what masking the line afresh gives: every sample is masked with a
memo already filled by another sample of the same platform (and by its own
re-fetch), and must come out exactly as masked without one.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from driftaudit.domain.masking import GrammarMemo, MaskingRegistry, mask_with_counts
from driftaudit.domain.models import Platform
from tests.unit.test_false_positive_kpi import Sample, corpus, refetch

REGISTRY = MaskingRegistry.builtin(key=b"memo-test")


def _by_platform() -> dict[Platform, list[Sample]]:
    samples: dict[Platform, list[Sample]] = defaultdict(list)
    for sample in corpus():
        samples[sample.platform].append(sample)
    return samples


@pytest.mark.parametrize("platform", sorted(_by_platform(), key=lambda p: p.value), ids=lambda p: p.value)
def test_a_shared_memo_masks_every_sample_as_a_fresh_one(platform: Platform) -> None:
    patterns = REGISTRY.for_platform(platform)
    rng = random.Random(3)
    memo: GrammarMemo = {}
    for sample in _by_platform()[platform]:
        for text in (sample.text, refetch(sample, rng)):
            assert mask_with_counts(text, patterns, memo=memo) == mask_with_counts(text, patterns)
    assert memo  # the memo was really used: lines were filled in and then looked up


def test_a_memo_entry_is_what_the_line_masks_to() -> None:
    patterns = REGISTRY.for_platform(Platform.IOS)
    memo: GrammarMemo = {}
    line = "username admin privilege 15 password 7 0822455D0A16"
    masked, counts = mask_with_counts(f"hostname r1\n{line}\n", patterns, memo=memo)
    assert memo[line] == (masked.splitlines()[1], 1)
    assert "0822455D0A16" not in masked
    assert counts
