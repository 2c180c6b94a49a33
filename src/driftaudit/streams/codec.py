"""Bytes <-> wire models, with every failure turned into ``InputError``.

Agents call :func:`decode` on each message; whatever is wrong with it (too big,
not JSON, not the schema) comes back as one typed error with a short reason
that never quotes the payload (it may hold secrets), and the agent turns that
into a :class:`~driftaudit.domain.models.DeadLetter` with
:func:`driftaudit.streams.fitting.bounded_dead_letter`.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from driftaudit.domain.errors import InputError
from driftaudit.domain.models import DATETIME_ERROR

__all__ = ["decode", "encode", "to_bytes"]

M = TypeVar("M", bound=BaseModel)


def to_bytes(value: bytes | str | None) -> bytes:
    """Message keys and values as bytes (``None`` is empty)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


#: Error types whose message is safe to quote in a dead letter's reason.
_EXPLAINED = frozenset({DATETIME_ERROR})


def _describe(exc: ValidationError) -> str:
    """Field locations and error kinds only: never the rejected input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(p) for p in error["loc"]) or "<root>"
        if error["type"] in _EXPLAINED:  # our own messages: they name the rule, never the value
            parts.append(f"{location}: {error['type']} ({error['msg']})")
        else:
            parts.append(f"{location}: {error['type']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def decode(model: type[M], payload: bytes | str | None, *, max_bytes: int) -> M:
    """Validate one message against a wire model.

    Raises:
        InputError: the payload is empty, larger than ``max_bytes``, not JSON,
            or does not match the model.
    """
    data = to_bytes(payload)
    if not data:
        raise InputError("empty payload")
    if len(data) > max_bytes:
        raise InputError(f"payload of {len(data)} bytes exceeds max_message_bytes={max_bytes}")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors(include_input=False)):
            raise InputError("invalid JSON") from exc
        raise InputError(f"schema violation ({model.__name__}): {_describe(exc)}") from exc


def encode(value: BaseModel) -> bytes:
    """The JSON bytes of a wire model: ``model_dump_json().encode()``, without its two copies.

    ``model_dump_json`` is the serializer's bytes decoded to ``str``; encoding
    that again copied a config-sized message twice more for nothing.
    """
    return value.__pydantic_serializer__.to_json(value)
