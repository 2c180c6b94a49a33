"""Intended (golden) configs, one ``<device_id>.cfg`` file per device in a directory.

Files are read lazily, the first time a device is asked for, and then kept,
so an audit of a thousand devices reads each file once and a worker does not
read configs it never audits. ``reload()`` forgets everything read so far;
the next lookups read the directory again (after a git pull, say).

Device ids come from the inventory and, through it, from wire messages: an id
that would resolve outside the directory (``..``, ``.`` or empty segments, an
absolute path, a backslash or NUL) is refused with ``InputError`` instead of being read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from driftaudit.domain.errors import ConfigurationError, InputError

__all__ = ["DirectoryIntendedSource", "SUFFIX"]

#: File name suffix of an intended config.
SUFFIX = ".cfg"


class DirectoryIntendedSource:
    """The :class:`~driftaudit.domain.ports.IntendedConfigSource` port over a directory."""

    def __init__(self, directory: Path | str) -> None:
        """Check that ``directory`` exists; no file is read until a device is asked for.

        Raises:
            ConfigurationError: ``directory`` is not a directory, which would
                otherwise make every device look like it had no intended config.
        """
        self._root = Path(directory)
        if not self._root.is_dir():
            raise ConfigurationError(f"intended-config directory {self._root} does not exist")
        self._lock = threading.Lock()
        self._cache: dict[str, str | None] = {}

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
        try:
            return self._cache[device_id]
        except KeyError:
            pass
        path = self.path_for(device_id)
        try:
            text: str | None = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            text = None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"intended config {path}: cannot read ({type(exc).__name__})") from exc
        with self._lock:
            return self._cache.setdefault(device_id, text)

    def reload(self) -> None:
        """Forget every config read so far; the next lookups read the files again."""
        with self._lock:
            self._cache = {}
