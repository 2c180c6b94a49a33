"""The ``driftaudit`` command.

Each submodule of this package that defines ``register(app)`` adds its own
commands, so features stay in their own modules and this root stays small.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="driftaudit",
    help="Configuration-drift auditor for network fleets.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands()


def main() -> None:
    """Entry point of the console script."""
    app()
