"""Fleet health: the share of reachable devices that are compliant.

``score = compliant / reachable * 100`` where *reachable* means the config was
fetched (compliant or drifted). Unreachable and errored devices never dilute
or inflate the score, but they are always counted beside it, so a fleet that is
half offline cannot look healthy by omission. With nothing reachable the score
is ``None``: undefined, not zero and never a division error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

from driftaudit.domain.errors import MissingDeviceError
from driftaudit.domain.models import DeviceStatus, FleetScore

__all__ = ["MAX_LISTED_MISSING", "FleetHealthScorer"]

#: how many missing device ids an error message names before summarising the rest
MAX_LISTED_MISSING = 10


class FleetHealthScorer:
    """Computes a :class:`FleetScore` from each device's latest status.

    Stateless: the caller (a windowed table, an in-process audit) decides which
    statuses belong to the window; each device id counts once because the input
    is a mapping keyed by device id.
    """

    def score(
        self,
        statuses: Mapping[str, DeviceStatus],
        *,
        expected: Collection[str] | None = None,
        tenant: str | None = None,
    ) -> FleetScore:
        """Score the fleet.

        Args:
            statuses: device id -> that device's latest status.
            expected: every device the audit covered; when given, a device with
                no status makes the score a lie, so it raises instead.
            tenant: the tenant the score belongs to (None for the whole fleet).

        Returns:
            The score (None when no device is reachable) with every count.

        Raises:
            MissingDeviceError: an ``expected`` device has no status. The message
                names the first few missing ids (sorted) and how many more there are.
        """
        if expected is not None:
            missing = sorted(set(expected).difference(statuses))
            if missing:
                raise MissingDeviceError(_missing_message(missing))
        return self.score_counts(Counter(statuses.values()), tenant=tenant)

    def score_counts(self, counts: Mapping[str, int], *, tenant: str | None = None) -> FleetScore:
        """Score a fleet from how many devices have each status (a status value or member as key).

        What :meth:`score` computes from the devices' statuses, for a caller
        that has the counts already (the stream's fleet-score table counts its
        window's entries at C speed). An unknown status raises ``ValueError``.
        """
        by_status = Counter({DeviceStatus(status): number for status, number in counts.items() if number})
        compliant = by_status[DeviceStatus.COMPLIANT]
        reachable = compliant + by_status[DeviceStatus.DRIFTED]
        return FleetScore(
            tenant=tenant,
            score=(compliant * 100.0 / reachable) if reachable else None,
            compliant=compliant,
            drifted=by_status[DeviceStatus.DRIFTED],
            unreachable=by_status[DeviceStatus.UNREACHABLE],
            error=by_status[DeviceStatus.ERROR],
        )


def _missing_message(missing: list[str]) -> str:
    listed = ", ".join(missing[:MAX_LISTED_MISSING])
    more = len(missing) - MAX_LISTED_MISSING
    suffix = f" and {more} more" if more > 0 else ""
    noun = "device has" if len(missing) == 1 else "devices have"
    return f"{len(missing)} expected {noun} no result: {listed}{suffix}"
