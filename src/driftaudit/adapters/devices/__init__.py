"""Device adapters: running configs straight from the devices.

* :class:`SSHDeviceAdapter` (asyncssh): interactive shell or exec channel, per
  platform profile (:mod:`.profiles`), sessions kept in a pool (:mod:`.pool`).
* :class:`RestDeviceAdapter` (httpx): Arista eAPI, Cisco NX-API, Junos REST.

Both implement :class:`~driftaudit.domain.ports.BaseDeviceAdapter`, take a
:class:`~driftaudit.domain.ports.CredentialSource` and a :class:`FetchTimeouts`,
and raise only :class:`~driftaudit.domain.errors.FetchError` subclasses.
"""

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.rest import RestDeviceAdapter
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter

__all__ = ["FetchTimeouts", "PoolLimits", "RestDeviceAdapter", "SSHDeviceAdapter"]
