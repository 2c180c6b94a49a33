"""NMSConfigClient against the real HTTP simulator: envelopes, errors, timeouts, retries, TLS."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from driftaudit.adapters.nms.auth import AuthManager
from driftaudit.adapters.nms.client import NMSConfigClient, RetryPolicy
from driftaudit.adapters.nms.tenants import NMSTimeouts
from driftaudit.domain.errors import (
    AuthError,
    ConfigTooLargeError,
    ConnectError,
    FetchTimeoutError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    UnknownTenantError,
)
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.sim.nms import NMSSimulator
from tests.plugins.nms import NMSStack, TLSFiles, environ_for, nms_device, sim_tenants

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_retries=3, backoff_s=0.01, max_wait_s=1.0, max_total_wait_s=2.0)


def _statuses(sim: NMSSimulator, kind: str = "config") -> list[int]:
    return [status for k, _, _, status in sim.log if k == kind]


def _free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("tenant", [t.tenant_id for t in sim_tenants()])
async def test_every_envelope_style_yields_the_served_config(nms_stack: NMSStack, tenant: str) -> None:
    sim = nms_stack.sim
    for device_id in ("edge-01", "core/02", "pe:03@lab"):
        result = await nms_stack.client.fetch_device_config(nms_device(device_id, tenant))
        expected = ConfigNormalizer().normalize_text(sim.config_text(tenant, device_id))
        assert result.cleaned_text == expected
        assert result.device_id == device_id
        assert result.fetch_ms > 0
        assert "json_metadata" not in result.cleaned_text
        assert "envelope_id" not in result.cleaned_text
        assert device_id in result.cleaned_text  # each device gets its own hostname


async def test_devices_differ_and_the_config_is_the_sample_text(nms_stack: NMSStack) -> None:
    a = await nms_stack.client.fetch_device_config(nms_device("r1", "acme"))
    b = await nms_stack.client.fetch_device_config(nms_device("r2", "acme"))
    assert a.cleaned_text != b.cleaned_text
    assert "interface" in a.cleaned_text


async def test_unknown_tenant(nms_stack: NMSStack) -> None:
    with pytest.raises(UnknownTenantError, match="nowhere"):
        await nms_stack.client.fetch_device_config(nms_device("r1", "nowhere"))


async def test_429_with_retry_after_then_success(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(retry=FAST_RETRY)
    stack.sim.fail_next(2, 429, retry_after=0.1, tenant_id="acme")
    started = time.perf_counter()
    result = await stack.client.fetch_device_config(nms_device("r1", "acme"))
    elapsed = time.perf_counter() - started
    assert result.cleaned_text
    assert _statuses(stack.sim) == [429, 429, 200]
    assert elapsed >= 0.2  # both Retry-After waits were honoured


async def test_retry_after_as_http_date(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(retry=FAST_RETRY)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    stack.sim.fail_next(1, 503, retry_after=when, tenant_id="acme")
    result = await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert result.cleaned_text
    assert _statuses(stack.sim) == [503, 200]


async def test_503_beyond_the_budget_is_rate_limited(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(
        retry=RetryPolicy(max_retries=2, backoff_s=0.01, max_wait_s=1, max_total_wait_s=1)
    )
    stack.sim.fail_device("r1", 503, retry_after=0.01)
    with pytest.raises(RateLimitedError) as caught:
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert caught.value.tenant == "acme"
    assert caught.value.device_id == "r1"
    assert caught.value.status == "error"
    assert _statuses(stack.sim) == [503, 503, 503]  # one try plus two retries, then stop


async def test_retry_after_above_the_cap_gives_up_at_once(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(retry=FAST_RETRY)
    stack.sim.fail_device("r1", 429, retry_after=3600)
    started = time.perf_counter()
    with pytest.raises(RateLimitedError, match="Retry-After"):
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert time.perf_counter() - started < 1.0
    assert _statuses(stack.sim) == [429]


async def test_total_wait_budget_caps_backoff(nms_stack_factory: Callable[..., NMSStack]) -> None:
    policy = RetryPolicy(max_retries=10, backoff_s=0.1, max_wait_s=1.0, max_total_wait_s=0.35)
    stack = nms_stack_factory(retry=policy)
    stack.sim.fail_device("r1", 503)  # no Retry-After: doubling backoff 0.1, 0.2, then 0.4 exceeds 0.35
    with pytest.raises(RateLimitedError, match="wait budget"):
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert len(_statuses(stack.sim)) == 3


async def test_closed_port_is_a_fast_connect_error(
    nms_sim: NMSSimulator, nms_environ: dict[str, str]
) -> None:
    port = _free_closed_port()
    for tenant_id in ("umbrella", "acme"):  # static token: config request; oauth: token request first
        tenant = nms_sim.nms_tenant(tenant_id, base_url=f"http://127.0.0.1:{port}/t/{tenant_id}")
        async with (
            AuthManager([tenant], environ=nms_environ) as auth,
            NMSConfigClient([tenant], auth) as client,
        ):
            started = time.perf_counter()
            with pytest.raises(ConnectError) as caught:
                await client.fetch_device_config(nms_device("r1", tenant_id))
            assert time.perf_counter() - started < 2.0
            assert caught.value.status == "unreachable"
            assert caught.value.tenant == tenant_id
            assert "r1" in str(caught.value)


async def test_slow_server_hits_the_total_timeout(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(timeouts=NMSTimeouts(connect_s=1, read_s=10, total_s=0.4))
    await stack.client.fetch_device_config(nms_device("warm", "acme"))  # token outside the timed part
    stack.sim.slow_device("r1", 5.0)
    started = time.perf_counter()
    with pytest.raises(FetchTimeoutError, match="total timeout") as caught:
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
    elapsed = time.perf_counter() - started
    assert 0.4 <= elapsed < 0.4 + 0.5
    assert caught.value.status == "unreachable"


async def test_slow_server_hits_the_read_timeout(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(timeouts=NMSTimeouts(connect_s=1, read_s=0.3, total_s=10))
    await stack.client.fetch_device_config(nms_device("warm", "acme"))
    stack.sim.slow_device("r1", 5.0)
    started = time.perf_counter()
    with pytest.raises(FetchTimeoutError, match="read timeout"):
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert time.perf_counter() - started < 0.3 + 0.5


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (404, RemoteError, "does not know"),
        (500, RemoteError, "HTTP 500"),
        (403, AuthError, "forbidden"),
    ],
)
async def test_http_statuses_map_to_typed_errors(
    nms_stack: NMSStack, status: int, error: type[Exception], text: str
) -> None:
    nms_stack.sim.fail_device("r1", status)
    with pytest.raises(error, match=text) as caught:
        await nms_stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert "tenant acme, device r1" in str(caught.value)
    assert _statuses(nms_stack.sim) == [status]  # no retry for these


async def test_garbage_and_wrong_envelopes_are_protocol_errors(nms_stack: NMSStack) -> None:
    sim = nms_stack.sim
    sim.serve_body("garbage", b"\x00\x01 not json at all")
    sim.serve_body("latin1", "hostname caf\xe9".encode("latin-1"))
    sim.serve_body("wrong", b'{"json_metadata": {}, "something": "else"}')
    for device_id in ("garbage", "latin1", "wrong"):
        with pytest.raises(ProtocolError) as caught:
            await nms_stack.client.fetch_device_config(nms_device(device_id, "acme"))
        assert caught.value.tenant == "acme"


async def test_answer_above_the_size_cap(nms_stack_factory: Callable[..., NMSStack]) -> None:
    stack = nms_stack_factory(max_config_bytes=2048)
    stack.sim.serve_body("big", b'{"response": {"config": "' + b"x" * 10_000 + b'"}}')
    with pytest.raises(ConfigTooLargeError):
        await stack.client.fetch_device_config(nms_device("big", "acme"))


async def test_tls_is_verified_by_default_and_a_tenant_ca_bundle_is_honoured(
    nms_templates: dict[str, list[str]], nms_tls: TLSFiles
) -> None:
    sim = NMSSimulator(sim_tenants(), templates=nms_templates, ssl_context=nms_tls.server_context)
    async with sim:
        env = environ_for(sim)
        default = sim.nms_tenant("umbrella")
        assert default.base_url.startswith("https://")
        async with AuthManager([default], environ=env) as auth, NMSConfigClient([default], auth) as client:
            with pytest.raises(ConnectError):  # self-signed: refused by the system trust store
                await client.fetch_device_config(nms_device("r1", "umbrella"))
        pinned = sim.nms_tenant("umbrella", ca_bundle=str(nms_tls.ca_bundle))
        async with AuthManager([pinned], environ=env) as auth, NMSConfigClient([pinned], auth) as client:
            result = await client.fetch_device_config(nms_device("r1", "umbrella"))
            assert "r1" in result.cleaned_text
        oauth = sim.nms_tenant("acme", ca_bundle=str(nms_tls.ca_bundle))
        async with AuthManager([oauth], environ=env) as auth, NMSConfigClient([oauth], auth) as client:
            assert (await client.fetch_device_config(nms_device("r1", "acme"))).cleaned_text
