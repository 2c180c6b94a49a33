"""The built-in packs over every real config of the shared samples.

The volatile changes and the secret list here are written independently of
the packs (markers and literal values taken from the samples), so a pattern
that stops matching makes these tests fail.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import re2
import yaml

from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import PatternKind, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.packs import BUILTIN_PATTERNS, patterns_for
from tests.samples_path import CONFIGS, CORPUS, ENVELOPES, PAIRS, SAMPLES

KEY = b"samples-test-key"
REGISTRY = MaskingRegistry.builtin(key=KEY)
NORMALIZER = ConfigNormalizer()


def _real_configs() -> list[tuple[str, Platform, str]]:
    """(label, platform, text) for every config in configs/ and pairs/, plus the configs inside envelopes."""
    found: list[tuple[str, Platform, str]] = []
    platforms = {platform.value for platform in Platform}
    for path in sorted(p for folder in (CONFIGS, PAIRS, CORPUS) for p in folder.rglob("*") if p.is_file()):
        if path.parent.name not in platforms:
            continue
        platform = Platform(path.parent.name)
        if path.suffix == ".yaml":
            session = yaml.safe_load(path.read_text())
            raw = session["commands"]["show running-config\n"].replace("\\x20", " ")
            found.append((path.name, platform, NORMALIZER.clean_cli(raw, command="show running-config")))
        else:
            found.append((path.name, platform, NORMALIZER.normalize_text(path.read_text())))
    wrapped = [
        ("iosxr_xml_agent/napalm_show_running_config_xml_response.txt", "iosxr_xml_agent", Platform.IOSXR),
        ("junos_rpc/pyez_show-configuration.xml", "junos_rpc_xml", Platform.JUNOS),
        ("netconf_iosxr/napalm_cli-cfg_cli__running.xml", "netconf_iosxr_cli", Platform.IOSXR),
    ]
    for name, spec, platform in wrapped:
        found.append(
            (Path(name).name, platform, NORMALIZER.from_envelope("d", (ENVELOPES / name).read_text(), spec))
        )
    facts = (ENVELOPES / "cloudvision" / "ansible-cvp_cv_facts.json").read_text()
    for configlet in json.loads(facts)["ansible_facts"]["configlets"]:
        if configlet["config"].strip():
            text = NORMALIZER.from_envelope(configlet["name"], facts, "cloudvision_cv_facts")
            found.append((f"cv_facts:{configlet['name']}", Platform.EOS, text))
    return found


CONFIG_SET = _real_configs()
IDS = [label for label, _, _ in CONFIG_SET]

#: Lines whose tail is volatile, by the text that introduces the volatile part.
VOLATILE_MARKERS = (
    "Last configuration change at",
    "NVRAM config last updated at",
    "!Time:",
    "! Time:",
    "Running configuration last done at:",
    "Startup-config last modified at",
    "## Last commit:",
    "## Last changed:",
    "! device:",
    "ntp clock-period",
    ": Written by",
    "uptime is",
    "Failover count:",
)
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HEX_LINE = re.compile(r"^\s+(?:[0-9A-Fa-f]{2,8}\s*)+$")


def _scramble(value: str) -> str:
    value = re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), value)
    for names in (DAYS, MONTHS):

        def rotate(match: re.Match[str], names: list[str] = names) -> str:
            return names[(names.index(match.group()) + 2) % len(names)]

        value = re.sub("|".join(names), rotate, value)
    return value


def _change_volatile(text: str, rng: random.Random) -> str:
    """The same config as the device would show it later: new stamps, uptimes, checksums, certificates."""
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index]
        if (
            re.match(r"^\s*certificate\b", line)
            and index + 1 < len(lines)
            and HEX_LINE.match(lines[index + 1])
        ):
            out.append(line)
            indent = re.match(r"^\s*", lines[index + 1]).group()  # type: ignore[union-attr]
            while index + 1 < len(lines) and HEX_LINE.match(lines[index + 1]):
                index += 1
            for _ in range(rng.randint(3, 30)):
                out.append(indent + " ".join(f"{rng.getrandbits(32):08X}" for _ in range(8)) + "\n")
            out.append(indent + f"{rng.getrandbits(16):04X}\n")
        elif line.startswith("Cryptochecksum:"):
            out.append(f"Cryptochecksum:{rng.getrandbits(128):032x}\n")
        else:
            for marker in VOLATILE_MARKERS:
                at = line.find(marker)
                if at >= 0:
                    cut = at + len(marker)
                    line = line[:cut] + _scramble(line[cut:])
                    break
            out.append(line)
        index += 1
    return "".join(out)


def _resalt(text: str) -> str:
    """Every $n$ hash re-salted: same password, different string."""

    def rotate(match: re.Match[str]) -> str:
        body = "".join(chr((ord(c) - 65 + 7) % 26 + 65) if c.isupper() else c for c in match.group(2))
        return match.group(1) + body[::-1]

    return re.sub(r"(\$(?:\d{1,2}|sha512)\$(?:\d+\$)?)([^\s\"';]+)", rotate, text)


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_volatile_changes_vanish_under_masking(label: str, platform: Platform, text: str) -> None:
    compiled = REGISTRY.for_platform(platform)
    later = _change_volatile(text, random.Random(label))
    assert mask_content(later, compiled) == mask_content(text, compiled)


def test_the_volatile_changes_really_change_the_samples() -> None:
    changed = [label for label, _, text in CONFIG_SET if _change_volatile(text, random.Random(label)) != text]
    assert len(changed) >= 15, changed


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_resalted_hashes_are_drift_unless_the_operator_ignores_them(
    label: str, platform: Platform, text: str
) -> None:
    resalted = _resalt(text)
    if resalted == text:
        pytest.skip("no $n$ hash in this sample")
    compiled = REGISTRY.for_platform(platform)
    assert mask_content(resalted, compiled) != mask_content(text, compiled)
    hash_rule = next(p for p in BUILTIN_PATTERNS if p.name == "crypt-hash")
    lenient = MaskingRegistry.builtin(key=KEY, extra=[hash_rule.model_copy(update={"ignore_changes": True})])
    relaxed = lenient.for_platform(platform)
    assert mask_content(resalted, relaxed) == mask_content(text, relaxed)


def _secret_spans(text: str, platform: Platform) -> list[str]:
    """Each secret the packs match, with the start of its line (compiled here, not by the registry)."""
    spans: list[str] = []
    for pattern in patterns_for(platform):
        if pattern.kind is not PatternKind.SECRET:
            continue
        regex = re2.compile("(?m)" + pattern.regex)
        group = regex.groupindex.get("value", 0)
        for match in regex.finditer(text):
            start, end = match.span(group)
            line_start = text.rfind("\n", 0, start) + 1
            spans.append(text[line_start:end])
    return spans


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_no_secret_matched_by_the_packs_survives(label: str, platform: Platform, text: str) -> None:
    compiled = REGISTRY.for_platform(platform)
    for output in (mask_content(text, compiled), redact_secrets(text, compiled)):
        leaked = [span for span in _secret_spans(text, platform) if span in output]
        assert leaked == []


#: Secrets read off the samples by hand: (file fragment, text that must never leave the process).
KNOWN_SECRETS = [
    ("batfish_lhr-border-02.cfg", "QMP5tKPP5qk95Y1Eee9c_82.MofNUJQV"),
    ("batfish_lhr-border-02.cfg", "tYrysT4iT0.CRwQnhiBbng.BahDc7YPq"),
    ("batfish_lhr-border-02.cfg", "$1$bOPC$Ledl3D.5Xx8hkXUgobF0i."),
    ("netutils_ios_full_sent.txt", "password 0 ntc123"),
    ("netutils_ios_full_sent.txt", "community ntc-public"),
    ("netutils_ios_full_sent.txt", "community ntc-private"),
    ("netutils_ios_full_sent.txt", "community secure"),
    ("netutils_ios_full_sent.txt", "2c networktocode"),
    ("napalm_nxos_ssh_show_running_config.txt", "0xd1e3bf7019f3a9c3ee4dccd381f0e4f3"),
    ("napalm_nxos_ssh_show_running_config.txt", "0x9e902c388e9b4c616e7c7c98d1079325"),
    ("napalm_nxos_ssh_show_running_config.txt", "$5$aH4ttsPk$kNH7qXBaegskBUekuymPzaL5Q0Vh/mQVSdw4tQ0AcU7"),
    ("napalm_nxos_ssh_show_running_config.txt", "community bogus123"),
    ("napalm_nxos-spine2_initial.conf", "0xa9d0d61840e7fa692c3f196b2a5294de"),
    ("napalm_nxos-spine2_initial.conf", "community public"),
    ("napalm_eos_show_startup_config.text", "$1$zr7sHZaW$WagNykw1d5wjy4ZhtMgUS/"),
    ("pyeapi_veos01_running_config_all.text", "$1$eCurfHLe$JCbuUNM7Xwy6i6/zknYha."),
    ("oxidized_asa5512_9.12_output.txt", "AAAAAAAAAABBBBBBBBBBCCCCCCCCCC"),
    ("oxidized_asa5512_9.12_output.txt", "0x12345678 0x9f012345"),
    ("napalm_csr1_running.txt", "enable password cisco"),
    ("napalm_csr1_startup.txt", "password 0 cisco"),
    ("oxidized_C9200L_17.09.04a_normalized_output.txt", "$9$xxxSECRET_ENABLExxxxxxxxxxxxxx"),
    ("oxidized_C9200L_17.09.04a_normalized_output.txt", "AAAAAAAAAABBBBBBBBBB"),
    ("oxidized_C9200L_17.09.04a_normalized_output.txt", "community public"),
    ("oxidized_C9200L_17.09.04a_raw_session.yaml", "$9$xxxxxxxxxxSECRET_OXIDIZEDxxxxxxxxx"),
    ("oxidized_srx300_22.4_output.txt", "very-secret-encrypted-password"),
    ("oxidized_srx300_22.4_output.txt", "$9$FAKEHASHDATAXXXXXXXXXXXXXXXXXXXX"),
    ("batfish_junos-srx-1.cfg", "$1$CXKwIUfL$6vLSvatE2TCaM25U4u9Bh1"),
    ("batfish_junos-srx-1.cfg", "$9$/E6g9tO1IcSrvfTCu1hKv-VwgJD"),
    ("batfish_ios_xr_multipart.cfg", "key1 0123456789ABCDEF"),
    ("napalm_show_running_config_xml_response.txt", "$1$gZpA$ued8wLDDwikqTVKTEvUe2/"),
    ("pyez_show-configuration.xml", "$1$kmSqRIU6$9EogG7ow0DWiww9mev8.b."),
    ("napalm_cli-cfg_cli__running.xml", "$1$DPTg$5iBzqAsx43/5XfWPUulnr/"),
    ("cv_facts:AVD_DC1-SPINE1", "$6$Df86J4/SFMDE3/1K$"),
    ("cv_facts:AVD_DC1-SPINE1", "q+VNViP5i4rVjW1cxFv2wA=="),
    ("cv_facts:AVD_DC1-LEAF2A", "vnEaG8gMeQf3d3cN6PktXQ=="),
]


def test_known_secrets_never_survive() -> None:
    by_label = {label: (platform, text) for label, platform, text in CONFIG_SET}
    leaks: list[str] = []
    for label, secret in KNOWN_SECRETS:
        platform, text = by_label[label]
        assert secret in text, f"{label}: the sample no longer holds {secret!r}"
        compiled = REGISTRY.for_platform(platform)
        for output in (mask_content(text, compiled), redact_secrets(text, compiled)):
            if secret in output:
                leaks.append(f"{label}: {secret}")
    assert leaks == []


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_masking_the_samples_is_idempotent(label: str, platform: Platform, text: str) -> None:
    compiled = REGISTRY.for_platform(platform)
    masked = mask_content(text, compiled)
    assert mask_content(masked, compiled) == masked
    redacted = redact_secrets(text, compiled)
    assert redact_secrets(redacted, compiled) == redacted
    assert mask_content(redacted, compiled) == masked


def _masked(path: Path, platform: Platform) -> str:
    return mask_content(NORMALIZER.normalize_text(path.read_text()), REGISTRY.for_platform(platform))


def test_noise_only_pair_masks_equal() -> None:
    running = _masked(PAIRS / "cisco_ios" / "napalm_csr1_running.txt", Platform.IOS)
    startup = _masked(PAIRS / "cisco_ios" / "napalm_csr1_startup.txt", Platform.IOS)
    assert running == startup


def test_real_change_pairs_keep_exactly_their_changes() -> None:
    live = _masked(PAIRS / "cisco_ios" / "batfish_as2dept1_live.cfg", Platform.IOS).splitlines()
    candidate = _masked(PAIRS / "cisco_ios" / "batfish_as2dept1_candidate.cfg", Platform.IOS).splitlines()
    assert sorted(set(candidate) - set(live)) == [
        " ip access-group RESTRICT_HOST_TRAFFIC_IN out",
        " ip access-group RESTRICT_HOST_TRAFFIC_OUT out",
    ]
    before = _masked(PAIRS / "cisco_nxos" / "napalm_nxos-spine2_initial.conf", Platform.NXOS).splitlines()
    after = _masked(PAIRS / "cisco_nxos" / "napalm_nxos-spine2_new_good.conf", Platform.NXOS).splitlines()
    changed = set(before) ^ set(after)
    assert "vlan100" in changed
    assert "no system default switchport shutdown" in changed
    assert not any("Time" in line for line in changed)


def test_samples_path_is_the_shared_folder() -> None:
    assert SAMPLES.name == "samples"
    assert (SAMPLES / "SOURCES.md").is_file()


@pytest.mark.parametrize(("label", "platform", "text"), CONFIG_SET, ids=IDS)
def test_every_line_masks_idempotently_on_both_paths(label: str, platform: Platform, text: str) -> None:
    """mask(mask(x)) == mask(x) == mask(redact(x)) for each line alone, as the issue asks."""
    compiled = REGISTRY.for_platform(platform)
    broken = []
    for line in text.splitlines():
        masked = mask_content(line, compiled)
        if (
            mask_content(masked, compiled) != masked
            or mask_content(redact_secrets(line, compiled), compiled) != masked
        ):
            broken.append(line)
    assert broken == []
