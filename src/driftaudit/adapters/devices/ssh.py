"""Running configs over SSH (asyncssh): interactive shell or exec channel.

The shell path works with every platform the way an engineer would: wait for
a prompt of the platform (a line that is none, once the device is quiet, is
an unrecognised prompt: an error naming it), send ``enable`` and the enable
secret when the login landed unprivileged and check the prompt that comes
back, then send the setup commands (paging off, terminal width) together with
the show command in one write, and collect each one's output up to its
prompt; if a pager prompt appears anyway it answers with a space and the
pager text is stripped afterwards. Every command's output is checked for the
platform's CLI error markers, and the config for the platform's shape: a
device that answers ``% Invalid input`` or ``Command authorization failed``
gives an error with its own words, never a config.

Where the platform profile allows it (every platform but ASA), the first
fetch of a connection runs the command on an exec channel instead (no pty,
no prompt, no pager, the output ends at EOF: two round trips fewer than a
shell); a device that refuses it there (a login at user EXEC, a server that
serves no exec or one channel per connection) gets the shell, on a new
connection, from then on. ``use_exec=False`` always uses the shell.

Host keys are verified against ``known_hosts`` (the given file, else
``~/.ssh/known_hosts``; a missing file trusts nothing). Turning verification
off is an explicit ``verify_host_keys=False`` and logs a warning.

Legacy SSH servers are reached only when :class:`SSHAlgorithmPolicy` (from
the ``DRIFTAUDIT_SSH_ALGORITHMS*`` settings) allows their algorithms; a failed
negotiation quotes asyncssh's reason (which algorithms each side offered).

Every asyncssh and OS exception is translated here (see :func:`_ssh_errors`),
so callers only ever see :class:`~driftaudit.domain.errors.FetchError`
subclasses, and no message carries a credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, overload

import asyncssh

from driftaudit.adapters.devices.channel import (
    OutputBuffer,
    at_pager,
    at_password_prompt,
    at_prompt,
    cli_error,
    command_output,
    count_prompts,
    last_line,
    looks_like_config,
    split_outputs,
)
from driftaudit.adapters.devices.kexinit import negotiation_failure
from driftaudit.adapters.devices.options import (
    DEFAULT_MAX_CONFIG_BYTES,
    FetchTimeouts,
    SSHAlgorithmPolicy,
    device_credential,
    normalize_cli,
)
from driftaudit.adapters.devices.pool import ConnectionPool, PoolLimits, PoolStats
from driftaudit.adapters.devices.profiles import PlatformProfile, profile_for
from driftaudit.domain.errors import (
    AuthError,
    ConnectError,
    DisconnectedError,
    FetchError,
    FetchTimeoutError,
    HostKeyError,
    ProtocolError,
    RemoteError,
)
from driftaudit.domain.models import Credential, Device
from driftaudit.domain.ports import BaseDeviceAdapter, CredentialSource

if TYPE_CHECKING:
    from driftaudit.settings import Settings

__all__ = ["SSHDeviceAdapter"]

log = logging.getLogger(__name__)

_READ_SIZE = 65536
#: How often, at most, the adapter looks whether the known_hosts file changed.
_KNOWN_HOSTS_RECHECK_S = 1.0
_TERM_SIZE = (511, 24)
#: What :meth:`SSHDeviceAdapter._await_prompt` returns at a password question.
_PASSWORD = "\x00password"


class _Client(asyncssh.SSHClient):
    """Remembers its connection, to tell afterwards whether the server spoke SSH at all.

    ``first_methods`` are the authentication methods tried first. asyncssh
    always starts with a ``none`` request, only to learn which methods the
    server offers: a whole round trip before the password goes out. Where
    the client knows its methods, it sends the first of them at once (as
    OpenSSH's and paramiko's password logins do); the server's failure
    answer, if any, still lists what it offers, and asyncssh goes on from there.
    """

    def __init__(self, first_methods: tuple[str, ...] = ()) -> None:
        self._conn: asyncssh.SSHClientConnection | None = None
        self._first_methods = [m.encode() for m in first_methods]

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn
        # asyncssh keeps the methods still to try in ``_auth_methods``, seeded
        # with ``[b"none"]``; a version without it keeps the probe.
        if self._first_methods and getattr(conn, "_auth_methods", None) == [b"none"]:
            conn._auth_methods = list(self._first_methods)  # noqa: SLF001

    def spoke_ssh(self) -> bool:
        return self._conn is not None and bool(self._conn.get_extra_info("server_version"))


class _PipelinedPtyProcess(asyncssh.SSHClientProcess[bytes]):
    """A client process whose pty request does not wait for its answer before the shell request.

    asyncssh sends ``pty-req`` and waits for the server's reply before it
    sends ``shell``: one round trip each. OpenSSH sends both at once and the
    server answers them in order, so the shell costs one round trip. This
    session does the same: the pty request goes out with a waiter of its
    own, asyncssh's shell request follows at once, and the shell counts as
    started only if both were granted (a refused pty fails the session as
    before). On an asyncssh without the hooks relied on, nothing changes.
    """

    def connection_made(self, chan: Any) -> None:
        super().connection_made(chan)
        make_request = getattr(chan, "_make_request", None)
        send_request = getattr(chan, "_send_request", None)
        if (
            make_request is None
            or send_request is None
            or not isinstance(getattr(chan, "_request_waiters", None), list)
        ):
            return
        pending: list[asyncio.Future[bool]] = []

        async def pipelined(request: bytes, *args: bytes) -> bool | None:
            if request == b"pty-req" and not pending:
                waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
                chan._request_waiters.append(waiter)  # noqa: SLF001 - answers come in request order
                send_request(request, *args, want_reply=True)
                pending.append(waiter)
                return True
            result: bool | None = await make_request(request, *args)
            for waiter in pending:
                if not await waiter:
                    return False
            return result

        chan._make_request = pipelined  # noqa: SLF001


async def _open_pty_shell(conn: asyncssh.SSHClientConnection) -> asyncssh.SSHClientProcess[bytes]:
    """An interactive shell on a pty, pty and shell requested in one round trip."""
    _, session = await conn.create_session(
        _PipelinedPtyProcess, term_type="vt100", term_size=_TERM_SIZE, encoding=None
    )
    process = cast(_PipelinedPtyProcess, session)
    await process.redirect(asyncssh.PIPE, asyncssh.PIPE, asyncssh.PIPE)
    return process


class _ClosedAfterHelloError(ConnectError):
    """The server sent its SSH version, then closed the connection before the login completed."""


class _ExecRefusedError(ProtocolError):
    """The server refused the exec request (the shell may still work)."""


class _UseShellError(ProtocolError):
    """The exec channel did not work on this device: fetch again over a shell, on a new connection."""


@dataclass(eq=False)
class _Session:
    """One SSH connection and, once used, its interactive shell (already at a prompt, paging off).

    Pooling the shell with the connection lets a repeated fetch send only the
    show command: no channel to open, no banner, no paging commands.
    """

    conn: asyncssh.SSHClientConnection
    shell: asyncssh.SSHClientProcess[bytes] | None = None
    prompt: str | None = None

    def alive(self) -> bool:
        return not self.conn.is_closed() and (self.shell is None or not self.shell.is_closing())

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
        self.conn.close()


class SSHDeviceAdapter(BaseDeviceAdapter):
    """Fetches running configs over SSH, reusing sessions through a pool.

    Args:
        credentials: Resolves each device's ``credential_ref`` to a username
            with a password and/or a private key (PEM).
        timeouts: Connect (TCP + SSH handshake + login), read (silence while
            output is expected) and total (the whole fetch) limits.
        known_hosts: The known_hosts file; None means ``~/.ssh/known_hosts``.
        verify_host_keys: False accepts any host key (logged as a warning).
        use_exec: Use an exec channel on platforms whose profile allows it,
            on a session that has no shell yet: two round trips fewer than
            a shell (no pty and shell requests, no prompt); a refusal (a
            login at user EXEC cannot send ``enable`` there) falls back to
            the shell on the same connection.
        max_config_bytes: Output above this raises ``ConfigTooLargeError``.
        pooled: Keep sessions open between fetches (see :mod:`.pool`).
        pool_limits: Sessions per device and idle time, when pooled.
        algorithms: SSH algorithms per device (global, per platform, per
            device); asyncssh's modern defaults where nothing is set.
    """

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        timeouts: FetchTimeouts | None = None,
        known_hosts: Path | None = None,
        verify_host_keys: bool = True,
        use_exec: bool = True,
        max_config_bytes: int = DEFAULT_MAX_CONFIG_BYTES,
        pooled: bool = True,
        pool_limits: PoolLimits | None = None,
        algorithms: SSHAlgorithmPolicy | None = None,
    ) -> None:
        self._credentials = credentials
        self.timeouts = timeouts or FetchTimeouts()
        self._known_hosts = known_hosts
        self._verify = verify_host_keys
        self._use_exec = use_exec
        self._algorithms = algorithms or SSHAlgorithmPolicy()
        self._shell_only: set[str] = set()  # devices whose exec channel did not work
        self._known_hosts_cache: tuple[tuple[str, int, int], asyncssh.SSHKnownHosts] | None = None
        self._known_hosts_checked = 0.0
        self._max_bytes = max_config_bytes
        if not verify_host_keys:
            log.warning("SSH host key verification is OFF: any host key is accepted (man-in-the-middle risk)")
        self.pool_limits = pool_limits or PoolLimits()
        self._pool: ConnectionPool[_Session] | None = None
        if pooled:
            self._pool = ConnectionPool(
                self._open_session,
                closer=_Session.close,
                alive=_Session.alive,
                limits=self.pool_limits,
            )

    @classmethod
    def from_settings(
        cls, settings: Settings, credentials: CredentialSource, **overrides: Any
    ) -> SSHDeviceAdapter:
        """An adapter configured from ``DRIFTAUDIT_*`` settings (timeouts, known_hosts, pool, size cap)."""
        options: dict[str, Any] = {
            "timeouts": FetchTimeouts.from_settings(settings),
            "known_hosts": settings.ssh_known_hosts,
            "verify_host_keys": settings.ssh_verify_host_keys,
            "use_exec": settings.ssh_use_exec,
            "max_config_bytes": settings.max_config_bytes,
            "pool_limits": PoolLimits(per_host=settings.ssh_pool_per_host, idle_s=settings.ssh_pool_idle_s),
            "algorithms": SSHAlgorithmPolicy.from_settings(settings),
        }
        options.update(overrides)
        return cls(credentials, **options)

    def pool_stats(self) -> PoolStats | None:
        """Counters of the session pool, or None when not pooled."""
        return self._pool.stats() if self._pool is not None else None

    async def aclose(self) -> None:
        """Close every pooled session."""
        if self._pool is not None:
            await self._pool.aclose()

    async def fetch_config(self, device: Device) -> str:
        """The normalized running config of ``device``.

        Raises:
            FetchError: A subclass naming what failed: ``ConnectError``,
                ``AuthError``, ``HostKeyError``, ``FetchTimeoutError`` (with the
                phase), ``DisconnectedError``, ``ProtocolError``,
                ``ConfigTooLargeError``.
        """
        profile = profile_for(device.platform)
        total = self.timeouts.total
        try:
            async with asyncio.timeout(total):
                return await self._fetch(device, profile)
        except TimeoutError as exc:
            raise FetchTimeoutError(device.device_id, f"total timeout: fetch took over {total:g}s") from exc

    async def _fetch(self, device: Device, profile: PlatformProfile) -> str:
        try:
            return await self._fetch_once(device, profile)
        except _UseShellError:
            return await self._fetch_once(device, profile)

    async def _fetch_once(self, device: Device, profile: PlatformProfile) -> str:
        if self._pool is None:
            session = await self._open_session(device)
            try:
                return await self._read_config(session, device, profile)
            finally:
                session.close()
        async with self._pool.lease(device) as lease:
            try:
                return await self._read_config(lease.conn, device, profile)
            except DisconnectedError:
                if not lease.reused:
                    raise
                lease.discard()
        log.info("pooled SSH session to device %s was dead; reconnecting once", device.device_id)
        async with self._pool.lease(device, fresh=True) as lease:
            return await self._read_config(lease.conn, device, profile)

    def _credential(self, device: Device) -> Credential:
        credential = device_credential(self._credentials, device)
        if not credential.username:
            raise AuthError(device.device_id, "the credential has no username")
        return credential

    async def _open_session(self, device: Device) -> _Session:
        return _Session(await self._connect(device))

    async def _connect(self, device: Device) -> asyncssh.SSHClientConnection:
        credential = self._credential(device)
        options: dict[str, Any] = {
            "port": device.port,
            "username": credential.username,
            "known_hosts": self._known_hosts_arg(),
            "config": None,
            "agent_path": None,
            "client_keys": None,
            "password": None,
            **self._algorithms.for_device(device).asyncssh_options(),
        }
        if credential.private_key is not None:
            try:
                key = asyncssh.import_private_key(credential.private_key.get_secret_value())
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise AuthError(device.device_id, "the credential's private key cannot be read") from exc
            options["client_keys"] = [key]
        if credential.password is not None:
            options["password"] = credential.password.get_secret_value()
        # Only the methods we can answer, password before keyboard-interactive:
        # asyncssh's default order probes others first, one round trip each.
        methods = (["publickey"] if credential.private_key is not None else []) + (
            ["password", "keyboard-interactive"] if credential.password is not None else []
        )
        if methods:
            options["preferred_auth"] = methods
        where = f"{device.host}:{device.port}"
        try:
            try:
                return await self._connect_once(device, options)
            except _ClosedAfterHelloError as exc:
                # A server that rejects our algorithms sends its reason and
                # closes at once; asyncssh sometimes reports the close before
                # its own negotiation failure. The server's offer says why.
                reason = await negotiation_failure(
                    device.host, device.port, options, limit_s=self.timeouts.connect
                )
                if reason is None:
                    raise ConnectError(exc.device_id, exc.reason) from exc.__cause__
                raise ProtocolError(device.device_id, _negotiation_message(where, reason)) from exc.__cause__
        except ValueError as exc:
            # asyncssh validates algorithm names before connecting.
            raise ProtocolError(device.device_id, f"SSH algorithm setting not usable: {exc}") from exc
        except TimeoutError as exc:
            raise FetchTimeoutError(
                device.device_id,
                f"connect timeout: no SSH login at {where} within {self.timeouts.connect:g}s",
            ) from exc

    async def _connect_once(self, device: Device, options: dict[str, Any]) -> asyncssh.SSHClientConnection:
        client = _Client(tuple(options.get("preferred_auth", ())))
        try:
            with _ssh_errors(device, phase="connect"):
                async with asyncio.timeout(self.timeouts.connect):
                    conn, _ = await asyncssh.create_connection(lambda: client, device.host, **options)
                    return conn
        except ConnectError as exc:
            if isinstance(exc.__cause__, asyncssh.ConnectionLost) and client.spoke_ssh():
                raise _ClosedAfterHelloError(exc.device_id, exc.reason) from exc.__cause__
            raise

    def _known_hosts_arg(self) -> asyncssh.SSHKnownHosts | bytes | None:
        """The parsed known_hosts, read again only when the file changes.

        Passing asyncssh the path would make it read and parse the whole file
        on every connection: with a fleet's worth of entries that is most of
        the CPU an audit spends. Whether the file changed is looked at once
        per :data:`_KNOWN_HOSTS_RECHECK_S` at most, not on every connection
        (a ``stat`` per connection, 200 at once, held up the event loop at
        the start of every fleet fetch); an edit takes effect within that.
        """
        if not self._verify:
            return None
        now = time.monotonic()
        if self._known_hosts_cache is not None and now < self._known_hosts_checked + _KNOWN_HOSTS_RECHECK_S:
            return self._known_hosts_cache[1]
        self._known_hosts_checked = now
        path = self._known_hosts or Path("~/.ssh/known_hosts").expanduser()
        try:
            stat = path.stat()
        except OSError:
            self._known_hosts_cache = None
            return b""  # no file: trust nothing
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        if self._known_hosts_cache is None or self._known_hosts_cache[0] != stamp:
            self._known_hosts_cache = (stamp, asyncssh.read_known_hosts(str(path)))
        return self._known_hosts_cache[1]

    async def _read_config(self, session: _Session, device: Device, profile: PlatformProfile) -> str:
        with _ssh_errors(device, phase="read"):
            if (
                self._use_exec
                and profile.supports_exec
                and session.shell is None
                and device.device_id not in self._shell_only
            ):
                try:
                    return await self._exec(session.conn, device, profile)
                except (RemoteError, _ExecRefusedError) as exc:
                    # An exec channel runs at the login's privilege level, with
                    # no way to send enable, and some servers refuse it (or
                    # serve one channel per connection): this device gets the
                    # shell from now on, on a new connection.
                    log.info("exec channel refused on device %s (%s); using a shell", device.device_id, exc)
                    self._shell_only.add(device.device_id)
                    raise _UseShellError(device.device_id, "exec refused") from exc
            return await self._shell(session, device, profile)

    async def _exec(
        self, conn: asyncssh.SSHClientConnection, device: Device, profile: PlatformProfile
    ) -> str:
        buffer = OutputBuffer(device.device_id, max_bytes=self._max_bytes)
        try:
            process = await conn.create_process(profile.exec_command, encoding=None)
        except asyncssh.ChannelOpenError as exc:
            if conn.is_closed():
                raise
            raise _ExecRefusedError(device.device_id, f"exec channel refused: {exc.reason}") from exc
        try:
            while data := await self._read(process, device):
                buffer.feed(data)
            await process.wait_closed()
        finally:
            process.close()
        if process.exit_status is None and process.exit_signal is None and conn.is_closed():
            raise DisconnectedError(device.device_id, "session closed before the output was complete")
        output = command_output(buffer.text(), command=None, prompt=None)
        if process.exit_status not in (None, 0):
            error = cli_error(output, profile)
            detail = f": {error}" if error else ""
            raise RemoteError(
                device.device_id, f"exec command exited with status {process.exit_status}{detail}"
            )
        return self._config(device, profile, profile.exec_command, output)

    async def _shell(self, session: _Session, device: Device, profile: PlatformProfile) -> str:
        if session.shell is None or session.prompt is None:
            session.shell, session.prompt = await self._open_shell(session.conn, device, profile)
            # First fetch of this session: the setup commands and the show
            # command go in one write, answered in one round trip.
            commands = (*profile.paging_off, profile.show_config)
        else:
            commands = (profile.show_config,)
        outputs = await self._run(session.shell, device, profile, session.prompt, commands)
        for command, output in zip(commands[:-1], outputs, strict=False):
            if (error := cli_error(output, profile)) is not None:
                raise RemoteError(device.device_id, f"setup command {command!r} was rejected: {error}")
        return self._config(device, profile, commands[-1], outputs[-1])

    def _config(self, device: Device, profile: PlatformProfile, command: str, output: str) -> str:
        """The config in one command's output, or the error the device answered with instead."""
        if (error := cli_error(output, profile)) is not None:
            raise RemoteError(device.device_id, f"{command!r} was refused by the device: {error}")
        text = normalize_cli(output)
        if not looks_like_config(text, profile):
            lines = len(text.splitlines())
            raise ProtocolError(
                device.device_id,
                f"the output of {command!r} ({lines} lines) does not look like a "
                f"{profile.platform.value} config; is the inventory's platform right?",
            )
        return text

    async def _open_shell(
        self, conn: asyncssh.SSHClientConnection, device: Device, profile: PlatformProfile
    ) -> tuple[asyncssh.SSHClientProcess[bytes], str]:
        """A shell at a privileged prompt (``enable`` sent when the login landed unprivileged)."""
        process = await _open_pty_shell(conn)
        try:
            buffer = OutputBuffer(device.device_id, max_bytes=self._max_bytes)
            prompt = await self._await_prompt(process, device, profile, buffer)
            if profile.unprivileged is not None and profile.unprivileged.search(prompt):
                prompt = await self._escalate(process, device, profile, buffer, prompt)
        except BaseException:
            process.close()
            raise
        return process, prompt

    async def _escalate(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        device: Device,
        profile: PlatformProfile,
        buffer: OutputBuffer,
        prompt: str,
    ) -> str:
        """Send ``enable`` (and the enable secret when asked), and check the prompt is privileged."""
        assert profile.unprivileged is not None  # noqa: S101 - checked by the caller
        secret = self._credential(device).enable_secret
        if secret is None:
            raise AuthError(
                device.device_id,
                f"login landed at the unprivileged prompt {prompt!r}: privilege escalation needs "
                "an enable_secret in the device's credential",
            )
        value = secret.get_secret_value()
        buffer.reset()
        process.stdin.write(profile.enable_command.encode() + b"\n")
        answer = await self._await_prompt(process, device, profile, buffer, password=True)
        if answer is _PASSWORD:
            buffer.reset()
            process.stdin.write(value.encode() + b"\n")
            answer = await self._await_prompt(process, device, profile, buffer, password=True)
            if answer is _PASSWORD:
                process.stdin.write(b"\x03")
                raise AuthError(
                    device.device_id,
                    f"privilege escalation failed at {prompt!r}: the device refused the enable "
                    "secret and asked for it again",
                )
        if profile.unprivileged.search(answer):
            said = cli_error(command_output(buffer.text(), command=None, prompt=answer), profile)
            detail = f": {said}" if said else ""
            message = f"privilege escalation failed: still at {answer!r} after {profile.enable_command!r}"
            raise AuthError(device.device_id, (message + detail).replace(value, "***") if value else message)
        return answer

    async def _await_prompt(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        device: Device,
        profile: PlatformProfile,
        buffer: OutputBuffer,
        *,
        password: bool = False,
    ) -> str:
        """Read until the output ends at a prompt of the platform (or a password question).

        A device that goes quiet at a line that is neither is reported after
        ``timeouts.prompt`` as an unrecognised prompt, naming the line; a
        device that printed nothing waits the full read timeout.
        """
        while True:
            line = last_line(buffer.tail).strip()
            quiet = min(self.timeouts.prompt, self.timeouts.read) if line else None
            data = await self._read(process, device, quiet=quiet)
            if data is None:
                raise ProtocolError(
                    device.device_id,
                    f"unrecognised prompt {line[-80:]!r}: not a {profile.platform.value} prompt "
                    f"(the device sat there for {quiet:g}s); is the inventory's platform right?",
                )
            if not data:
                raise DisconnectedError(device.device_id, "session closed before the prompt came back")
            buffer.feed(data)
            tail = buffer.tail
            if (found := at_prompt(tail, profile)) is not None:
                return found
            if password and at_password_prompt(tail):
                return _PASSWORD
            if at_pager(tail, profile):
                process.stdin.write(b" ")

    async def _run(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        device: Device,
        profile: PlatformProfile,
        prompt: str,
        commands: tuple[str, ...],
    ) -> list[str]:
        """Send ``commands`` in one write; each one's output, once the prompt is back after the last.

        A device that throws away what was typed ahead (it sits quiet at its
        bare prompt with commands unanswered) gets the rest one at a time.
        """
        buffer = OutputBuffer(device.device_id, max_bytes=self._max_bytes)
        process.stdin.write("".join(command + "\n" for command in commands).encode())
        one_by_one = False
        done = 0
        while True:
            waiting = 0 < done < len(commands) and not one_by_one
            quiet = min(self.timeouts.prompt, self.timeouts.read) if waiting else None
            data = await self._read(process, device, quiet=quiet)
            if data is None:
                log.info("device %s dropped typed-ahead commands; sending them one by one", device.device_id)
                one_by_one = True
                process.stdin.write(commands[done].encode() + b"\n")
                continue
            if not data:
                raise DisconnectedError(device.device_id, "session closed before the prompt came back")
            buffer.feed(data)
            tail = buffer.tail
            at_bare_prompt = last_line(tail).strip() == prompt
            if at_bare_prompt:
                answered = 1 if len(commands) == 1 else count_prompts(buffer.text(), prompt)
                if answered >= len(commands):
                    return split_outputs(buffer.text(), commands, prompt)
                if one_by_one and answered > done:
                    process.stdin.write(commands[answered].encode() + b"\n")
                done = answered
            else:
                done = 0 if not one_by_one else done
            if at_pager(tail, profile):
                process.stdin.write(b" ")

    @overload
    async def _read(self, process: asyncssh.SSHClientProcess[bytes], device: Device) -> bytes: ...

    @overload
    async def _read(
        self, process: asyncssh.SSHClientProcess[bytes], device: Device, *, quiet: float | None
    ) -> bytes | None: ...

    async def _read(
        self, process: asyncssh.SSHClientProcess[bytes], device: Device, *, quiet: float | None = None
    ) -> bytes | None:
        """The next chunk; b"" at EOF; None when ``quiet`` seconds passed without one."""
        try:
            async with asyncio.timeout(quiet if quiet is not None else self.timeouts.read):
                return await process.stdout.read(_READ_SIZE)
        except TimeoutError as exc:
            if quiet is not None:
                return None
            raise FetchTimeoutError(
                device.device_id, f"read timeout: device silent for {self.timeouts.read:g}s mid-output"
            ) from exc


def _negotiation_message(where: str, reason: str) -> str:
    return (
        f"SSH negotiation with {where} failed: {reason} (legacy algorithms are allowed only "
        "by setting: DRIFTAUDIT_SSH_ALGORITHMS, _BY_PLATFORM or _BY_DEVICE)"
    )


@contextlib.contextmanager
def _ssh_errors(device: Device, *, phase: str) -> Iterator[None]:
    """Translate asyncssh and OS exceptions into driftaudit's fetch errors."""
    device_id, where = device.device_id, f"{device.host}:{device.port}"
    try:
        yield
    except (FetchError, TimeoutError):
        raise
    except asyncssh.PermissionDenied as exc:
        raise AuthError(device_id, f"authentication refused by {where}") from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyError(device_id, f"host key of {where} is not trusted by known_hosts") from exc
    except asyncssh.KeyExchangeFailed as exc:
        raise ProtocolError(device_id, _negotiation_message(where, exc.reason)) from exc
    except (asyncssh.ProtocolError, asyncssh.ProtocolNotSupported) as exc:
        raise ProtocolError(
            device_id, f"SSH protocol failure with {where}: {type(exc).__name__}: {exc.reason}"
        ) from exc
    except (asyncssh.ConnectionLost, asyncssh.DisconnectError, asyncssh.ChannelOpenError) as exc:
        if phase == "connect":
            raise ConnectError(device_id, f"{where} closed the connection during SSH login") from exc
        raise DisconnectedError(device_id, f"{where} closed the session mid-output") from exc
    except (BrokenPipeError, ConnectionResetError) as exc:
        if phase == "connect":
            raise ConnectError(device_id, f"{where} reset the connection during SSH login") from exc
        raise DisconnectedError(device_id, f"{where} reset the session mid-output") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectError(device_id, f"cannot connect to {where}: {reason}") from exc
    except asyncssh.Error as exc:
        raise ProtocolError(device_id, f"SSH failure with {where}: {type(exc).__name__}") from exc
