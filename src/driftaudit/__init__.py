"""driftaudit: an event-driven configuration-drift auditor for network fleets."""

__version__ = "0.1.0"
