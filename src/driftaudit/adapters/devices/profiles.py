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
from dataclasses import dataclass
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
_CISCO_PROMPT = re.compile(r"^[A-Za-z0-9][\w.:/@-]{0,62}(?:\([\w.:/-]{1,40}\))?[>#] ?$")
_XR_PROMPT = re.compile(
    r"^(?:RP/\d+/(?:RS?P)?\d+/CPU\d+:)?[A-Za-z0-9][\w.:/@-]{0,62}(?:\([\w.:/-]{1,40}\))?[>#] ?$"
)
_JUNOS_PROMPT = re.compile(r"^[\w.-]{1,64}@[\w.-]{1,64}[>#%] ?$")

# Pagers: Cisco/Arista ' --More-- ', Junos '---(more)---' or '---(more 42%)---'.
_CISCO_MORE = re.compile(r" ?--More-- ?$")
_JUNOS_MORE = re.compile(r"---\(more(?: \d{1,3}%)?\)--- ?$")


@dataclass(frozen=True, slots=True)
class PlatformProfile:
    """How to get the running config out of one platform.

    Attributes:
        platform: The platform this profile serves.
        show_config: The command that prints the running config in a shell.
        exec_command: The command sent on an exec channel (no pager there, but
            Junos still wants ``| no-more`` to be sure).
        paging_off: Commands sent after login so the output never pauses.
        prompt: Pattern of the prompt line (the last line of the buffer).
        more: Pattern of the pager prompt at the end of the buffer; the reader
            answers it with a space when paging could not be turned off.
        supports_exec: Whether the platform returns the full config on an exec
            channel; where it does not (ASA), the adapter always uses a shell.
        rest_style: The device REST API, or None when the platform has none.
    """

    platform: Platform
    show_config: str
    exec_command: str
    paging_off: tuple[str, ...]
    prompt: re.Pattern[str]
    more: re.Pattern[str]
    supports_exec: bool
    rest_style: RestStyle | None


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
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal length 0",),
        prompt=_CISCO_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=RestStyle.NXAPI,
    ),
    Platform.IOSXR: PlatformProfile(
        platform=Platform.IOSXR,
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal length 0", "terminal width 0"),
        prompt=_XR_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=None,
    ),
    Platform.EOS: PlatformProfile(
        platform=Platform.EOS,
        show_config="show running-config",
        exec_command="show running-config",
        paging_off=("terminal length 0",),
        prompt=_CISCO_PROMPT,
        more=_CISCO_MORE,
        supports_exec=True,
        rest_style=RestStyle.EAPI,
    ),
    Platform.JUNOS: PlatformProfile(
        platform=Platform.JUNOS,
        show_config="show configuration",
        exec_command="show configuration | no-more",
        paging_off=("set cli screen-length 0",),
        prompt=_JUNOS_PROMPT,
        more=_JUNOS_MORE,
        supports_exec=True,
        rest_style=RestStyle.JUNOS,
    ),
    Platform.JUNOS_SET: PlatformProfile(
        platform=Platform.JUNOS_SET,
        show_config="show configuration | display set",
        exec_command="show configuration | display set | no-more",
        paging_off=("set cli screen-length 0",),
        prompt=_JUNOS_PROMPT,
        more=_JUNOS_MORE,
        supports_exec=True,
        rest_style=RestStyle.JUNOS,
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
    ),
}


def profile_for(platform: Platform | str) -> PlatformProfile:
    """The profile of ``platform``.

    Raises:
        KeyError: The platform has no profile (every :class:`Platform` has one).
    """
    return PROFILES[Platform(platform)]
