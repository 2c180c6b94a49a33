"""The REST adapter's cheaper reply reading and request building give what the former code gave.

* ``_junos_config`` (``str.find``) returns what the regex search it replaced
  returned, on replies built from opening and closing tags with attributes,
  whitespace (Unicode too), near-miss names, entities and nested elements.
* ``_eapi_config`` and ``_nxapi_config`` (orjson's reading on the happy
  path, the stdlib's for everything else) return the same config or raise the
  same error with the same message as the stdlib-only code, on replies of the
  APIs' shapes with any values (NaN, integers beyond 64 bits, lone
  surrogates, duplicate keys, a BOM, raw control characters included).
* ``eapi_body`` is ``json.dumps`` of the JSON-RPC request aiohttp's ``json=`` sent.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.adapters.devices.profiles import PROFILES, profile_for
from driftaudit.adapters.devices.rest import _eapi_config, _json, _junos_config, _nxapi_config, eapi_body
from driftaudit.domain.errors import ProtocolError, RemoteError
from driftaudit.domain.models import Device, Platform, Transport

_JUNOS_TEXT = re.compile(
    r"<(configuration-text|configuration-set|configuration-output)(?:\s[^>]*)?>(.*?)</\1>", re.DOTALL
)


def _junos_reference(text: str) -> str:
    match = _JUNOS_TEXT.search(text)
    if match is None:
        return text
    return html.unescape(match.group(2)).lstrip("\n")


_TAGS = [
    "<configuration-text>",
    "<configuration-set>",
    "<configuration-output>",
    "</configuration-text>",
    "</configuration-set>",
    "</configuration-output>",
    '<configuration-text junos:changed-seconds="1">',
    "<configuration-text\n>",
    "<configuration-text\u00a0x>",
    "<configuration-text\x1f>",
    "<configuration-textual>",
    "<configuration-",
    "<configuration-information>",
    "<rpc-reply>",
    "&lt;",
    "&amp;",
    "&#x41;",
    ">",
    "<",
    "\n",
    " ",
    "set system host-name r1",
]
_REPLY = st.lists(
    st.one_of(st.sampled_from(_TAGS), st.text(st.sampled_from("ab<>/ \n&;"), max_size=5)), max_size=16
)


@settings(max_examples=2000)
@given(_REPLY.map("".join))
def test_junos_config_equals_the_regex_search(text: str) -> None:
    assert _junos_config(text) == _junos_reference(text)


_DEVICE = Device(device_id="r1", host="127.0.0.1", platform=Platform.EOS, transport=Transport.REST)


def _eapi_reference(device: Device, text: str) -> str:
    """_eapi_config as it was: the stdlib's reading only."""
    document = _json(device, text)
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        code = document["error"].get("code")
        raise RemoteError(device.device_id, f"eAPI error code {code}")
    try:
        output = document["result"][-1]["output"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(device.device_id, "eAPI reply has no result output") from exc
    if not isinstance(output, str):
        raise ProtocolError(device.device_id, "eAPI output is not text")
    return output


def _nxapi_reference(device: Device, text: str) -> str:
    """_nxapi_config as it was: the stdlib's reading only."""
    document = _json(device, text)
    try:
        output = document["ins_api"]["outputs"]["output"]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(device.device_id, "NX-API reply has no output") from exc
    if isinstance(output, list):
        output = output[-1] if output else {}
    if not isinstance(output, dict):
        raise ProtocolError(device.device_id, "NX-API output is not an object")
    code = str(output.get("code", ""))
    if code != "200":
        raise RemoteError(device.device_id, f"NX-API error code {code or 'missing'}")
    body = output.get("body")
    if not isinstance(body, str):
        raise ProtocolError(device.device_id, "NX-API body is not text")
    return body


def _outcome(call: Any) -> tuple[Any, ...]:
    try:
        return ("value", call())
    except (ProtocolError, RemoteError) as exc:
        return ("error", type(exc).__name__, str(exc))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([200, "200", 200.0, 2**64, "401", "", "hostname r1\n!\nend\n", "\ud800"]),
    st.text(max_size=8),
)
_ANY = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_OUTPUT = st.fixed_dictionaries({}, optional={"output": _ANY, "code": _ANY, "body": _ANY, "msg": _ANY})
_EAPI = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.just("2.0"),
        "id": _ANY,
        "result": st.one_of(st.lists(_OUTPUT, max_size=3), _ANY),
        "error": st.one_of(st.fixed_dictionaries({"code": _ANY, "message": _ANY}), _ANY),
    },
)
_NXAPI = st.fixed_dictionaries(
    {},
    optional={
        "ins_api": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "outputs": st.one_of(
                        st.fixed_dictionaries(
                            {"output": st.one_of(_OUTPUT, st.lists(_OUTPUT, max_size=2), _ANY)}
                        ),
                        _ANY,
                    )
                },
            ),
            _ANY,
        )
    },
)
_ODD = [
    "NaN",
    '{"result": [{"output": NaN}]}',
    '{"error": {"code": 18446744073709551616}}',
    '{"error": {"code": 1002, "message": "x"}, "result": [{"output": "hostname r1\\n"}]}',
    '{"error": {"code": 1e400}}',
    '{"ins_api": {"outputs": {"output": {"code": 18446744073709551616, "body": "x"}}}}',
    '{"result": [{"output": "a", "output": "b"}]}',
    '{"result": [{"output": "\\ud800"}]}',
    '\ufeff{"result": [{"output": "x"}]}',
    '{"result": [{"output": "a\x01b"}]}',
    "[1,]",
    "",
]


@settings(max_examples=1500)
@given(st.one_of(_EAPI.map(json.dumps), _ANY.map(json.dumps), st.sampled_from(_ODD), st.text(max_size=12)))
def test_eapi_config_equals_the_stdlib_reading(text: str) -> None:
    assert _outcome(lambda: _eapi_config(_DEVICE, text)) == _outcome(lambda: _eapi_reference(_DEVICE, text))


@settings(max_examples=1500)
@given(st.one_of(_NXAPI.map(json.dumps), _ANY.map(json.dumps), st.sampled_from(_ODD), st.text(max_size=12)))
def test_nxapi_config_equals_the_stdlib_reading(text: str) -> None:
    assert _outcome(lambda: _nxapi_config(_DEVICE, text)) == _outcome(lambda: _nxapi_reference(_DEVICE, text))


@pytest.mark.parametrize("number", [1, 42, 10**12])
def test_eapi_body_is_the_json_rpc_request_json_dumps_writes(number: int) -> None:
    payload = {
        "jsonrpc": "2.0",
        "method": "runCmds",
        "params": {"version": 1, "cmds": ["enable", "show running-config"], "format": "text"},
        "id": f"driftaudit-{number}",
    }
    assert eapi_body(number) == json.dumps(payload).encode()


def test_profile_for_takes_a_member_or_its_value_and_refuses_the_rest() -> None:
    for platform in Platform:
        assert profile_for(platform) is PROFILES[platform]
        assert profile_for(platform.value) is PROFILES[platform]
    with pytest.raises(ValueError, match="not_a_platform"):
        profile_for("not_a_platform")
