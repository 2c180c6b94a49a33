"""The worker's web server: which port, which address, who may read it.

* :func:`choose_web_port`: the configured port when it is free; when it is
  taken, a free port if the port was only the default (several workers on
  one host then just work, each logging its port), a clear error at once if
  the operator asked for that port. ``0`` always means "any free port".
* :func:`check_web_access`: the views are read-only but show the fleet and
  its history, so they are served on loopback unless a token protects them:
  a non-loopback ``DRIFTAUDIT_WORKER_WEB_BIND`` without
  ``DRIFTAUDIT_API_TOKEN`` is refused at start.
* :func:`bearer_refusal`: the one token check every view calls (constant-time
  compare; the token never appears in a log or an answer). It is a plain
  function of the headers and the expected token so a tenant-aware token
  module can replace it in one place.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import socket
from collections.abc import Mapping

from driftaudit.domain.errors import ConfigurationError

__all__ = ["WebPortInUseError", "bearer_refusal", "check_web_access", "choose_web_port", "is_loopback"]

logger = logging.getLogger(__name__)


class WebPortInUseError(ConfigurationError):
    """The web port the operator asked for is taken."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds it
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise ConfigurationError(
                f"cannot bind the worker web server to {host}:{port}: {exc.strerror}"
            ) from exc
        return True


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_web_port(host: str, port: int, *, explicit: bool) -> int:
    """The port the worker's web server will listen on (see the module docstring).

    There is a short window between this check and the server's bind; a
    worker losing that race fails at start with the server's own error.

    Raises:
        WebPortInUseError: ``explicit`` and ``port`` is taken.
    """
    if port == 0:
        return _free_port(host)
    if _bindable(host, port):
        return port
    if explicit:
        raise WebPortInUseError(
            f"web port {port} on {host} is in use (another worker on this host?): set "
            "DRIFTAUDIT_WORKER_WEB_PORT or --web-port to a free port, or 0 for any free port"
        )
    chosen = _free_port(host)
    logger.warning("web port %d on %s is in use (another worker?): serving on port %d", port, host, chosen)
    return chosen


def check_web_access(bind: str, token: str | None) -> None:
    """Refuse to serve the views beyond loopback without a token.

    Raises:
        ConfigurationError: ``bind`` is not a loopback address and no token is set.
    """
    if not token and not is_loopback(bind):
        raise ConfigurationError(
            f"the worker web server would listen on {bind} without a token: set DRIFTAUDIT_API_TOKEN "
            "(views then need 'Authorization: Bearer <token>') or keep DRIFTAUDIT_WORKER_WEB_BIND=127.0.0.1"
        )


def bearer_refusal(headers: Mapping[str, str], token: str | None) -> str | None:
    """Why a request may not read the views, or None when it may.

    With no token configured the server is on loopback (see
    :func:`check_web_access`) and every local request may read.
    """
    if not token:
        return None
    header = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return "missing bearer token"
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        return "invalid bearer token"
    return None
