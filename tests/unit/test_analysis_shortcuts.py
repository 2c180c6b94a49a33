"""The fetch stage's two analysis shortcuts give the event the plain path gives, on every corpus pair.

* ``just_redacted``: the text the stage has just redacted is masked by its
  volatile phase alone (:func:`~driftaudit.domain.masking.mask_redacted`).
* ``intended_cache``: the masked intended config is kept between audits
  (:class:`~driftaudit.domain.mask_cache.MaskCache`).
* ``grammar_memo``: the grammar's answers per line from the redaction of the
  device's config are reused for its intended config's lines.

Each pair (a real config and each compliant and drifted variant the corpus KPI
makes of it) is analyzed the plain way and with both shortcuts, twice (the
second time from the cache), with and without compliance features; the
events must be equal but for the analysis time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.adapters.rules import load_rules
from driftaudit.audit.steps import analyze_outcome
from driftaudit.domain.features import CompiledRules
from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import GrammarMemo, mask_content, redact_secrets
from driftaudit.domain.models import Device, DriftEvent
from tests.unit.test_corpus_kpi import COMPLIANT, DRIFTED, NORMALIZER, REGISTRY, corpus, refetch
from tests.unit.test_features import RULES

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _pairs() -> list[tuple[str, object, str, str]]:
    """(label, platform, device text, intended text) for every corpus sample and its variants."""
    rng = random.Random(20261202)
    found = []
    for sample in corpus():
        original = NORMALIZER.normalize_text(sample.text)
        found.append((sample.name, sample.platform, original, original))
        for name, make in {**COMPLIANT, **DRIFTED}.items():
            changed = make(sample, rng)
            if changed is None or changed == sample.text:
                continue
            refetched = name == "re-fetch churn"  # compared with another re-fetch, as the KPI does
            baseline = NORMALIZER.normalize_text(refetch(sample, rng)) if refetched else original
            variant = NORMALIZER.normalize_text(changed)
            found.append((f"{sample.name} {name}", sample.platform, variant, baseline))
    return found


PAIRS = _pairs()


def _event(
    platform: object,
    actual: str,
    intended: str,
    rules: CompiledRules | None,
    *,
    shortcut: bool,
    cache: MaskCache | None = None,
) -> dict[str, object]:
    device = Device.model_validate({"device_id": "r1", "host": "127.0.0.1", "platform": platform})
    patterns = REGISTRY.for_platform(device.platform)
    memo: GrammarMemo | None = {} if shortcut else None
    event: DriftEvent = analyze_outcome(
        audit_id="a1",
        device=device,
        requested_at=NOW,
        observed_at=NOW,
        redacted_text=redact_secrets(actual, patterns, memo=memo),
        failure=None,
        intended=intended,
        patterns=patterns,
        rules=rules,
        just_redacted=shortcut,
        intended_cache=cache,
        grammar_memo=memo,
    )
    return event.model_dump(exclude={"analyze_ms"})


def test_the_corpus_has_drifted_and_compliant_pairs() -> None:
    assert len(PAIRS) > 300


@pytest.mark.parametrize("with_rules", [False, True], ids=["no rules", "features"])
def test_the_shortcuts_give_the_plain_event_on_every_corpus_pair(tmp_path: Path, with_rules: bool) -> None:
    rules = None
    if with_rules:
        path = tmp_path / "rules.yaml"
        path.write_text(RULES)
        rules = load_rules(path)
    cache = MaskCache(1 << 30)
    differ = []
    statuses: set[str] = set()
    for label, platform, actual, intended in PAIRS:
        plain = _event(platform, actual, intended, rules, shortcut=False)
        statuses.add(plain["status"].value)  # type: ignore[attr-defined]
        for _ in range(2):  # the second time, the intended config comes from the cache
            if _event(platform, actual, intended, rules, shortcut=True, cache=cache) != plain:
                differ.append(label)
    assert differ == []
    assert cache.hits >= len(PAIRS)
    assert {"compliant", "drifted"} <= statuses


def test_the_memo_of_a_redaction_masks_the_intended_config_as_a_fresh_one() -> None:
    """The memo the device's redaction filled gives the intended config's masking the same text.

    Pairs in both orders, and the memo must have served lines in most of
    them (else the test would prove nothing): the lines the grammar reads in
    the second text that the first text's redaction had already read.
    """
    pairs_served = 0
    differ = []
    for label, platform, actual, intended in PAIRS:
        patterns = REGISTRY.for_platform(platform)  # type: ignore[arg-type]
        for first, second in ((actual, intended), (intended, actual)):
            memo: GrammarMemo = {}
            if redact_secrets(first, patterns, memo=memo) != redact_secrets(first, patterns):
                differ.append(f"{label}: redaction")
            from_first = set(memo)
            alone: GrammarMemo = {}
            fresh = mask_content(second, patterns, memo=alone)
            if mask_content(second, patterns, memo=memo) != fresh or fresh != mask_content(second, patterns):
                differ.append(label)
            pairs_served += bool(from_first & set(alone))
    assert differ == []
    assert pairs_served > len(PAIRS)
