"""NMS tenants from a YAML file (``Settings.tenants_path``).

One entry per tenant; ``envelope`` is either the name of a built-in envelope
spec (``driftaudit.domain.normalize.BUILTIN_ENVELOPES``) or a full spec. The
file holds no secrets: credentials come from the environment or from the
tenant's ``credentials_file`` (see :mod:`driftaudit.adapters.nms.auth`)::

    tenants:
      - tenant_id: acme
        base_url: https://nms.acme.example
        auth_scheme: oauth2_client_credentials
        envelope: {name: acme, format: json, config_path: [data, config]}
        credentials_file: /run/secrets/acme_nms.yaml
      - tenant_id: globex
        base_url: https://dnac.globex.example
        auth_scheme: token_exchange
        token_path: /dna/system/api/v1/auth/token
        config_path: /dna/intent/api/v1/network-device/{device_id}/config
        envelope: catalyst_center
        ca_bundle: /etc/driftaudit/globex-ca.pem
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import ValidationError

from driftaudit.domain.envelopes import BUILTIN_ENVELOPES
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import EnvelopeSpec, NMSTenant

__all__ = ["NMSTimeouts", "load_tenants", "parse_tenants", "tls_verify"]


def load_tenants(path: str | Path) -> list[NMSTenant]:
    """Every tenant of the YAML file, validated.

    Raises:
        ConfigurationError: the file is unreadable or any entry is invalid
            (duplicate ids, unknown envelope, bad fields).
    """
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"tenants file {file} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"tenants file {file} cannot be read ({type(exc).__name__})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"tenants file {file} is not valid YAML: {exc}") from exc
    return parse_tenants(raw, source=str(file))


def parse_tenants(raw: object, *, source: str = "tenants") -> list[NMSTenant]:
    """Tenants from an already decoded document (``{"tenants": [...]}`` or a bare list)."""
    items = raw.get("tenants") if isinstance(raw, Mapping) else raw
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigurationError(f"{source}: expected a list of tenants")
    tenants: list[NMSTenant] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{source}: tenant #{index} is not a mapping")
        fields: dict[str, Any] = dict(item)
        fields["envelope"] = _envelope(fields.get("envelope"), f"{source}: tenant #{index}")
        try:
            tenant = NMSTenant.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"{source}: tenant #{index}: {problems}") from None
        if tenant.tenant_id in seen:
            raise ConfigurationError(f"{source}: tenant {tenant.tenant_id!r} is defined twice")
        seen.add(tenant.tenant_id)
        tenants.append(tenant)
    return tenants


def _envelope(value: object, where: str) -> EnvelopeSpec | object:
    """A built-in spec by name; anything else is left for the model to validate."""
    if not isinstance(value, str):
        return value
    try:
        return BUILTIN_ENVELOPES[value]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_ENVELOPES))
        raise ConfigurationError(f"{where}: unknown envelope {value!r} (built-in: {known})") from None


@dataclass(frozen=True, kw_only=True)
class NMSTimeouts:
    """Per-phase limits for every HTTP call to an NMS, in seconds.

    ``connect`` bounds the TCP and TLS handshake, ``read`` the wait for each
    chunk of the answer, ``total`` the whole operation (including token
    refresh and Retry-After waits), so a server that trickles bytes cannot
    hold a fetch forever.
    """

    connect_s: float = 5.0
    read_s: float = 20.0
    total_s: float = 60.0

    def httpx(self) -> httpx.Timeout:
        """The per-request part, as httpx wants it (write and pool share ``read``)."""
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.read_s, pool=self.read_s)


def tls_verify(tenant: NMSTenant) -> ssl.SSLContext | bool:
    """How to verify the tenant's certificate: its CA bundle, the system CAs, or (opt-out) not at all.

    Raises:
        ConfigurationError: the CA bundle cannot be loaded.
    """
    if not tenant.verify_tls:
        return False
    if tenant.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=tenant.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"tenant {tenant.tenant_id}: CA bundle {tenant.ca_bundle} cannot be loaded ({type(exc).__name__})"
        ) from exc
