"""Typed options shared by the device adapters, and the hand-off to the normalizer.

:class:`FetchTimeouts` carries the three per-phase limits every device adapter
enforces (the scrapli model: a socket, a transport and an operation timeout,
named for what they bound here). :func:`normalize_cli` passes the adapter's
output through the domain's :class:`~driftaudit.domain.normalize.ConfigNormalizer`
so a config fetched over SSH, over a device API or from an NMS is cleaned by
the same code before masking and diffing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from driftaudit.domain.errors import AuthError, ConfigurationError
from driftaudit.domain.models import Credential, Device
from driftaudit.domain.normalize import ConfigNormalizer

if TYPE_CHECKING:
    from driftaudit.domain.ports import CredentialSource
    from driftaudit.settings import Settings

__all__ = ["DEFAULT_MAX_CONFIG_BYTES", "FetchTimeouts", "device_credential", "normalize_cli"]

DEFAULT_MAX_CONFIG_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchTimeouts:
    """Per-phase limits, in seconds, for one fetch.

    Attributes:
        connect: Opening the transport and logging in (TCP, SSH handshake and
            authentication; TCP and TLS for REST).
        read: The longest silence tolerated while output is expected; a device
            that stops talking mid-output fails after this long.
        total: The whole fetch, waiting for a pooled connection included; a
            device that trickles output forever still ends here.
    """

    connect: float = 5.0
    read: float = 20.0
    total: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchTimeouts.{name} must be > 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchTimeouts:
        """The timeouts configured in ``settings`` (``DRIFTAUDIT_*_TIMEOUT_S``)."""
        return cls(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            total=settings.total_timeout_s,
        )


def device_credential(credentials: CredentialSource, device: Device) -> Credential:
    """The device's credential; a source that cannot give one means ``AuthError`` for the fetch."""
    try:
        return credentials.get_credential(device.credential_ref)
    except ConfigurationError as exc:
        raise AuthError(device.device_id, "no usable credential for this device") from exc


_NORMALIZER = ConfigNormalizer()


def normalize_cli(text: str) -> str:
    """CLI output cleaned by the domain normalizer (headers, terminal noise, line ends).

    The adapters already remove what they must understand to read a session
    (the prompt, the command echo, pager prompts), so the normalizer gets the
    command's output alone and is not asked to look for an echo again: a
    config line that ends with the command text must never cut the config.
    """
    return _NORMALIZER.clean_cli(text)
