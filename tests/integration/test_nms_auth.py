"""Auth resilience, rotation, tenant isolation and secret hygiene, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from driftaudit.adapters.nms.auth import AuthManager, TokenUnavailableError, tenant_env_prefix
from driftaudit.adapters.nms.client import NMSConfigClient, RetryPolicy
from driftaudit.adapters.nms.tenants import NMSTimeouts
from driftaudit.audit.fleet import fetch_fleet_configs
from driftaudit.domain.errors import AuthError, FetchError
from driftaudit.domain.models import ConfigResult, Device, FetchFailure
from driftaudit.sim.nms import NMSSimulator
from tests.plugins.nms import CANARY_PREFIX, NMSStack, canary, nms_device

pytestmark = pytest.mark.integration


def _log(sim: NMSSimulator, tenant: str) -> list[tuple[str, int]]:
    return [(kind, status) for kind, t, _, status in sim.log if t == tenant]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expired_token_costs_one_token_request_before_the_retry(nms_stack: NMSStack) -> None:
    sim, client = nms_stack.sim, nms_stack.client
    await client.fetch_device_config(nms_device("r1", "acme"))
    sim.expire_tokens("acme")
    sim.reset_counters()
    result = await client.fetch_device_config(nms_device("r1", "acme"))
    assert isinstance(result, ConfigResult)
    assert _log(sim, "acme") == [("config", 401), ("token", 200), ("config", 200)]
    assert sim.token_requests["acme"] == 1


async def test_a_second_401_is_an_auth_error_not_a_loop(nms_stack: NMSStack) -> None:
    sim, client = nms_stack.sim, nms_stack.client
    await client.fetch_device_config(nms_device("r1", "acme"))
    sim.reject_tokens("acme")
    sim.reset_counters()
    with pytest.raises(AuthError, match="refused again after a refresh") as caught:
        await client.fetch_device_config(nms_device("r1", "acme"))
    assert caught.value.tenant == "acme"
    assert _log(sim, "acme") == [("config", 401), ("token", 200), ("config", 401)]


@pytest.mark.parametrize("tenant", ["acme", "initech"])
async def test_100_concurrent_fetches_on_a_server_expired_token_cost_one_token_request(
    nms_stack: NMSStack, tenant: str
) -> None:
    sim, client = nms_stack.sim, nms_stack.client
    await client.fetch_device_config(nms_device("warm", tenant))
    sim.expire_tokens(tenant)  # the server forgot it; the manager still believes it valid
    sim.set_latency(0.01)
    sim.reset_counters()
    devices = [nms_device(f"d{i}", tenant) for i in range(100)]
    results = await asyncio.gather(*(client.fetch_device_config(d) for d in devices))
    assert all(isinstance(r, ConfigResult) for r in results)
    assert sim.token_requests[tenant] == 1
    assert sim.config_requests[tenant] == 100 + sum(1 for k, _, _, s in sim.log if k == "config" and s == 401)


async def test_100_concurrent_fetches_on_a_locally_expired_token_cost_one_token_request(
    nms_stack_factory: Callable[..., NMSStack],
) -> None:
    clock = FakeClock()
    stack = nms_stack_factory(auth_kwargs={"clock": clock, "refresh_skew_s": 30})
    sim, client = stack.sim, stack.client
    await client.fetch_device_config(nms_device("warm", "acme"))  # TTL 300 s
    clock.now += 280  # inside the skew: refresh before sending anything
    sim.set_latency(0.01)
    sim.reset_counters()
    results = await asyncio.gather(
        *(client.fetch_device_config(nms_device(f"d{i}", "acme")) for i in range(100))
    )
    assert all(isinstance(r, ConfigResult) for r in results)
    assert sim.token_requests["acme"] == 1
    assert [s for k, _, _, s in sim.log if k == "config"] == [200] * 100  # nobody sent the old token


async def test_cached_token_is_reused_until_its_refresh_time(
    nms_stack_factory: Callable[..., NMSStack],
) -> None:
    clock = FakeClock()
    stack = nms_stack_factory(auth_kwargs={"clock": clock, "refresh_skew_s": 30})
    for _ in range(5):
        await stack.client.fetch_device_config(nms_device("r1", "acme"))
        clock.now += 50
    assert stack.sim.token_requests["acme"] == 1  # 200 s elapsed < 300 - 30
    clock.now += 100
    await stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert stack.sim.token_requests["acme"] == 2


async def test_a_rotated_secret_file_is_picked_up_by_refresh_credentials(
    nms_sim: NMSSimulator, tmp_path: Path
) -> None:
    old_secret = nms_sim.tenants["acme"].client_secret
    secret_file = tmp_path / "acme.yaml"
    secret_file.write_text(f"client_id: acme-client\nclient_secret: {old_secret}\n")
    tenant = nms_sim.nms_tenant("acme", credentials_file=str(secret_file))
    async with AuthManager([tenant], environ={}) as auth, NMSConfigClient([tenant], auth) as client:
        first = await auth.get_token("acme")
        await client.fetch_device_config(nms_device("r1", "acme"))

        new_secret = canary("acme-rotated")
        nms_sim.set_credentials("acme", client_secret=new_secret)  # the NMS side rotates
        with pytest.raises(TokenUnavailableError, match="refused"):  # the file still holds the old one
            await auth.refresh_credentials("acme")

        secret_file.write_text(
            f'{{"client_id": "acme-client", "client_secret": "{new_secret}"}}\n'
        )  # JSON too
        second = await auth.refresh_credentials("acme")
        assert second != first
        nms_sim.expire_tokens("acme")
        result = await client.fetch_device_config(nms_device("r1", "acme"))  # 401, refresh, 200
        assert isinstance(result, ConfigResult)
    assert [s for k, t, _, s in nms_sim.log if k == "token"] == [200, 401, 200, 200]


async def test_a_rotated_static_token_in_the_environment_is_picked_up(
    nms_sim: NMSSimulator, nms_environ: dict[str, str]
) -> None:
    tenant = nms_sim.nms_tenant("umbrella")
    async with AuthManager([tenant], environ=nms_environ) as auth, NMSConfigClient([tenant], auth) as client:
        await client.fetch_device_config(nms_device("r1", "umbrella"))
        rotated = canary("umbrella-rotated")
        nms_sim.set_credentials("umbrella", static_token=rotated)
        nms_environ[tenant_env_prefix("umbrella") + "TOKEN"] = rotated
        result = await client.fetch_device_config(nms_device("r1", "umbrella"))  # 401, re-read, 200
        assert isinstance(result, ConfigResult)
        assert await auth.get_token("umbrella") == rotated


async def test_a_token_of_one_tenant_is_never_sent_to_another(nms_stack: NMSStack) -> None:
    sim, client = nms_stack.sim, nms_stack.client
    sim.set_latency((0.0, 0.005))
    tenants = list(sim.tenants)
    device_ids = [f"{t}/d{i}" for t in tenants for i in range(12)]

    def resolve(device_id: str) -> Device:
        tenant, _, _ = device_id.partition("/")
        return nms_device(device_id, tenant)

    first = await fetch_fleet_configs(device_ids, client, resolve=resolve, batch_size=20)
    sim.expire_tokens()  # every tenant refreshes concurrently in the second round
    second = await fetch_fleet_configs(device_ids, client, resolve=resolve, batch_size=20)
    assert all(isinstance(r, ConfigResult) for r in first + second)
    assert sim.cross_tenant_attempts == []


async def test_the_simulator_catches_a_cross_tenant_token(nms_stack: NMSStack) -> None:
    """The isolation check above can fail: a leaked token is rejected and recorded."""
    sim = nms_stack.sim
    acme_token = await nms_stack.auth.get_token("acme")
    async with httpx.AsyncClient(trust_env=False) as raw:
        response = await raw.get(
            sim.base_url("globex") + "/api/v1/devices/r1/config",
            headers={"Authorization": f"Bearer {acme_token}"},
        )
    assert response.status_code == 401
    assert sim.cross_tenant_attempts == [("acme", "globex")]


def _is_server_task(task: asyncio.Task[object]) -> bool:
    """The simulator shares the test's loop; its request handlers are not ours."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "/aiohttp/" in code.co_filename


def _texts(exc: BaseException) -> list[str]:
    """str and repr of an exception and of everything chained to it."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        seen += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return seen


async def test_canary_secrets_never_reach_logs_reprs_or_errors(
    nms_stack_factory: Callable[..., NMSStack], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = nms_stack_factory(
        retry=RetryPolicy(max_retries=1, backoff_s=0.01, max_wait_s=0.1, max_total_wait_s=0.1),
        timeouts=NMSTimeouts(connect_s=1, read_s=0.3, total_s=2),
    )
    sim, client, auth = stack.sim, stack.client, stack.auth
    errors: list[BaseException] = []

    async def attempt(device_id: str, tenant: str) -> None:
        try:
            await client.fetch_device_config(nms_device(device_id, tenant))
        except Exception as exc:
            errors.append(exc)

    for tenant in sim.tenants:  # every scheme, success
        await attempt("ok", tenant)
    sim.expire_tokens()
    for tenant in sim.tenants:  # every scheme, 401 then refresh
        await attempt("after-expiry", tenant)
    sim.reject_tokens("acme")
    await attempt("double-401", "acme")
    sim.reject_tokens("acme", False)
    sim.fail_device("limited", 429, retry_after=0.01)
    await attempt("limited", "acme")
    sim.slow_device("slow", 2)
    await attempt("slow", "initech")
    sim.serve_body("garbage", b"<<<not an envelope>>>")
    await attempt("garbage", "globex")
    sim.set_credentials("acme", client_secret=canary("acme-new"))  # our stored secret is now wrong
    sim.set_credentials("initech", password=canary("initech-new"))
    sim.expire_tokens()
    await attempt("refused", "acme")
    await attempt("refused", "initech")
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(
        f"client_id: x\nclient_secret: [{canary('in-file')}\n"
    )  # broken YAML quoting a canary
    broken = sim.nms_tenant("acme", credentials_file=str(bad_file))
    async with AuthManager([broken], environ={}) as broken_auth, NMSConfigClient([broken], broken_auth) as c:
        try:
            await c.fetch_device_config(nms_device("broken", "acme"))
        except FetchError as exc:
            errors.append(exc)

    assert len(errors) >= 6
    assert {type(e).__name__ for e in errors} >= {"AuthError", "RateLimitedError", "FetchTimeoutError"}
    secrets_seen = [t.client_secret or t.password or t.static_token for t in sim.tenants.values()]
    leaks = [CANARY_PREFIX, *secrets_seen, *sim.issued_tokens]
    texts = [caplog.text, repr(auth), repr(client)]
    texts += [m.getMessage() for m in caplog.records]
    texts += [text for exc in errors for text in _texts(exc)]
    for text in texts:
        for secret in leaks:
            assert secret not in text


async def test_fleet_failures_carry_no_secret(nms_stack: NMSStack) -> None:
    sim = nms_stack.sim
    sim.set_credentials("acme", client_secret=canary("acme-other"))
    outcomes = await fetch_fleet_configs(
        ["a", "b"], nms_stack.client, resolve=lambda d: nms_device(d, "acme"), batch_size=2
    )
    assert all(isinstance(o, FetchFailure) and o.error_type == "AuthError" for o in outcomes)
    for outcome in outcomes:
        assert CANARY_PREFIX not in outcome.model_dump_json()


async def test_tokens_really_expire_after_the_simulated_ttl(nms_stack: NMSStack) -> None:
    sim = nms_stack.sim
    sim.tenants["acme"].token_ttl_s = 0.3
    sim.tenants["acme"].announced_ttl_s = 3600  # the NMS overstates the lifetime: only a 401 tells
    await nms_stack.client.fetch_device_config(nms_device("r1", "acme"))
    await asyncio.sleep(0.4)
    sim.reset_counters()
    await nms_stack.client.fetch_device_config(nms_device("r1", "acme"))
    assert _log(sim, "acme") == [("config", 401), ("token", 200), ("config", 200)]


async def test_a_cancelled_waiter_does_not_cancel_the_shared_token_request(nms_stack: NMSStack) -> None:
    sim, auth = nms_stack.sim, nms_stack.auth
    sim.set_token_latency(0.2)
    first = asyncio.create_task(auth.get_token("acme"))
    second = asyncio.create_task(auth.get_token("acme"))
    await asyncio.sleep(0.05)
    first.cancel()
    token = await second
    assert first.cancelled()
    assert token
    assert sim.token_requests["acme"] == 1


async def test_the_last_waiter_leaving_cancels_the_token_request(nms_stack: NMSStack) -> None:
    sim, auth = nms_stack.sim, nms_stack.auth
    sim.set_token_latency(0.3)
    before = asyncio.all_tasks()
    lonely = asyncio.create_task(auth.get_token("acme"))
    await asyncio.sleep(0.05)
    lonely.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lonely
    await asyncio.sleep(0.01)  # let the cancelled request unwind
    mine = [t for t in asyncio.all_tasks() - before if not t.done() and not _is_server_task(t)]
    assert mine == []
    sim.set_token_latency(0)
    assert await auth.get_token("acme")  # a newcomer starts a fresh request
    assert sim.token_requests["acme"] == 2
