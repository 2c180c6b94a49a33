"""Root conftest: loads the fixture plugins, one module per area, and Hypothesis profiles."""

import os
from pathlib import Path

import pytest
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


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test a compiled module older than its source (setup.py builds them in place).

    Python imports ``prune.cpython-*.so`` before ``prune.py``: after an edit, the tests would run
    the old code. ``make test`` rebuilds first; a bare ``pytest`` stops here instead.
    """
    stale = [
        built.name
        for built in Path(__file__).resolve().parents[1].glob("src/driftaudit/**/*.so")
        if (source := built.with_name(built.name.split(".")[0] + ".py")).exists()
        and source.stat().st_mtime > built.stat().st_mtime
    ]
    if stale:
        raise pytest.UsageError(
            f"compiled modules older than their sources: {', '.join(sorted(stale))}; run `make install`"
            " (or build pure Python: DRIFTAUDIT_PURE_PYTHON=1 make install)"
        )
