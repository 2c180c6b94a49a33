"""The worker web server's port choice, bind rule and token check, on real loopback sockets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from driftaudit.cli import app
from driftaudit.domain.errors import ConfigurationError
from driftaudit.streams.log_config import LibraryDebugFilter, quiet_libraries
from driftaudit.streams.worker_web import (
    WebPortInUseError,
    bearer_refusal,
    check_web_access,
    choose_web_port,
    is_loopback,
)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_free_configured_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert choose_web_port("127.0.0.1", port, explicit=True) == port


def test_a_taken_default_port_falls_back_to_a_free_one(
    taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    chosen = choose_web_port("127.0.0.1", taken_port, explicit=False)
    assert chosen not in (taken_port, 0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", chosen))  # really free
    assert f"web port {taken_port}" in caplog.text


def test_a_taken_explicit_port_is_a_clear_error(taken_port: int) -> None:
    with pytest.raises(WebPortInUseError, match=f"web port {taken_port} .* in use .* 0 for any free port"):
        choose_web_port("127.0.0.1", taken_port, explicit=True)
    assert choose_web_port("127.0.0.1", 0, explicit=True) != 0


def test_the_worker_command_refuses_a_taken_port_at_once(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTAUDIT_KAFKA_BROKER", raising=False)
    result = CliRunner().invoke(app, ["worker", "--web-port", str(taken_port)])
    assert result.exit_code == 2
    assert f"web port {taken_port}" in result.output


def test_views_beyond_loopback_need_a_token() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104
    check_web_access("127.0.0.1", None)
    check_web_access("0.0.0.0", "a-token")  # noqa: S104
    with pytest.raises(ConfigurationError, match="DRIFTAUDIT_API_TOKEN"):
        check_web_access("0.0.0.0", None)  # noqa: S104


def test_bearer_check() -> None:
    assert bearer_refusal({}, None) is None
    assert bearer_refusal({}, "s3cret") == "missing bearer token"
    assert bearer_refusal({"Authorization": "Basic s3cret"}, "s3cret") == "missing bearer token"
    assert bearer_refusal({"Authorization": "Bearer wrong"}, "s3cret") == "invalid bearer token"
    assert bearer_refusal({"Authorization": "Bearer s3cret"}, "s3cret") is None
    assert bearer_refusal({"authorization": "bearer s3cret"}, "s3cret") is None
    assert "s3cret" not in (bearer_refusal({"Authorization": "Bearer s3cre"}, "s3cret") or "")


def test_library_loggers_are_raised_never_lowered() -> None:
    root = logging.getLogger("test-root-logger")
    handler = logging.StreamHandler()
    root.addHandler(handler)
    names = ("httpx", "aiokafka", "faust")
    saved = {name: logging.getLogger(name).level for name in names}
    root_level = logging.getLogger().level
    try:
        logging.getLogger().setLevel(logging.DEBUG)
        for name in names:
            logging.getLogger(name).setLevel(logging.NOTSET)
        quiet_libraries(root)
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("aiokafka").level == logging.INFO
        assert any(isinstance(f, LibraryDebugFilter) for f in handler.filters)

        logging.getLogger().setLevel(logging.ERROR)
        for name in names:
            logging.getLogger(name).setLevel(logging.NOTSET)
        quiet_libraries(root)
        assert logging.getLogger("faust").level == logging.NOTSET  # already quieter than INFO
    finally:
        logging.getLogger().setLevel(root_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        root.removeHandler(handler)

    record = logging.LogRecord("aiokafka.producer", logging.DEBUG, "", 0, "value=%r", (b"payload",), None)
    assert not LibraryDebugFilter().filter(record)
    own = logging.LogRecord("driftaudit.streams", logging.DEBUG, "", 0, "x", (), None)
    assert LibraryDebugFilter().filter(own)
