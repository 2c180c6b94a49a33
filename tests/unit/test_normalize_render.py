"""The terminal render's whole-text fast path equals the line-by-line render it replaces."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from driftaudit.domain.normalize import _CONTROL, _PAGER, _render_terminal


def _line_by_line(text: str) -> list[str]:
    """The render with no fast path: every line through the cursor model, then control chars out."""
    lines: list[str] = []
    for raw in re.sub(r"\r+\n", "\n", _PAGER.sub("", text)).split("\n"):
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
        lines.append(_CONTROL.sub("", "".join(cells)).rstrip())
    return lines


_TEXT = st.text(alphabet=st.sampled_from(list("ab -More\t\n\x00\x01\x07\x0b\x1f\x7f")), max_size=200)
_TERMINAL = st.text(alphabet=st.sampled_from(list("ab -More\t\n\r\b\x01\x1f")), max_size=200)


@given(_TEXT)
def test_text_without_overwrites_renders_as_line_by_line(text: str) -> None:
    assert _render_terminal(text) == _line_by_line(text)


@given(_TERMINAL)
def test_text_with_overwrites_renders_as_line_by_line(text: str) -> None:
    assert _render_terminal(text) == _line_by_line(text)


def test_a_control_char_on_a_line_without_overwrites_is_removed() -> None:
    assert _render_terminal("host\x07name r1  \nend\x1f") == ["hostname r1", "end"]
