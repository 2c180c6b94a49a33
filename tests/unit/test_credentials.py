"""Secrets, device credentials, NMS tenant files and stored NMS credentials (no network)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from driftaudit.adapters.credentials import YamlCredentialSource, load_credential_source
from driftaudit.adapters.nms.auth import AuthManager, tenant_env_prefix
from driftaudit.adapters.nms.client import _parse_retry_after
from driftaudit.adapters.nms.tenants import load_tenants, parse_tenants, tls_verify
from driftaudit.adapters.secrets import read_secret, read_secret_file
from driftaudit.domain.envelopes import BUILTIN_ENVELOPES
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import AuthScheme, Credential, EnvelopeSpec, NMSTenant
from driftaudit.domain.ports import CredentialSource
from tests.plugins.nms import CANARY_PREFIX, canary


def _all_text(exc: BaseException) -> str:
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# --- secrets ------------------------------------------------------------------------------------


def test_read_secret_from_value_or_file(tmp_path: Path) -> None:
    value = canary("env")
    assert read_secret("X", {"X": value}) == SecretStr(value)
    secret_file = tmp_path / "x"
    secret_file.write_text(value + "\n")
    assert read_secret("X", {"X_FILE": str(secret_file)}) == SecretStr(value)
    assert read_secret("X", {}) is None
    assert read_secret("X", {"X": ""}) is None


def test_read_secret_refuses_both_and_names_no_value(tmp_path: Path) -> None:
    value = canary("both")
    with pytest.raises(ConfigurationError, match="X and X_FILE") as caught:
        read_secret("X", {"X": value, "X_FILE": "/nowhere"})
    assert CANARY_PREFIX not in _all_text(caught.value)


def test_read_secret_file_errors_name_the_path_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_secret_file(tmp_path / "missing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + canary("bin").encode())
    with pytest.raises(ConfigurationError, match="not UTF-8") as caught:
        read_secret_file(binary)
    assert CANARY_PREFIX not in _all_text(caught.value)


def test_read_secret_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTAUDIT_TEST_SECRET", "from-env")
    assert read_secret("DRIFTAUDIT_TEST_SECRET") == SecretStr("from-env")
    assert os.environ["DRIFTAUDIT_TEST_SECRET"] == "from-env"


# --- device credentials -----------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_credentials_inline_env_and_file(tmp_path: Path) -> None:
    password, key = (
        canary("pw"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    pw_file = _write(tmp_path / "pw", password + "\n")
    key_file = _write(tmp_path / "key", key)
    source = YamlCredentialSource(
        _write(
            tmp_path / "creds.yaml",
            f"""
default: lab
credentials:
  lab: {{username: admin, password: inline-pw}}
  core: {{username: netops, password_env: CORE_PW, private_key_file: {key_file}}}
  edge: {{username: edge, password_file: {pw_file}}}
""",
        ),
        environ={"CORE_PW": password},
    )
    assert isinstance(source, CredentialSource)
    lab = source.get_credential(None)
    assert lab.username == "admin"
    assert lab.password == SecretStr("inline-pw")
    core = source.get_credential("core")
    assert core.password == SecretStr(password)
    assert core.private_key == SecretStr(key)  # PEM keeps its final newline
    assert source.get_credential("edge").password == SecretStr(password)
    assert source.refs == frozenset({"lab", "core", "edge"})
    for text in (repr(source), repr(core), str(core), core.model_dump_json()):
        assert password not in text


def test_credentials_are_read_again_on_each_use(tmp_path: Path) -> None:
    pw_file = _write(tmp_path / "pw", "one")
    env = {"PW": "a"}
    source = YamlCredentialSource(
        _write(
            tmp_path / "c.yaml",
            f"credentials:\n  f: {{password_file: {pw_file}}}\n  e: {{password_env: PW}}\n",
        ),
        environ=env,
    )
    assert source.get_credential("f").password == SecretStr("one")
    pw_file.write_text("two")
    env["PW"] = "b"
    assert source.get_credential("f").password == SecretStr("two")
    assert source.get_credential("e").password == SecretStr("b")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- a list", "mapping at the top level"),
        ("credentials: {a: {password: x, password_env: Y}}", "only one of password, password_env"),
        ("credentials: {a: {pasword: x}}", "unknown keys"),
        ("default: nope\ncredentials: {a: {username: u}}", "default 'nope' is not defined"),
        ("credentials: {a: {username: [1, 2]}}", "must be a string"),
        ("extra: 1", "unknown keys"),
    ],
)
def test_malformed_credentials_files(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        YamlCredentialSource(_write(tmp_path / "c.yaml", body))


def test_broken_yaml_never_quotes_its_content(tmp_path: Path) -> None:
    secret = canary("yaml")
    with pytest.raises(ConfigurationError, match="not valid YAML") as caught:
        YamlCredentialSource(_write(tmp_path / "c.yaml", f"credentials: {{a: {{password: [{secret}}}\n"))
    assert CANARY_PREFIX not in _all_text(caught.value)


def test_unknown_refs_and_missing_sources(tmp_path: Path) -> None:
    source = YamlCredentialSource(
        _write(tmp_path / "c.yaml", "credentials: {a: {password_env: NOPE}, b: {password_file: /no/such}}"),
        environ={},
    )
    with pytest.raises(ConfigurationError, match="unknown credential_ref 'zzz'"):
        source.get_credential("zzz")
    with pytest.raises(ConfigurationError, match="no credential_ref and no default"):
        source.get_credential(None)
    with pytest.raises(ConfigurationError, match="NOPE"):
        source.get_credential("a")
    with pytest.raises(ConfigurationError, match="does not exist"):
        source.get_credential("b")
    with pytest.raises(ConfigurationError, match="does not exist"):
        YamlCredentialSource(tmp_path / "absent.yaml")
    assert load_credential_source(None) is None


# --- tenants ----------------------------------------------------------------------------------------


def test_load_tenants_with_builtin_and_inline_envelopes(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "tenants.yaml",
        """
tenants:
  - tenant_id: acme
    base_url: https://nms.acme.example
    auth_scheme: oauth2_client_credentials
    envelope: {name: acme, format: json, config_path: [data, config], metadata_keys: [generated]}
  - tenant_id: globex
    base_url: https://dnac.globex.example
    auth_scheme: token_exchange
    token_path: /dna/system/api/v1/auth/token
    config_path: /dna/intent/api/v1/network-device/{device_id}/config
    envelope: catalyst_center
""",
    )
    acme, globex = load_tenants(path)
    assert acme.envelope == EnvelopeSpec(
        name="acme", config_path=("data", "config"), metadata_keys=frozenset({"generated"})
    )
    assert globex.envelope == BUILTIN_ENVELOPES["catalyst_center"]
    assert globex.auth_scheme is AuthScheme.TOKEN_EXCHANGE
    assert parse_tenants({}) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"tenants": [{"tenant_id": "a", "base_url": "x", "auth_scheme": "oauth2_client_credentials"}]},
            "envelope",
        ),
        (
            {"tenants": [{"tenant_id": "a", "base_url": "x", "auth_scheme": "nope", "envelope": "text"}]},
            "auth_scheme",
        ),
        (
            {
                "tenants": [
                    {"tenant_id": "a", "base_url": "x", "auth_scheme": "static_token", "envelope": "zz"}
                ]
            },
            "zz",
        ),
        ({"tenants": "nope"}, "list of tenants"),
        ({"tenants": ["nope"]}, "not a mapping"),
    ],
)
def test_bad_tenants(raw: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_tenants(raw)


def test_duplicate_tenants() -> None:
    entry = {"tenant_id": "a", "base_url": "x", "auth_scheme": "static_token", "envelope": "text"}
    with pytest.raises(ConfigurationError, match="defined twice"):
        parse_tenants([entry, entry])


def _tenant(**fields: object) -> NMSTenant:
    base: dict[str, object] = {
        "tenant_id": "acme-eu",
        "base_url": "https://nms.example",
        "auth_scheme": AuthScheme.OAUTH2_CLIENT_CREDENTIALS,
        "envelope": BUILTIN_ENVELOPES["cisco_nms"],
    }
    base.update(fields)
    return NMSTenant.model_validate(base)


def test_tls_verify_choices(tmp_path: Path) -> None:
    assert tls_verify(_tenant()) is True
    assert tls_verify(_tenant(verify_tls=False)) is False
    with pytest.raises(ConfigurationError, match="CA bundle"):
        tls_verify(_tenant(ca_bundle=str(tmp_path / "missing.pem")))


# --- stored NMS credentials ---------------------------------------------------------------------------


def test_stored_credentials_from_the_environment(tmp_path: Path) -> None:
    secret = canary("oauth")
    prefix = tenant_env_prefix("acme-eu")
    assert prefix == "DRIFTAUDIT_NMS_ACME_EU_"
    secret_file = _write(tmp_path / "s", secret + "\n")
    tenant = _tenant()
    env = {prefix + "CLIENT_ID": "cid", prefix + "CLIENT_SECRET_FILE": str(secret_file)}
    credential = AuthManager([tenant], environ=env)._get_stored_credentials(tenant)
    assert credential == Credential(client_id="cid", client_secret=SecretStr(secret))


@pytest.mark.parametrize(
    "text",
    [
        "username: u\npassword: {secret}\n",
        '{{"username": "u", "password": "{secret}"}}',
    ],
)
def test_stored_credentials_from_a_yaml_or_json_file(tmp_path: Path, text: str) -> None:
    secret = canary("file")
    path = _write(tmp_path / "creds", text.format(secret=secret))
    tenant = _tenant(auth_scheme=AuthScheme.TOKEN_EXCHANGE, credentials_file=str(path))
    credential = AuthManager([tenant], environ={})._get_stored_credentials(tenant)
    assert credential.username == "u"
    assert credential.password == SecretStr(secret)


@pytest.mark.parametrize(
    ("scheme", "env", "missing"),
    [
        (AuthScheme.OAUTH2_CLIENT_CREDENTIALS, {"CLIENT_ID": "x"}, "client_secret"),
        (AuthScheme.TOKEN_EXCHANGE, {"PASSWORD": "CANARY-p"}, "username"),
        (AuthScheme.STATIC_TOKEN, {}, "token"),
    ],
)
def test_missing_stored_credentials_name_what_is_missing(
    scheme: AuthScheme, env: dict[str, str], missing: str
) -> None:
    tenant = _tenant(auth_scheme=scheme)
    prefix = tenant_env_prefix(tenant.tenant_id)
    manager = AuthManager([tenant], environ={prefix + k: v for k, v in env.items()})
    with pytest.raises(ConfigurationError, match=missing) as caught:
        manager._get_stored_credentials(tenant)
    assert CANARY_PREFIX not in _all_text(caught.value)
    assert "DRIFTAUDIT_NMS_ACME_EU_*" in str(caught.value)


def test_bad_credentials_file_is_described_without_content(tmp_path: Path) -> None:
    secret = canary("bad")
    tenant = _tenant(credentials_file=str(_write(tmp_path / "c", f"client_secret: [{secret}\n")))
    with pytest.raises(ConfigurationError, match="not valid YAML or JSON") as caught:
        AuthManager([tenant], environ={})._get_stored_credentials(tenant)
    assert CANARY_PREFIX not in _all_text(caught.value)
    tenant = _tenant(credentials_file=str(_write(tmp_path / "d", "client_secrets: x\n")))
    with pytest.raises(ConfigurationError, match="unknown keys"):
        AuthManager([tenant], environ={})._get_stored_credentials(tenant)


# --- Retry-After ------------------------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert _parse_retry_after(None, now) is None
    assert _parse_retry_after("2", now) == 2.0
    assert _parse_retry_after(" 0.5 ", now) == 0.5
    assert _parse_retry_after("-3", now) == 0.0
    assert _parse_retry_after("soon", now) is None
    assert _parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert _parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
