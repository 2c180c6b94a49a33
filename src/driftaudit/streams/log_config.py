"""What a worker logs: one line per audit and per problem at INFO, never a payload at DEBUG.

Libraries are louder than that: httpx logs every HTTP request at INFO (one
line per device fetch on a REST fleet), asyncssh every connection and channel
at INFO, and the debug loggers of aiokafka, Faust and mode print message
values and configuration (``Sending message ... value=b'...'``, a fetched
record, the client config). :func:`quiet_libraries` raises those loggers to
WARNING (the chatty ones) and INFO (the ones whose DEBUG carries payloads),
and :class:`LibraryDebugFilter` drops any DEBUG record of those namespaces
that reaches a handler anyway (a logger configured below its parent), so
``--loglevel debug`` shows driftaudit's own debug lines and nothing that
could carry a config or a secret.
"""

from __future__ import annotations

import logging

__all__ = ["CHATTY_LOGGERS", "PAYLOAD_LOGGERS", "LibraryDebugFilter", "quiet_libraries"]

#: one INFO line per request or connection: kept to warnings and errors
CHATTY_LOGGERS: tuple[str, ...] = ("httpx", "httpcore", "asyncssh", "aiohttp.access")

#: their DEBUG lines print message payloads or client configuration
PAYLOAD_LOGGERS: tuple[str, ...] = ("aiokafka", "kafka", "faust", "mode", "clickhouse_connect", "chdb")


def _in(name: str, namespaces: tuple[str, ...]) -> bool:
    return any(name == ns or name.startswith(ns + ".") for ns in namespaces)


class LibraryDebugFilter(logging.Filter):
    """Drops DEBUG records of the payload-printing libraries; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a DEBUG (or lower) record of :data:`PAYLOAD_LOGGERS` or :data:`CHATTY_LOGGERS`."""
        if record.levelno > logging.DEBUG:
            return True
        return not _in(record.name, PAYLOAD_LOGGERS + CHATTY_LOGGERS)


def quiet_libraries(root: logging.Logger | None = None) -> None:
    """Apply the rules of the module docstring to the loggers and to ``root``'s handlers. Idempotent."""
    root = root or logging.getLogger()
    for names, floor in ((CHATTY_LOGGERS, logging.WARNING), (PAYLOAD_LOGGERS, logging.INFO)):
        for name in names:
            logger = logging.getLogger(name)
            # only ever raised: a worker run at WARNING must not start printing their INFO lines
            if logger.getEffectiveLevel() < floor:
                logger.setLevel(floor)
    for handler in root.handlers:
        if not any(isinstance(f, LibraryDebugFilter) for f in handler.filters):
            handler.addFilter(LibraryDebugFilter())
