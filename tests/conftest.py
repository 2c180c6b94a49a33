"""Root conftest: loads the fixture plugins, one module per area, and Hypothesis profiles."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = [
    "tests.plugins.broker",
    "tests.plugins.nms",
    "tests.plugins.devices",
    "tests.plugins.history",
    "tests.plugins.streams",
    "tests.plugins.preflight",
]

settings.register_profile("ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
