"""Simulated network devices: SSH and HTTP servers for a whole fleet, behaving like real ones.

:class:`DeviceSimulator` serves any number of :class:`SimDevice` on loopback:

* **SSH** (asyncssh) on one shared port, where the device is chosen by the SSH
  username ``<login>@<device_id>`` (e.g. ``admin@ios-fra1-0001``; ``ssh -p
  PORT admin@ios-fra1-0001@127.0.0.1`` works with OpenSSH), and on a port of
  its own for a device with ``own_port`` or ``legacy_ssh`` (``sim.port_of``),
  where the plain login name is enough and a link (:mod:`.link`) delays
  everything the server sends by the device's round-trip time, the SSH
  handshake included. Password and public-key authentication, an optional
  pre-login banner, per-device session limits. An interactive shell behaves
  like the platform's CLI (:mod:`.cli`): motd banner, prompt (``host#``, or
  ``host>`` at user EXEC until ``enable`` and its secret; ``RP/0/RP0/CPU0:host#``
  on IOS-XR; ``{master:0}`` then ``login@host>`` on Junos), echo, unambiguous
  abbreviations, setup commands answered in the vendor's words, a pager
  (`` --More-- `` erased with backspaces after the space; ``---(more)---``
  erased with CRs on Junos) until paging is turned off or ``| no-more`` is
  given, ``show version``, configuration mode, vendor-worded errors, and an
  idle timeout. Exec channels run one command at the login's privilege and
  exit. Host keys are generated at start (ed25519; RSA signing only
  ``ssh-rsa`` for legacy devices): :meth:`DeviceSimulator.known_hosts_lines`
  gives the known_hosts entries.
* **HTTP** (plain asyncio, keep-alive): the device is chosen by the path
  prefix ``/d/<device_id>``; Arista eAPI ``POST .../command-api``, Cisco NX-API
  ``POST .../ins``, Junos ``GET|POST .../rpc/get-configuration?format=text|set``,
  with HTTP basic auth (``<login>`` or ``<login>@<device_id>`` as the user).

Each device's config text comes from its ``render(fetch_no)`` callable, called
on every fetch, so volatile lines can change between fetches (see
:mod:`driftaudit.sim.fleet`). Per-device ``latency_s`` is the round-trip time
(exact on a device's own port; on the shared port a sleep before the password
check and each answer), and ``fault`` injects a failure (:class:`Fault`); both
can be changed while running. :meth:`DeviceSimulator.counters` counts
connections, logins and commands per device, so tests can prove connection reuse.

Use it in the current loop (``async with DeviceSimulator(devices) as sim``) or
in a background thread with its own loop (``with SimulatorThread(sim):``),
which lets synchronous code and tests in other event loops share one
simulator. Nothing binds until it is started; every port is chosen by the OS
unless given.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncssh

from driftaudit.domain.models import Platform
from driftaudit.sim.cli import Action, Mode, interpret, prompt_for, show_version
from driftaudit.sim.link import LinkTunnel

__all__ = ["DeviceCounters", "DeviceSimulator", "Fault", "SimDevice", "SimulatorThread"]


class Fault(StrEnum):
    """Failures a simulated device can be told to produce."""

    NONE = "none"
    REFUSE = "refuse"  # SSH: closed as soon as the username names it; HTTP: closed without an answer
    HANG = "hang"  # SSH: login never completes; HTTP: the request is never answered
    STALL = "stall"  # part of the output, then silence (a mid-output timeout)
    DROP = "drop"  # part of the output, then the connection is cut
    AUTH_REJECT = "auth_reject"  # every credential is refused
    GARBAGE = "garbage"  # binary bytes instead of the config
    HUGE = "huge"  # an endless-looking config of ``huge_bytes`` bytes


@dataclass(slots=True)
class SimDevice:
    """One simulated device.

    Attributes:
        device_id: Chosen by the SSH username (``login@device_id``) or the URL prefix.
        platform: Decides prompt, pager, commands and REST style.
        hostname: Shown in the prompt.
        password: The login password.
        render: Returns the running config for the n-th fetch (1-based).
        login: The login name before the ``@``.
        authorized_keys: OpenSSH public keys accepted for key authentication.
        banner: Sent before the first prompt of a shell.
        latency_s: The round-trip time: on a device with its own port, added
            to everything the server sends (handshake included); on the shared
            port, slept before the password check and before each answer.
        fault: The failure to produce (changeable while running).
        huge_bytes: Output size for ``Fault.HUGE``.
        page_lines: Lines per page while paging is on.
        ignores_paging_off: Accept the paging-off command (and ``| no-more``)
            but keep paging (as some AAA-restricted accounts do), so clients
            must answer the pager.
        privileged_login: False lands the login at user EXEC (``host>``), so
            ``enable`` is needed to read the config (Cisco family; Junos
            logins are always operational).
        enable_secret: What ``enable`` asks for (``Password:``); None lets
            ``enable`` through without asking.
        auth_banner: Sent before authentication (SSH_MSG_USERAUTH_BANNER), as
            ``banner login`` does on IOS.
        legacy_ssh: Offer only legacy algorithms (``diffie-hellman-group14/1-sha1``,
            CBC ciphers, ``hmac-sha1``, an ``ssh-rsa`` host key); implies ``own_port``.
        own_port: Serve the device on a port of its own (``sim.port_of``),
            where the plain login name is enough and ``latency_s`` is a real
            round-trip time on every exchange, handshake included.
        max_sessions: SSH connections the device accepts at once (vty lines);
            one more is disconnected at login.
        idle_timeout_s: A shell that receives nothing for this long is closed
            by the device (``exec-timeout``).
        prompt_override: Shown instead of the platform's prompt (a device
            whose prompt no client knows).
        config_denied: The config commands are refused by AAA command
            authorization (``Command authorization failed.``).
        drops_typeahead: Throw away what was typed ahead while a command ran
            (as some CLIs flush their input at each prompt).
    """

    device_id: str
    platform: Platform
    hostname: str
    password: str
    render: Callable[[int], str]
    login: str = "admin"
    authorized_keys: tuple[str, ...] = ()
    banner: str = "\n**** Authorized access only. Activity is monitored. ****\n\n"
    latency_s: float = 0.0
    fault: Fault = Fault.NONE
    huge_bytes: int = 4 * 1024 * 1024
    page_lines: int = 24
    ignores_paging_off: bool = False
    privileged_login: bool = True
    enable_secret: str | None = None
    auth_banner: str | None = None
    legacy_ssh: bool = False
    own_port: bool = False
    max_sessions: int | None = None
    idle_timeout_s: float | None = None
    prompt_override: str | None = None
    config_denied: bool = False
    drops_typeahead: bool = False


@dataclass(slots=True)
class DeviceCounters:
    """What one device has seen; ``connections`` counts SSH connections that named it.

    ``round_trips`` counts, on a device with its own port and a latency, the
    round trips its SSH clients waited for (flights of answers its link
    delivered, the handshake included): how many a fetch costs is a property
    of the client, which the tests can check without a clock.
    """

    connections: int = 0
    logins: int = 0
    auth_failures: int = 0
    commands: int = 0
    fetches: int = 0
    http_requests: int = 0
    round_trips: int = 0


@dataclass(frozen=True, slots=True)
class _Pager:
    more: str
    erase: Callable[[str], str]


def _bs_erase(more: str) -> str:
    return "\b" * len(more) + " " * len(more) + "\b" * len(more)


def _cr_erase(more: str) -> str:
    return "\r" + " " * len(more) + "\r"


_CISCO_PAGER = _Pager(" --More-- ", _bs_erase)
_PAGERS: dict[Platform, _Pager] = {
    Platform.IOS: _CISCO_PAGER,
    Platform.NXOS: _CISCO_PAGER,
    Platform.EOS: _CISCO_PAGER,
    Platform.IOSXR: _CISCO_PAGER,
    Platform.ASA: _Pager("<--- More --->", _bs_erase),
    Platform.JUNOS: _Pager("---(more)---", _cr_erase),
    Platform.JUNOS_SET: _Pager("---(more)---", _cr_erase),
}
_DENIED = {Platform.JUNOS: "error: permission denied\n", Platform.JUNOS_SET: "error: permission denied\n"}
_ENABLE_REFUSED = {
    Platform.EOS: ("% Access denied\n", 1),
    Platform.ASA: ("Invalid password\n", 3),
}
# Legacy-only SSH: what a 2010-era IOS or ASA offers.
_LEGACY_ALGS: dict[str, Any] = {
    "kex_algs": ["diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"],
    "encryption_algs": ["aes128-cbc", "aes256-cbc"],
    "mac_algs": ["hmac-sha1"],
}
# What a current IOS-XE, NX-OS, EOS or Junos offers for key exchange: no
# post-quantum hybrid (asyncssh's own first choice, ML-KEM-768, which no
# network OS ships yet and which costs both sides more CPU per handshake).
_MODERN_KEX = [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group14-sha256",
]
_REST_PATHS = {
    Platform.EOS: "/command-api",
    Platform.NXOS: "/ins",
    Platform.JUNOS: "/rpc/get-configuration",
    Platform.JUNOS_SET: "/rpc/get-configuration",
}


class DeviceSimulator:
    """Serves a fleet of simulated devices over SSH and HTTP on loopback.

    Args:
        devices: The devices to serve (more can be added with :meth:`add`).
        host: The address to bind (loopback by default).
        ssh_port: 0 lets the OS choose.
        http_port: 0 lets the OS choose.
    """

    def __init__(
        self,
        devices: Iterable[SimDevice] = (),
        *,
        host: str = "127.0.0.1",
        ssh_port: int = 0,
        http_port: int = 0,
    ) -> None:
        self.host = host
        self._want_ssh, self._want_http = ssh_port, http_port
        self.ssh_port = 0
        self.http_port = 0
        self.refused_port = 0
        self._devices: dict[str, SimDevice] = {}
        self._counters: dict[str, DeviceCounters] = {}
        self._sessions: dict[str, set[asyncssh.SSHServerConnection]] = {}
        self._ssh: asyncssh.SSHAcceptor | None = None
        self._http: asyncio.Server | None = None
        self._http_tasks: set[asyncio.Task[Any]] = set()
        self._refuser: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = asyncio.Event()
        self.host_key: asyncssh.SSHKey | None = None
        self.legacy_host_key: asyncssh.SSHKey | None = None
        self._own_acceptors: list[asyncssh.SSHAcceptor] = []
        self._own_ports: dict[str, int] = {}
        self._linked: dict[object, str] = {}  # server connection -> device id, on a device's own port
        self._conn_devices: dict[asyncssh.SSHServerConnection, SimDevice] = {}
        for device in devices:
            self.add(device)

    # -- fleet management -------------------------------------------------

    def add(self, device: SimDevice) -> None:
        """Serve one more device (or replace one with the same id).

        A device with a port of its own (``own_port``, ``legacy_ssh``) must be
        added before :meth:`start`.
        """
        if (device.own_port or device.legacy_ssh) and self.ssh_port:
            raise RuntimeError("add devices with their own port before the simulator starts")
        self._devices[device.device_id] = device
        self._counters.setdefault(device.device_id, DeviceCounters())

    def device(self, device_id: str) -> SimDevice:
        """The served device with this id (KeyError when unknown)."""
        return self._devices[device_id]

    @property
    def device_ids(self) -> list[str]:
        """Every served device id."""
        return list(self._devices)

    def set_fault(self, device_id: str, fault: Fault) -> None:
        """Change the failure a device produces from its next connection or command."""
        self._devices[device_id].fault = fault

    def counters(self, device_id: str) -> DeviceCounters:
        """A copy of one device's counters."""
        return replace(self._counters[device_id])

    def open_sessions(self, device_id: str) -> int:
        """How many SSH connections of a device are open right now."""
        return len(self._sessions.get(device_id, ()))

    def reset_counters(self) -> None:
        """Zero every device's counters."""
        for device_id in self._counters:
            self._counters[device_id] = DeviceCounters()

    def drop_sessions(self, device_id: str) -> int:
        """Close every open SSH connection of a device from the server side; returns how many.

        Safe to call from another thread than the simulator's.
        """
        if self._loop is None:
            return 0
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return self._drop(device_id)
        return asyncio.run_coroutine_threadsafe(self._drop_async(device_id), self._loop).result(5)

    def known_hosts_line(self, host: str | None = None) -> str:
        """The known_hosts entry of this simulator's shared SSH port (after start)."""
        if self.host_key is None or not self.ssh_port:
            raise RuntimeError("the simulator is not started")
        public = self.host_key.export_public_key().decode().strip()
        return f"[{host or self.host}]:{self.ssh_port} {public}"

    def known_hosts_lines(self, host: str | None = None) -> list[str]:
        """known_hosts entries for the shared port and every device's own port (after start)."""
        lines = [self.known_hosts_line(host)]
        for device_id, port in self._own_ports.items():
            key = self.legacy_host_key if self._devices[device_id].legacy_ssh else self.host_key
            assert key is not None
            lines.append(f"[{host or self.host}]:{port} {key.export_public_key().decode().strip()}")
        return lines

    def port_of(self, device_id: str) -> int:
        """The SSH port that serves a device: its own, or the shared one (after start)."""
        return self._own_ports.get(device_id, self.ssh_port)

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        """Generate the host key and bind the SSH, HTTP and refusing ports."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._ssh = await asyncssh.listen(
            self.host,
            self._want_ssh,
            server_host_keys=[self.host_key],
            **self._server_options(),
        )
        self.ssh_port = self._ssh.sockets[0].getsockname()[1]
        await self._start_own_ports()
        self._http = await asyncio.start_server(self._serve_http, self.host, self._want_http, limit=1 << 20)
        self.http_port = self._http.sockets[0].getsockname()[1]
        # A bound socket that never listens: connecting to it is refused by the kernel.
        self._refuser = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._refuser.bind((self.host, 0))
        self.refused_port = self._refuser.getsockname()[1]

    def _server_options(self) -> dict[str, Any]:
        """The ``asyncssh.listen`` options every simulated SSH port shares (only host keys differ)."""
        return {
            "server_factory": lambda: _SSHServer(self),
            "process_factory": self._serve_process,
            "encoding": None,
            "line_editor": False,
            "allow_pty": True,
            "agent_forwarding": False,
            "x11_forwarding": False,
            "sftp_factory": None,
            "allow_scp": False,
            "login_timeout": 30,
            "kex_algs": _MODERN_KEX,
        }

    async def _start_own_ports(self) -> None:
        """Bind a port per device that has its own, each connection over a link with its round-trip time."""
        own = [d for d in self._devices.values() if d.own_port or d.legacy_ssh]
        modern = [d.device_id for d in own if not d.legacy_ssh]
        legacy = [d.device_id for d in own if d.legacy_ssh]
        if modern:
            assert self.host_key is not None
            await self._listen_linked(modern, [self.host_key], {})
        if legacy:
            self.legacy_host_key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
            # Sign with SHA-1 only ('ssh-rsa'), as an old IOS does: no rsa-sha2-*.
            keypair = asyncssh.load_keypairs([self.legacy_host_key])[0]
            keypair.host_key_algorithms = [b"ssh-rsa"]
            await self._listen_linked(legacy, [keypair], _LEGACY_ALGS)

    async def _listen_linked(self, device_ids: list[str], host_keys: list[Any], algs: dict[str, Any]) -> None:
        tunnel = LinkTunnel(
            device_ids,
            rtt=lambda device_id: self._devices[device_id].latency_s,
            opened=lambda device_id, conn: self._linked.__setitem__(conn, device_id),
            closed=self._unlink,
            flight=self._count_round_trip,
        )
        acceptor = await asyncssh.listen(
            self.host, 0, tunnel=tunnel, server_host_keys=host_keys, **{**self._server_options(), **algs}
        )
        self._own_acceptors.append(acceptor)
        self._own_ports.update(tunnel.ports)

    def _count_round_trip(self, device_id: str) -> None:
        self._counters[device_id].round_trips += 1

    def _unlink(self, conn: object) -> None:
        self._linked.pop(conn, None)

    def _device_for(self, conn: asyncssh.SSHServerConnection, username: str) -> tuple[SimDevice | None, bool]:
        """The device a connection is for (by its own port, else by username) and whether it is linked."""
        device_id = self._linked.get(conn)
        linked = device_id is not None
        device = self._devices.get(device_id) if device_id else self._lookup(username)[1]
        if device is not None:
            self._conn_devices[conn] = device
        return device, linked

    async def stop(self) -> None:
        """Close every server and connection."""
        self._stopped.set()
        for acceptor in self._own_acceptors:
            acceptor.close()
        for acceptor in self._own_acceptors:
            await acceptor.wait_closed()
        self._own_acceptors.clear()
        for conn in list(self._linked):  # connections still in their handshake, too
            if isinstance(conn, asyncssh.SSHServerConnection):
                conn.abort()
        if self._ssh is not None:
            self._ssh.close()
            await self._ssh.wait_closed()
            self._ssh = None
        for device_id in list(self._sessions):
            self._drop(device_id)
        if self._http is not None:
            self._http.close()
            for task in list(self._http_tasks):
                task.cancel()
            await asyncio.gather(*self._http_tasks, return_exceptions=True)
            await self._http.wait_closed()
            self._http = None
        if self._refuser is not None:
            self._refuser.close()
            self._refuser = None

    async def __aenter__(self) -> DeviceSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- internals --------------------------------------------------------

    def _lookup(self, username: str) -> tuple[str, SimDevice | None]:
        login, _, device_id = username.partition("@")
        return login, self._devices.get(device_id)

    def _register(self, device_id: str, conn: asyncssh.SSHServerConnection) -> None:
        self._sessions.setdefault(device_id, set()).add(conn)
        self._counters[device_id].connections += 1

    def _forget(self, device_id: str, conn: asyncssh.SSHServerConnection) -> None:
        self._sessions.get(device_id, set()).discard(conn)
        self._conn_devices.pop(conn, None)

    def _drop(self, device_id: str) -> int:
        conns = self._sessions.pop(device_id, set())
        for conn in conns:
            conn.abort()
        return len(conns)

    async def _drop_async(self, device_id: str) -> int:
        return self._drop(device_id)

    async def _hang(self) -> None:
        """Wait until the simulator stops (a device that never answers)."""
        await self._stopped.wait()

    async def _serve_process(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        conn = process.channel.get_connection()
        device = self._conn_devices.get(conn)  # type: ignore[call-overload]
        if device is None:
            process.exit(1)
            return
        session = _CliSession(self, device, process, linked=conn in self._linked)
        try:
            if process.command is not None:
                await session.exec(process.command)
            else:
                await session.shell()
        except (asyncssh.Error, OSError, BrokenPipeError):
            pass
        finally:
            with contextlib.suppress(Exception):
                process.close()

    def _fetch_output(self, device: SimDevice) -> str:
        counters = self._counters[device.device_id]
        counters.fetches += 1
        return device.render(counters.fetches)

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._http_tasks.add(task)
        try:
            while not reader.at_eof():
                request = await _read_http_request(reader)
                if request is None:
                    break
                keep = await self._answer_http(request, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # The simulator is stopping. A stream handler task must not end
            # cancelled: asyncio's done-callback would log it as an error.
            pass
        finally:
            if task is not None:
                self._http_tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer_http(self, request: _HttpRequest, writer: asyncio.StreamWriter) -> bool:
        match = re.match(r"^/d/([^/]+)(/.*)$", request.path)
        device = self._devices.get(match.group(1)) if match else None
        if match is None or device is None:
            await _respond(writer, 404, b"unknown device\n", "text/plain")
            return True
        api_path = match.group(2)
        counters = self._counters[device.device_id]
        counters.http_requests += 1
        if device.fault is Fault.REFUSE:
            return False
        if device.fault is Fault.HANG:
            await self._hang()
            return False
        if device.latency_s:
            await asyncio.sleep(device.latency_s)
        login, password = _basic_auth(request.headers.get("authorization", ""))
        if (
            device.fault is Fault.AUTH_REJECT
            or login not in (device.login, f"{device.login}@{device.device_id}")
            or password != device.password
        ):
            counters.auth_failures += 1
            await _respond(
                writer, 401, b"authentication failed\n", "text/plain", {"WWW-Authenticate": "Basic"}
            )
            return True
        if _REST_PATHS.get(device.platform) != api_path:
            await _respond(writer, 404, b"no such API on this device\n", "text/plain")
            return True
        counters.commands += 1
        body, content_type = self._rest_body(device, request)
        if device.fault is Fault.GARBAGE:
            body = _garbage(4096)
        elif device.fault is Fault.HUGE:
            body = _huge(device.huge_bytes).encode()
        if device.fault in (Fault.DROP, Fault.STALL):
            head = _http_head(200, len(body), content_type)
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            if device.fault is Fault.STALL:
                await self._hang()
            return False
        await _respond(writer, 200, body, content_type)
        return True

    def _rest_body(self, device: SimDevice, request: _HttpRequest) -> tuple[bytes, str]:
        config = self._fetch_output(device)
        if device.platform is Platform.EOS:
            rpc = _json_or_empty(request.body)
            cmds = rpc.get("params", {}).get("cmds", []) if isinstance(rpc, dict) else []
            results = [{"output": config if "running-config" in str(cmd) else ""} for cmd in cmds]
            reply = {
                "jsonrpc": "2.0",
                "id": rpc.get("id") if isinstance(rpc, dict) else None,
                "result": results,
            }
            return json.dumps(reply).encode(), "application/json"
        if device.platform is Platform.NXOS:
            output = {"input": "show running-config", "msg": "Success", "code": "200", "body": config}
            reply = {
                "ins_api": {
                    "type": "cli_show_ascii",
                    "version": "1.0",
                    "sid": "eoc",
                    "outputs": {"output": output},
                }
            }
            return json.dumps(reply).encode(), "application/json"
        fmt = parse_qs(urlsplit(request.target).query).get("format", ["text"])[0]
        tag = "configuration-set" if fmt == "set" else "configuration-text"
        escaped = config.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<{tag}>\n{escaped}</{tag}>\n".encode(), "application/xml"


class _SSHServer(asyncssh.SSHServer):
    """Per-connection auth: the port or the username picks the device, the device's fault applies."""

    def __init__(self, sim: DeviceSimulator) -> None:
        self._sim = sim
        self._conn: asyncssh.SSHServerConnection | None = None
        self._device: SimDevice | None = None
        self._linked = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self._device is not None and self._conn is not None:
            self._sim._forget(self._device.device_id, self._conn)

    def begin_auth(self, username: str) -> bool:
        conn = self._conn
        if conn is None:
            return True
        device, self._linked = self._sim._device_for(conn, username)
        self._device = device
        if device is None:
            return True
        self._sim._register(device.device_id, conn)
        if device.fault is Fault.REFUSE:
            conn.abort()
            return True
        if (
            device.max_sessions is not None
            and self._sim.open_sessions(device.device_id) > device.max_sessions
        ):
            conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "Too many sessions: all vty lines are busy")
            return True
        if device.auth_banner:
            conn.send_auth_banner(device.auth_banner)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        device = self._device
        if device is None:
            return False
        if device.fault is Fault.HANG:
            await self._sim._hang()
            return False
        if device.latency_s and not self._linked:
            await asyncio.sleep(device.latency_s)
        login = username.partition("@")[0]
        ok = device.fault is not Fault.AUTH_REJECT and login == device.login and password == device.password
        if not ok:
            self._sim._counters[device.device_id].auth_failures += 1
        return ok

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        device = self._device
        if device is None or device.fault is Fault.AUTH_REJECT or username.partition("@")[0] != device.login:
            return False
        offered = key.export_public_key().decode().split()[:2]
        return any(line.split()[:2] == offered for line in device.authorized_keys)

    def auth_completed(self) -> None:
        if self._device is not None:
            self._sim._counters[self._device.device_id].logins += 1


class _CliSession:
    """One shell or exec session on one simulated device (its CLI grammar is :mod:`driftaudit.sim.cli`)."""

    def __init__(
        self,
        sim: DeviceSimulator,
        device: SimDevice,
        process: asyncssh.SSHServerProcess[bytes],
        *,
        linked: bool,
    ) -> None:
        self.sim = sim
        self.device = device
        self.process = process
        self.pager = _PAGERS[device.platform]
        self.junos = device.platform in (Platform.JUNOS, Platform.JUNOS_SET)
        self.mode = Mode.PRIVILEGED if device.privileged_login or self.junos else Mode.USER
        self.paging = True
        self.linked = linked
        self.pty = process.get_terminal_type() is not None
        self._pending = b""
        self._logged_out = False

    def write(self, text: str) -> None:
        data = text.replace("\n", "\r\n") if self.pty else text
        self.process.stdout.write(data.encode())

    def prompt(self) -> str:
        if self.device.prompt_override is not None:
            return self.device.prompt_override
        return prompt_for(self.device.platform, self.device.hostname, self.device.login, self.mode)

    async def exec(self, command: str) -> None:
        self.paging = False
        status = 0 if await self.run(command.strip()) else 1
        self.process.exit(status)

    async def shell(self) -> None:
        self.write(self.device.banner)
        self.write(self.prompt())
        while True:
            try:
                async with asyncio.timeout(self.device.idle_timeout_s):
                    line = await self._read_line()
            except TimeoutError:
                self.write("\n")
                self.process.channel.get_connection().close()
                return
            if line is None:
                return
            command = line.strip()
            if command:
                await self.run(command)
                if self._logged_out:
                    self.process.exit(0)
                    return
                if self.device.drops_typeahead:
                    self._pending = b""
            self.write(self.prompt())

    async def run(self, command: str) -> bool:
        """Answer one command; False when it failed (or logged out)."""
        device, counters = self.device, self.sim._counters[self.device.device_id]
        counters.commands += 1
        if device.latency_s and not self.linked:
            await asyncio.sleep(device.latency_s)
        if command.lower() in ("logout", "quit") and not self.junos:
            self._logged_out = True
            return False
        prompt_width = len(self.prompt().rsplit("\n", 1)[-1])
        reply = interpret(device.platform, command, self.mode, prompt_width=prompt_width)
        self.write(reply.text)
        if not reply.ok:
            return False
        action = reply.action
        if action is Action.CONFIG:
            if device.config_denied:
                self.write(_DENIED.get(device.platform, "Command authorization failed.\n"))
                return False
            no_more = reply.no_more and not device.ignores_paging_off
            await self._send_config(device, self.paging and not no_more)
        elif action is Action.PAGING_OFF:
            self.paging = self.paging and device.ignores_paging_off
        elif action is Action.VERSION:
            self.write(show_version(device.platform, device.hostname))
        elif action is Action.ENABLE:
            return await self._enable()
        elif action is Action.DISABLE:
            self.mode = Mode.USER
        elif action is Action.CONFIGURE:
            self.mode = Mode.CONFIG
            if self.junos:
                self.write("Entering configuration mode\n")
        elif action is Action.LEAVE_CONFIG:
            self.mode = Mode.PRIVILEGED
            if self.junos:
                self.write("Exiting configuration mode\n")
        elif action is Action.LOGOUT:
            self._logged_out = True
            return False
        return True

    async def _enable(self) -> bool:
        """``enable``: ask for the secret (no echo), as many times as the platform does."""
        device = self.device
        if self.mode is not Mode.USER or device.enable_secret is None:
            self.mode = Mode.PRIVILEGED
            return True
        refused, attempts = _ENABLE_REFUSED.get(device.platform, ("", 3))
        for _ in range(attempts):
            self.write("Password: ")
            line = await self._read_line(echo=False)
            if line is None:
                return False
            self.write("\n")
            if line == device.enable_secret:
                self.mode = Mode.PRIVILEGED
                return True
            if refused and attempts > 1:
                self.write(refused)
        if device.platform is Platform.ASA:
            self.write("Access denied.\n")
        elif device.platform is Platform.EOS:
            self.write(refused)
        else:
            self.write("% Bad secrets\n")
        return False

    async def _send_config(self, device: SimDevice, paging: bool) -> None:
        if device.fault is Fault.GARBAGE:
            self.process.stdout.write(_garbage(4096))
            await self.process.stdout.drain()
            return
        text = _huge(device.huge_bytes) if device.fault is Fault.HUGE else self.sim._fetch_output(device)
        if device.fault in (Fault.DROP, Fault.STALL):
            self.write(text[: len(text) // 2])
            await self.process.stdout.drain()
            if device.fault is Fault.DROP:
                self.process.channel.get_connection().abort()
            else:
                await self.sim._hang()
            return
        lines = text.splitlines(keepends=True)
        if not paging or len(lines) <= device.page_lines:
            self.write(text)
            await self.process.stdout.drain()
            return
        for start in range(0, len(lines), device.page_lines):
            if start:
                self.write(self.pager.more)
                await self.process.stdout.drain()
                key = await self._read_key()
                if key is None or key in (b"q", b"Q"):
                    return
                self.write(self.pager.erase(self.pager.more))
            self.write("".join(lines[start : start + device.page_lines]))
        await self.process.stdout.drain()

    async def _read_key(self) -> bytes | None:
        if not self._pending:
            data = await self.process.stdin.read(1024)
            if not data:
                return None
            self._pending = data
        key, self._pending = self._pending[:1], self._pending[1:]
        return key

    async def _read_line(self, *, echo: bool = True) -> str | None:
        """Read one line in raw mode, echoing what a terminal would (one write per chunk)."""
        line = bytearray()
        while True:
            if not self._pending:
                data = await self.process.stdin.read(1024)
                if not data:
                    return None
                self._pending = data
            shown, done, index = bytearray(), False, 0
            while index < len(self._pending) and not done:
                key = self._pending[index : index + 1]
                index += 1
                if key in (b"\r", b"\n"):
                    if key == b"\r" and self._pending[index : index + 1] == b"\n":
                        index += 1
                    shown += b"\r\n"
                    done = True
                elif key in (b"\x7f", b"\x08"):
                    if line:
                        line.pop()
                        shown += b"\b \b"
                elif key == b"\x03":
                    line.clear()
                    shown += b"^C\r\n"
                    done = True
                else:
                    line += key
                    shown += key
            self._pending = self._pending[index:]
            if self.pty and echo and shown:
                self.process.stdout.write(bytes(shown))
            if done:
                return line.decode("utf-8", "replace")


@dataclass(slots=True)
class _HttpRequest:
    method: str
    target: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


async def _read_http_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return _HttpRequest(method, target, urlsplit(target).path, headers, body)


def _http_head(status: int, length: int, content_type: str, extra: dict[str, str] | None = None) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str,
    extra: dict[str, str] | None = None,
) -> None:
    writer.write(_http_head(status, len(body), content_type, extra) + body)
    await writer.drain()


def _basic_auth(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def _json_or_empty(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


def _garbage(size: int) -> bytes:
    rng = random.Random(size)
    return b"\x00\xff\xfe" + bytes(rng.getrandbits(8) for _ in range(size))


def _huge(size: int) -> str:
    line = "interface Ethernet1/{n}\n description generated line to make the output huge {n}\n"
    parts: list[str] = []
    total, n = 0, 0
    while total < size:
        chunk = line.format(n=n)
        parts.append(chunk)
        total += len(chunk)
        n += 1
    return "".join(parts)


class SimulatorThread:
    """Runs a :class:`DeviceSimulator` in a background thread with its own event loop.

    ``with SimulatorThread(sim):`` starts it (ports and host key are set when
    the block begins) and stops it at the end. :meth:`call` runs a coroutine
    function in the simulator's loop from any thread.
    """

    def __init__(self, simulator: DeviceSimulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="device-simulator", daemon=True)

    def call(self, func: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
        """Run ``func()`` in the simulator's loop and wait for its result."""

        async def runner() -> Any:
            return await func()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout)

    def start(self) -> DeviceSimulator:
        """Start the thread and the simulator."""
        self._thread.start()
        self.call(self.simulator.start)
        return self.simulator

    def stop(self) -> None:
        """Stop the simulator, cancel what is left in its loop, stop the loop and the thread."""

        async def shutdown() -> None:
            await self.simulator.stop()
            current = asyncio.current_task()
            leftovers = [task for task in asyncio.all_tasks() if task is not current]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

        try:
            self.call(shutdown)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> DeviceSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
