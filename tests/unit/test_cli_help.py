"""Every ``--help`` of the ``driftaudit`` command is complete.

Walks every command and sub-command of the typer app, renders its ``--help``
with typer's CliRunner (wide, no colour, so nothing wraps), and fails when a
command has no description, a parameter has no help, or the rendered text
lost part of what was written: rich eats anything that looks like markup
(``Web port [default: X].`` rendered as ``Web port .``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from driftaudit.cli import app

_BOX = re.compile(r"[│╭╮╰╯─]")


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(path: tuple[str, ...], command: Any) -> None:
        found.append((path, command))
        if hasattr(command, "commands"):
            for name, sub in sorted(command.commands.items()):
                walk((*path, name), sub)

    walk((), root)
    return found


COMMANDS = _commands()


def _flat(text: str) -> str:
    return " ".join(_BOX.sub(" ", text).split())


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"worker", "audit", "preflight", "api", "history device", "score", "schemas", "sim"} <= names


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "driftaudit" for p, _ in COMMANDS]
)
def test_help_is_complete(path: tuple[str, ...], command: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 1000)
    monkeypatch.setattr(typer.rich_utils, "COLOR_SYSTEM", None)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    rendered = _flat(result.output)
    assert (command.help or "").strip(), f"{path}: the command has no description"
    assert _flat(command.help or "").split(".")[0] in rendered
    for param in command.params:
        if param.name == "help":
            continue
        text = (getattr(param, "help", None) or "").strip()
        where = f"{' '.join(path)} {param.name}"
        assert text, f"{where}: no help text"
        assert len(text) >= 8, f"{where}: help {text!r} says too little"
        assert not re.search(r"\s[.,;:]$", text), f"{where}: help {text!r} is cut"
        assert _flat(text) in rendered, f"{where}: help {text!r} is not rendered whole"
    assert not re.search(r"\w \.(\s|$)", rendered), f"{path}: a help text lost its end: {rendered}"
