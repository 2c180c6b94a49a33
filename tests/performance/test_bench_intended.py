"""Cost of keeping intended configs current: a stat per lookup instead of a read forever cached.

2,000 intended files of realistic size. Prints the lookups per second of
the first pass (every file read and hashed), of later passes over unchanged
files (a ``stat`` each, the price of never serving a stale config), and of a
pass after every file changed; the same in a git checkout (the commit named
once per change of HEAD, not per device). Run with ``make bench``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from driftaudit.adapters.intended import DirectoryIntendedSource
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.bench

FILES = 2000


def _fill(directory: Path) -> list[str]:
    samples = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.stat().st_size > 1000)[:20]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in samples] or ["hostname x\n" * 200]
    ids = [f"dev-{i:05d}" for i in range(FILES)]
    for i, device_id in enumerate(ids):
        (directory / f"{device_id}.cfg").write_text(
            texts[i % len(texts)] + f"! {device_id}\n", encoding="utf-8"
        )
    return ids


def _pass(source: DirectoryIntendedSource, ids: list[str]) -> float:
    started = time.perf_counter()
    for device_id in ids:
        assert source.get_intended_config(device_id) is not None
    return len(ids) / (time.perf_counter() - started)


def _touch_all(directory: Path, ids: list[str]) -> None:
    for device_id in ids:
        path = directory / f"{device_id}.cfg"
        with path.open("a", encoding="utf-8") as handle:  # a new size: the signature changes
            handle.write("! changed\n")


def _report(label: str, source: DirectoryIntendedSource, directory: Path, ids: list[str]) -> None:
    first = _pass(source, ids)
    unchanged = max(_pass(source, ids) for _ in range(3))
    _touch_all(directory, ids)
    changed = _pass(source, ids)
    print(
        f"\nintended ({label}, {len(ids)} files): first pass {first:,.0f}/s, unchanged {unchanged:,.0f}/s "
        f"(x{unchanged / first:.1f} the first), after every file changed {changed:,.0f}/s;"
        f" files read {source.reads}"
    )


def test_bench_intended_lookups(tmp_path: Path) -> None:
    ids = _fill(tmp_path)
    _report("plain directory", DirectoryIntendedSource(tmp_path, use_git=False), tmp_path, ids)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git binary")
def test_bench_intended_lookups_in_a_git_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "golden"
    repo.mkdir()
    ids = _fill(repo)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "golden"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)  # noqa: S603, S607
    source = DirectoryIntendedSource(repo)
    _report("git checkout", source, repo, ids)
    assert source.get_intended_config(ids[0]) is not None
