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

#: Modules whose third-party clients wait on sockets with ``select()`` (scrapli, paramiko under
#: netmiko and FakeNOS), which fails on any descriptor above FD_SETSIZE (1024). chDB keeps three
#: ``/proc/<pid>/task/<tid>/*`` descriptors open for every internal thread it ever ran, also after
#: the thread and its store are gone (measured: 15-30 per store opened and closed), and the history
#: tests open hundreds of stores in this one process. So these modules run first, while the process
#: holds few descriptors; in production a process opens one store, so the count stays bounded.
_SELECT_BASED = ("test_ssh_third_party.py", "test_fakenos.py", "test_ssh_real_devices.py")


def pytest_collection_modifyitems(items: list) -> None:
    """Run the ``select()``-based device-client tests first (see ``_SELECT_BASED``)."""
    items.sort(key=lambda item: item.path.name not in _SELECT_BASED)  # stable: keeps the order within
