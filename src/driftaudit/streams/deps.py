"""What the stream app needs from the outside, injected by the composition root.

The app never builds adapters itself: ``driftaudit.bootstrap`` (or a test)
builds them and hands them over in a :class:`StreamDeps`, so the agents can be
exercised with fakes and nothing connects at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftaudit.domain.access import AccessTable
from driftaudit.domain.ports import (
    ComplianceRulesSource,
    HistoryWriter,
    IConfigClient,
    IntendedConfigSource,
    Inventory,
)
from driftaudit.settings import Settings

__all__ = ["StreamDeps", "utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(slots=True)
class StreamDeps:
    """Adapters and settings of one stream app.

    Attributes:
        settings: the process settings (topic prefix, partitions, batch size...).
        inventory: resolves audit selectors to devices.
        intended: the intended config of each device.
        client: fetches one device's config; the composition root hands a client
            that picks SSH, device REST or the NMS by the device's transport.
        registry: the masking registry ``driftaudit.audit.steps`` uses.
        history: where audit runs, drift events and scores are recorded; None
            keeps no history (a stateless smoke run).
        clock: the time source for ``fetched_at``, ``observed_at`` and dead letters.
        access: the bearer tokens the web views accept (tenant-scoped); None
            leaves them open, on the loopback address only.
        rules: the compliance features and policies; None configures none.
        from_settings: True when intended, registry and rules were built from
            ``settings`` by the composition root, so an analysis child process
            (:mod:`driftaudit.streams.analysis_pool`) can build the same ones.
    """

    settings: Settings
    inventory: Inventory
    intended: IntendedConfigSource
    client: IConfigClient
    registry: Any
    history: HistoryWriter | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
    access: AccessTable | None = None
    rules: ComplianceRulesSource | None = None
    from_settings: bool = False

    async def aclose(self) -> None:
        """Release the fetch client and the history store (each only if it has a close hook)."""
        aclose = getattr(self.client, "aclose", None)
        if aclose is not None:
            await aclose()
        close = getattr(self.history, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
