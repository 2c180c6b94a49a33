"""``clean_cli``'s shortcuts (plain text, no ANSI escape, no pager prompt) change no output.

The reference below is ``clean_cli`` as it was before the shortcuts: every
text through the ANSI strip, the pager strip and the line-by-line terminal
render, then the echo and edge trims and ``normalize_text``'s specification.
Hypothesis builds transcripts from the pieces real sessions hold (control
characters, pager prompts and their erasures, CR, backspace, ANSI escapes,
headers, prompts, blank and space-only lines, non-ASCII blanks); the real
sample configs are checked too.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.normalize import (
    _ANSI,
    ConfigNormalizer,
    _after_echo,
    _plain_kept_span,
    _trim_edges,
)
from tests.property.test_fast_paths import _reference as _normalize_reference
from tests.samples_path import CONFIGS
from tests.unit.test_normalize_render import _line_by_line

_NORMALIZER = ConfigNormalizer()


def _reference(output: str, command: str | None = None, prompt: str | None = None) -> str:
    """clean_cli with no shortcut: every step applied to every text."""
    lines = _line_by_line(_ANSI.sub("", output))
    prompt_re = re.compile(re.escape(prompt)) if prompt is not None else None
    if command:
        lines = _after_echo(lines, command.strip(), prompt_re)
    lines = _trim_edges(lines, prompt_re)
    return _normalize_reference("\n".join(lines))


_PIECES = [
    "hostname r1",
    " description uplink -- to core",
    "interface Ethernet1",
    "!",
    "end",
    "--More--",
    " --More-- \b\b\b\b\b\b\b\b\b\b        \b\b\b\b\b\b\b\b\b\b",
    "-- MORE --",
    "---(more 45%)---",
    "<--- More --->",
    "--more",
    "\x1b[0m",
    "\x1b[1;32m",
    "\x1b]0;title\x07",
    "Building configuration...",
    "Current configuration : 1234 bytes",
    "show running-config",
    "router#",
    "user@host> show configuration",
    "[edit]",
    "{master:0}",
    "   ",
    "\t",
    "\u00a0",
    "\u2028",
    "\x85",
    "\ufeff",
    "é",
]
_CHARS = st.sampled_from(list("ab -More#>()%\t\r\b\x00\x01\x07\x0b\x0c\x1b\x1f\x7f") + ["\u00a0", "é"])
_LINE = st.one_of(st.sampled_from(_PIECES), st.text(_CHARS, max_size=12))
_TRANSCRIPT = st.lists(st.lists(_LINE, max_size=3).map("".join), max_size=14).map("\n".join)
_PLAIN_LINE = st.one_of(
    st.sampled_from([p for p in _PIECES if not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", p)]),
    st.text(st.sampled_from(list("ab -More#>()%\t") + ["\u00a0", "é"]), max_size=12),
)
_PLAIN = st.lists(_PLAIN_LINE, max_size=14).map("\n".join)


@settings(max_examples=1500)
@given(_TRANSCRIPT)
def test_clean_cli_equals_the_reference_on_any_transcript(text: str) -> None:
    assert _NORMALIZER.clean_cli(text) == _reference(text)


@settings(max_examples=1500)
@given(_PLAIN, st.sampled_from(["", "\n", "\n\n", "  \n"]))
def test_clean_cli_equals_the_reference_on_plain_text(text: str, tail: str) -> None:
    text += tail
    assert _NORMALIZER.clean_cli(text) == _reference(text)


@settings(max_examples=300)
@given(_TRANSCRIPT, st.sampled_from(["show running-config", "show configuration"]))
def test_clean_cli_with_a_command_or_prompt_equals_the_reference(text: str, command: str) -> None:
    text = "router#" + command + "\n" + text
    assert _NORMALIZER.clean_cli(text, command=command) == _reference(text, command=command)
    assert _NORMALIZER.clean_cli(text, prompt="router#") == _reference(text, prompt="router#")


def test_the_shortcut_takes_plain_text_and_leaves_the_rest_to_the_render() -> None:
    assert _plain_kept_span("hostname r1\n description a -- b\nend\n") is not None
    for noisy in ("a\r\nb\n", "a\b\n", "\x1b[0ma\n", "a\x07\n", "a\n--More--\nb\n", "a\n -- more --\n"):
        assert _plain_kept_span(noisy) is None


@pytest.mark.parametrize("path", sorted(p for p in CONFIGS.rglob("*") if p.is_file()), ids=lambda p: p.name)
def test_clean_cli_equals_the_reference_on_every_sample_config(path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    assert _NORMALIZER.clean_cli(text) == _reference(text)
