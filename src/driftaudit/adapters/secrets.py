"""Read one secret from an environment variable or a mounted file.

Containers get secrets two ways: as an environment variable, or as a file
mounted by the orchestrator (Docker/Kubernetes secrets under ``/run/secrets``).
The common convention joins both: ``NAME`` holds the value itself, ``NAME_FILE``
holds the path of a file whose content is the value. These helpers implement
that convention once, so every adapter reads secrets the same way.

Values come back as :class:`pydantic.SecretStr` and never reach a log line or
an exception message: errors name the variable or the path, never the content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import SecretStr

from driftaudit.domain.errors import ConfigurationError

__all__ = ["FILE_SUFFIX", "read_secret", "read_secret_file", "read_secret_yaml"]

#: Suffix of the variable that names a secret file instead of holding the value.
FILE_SUFFIX = "_FILE"


def read_secret_file(path: str | Path, *, strip_newline: bool = True) -> SecretStr:
    """The content of a secret file, without its trailing line break.

    Orchestrators and ``echo`` add a final newline that is never part of a
    password or token; other whitespace is kept because it may be. PEM keys
    keep theirs (``strip_newline=False``): some parsers want it.

    Raises:
        ConfigurationError: the file cannot be read or is not UTF-8 (the
            message names the path only).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(f"secret file {file} does not exist") from exc
    except PermissionError as exc:
        raise ConfigurationError(f"secret file {file} is not readable") from exc
    except UnicodeDecodeError:
        text = None  # raised below, outside the handler: the decode error holds the secret's bytes
    except OSError as exc:
        raise ConfigurationError(f"secret file {file} cannot be read ({type(exc).__name__})") from exc
    if text is None:
        raise ConfigurationError(f"secret file {file} is not UTF-8 text")
    return SecretStr(text.removesuffix("\n").removesuffix("\r") if strip_newline else text)


def read_secret_yaml(path: Path, where: str, *, syntax: str = "YAML") -> object:
    """The parsed content of a YAML (or JSON) file that holds secrets.

    Raises:
        ConfigurationError: ``"{where} {problem}"``, where the problem names the
            failure, never the content: it is raised outside the handlers, so no
            YAML or decode error (which quotes the text) is even its ``__context__``.
    """
    problem: str | None = None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = "does not exist"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot be read ({type(exc).__name__})"
    except yaml.YAMLError:
        problem = f"is not valid {syntax}"
    if problem is not None:
        raise ConfigurationError(f"{where} {problem}")
    return raw


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> SecretStr | None:
    """The secret named ``name``: from ``$NAME``, else from the file at ``$NAME_FILE``.

    Args:
        name: the environment variable that holds the value.
        environ: the environment to read (``os.environ`` at call time when
            None), so callers re-reading after a rotation see new values.

    Returns:
        The secret, or None when neither variable is set (an empty ``NAME`` counts
        as unset, since an empty secret is never meant).

    Raises:
        ConfigurationError: both variables are set (ambiguous), or the file
            cannot be read.
    """
    env = os.environ if environ is None else environ
    value = env.get(name)
    path = env.get(name + FILE_SUFFIX)
    if value and path:
        raise ConfigurationError(f"both {name} and {name}{FILE_SUFFIX} are set; set only one")
    if value:
        return SecretStr(value)
    if path:
        return read_secret_file(path)
    return None
