"""Intended (golden) configs, one ``<device_id>.cfg`` file per device in a directory.

Files are read lazily, the first time a device is asked for, and kept with
the file's signature (size, mtime, inode). Every later lookup stats the file
and reads it again when the signature changed, so a golden-config update is
used by the next audit of a long-running worker without a restart, and an
audit of a thousand unchanged devices costs a thousand ``stat`` calls, not a
thousand reads. Callers on an event loop run lookups in a thread (the
pipeline does), since a lookup may read a file.

Each text comes with the **version** it was read at, which every drift event
and history row then carries:

- ``git:<commit>`` when the directory is inside a git checkout and the file
  is tracked and unmodified at that commit (``git`` runs in a subprocess,
  once per change of ``HEAD``/index, not once per device; HEAD and the index
  are looked at once a second at most);
- ``sha256:<hex>`` of the file's bytes otherwise (no git, untracked or
  locally modified file).

Device ids come from the inventory and, through it, from wire messages: an id
that would resolve outside the directory (``..``, ``.`` or empty segments, an
absolute path, a backslash or NUL) is refused with ``InputError`` instead of being read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess  # noqa: S404 - git, with fixed arguments, no shell
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from driftaudit.domain.errors import ConfigurationError, InputError
from driftaudit.domain.models import IntendedConfig

__all__ = ["DirectoryIntendedSource", "SUFFIX"]

#: File name suffix of an intended config.
SUFFIX = ".cfg"

_log = logging.getLogger(__name__)
_GIT_TIMEOUT_S = 10.0

#: (size, mtime_ns, inode): a file whose signature is unchanged is not read again.
_Signature = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class _Entry:
    signature: _Signature | None  # None: the file did not exist
    config: IntendedConfig | None
    sha256: str = ""
    git_key: tuple[_Signature | None, ...] | None = None  # git's HEAD/index when the version was named


@dataclass(frozen=True, slots=True)
class _GitState:
    """What git said about the checkout, and when (to know which reads it covers)."""

    key: tuple[_Signature | None, ...]
    taken_ns: int
    head: str | None
    dirty: frozenset[str]  # paths relative to the top level: modified, untracked or ignored


def _signature(path: Path) -> _Signature | None:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class _GitCheckout:
    """The git checkout holding the directory, asked only when HEAD or the index changed."""

    def __init__(self, git: str, top: Path, git_dir: Path, *, check_s: float) -> None:
        self._git = git
        self.top = top
        self._git_dir = git_dir
        self._check_s = check_s
        self._state: _GitState | None = None
        self._key: tuple[float, tuple[_Signature | None, ...]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def find(cls, directory: Path, *, check_s: float) -> _GitCheckout | None:
        """The checkout ``directory`` is in, or None (no git binary, not a checkout)."""
        git = shutil.which("git")
        if git is None:
            return None
        try:
            out = subprocess.run(  # noqa: S603 - fixed arguments
                [git, "-C", str(directory), "rev-parse", "--show-toplevel", "--absolute-git-dir"],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        lines = out.stdout.splitlines()
        if out.returncode != 0 or len(lines) != 2:
            return None
        return cls(git, Path(lines[0]), Path(lines[1]), check_s=check_s)

    def key(self) -> tuple[_Signature | None, ...]:
        """The signatures of HEAD, its ref, the index and packed refs: changes on commit, pull, checkout.

        Looked at most once per ``check_s`` (a few stats and a read each time,
        which would otherwise cost more than the lookup they guard).
        """
        now = time.monotonic()
        cached = self._key
        if cached is not None and now - cached[0] < self._check_s:
            return cached[1]
        key = self._look()
        self._key = (now, key)
        return key

    def _look(self) -> tuple[_Signature | None, ...]:
        head = self._git_dir / "HEAD"
        ref: Path | None = None
        try:
            text = head.read_text(encoding="utf-8").strip()
            if text.startswith("ref: "):
                ref = self._git_dir / text.removeprefix("ref: ")
        except OSError:
            pass
        files = [head, self._git_dir / "index", self._git_dir / "packed-refs"]
        return tuple(_signature(p) for p in ([*files, ref] if ref is not None else files))

    def _git_out(self, *args: str) -> str | None:
        try:
            out = subprocess.run(  # noqa: S603 - fixed arguments
                [self._git, "-C", str(self.top), *args],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _log.warning("git %s failed in %s: %s", args[0], self.top, type(exc).__name__)
            return None
        return out.stdout if out.returncode == 0 else None

    def state(self, file_mtime_ns: int) -> _GitState:
        """Git's view, refreshed when HEAD/index changed or the file changed after the last look."""
        key = self.key()
        with self._lock:
            state = self._state
            if state is not None and state.key == key and file_mtime_ns < state.taken_ns:
                return state
            taken = time.time_ns()
            head = self._git_out("rev-parse", "--verify", "-q", "HEAD")
            status = self._git_out(
                "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored", "--no-renames"
            )
            dirty = frozenset(item[3:] for item in (status or "").split("\0") if len(item) > 3)
            state = _GitState(key=key, taken_ns=taken, head=head.strip() if head else None, dirty=dirty)
            if status is None:  # git could not say: treat every file as modified
                state = _GitState(key=key, taken_ns=taken, head=None, dirty=frozenset())
            self._state = state
            return state


class DirectoryIntendedSource:
    """The :class:`~driftaudit.domain.ports.IntendedConfigSource` port over a directory."""

    def __init__(self, directory: Path | str, *, use_git: bool = True, git_check_s: float = 1.0) -> None:
        """Check that ``directory`` exists; no file is read until a device is asked for.

        Args:
            directory: where ``<device_id>.cfg`` files live.
            use_git: name versions by git commit when the directory is a checkout.
            git_check_s: how often, at most, git's HEAD and index are looked at;
                a commit or pull is named in versions within this long.

        Raises:
            ConfigurationError: ``directory`` is not a directory, which would
                otherwise make every device look like it had no intended config.
        """
        self._root = Path(directory)
        if not self._root.is_dir():
            raise ConfigurationError(f"intended-config directory {self._root} does not exist")
        self._lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}
        self._git = _GitCheckout.find(self._root, check_s=git_check_s) if use_git else None
        self.reads = 0  # files actually read (not served from the cache): for tests and benchmarks

    @property
    def directory(self) -> Path:
        """The directory holding ``<device_id>.cfg`` files."""
        return self._root

    def __repr__(self) -> str:
        return f"DirectoryIntendedSource({str(self._root)!r})"

    def path_for(self, device_id: str) -> Path:
        """Where the intended config of ``device_id`` lives.

        Raises:
            InputError: the id would name a file outside the directory.
        """
        shown = repr(device_id[:128])
        if not device_id or "\\" in device_id or "\x00" in device_id:
            raise InputError(f"device id {shown} cannot name an intended-config file")
        segments = device_id.split("/")
        if any(segment in {"", ".", ".."} for segment in segments):
            raise InputError(f"device id {shown} escapes the intended-config directory")
        candidate = self._root.joinpath(*segments[:-1], segments[-1] + SUFFIX)
        root = os.path.normpath(os.path.abspath(self._root))
        if os.path.commonpath([root, os.path.normpath(os.path.abspath(candidate))]) != root:
            raise InputError(f"device id {shown} escapes the intended-config directory")
        return candidate

    def get_intended(self, device_id: str) -> str | None:
        """The intended config text, or None when the directory has no file for the device.

        Raises:
            InputError: the id would name a file outside the directory.
            ConfigurationError: the file exists but cannot be read as UTF-8 text.
        """
        config = self.get_intended_config(device_id)
        return None if config is None else config.text

    def get_intended_config(self, device_id: str) -> IntendedConfig | None:
        """The intended config and its version, read again whenever the file changed.

        Raises:
            InputError: the id would name a file outside the directory.
            ConfigurationError: the file exists but cannot be read as UTF-8 text.
        """
        path = self.path_for(device_id)
        signature = _signature(path)
        cached = self._cache.get(device_id)
        git_key = self._git.key() if self._git is not None else None
        if cached is not None and cached.signature == signature:
            if cached.config is None or signature is None or cached.git_key == git_key:
                return cached.config
            # same bytes, but HEAD or the index moved (a commit, a pull): name the version again
            version = self._version(path, cached.sha256, signature)
            entry = _Entry(
                signature, cached.config.model_copy(update={"version": version}), cached.sha256, git_key
            )
        else:
            entry = self._read(path, signature, git_key)
        with self._lock:
            self._cache[device_id] = entry
        return entry.config

    def _read(
        self, path: Path, signature: _Signature | None, git_key: tuple[_Signature | None, ...] | None
    ) -> _Entry:
        if signature is None:
            return _Entry(signature=None, config=None)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return _Entry(signature=None, config=None)
        except OSError as exc:
            raise ConfigurationError(f"intended config {path}: cannot read ({type(exc).__name__})") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None  # raised outside the handler: the decode error quotes the bytes
        if text is None:
            raise ConfigurationError(f"intended config {path}: cannot read (UnicodeDecodeError)")
        self.reads += 1
        sha = hashlib.sha256(data).hexdigest()
        config = IntendedConfig(text=text, version=self._version(path, sha, signature))
        return _Entry(signature=signature, config=config, sha256=sha, git_key=git_key)

    def _version(self, path: Path, sha256: str, signature: _Signature) -> str:
        if self._git is not None:
            state = self._git.state(signature[1])
            try:
                relative = os.path.relpath(os.path.realpath(path), os.path.realpath(self._git.top))
            except ValueError:
                relative = None
            if (
                state.head is not None
                and relative is not None
                and relative.replace(os.sep, "/") not in state.dirty
            ):
                return f"git:{state.head}"
        return f"sha256:{sha256}"

    def reload(self) -> None:
        """Forget every config read so far; the next lookups read the files again."""
        with self._lock:
            self._cache = {}
