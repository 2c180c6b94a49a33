"""Who may see what: bearer tokens mapped to tenant scopes, checked in constant time.

A token grants either the ``admin`` scope (every tenant) or a fixed set of
tenants. Every read of the API (and of the worker's views) filters to the
caller's scope, and a device or score outside it answers exactly like one
that does not exist, so a token never learns what another tenant has.

Tokens are kept only as SHA-256 digests: a presented token is hashed and
compared with **every** known digest by :func:`hmac.compare_digest` (no early
exit), so neither the comparison time nor its position reveals a match, and
no token value is held, logged or put into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["ADMIN", "AccessTable", "Scope", "TokenGrant", "token_digest"]


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token: what a token file stores instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller may see: every tenant (``admin``) or the ``tenants`` named."""

    name: str
    tenants: frozenset[str] = frozenset()
    admin: bool = False

    def allows(self, tenant: str) -> bool:
        """Whether data of ``tenant`` is visible to this caller."""
        return self.admin or tenant in self.tenants

    def __repr__(self) -> str:
        shown = "admin" if self.admin else ",".join(sorted(self.tenants))
        return f"Scope({self.name!r}: {shown})"


#: The scope of the single legacy token (``DRIFTAUDIT_API_TOKEN``): it has always seen everything.
ADMIN = Scope(name="admin", admin=True)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """One token (by digest) and the scope it grants."""

    digest: str = field(repr=False)
    scope: Scope


class AccessTable:
    """Every configured token grant; answers "which scope does this bearer token carry?"."""

    def __init__(self, grants: Iterable[TokenGrant]) -> None:
        """Keep the grants; two grants with the same digest are a configuration mistake.

        Raises:
            ValueError: a digest is not 64 hex characters, or appears twice.
        """
        self._grants: tuple[tuple[bytes, Scope], ...] = ()
        seen: set[str] = set()
        grants_list = []
        for grant in grants:
            digest = grant.digest.lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"token grant {grant.scope.name!r}: sha256 must be 64 hex characters")
            if digest in seen:
                raise ValueError(f"token grant {grant.scope.name!r}: the same token is granted twice")
            seen.add(digest)
            grants_list.append((bytes.fromhex(digest), grant.scope))
        self._grants = tuple(grants_list)

    @classmethod
    def single_admin(cls, token: str) -> AccessTable:
        """One token with the admin scope (the ``DRIFTAUDIT_API_TOKEN`` setting)."""
        return cls([TokenGrant(digest=token_digest(token), scope=ADMIN)])

    def __len__(self) -> int:
        return len(self._grants)

    def __repr__(self) -> str:
        return f"AccessTable({[scope for _, scope in self._grants]!r})"

    def merged(self, other: AccessTable) -> AccessTable:
        """Both tables' grants (a token in both is refused as granted twice)."""
        return AccessTable([TokenGrant(digest=d.hex(), scope=s) for d, s in (*self._grants, *other._grants)])

    def scope_of(self, token: str | None) -> Scope | None:
        """The scope ``token`` carries, or None when it is unknown (or empty).

        Compares the token's digest with every grant, whatever matched first.
        """
        if not token:
            return None
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found: Scope | None = None
        for digest, scope in self._grants:
            if hmac.compare_digest(presented, digest) and found is None:
                found = scope
        return found

    def scope_of_header(self, authorization: str | None) -> Scope | None:
        """The scope of an ``Authorization: Bearer <token>`` header value (None: refused)."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.scope_of(token.strip())
