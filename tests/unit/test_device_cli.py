"""Pure device-CLI logic: error markers, config shape, prompts, batched outputs, the simulator's grammar,
SSH algorithm scopes and the enable secret in the credentials file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from driftaudit.adapters.credentials import YamlCredentialSource
from driftaudit.adapters.devices.channel import (
    at_password_prompt,
    at_prompt,
    cli_error,
    looks_like_config,
    split_outputs,
)
from driftaudit.adapters.devices.options import SSHAlgorithmPolicy, SSHAlgorithms
from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.domain.models import Device, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.settings import Settings
from driftaudit.sim.cli import Action, Mode, interpret
from tests.samples_path import CONFIGS, sample_files

NORMALIZER = ConfigNormalizer()


@pytest.mark.parametrize(
    ("platform", "output", "said"),
    [
        (
            Platform.IOS,
            "        ^\n% Invalid input detected at '^' marker.\n",
            "% Invalid input detected at '^' marker.",
        ),
        (Platform.IOS, "Command authorization failed.\n", "Command authorization failed."),
        (Platform.IOS, '% Ambiguous command:  "sh r"\n', '% Ambiguous command:  "sh r"'),
        (Platform.NXOS, "   ^\n% Invalid command at '^' marker.\n", "% Invalid command at '^' marker."),
        (
            Platform.EOS,
            "% Invalid input (privileged mode required)\n",
            "% Invalid input (privileged mode required)",
        ),
        (Platform.ASA, "ERROR: % Incomplete command\n", "ERROR: % Incomplete command"),
        (Platform.IOSXR, "% Permission denied\n", "% Permission denied"),
        (
            Platform.JUNOS,
            "      ^\nsyntax error, expecting <command>.\n",
            "syntax error, expecting <command>.",
        ),
        (Platform.JUNOS, "error: permission denied\n", "error: permission denied"),
        (Platform.JUNOS_SET, "\nunknown command.\n", "unknown command."),
        # Another vendor's words are an error too (a wrong platform in the inventory).
        (
            Platform.JUNOS,
            "% Invalid input detected at '^' marker.\n",
            "% Invalid input detected at '^' marker.",
        ),
    ],
)
def test_cli_errors_are_found_with_the_devices_words(platform: Platform, output: str, said: str) -> None:
    assert cli_error(output, profile_for(platform)) == said


@pytest.mark.parametrize("path", sample_files(CONFIGS), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_configs_are_configs_and_never_errors(path: Path) -> None:
    profile = profile_for(Platform(path.parent.name))
    text = NORMALIZER.clean_cli(path.read_text(encoding="utf-8"))
    assert looks_like_config(text, profile)
    assert cli_error(text, profile) is None


def test_an_error_deep_inside_a_config_is_not_an_error() -> None:
    text = "hostname r1\n" + "interface Gi0/1\n" * 20 + "banner motd ^\n% Invalid input here\n^\n"
    assert cli_error(text, profile_for(Platform.IOS)) is None


@pytest.mark.parametrize(
    ("platform", "text"),
    [
        (Platform.IOS, "Cisco IOS XE Software, Version 17.03.04a\nuptime is 3 weeks\n"),
        (Platform.JUNOS, "hostname r1\ninterface Gi0/1\n"),
        (Platform.JUNOS_SET, "system {\n    host-name r1;\n}\n"),
        (Platform.NXOS, ""),
    ],
)
def test_output_of_another_shape_is_not_a_config(platform: Platform, text: str) -> None:
    assert not looks_like_config(text, profile_for(platform))


@pytest.mark.parametrize(
    ("platform", "tail", "prompt"),
    [
        (Platform.JUNOS, "\nmx1> ", "mx1>"),
        (Platform.JUNOS, "\n{master:0}\nnetops@mx1.lab> ", "netops@mx1.lab>"),
        (Platform.IOS, "\nrouter-1(config)#", "router-1(config)#"),
    ],
)
def test_general_prompts(platform: Platform, tail: str, prompt: str) -> None:
    assert at_prompt(tail, profile_for(platform)) == prompt


@pytest.mark.parametrize("tail", ["\nnetops@mx1> ", "\n[netops@jump ~]$ ", "\nPress any key to continue"])
def test_foreign_prompts_are_no_cisco_prompts(tail: str) -> None:
    assert at_prompt(tail, profile_for(Platform.IOS)) is None


def test_unprivileged_prompts_per_platform() -> None:
    for platform in (Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.EOS, Platform.ASA):
        unprivileged = profile_for(platform).unprivileged
        assert unprivileged is not None
        assert unprivileged.search("router-1>")
        assert not unprivileged.search("router-1#")
    assert profile_for(Platform.JUNOS).unprivileged is None


@pytest.mark.parametrize("tail", ["enable\r\nPassword: ", "\nPassword:", "\npassword: "])
def test_password_prompts(tail: str) -> None:
    assert at_password_prompt(tail)
    assert not at_password_prompt("\nrouter-1#")


def test_batched_commands_are_split_at_prompt_and_echo() -> None:
    prompt = "leaf1#"
    raw = (
        "terminal length 0\r\nPagination disabled.\r\n"
        "leaf1#terminal width 511\r\nWidth set to 511 columns.\r\n"
        "leaf1#show running-config\r\nhostname leaf1\r\nleaf1#not-a-prompt-line\r\ninterface Ethernet1\r\n"
        "leaf1#"
    )
    commands = ("terminal length 0", "terminal width 511", "show running-config")
    outputs = split_outputs(raw, commands, prompt)
    assert outputs == [
        "Pagination disabled.\n",
        "Width set to 511 columns.\n",
        "hostname leaf1\nleaf1#not-a-prompt-line\ninterface Ethernet1\n",
    ]


@pytest.mark.parametrize(
    ("platform", "line", "mode", "action", "ok"),
    [
        (Platform.IOS, "sh run", Mode.PRIVILEGED, Action.CONFIG, True),
        (Platform.IOS, "term len 0", Mode.USER, Action.PAGING_OFF, True),
        (Platform.IOS, "term len 24", Mode.USER, Action.NONE, True),
        (Platform.IOS, "sh r", Mode.PRIVILEGED, Action.NONE, False),
        (Platform.IOS, "show running-config", Mode.USER, Action.NONE, False),
        (Platform.IOS, "conf t", Mode.PRIVILEGED, Action.CONFIGURE, True),
        (Platform.IOS, "exit", Mode.CONFIG, Action.LEAVE_CONFIG, True),
        (Platform.IOS, "show version", Mode.USER, Action.VERSION, True),
        (Platform.IOS, "terminal width 9999", Mode.PRIVILEGED, Action.NONE, False),
        (Platform.ASA, "terminal pager 0", Mode.PRIVILEGED, Action.PAGING_OFF, True),
        (Platform.EOS, "show running-config | no-more", Mode.PRIVILEGED, Action.CONFIG, True),
        (Platform.JUNOS, "show configuration | display set | no-more", Mode.PRIVILEGED, Action.CONFIG, True),
        (Platform.JUNOS, "set cli complete-on-space off", Mode.PRIVILEGED, Action.NONE, True),
        (Platform.JUNOS, "show running-config", Mode.PRIVILEGED, Action.NONE, False),
    ],
)
def test_simulated_cli_grammar(platform: Platform, line: str, mode: Mode, action: Action, ok: bool) -> None:
    reply = interpret(platform, line, mode)
    assert reply.ok is ok, reply
    assert reply.action is action


@pytest.mark.parametrize(
    ("platform", "line", "said"),
    [
        (Platform.EOS, "terminal length 0", "Pagination disabled.\n"),
        (Platform.JUNOS, "set cli screen-length 0", "Screen length set to 0\n"),
        (Platform.JUNOS_SET, "set cli screen-width 511", "Screen width set to 511\n"),
        (Platform.IOS, "show foo", "% Invalid input detected at '^' marker.\n"),
        (Platform.NXOS, "show foo", "% Invalid command at '^' marker.\n"),
        (Platform.EOS, "show foo", "% Invalid input\n"),
        (Platform.ASA, "show foo", "ERROR: % Invalid input detected at '^' marker.\n"),
        (Platform.JUNOS, "shw", "unknown command.\n"),
    ],
)
def test_simulated_cli_speaks_each_vendors_words(platform: Platform, line: str, said: str) -> None:
    assert interpret(platform, line, Mode.PRIVILEGED).text.endswith(said)


def _device(device_id: str, platform: Platform) -> Device:
    return Device(device_id=device_id, host="127.0.0.1", platform=platform)


def test_algorithm_scopes_narrowest_wins_kind_by_kind() -> None:
    policy = SSHAlgorithmPolicy(
        default=SSHAlgorithms(macs=("hmac-sha2-256",)),
        by_platform={"cisco_asa": SSHAlgorithms(kex="+diffie-hellman-group14-sha1", ciphers="+aes128-cbc")},
        by_device={"asa-1": SSHAlgorithms(ciphers=("aes256-cbc",))},
    )
    own = policy.for_device(_device("asa-1", Platform.ASA)).asyncssh_options()
    assert own["kex_algs"] == "+diffie-hellman-group14-sha1"
    assert own["encryption_algs"] == ["aes256-cbc"]
    assert own["mac_algs"] == ["hmac-sha2-256"]
    other = policy.for_device(_device("ios-1", Platform.IOS)).asyncssh_options()
    assert "kex_algs" not in other
    assert other["encryption_algs"].startswith("^aes128-gcm")  # preferred first, defaults after


def test_algorithm_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DRIFTAUDIT_SSH_ALGORITHMS_BY_DEVICE", '{"old-1": {"kex": ["diffie-hellman-group1-sha1"]}}'
    )
    monkeypatch.setenv("DRIFTAUDIT_SSH_ALGORITHMS", '{"host_key": "+ssh-rsa"}')
    policy = SSHAlgorithmPolicy.from_settings(Settings())
    options = policy.for_device(_device("old-1", Platform.IOS)).asyncssh_options()
    assert options["kex_algs"] == ["diffie-hellman-group1-sha1"]
    assert options["server_host_key_algs"] == "+ssh-rsa"


def test_enable_secret_from_the_credentials_file_stays_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text(
        "credentials:\n  asa:\n    username: netops\n    password: pw-1\n    enable_secret_env: ASA_ENABLE\n",
        encoding="utf-8",
    )
    source = YamlCredentialSource(path, environ={"ASA_ENABLE": "enable-canary-77"})
    caplog.set_level(logging.DEBUG)
    credential = source.get_credential("asa")
    assert credential.enable_secret is not None
    assert credential.enable_secret.get_secret_value() == "enable-canary-77"
    assert "enable-canary-77" not in repr(credential) + str(credential) + repr(source) + caplog.text
