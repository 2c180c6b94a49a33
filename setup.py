"""Build driftaudit, its analysis hot path compiled to C by mypyc.

The modules below run for every device of every audit (normalize, mask,
prune, parse, compare, unified diff): per-line Python loops around C-level
string and RE2 calls. mypyc compiles them from the same type-annotated
sources (they are mypy-clean by rule), which takes the interpreter's
per-call and per-loop overhead out of them; the result is the same program,
so every test runs on the compiled modules. Everything else stays Python.

``DRIFTAUDIT_PURE_PYTHON=1`` builds nothing; a machine without a C compiler
gets a warning and the pure-Python modules (same results, slower: see the
analysis benchmark in README.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: the analysis hot path (see the module docstring); a module listed here must stay mypyc-compatible
COMPILED = (
    "src/driftaudit/domain/diff.py",
    "src/driftaudit/domain/linescope.py",
    "src/driftaudit/domain/masking.py",
    "src/driftaudit/domain/normalize.py",
    "src/driftaudit/domain/prune.py",
    "src/driftaudit/domain/re2scan.py",
    "src/driftaudit/domain/reversible.py",
    "src/driftaudit/domain/secrets_grammar.py",
    "src/driftaudit/domain/sections.py",
    "src/driftaudit/domain/suffixgroup.py",
    "src/driftaudit/domain/unified.py",
)


def remove_compiled() -> None:
    """Delete compiled modules an earlier build left in ``src`` (they would shadow the sources)."""
    for source in COMPILED:
        for built in Path(source).parent.glob(f"{Path(source).stem}.*.so"):
            built.unlink()
    for built in Path("src").glob("driftaudit_native__mypyc.*.so"):
        built.unlink()


class OptionalBuildExt(build_ext):
    """Build the compiled modules, or none of them when the compiler fails (pure Python then)."""

    def run(self) -> None:
        """Run the normal build; on any failure remove what it left and go on without it."""
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler or linker failure: fall back whole
            remove_compiled()
            sys.stderr.write(f"warning: driftaudit's compiled modules were not built ({exc}); pure Python\n")


def _extensions() -> list[object]:
    if os.environ.get("DRIFTAUDIT_PURE_PYTHON"):
        remove_compiled()
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        sys.stderr.write("warning: mypyc is not installed; driftaudit builds as pure Python\n")
        remove_compiled()
        return []
    # the build's own mypy options: the project's [tool.mypy] loads the pydantic plugin, and the
    # isolated build environment holds none of the runtime dependencies (they type as Any here)
    options = ["--config-file=", "--ignore-missing-imports", "--python-version=3.11"]
    return list(mypycify([*options, *COMPILED], opt_level="3", group_name="driftaudit_native"))


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
