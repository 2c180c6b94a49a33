"""Device credentials from a YAML file, with secrets kept out of it.

The file maps a ``credential_ref`` (the inventory field) to a credential. Each
secret field may be written inline (lab use), or read at use time from an
environment variable (``<field>_env``) or a mounted file (``<field>_file``),
so the YAML itself can be committed without secrets::

    default: lab            # used for devices whose credential_ref is empty
    credentials:
      lab:
        username: admin
        password_env: LAB_PASSWORD
      core:
        username: netops
        password_file: /run/secrets/core_password
        private_key_file: /run/secrets/core_id_ed25519
      branch-asa:
        username: netops
        password_env: ASA_PASSWORD
        enable_secret_env: ASA_ENABLE   # for logins that land at '>'

Secret fields: ``password``, ``private_key`` (PEM text), ``client_secret``,
``api_token``, ``enable_secret`` (sent after ``enable`` when a login lands
unprivileged; as secret as the password: never in a repr, log or error).
Plain fields: ``username``, ``client_id``. Secrets are read on
every :meth:`YamlCredentialSource.get_credential` call, so a rotated file or
variable is picked up without a restart; the structure is validated once, at
load, so a typo fails at start-up rather than at the first fetch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from driftaudit.adapters.secrets import read_secret_file, read_secret_yaml
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import Credential

__all__ = ["YamlCredentialSource", "load_credential_source"]

_PLAIN_FIELDS = frozenset({"username", "client_id"})
_SECRET_FIELDS = ("password", "private_key", "client_secret", "api_token", "enable_secret")
_SOURCE_SUFFIXES = ("", "_env", "_file")
_ALLOWED_KEYS = _PLAIN_FIELDS | {f + s for f in _SECRET_FIELDS for s in _SOURCE_SUFFIXES}


class YamlCredentialSource:
    """A :class:`~driftaudit.domain.ports.CredentialSource` backed by a YAML file."""

    def __init__(self, path: str | Path, *, environ: Mapping[str, str] | None = None) -> None:
        """Load and validate the file.

        Args:
            path: the YAML file.
            environ: where ``*_env`` fields are read (``os.environ`` at call
                time when None).

        Raises:
            ConfigurationError: the file is missing, not YAML, or malformed.
        """
        self._path = Path(path)
        self._environ = environ
        self._default: str | None = None
        self._entries: dict[str, dict[str, str]] = {}
        self.reload()

    def __repr__(self) -> str:
        return f"YamlCredentialSource(path={str(self._path)!r}, refs={sorted(self._entries)!r})"

    @property
    def refs(self) -> frozenset[str]:
        """Every credential reference the file defines."""
        return frozenset(self._entries)

    def reload(self) -> None:
        """Read the file again (new references, changed structure)."""
        raw = read_secret_yaml(self._path, f"credentials file {self._path}")
        self._default, self._entries = _parse(raw, self._path)

    def get_credential(self, ref: str | None) -> Credential:
        """The credential for ``ref`` (the default one when ``ref`` is empty).

        Raises:
            ConfigurationError: ``ref`` is unknown, there is no default, or a
                referenced variable or file is missing.
        """
        name = ref or self._default
        if not name:
            raise ConfigurationError(f"credentials file {self._path}: no credential_ref and no default")
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigurationError(f"credentials file {self._path}: unknown credential_ref {name!r}")
        values: dict[str, Any] = {key: entry[key] for key in _PLAIN_FIELDS if key in entry}
        for field in _SECRET_FIELDS:
            secret = self._resolve(name, field, entry)
            if secret is not None:
                values[field] = secret
        return Credential(**values)

    def _resolve(self, name: str, field: str, entry: Mapping[str, str]) -> SecretStr | None:
        if field in entry:
            return SecretStr(entry[field])
        if (variable := entry.get(field + "_env")) is not None:
            env = os.environ if self._environ is None else self._environ
            value = env.get(variable)
            if not value:
                raise ConfigurationError(
                    f"credential {name!r}: environment variable {variable} for {field} is not set"
                )
            return SecretStr(value)
        if (path := entry.get(field + "_file")) is not None:
            if field == "private_key":
                return read_secret_file(path, strip_newline=False)
            return SecretStr(read_secret_file(path).get_secret_value().strip())
        return None


def _parse(raw: object, path: Path) -> tuple[str | None, dict[str, dict[str, str]]]:
    """Validate the document's shape; messages name keys and refs, never values."""
    if not isinstance(raw, dict):
        raise ConfigurationError(f"credentials file {path}: expected a mapping at the top level")
    unknown_top = set(raw) - {"default", "credentials"}
    if unknown_top:
        raise ConfigurationError(f"credentials file {path}: unknown keys {sorted(map(str, unknown_top))}")
    default = raw.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigurationError(f"credentials file {path}: 'default' must be a credential_ref")
    section = raw.get("credentials") or {}
    if not isinstance(section, dict):
        raise ConfigurationError(f"credentials file {path}: 'credentials' must be a mapping")
    entries: dict[str, dict[str, str]] = {}
    for ref, body in section.items():
        where = f"credentials file {path}, credential {ref!r}"
        if not isinstance(body, dict):
            raise ConfigurationError(f"{where}: expected a mapping")
        unknown = set(body) - _ALLOWED_KEYS
        if unknown:
            raise ConfigurationError(f"{where}: unknown keys {sorted(map(str, unknown))}")
        for field in _SECRET_FIELDS:
            given = [field + s for s in _SOURCE_SUFFIXES if field + s in body]
            if len(given) > 1:
                raise ConfigurationError(f"{where}: set only one of {', '.join(given)}")
        for key, value in body.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise ConfigurationError(f"{where}: {key} must be a string")
        entries[str(ref)] = {str(k): str(v) for k, v in body.items()}
    if default is not None and default not in entries:
        raise ConfigurationError(f"credentials file {path}: default {default!r} is not defined")
    return default, entries


def load_credential_source(
    path: str | Path | None, *, environ: Mapping[str, str] | None = None
) -> YamlCredentialSource | None:
    """The credential source of ``Settings.credentials_path``, or None when unset."""
    return None if path is None else YamlCredentialSource(path, environ=environ)
