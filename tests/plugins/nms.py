"""Pytest fixtures for the nms tests (loaded from tests/conftest.py).

``nms_sim`` is a real HTTP NMS simulator on a free loopback port, in the
test's event loop, with one tenant per envelope style and fresh canary
secrets per test; ``nms_environ`` holds those secrets the way a deployment
passes them (``DRIFTAUDIT_NMS_<T>_*``); ``nms_stack`` builds an
``AuthManager`` and an ``NMSConfigClient`` against it and closes them.
``nms_sim_thread`` serves the same from a thread, once per module, for sync
tests (Hypothesis).
"""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from driftaudit.adapters.nms.auth import AuthManager, tenant_env_prefix
from driftaudit.adapters.nms.client import NMSConfigClient
from driftaudit.domain.models import AuthScheme, Device, Platform, Transport
from driftaudit.sim.nms import ENVELOPE_STYLES, NMSSimulator, SimTenant, load_config_templates
from tests.samples_path import CONFIGS

#: Every canary starts with this, so a test can search logs for any of them.
CANARY_PREFIX = "CANARY-"


def canary(label: str) -> str:
    """A secret value that must never show up anywhere outside the wire."""
    return f"{CANARY_PREFIX}{label}-{secrets.token_hex(8)}"


def sim_tenants() -> list[SimTenant]:
    """One tenant per envelope style and auth scheme, with fresh canary secrets."""
    oauth = AuthScheme.OAUTH2_CLIENT_CREDENTIALS
    tenants = [
        SimTenant("acme", "cisco_nms", oauth, client_id="acme-client", client_secret=canary("acme")),
        SimTenant("globex", "juniper_nms", oauth, client_id="globex-client", client_secret=canary("globex")),
        SimTenant(
            "initech",
            "catalyst_center",
            AuthScheme.TOKEN_EXCHANGE,
            username="dnac-reader",
            password=canary("initech"),
        ),
        SimTenant("umbrella", "cloudvision", AuthScheme.STATIC_TOKEN, static_token=canary("umbrella")),
    ]
    for style in ENVELOPE_STYLES:
        if style not in {t.style for t in tenants}:
            name = style.replace("_", "-")
            tenants.append(
                SimTenant(name, style, oauth, client_id=f"{name}-client", client_secret=canary(name))
            )
    return tenants


def environ_for(sim: NMSSimulator) -> dict[str, str]:
    """The ``DRIFTAUDIT_NMS_<T>_*`` variables holding every tenant's credentials."""
    env: dict[str, str] = {}
    for tenant in sim.tenants.values():
        prefix = tenant_env_prefix(tenant.tenant_id)
        pairs = {
            "CLIENT_ID": tenant.client_id,
            "CLIENT_SECRET": tenant.client_secret,
            "USERNAME": tenant.username,
            "PASSWORD": tenant.password,
            "TOKEN": tenant.static_token,
        }
        env.update({prefix + key: value for key, value in pairs.items() if value})
    return env


def nms_device(device_id: str, tenant: str, platform: Platform = Platform.IOS) -> Device:
    """An inventory entry for a device behind a tenant's NMS."""
    return Device(
        device_id=device_id,
        host="127.0.0.1",
        platform=platform,
        transport=Transport.NMS,
        tenant=tenant,
    )


@pytest.fixture(scope="session")
def nms_templates() -> dict[str, list[str]]:
    """The real sample configs, by platform."""
    return load_config_templates(CONFIGS)


@pytest.fixture
async def nms_sim(nms_templates: dict[str, list[str]]) -> AsyncIterator[NMSSimulator]:
    """A simulator in the test's loop, one tenant per envelope style."""
    sim = NMSSimulator(sim_tenants(), templates=nms_templates)
    async with sim:
        yield sim


@pytest.fixture
def nms_environ(nms_sim: NMSSimulator) -> dict[str, str]:
    """The simulator's credentials as environment variables (a private mapping, not os.environ)."""
    return environ_for(nms_sim)


@dataclass
class NMSStack:
    """An auth manager and a client wired to the simulator."""

    sim: NMSSimulator
    auth: AuthManager
    client: NMSConfigClient


@pytest.fixture
async def nms_stack_factory(
    nms_sim: NMSSimulator, nms_environ: dict[str, str]
) -> AsyncIterator[Callable[..., NMSStack]]:
    """Builds stacks (overrides: ``tenant_overrides``, auth and client keywords); closes them all."""
    async with AsyncExitStack() as stack:

        def build(
            *,
            tenant_overrides: dict[str, dict[str, Any]] | None = None,
            auth_kwargs: dict[str, Any] | None = None,
            **client_kwargs: Any,
        ) -> NMSStack:
            overrides = tenant_overrides or {}
            tenants = [nms_sim.nms_tenant(t, **overrides.get(t, {})) for t in nms_sim.tenants]
            auth = AuthManager(tenants, environ=nms_environ, **(auth_kwargs or {}))
            client = NMSConfigClient(tenants, auth, **client_kwargs)
            stack.push_async_callback(auth.aclose)
            stack.push_async_callback(client.aclose)
            return NMSStack(nms_sim, auth, client)

        yield build


@pytest.fixture
async def nms_stack(nms_stack_factory: Callable[..., NMSStack]) -> NMSStack:
    """The default stack."""
    return nms_stack_factory()


@pytest.fixture(scope="module")
def nms_sim_thread(nms_templates: dict[str, list[str]]) -> Iterator[NMSSimulator]:
    """A simulator serving from its own thread, once per module (reset it per example)."""
    sim = NMSSimulator(sim_tenants(), templates=nms_templates)
    sim.start_in_thread()
    try:
        yield sim
    finally:
        sim.stop_thread()


@dataclass
class TLSFiles:
    """A self-signed certificate for 127.0.0.1 and the server context that serves it."""

    server_context: ssl.SSLContext
    ca_bundle: Path


@pytest.fixture(scope="session")
def nms_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA-less self-signed certificate (it is its own trust anchor)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftaudit-sim")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("nms-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return TLSFiles(context, cert_path)
