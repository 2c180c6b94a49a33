"""The analysis hot path runs compiled (setup.py builds it with mypyc) wherever a C compiler is at hand.

Every test then exercises the compiled modules, and the analysis benchmark's
figures are those of the code users install. The list of modules is read
from setup.py itself, so a module added there is checked here too.
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import sysconfig
from pathlib import Path

import pytest

from tests.samples_path import REPO_ROOT


def compiled_modules() -> list[str]:
    """The dotted names of the modules setup.py compiles (its ``COMPILED`` tuple)."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "COMPILED" for target in node.targets
        ):
            paths = ast.literal_eval(node.value)
            return [str(Path(path).relative_to("src").with_suffix("")).replace("/", ".") for path in paths]
    raise AssertionError("setup.py has no COMPILED tuple")


def _compiler_available() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def test_setup_lists_the_analysis_modules() -> None:
    names = compiled_modules()
    for name in ("driftaudit.domain.masking", "driftaudit.domain.diff", "driftaudit.domain.prune"):
        assert name in names
    for name in names:
        assert (REPO_ROOT / "src" / (name.replace(".", "/") + ".py")).exists(), name


PURE = bool(os.environ.get("DRIFTAUDIT_PURE_PYTHON"))


@pytest.mark.skipif(PURE, reason="a pure-Python build was asked for")
def test_the_analysis_modules_are_the_compiled_ones() -> None:
    if not _compiler_available():
        pytest.skip("no C compiler on this machine: setup.py built pure Python")
    for name in compiled_modules():
        module = importlib.import_module(name)
        where = str(module.__file__)
        assert where.endswith(".so"), f"{name} runs from {where}: `make install` builds the compiled modules"
