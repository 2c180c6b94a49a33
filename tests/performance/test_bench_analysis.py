"""Analysis throughput: normalize -> mask -> diff, against hier_config's comparison of the same pairs.

The pairs are built from every real sample config (see the false-positive KPI
test): *identical* (the fast path), *compliant* (two re-fetches carrying
different churn: structure compared, nothing reported) and *drifted* (a
re-fetch with one real change, plus the real before/after pairs). hier_config
(3.x) parses both configs and computes the remediation; it does no
normalization or masking, so driftaudit does strictly more work per pair.
Figures are configs (pairs) per second, printed as a table with the ratio driftaudit / hier_config.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable

import pytest
from hier_config import Platform as HPlatform
from hier_config import WorkflowRemediation, get_hconfig
from hier_config.exceptions import DuplicateChildError as HierConfigError

from driftaudit.domain import masking
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer
from tests.samples_path import PAIRS
from tests.unit.test_false_positive_kpi import KINDS, corpus, inject_change, refetch

MIN_SECONDS = 1.0

HIER_PLATFORM = {
    Platform.IOS: HPlatform.CISCO_IOS,
    Platform.NXOS: HPlatform.CISCO_NXOS,
    Platform.IOSXR: HPlatform.CISCO_XR,
    Platform.EOS: HPlatform.ARISTA_EOS,
    Platform.JUNOS: HPlatform.JUNIPER_JUNOS,
    Platform.JUNOS_SET: HPlatform.JUNIPER_JUNOS,
    Platform.ASA: HPlatform.GENERIC,
}
REAL_PAIRS = [
    (Platform.IOS, "cisco_ios/batfish_as2dept1_candidate.cfg", "cisco_ios/batfish_as2dept1_live.cfg"),
    (
        Platform.NXOS,
        "cisco_nxos/napalm_nxos-spine2_new_good.conf",
        "cisco_nxos/napalm_nxos-spine2_initial.conf",
    ),
    (
        Platform.JUNOS,
        "juniper_junos/hier_config_running_config_junos.conf",
        "juniper_junos/hier_config_generated_config_junos.conf",
    ),
    (Platform.EOS, "arista_eos/hier_config_eos_running.conf", "arista_eos/hier_config_eos_generated.conf"),
]

Pair = tuple[Platform, str, str]  # platform, actual, intended


def _scenarios() -> dict[str, list[Pair]]:
    rng = random.Random(7)
    identical: list[Pair] = []
    compliant: list[Pair] = []
    drifted: list[Pair] = [(p, (PAIRS / a).read_text(), (PAIRS / i).read_text()) for p, a, i in REAL_PAIRS]
    registry = MaskingRegistry.builtin(key=b"bench")
    for sample in corpus():
        identical.append((sample.platform, sample.text, sample.text))
        earlier, later = refetch(sample, rng), refetch(sample, rng)
        compliant.append((sample.platform, later, earlier))
        injected = inject_change(
            later, sample, registry.for_platform(sample.platform), rng.choice(KINDS[:3]), rng
        )
        assert injected is not None
        drifted.append((sample.platform, injected[0], earlier))
    return {"identical": identical, "compliant": compliant, "drifted": drifted}


def _rates(
    pairs: list[Pair], ours: Callable[[Pair], object], theirs: Callable[[Pair], object]
) -> tuple[float, float]:
    """Pairs per second of each, measured in alternating rounds so the machine's load hits both alike.

    The machine is shared and its load swings within seconds: timing one tool
    and then the other would put those swings into the ratio.
    """
    for pair in pairs:  # warm caches (compiled patterns, drivers) outside the timing
        ours(pair)
        theirs(pair)
    gc.collect()
    spent = [0.0, 0.0]
    done = 0
    while min(spent) < MIN_SECONDS:
        for index, analyze in enumerate((ours, theirs)):
            started = time.perf_counter()
            for pair in pairs:
                analyze(pair)
            spent[index] += time.perf_counter() - started
        done += len(pairs)
    return done / spent[0], done / spent[1]


@pytest.mark.bench
def test_bench_analysis_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    registry = MaskingRegistry.builtin(key=b"bench-fingerprint-key")
    normalizer = ConfigNormalizer()

    def driftaudit(pair: Pair) -> bool:
        platform, actual, intended = pair
        report = calculate_diff(
            normalizer.normalize_text(actual),
            normalizer.normalize_text(intended),
            registry.for_platform(platform),
            platform=platform,
        )
        return report.compliant

    def hier_config(pair: Pair) -> int:
        platform, actual, intended = pair
        running = get_hconfig(HIER_PLATFORM[platform], actual)
        generated = get_hconfig(HIER_PLATFORM[platform], intended)
        return len(tuple(WorkflowRemediation(running, generated).remediation_config.all_children()))

    rows = []
    for name, every_pair in _scenarios().items():
        verdicts = {driftaudit(pair) for pair in every_pair}
        assert verdicts == ({False} if name == "drifted" else {True}), name
        pairs = [pair for pair in every_pair if _hier_config_accepts(hier_config, pair)]
        ours, theirs = _rates(pairs, driftaudit, hier_config)
        kib = sum(len(actual) for _, actual, _ in pairs) / len(pairs) / 1024
        rows.append((name, len(pairs), len(every_pair) - len(pairs), kib, ours, theirs))

    with capsys.disabled():
        print("\n\nanalysis throughput, pairs/s on the pairs both tools accept")
        print("(driftaudit = normalize -> mask -> diff; hier_config = parse both + remediation, no masking)")
        built = "compiled by mypyc" if str(masking.__file__).endswith(".so") else "pure Python"
        print(f"driftaudit's analysis modules: {built}")
        head = ("scenario", "pairs", "skipped", "avg KiB", "driftaudit", "hier_config", "ratio")
        print(
            f"{head[0]:<10} {head[1]:>6} {head[2]:>8} {head[3]:>8} {head[4]:>11} {head[5]:>12} {head[6]:>7}"
        )
        for name, count, skipped, kib, ours, theirs in rows:
            figures = f"{kib:>8.1f} {ours:>11.0f} {theirs:>12.0f} {ours / theirs:>6.2f}x"
            print(f"{name:<10} {count:>6} {skipped:>8} {figures}")
        print("skipped: pairs hier_config rejects (e.g. DuplicateChildError on `show running-config all`)\n")


def _hier_config_accepts(compare: Callable[[Pair], object], pair: Pair) -> bool:
    try:
        compare(pair)
    except HierConfigError:
        return False
    return True
