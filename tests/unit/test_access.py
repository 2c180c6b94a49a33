"""Token scopes: the pure table and the token file loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from driftaudit.adapters.access import build_access, load_token_file
from driftaudit.domain.access import AccessTable, Scope, TokenGrant, token_digest
from driftaudit.domain.errors import ConfigurationError
from driftaudit.settings import Settings


def _table() -> AccessTable:
    return AccessTable(
        [
            TokenGrant(digest=token_digest("a-token"), scope=Scope(name="a", tenants=frozenset({"acme"}))),
            TokenGrant(digest=token_digest("root"), scope=Scope(name="root", admin=True)),
        ]
    )


def test_a_token_carries_its_scope_and_nothing_else() -> None:
    table = _table()
    scope = table.scope_of("a-token")
    assert scope is not None
    assert scope.allows("acme")
    assert not scope.allows("globex")
    admin = table.scope_of("root")
    assert admin is not None
    assert admin.allows("globex")
    for bad in (None, "", "a-toke", "a-token ", "A-TOKEN"):
        assert table.scope_of(bad) is None


def test_header_parsing() -> None:
    table = _table()
    assert table.scope_of_header("Bearer a-token") == table.scope_of("a-token")
    assert table.scope_of_header("bearer   a-token") == table.scope_of("a-token")
    for bad in (None, "", "Basic a-token", "a-token", "Bearer"):
        assert table.scope_of_header(bad) is None


def test_no_token_in_repr() -> None:
    assert "a-token" not in repr(_table())
    assert token_digest("a-token") not in repr(_table())


def test_the_same_token_twice_is_refused() -> None:
    grant = TokenGrant(digest=token_digest("x"), scope=Scope(name="x", admin=True))
    with pytest.raises(ValueError, match="twice"):
        AccessTable([grant, grant])


def _write(path: Path, tokens: list[dict[str, object]]) -> Path:
    path.write_text(yaml.safe_dump({"tokens": tokens}), encoding="utf-8")
    return path


def test_token_file_and_setting_merge(tmp_path: Path) -> None:
    (tmp_path / "b.token").write_text("b-secret\n", encoding="utf-8")
    path = _write(
        tmp_path / "t.yaml",
        [
            {"name": "a", "sha256": token_digest("a-secret"), "tenants": ["acme"]},
            {"name": "b", "token_file": str(tmp_path / "b.token"), "tenants": ["globex", "initech"]},
        ],
    )
    table = build_access(Settings(api_token=SecretStr("admin-secret"), api_tokens_path=path))
    assert table is not None
    assert len(table) == 3
    b = table.scope_of("b-secret")
    assert b is not None
    assert b.tenants == frozenset({"globex", "initech"})
    admin = table.scope_of("admin-secret")
    assert admin is not None
    assert admin.admin
    assert build_access(Settings()) is None


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "token": "plain-secret-1"},  # no scope
        {"name": "x", "token": "plain-secret-1", "sha256": "0" * 64, "admin": True},  # two tokens
        {"name": "x", "sha256": "zz", "admin": True},
        {"name": "x", "token": "plain-secret-1", "admin": True, "tenant": "acme"},  # typo
    ],
)
def test_malformed_grants_name_the_file_never_the_token(tmp_path: Path, entry: dict[str, object]) -> None:
    path = _write(tmp_path / "tokens.yaml", [entry])
    with pytest.raises(ConfigurationError, match="tokens.yaml") as caught:
        load_token_file(path)
    assert "plain-secret-1" not in str(caught.value)


def test_a_setting_token_granted_again_in_the_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.yaml", [{"name": "dup", "token": "same", "admin": True}])
    with pytest.raises(ConfigurationError, match="twice"):
        build_access(Settings(api_token=SecretStr("same"), api_tokens_path=path))
