"""The compliance rules file (YAML): features, scopes and policies, reloaded when it changes.

The path comes from ``DRIFTAUDIT_RULES_PATH``. The file is read and compiled
once at start (a bad file is a :class:`ConfigurationError` then, naming what
is wrong); afterwards :meth:`FileRulesSource.refresh` compares the file's
modification time and size with the last load (at most once per
``check_interval_s``) and reads it again when they changed. A file that
became invalid keeps the last good rules in force and is logged, so a typo
pushed to a running worker never turns every device into an error.

``current()`` never does I/O; ``refresh()`` does (a ``stat``, and a read when
the file changed), so async callers run it in a worker thread.

Example::

    unmatched: report          # or ignore: compare only the features' lines
    features:
      - name: ntp
        platforms: [cisco_ios, cisco_nxos, arista_eos]
        sections: ["ntp "]
        ordered: true
        policies:
          - name: ntp-servers
            exactly: ["ntp server 10.0.0.1", "ntp server 10.0.0.2"]
            match: "^ntp server "
      - name: ntp
        platforms: [juniper_junos, juniper_junos_set]
        sections: ["system ntp"]
      - name: hardening
        scope: {roles: [edge]}
        policies:
          - present: ["service password-encryption"]
          - absent: ["ip http server"]
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import yaml
from pydantic import ValidationError

from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.features import CompiledRules, RuleSet, compile_rules

__all__ = ["FileRulesSource", "load_rules"]

_log = logging.getLogger(__name__)


def load_rules(path: Path) -> CompiledRules:
    """Read, validate and compile a rules file.

    Raises:
        ConfigurationError: the file cannot be read, is not YAML, does not
            describe a rule set, or holds a pattern RE2 cannot compile.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"rules file {path}: cannot read ({type(exc).__name__})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"rules file {path}: not valid YAML ({type(exc).__name__})") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigurationError(f"rules file {path}: expected a mapping with 'features'")
    try:
        rules = RuleSet.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise ConfigurationError(f"rules file {path}: {problems}") from exc
    return compile_rules(rules)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class FileRulesSource:
    """The compliance rules of one YAML file, reloaded when its mtime or size changes."""

    def __init__(self, path: Path | str, *, check_interval_s: float = 1.0) -> None:
        """Load the file now.

        Raises:
            ConfigurationError: the file is missing or invalid.
        """
        self._path = Path(path)
        self._interval = check_interval_s
        self._lock = threading.Lock()
        self._signature = _signature(self._path)
        if self._signature is None:
            raise ConfigurationError(f"rules file {self._path} does not exist")
        self._rules = load_rules(self._path)
        self._checked = time.monotonic()

    def __repr__(self) -> str:
        return f"FileRulesSource({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The rules file."""
        return self._path

    def current(self) -> CompiledRules:
        """The rules in force (no I/O)."""
        return self._rules

    def due(self) -> bool:
        """Whether :meth:`refresh` would look at the file now."""
        return time.monotonic() - self._checked >= self._interval

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the file if it changed since the last load; True when new rules are in force."""
        if not force and not self.due():
            return False
        with self._lock:
            self._checked = time.monotonic()
            signature = _signature(self._path)
            if signature is None or signature == self._signature:
                return False
            try:
                rules = load_rules(self._path)
            except ConfigurationError as exc:
                _log.error("rules file changed but cannot be used, keeping the previous rules: %s", exc)
                self._signature = signature
                return False
            self._rules, self._signature = rules, signature
            _log.info("rules file %s reloaded: %d feature rules", self._path, len(rules.rules.features))
            return True
