"""Masking and normalization speed on the largest real configs, and RE2 against Python's re.

Figures: milliseconds per config for mask_content (all built-in packs of the
platform), for redact_secrets, and for from_envelope on the 119 KB
CloudVision aggregate; then the same built-in patterns run one by one with
Python's ``re`` (no prefilter), as the ratio a naive engine would cost.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.packs import patterns_for
from tests.samples_path import CONFIGS, ENVELOPES, PAIRS

MIN_SECONDS = 0.5
CASES = [
    (
        "EOS 56 KB running-config all",
        Platform.EOS,
        CONFIGS / "arista_eos" / "pyeapi_veos01_running_config_all.text",
    ),
    ("NX-OS 28 KB checkpoint", Platform.NXOS, PAIRS / "cisco_nxos" / "napalm_nxos-spine2_initial.conf"),
    ("IOS-XE 9 KB with certificates", Platform.IOS, CONFIGS / "cisco_ios" / "netutils_ios_full_sent.txt"),
    ("Junos 9 KB", Platform.JUNOS, CONFIGS / "juniper_junos" / "oxidized_srx300_22.4_output.txt"),
]


def _per_call_ms(work: Callable[[], object]) -> float:
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < MIN_SECONDS:
        work()
        calls += 1
    return elapsed / calls * 1000


@pytest.mark.bench
def test_bench_masking() -> None:
    registry = MaskingRegistry.builtin(key=b"bench-key")
    print()
    print(f"{'config':34} {'mask ms':>9} {'redact ms':>10} {'python re ms':>13} {'ratio':>7}")
    for label, platform, path in CASES:
        text = path.read_text()
        compiled = registry.for_platform(platform)
        mask_ms = _per_call_ms(lambda: mask_content(text, compiled))  # noqa: B023 - used within the iteration
        redact_ms = _per_call_ms(lambda: redact_secrets(text, compiled))  # noqa: B023
        naive = [re.compile("(?m)" + p.regex) for p in patterns_for(platform)]
        naive_ms = _per_call_ms(lambda: [list(r.finditer(text)) for r in naive])  # noqa: B023
        print(f"{label:34} {mask_ms:9.3f} {redact_ms:10.3f} {naive_ms:13.3f} {naive_ms / mask_ms:7.1f}")
        assert mask_ms > 0


@pytest.mark.bench
def test_bench_envelope() -> None:
    normalizer = ConfigNormalizer()
    body = (ENVELOPES / "cloudvision" / "ansible-cvp_cv_facts.json").read_bytes()
    ms = _per_call_ms(lambda: normalizer.from_envelope("AVD_DC1-SPINE1", body, "cloudvision_cv_facts"))
    print(f"\nfrom_envelope, 119 KB cv_facts aggregate: {ms:.3f} ms per device")
    assert ms > 0
