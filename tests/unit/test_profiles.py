"""Platform profiles and the pure CLI output processing (no server needed)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from driftaudit.adapters.devices.channel import OutputBuffer, at_pager, at_prompt, command_output, strip_pager
from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.profiles import PROFILES, RestStyle, profile_for
from driftaudit.domain.errors import ConfigTooLargeError, ProtocolError
from driftaudit.domain.models import Platform
from driftaudit.settings import Settings


def test_every_platform_has_a_profile() -> None:
    assert set(PROFILES) == set(Platform)
    for platform in Platform:
        profile = profile_for(platform.value)
        assert profile.platform is platform
        assert profile.paging_off
        assert profile.show_config


def test_paging_off_and_show_commands_per_vendor() -> None:
    assert profile_for(Platform.IOS).paging_off[0] == "terminal length 0"
    assert profile_for(Platform.ASA).paging_off == ("terminal pager 0",)
    assert profile_for(Platform.JUNOS).paging_off == ("set cli screen-length 0", "set cli screen-width 511")
    assert profile_for(Platform.JUNOS).show_config == "show configuration | no-more"
    assert profile_for(Platform.JUNOS_SET).show_config == "show configuration | display set | no-more"
    assert profile_for(Platform.IOSXR).paging_off == ("terminal length 0", "terminal width 512")
    assert not profile_for(Platform.ASA).supports_exec


def test_rest_styles() -> None:
    assert profile_for(Platform.EOS).rest_style is RestStyle.EAPI
    assert profile_for(Platform.NXOS).rest_style is RestStyle.NXAPI
    assert profile_for(Platform.JUNOS_SET).rest_style is RestStyle.JUNOS
    assert profile_for(Platform.IOS).rest_style is None


@pytest.mark.parametrize(
    ("platform", "tail", "prompt"),
    [
        (Platform.IOS, "line\r\nrouter-1#", "router-1#"),
        (Platform.IOS, "banner\nrouter-1>", "router-1>"),
        (Platform.EOS, "x\nleaf1(config)#", "leaf1(config)#"),
        (Platform.ASA, "\nfw1/ctx-a# ", "fw1/ctx-a#"),
        (Platform.IOSXR, "\nRP/0/RP0/CPU0:xr-core-1#", "RP/0/RP0/CPU0:xr-core-1#"),
        (Platform.JUNOS, "\n{master:0}\nadmin@mx-1> ", "admin@mx-1>"),
        (Platform.JUNOS_SET, "\nnetops@srx.lab% ", "netops@srx.lab%"),
        (Platform.IOS, "\x1b[1mrouter-1#\x1b[0m", "router-1#"),
    ],
)
def test_prompts_are_recognised(platform: Platform, tail: str, prompt: str) -> None:
    assert at_prompt(tail, profile_for(platform)) == prompt


@pytest.mark.parametrize(
    "tail",
    [" description uplink#", "banner motd #", "interface Gi0/1", "!", "", "router-1#\n", "  router-1#"],
)
def test_config_lines_are_not_prompts(tail: str) -> None:
    assert at_prompt(tail, profile_for(Platform.IOS)) is None


@pytest.mark.parametrize(
    ("platform", "tail"),
    [
        (Platform.IOS, "line\n --More-- "),
        (Platform.JUNOS, "line\n---(more)---"),
        (Platform.JUNOS, "line\n---(more 42%)---"),
        (Platform.ASA, "line\n<--- More --->"),
    ],
)
def test_pagers_are_recognised(platform: Platform, tail: str) -> None:
    assert at_pager(tail, profile_for(platform))
    assert not at_pager("line\nnext line\n", profile_for(platform))


def test_command_output_strips_echo_prompt_pager_and_terminal_noise() -> None:
    raw = (
        "show running-config\r\n"
        "\x1b[0mhostname r1\r\n"
        "interface Gi1\r\n"
        " --More-- \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08          \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08"
        " description uplink\r\n"
        "end\r\n"
        "r1#"
    )
    text = command_output(raw, command="show running-config", prompt="r1#")
    assert text == "hostname r1\ninterface Gi1\n description uplink\nend\n"


def test_junos_cr_erased_pager_and_re_state_line() -> None:
    raw = (
        "show configuration\r\nsystem {\r\n---(more 50%)---\r            \r    host-name mx1;\r\n}\r\n"
        "\r\n{master:0}\r\nadmin@mx1> "
    )
    text = command_output(raw, command="show configuration", prompt="admin@mx1>")
    assert text == "system {\n    host-name mx1;\n}\n\n"


def test_strip_pager_keeps_indentation_after_the_erase() -> None:
    erase = "\x08" * 10 + " " * 10 + "\x08" * 10
    assert strip_pager(f"a\n --More-- {erase}   indented\n") == "a\n   indented\n"


_LINE = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789 ./:!{};"', min_size=0, max_size=40)


@settings(max_examples=60)
@given(st.lists(_LINE, min_size=1, max_size=80), st.integers(min_value=1, max_value=10), st.booleans())
def test_paged_output_reads_back_as_the_original(lines: list[str], page: int, junos: bool) -> None:
    config = "\n".join(line.rstrip() for line in lines) + "\n"
    assume(config.strip())
    more = "---(more)---" if junos else " --More-- "
    erase = (
        ("\r" + " " * len(more) + "\r")
        if junos
        else "\x08" * len(more) + " " * len(more) + "\x08" * len(more)
    )
    chunks = config.splitlines(keepends=True)
    paged = "".join(
        (more + erase if i and i % page == 0 else "") + chunk for i, chunk in enumerate(chunks)
    ).replace("\n", "\r\n")
    raw = "show run\r\n" + paged + "sw1#"
    assert command_output(raw, command="show run", prompt="sw1#") == config


def test_output_buffer_accepts_split_utf8_and_refuses_binary() -> None:
    buffer = OutputBuffer("d1", max_bytes=1000)
    data = "description café ✓\n".encode()
    for i in range(len(data)):
        buffer.feed(data[i : i + 1])
    assert buffer.text() == "description café ✓\n"
    with pytest.raises(ProtocolError, match="binary"):
        OutputBuffer("d1", max_bytes=1000).feed(b"ok\x00\x01")
    with pytest.raises(ProtocolError, match="not UTF-8"):
        OutputBuffer("d1", max_bytes=1000).feed(b"\xff\xfe\xfa")


def test_output_buffer_enforces_the_size_cap() -> None:
    buffer = OutputBuffer("d1", max_bytes=10)
    buffer.feed(b"0123456789")
    with pytest.raises(ConfigTooLargeError, match="cap of 10 bytes"):
        buffer.feed(b"x")


def test_option_objects_validate() -> None:
    with pytest.raises(ValueError, match="read"):
        FetchTimeouts(read=0)
    with pytest.raises(ValueError, match="per_host"):
        PoolLimits(per_host=0)
    timeouts = FetchTimeouts.from_settings(
        Settings(connect_timeout_s=1.5, read_timeout_s=2.5, total_timeout_s=9)
    )
    assert (timeouts.connect, timeouts.read, timeouts.total) == (1.5, 2.5, 9)


def test_a_log_message_before_the_echo_is_dropped_with_it() -> None:
    raw = "\r\n*Nov 26 12:00:01: %SYS-5-CONFIG_I: Configured\r\nr1#show running-config\r\nhostname r1\r\nr1#"
    assert command_output(raw, command="show running-config", prompt="r1#") == "hostname r1\n"


def test_adapters_from_settings() -> None:
    from driftaudit.adapters.devices import RestDeviceAdapter, SSHDeviceAdapter
    from driftaudit.sim.fleet import SimCredentialSource

    settings = Settings(connect_timeout_s=2, ssh_pool_per_host=3, ssh_pool_idle_s=9, max_config_bytes=4096)
    ssh = SSHDeviceAdapter.from_settings(settings, SimCredentialSource({}))
    assert ssh.timeouts.connect == 2
    assert ssh.pool_limits == PoolLimits(per_host=3, idle_s=9)
    rest = RestDeviceAdapter.from_settings(settings, SimCredentialSource({}), scheme="http")
    assert rest.timeouts.connect == 2
