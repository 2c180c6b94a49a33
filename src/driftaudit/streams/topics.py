"""Topic names and the raw-bytes Faust topics of the pipeline.

Every topic carries raw bytes (``value_serializer='raw'``): the agents decode
and validate the JSON themselves with the pydantic wire models, so a malformed
message becomes a dead letter instead of an exception inside Faust's codec
layer, which would kill the agent before our code ever saw the message.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

__all__ = ["TopicNames", "Topics", "declare_topics"]


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The full names of the pipeline's topics under one prefix.

    ``score_input`` is internal: drift events re-keyed by tenant, so the fleet
    score table is partitioned by its own key (Faust writes a table's changelog
    to the partition of the event being processed, so the source stream must be
    keyed like the table).
    """

    prefix: str

    @property
    def audit_requests(self) -> str:
        """Audit requests from producers (key: audit_id)."""
        return f"{self.prefix}audit-requests"

    @property
    def device_fetch(self) -> str:
        """One fetch task per device (key: device_id)."""
        return f"{self.prefix}device-fetch"

    @property
    def device_configs(self) -> str:
        """Fetched, redacted configs or fetch failures (key: device_id)."""
        return f"{self.prefix}device-configs"

    @property
    def drift_events(self) -> str:
        """One result per device and audit (key: device_id)."""
        return f"{self.prefix}drift-events"

    @property
    def dead_letter(self) -> str:
        """Messages no stage could accept, with the original bytes."""
        return f"{self.prefix}dead-letter"

    @property
    def score_input(self) -> str:
        """Internal: score observations re-keyed by tenant."""
        return f"{self.prefix}score-input"

    @property
    def audit_status(self) -> str:
        """How each audit ended: devices expected, reported, missing, counts, score (key: audit_id)."""
        return f"{self.prefix}audit-status"

    @property
    def audit_progress(self) -> str:
        """Internal: audit opened / device reported records, keyed by audit_id."""
        return f"{self.prefix}audit-progress"

    def all(self) -> tuple[str, ...]:
        """Every topic name, public ones first."""
        return (
            self.audit_requests,
            self.device_fetch,
            self.device_configs,
            self.drift_events,
            self.dead_letter,
            self.score_input,
            self.audit_status,
            self.audit_progress,
        )


@dataclass(frozen=True, slots=True)
class Topics:
    """The Faust topic objects of one app."""

    names: TopicNames
    audit_requests: TopicT
    device_fetch: TopicT
    device_configs: TopicT
    drift_events: TopicT
    dead_letter: TopicT
    score_input: TopicT


def declare_topics(app: faust.App, *, prefix: str, partitions: int) -> Topics:
    """Declare the raw-bytes topics of the pipeline on ``app``.

    They are ``internal`` so Faust creates any missing one with ``partitions``
    when the worker starts (a topic auto-created by a producer would get the
    broker's default count, and the fleet-score table needs its source topic
    partitioned like its changelog). Nothing connects here.
    """
    names = TopicNames(prefix)

    def raw(name: str) -> TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
            internal=True,
        )

    return Topics(
        names=names,
        audit_requests=raw(names.audit_requests),
        device_fetch=raw(names.device_fetch),
        device_configs=raw(names.device_configs),
        drift_events=raw(names.drift_events),
        dead_letter=raw(names.dead_letter),
        score_input=raw(names.score_input),
    )
