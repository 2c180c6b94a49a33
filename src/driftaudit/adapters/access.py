"""Token file and settings -> the :class:`~driftaudit.domain.access.AccessTable` of a process.

Two sources, merged:

- ``DRIFTAUDIT_API_TOKEN``: one token with the **admin** scope, as before;
- ``DRIFTAUDIT_API_TOKENS_PATH``: a YAML file of grants, each naming the
  tenants it may see (or ``admin: true``)::

      tokens:
        - name: acme-ci                 # shown in logs; the token never is
          sha256: 9f86d08...            # sha256 of the token: the file holds no secret
          tenants: [acme]
        - name: noc
          token_file: /run/secrets/noc  # or the token itself, in its own file
          admin: true

The HTTP API and the worker's web views call :func:`build_access` once and
then :meth:`AccessTable.scope_of_header` per request.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from driftaudit.adapters.secrets import read_secret_file, read_secret_yaml
from driftaudit.domain.access import AccessTable, Scope, TokenGrant, token_digest
from driftaudit.domain.errors import ConfigurationError
from driftaudit.settings import Settings

__all__ = ["build_access", "load_token_file"]


class _GrantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    token: SecretStr | None = None
    token_file: Path | None = None
    tenants: frozenset[str] = frozenset()
    admin: bool = False

    @model_validator(mode="after")
    def _one_token_and_a_scope(self) -> _GrantEntry:
        if sum(x is not None for x in (self.sha256, self.token, self.token_file)) != 1:
            raise ValueError("give exactly one of sha256, token, token_file")
        if not self.admin and not self.tenants:
            raise ValueError("grant no access: set tenants or admin: true")
        return self


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: list[_GrantEntry]


def _digest(entry: _GrantEntry, where: str) -> str:
    if entry.sha256 is not None:
        return entry.sha256.lower()
    secret = entry.token if entry.token is not None else read_secret_file(entry.token_file or Path())
    value = secret.get_secret_value()
    if not value.strip():
        raise ConfigurationError(f"{where}: grant {entry.name!r} has an empty token")
    return token_digest(value)


def load_token_file(path: Path) -> AccessTable:
    """The grants of a token file.

    Raises:
        ConfigurationError: the file is missing, not YAML, or a grant is
            malformed (the message names the file and fields, never a token).
    """
    where = f"token file {path}"
    raw = read_secret_yaml(path, where)
    try:
        parsed = _TokenFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}"
            for e in exc.errors(include_url=False, include_input=False)[:5]
        )
        raise ConfigurationError(f"{where} is malformed: {problems}") from None
    grants = [
        TokenGrant(
            digest=_digest(entry, where),
            scope=Scope(name=entry.name, tenants=entry.tenants, admin=entry.admin),
        )
        for entry in parsed.tokens
    ]
    try:
        return AccessTable(grants)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def build_access(settings: Settings) -> AccessTable | None:
    """Every grant configured for this process, or None when no token is configured at all.

    Raises:
        ConfigurationError: the token file cannot be used, or it grants the
            ``DRIFTAUDIT_API_TOKEN`` token a second time.
    """
    tables: list[AccessTable] = []
    token = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    if token:
        tables.append(AccessTable.single_admin(token))
    tokens_path = settings.api_tokens_path
    if tokens_path is not None:
        tables.append(load_token_file(Path(tokens_path)))
    if not tables:
        return None
    merged = tables[0]
    for table in tables[1:]:
        try:
            merged = merged.merged(table)
        except ValueError as exc:
            raise ConfigurationError(f"API tokens: {exc}") from None
    return merged
