r"""Normalization: whatever a source returned becomes the running-config text alone.

Two entry points, both pure:

* :meth:`ConfigNormalizer.from_envelope` reads an NMS or device-API response
  as declared by an :class:`~driftaudit.domain.models.EnvelopeSpec` (JSON, XML
  or text), drops metadata keys at any depth, and returns the config text.
* :meth:`ConfigNormalizer.clean_cli` turns an interactive CLI transcript into
  the config: prompts, command echo, pagination prompts and their backspace
  erasures, ANSI escapes, ``Building configuration...`` headers, CR/LF noise.

Both end in :meth:`ConfigNormalizer.normalize_text`: ``\\n`` line endings, no
trailing whitespace, no leading or trailing blank lines, one final newline.

XML is parsed with the standard library after refusing any DTD, which rules
out entity expansion and external entities without a new dependency.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - DTDs are refused before parsing
from collections.abc import Mapping, Sequence
from typing import Any, Final

from driftaudit.domain.envelopes import ALWAYS_METADATA_KEYS, BUILTIN_ENVELOPES
from driftaudit.domain.errors import ConfigurationError, NormalizationError
from driftaudit.domain.models import EnvelopeSpec
from driftaudit.domain.re2scan import Scanner

__all__ = ["BUILTIN_ENVELOPES", "ConfigNormalizer"]

_ANSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL: Final = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]")
#: A pager prompt at the start of a line ("--More--", "-- MORE --", "---(more 45%)---",
#: "<--- More --->") and the backspaces and spaces a device sends to erase it.
_PAGER: Final = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]?\(?more(?:[ \t]+\d+%)?\)?[ \t]?-{2,}|<-{2,}[ \t]?more[ \t]?-{2,}>)[ \t]?"
    r"(?:[\b]+(?:[ \t]+[\b]+)?)?",
    re.IGNORECASE | re.MULTILINE,
)
#: A line that is only a prompt (or a prompt and a command): "router#", "user@host> show ...".
_PROMPT_GUESS: Final = re.compile(r"^(?:\{[\w:.-]+\}|\[edit[^\]]*\]|[\w.@/:~-]+(?:\([\w./:-]+\))?[#>$%].*)$")
_HEADERS: Final = re.compile(
    r"^(?:Building configuration\.\.\.|Current configuration[ \t]*:[ \t]*\d+ bytes"
    r"|Load for five secs:.*|Time source is .*|show[ \t].*)$"
)
_DTD: Final = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_WRAPPED: Final = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?<([\w:.-]+)[^>]*>(.*)</\1>\s*$", re.DOTALL)
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"{}\[\],:]+')
_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_LITERALS: Final = frozenset({"true", "false", "null"})


class ConfigNormalizer:
    """Turns envelopes and CLI transcripts into running-config text, per declared envelope specs."""

    def __init__(self, envelopes: Mapping[str, EnvelopeSpec] | None = None) -> None:
        self._envelopes: Mapping[str, EnvelopeSpec] = dict(
            BUILTIN_ENVELOPES if envelopes is None else envelopes
        )

    @property
    def envelopes(self) -> Mapping[str, EnvelopeSpec]:
        """The specs this normalizer knows, by name."""
        return self._envelopes

    def from_envelope(self, device_id: str, body: str | bytes, spec: EnvelopeSpec | str) -> str:
        """The config text inside ``body``, read as ``spec`` declares.

        Raises:
            NormalizationError: the body is not what the spec declares, or holds no config text.
            ConfigurationError: ``spec`` names no known envelope.
        """
        spec = self._resolve(spec)
        text = _decode(device_id, body)
        if spec.format == "text":
            config: Any = text
        elif spec.format == "json":
            try:
                document = _strip_keys(_load_json(device_id, text), ALWAYS_METADATA_KEYS | spec.metadata_keys)
            except RecursionError as exc:
                raise NormalizationError(device_id, "JSON nested too deeply") from exc
            config = _walk_json(device_id, document, spec.config_path)
        else:
            config = _read_xml(device_id, text, spec)
        if not isinstance(config, str):
            where = "/".join(spec.config_path) or "the document root"
            raise NormalizationError(
                device_id,
                f"{where} holds {type(config).__name__} data, not config text (envelope {spec.name})",
            )
        result = self.normalize_text(config)
        if not result:
            raise NormalizationError(device_id, f"envelope {spec.name} holds no config text")
        return result

    def clean_cli(
        self, output: str, *, command: str | None = None, prompt: str | re.Pattern[str] | None = None
    ) -> str:
        """The config in a CLI transcript, without prompts, echo, pagination or headers.

        ``command`` (e.g. ``"show running-config"``) drops everything up to and
        including its echo. ``prompt`` (literal text or a pattern matched at
        line start) names the prompt; without it, prompt-like lines are guessed.
        Either way prompts are dropped only at the start and the end of the
        output, so a config line that looks like a prompt (in a banner) stays.
        """
        if command is None and prompt is None:
            kept = _plain_kept_span(output)
            if kept is not None:  # nothing for the terminal render to do: only the edges are trimmed
                if kept.isascii() and kept.endswith("\n"):
                    return _without_line_end_blanks(kept)  # normal already: see the helper
                return self.normalize_text(kept)
        lines = _render_terminal(_ANSI.sub("", output) if "\x1b" in output else output)
        prompt_re = re.compile(re.escape(prompt)) if isinstance(prompt, str) else prompt
        if command:
            lines = _after_echo(lines, command.strip(), prompt_re)
        lines = _trim_edges(lines, prompt_re)
        return self.normalize_text("\n".join(lines))

    def normalize_text(self, text: str) -> str:
        r"""``\\n`` endings, no trailing whitespace, no blank lines at either end, one final newline."""
        fast = _fast_normalize(text)
        if fast is not None:
            return fast
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        lines = [line.rstrip() for line in text.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        start = 0
        while start < len(lines) and not lines[start]:
            start += 1
        return "\n".join(lines[start:]) + "\n" if start < len(lines) else ""

    def _resolve(self, spec: EnvelopeSpec | str) -> EnvelopeSpec:
        if isinstance(spec, EnvelopeSpec):
            return spec
        try:
            return self._envelopes[spec]
        except KeyError:
            raise ConfigurationError(f"unknown envelope {spec!r}") from None


#: every ASCII character ``str.rstrip()`` strips (``str.isspace``) other than the line break
_ASCII_BLANKS: Final = "".join(chr(code) for code in range(128) if chr(code).isspace() and chr(code) != "\n")
#: the blanks ending a line, in one RE2 scan (ASCII text only: RE2 and Python agree on those characters)
_TRAILING_BLANKS: Final = Scanner("(?m)[" + "".join(f"\\x{ord(char):02x}" for char in _ASCII_BLANKS) + "]+$")


#: the blanks other than space and tab: each is looked for on its own (a one-character search is memchr)
_RARE_BLANKS: Final = "".join(char for char in _ASCII_BLANKS if char not in " \t")


def _already_normal(text: str) -> bool:
    """Whether ASCII ``text`` without carriage returns is normalized already, by C-level searches only.

    It is when it starts with a non-empty line, ends with exactly one line
    break and no line ends with a blank: no space or tab before a line break
    and none of the rarer blanks anywhere.
    """
    if not text.endswith("\n") or text.endswith("\n\n") or text.startswith("\n"):
        return False
    if " \n" in text or ("\t" in text and "\t\n" in text):
        return False
    return not any(char in text for char in _RARE_BLANKS)


def _fast_normalize(text: str) -> str | None:
    """What :meth:`ConfigNormalizer.normalize_text` returns, for ASCII text without carriage returns.

    Every line right-stripped is the text without the blanks that end a line
    (found in one linear scan; a line of blanks becomes empty), and dropping
    blank lines at either end is stripping line breaks there. None for other
    text, which takes the step-by-step path.
    """
    if not text.isascii() or "\r" in text:
        return None
    if _already_normal(text):
        return text
    pieces: list[str] = []
    position = 0
    for spans in _TRAILING_BLANKS.spans(text):
        start, end = spans[0]
        pieces.append(text[position:start])
        position = end
    if pieces:
        pieces.append(text[position:])
        text = "".join(pieces)
    if text.endswith("\n") and not text.endswith("\n\n") and not text.startswith("\n"):
        return text  # already normal: returned as it is
    text = text.strip("\n")
    return text + "\n" if text else ""


def _decode(device_id: str, body: str | bytes) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NormalizationError(device_id, f"body is not UTF-8 (byte {exc.start})") from exc


def _render_terminal(text: str) -> list[str]:
    """Lines as a terminal would show them: backspace and carriage return overwrite in place."""
    # the substring tests are necessary conditions of the patterns: a config without them skips the scan
    if _may_hold_pager(text):
        text = _PAGER.sub("", text)
    if "\r" in text:
        text = re.sub(r"\r+\n", "\n", text)
    if "\b" not in text and "\r" not in text:
        # nothing overwrites in place (every REST reply, most SSH ones): the per-line render is the
        # identity, and _CONTROL never matches a newline, so one pass over the whole text is the same
        return [line.rstrip() for line in _CONTROL.sub("", text).split("\n")]
    lines: list[str] = []
    for raw in text.split("\n"):
        if "\b" in raw or "\r" in raw:
            cells: list[str] = []
            cursor = 0
            for char in raw:
                if char == "\b":
                    cursor = max(0, cursor - 1)
                elif char == "\r":
                    cursor = 0
                else:
                    if cursor < len(cells):
                        cells[cursor] = char
                    else:
                        cells.append(char)
                    cursor += 1
            raw = "".join(cells)
        raw = _CONTROL.sub("", raw).rstrip()
        lines.append(raw)
    return lines


#: What every match of ``_PAGER`` holds: its last two dashes, an optional blank and ``(``, then
#: "more" (in any case). A C-level literal search for "--" comes first, the pattern only after it.
_PAGER_HINT: Final = re.compile(r"--[ \t]?\(?more", re.IGNORECASE)
#: Every character the terminal render acts on: the ANSI escape, backspace, carriage return and
#: ``_CONTROL``'s (every C0 control but tab and line feed, and DEL).
_RENDERED: Final = "".join(chr(code) for code in (*range(0x09), *range(0x0B, 0x20), 0x7F))


def _may_hold_pager(text: str) -> bool:
    """False only when ``_PAGER`` cannot match ``text`` (a necessary condition, exact)."""
    return "--" in text and _PAGER_HINT.search(text) is not None


def _plain_kept_span(text: str) -> str | None:
    """The lines ``clean_cli`` keeps of ``text`` (without prompt or command), when nothing is rendered.

    Text with no control character (tab and line feed aside: no ANSI escape, no
    backspace or carriage return) and no pager prompt comes out of the terminal
    render as its lines right-stripped (what ``normalize_text`` does again), so
    only the edge trim remains: it reads the first and the last lines, never the
    middle. Returns that span of ``text`` (normalize_text gives the result), or
    None for text that takes the line-by-line path. Every check is a C-level
    search (one ``memchr`` per character of ``_RENDERED``), so a REST reply's
    config costs a few microseconds instead of a pass per line.
    """
    if any(char in text for char in _RENDERED) or _may_hold_pager(text):
        return None
    size = len(text)
    start = 0
    while True:  # the edge trim's front: blank, header and prompt-like lines
        newline = text.find("\n", start)
        line_end = size if newline < 0 else newline
        line = text[start:line_end].strip()
        if line and _HEADERS.match(line) is None and _PROMPT_GUESS.match(line) is None:
            break
        if newline < 0:
            return ""
        start = newline + 1
    end = size
    while True:  # the back: blank and prompt-like lines, never past the front line (which is neither)
        newline = text.rfind("\n", start, end)
        line = text[start if newline < 0 else newline + 1 : end].strip()
        if line and _PROMPT_GUESS.match(line) is None:
            break
        end = newline
    # with its line break, a span that is already normal is returned by normalize_text as it is
    return text[start : end + 1] if end < size else text[start:end]


def _without_line_end_blanks(text: str) -> str:
    """ASCII ``text`` without the spaces and tabs before each line break, by C-level searches.

    A config has few such lines (none, or a handful): each is found by
    ``str.find`` and cut, so the text is not scanned character by character.
    On a span of :func:`_plain_kept_span` ending with its line break the result
    is what ``normalize_text`` returns: its first and last lines hold more than
    blanks (the only blanks are space and tab), it ends with one line break,
    and no line ends with a blank.
    """
    space, tab = text.find(" \n"), text.find("\t\n") if "\t" in text else -1
    if space < 0 and tab < 0:
        return text
    pieces: list[str] = []
    position = 0
    while space >= 0 or tab >= 0:
        newline = (space if tab < 0 or 0 <= space < tab else tab) + 1
        cut = newline - 1
        while cut > position and text[cut - 1] in " \t":
            cut -= 1
        pieces.append(text[position:cut])
        position = newline
        if space >= 0 and space < newline:
            space = text.find(" \n", newline)
        if tab >= 0 and tab < newline:
            tab = text.find("\t\n", newline)
    pieces.append(text[position:])
    return "".join(pieces)


def _after_echo(lines: list[str], command: str, prompt: re.Pattern[str] | None) -> list[str]:
    for index, line in enumerate(lines):
        stripped = prompt.sub("", line, count=1) if prompt is not None and prompt.match(line) else line
        echoed = _PROMPT_GUESS.match(line.strip()) is not None and line.rstrip().endswith(command)
        if stripped.strip() == command or echoed:
            return lines[index + 1 :]
    return lines


def _trim_edges(lines: list[str], prompt: re.Pattern[str] | None) -> list[str]:
    def is_prompt(line: str) -> bool:
        if prompt is not None and prompt.match(line):
            return True
        return _PROMPT_GUESS.match(line.strip()) is not None

    start, end = 0, len(lines)
    while start < end and (
        not lines[start].strip() or _HEADERS.match(lines[start].strip()) or is_prompt(lines[start])
    ):
        start += 1
    while end > start and (not lines[end - 1].strip() or is_prompt(lines[end - 1])):
        end -= 1
    return lines[start:end]


def _load_json(device_id: str, text: str) -> Any:
    """JSON, tolerating what devices really send: an XML wrapper and bare tokens like ``3m``."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    wrapped = _XML_WRAPPED.match(text)
    inner = wrapped.group(2) if wrapped else text
    repaired = _JSON_TOKEN.sub(_quote_bare, inner)
    try:
        return json.loads(repaired)
    except ValueError as exc:
        message = getattr(exc, "msg", "invalid JSON")
        line = getattr(exc, "lineno", "?")
        raise NormalizationError(device_id, f"body is not JSON ({message} at line {line})") from exc


def _quote_bare(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith('"') or token in _JSON_LITERALS or _JSON_NUMBER.fullmatch(token):
        return token
    return json.dumps(token)


def _strip_keys(node: Any, keys: frozenset[str]) -> Any:
    if isinstance(node, Mapping):
        return {key: _strip_keys(value, keys) for key, value in node.items() if key not in keys}
    if isinstance(node, list):
        return [_strip_keys(item, keys) for item in node]
    return node


def _walk_json(device_id: str, document: Any, path: Sequence[str]) -> Any:
    node = document
    for raw in path:
        segment = raw.replace("{device_id}", device_id)
        if isinstance(node, Mapping):
            if segment not in node:
                raise NormalizationError(device_id, f"envelope has no {raw!r} where the config should be")
            node = node[segment]
        elif isinstance(node, list):
            node = _select(device_id, node, raw, segment)
        else:
            raise NormalizationError(device_id, f"envelope has no {raw!r}: a {type(node).__name__} is there")
    return node


def _select(device_id: str, items: list[Any], raw: str, segment: str) -> Any:
    if segment.isdigit():
        if int(segment) < len(items):
            return items[int(segment)]
    elif "=" in segment:
        key, _, wanted = segment.partition("=")
        for item in items:
            if isinstance(item, Mapping) and str(item.get(key)) == wanted:
                return item
    raise NormalizationError(device_id, f"envelope has no list item {raw!r} where the config should be")


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _read_xml(device_id: str, text: str, spec: EnvelopeSpec) -> str:
    if _DTD.search(text):
        raise NormalizationError(device_id, "XML with a DTD or entity declarations is refused")
    try:
        root = ET.fromstring(text.strip())  # noqa: S314 - no DTD, so no entity expansion
    except (ET.ParseError, ValueError) as exc:
        raise NormalizationError(device_id, f"body is not well-formed XML ({type(exc).__name__})") from exc
    _drop_elements(root, ALWAYS_METADATA_KEYS | spec.metadata_keys)
    node: ET.Element | None = root
    if spec.config_path:
        first = spec.config_path[0]
        node = next((element for element in root.iter() if _local(element.tag) == first), None)
        for name in spec.config_path[1:]:
            if node is None:
                break
            node = next((child for child in node if _local(child.tag) == name), None)
    if node is None:
        where = "/".join(spec.config_path)
        raise NormalizationError(device_id, f"envelope has no element {where} (envelope {spec.name})")
    return "".join(node.itertext())


def _drop_elements(root: ET.Element, names: frozenset[str]) -> None:
    """Remove metadata elements anywhere, keeping the text that followed them."""
    for parent in list(root.iter()):
        previous: ET.Element | None = None
        for child in list(parent):
            if _local(child.tag) not in names:
                previous = child
                continue
            if child.tail:
                if previous is not None:
                    previous.tail = (previous.tail or "") + child.tail
                else:
                    parent.text = (parent.text or "") + child.tail
            parent.remove(child)
