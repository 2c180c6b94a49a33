"""Normalization: envelopes give exactly their config text; CLI transcripts give exactly the config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from driftaudit.domain.errors import ConfigurationError, NormalizationError
from driftaudit.domain.models import EnvelopeSpec
from driftaudit.domain.normalize import BUILTIN_ENVELOPES, ConfigNormalizer
from tests.samples_path import CONFIGS, ENVELOPES, PAIRS

NORMALIZER = ConfigNormalizer()
METADATA_MARKERS = ("json_metadata", "envelope_id", "api_version", "dateTimeInLongFormat", "junos:changed")
#: What would betray a JSON or XML fragment leaking into the text.
FRAGMENT = re.compile(
    r'\{"|"\}|":\s*"|\\n|</?(?:Response|CLI|Configuration|rpc-reply|data|cli|configuration-\w+)\b'
)


def _lines(text: str) -> str:
    """Line-ending normalization only: what "preserved exactly" is measured against."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def _between(text: str, tag: str) -> str:
    match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", text, re.DOTALL)
    assert match, tag
    return match.group(1)


def _sample_envelopes() -> list[tuple[str, str, EnvelopeSpec | str, str]]:
    """(label, device_id, spec, body) for every envelope sample."""
    cases: list[tuple[str, str, EnvelopeSpec | str, str]] = []
    xr = (ENVELOPES / "iosxr_xml_agent" / "napalm_show_running_config_xml_response.txt").read_text()
    cases.append(("iosxr_xml_agent", "xr1", "iosxr_xml_agent", xr))
    junos = (ENVELOPES / "junos_rpc" / "pyez_show-configuration.xml").read_text()
    cases.append(("junos_rpc_xml", "fw1", "junos_rpc_xml", junos))
    netconf = (ENVELOPES / "netconf_iosxr" / "napalm_cli-cfg_cli__running.xml").read_text()
    cases.append(("netconf_iosxr_cli", "asr1", "netconf_iosxr_cli", netconf))
    facts = (ENVELOPES / "cloudvision" / "ansible-cvp_cv_facts.json").read_text()
    for configlet in json.loads(facts)["ansible_facts"]["configlets"]:
        if configlet["config"].strip():
            cases.append((f"cv_facts:{configlet['name']}", configlet["name"], "cloudvision_cv_facts", facts))
    return cases


def _expected(label: str, device_id: str, body: str) -> str:
    if label == "iosxr_xml_agent":
        return _between(body, "Configuration")
    if label == "junos_rpc_xml":
        return _between(body, "configuration-output")
    if label == "netconf_iosxr_cli":
        return _between(body, "cli")
    configlets = json.loads(body)["ansible_facts"]["configlets"]
    return str(next(c["config"] for c in configlets if c["name"] == device_id))


def _synthetic_envelopes() -> list[tuple[str, str, EnvelopeSpec | str, str, str]]:
    """The documented NMS shapes, built around real configs, metadata at several depths."""
    ios = (PAIRS / "cisco_ios" / "napalm_csr1_running.txt").read_text()
    junos = (CONFIGS / "juniper_junos" / "oxidized_srx300_22.4_output.txt").read_text()
    eos = (CONFIGS / "arista_eos" / "napalm_eos_show_startup_config.text").read_text()
    meta = {
        "json_metadata": {"generated": "2026-01-01T00:00:00Z", "config": "! not this"},
        "envelope_id": "e-1",
    }
    bodies = [
        ("catalyst_center", ios, {"response": ios, "version": "1.0"}),
        ("cloudvision", eos, {"output": eos, "warnings": []}),
        ("netbox_render_config", ios, {"configtemplate": {"id": 3, "name": "t"}, "content": ios}),
        ("apstra", eos, {"config": eos, "api_version": "4.2"}),
        (
            "cisco_nms",
            ios,
            {"api_version": "2.1", **meta, "response": {"device_id": "csr1", "config": ios, **meta}},
        ),
        (
            "juniper_nms",
            junos,
            {
                "api_version": "1.0",
                **meta,
                "configuration-information": [
                    {"@": {"junos:changed-seconds": "1"}, "configuration-output": [{"data": junos, **meta}]}
                ],
            },
        ),
    ]
    return [(name, "dev1", name, json.dumps(body, indent=1), text) for name, text, body in bodies]


def test_every_envelope_gives_exactly_its_config_text() -> None:
    violations: list[str] = []
    checked = 0
    for label, device_id, spec, body in _sample_envelopes():
        out = NORMALIZER.from_envelope(device_id, body.encode(), spec)
        checked += 1
        if out != _lines(_expected(label, device_id, body)):
            violations.append(f"{label}: text differs")
        if FRAGMENT.search(out):
            violations.append(f"{label}: fragment {FRAGMENT.search(out)!r}")
        violations.extend(f"{label}: {m}" for m in METADATA_MARKERS if m in out)
    for label, dev, spec, body, expected in _synthetic_envelopes():
        out = NORMALIZER.from_envelope(dev, body, spec)
        checked += 1
        if out != _lines(expected):
            violations.append(f"{label}: text differs")
        if "! not this" in out or FRAGMENT.search(out):
            violations.append(f"{label}: metadata or fragment left")
        violations.extend(f"{label}: {m}" for m in METADATA_MARKERS if m in out)
    assert checked == 3 + 15 + 6  # 16 configlets, one of them empty
    assert violations == [], violations
    assert len(violations) == 0


def test_cv_facts_selects_the_configlet_of_the_device() -> None:
    facts = (ENVELOPES / "cloudvision" / "ansible-cvp_cv_facts.json").read_text()
    out = NORMALIZER.from_envelope("AVD_DC1-LEAF2B", facts, "cloudvision_cv_facts")
    assert "hostname DC1-LEAF2B\n" in out
    assert "hostname DC1-SPINE1" not in out
    spec = EnvelopeSpec(
        name="avd", config_path=("ansible_facts", "configlets", "name=AVD_{device_id}", "config")
    )
    assert NORMALIZER.from_envelope("DC1-LEAF2B", facts, spec) == out


def test_an_empty_configlet_is_a_normalization_error() -> None:
    facts = (ENVELOPES / "cloudvision" / "ansible-cvp_cv_facts.json").read_text()
    with pytest.raises(NormalizationError) as caught:
        NORMALIZER.from_envelope("SYS_TelemetryBuilderV3", facts, "cloudvision_cv_facts")
    assert caught.value.device_id == "SYS_TelemetryBuilderV3"
    assert "no config text" in caught.value.reason


def test_junos_json_in_rpc_reply_with_bare_tokens_is_parsed() -> None:
    body = (ENVELOPES / "junos_rpc" / "pyez_get-configuration.json").read_text()
    size = EnvelopeSpec(
        name="leaf",
        config_path=("configuration", "system", "services", "netconf", "traceoptions", "file", "size"),
    )
    assert NORMALIZER.from_envelope("fw1", body, size) == "3m\n"
    structured = EnvelopeSpec(
        name="junos-json", config_path=("configuration",), metadata_keys=frozenset({"@"})
    )
    with pytest.raises(NormalizationError, match="configuration holds dict data, not config text"):
        NORMALIZER.from_envelope("fw1", body, structured)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"response": ""}', "no config text"),
        ('{"response": "  \\n\\r\\n "}', "no config text"),
        ('{"response": null}', "NoneType data"),
        ('{"response": 42}', "int data"),
        ('{"version": "1.0"}', "no 'response'"),
        ('{"json_metadata": {"response": "hostname r1"}}', "no 'response'"),
        ('{"response": {"api_version": "hostname r1"}}', "dict data"),
        ("[1, 2]", "'response'"),
        ("not json at all {", "not JSON"),
        ('{"response": "x"', "not JSON"),
    ],
)
def test_an_envelope_without_config_text_is_a_typed_error(body: str, reason: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        NORMALIZER.from_envelope("r1", body, "catalyst_center")
    assert caught.value.device_id == "r1"
    assert reason in caught.value.reason


def test_metadata_keys_are_dropped_at_any_depth() -> None:
    spec = EnvelopeSpec(name="deep", config_path=("a", "0", "b"), metadata_keys=frozenset({"etag"}))
    body = {"a": [{"b": "hostname r1\n", "etag": "x", "json_metadata": {}}], "etag": 1, "api_version": 2}
    assert NORMALIZER.from_envelope("r1", json.dumps(body), spec) == "hostname r1\n"
    through = EnvelopeSpec(name="through", config_path=("etag",), metadata_keys=frozenset({"etag"}))
    with pytest.raises(NormalizationError):
        NORMALIZER.from_envelope("r1", json.dumps({"etag": "hostname r1"}), through)


def test_xml_metadata_elements_are_dropped() -> None:
    body = (
        "<reply><envelope_id>e-9</envelope_id>"
        "<config>hostname r1<api_version>2</api_version>\n!</config></reply>"
    )
    spec = EnvelopeSpec(name="x", format="xml", config_path=("config",))
    assert NORMALIZER.from_envelope("r1", body, spec) == "hostname r1\n!\n"


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        "<Response><CLI><Configuration>&lol2;</Configuration></CLI></Response>",
        '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Response><CLI><Configuration>&xxe;'
        "</Configuration></CLI></Response>",
        "<Response><CLI><Configuration>unclosed</CLI></Response>",
        "<Response><CLI></CLI></Response>",
        "<Response><CLI><Configuration>   </Configuration></CLI></Response>",
    ],
)
def test_hostile_or_empty_xml_is_a_typed_error(body: str) -> None:
    with pytest.raises(NormalizationError):
        NORMALIZER.from_envelope("r1", body, "iosxr_xml_agent")


def test_bad_bytes_and_deep_nesting_are_typed_errors() -> None:
    with pytest.raises(NormalizationError, match="not UTF-8"):
        NORMALIZER.from_envelope("r1", b'{"response": "\xff\xfe"}', "catalyst_center")
    with pytest.raises(NormalizationError):
        NORMALIZER.from_envelope("r1", "[" * 100_000 + "]" * 100_000, "catalyst_center")


def test_unknown_envelope_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown envelope 'nope'"):
        NORMALIZER.from_envelope("r1", "{}", "nope")


def test_a_custom_registry_replaces_the_builtins() -> None:
    custom = ConfigNormalizer({"mine": EnvelopeSpec(name="mine", config_path=("cfg",))})
    assert custom.from_envelope("r1", '{"cfg": "hostname r1"}', "mine") == "hostname r1\n"
    with pytest.raises(ConfigurationError):
        custom.from_envelope("r1", '{"response": "x"}', "catalyst_center")
    assert set(BUILTIN_ENVELOPES) >= {"catalyst_center", "cisco_nms", "juniper_nms", "cloudvision", "apstra"}


def test_text_envelope_is_the_body() -> None:
    assert NORMALIZER.from_envelope("r1", b"hostname r1\r\n!\r\n", "text") == "hostname r1\n!\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hostname r1\r\n!\r\nend\r\n", "hostname r1\n!\nend\n"),
        ("hostname r1   \n interface x\t \n", "hostname r1\n interface x\n"),
        ("\n\n\nhostname r1\n\n\n", "hostname r1\n"),
        ("\ufeffhostname r1", "hostname r1\n"),
        ("a\rb\r", "a\nb\n"),
        ("a\n\n\nb\n", "a\n\n\nb\n"),
        ("", ""),
        (" \n\t\n", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert NORMALIZER.normalize_text(raw) == expected
    assert NORMALIZER.normalize_text(expected) == expected


CONFIG = """\
!
version 15.5
hostname R1
!
interface GigabitEthernet1
 description uplink to core
 ip address 10.0.0.1 255.255.255.0
!
alias exec shrun show running-config
banner motd ^C
R1# is not a prompt inside a banner
^C
!
end
"""


def _session(config: str) -> str:
    """A transcript as a pager-driven SSH session really produces it."""
    lines = config.splitlines()
    erase = "\b" * 9 + " " * 9 + "\b" * 9  # what IOS sends: the leading space is never erased
    body = []
    for index, line in enumerate(lines):
        if index in (3, 9):
            body.append(f" --More-- {erase}{line}")
        else:
            body.append(line)
    colored = "\x1b[1;32mR1#\x1b[0m"
    return (
        "\x1b[?2004hWelcome to R1\r\n"
        f"{colored}terminal length 0\r\n{colored}show running-config\r\n"
        "Building configuration...\r\n\r\nCurrent configuration : 1234 bytes\r\n"
        + "\r\n".join(body).replace("hostname R1", "host\x1b[Kname R1   ")
        + "\r\n\r\nR1#"
    )


def test_cli_transcript_becomes_exactly_the_config() -> None:
    raw = _session(CONFIG)
    assert NORMALIZER.clean_cli(raw, command="show running-config", prompt="R1#") == CONFIG
    assert NORMALIZER.clean_cli(raw, command="show running-config") == CONFIG
    assert NORMALIZER.clean_cli(raw, command="show running-config", prompt=re.compile(r"R\d#")) == CONFIG


def test_cli_without_echo_keeps_a_config_line_that_ends_with_the_command() -> None:
    output = "Building configuration...\n\n" + CONFIG + "R1#"
    assert NORMALIZER.clean_cli(output, command="show running-config") == CONFIG
    assert NORMALIZER.clean_cli(output) == CONFIG


def test_cli_junos_pager_and_prompts() -> None:
    config = (
        "## Last commit: 2024-01-01 00:00:00 UTC by admin\nversion 22.4;\nsystem {\n    host-name fw1;\n}\n"
    )
    lines = config.splitlines()
    raw = (
        "admin@fw1> show configuration | no-more\n"
        + "\n".join(lines[:2])
        + "\n---(more 45%)---\r                \r"
        + "\n".join(lines[2:])
        + "\n\n{master:0}\nadmin@fw1> "
    )
    assert NORMALIZER.clean_cli(raw, command="show configuration | no-more") == config


def test_cli_of_a_real_session_matches_what_oxidized_stored() -> None:
    session = yaml.safe_load((PAIRS / "cisco_ios" / "oxidized_C9200L_17.09.04a_raw_session.yaml").read_text())
    raw = session["commands"]["show running-config\n"].replace("\\x20", " ")
    out = NORMALIZER.clean_cli(raw, command="show running-config", prompt="LAB-SW123_9200L#")
    stored = NORMALIZER.normalize_text(
        (PAIRS / "cisco_ios" / "oxidized_C9200L_17.09.04a_normalized_output.txt").read_text()
    )
    assert out.startswith("!\n! Last configuration change at ")
    assert out.endswith("\nend\n")
    tail = stored[stored.index("!\n! Last configuration change") :].splitlines()
    ours = out.splitlines()
    assert len(ours) == len(tail)
    differing = [(a, b) for a, b in zip(ours, tail, strict=True) if a != b]
    assert differing
    assert all("<value removed>" in b for _, b in differing)


def test_every_sample_config_is_stable_under_cli_cleaning() -> None:
    """A config that is already clean comes back unchanged: cleaning never eats config lines."""
    for path in sorted(p for folder in (CONFIGS, PAIRS) for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".yaml":
            continue
        text = NORMALIZER.normalize_text(path.read_text())
        header = re.match(
            r"(?:Building configuration\.\.\.\n\n?)?(?:Current configuration : \d+ bytes\n)?", text
        )
        assert header is not None
        assert NORMALIZER.clean_cli(text) == text[header.end() :], path.name


def test_samples_exist() -> None:
    assert Path(ENVELOPES).is_dir(), "the shared samples must sit beside the repository"


def test_pager_like_text_inside_a_config_line_stays() -> None:
    config = "interface Gi1\n description link -- more -- capacity\n!\nend\n"
    assert NORMALIZER.clean_cli(config) == config
    paged = (
        "interface Gi1\n -- MORE -- \b\b\b\b\b\b\b\b\b\b\b          \b\b\b\b\b\b\b\b\b\b\b description x\n"
    )
    assert NORMALIZER.clean_cli(paged) == "interface Gi1\n description x\n"
