"""Built-in envelope declarations: where each NMS or device API keeps the config text.

``config_path`` segments (see :class:`~driftaudit.domain.models.EnvelopeSpec`)
understand three forms beyond a plain key: a decimal list index (``"0"``), a
list selector ``"KEY=VALUE"`` picking the first object whose ``KEY`` equals
``VALUE``, and the placeholder ``{device_id}``, replaced by the device being
normalized. For XML the first segment is searched anywhere in the document
(so the same spec works with or without a NETCONF ``<rpc-reply>`` around it)
and each further segment is a child element, matched by local name.

Shapes, for the NMS simulator and for anyone declaring a tenant:

========================  =====================================================================
``text``                  the body is the config itself
``catalyst_center``       ``{"response": "<config>", "version": "1.0"}``
``cloudvision``           ``{"output": "<config>", "warnings": []}``
``cloudvision_cv_facts``  ansible-cvp ``cv_facts``: the configlet named ``{device_id}``
``netbox_render_config``  ``{"configtemplate": {...}, "content": "<config>"}``
``apstra``                ``{"config": "<config>"}`` (config-rendering)
``cisco_nms``             ``{"api_version", "envelope_id", "json_metadata": {...},
                          "response": {"device_id": ..., "config": "<config>"}}``
``juniper_nms``           ``{"api_version", "envelope_id", "json_metadata": {...},
                          "configuration-information": [{"configuration-output":
                          [{"data": "<config>"}]}]}`` (the Junos REST JSON shape)
``junos_rest_json``       the same path, as the Junos REST API returns it
``iosxr_xml_agent``       ``<Response><CLI><Configuration>...``
``junos_rpc_xml``         ``<configuration-information><configuration-output>...``
``netconf_iosxr_cli``     ``<rpc-reply><data><cli>...``
========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from driftaudit.domain.models import EnvelopeSpec

__all__ = ["ALWAYS_METADATA_KEYS", "BUILTIN_ENVELOPES"]

#: Dropped at any depth from every envelope, whatever its spec says.
ALWAYS_METADATA_KEYS: frozenset[str] = frozenset({"json_metadata", "envelope_id", "api_version"})

_JUNOS_TEXT_PATH = ("configuration-information", "0", "configuration-output", "0", "data")

_SPECS = (
    EnvelopeSpec(name="text", format="text"),
    EnvelopeSpec(name="catalyst_center", config_path=("response",), metadata_keys=frozenset({"version"})),
    EnvelopeSpec(name="cloudvision", config_path=("output",), metadata_keys=frozenset({"warnings"})),
    EnvelopeSpec(
        name="cloudvision_cv_facts",
        config_path=("ansible_facts", "configlets", "name={device_id}", "config"),
    ),
    EnvelopeSpec(
        name="netbox_render_config", config_path=("content",), metadata_keys=frozenset({"configtemplate"})
    ),
    EnvelopeSpec(name="apstra", config_path=("config",)),
    EnvelopeSpec(name="cisco_nms", config_path=("response", "config")),
    EnvelopeSpec(name="juniper_nms", config_path=_JUNOS_TEXT_PATH, metadata_keys=frozenset({"@"})),
    EnvelopeSpec(name="junos_rest_json", config_path=_JUNOS_TEXT_PATH, metadata_keys=frozenset({"@"})),
    EnvelopeSpec(name="iosxr_xml_agent", format="xml", config_path=("Response", "CLI", "Configuration")),
    EnvelopeSpec(
        name="junos_rpc_xml", format="xml", config_path=("configuration-information", "configuration-output")
    ),
    EnvelopeSpec(name="netconf_iosxr_cli", format="xml", config_path=("data", "cli")),
)

BUILTIN_ENVELOPES: Mapping[str, EnvelopeSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
