"""Why an SSH server closed the connection during negotiation, read from its KEXINIT.

A server that supports none of our algorithms sends its reason and closes at
once; asyncssh then sometimes reports only the closed connection, because the
close is processed before its own negotiation failure. The server's offer is
in plain text on the wire (RFC 4253 §7.1: the first binary packet, before any
encryption), so :func:`negotiation_failure` reads it on a fresh TCP
connection and names the first kind of algorithm with nothing in common, in
asyncssh's words: ``No matching encryption algorithm found, sent ... and
received ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh

__all__ = ["negotiation_failure", "server_algorithms"]

_MSG_KEXINIT = 20
_MAX_PACKET = 35000
# Name-list order in KEXINIT: kex, host key, ciphers c->s, s->c, MACs c->s, s->c, ...
_KINDS = (("key exchange", 0, "kex_algs"), ("encryption", 2, "encryption_algs"), ("MAC", 4, "mac_algs"))


async def server_algorithms(host: str, port: int, *, limit_s: float) -> list[list[str]]:
    """The name-lists of the server's KEXINIT (kex, host key, ciphers, MACs, compression...)."""
    async with asyncio.timeout(limit_s):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"SSH-2.0-driftaudit_probe\r\n")
            for _ in range(50):  # lines before the version are allowed (a banner)
                if (await reader.readline()).startswith(b"SSH-"):
                    break
            length = int.from_bytes(await reader.readexactly(4), "big")
            if not 5 <= length <= _MAX_PACKET:
                raise ValueError("not an SSH packet")
            packet = await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    payload = packet[1 : length - packet[0]]
    if not payload or payload[0] != _MSG_KEXINIT:
        raise ValueError("the first packet is not KEXINIT")
    position, lists = 17, []  # message type and 16 bytes of cookie
    for _ in range(10):
        size = int.from_bytes(payload[position : position + 4], "big")
        position += 4
        lists.append(
            [name for name in payload[position : position + size].decode("ascii").split(",") if name]
        )
        position += size
    return lists


async def negotiation_failure(host: str, port: int, options: dict[str, Any], *, limit_s: float) -> str | None:
    """The reason asyncssh gives for a failed negotiation with ``host:port`` given ``options``, or None.

    None when the server's offer cannot be read or shares something of every
    kind with ours (the connection was closed for another reason).
    """
    wanted = {key: options[key] for key in ("kex_algs", "encryption_algs", "mac_algs") if key in options}
    try:
        ours = asyncssh.SSHClientConnectionOptions(known_hosts=None, config=None, **wanted)
        theirs = await server_algorithms(host, port, limit_s=limit_s)
    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError, UnicodeDecodeError):
        return None
    for kind, index, attribute in _KINDS:
        sent = [alg.decode("ascii") for alg in getattr(ours, attribute)]
        received = theirs[index]
        if not set(sent) & set(received):
            return (
                f"No matching {kind} algorithm found, sent {','.join(sent)} and received {','.join(received)}"
            )
    return None
