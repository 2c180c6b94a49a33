"""Pure processing of device CLI output: no I/O, no asyncio.

The SSH adapter reads bytes and asks this module three questions: is this
chunk acceptable (text, not binary, under the size cap: :class:`OutputBuffer`),
has the device stopped at a prompt or a pager (:func:`at_prompt`,
:func:`at_pager`), and what is the command's output once the echo, the prompt,
the pager artefacts and terminal noise are gone (:func:`command_output`).
Keeping it apart from the I/O (as scrapli does) lets the unit tests feed it
every odd byte sequence a device produces without a server.
"""

from __future__ import annotations

import codecs
import re

from driftaudit.adapters.devices.profiles import PlatformProfile
from driftaudit.domain.errors import ConfigTooLargeError, ProtocolError

__all__ = [
    "OutputBuffer",
    "at_pager",
    "at_password_prompt",
    "at_prompt",
    "cli_error",
    "command_output",
    "count_prompts",
    "last_line",
    "looks_like_config",
    "split_outputs",
    "strip_ansi",
    "strip_pager",
]

# CSI sequences (colours, cursor moves, erase line) and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# A pager prompt with the erase sequence a device sends after the space:
# backspaces, spaces, backspaces (Cisco, Arista) or CR, spaces, CR (Junos).
_PAGER = re.compile(
    r" ?(?:<--- More --->|-- ?More ?--|---\(more(?: \d{1,3}%)?\)---) ?"
    r"(?:\x08+ *\x08+|\r +\r|\x08+)?"
)
_ECHO_SEARCH_LINES = 50
_CRLF = re.compile(r"\r+\n")
# The routing-engine state line Junos prints above its prompt: {master:0}.
_JUNOS_RE_STATE = re.compile(r"^\{(?:master|backup|primary|secondary|linecard)[\w:]*\}\s*$")
# The password question of ``enable`` (IOS, NX-OS, EOS, ASA, XR).
_PASSWORD = re.compile(r"(?i)(?:password|passcode|secret): ?$")
# An error is reported at the start of a command's output: only this many
# non-empty lines are searched, so a config line deep inside the output (a
# banner quoting an error) can never make a config an error.
_ERROR_SEARCH_LINES = 12
# Control characters a terminal never sends in text output (NUL, ...).
_BINARY = re.compile(r"[\x00-\x06\x0e-\x1a\x1c-\x1f\x7f]")


class OutputBuffer:
    """Accumulates a device's output as text, refusing binary and oversized output.

    Decoding is incremental and strict UTF-8, so a multi-byte character split
    across two reads is fine, while bytes that are not UTF-8, or control
    characters no CLI prints, raise :class:`ProtocolError` at once instead of
    waiting for a prompt that will never come.
    """

    def __init__(self, device_id: str, *, max_bytes: int) -> None:
        self._device_id = device_id
        self._max_bytes = max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._parts: list[str] = []
        self._tail = ""
        self.nbytes = 0

    def feed(self, data: bytes) -> None:
        """Add one chunk read from the device.

        Raises:
            ConfigTooLargeError: The output passed ``max_bytes``.
            ProtocolError: The chunk is not UTF-8 text or holds binary control bytes.
        """
        self.nbytes += len(data)
        if self.nbytes > self._max_bytes:
            raise ConfigTooLargeError(self._device_id, f"output exceeds the cap of {self._max_bytes} bytes")
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise ProtocolError(self._device_id, "output is not UTF-8 text (binary or garbage)") from exc
        if _BINARY.search(text):
            raise ProtocolError(self._device_id, "output holds binary control bytes")
        if text:
            self._parts.append(text)
            self._tail = (self._tail + text)[-512:]

    @property
    def tail(self) -> str:
        """The last few hundred characters, enough to recognise a prompt or a pager."""
        return self._tail

    def text(self) -> str:
        """Everything fed so far, as one string."""
        return "".join(self._parts)

    def reset(self) -> None:
        """Forget the output (the byte count, which the cap applies to, is kept)."""
        self._parts.clear()
        self._tail = ""


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def last_line(text: str) -> str:
    """The last line of ``text`` as a terminal would show it (after CRs and escapes)."""
    line = strip_ansi(text).rsplit("\n", 1)[-1]
    if "\r" in line:
        pieces = [piece for piece in line.split("\r") if piece]
        line = pieces[-1] if pieces else ""
    return line


def at_prompt(tail: str, profile: PlatformProfile) -> str | None:
    """The prompt the output ends with, or None when the device is still talking."""
    line = last_line(tail)
    if profile.prompt.match(line):
        return line.strip()
    return None


def at_pager(tail: str, profile: PlatformProfile) -> bool:
    """Whether the output stopped at a pager prompt that waits for a key."""
    return bool(profile.more.search(strip_ansi(tail)))


def strip_pager(text: str) -> str:
    """``text`` without pager prompts and the sequences that erase them."""
    # Every pager prompt has "More" or "(more": a whole config without one
    # is not scanned position by position.
    if "More" not in text and "(more" not in text:
        return text
    return _PAGER.sub("", text)


def _lf_only(text: str) -> str:
    """``text`` with CR/LF line ends as LF and stray CRs gone."""
    return _CRLF.sub("\n", text).replace("\r", "") if "\r" in text else text


def command_output(raw: str, *, command: str | None, prompt: str | None) -> str:
    """The output of one command as plain text with LF line ends.

    Removes ANSI escapes, pager prompts with their erase sequences, CR/LF
    noise, the echoed command line (the first line that ends with the
    command, among the first few, and whatever came before it) and a trailing
    prompt line (when it starts with ``prompt``).
    """
    text = _lf_only(strip_pager(strip_ansi(raw)))
    if command is not None:
        # The echo is the first line ending with the command; anything before
        # it (a log message the device printed between two fetches) goes too.
        # Only the first lines are split off: a config is never cut into
        # lines here just to look at its head and its tail.
        wanted = command.strip()
        head = text.split("\n", _ECHO_SEARCH_LINES)
        offset = 0
        for line in head[:_ECHO_SEARCH_LINES]:
            offset += len(line) + 1
            if line.rstrip().endswith(wanted):
                text = text[offset:]
                break
    # ``rest`` is every line but the last, ``last`` the last (possibly empty) one.
    rest, newline, last = text.rpartition("\n")
    if prompt is not None and last.strip().startswith(prompt.strip()):
        text = rest
        if newline:
            before, _, state = rest.rpartition("\n")
            if _JUNOS_RE_STATE.match(state):
                text = before
    elif last == "":
        text = rest
    return text + "\n" if text else ""


def at_password_prompt(tail: str) -> bool:
    """Whether the output stopped at a password question (after ``enable``)."""
    return bool(_PASSWORD.search(last_line(tail).rstrip(" ")) or _PASSWORD.search(last_line(tail)))


def cli_error(output: str, profile: PlatformProfile) -> str | None:
    """The device's error message when ``output`` (one command's) starts with a CLI error, else None.

    The message is the marker line as the device printed it (``% Invalid
    input detected at '^' marker.``, ``Command authorization failed.``,
    Junos ``syntax error, expecting <command>.``), so the operator reads the
    device's own words.
    """
    seen = 0
    start = 0
    while seen < _ERROR_SEARCH_LINES and start <= len(output):
        end = output.find("\n", start)
        end = len(output) if end < 0 else end
        line = output[start:end].strip()
        start = end + 1
        if not line:
            continue
        seen += 1
        if profile.errors.match(line):
            return line[:300]
    return None


def looks_like_config(text: str, profile: PlatformProfile) -> bool:
    """Whether ``text`` has at least one line that a config of the platform starts sections with."""
    return profile.config_shape.search(text) is not None


def count_prompts(text: str, prompt: str) -> int:
    """How many lines of ``text`` start with ``prompt`` (each command's echo follows one)."""
    clean = strip_pager(strip_ansi(text))
    if "\r" in clean:
        clean = _CRLF.sub("\n", clean).replace("\r", "\n")
    return sum(1 for line in clean.split("\n") if line.startswith(prompt))


def split_outputs(raw: str, commands: tuple[str, ...], prompt: str) -> list[str]:
    """The output of each of ``commands``, sent together and answered one after the other.

    ``raw`` is the transcript after the prompt at which they were sent: the
    echo of the first command, its output, the prompt with the echo of the
    second, and so on, up to the final prompt. A part ends only at a line that
    is the prompt followed by the next command's echo, so a config line that
    starts like the prompt never cuts the output. Each part is cleaned like
    :func:`command_output`.
    """
    text = _lf_only(strip_pager(strip_ansi(raw)))
    parts: list[list[str]] = [[]]
    for line in text.split("\n"):
        following = len(parts)
        if (
            following < len(commands)
            and line.startswith(prompt)
            and line[len(prompt) :].strip() == commands[following].strip()
        ):
            parts.append([line[len(prompt) :]])
        else:
            parts[-1].append(line)
    while len(parts) < len(commands):
        parts.append([])
    return [
        command_output("\n".join(lines), command=command, prompt=prompt)
        for command, lines in zip(commands, parts, strict=True)
    ]
