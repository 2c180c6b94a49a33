"""Dump every analysis result of a large set of pairs, to prove a speed change leaves them byte-identical.

Usage: ``python -m tests.performance.dump_reports OUT.pkl`` before a change,
again after it, then ``python -m tests.performance.dump_reports --compare A.pkl B.pkl``.

The pairs: the analysis benchmark's (identical, compliant, drifted), every
ordered pair of same-platform real samples (raw and normalized), and
generated pairs per sample and seed (re-fetch churn, CRLF and blanks,
swapped unordered blocks, re-salted type 7, and every injected change of the
false-positive and corpus KPIs). For each: the report as JSON, both masked
texts with their counts, and both redacted texts.
"""

from __future__ import annotations

import pickle
import random
import sys
from collections.abc import Iterator

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry, mask_with_counts, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer

Pair = tuple[str, Platform, str, str]

SEEDS = 6


def pairs() -> Iterator[Pair]:
    from tests.performance.test_bench_analysis import _scenarios
    from tests.unit.test_corpus_kpi import COMPLIANT, DRIFTED
    from tests.unit.test_false_positive_kpi import KINDS, corpus, inject_change, refetch

    normalizer = ConfigNormalizer()
    for name, every in _scenarios().items():
        for index, (platform, actual, intended) in enumerate(every):
            yield f"bench/{name}/{index}", platform, actual, intended
            yield (
                f"bench-normal/{name}/{index}",
                platform,
                normalizer.normalize_text(actual),
                normalizer.normalize_text(intended),
            )
    samples = corpus()
    for first in samples:
        for second in samples:
            if first.platform is second.platform:
                yield f"samples/{first.name}|{second.name}", first.platform, first.text, second.text
                yield (
                    f"samples-normal/{first.name}|{second.name}",
                    first.platform,
                    normalizer.normalize_text(first.text),
                    normalizer.normalize_text(second.text),
                )
    registry = MaskingRegistry.builtin(key=b"dump")
    for sample in samples:
        patterns = registry.for_platform(sample.platform)
        for seed in range(SEEDS):
            rng = random.Random(seed)
            earlier, later = refetch(sample, rng), refetch(sample, rng)
            yield f"gen/{sample.name}/{seed}/refetch", sample.platform, later, earlier
            for kind in KINDS:
                injected = inject_change(later, sample, patterns, kind, rng)
                if injected is not None:
                    yield f"gen/{sample.name}/{seed}/{kind}", sample.platform, injected[0], earlier
                    yield (
                        f"gen-normal/{sample.name}/{seed}/{kind}",
                        sample.platform,
                        normalizer.normalize_text(injected[0]),
                        normalizer.normalize_text(earlier),
                    )
            for label, make in {**COMPLIANT, **DRIFTED}.items():
                variant = make(sample, rng)
                if variant is not None:
                    yield f"gen/{sample.name}/{seed}/{label}", sample.platform, variant, sample.text
                    yield f"gen/{sample.name}/{seed}/{label}/rev", sample.platform, sample.text, variant


def dump(path: str) -> None:
    registry = MaskingRegistry.builtin(key=b"dump-key")
    out: dict[str, tuple[object, ...]] = {}
    for name, platform, actual, intended in pairs():
        patterns = registry.for_platform(platform)
        report = calculate_diff(actual, intended, patterns, platform=platform)
        out[name] = (
            report.model_dump_json(),
            mask_with_counts(actual, patterns),
            mask_with_counts(intended, patterns),
            redact_secrets(actual, patterns),
            redact_secrets(intended, patterns),
        )
    with open(path, "wb") as handle:
        pickle.dump(out, handle)
    print(f"{len(out)} pairs dumped to {path}")


def compare(before: str, after: str) -> int:
    with open(before, "rb") as handle:
        old = pickle.load(handle)  # noqa: S301 - our own dump
    with open(after, "rb") as handle:
        new = pickle.load(handle)  # noqa: S301 - our own dump
    differ = [name for name in old if old[name] != new.get(name)]
    print(f"{len(old)} pairs, {len(differ)} differ, {len(set(new) - set(old))} new")
    for name in differ[:20]:
        print("  differs:", name)
    return 1 if differ or set(old) != set(new) else 0


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    dump(sys.argv[1])
