"""Intended configs stay current and name their version (sha256, or the git commit)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from driftaudit.adapters.intended import DirectoryIntendedSource


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _touch_later(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime forward, as a later edit would (coarse clocks)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_a_changed_file_is_read_again_with_its_new_version(tmp_path: Path) -> None:
    source = DirectoryIntendedSource(tmp_path, use_git=False)
    path = tmp_path / "r1.cfg"
    path.write_text("hostname r1\n", encoding="utf-8")
    first = source.get_intended_config("r1")
    assert first is not None
    assert (first.text, first.version) == ("hostname r1\n", _sha("hostname r1\n"))
    assert source.get_intended_config("r1") == first
    assert source.reads == 1  # unchanged: served from the cache

    _touch_later(path, "hostname r1\nntp server 10.0.0.9\n")
    second = source.get_intended_config("r1")
    assert second is not None
    assert second.text.endswith("ntp server 10.0.0.9\n")
    assert second.version == _sha(second.text)
    assert source.reads == 2
    assert source.get_intended("r1") == second.text


def test_a_file_that_appears_or_disappears_is_noticed(tmp_path: Path) -> None:
    source = DirectoryIntendedSource(tmp_path, use_git=False)
    assert source.get_intended_config("r2") is None
    (tmp_path / "r2.cfg").write_text("hostname r2\n", encoding="utf-8")
    assert source.get_intended("r2") == "hostname r2\n"
    (tmp_path / "r2.cfg").unlink()
    assert source.get_intended("r2") is None


def _git(cwd: Path, *args: str) -> str:
    git = shutil.which("git")
    assert git is not None
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(  # noqa: S603
        [git, "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="no git binary on this machine")
def test_in_a_git_checkout_the_version_is_the_commit_unless_modified(tmp_path: Path) -> None:
    repo = tmp_path / "golden"
    (repo / "intended").mkdir(parents=True)
    _git(repo, "init", "-q")
    cfg = repo / "intended" / "r1.cfg"
    cfg.write_text("hostname r1\n", encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    first_commit = _git(repo, "rev-parse", "HEAD")

    source = DirectoryIntendedSource(repo / "intended", git_check_s=0)
    found = source.get_intended_config("r1")
    assert found is not None
    assert found.version == f"git:{first_commit}"

    _touch_later(cfg, "hostname r1-edited\n")  # edited, not committed: the commit would lie
    edited = source.get_intended_config("r1")
    assert edited is not None
    assert edited.version == _sha("hostname r1-edited\n")

    _git(repo, "commit", "-q", "-am", "second")
    second_commit = _git(repo, "rev-parse", "HEAD")
    committed = source.get_intended_config("r1")
    assert committed is not None
    assert committed.version == f"git:{second_commit}"  # same bytes, named again after the commit
    assert source.reads == 2

    (repo / "intended" / "new.cfg").write_text("hostname new\n", encoding="utf-8")  # untracked
    untracked = source.get_intended_config("new")
    assert untracked is not None
    assert untracked.version == _sha("hostname new\n")
