"""``mask_redacted`` (the volatile phase alone) of a redacted text is masking the original text.

The fetch stage analyzes the text it has just redacted; masking it whole would
run the vendor grammar and the secret phase a second time for nothing. That
shortcut is exact only if masking the redacted text gives what masking the
original gives, on the volatile values too: checked over every real sample,
whole and line by line (the corpus variants included), and over generated
secret forms, dynamic data and hostile text.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.masking import (
    GRAMMAR_RULE,
    CompiledPatterns,
    MaskingRegistry,
    mask_redacted,
    mask_with_counts,
    redact_secrets,
)
from driftaudit.domain.models import Platform
from tests.property.test_masking_invariance import REGISTRY as IGNORING
from tests.property.test_masking_invariance import STRICT, hostile, render, skeleton
from tests.unit.test_samples_masking import CONFIG_SET, IDS
from tests.unit.test_samples_masking import REGISTRY as SAMPLES_REGISTRY


def _volatile_counts(counts: dict[str, int], patterns: CompiledPatterns) -> dict[str, int]:
    secret = {GRAMMAR_RULE, *(rule.name for rule in patterns.secrets)}
    return {name: count for name, count in counts.items() if name not in secret}


def _check(text: str, patterns: CompiledPatterns) -> None:
    masked, counts = mask_with_counts(text, patterns)
    shortcut, volatile = mask_redacted(redact_secrets(text, patterns), patterns)
    assert shortcut == masked
    assert volatile == _volatile_counts(counts, patterns)


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_every_sample_masks_the_same_from_its_redaction(label: str, platform: Platform, text: str) -> None:
    patterns = SAMPLES_REGISTRY.for_platform(platform)
    _check(text, patterns)  # whole (long texts are masked by lines)
    for line in text.splitlines():
        _check(line + "\n", patterns)


def test_a_long_text_takes_the_line_path_and_a_short_one_the_whole_text_path() -> None:
    """Both paths of mask_redacted are exercised by the samples (the threshold is 8 KiB)."""
    sizes = [len(text) for _, _, text in CONFIG_SET]
    assert min(sizes) < 8192 < max(sizes)


@settings(max_examples=120)
@given(shape=skeleton(), data=st.data())
def test_generated_configs_mask_the_same_from_their_redaction(shape: tuple, data: st.DataObject) -> None:
    platform, lines, kinds = shape
    text = render(platform, lines, kinds, data.draw)
    for registry in (IGNORING, STRICT):
        _check(text, registry.for_platform(platform))
        _check(text * 40, registry.for_platform(platform))  # long enough for the line path


@settings(max_examples=200)
@given(text=hostile, platform=st.one_of(st.none(), st.sampled_from(list(Platform))))
def test_hostile_text_masks_the_same_from_its_redaction(text: str, platform: Platform | None) -> None:
    _check(text, STRICT.for_platform(platform))
    _check(text * 300, STRICT.for_platform(platform))


def test_a_text_that_was_not_redacted_keeps_its_secret() -> None:
    """Why only the stage's own redaction may take this path: the shortcut masks no secret."""
    patterns = MaskingRegistry.builtin(key=b"k").for_platform(Platform.IOS)
    text = "username admin secret 0 PlainCanary\nntp server 10.0.0.1\n"
    assert "PlainCanary" not in mask_with_counts(text, patterns)[0]
    assert "PlainCanary" in mask_redacted(text, patterns)[0]
    assert "PlainCanary" not in mask_redacted(redact_secrets(text, patterns), patterns)[0]
