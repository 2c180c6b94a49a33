"""Reversible password encodings: Cisco type 7 and Junos ``$9$``.

Neither is encryption: each is an obfuscation with a random salt, so a device
re-encoding the same password (on a config reload, a re-commit, a copy to
another box) prints a different string. Masking fingerprints what these
decode to, so the same password keeps the same fingerprint and a changed
password still shows as drift. The plaintext only ever feeds the keyed
HMAC; it is never returned to a caller outside masking.

Algorithms as published by Cisco's own ``service password-encryption`` and
by Kevin Brintnall's Crypt::Juniper (the reference for ``$9$``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["decode_cisco7", "decode_junos9", "encode_cisco7"]

_CISCO7_KEY: Final = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
_CISCO7: Final = re.compile(r"(\d{2})((?:[0-9A-Fa-f]{2})+)")

_FAMILY: Final = ("QzF3n6/9CAtpu0O", "B1IREhcSyrleKvMW8LXx", "7N-dVbwsY2g4oaJZGUDj", "iHkq.mPf5T")
_ALPHABET: Final = "".join(_FAMILY)
_INDEX: Final = {char: index for index, char in enumerate(_ALPHABET)}
_EXTRA: Final = {char: 3 - family for family, chars in enumerate(_FAMILY) for char in chars}
_WEIGHTS: Final = ((1, 4, 32), (1, 16, 32), (1, 8, 32), (1, 64), (1, 32), (1, 4, 16, 128), (1, 32, 64))


def decode_cisco7(value: str) -> str | None:
    """The password behind a type 7 string, or None when ``value`` is not one."""
    match = _CISCO7.fullmatch(value)
    if match is None or int(match.group(1)) >= len(_CISCO7_KEY):
        return None
    seed = int(match.group(1))
    data = bytes.fromhex(match.group(2))
    return "".join(chr(byte ^ ord(_CISCO7_KEY[(seed + i) % len(_CISCO7_KEY)])) for i, byte in enumerate(data))


def encode_cisco7(password: str, salt: int) -> str:
    """``password`` as a device writes it in type 7 with ``salt`` (0-15): for tests and the simulator."""
    if not 0 <= salt < 16:
        raise ValueError("a type 7 salt is 0 to 15")
    return f"{salt:02d}" + "".join(
        f"{ord(char) ^ ord(_CISCO7_KEY[(salt + i) % len(_CISCO7_KEY)]):02X}"
        for i, char in enumerate(password)
    )


def decode_junos9(value: str) -> str | None:
    """The secret behind a Junos ``$9$`` string, or None when ``value`` is not one."""
    if not value.startswith("$9$") or len(value) < 5 or any(char not in _INDEX for char in value[3:]):
        return None
    first = value[3]
    chars = value[4 + _EXTRA[first] :]
    previous = first
    decoded: list[str] = []
    while chars:
        weights = _WEIGHTS[len(decoded) % len(_WEIGHTS)]
        if len(chars) < len(weights):
            return None
        nibble, chars = chars[: len(weights)], chars[len(weights) :]
        number = 0
        for char, weight in zip(nibble, weights, strict=True):
            gap = (_INDEX[char] - _INDEX[previous]) % len(_ALPHABET) - 1
            number += gap * weight
            previous = char
        decoded.append(chr(number % 256))
    return "".join(decoded)
