"""Typed options shared by the device adapters, and the hand-off to the normalizer.

:class:`FetchTimeouts` carries the three per-phase limits every device adapter
enforces (the scrapli model: a socket, a transport and an operation timeout,
named for what they bound here). :func:`normalize_cli` passes the adapter's
output through the domain's :class:`~driftaudit.domain.normalize.ConfigNormalizer`
so a config fetched over SSH, over a device API or from an NMS is cleaned by
the same code before masking and diffing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftaudit.domain.errors import AuthError, ConfigurationError
from driftaudit.domain.models import Credential, Device
from driftaudit.domain.normalize import ConfigNormalizer

if TYPE_CHECKING:
    from driftaudit.domain.ports import CredentialSource
    from driftaudit.settings import Settings

__all__ = [
    "DEFAULT_MAX_CONFIG_BYTES",
    "SSHAlgorithmPolicy",
    "SSHAlgorithms",
    "FetchTimeouts",
    "device_credential",
    "normalize_cli",
]

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
    prompt: float = 2.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total", "prompt"):
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


#: An asyncssh algorithm list: names, or one OpenSSH-style string
#: (``"+diffie-hellman-group14-sha1"`` appends to asyncssh's defaults,
#: ``"-..."`` removes, ``"^..."`` puts first, plain names replace them).
AlgorithmList = str | tuple[str, ...]


_ALG_OPTIONS = {
    "kex": "kex_algs",
    "ciphers": "encryption_algs",
    "macs": "mac_algs",
    "host_key": "server_host_key_algs",
}


#: OpenSSH-style: these first, then asyncssh's defaults in their order.
_PREFERRED_CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class SSHAlgorithms:
    """SSH algorithms for one scope; None keeps asyncssh's default (or the wider scope's) for that kind.

    Attributes:
        kex: Key exchange (asyncssh ``kex_algs``).
        ciphers: Encryption (asyncssh ``encryption_algs``).
        macs: Message authentication (asyncssh ``mac_algs``).
        host_key: Host key algorithms (asyncssh ``server_host_key_algs``).
    """

    kex: AlgorithmList | None = None
    ciphers: AlgorithmList | None = None
    macs: AlgorithmList | None = None
    host_key: AlgorithmList | None = None

    def over(self, wider: SSHAlgorithms) -> SSHAlgorithms:
        """These algorithms, with ``wider``'s for every kind not set here."""
        return SSHAlgorithms(
            **{
                kind: getattr(self, kind) if getattr(self, kind) is not None else getattr(wider, kind)
                for kind in _ALG_OPTIONS
            }
        )

    def asyncssh_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` (only the kinds that are set).

        With no cipher setting, AES-GCM is put first among asyncssh's defaults
        (same strength as chacha20-poly1305, which asyncssh runs with several
        cipher contexts per packet, about 15% of a fetch's CPU on both sides).
        """
        options: dict[str, Any] = {"encryption_algs": _PREFERRED_CIPHERS}
        for kind, option in _ALG_OPTIONS.items():
            value = getattr(self, kind)
            if value is not None:
                options[option] = value if isinstance(value, str) else list(value)
        return options


@dataclass(frozen=True, slots=True, kw_only=True)
class SSHAlgorithmPolicy:
    """SSH algorithms globally, per platform and per device (the narrowest scope wins, kind by kind).

    Legacy devices (``diffie-hellman-group1/14-sha1``, CBC ciphers,
    ``hmac-sha1``, ``ssh-rsa``) are reached only when a setting allows their
    algorithms; nothing weak is ever offered by default.
    """

    default: SSHAlgorithms = field(default_factory=SSHAlgorithms)
    by_platform: Mapping[str, SSHAlgorithms] = field(default_factory=dict)
    by_device: Mapping[str, SSHAlgorithms] = field(default_factory=dict)

    def for_device(self, device: Device) -> SSHAlgorithms:
        """The algorithms for ``device``."""
        algorithms = self.default
        platform = self.by_platform.get(device.platform.value)
        if platform is not None:
            algorithms = platform.over(algorithms)
        own = self.by_device.get(device.device_id)
        if own is not None:
            algorithms = own.over(algorithms)
        return algorithms

    @classmethod
    def from_settings(cls, settings: Settings) -> SSHAlgorithmPolicy:
        """The policy of ``DRIFTAUDIT_SSH_ALGORITHMS[_BY_PLATFORM|_BY_DEVICE]``."""

        def convert(value: Any) -> SSHAlgorithms:
            data = value.model_dump() if hasattr(value, "model_dump") else dict(value)
            return SSHAlgorithms(
                **{k: (v if isinstance(v, str) or v is None else tuple(v)) for k, v in data.items()}
            )

        return cls(
            default=convert(settings.ssh_algorithms),
            by_platform={k: convert(v) for k, v in settings.ssh_algorithms_by_platform.items()},
            by_device={k: convert(v) for k, v in settings.ssh_algorithms_by_device.items()},
        )


_NORMALIZER = ConfigNormalizer()


def normalize_cli(text: str) -> str:
    """CLI output cleaned by the domain normalizer (headers, terminal noise, line ends).

    The adapters already remove what they must understand to read a session
    (the prompt, the command echo, pager prompts), so the normalizer gets the
    command's output alone and is not asked to look for an echo again: a
    config line that ends with the command text must never cut the config.
    """
    return _NORMALIZER.clean_cli(text)
