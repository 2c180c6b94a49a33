"""Platform profiles: how each network OS is asked for its running config.

A profile is data, not code: the command that shows the running config (in an
interactive shell and on an exec channel), the commands that turn paging off,
the prompt and pager patterns, whether an exec channel can be trusted, and
which device REST API style the platform speaks. The SSH and REST adapters
read profiles; nothing else in them depends on the platform, so adding a
platform is adding one entry to :data:`PROFILES`.

Prompt patterns are matched against the *last line* of the output read so far
(ANSI escapes removed), never against the whole buffer, so a config line that
happens to end in ``#`` in the middle of the output cannot end the read early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from driftaudit.domain.models import Platform

__all__ = ["PROFILES", "PlatformProfile", "RestStyle", "profile_for"]


class RestStyle(StrEnum):
    """The device REST API a platform speaks."""

    EAPI = "eapi"  # Arista eAPI: JSON-RPC runCmds on /command-api
    NXAPI = "nxapi"  # Cisco NX-API: /ins with cli_show_ascii
    JUNOS = "junos"  # Junos REST API: /rpc/get-configuration


# A Cisco-style prompt: hostname (optionally with a mode or context in
# parentheses or after a slash) ending in '>' or '#'.
# No '@': a ``user@host>`` prompt is Junos (or a shell), never a Cisco-family CLI.
_CISCO_PROMPT = re.compile(r"^[A-Za-z0-9][\w.:/-]{0,62}(?:\([\w.:/-]{1,40}\))?[>#] ?$")
_XR_PROMPT = re.compile(
    r"^(?:RP/\d+/(?:RS?P)?\d+/CPU\d+:)?[A-Za-z0-9][\w.:/-]{0,62}(?:\([\w.:/-]{1,40}\))?[>#] ?$"
)
# Junos: ``user@host>`` in operational mode, ``user@host#`` in configuration
# mode, ``%`` in the shell; the ``user@`` part depends on the CLI settings.
_JUNOS_PROMPT = re.compile(r"^(?:[\w.-]{1,64}@)?[A-Za-z0-9][\w.-]{0,63}[>#%] ?$")
# Cisco-family prompts that mean "user EXEC": ``enable`` is needed to read the config.
_USER_EXEC = re.compile(r">\s?$")

# Pagers: Cisco/Arista ' --More-- ', Junos '---(more)---' or '---(more 42%)---'.
_CISCO_MORE = re.compile(r" ?--More-- ?$")
_JUNOS_MORE = re.compile(r"---\(more(?: \d{1,3}%)?\)--- ?$")

# CLI error markers, matched at the start of a line of a command's output.
# References: netmiko's and scrapli's failure indicators per platform.
_CISCO_ERROR_MARKERS = (
    r"% ?(?:Invalid input|Invalid command|Incomplete command|Ambiguous command|Unknown command"
    r"|Unrecognized command|Invalid parameter|Invalid number|Unavailable command|Permission denied"
    r"|Authorization failed|Access denied|Bad secrets?|Error\b|This command is not authorized)"
    r"|Command authorization failed|Command rejected|ERROR: %|Invalid password|Error: |Unknown command"
)
_JUNOS_ERROR_MARKERS = (
    r"syntax error|unknown command|error:|missing mandatory argument|invalid numeric value"
    r"|No valid completions|'[^']*' is ambiguous|Permission denied"
)
# Each platform checks every vendor's markers: a device given the wrong
# platform in the inventory answers in its own words, and no config of any
# platform starts with another vendor's error either.
_CISCO_ERRORS = re.compile(rf"^\s*(?:{_CISCO_ERROR_MARKERS}|{_JUNOS_ERROR_MARKERS})", re.MULTILINE)
_JUNOS_ERRORS = _CISCO_ERRORS

# What the start of a config looks like, per platform (searched line by line).
_CISCO_TOP = (
    r"hostname|switchname|version|interface|router|ip|ipv4|ipv6|vlan|vrf|feature|line|username|aaa"
    r"|ntp|logging|snmp-server|management|event-handler|spanning-tree|service|boot|banner|end"
    r"|transceiver|control-plane|no|clock|domain|policy-map|class-map|route-map|crypto"
)
_IOS_SHAPE = re.compile(rf"^(?:{_CISCO_TOP})\b", re.M)
_NXOS_SHAPE = _IOS_SHAPE
_XR_SHAPE = re.compile(rf"^(?:{_CISCO_TOP}|!! IOS XR)\b", re.M)
_EOS_SHAPE = _IOS_SHAPE
_ASA_SHAPE = re.compile(r"^(?:hostname|ASA Version|interface|: Saved|names)\b", re.M)
_JUNOS_SHAPE = re.compile(r"^(?:version \S+;|[a-z][\w-]*(?: [\w.:/-]+)* \{)$", re.M)
_JUNOS_SET_SHAPE = re.compile(r"^set [a-z]", re.M)


@dataclass(frozen=True, slots=True)
class PlatformProfile:
    """How to get the running config out of one platform.

    Attributes:
        platform: The platform this profile serves.
        show_config: The command that prints the running config in a shell
            (with ``| no-more`` where the platform has it, so no page ever waits).
        exec_command: The command sent on an exec channel (no pager there, but
            Junos still wants ``| no-more`` to be sure).
        paging_off: Setup commands sent after login (paging off, widest
            terminal); they go in one write with the first show command, and
            each one's output is checked for errors.
        prompt: Pattern of the prompt line (the last line of the buffer).
        more: Pattern of the pager prompt at the end of the buffer; the reader
            answers it with a space when paging could not be turned off.
        supports_exec: Whether the platform returns the full config on an exec
            channel; where it does not (ASA), the adapter always uses a shell.
        rest_style: The device REST API, or None when the platform has none.
        unprivileged: Pattern of a prompt that needs ``enable`` before the
            config can be read (user EXEC); None where the platform has no
            such level (Junos).
        enable_command: The command that asks for the privileged level.
        errors: CLI error markers (multi-line pattern, anchored at line start).
        config_shape: A pattern that some line of a real config of this
            platform matches; output that matches none is not a config.
    """

    platform: Platform
    show_config: str
    exec_command: str
    paging_off: tuple[str, ...]
    prompt: re.Pattern[str]
    more: re.Pattern[str]
    supports_exec: bool
    rest_style: RestStyle | None
    unprivileged: re.Pattern[str] | None = _USER_EXEC
    enable_command: str = "enable"
    errors: re.Pattern[str] = _CISCO_ERRORS
    config_shape: re.Pattern[str] = _IOS_SHAPE


#: Junos in braces; the ``set`` form is the same CLI with ``| display set``
_JUNOS = PlatformProfile(
    platform=Platform.JUNOS,
    show_config="show configuration | no-more",
    exec_command="show configuration | no-more",
    paging_off=("set cli screen-length 0", "set cli screen-width 511"),
    prompt=_JUNOS_PROMPT,
    more=_JUNOS_MORE,
    supports_exec=True,
    rest_style=RestStyle.JUNOS,
    unprivileged=None,
    errors=_JUNOS_ERRORS,
    config_shape=_JUNOS_SHAPE,
)

PROFILES: dict[Platform, PlatformProfile] = {
    Platform.IOS: PlatformProfile(
        platform=Platform.IOS,
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal length 0", "terminal width 511"),
        prompt=_CISCO_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=None,
    ),
    Platform.NXOS: PlatformProfile(
        platform=Platform.NXOS,
        show_config="show running-config | no-more",
        exec_command="show running-config",
        paging_off=("terminal length 0", "terminal width 511"),
        prompt=_CISCO_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=RestStyle.NXAPI,
        config_shape=_NXOS_SHAPE,
    ),
    Platform.IOSXR: PlatformProfile(
        platform=Platform.IOSXR,
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal length 0", "terminal width 512"),
        prompt=_XR_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=None,
        config_shape=_XR_SHAPE,
    ),
    Platform.EOS: PlatformProfile(
        platform=Platform.EOS,
        show_config="show running-config | no-more",
        exec_command="show running-config",
        paging_off=("terminal length 0", "terminal width 511"),
        prompt=_CISCO_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=RestStyle.EAPI,
        config_shape=_EOS_SHAPE,
    ),
    Platform.JUNOS: _JUNOS,
    Platform.JUNOS_SET: replace(
        _JUNOS,
        platform=Platform.JUNOS_SET,
        show_config="show configuration | display set | no-more",
        exec_command="show configuration | display set | no-more",
        config_shape=_JUNOS_SET_SHAPE,
    ),
    Platform.ASA: PlatformProfile(
        platform=Platform.ASA,
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal pager 0",),
        prompt=_CISCO_PROMPT,
        more=re.compile(r"<--- More --->\s*$|" + _CISCO_MORE.pattern),
        supports_exec=False,
        rest_style=None,
        config_shape=_ASA_SHAPE,
    ),
}


def profile_for(platform: Platform | str) -> PlatformProfile:
    """The profile of ``platform``.

    Raises:
        KeyError: The platform has no profile (every :class:`Platform` has one).
    """
    if isinstance(platform, Platform):  # a member needs no lookup by value (an enum call per fetch)
        return PROFILES[platform]
    return PROFILES[Platform(platform)]
