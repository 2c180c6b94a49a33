"""The command line of a simulated device: grammar, abbreviations and vendor wording, no I/O.

Real CLIs accept any unambiguous abbreviation (``sh run``, ``term len 0``),
answer setup commands in their own words (EOS ``Pagination disabled.``,
Junos ``Screen length set to 0``), refuse what the privilege level does not
allow, and word their errors per vendor (IOS ``% Invalid input detected at
'^' marker.`` under a caret, NX-OS ``% Invalid command at '^' marker.``, EOS
``% Invalid input``, ASA ``ERROR: % Invalid input detected at '^' marker.``,
Junos ``syntax error, expecting <command>.``). Third-party clients (netmiko,
scrapli) depend on exactly these answers, so the simulator reproduces them:
:func:`interpret` turns one command line into a :class:`Reply` that the SSH
session (:mod:`driftaudit.sim.devices`) carries out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from driftaudit.domain.models import Platform

__all__ = ["Action", "Mode", "Reply", "interpret", "prompt_for", "show_version"]


class Mode(StrEnum):
    """The CLI level a session is at."""

    USER = "user"  # user EXEC: '>' (Cisco family), needs enable for the config
    PRIVILEGED = "privileged"  # '#' (Cisco family), operational '>' on Junos
    CONFIG = "config"  # configuration mode


class Action(StrEnum):
    """What the session must do after printing a reply's text."""

    NONE = "none"
    CONFIG = "config"  # print the running config (display set on Junos when asked)
    PAGING_OFF = "paging_off"
    ENABLE = "enable"
    DISABLE = "disable"
    CONFIGURE = "configure"
    LEAVE_CONFIG = "leave_config"
    LOGOUT = "logout"
    VERSION = "version"  # print show version


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one command line."""

    text: str = ""
    action: Action = Action.NONE
    ok: bool = True
    no_more: bool = False
    display_set: bool = False


_JUNOS = (Platform.JUNOS, Platform.JUNOS_SET)

# (words, action, lowest mode). '<n>' is a number within the range that
# follows it in _RANGES; '<word>' is any word. Words listed with action None
# exist only so abbreviations are as ambiguous as on the real device.
_Entry = tuple[tuple[str, ...], Action | None, Mode]
_CISCO_GRAMMAR: list[_Entry] = [
    (("terminal", "length", "<n>"), Action.PAGING_OFF, Mode.USER),
    (("terminal", "width", "<n>"), Action.NONE, Mode.USER),
    (("terminal", "monitor"), Action.NONE, Mode.USER),
    (("show", "running-config"), Action.CONFIG, Mode.PRIVILEGED),
    (("show", "version"), Action.VERSION, Mode.USER),
    (("show", "clock"), Action.NONE, Mode.USER),
    (("show", "route-map"), None, Mode.USER),
    (("show", "radius"), None, Mode.USER),
    (("show", "users"), None, Mode.USER),
    (("show", "interfaces"), None, Mode.USER),
    (("configure", "terminal"), Action.CONFIGURE, Mode.PRIVILEGED),
    (("enable",), Action.ENABLE, Mode.USER),
    (("disable",), Action.DISABLE, Mode.PRIVILEGED),
    (("exit",), Action.LOGOUT, Mode.USER),
    (("end",), Action.LEAVE_CONFIG, Mode.CONFIG),
]
_ASA_GRAMMAR: list[_Entry] = [
    (("terminal", "pager", "<n>"), Action.PAGING_OFF, Mode.USER),
    (("terminal", "width", "<n>"), Action.NONE, Mode.USER),
    (("terminal", "monitor"), Action.NONE, Mode.USER),
    *(entry for entry in _CISCO_GRAMMAR if entry[0][0] != "terminal"),
]
_JUNOS_GRAMMAR: list[_Entry] = [
    (("set", "cli", "screen-length", "<n>"), Action.PAGING_OFF, Mode.PRIVILEGED),
    (("set", "cli", "screen-width", "<n>"), Action.NONE, Mode.PRIVILEGED),
    (("set", "cli", "complete-on-space", "<word>"), Action.NONE, Mode.PRIVILEGED),
    (("set", "cli", "timestamp"), None, Mode.PRIVILEGED),
    (("show", "configuration"), Action.CONFIG, Mode.PRIVILEGED),
    (("show", "version"), Action.VERSION, Mode.PRIVILEGED),
    (("show", "chassis"), None, Mode.PRIVILEGED),
    (("show", "system"), None, Mode.PRIVILEGED),
    (("show", "interfaces"), None, Mode.PRIVILEGED),
    (("configure",), Action.CONFIGURE, Mode.PRIVILEGED),
    (("exit",), Action.LOGOUT, Mode.PRIVILEGED),
    (("quit",), Action.LOGOUT, Mode.PRIVILEGED),
]
_RANGES: dict[tuple[Platform | None, str], tuple[int, int]] = {
    (None, "length"): (0, 512),
    (None, "width"): (0, 512),
    (None, "pager"): (0, 2147483647),
    (Platform.EOS, "width"): (10, 32767),
    (Platform.NXOS, "width"): (24, 511),
    (None, "screen-length"): (0, 100000),
    (None, "screen-width"): (0, 1024),
}


def _grammar(platform: Platform) -> list[_Entry]:
    if platform in _JUNOS:
        return _JUNOS_GRAMMAR
    return _ASA_GRAMMAR if platform is Platform.ASA else _CISCO_GRAMMAR


def prompt_for(platform: Platform, hostname: str, login: str, mode: Mode) -> str:
    """The prompt a device shows at ``mode`` (what a client waits for)."""
    if platform in _JUNOS:
        if mode is Mode.CONFIG:
            return f"\n[edit]\n{login}@{hostname}# "
        return f"\n{{master:0}}\n{login}@{hostname}> "
    base = f"RP/0/RP0/CPU0:{hostname}" if platform is Platform.IOSXR else hostname
    if mode is Mode.CONFIG:
        return f"{base}(config)#"
    return f"{base}>" if mode is Mode.USER else f"{base}#"


def show_version(platform: Platform, hostname: str) -> str:
    """A short ``show version`` as the platform words it."""
    if platform in _JUNOS:
        return f"Hostname: {hostname}\nModel: vmx\nJunos: 22.4R3-S2.11\n"
    if platform is Platform.EOS:
        return "Arista vEOS\nHardware version:\nSoftware image version: 4.30.1F\nUptime: 3 weeks\n"
    if platform is Platform.NXOS:
        return "Cisco Nexus Operating System (NX-OS) Software\n  NXOS: version 9.3(8)\n"
    if platform is Platform.IOSXR:
        return f"Cisco IOS XR Software, Version 7.3.2\n{hostname} uptime is 3 weeks\n"
    if platform is Platform.ASA:
        return f"Cisco Adaptive Security Appliance Software Version 9.12(4)67\n{hostname} up 3 days\n"
    return (
        "Cisco IOS XE Software, Version 17.03.04a\n"
        f"Cisco IOS Software [Amsterdam], Version 17.3.4a\n{hostname} uptime is 3 weeks\n"
    )


_SETUP_REPLIES: dict[tuple[Platform, str], str] = {
    (Platform.EOS, "length"): "Pagination disabled.\n",
    (Platform.EOS, "width"): "Width set to {n} columns.\n",
    (Platform.JUNOS, "screen-length"): "Screen length set to {n}\n",
    (Platform.JUNOS, "screen-width"): "Screen width set to {n}\n",
    (Platform.JUNOS, "complete-on-space"): "Disabling complete-on-space\n",
}


def _error(platform: Platform, kind: str, line: str, column: int, prompt_width: int) -> str:
    """A CLI error in the platform's words; ``column`` is where the bad word starts."""
    caret = " " * (prompt_width + column) + "^\n"
    if platform in _JUNOS:
        if kind == "ambiguous":
            word = line[column:].split()[0] if line[column:].split() else line
            return f"{caret}'{word}' is ambiguous.\n"
        if kind == "unknown" and column == 0:
            return f"{caret}unknown command.\n"
        return f"{caret}syntax error, expecting <command>.\n" if column == 0 else f"{caret}syntax error.\n"
    if platform is Platform.EOS:
        return {
            "ambiguous": "% Ambiguous command\n",
            "incomplete": "% Incomplete command\n",
            "privilege": "% Invalid input (privileged mode required)\n",
        }.get(kind, "% Invalid input\n")
    if platform is Platform.NXOS:
        return {
            "ambiguous": f"{caret}% Ambiguous command at '^' marker.\n",
            "incomplete": f"{caret}% Incomplete command at '^' marker.\n",
        }.get(kind, f"{caret}% Invalid command at '^' marker.\n")
    prefix = "ERROR: " if platform is Platform.ASA else ""
    if kind == "ambiguous":
        return f'{prefix}% Ambiguous command:  "{line}"\n'
    if kind == "incomplete":
        return f"{prefix}% Incomplete command.\n"
    return f"{caret}{prefix}% Invalid input detected at '^' marker.\n"


def interpret(platform: Platform, line: str, mode: Mode, *, prompt_width: int = 0) -> Reply:
    """The device's answer to ``line`` (one command, with ``| modifiers``) at ``mode``."""
    base, _, pipe = line.partition("|")
    modifiers = [" ".join(part.split()) for part in pipe.split("|")] if pipe else []
    if mode is Mode.CONFIG:
        parts = base.split()
        if len(parts) == 1 and (parts[0] == "end" or (len(parts[0]) > 1 and "exit".startswith(parts[0]))):
            return Reply(action=Action.LEAVE_CONFIG)
        return Reply()  # configuration lines are accepted and not modelled
    tokens = [(m.group(0), m.start()) for m in re.finditer(r"\S+", base)]
    if not tokens:
        return Reply()
    entries = [entry for entry in _grammar(platform) if entry[2] is not Mode.CONFIG]
    chosen: list[str] = []
    for position, (token, column) in enumerate(tokens):
        candidates = [e for e in entries if len(e[0]) > position]
        if not candidates:
            return Reply(_error(platform, "invalid", base, column, prompt_width), ok=False)
        words: set[str] = {e[0][position] for e in candidates}
        if "<n>" in words:
            limits = _RANGES.get((platform, chosen[-1])) or _RANGES.get((None, chosen[-1]), (0, 2**31))
            if not token.isdigit() or not limits[0] <= int(token) <= limits[1]:
                return Reply(_error(platform, "invalid", base, column, prompt_width), ok=False)
            chosen.append(token)
            entries = [e for e in candidates if e[0][position] == "<n>"]
            continue
        if "<word>" in words:
            chosen.append(token)
            entries = [e for e in candidates if e[0][position] == "<word>"]
            continue
        exact: list[str] = [w for w in words if w == token]
        matching = exact or sorted(w for w in words if w.startswith(token))
        if not matching:
            kind = "unknown" if position == 0 else "invalid"
            return Reply(_error(platform, kind, base, column, prompt_width), ok=False)
        if len(matching) > 1:
            return Reply(_error(platform, "ambiguous", base.strip(), column, prompt_width), ok=False)
        chosen.append(matching[0])
        entries = [e for e in candidates if e[0][position] == matching[0]]
    complete = [e for e in entries if len(e[0]) == len(tokens)]
    if not complete:
        return Reply(_error(platform, "incomplete", base, len(base.rstrip()), prompt_width), ok=False)
    words_, action, lowest = complete[0]
    if lowest is Mode.PRIVILEGED and mode is Mode.USER:
        column = tokens[1][1] if len(tokens) > 1 else tokens[0][1]
        return Reply(_error(platform, "privilege", base, column, prompt_width), ok=False)
    for modifier in modifiers:
        allowed = {"no-more", "display set"} if platform in _JUNOS else {"no-more"}
        if modifier not in allowed and not modifier.startswith(("include ", "exclude ")):
            column = line.index(modifier)
            return Reply(_error(platform, "invalid", line, column, prompt_width), ok=False)
    text = ""
    setup_key = (Platform.JUNOS if platform in _JUNOS else platform, chosen[-2] if len(chosen) > 1 else "")
    if setup_key in _SETUP_REPLIES:
        text = _SETUP_REPLIES[setup_key].format(n=chosen[-1])
    if action is Action.PAGING_OFF and chosen[-1] != "0":
        action = Action.NONE  # a page length other than 0 leaves paging on
    return Reply(
        text=text,
        action=action or Action.NONE,
        no_more="no-more" in modifiers,
        display_set="display set" in modifiers,
    )
